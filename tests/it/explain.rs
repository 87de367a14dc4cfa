//! `denydiff explain`: each decision kind and its exit code, each caller
//! class in event mode, hand-written requests with multi-valued keys, and
//! the two-policy comparison.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::{run, stderr};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/incident-2026-11-backup-vault")
}

fn policy(name: &str) -> String {
    sample().join("policies").join(name).display().to_string()
}

/// The first sample record that `pick` selects.
fn sample_event(pick: impl Fn(&Value) -> bool) -> Value {
    let logs = sample().join("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11");
    let mut files: Vec<PathBuf> = walk(&logs);
    files.sort();
    for f in files {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        if let Some(r) = v["Records"].as_array().unwrap().iter().find(|r| pick(r)) {
            return r.clone();
        }
    }
    panic!("no such sample event");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

fn is(r: &Value, name: &str, who: &str, failed: bool) -> bool {
    let id = &r["userIdentity"];
    r["eventName"] == name
        && (id["invokedBy"] == who
            || id["arn"] == who
            || id["sessionContext"]["sessionIssuer"]["arn"] == who)
        && r["errorCode"].is_string() == failed
        && r["eventSource"] == "kms.amazonaws.com"
}

/// Runs `explain --format json` on `event` (written to a file) with the policies.
fn explain(event: &Value, policies: &[&str]) -> (Value, i32) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("event.json");
    std::fs::write(&f, event.to_string()).unwrap();
    let mut args = vec!["explain", "--format", "json"];
    for p in policies {
        args.extend(["--policy", p]);
    }
    args.push(f.to_str().unwrap());
    let out = run(&args, b"");
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (v, out.status.code().unwrap())
}

fn explain_request(request: &Value, policies: &[&str]) -> (Value, i32) {
    let mut args = vec!["explain", "--format", "json", "--request", "-"];
    for p in policies {
        args.extend(["--policy", p]);
    }
    let out = run(&args, request.to_string().as_bytes());
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (v, out.status.code().unwrap())
}

#[test]
fn seed_event_is_denied_by_the_statement_and_the_fixed_policy_lets_it_rest_on_a_grant() {
    let ev = sample_event(|r| is(r, "Decrypt", "backup-storage.amazonaws.com", true));
    let (v, code) = explain(&ev, &[&policy("key-policy-after.json")]);
    assert_eq!((v["decision"].as_str(), code), (Some("explicit-deny"), 3));
    let deny = &v["statements"][1];
    assert_eq!(deny["sid"], "Deny actions except Administrator");
    assert_eq!(deny["deciding"], true);
    let cond = &deny["conditions"][0];
    assert_eq!(
        (cond["operator"].as_str(), cond["key"].as_str()),
        (Some("StringNotEquals"), Some("aws:PrincipalArn"))
    );
    assert_eq!(
        (cond["seen"]["state"].as_str(), cond["result"].as_str()),
        (Some("absent"), Some("true"))
    );
    assert_eq!(v["subject"]["caller_class"], "service-principal");
    let broad = v["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "broad")
        .unwrap();
    assert_eq!(broad["verified"], true);
    let fixed: Value =
        serde_json::from_slice(&std::fs::read(policy("key-policy-fixed.json")).unwrap()).unwrap();
    assert_eq!(broad["policy"], fixed);

    let (v, code) = explain(
        &ev,
        &[
            &policy("key-policy-after.json"),
            &policy("key-policy-fixed.json"),
        ],
    );
    assert_eq!((v["decision"].as_str(), code), (Some("implicit-deny"), 5));
    assert_eq!(v["policies"][0]["decision"], "explicit-deny");
    assert_eq!(v["policies"][0]["deciding"][0]["index"], 1);
    assert_eq!(v["policies"][1]["decision"], "implicit-deny");
    assert_eq!(v["changed"], true);
    assert!(
        v["statements"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["effect"] != "Deny" || s["matched"] == "false")
    );
    assert!(
        v["notes"][0].as_str().unwrap().contains("grant"),
        "{}",
        v["notes"]
    );
    assert!(v["fixes"].as_array().unwrap().is_empty());
}

#[test]
fn each_caller_class_in_event_mode() {
    let after = policy("key-policy-after.json");
    let role = "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole";
    let fas = sample_event(|r| is(r, "DescribeKey", role, true));
    let (v, code) = explain(&fas, &[&after]);
    assert_eq!((v["decision"].as_str(), code), (Some("explicit-deny"), 3));
    assert_eq!(v["subject"]["caller_class"], "forward-access");
    assert_eq!(
        v["subject"]["principal"], role,
        "the role ARN, not the session"
    );
    assert!(v["fixes"].as_array().unwrap().iter().any(|f| {
        f["description"]
            .as_str()
            .unwrap()
            .contains("kms:ViaService")
    }));
    let admin = sample_event(|r| {
        is(
            r,
            "DescribeKey",
            "arn:aws:iam::111122223333:user/admin",
            false,
        )
    });
    let (v, code) = explain(&admin, &[&after]);
    assert_eq!((v["decision"].as_str(), code), (Some("allowed"), 0));
    assert_eq!(v["subject"]["caller_class"], "direct");
    assert_eq!(v["statements"][0]["via_account_delegation"], true);
    // A service event (no type, invokedBy only) cannot be evaluated: exit 2, said why.
    let mut svc_event = admin.clone();
    svc_event["userIdentity"] = json!({"accountId": "111122223333", "invokedBy": "AWS Internal"});
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("e.json");
    std::fs::write(&f, svc_event.to_string()).unwrap();
    let out = run(&["explain", "--policy", &after, f.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("service-event"), "{}", stderr(&out));
}

#[test]
fn lookup_item_and_records_envelope_are_accepted() {
    let ev = sample_event(|r| is(r, "Decrypt", "backup-storage.amazonaws.com", true));
    let after = policy("key-policy-after.json");
    let item = json!({"EventId": ev["eventID"], "CloudTrailEvent": ev.to_string()});
    assert_eq!(explain(&item, &[&after]).1, 3);
    assert_eq!(explain(&json!({"Records": [ev]}), &[&after]).1, 3);
    let mut other = ev.clone();
    other["eventID"] = json!("another");
    let (_, code) = explain(&json!({"Records": [ev, other]}), &[&after]);
    assert_eq!(code, 2, "two records: ambiguous");
}

#[test]
fn undetermined_when_the_deny_hangs_on_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("org.json");
    std::fs::write(&p, json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "DenyOutsideOrg", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc"}}}]}).to_string()).unwrap();
    let admin = sample_event(|r| {
        is(
            r,
            "DescribeKey",
            "arn:aws:iam::111122223333:user/admin",
            false,
        )
    });
    let (v, code) = explain(&admin, &[p.to_str().unwrap()]);
    assert_eq!((v["decision"].as_str(), code), (Some("undetermined"), 4));
    assert_eq!(
        v["statements"][1]["conditions"][0]["seen"]["state"],
        "unknown"
    );
}

#[test]
fn hand_written_requests_with_multi_valued_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("via.json");
    std::fs::write(&p, json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowViaS3", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"},
         "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"aws:CalledVia": ["s3.amazonaws.com"]}}},
        {"Sid": "DenyOtherIps", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "Bool": {"aws:ViaAWSService": "false"}}}]}).to_string()).unwrap();
    let p = p.to_str().unwrap();
    let key = "arn:aws:kms:eu-west-1:111122223333:key/k";
    let req = |ctx: Value| json!({"principal": "arn:aws:iam::111122223333:role/app", "action": "kms:Decrypt", "resource": key, "context": ctx});
    let (v, code) = explain_request(
        &req(
            json!({"aws:CalledVia": ["athena.amazonaws.com", "s3.amazonaws.com"], "aws:ViaAWSService": true}),
        ),
        &[p],
    );
    assert_eq!((v["decision"].as_str(), code), (Some("allowed"), 0), "{v}");
    let cond = &v["statements"][0]["conditions"][0];
    assert_eq!(
        cond["seen"]["values"],
        json!(["athena.amazonaws.com", "s3.amazonaws.com"])
    );
    let (v, code) = explain_request(
        &req(json!({"aws:CalledVia": ["athena.amazonaws.com"], "aws:ViaAWSService": true})),
        &[p],
    );
    assert_eq!((v["decision"].as_str(), code), (Some("implicit-deny"), 5));
    let (v, code) = explain_request(
        &req(json!({"aws:SourceIp": "198.51.100.7", "aws:ViaAWSService": "false"})),
        &[p],
    );
    assert_eq!((v["decision"].as_str(), code), (Some("explicit-deny"), 3));
    assert_eq!(v["statements"][1]["deciding"], true);
    // Keys left out are absent: NotIpAddress on an absent key is true, Bool on it false.
    let (v, _) = explain_request(&req(json!({})), &[p]);
    assert_eq!(
        v["statements"][1]["conditions"][0]["seen"]["state"],
        "absent"
    );
    // null is rejected with a hint.
    let out = run(
        &["explain", "--policy", p, "--request", "-"],
        req(json!({"aws:SourceIp": null})).to_string().as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("leave a key out to make it absent"),
        "{}",
        stderr(&out)
    );
    // A service principal by name.
    let svc =
        json!({"principal": "backup.amazonaws.com", "action": "kms:Decrypt", "resource": key});
    let (v, _) = explain_request(&svc, &[p]);
    assert_eq!(v["subject"]["principal"], "backup.amazonaws.com");
}

#[test]
fn table_output_names_the_decision_and_evidence() {
    let ev = sample_event(|r| is(r, "Decrypt", "backup-storage.amazonaws.com", true));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("e.json");
    std::fs::write(&f, ev.to_string()).unwrap();
    let out = run(
        &[
            "explain",
            "--format",
            "table",
            "--policy",
            &policy("key-policy-after.json"),
            f.to_str().unwrap(),
        ],
        b"",
    );
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("Decision: explicit-deny"), "{t}");
    assert!(t.contains("StringNotEquals `aws:PrincipalArn` [arn:aws:iam::111122223333:user/admin]: seen absent -> true"), "{t}");
    assert!(t.contains("<- deciding"), "{t}");
    assert!(t.contains("(broad, verified"), "{t}");
}

/// SYNTHETIC event: a role of the key's account under a Deny on
/// `aws:PrincipalOrgID`. Undetermined (exit 4) without `--org-id`; the
/// key account's organization decides it (allowed, exit 0); another
/// organization's is an explicit deny (exit 3).
#[test]
fn org_id_decides_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("policy.json");
    std::fs::write(
        &pol,
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "DenyOutsideOrg", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]})
        .to_string(),
    )
    .unwrap();
    let ev = dir.path().join("event.json");
    std::fs::write(
        &ev,
        json!({"eventID": "00000000-0000-4000-8000-000000000001", "eventTime": "2026-11-20T09:00:00Z",
            "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "eu-west-1",
            "sourceIPAddress": "10.0.0.1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                "arn": "arn:aws:sts::111122223333:assumed-role/app/s1",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app",
                                                     "accountId": "111122223333"}}},
            "resources": [{"type": "AWS::KMS::Key", "ARN": "arn:aws:kms:eu-west-1:111122223333:key/k1"}]})
        .to_string(),
    )
    .unwrap();
    let (pol, ev) = (pol.to_str().unwrap(), ev.to_str().unwrap());
    let code = |extra: &[&str]| {
        let mut args = vec!["explain", "--format", "json", "--policy", pol];
        args.extend(extra);
        args.push(ev);
        let out = run(&args, b"");
        (out.status.code(), stderr(&out))
    };
    assert_eq!(code(&[]).0, Some(4), "the organization is unknown");
    assert_eq!(code(&["--org-id", "o-a1b2c3d4e5"]).0, Some(0));
    assert_eq!(code(&["--org-id", "o-zzzzzzzzzz"]).0, Some(3));
}
