//! Causes end to end, on SYNTHETIC blast-radius incidents written by
//! `scripts/gen-blast.py` (record shapes from ../shared/real-samples): one
//! `PutKeyPolicy` that blocks many roles and a service principal, answered
//! as one cause with one verified fix; and the same change undone by a
//! second `PutKeyPolicy`, answered as resolved.

use std::path::Path;

use serde_json::{Value, json};

use crate::util::{analyze_json, run, stdout};

/// Runs the generator into a temporary directory; `None` without python3.
fn blast(roles: usize, flags: &[&str]) -> Option<(tempfile::TempDir, String, Value)> {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-blast.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script)
        .arg("--roles")
        .arg(roles.to_string())
        .args(flags);
    let out = cmd.arg(dir.path()).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "gen-blast.py failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: python3 not found ({e})");
            return None;
        }
        Err(e) => panic!("python3 is needed under CI: {e}"),
    }
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).unwrap()).unwrap();
    let logs = dir.path().join("logs").display().to_string();
    Some((dir, logs, truth))
}

#[test]
fn one_change_over_many_roles_is_one_cause_with_one_verified_fix() {
    let Some((_dir, logs, truth)) = blast(300, &[]) else {
        return;
    };
    let (v, out) = analyze_json(&[&logs]);
    assert_eq!(out.status.code(), Some(0));
    let causes = v["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:?}");
    let c = &causes[0];
    assert_eq!(c["event_id"], truth["cause_event_id"]);
    assert_eq!(c["state"], "ongoing");
    assert_eq!(c["callers"], truth["blocked"]);
    assert_eq!(c["by_class"]["direct"], 300);
    assert_eq!(c["by_class"]["service-principal"], 1);
    assert_eq!(c["blocking"][0]["statement"]["sid"], truth["sid"]);
    assert_eq!(
        c["blocking"][0]["callers"].as_array().unwrap().len(),
        301,
        "the JSON keeps every caller"
    );
    let broad = c["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "broad")
        .unwrap();
    assert_eq!(broad["verified"], true);
    assert_eq!(broad["unblocks"], truth["blocked"]);
    // The 300 roles go into the exception list once, the service is exempted as a class.
    let cond = &broad["policy"]["Statement"][1]["Condition"];
    assert_eq!(
        cond["StringNotEquals"]["aws:PrincipalArn"]
            .as_array()
            .unwrap()
            .len(),
        301
    );
    assert_eq!(cond["BoolIfExists"]["aws:PrincipalIsAWSService"], "false");
    let blocked = v["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 301);
    assert!(blocked.iter().all(|b| b["cause"] == c["id"]));
    let verdicts = v["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 301);
    assert!(
        verdicts
            .iter()
            .all(|x| x["verdict"] == "key-policy-deny" && x["cause"] == c["id"])
    );
}

/// A line of a fix's diff, as the table indents it: the policy's own JSON
/// lines (a long ARN) may be wider than the report's words.
fn is_diff_line(l: &str) -> bool {
    l.strip_prefix("    ")
        .is_some_and(|rest| rest.starts_with(['+', '-', ' ', '@']))
}

#[test]
fn the_table_answers_in_its_first_40_lines_within_120_columns() {
    let Some((_dir, logs, truth)) = blast(300, &[]) else {
        return;
    };
    let t = stdout(&run(&["analyze", "--format", "table", &logs], b""));
    let head: Vec<&str> = t.lines().take(40).collect();
    let head = head.join("\n");
    for want in [
        truth["key"].as_str().unwrap(),
        "PutKeyPolicy by user/admin@111122223333",
        truth["sid"].as_str().unwrap(),
        "301 caller(s)",
        "fix:",
        "verified",
    ] {
        assert!(
            head.contains(want),
            "`{want}` not in the first 40 lines:\n{head}"
        );
    }
    let wide: Vec<&str> = t
        .lines()
        .filter(|l| !is_diff_line(l) && l.chars().count() > 120)
        .collect();
    assert!(wide.is_empty(), "lines over 120 columns: {wide:#?}");
    assert!(
        t.lines().count() < 400,
        "collapsed: {} lines",
        t.lines().count()
    );
}

#[test]
fn a_change_undone_by_a_later_one_is_resolved_and_blocks_nobody() {
    let Some((_dir, logs, truth)) = blast(20, &["--fixed-later"]) else {
        return;
    };
    let (v, _) = analyze_json(&[&logs]);
    let causes = v["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:?}");
    let c = &causes[0];
    assert_eq!(c["event_id"], truth["cause_event_id"]);
    assert_eq!(c["state"], "resolved");
    assert_eq!(c["resolved_by"]["event_id"], truth["resolved_by"]);
    assert_eq!(c["callers"], 21);
    assert!(c["fixes"].as_array().unwrap().is_empty(), "nothing to fix");
    let blocked = v["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 21);
    for b in blocked {
        assert_eq!(b["state"], "resolved", "{b}");
        assert_eq!(b["resolved_by"]["event_id"], truth["resolved_by"]);
        assert_eq!(b["replayed"], 0, "successes under the fix are not replayed");
    }
    let verdicts = v["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 21, "{verdicts:?}");
    assert!(
        verdicts.iter().all(|x| x["state"] == "resolved"),
        "{verdicts:?}"
    );
}

#[test]
fn a_fix_over_the_key_policy_size_limit_is_not_verified() {
    // 1,000 ARNs in one exception list: about 45 KB, over KMS's 32 KB.
    let Some((_dir, logs, _truth)) = blast(1000, &[]) else {
        return;
    };
    let (v, _) = analyze_json(&[&logs]);
    let fixes = v["causes"][0]["fixes"].as_array().unwrap();
    let broad = fixes.iter().find(|f| f["kind"] == "broad").unwrap();
    assert_eq!(broad["over_size_limit"], true);
    assert!(broad["policy_bytes"].as_u64().unwrap() > 32_768);
    assert_eq!(
        broad["verified"], false,
        "every check passes, but KMS would refuse it"
    );
    assert!(
        broad["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["passed"] == true)
    );
    let restore = fixes.iter().find(|f| f["kind"] == "restore").unwrap();
    assert_eq!(restore["verified"], true);
    assert!(restore["policy_bytes"].as_u64().unwrap() < 32_768);
    let t = stdout(&run(&["analyze", "--format", "table", &logs], b""));
    let fix_line = t
        .lines()
        .find(|l| l.trim_start().starts_with("fix:"))
        .unwrap();
    assert!(fix_line.contains("(restore, verified"), "{fix_line}");
}

#[test]
fn a_deny_put_back_after_its_removal_is_ongoing_again() {
    let Some((_dir, logs, truth)) = blast(5, &["--fixed-later", "--broken-again"]) else {
        return;
    };
    let (v, _) = analyze_json(&[&logs]);
    assert_eq!(truth["state"], "ongoing");
    let causes = v["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 2, "{causes:?}");
    // The first change was undone by the second...
    let first = causes
        .iter()
        .find(|c| c["event_id"] == truth["cause_event_id"])
        .unwrap();
    assert_eq!(first["state"], "resolved");
    assert!(first["resolved_by"]["event_id"].is_string());
    // ...and the third put the Deny back: every caller is blocked now.
    let again = causes.iter().find(|c| c["state"] == "ongoing").unwrap();
    assert_eq!(again["event_time"], "2026-11-20T11:30:00Z");
    assert_eq!(again["callers"], 6);
    assert!(!again["fixes"].as_array().unwrap().is_empty());
    let now: Vec<&Value> = v["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["state"] == "ongoing")
        .collect();
    assert_eq!(now.len(), 6);
    assert!(now.iter().all(|b| b["cause"] == again["id"]));
    let verdicts = v["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 6);
    assert!(
        verdicts.iter().all(|x| x["state"] == "ongoing"),
        "{verdicts:?}"
    );
}

/// SYNTHETIC: version 1 denies role `app` `kms:ReEncrypt*`; version 2
/// drops that Deny and denies it `kms:Decrypt` instead. Under version 2,
/// `app` re-encrypts fine and its `Decrypt` is denied. Restoring version 1
/// would unblock the `Decrypt` and break the `ReEncrypt`: the restore must be
/// checked against the blocked caller's other events too, and is not
/// verified.
#[test]
fn a_restore_that_denies_another_event_of_the_blocked_caller_is_not_verified() {
    use crate::verdicts::{ACCT, KEY, Trail, user};
    let root = json!({"Sid": "Root", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:*", "Resource": "*"});
    let deny = |sid: &str, action: &str| {
        json!({"Sid": sid, "Effect": "Deny", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:role/app")},
               "Action": action, "Resource": "*"})
    };
    let policy = |deny: Value| {
        json!({"Version": "2012-10-17", "Statement": [root.clone(), deny]}).to_string()
    };
    let app = || {
        json!({"type": "AssumedRole", "accountId": ACCT,
        "arn": format!("arn:aws:sts::{ACCT}:assumed-role/app/s"),
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCT}:role/app")}}})
    };
    let put = |t: &mut Trail, hour: u32, p: String| {
        t.add(
            hour,
            "kms.amazonaws.com",
            "PutKeyPolicy",
            user("admin"),
            json!({"keyId": KEY, "policy": p}),
            None,
        );
    };
    let mut t = Trail::default();
    put(&mut t, 1, policy(deny("NoReEncrypt", "kms:ReEncrypt*")));
    t.kms(2, "Decrypt", app(), None);
    put(&mut t, 3, policy(deny("NoDecrypt", "kms:Decrypt")));
    t.kms(4, "ReEncryptFrom", app(), None).kms(
        5,
        "Decrypt",
        app(),
        Some((
            "AccessDeniedException",
            "with an explicit deny in a resource-based policy",
        )),
    );
    let v = t.analyze(&[]);
    let causes = v["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:?}");
    let restore = causes[0]["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "restore")
        .unwrap_or_else(|| panic!("{}", causes[0]));
    assert_eq!(restore["verified"], false, "{restore}");
    let failed: Vec<&Value> = restore["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["subject"], "observed");
    assert_eq!(failed[0]["event_name"], "ReEncryptFrom");
    assert_eq!(
        (failed[0]["before"].as_str(), failed[0]["after"].as_str()),
        (Some("allowed"), Some("explicit-deny"))
    );
}
