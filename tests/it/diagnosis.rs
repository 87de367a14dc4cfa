//! The key-policy diagnosis end to end: on the bundled sample incident, on a
//! `gen_corpus.py` tree, and on fixtures for replay and unverifiable fixes.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::{analyze_json, run, stderr};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/incident-2026-11-backup-vault")
}

fn sample_args() -> Vec<String> {
    let s = sample();
    vec![
        s.join("AWSLogs").display().to_string(),
        s.join("lookup-events-kms.json").display().to_string(),
    ]
}

/// The caller label `expected.json` uses.
fn label(c: &Value) -> String {
    match (c["principal_arn"].as_str(), c["invoked_by"].as_str()) {
        (Some(p), Some(v)) => format!("{p} via {v}"),
        (Some(p), None) => p.to_owned(),
        (None, Some(v)) => format!("service:{v}"),
        (None, None) => "?".into(),
    }
}

fn blocked(v: &Value) -> Vec<&Value> {
    v["blocked"].as_array().unwrap().iter().collect()
}

#[test]
fn sample_incident_names_exactly_the_blocked_callers() {
    let args = sample_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (v, out) = analyze_json(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expected: Value =
        serde_json::from_slice(&std::fs::read(sample().join("expected.json")).unwrap()).unwrap();
    let sid = expected["policy_change"]["sid"].as_str().unwrap();
    let mut want: Vec<(String, u64)> = expected["blocked_by_key_policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let denied = b["denied"]
                .as_object()
                .unwrap()
                .values()
                .map(|n| n.as_u64().unwrap())
                .sum();
            (b["caller"].as_str().unwrap().to_owned(), denied)
        })
        .collect();
    // The silent caller is blocked too, found by replaying its successes.
    for s in expected["silent_callers"].as_array().unwrap() {
        want.push((s["caller"].as_str().unwrap().to_owned(), 0));
    }
    want.sort();
    let mut got: Vec<(String, u64)> = blocked(&v)
        .iter()
        .map(|b| (label(&b["caller"]), b["denied"].as_u64().unwrap()))
        .collect();
    got.sort();
    assert_eq!(got, want);
    for b in blocked(&v) {
        assert_eq!(b["statement"]["sid"], sid);
        assert_eq!(b["statement"]["index"], 1);
        assert_eq!(b["decision"], "explicit-deny");
        assert_eq!(b["key_arn"], expected["keys"]["vault"]);
    }
    let silent = blocked(&v).into_iter().find(|b| b["denied"] == 0).unwrap();
    assert_eq!(
        silent["replayed"], 11,
        "the silent caller's successes are replayed"
    );
    // Noise is labelled, never blamed on the statement.
    let kinds: Vec<(String, &str)> = v["unexplained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (label(&u["caller"]), u["kind"].as_str().unwrap()))
        .collect();
    assert!(
        kinds.contains(&(
            "arn:aws:iam::111122223333:user/dev-alice".into(),
            "identity-policy"
        )),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|(_, k)| *k == "key-state"), "{kinds:?}");
    assert_eq!(
        v["policies"].as_array().unwrap().len(),
        2,
        "CreateKey and PutKeyPolicy"
    );
}

/// The cause of the sample incident: its one `PutKeyPolicy`.
fn policy_cause(v: &Value) -> &Value {
    v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["change"] == "policy-change")
        .unwrap_or_else(|| panic!("no policy cause in {}", v["causes"]))
}

#[test]
fn one_verified_fix_unblocks_every_caller_of_the_statement() {
    let args = sample_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (v, _) = analyze_json(&args);
    let expected: Value =
        serde_json::from_slice(&std::fs::read(sample().join("expected.json")).unwrap()).unwrap();
    let cause = policy_cause(&v);
    assert_eq!(cause["event_name"], "PutKeyPolicy");
    assert_eq!(cause["state"], "ongoing");
    assert_eq!(cause["callers"], 3, "{cause}");
    assert_eq!(cause["by_class"]["service-principal"], 1);
    assert_eq!(cause["by_class"]["forward-access"], 2);
    let sid = expected["policy_change"]["sid"].as_str().unwrap();
    assert_eq!(cause["statements"]["added"][0]["sid"], sid);
    let fixes = cause["fixes"].as_array().unwrap();
    let broad = fixes.iter().find(|f| f["kind"] == "broad").unwrap();
    assert_eq!(broad["verified"], true, "{broad}");
    assert_eq!(broad["unblocks"], 3);
    // Exactly the two class exemptions, on the blocking statement.
    let mut want: Value = serde_json::from_slice(
        &std::fs::read(sample().join("policies/key-policy-fixed.json")).unwrap(),
    )
    .unwrap();
    want["Statement"][1]["Condition"]["BoolIfExists"]["aws:ViaAWSService"] = json!("false");
    assert_eq!(broad["policy"], want);
    let checks = broad["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["passed"] == true));
    assert!(
        checks.iter().any(|c| c["subject"] == "probe"
            && c["probe"] == "unlisted-user"
            && c["expectation"] == "explicitly_denied"),
        "the unlisted-user probe is checked: {checks:?}"
    );
    // What the broad exemptions let in is said, not hidden.
    let lets_in: Vec<&str> = broad["lets_in"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probe"].as_str().unwrap())
        .collect();
    assert_eq!(lets_in, ["other-service", "other-via-service"]);
    // Every blocked entry of the cause points at the fixes by id.
    for b in blocked(&v) {
        assert_eq!(b["cause"], cause["id"]);
        let ids: Vec<&str> = b["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&broad["id"].as_str().unwrap()), "{b}");
    }
}

#[test]
fn the_revert_to_the_create_key_policy_is_proposed_and_verified() {
    let args = sample_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (v, _) = analyze_json(&args);
    let cause = policy_cause(&v);
    let restore = cause["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "restore")
        .unwrap();
    let before: Value = serde_json::from_slice(
        &std::fs::read(sample().join("policies/key-policy-before.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(restore["policy"], before);
    assert_eq!(restore["verified"], true, "{restore}");
    assert_eq!(restore["unblocks"], 3);
    let lets_in: Vec<&str> = restore["lets_in"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probe"].as_str().unwrap())
        .collect();
    assert!(lets_in.contains(&"unlisted-user"), "{lets_in:?}");
}

/// A tiny trail: a key with a permissive policy, the service's successes,
/// then a PutKeyPolicy adding `deny`; no failure is ever logged.
fn replay_trail(deny: &Value) -> String {
    let key = "arn:aws:kms:eu-west-1:111122223333:key/k1";
    let base = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "kms:*", "Resource": "*"}]});
    let mut after = base.clone();
    after["Statement"]
        .as_array_mut()
        .unwrap()
        .push(deny.clone());
    let rec = |id: u32, t: &str, name: &str, identity: Value, req: Value| {
        json!({"eventID": format!("00000000-0000-4000-8000-{id:012}"), "eventTime": t,
               "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": "eu-west-1",
               "recipientAccountId": "111122223333", "userIdentity": identity,
               "requestParameters": req,
               "resources": [{"type": "AWS::KMS::Key", "ARN": key}]})
    };
    let svc = json!({"type": "AWSService", "invokedBy": "backup-storage.amazonaws.com"});
    let admin = json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/admin", "accountId": "111122223333"});
    let records = vec![
        rec(
            1,
            "2026-11-10T00:00:00Z",
            "PutKeyPolicy",
            admin.clone(),
            json!({"keyId": key, "policy": base.to_string()}),
        ),
        rec(
            2,
            "2026-11-10T01:00:00Z",
            "Decrypt",
            svc.clone(),
            json!({"keyId": key}),
        ),
        rec(
            3,
            "2026-11-10T02:00:00Z",
            "Decrypt",
            svc,
            json!({"keyId": key}),
        ),
        rec(
            4,
            "2026-11-10T03:00:00Z",
            "PutKeyPolicy",
            admin.clone(),
            json!({"keyId": key, "policy": after.to_string()}),
        ),
        rec(
            5,
            "2026-11-10T04:00:00Z",
            "DescribeKey",
            admin,
            json!({"keyId": key}),
        ),
    ];
    json!({"Records": records}).to_string()
}

fn analyze_text(text: &str, extra: &[&str]) -> (Value, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("trail.json");
    std::fs::write(&f, text).unwrap();
    let mut args = extra.to_vec();
    args.push(f.to_str().unwrap());
    analyze_json(&args)
}

#[test]
fn replay_names_a_caller_whose_denials_were_never_logged() {
    let deny = json!({"Sid": "DenyAllButAdmin", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
        "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/admin"}}});
    let (v, out) = analyze_text(&replay_trail(&deny), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let b = blocked(&v);
    assert_eq!(b.len(), 1, "{v}");
    assert_eq!(b[0]["caller"]["invoked_by"], "backup-storage.amazonaws.com");
    assert_eq!(
        (b[0]["denied"].as_u64(), b[0]["replayed"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(b[0]["statement"]["sid"], "DenyAllButAdmin");
    assert_eq!(b[0]["evidence"][0]["seen"]["state"], "absent");
    assert_eq!(b[0]["evidence"][0]["result"], "true");
    // The admin is exempt and stays off the list; the fixes keep it so.
    let fixes = b[0]["fixes"].as_array().unwrap();
    assert!(!fixes.is_empty());
    assert!(fixes.iter().all(|f| f["verified"] == true), "{fixes:?}");
}

#[test]
fn a_deny_that_does_not_match_blames_nobody() {
    let deny = json!({"Sid": "DenyOutsideVpc", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
        "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-123"}}});
    let (v, _) = analyze_text(&replay_trail(&deny), &[]);
    assert!(blocked(&v).is_empty(), "{v}");
}

#[test]
fn a_fix_that_leaves_another_deny_is_not_verified() {
    // Two Deny statements both catch the service: fixing one is not enough.
    let deny = json!({"Sid": "DenyAllButAdmin", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
        "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/admin"}}});
    let text = replay_trail(&deny);
    let mut trail: Value = serde_json::from_str(&text).unwrap();
    let put = &mut trail["Records"][3]["requestParameters"]["policy"];
    let mut policy: Value = serde_json::from_str(put.as_str().unwrap()).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(
        json!({"Sid": "DenyNonRoot", "Effect": "Deny",
        "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:*"}}}),
    );
    *put = Value::String(policy.to_string());
    let (v, _) = analyze_text(&trail.to_string(), &[]);
    let b = blocked(&v);
    assert!(!b.is_empty(), "{v}");
    let patches: Vec<&Value> = v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["fixes"].as_array().unwrap())
        .filter(|f| f["kind"] != "restore")
        .collect();
    assert!(!patches.is_empty(), "{v}");
    for f in patches {
        assert_eq!(f["verified"], false, "the other Deny still blocks: {f}");
        assert!(
            f["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["passed"] == false)
        );
    }
}

#[test]
fn policy_file_overrides_the_trail_and_bad_policies_are_named() {
    let s = sample();
    let fixed = s.join("policies/key-policy-fixed.json");
    let mut args = sample_args();
    args.extend([
        "--key".into(),
        "alias/prod-backup-vault".into(),
        "--policy".into(),
        fixed.display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (v, out) = analyze_json(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let current: Vec<&Value> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["source"], "file");
    // Under the fixed policy only the forward-access callers remain blocked.
    assert!(
        blocked(&v)
            .iter()
            .all(|b| b["caller"]["class"] == "forward-access"),
        "{}",
        v["blocked"]
    );
    assert!(!blocked(&v).is_empty());
    // Without --key the policy would apply to three keys: refused.
    let mut args = sample_args();
    args.extend(["--policy".into(), fixed.display().to_string()]);
    let mut all = vec!["analyze".to_owned()];
    all.extend(args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let o = run(&all, b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("would apply to 3 keys"),
        "{}",
        stderr(&o)
    );
    // A policy that does not parse names the file, statement and field.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"Statement": [{"Sid": "X", "Effect": "Permit", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}"#).unwrap();
    let o = run(
        &["analyze", "--policy", bad.to_str().unwrap(), "x.json"],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("bad.json` does not parse")
            && err.contains("`Effect`")
            && err.contains("Permit"),
        "{err}"
    );
}

/// SYNTHETIC: a role of the key's account decrypts, then a `PutKeyPolicy`
/// adds `Deny unless aws:PrincipalOrgID == o-...`; the role makes no call
/// after it. CloudTrail never shows the organization, so without
/// `--org-id` the replayed role may be denied (undetermined, the key
/// named); with the key account's organization given, it is allowed and
/// not blamed.
#[test]
fn org_id_decides_what_the_trail_cannot_show() {
    let deny = json!({"Sid": "DenyOutsideOrg", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
        "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}});
    let mut trail: Value = serde_json::from_str(&replay_trail(&deny)).unwrap();
    let role = json!({"type": "AssumedRole", "accountId": "111122223333",
        "arn": "arn:aws:sts::111122223333:assumed-role/app/s1",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app",
                                             "accountId": "111122223333"}}});
    for r in trail["Records"].as_array_mut().unwrap() {
        if r["eventName"] == "Decrypt" {
            r["userIdentity"] = role.clone();
            r["sourceIPAddress"] = json!("10.0.0.1");
        }
    }
    let text = trail.to_string();
    let (v, _) = analyze_text(&text, &[]);
    let b = blocked(&v);
    assert_eq!(b.len(), 1, "{v}");
    assert_eq!(
        b[0]["caller"]["principal_arn"],
        "arn:aws:iam::111122223333:role/app"
    );
    assert_eq!(b[0]["decision"], "undetermined");
    assert_eq!(b[0]["uncertain_keys"], json!(["aws:PrincipalOrgID"]));
    let (v, out) = analyze_text(&text, &["--org-id", "o-a1b2c3d4e5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(blocked(&v).is_empty(), "{}", v["blocked"]);
    // Another organization's id: the Deny applies for certain.
    let (v, _) = analyze_text(&text, &["--org-id", "o-zzzzzzzzzz"]);
    let b = blocked(&v);
    assert_eq!(b.len(), 1, "{v}");
    assert_eq!(b[0]["decision"], "explicit-deny");
    // A malformed id is a usage error that says what an id looks like.
    let out = run(&["analyze", "--org-id", "org-1", "x.json"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not an organization id"),
        "{}",
        stderr(&out)
    );
}
