//! Grants by id on a synthetic trail (written here; public data has no
//! revoked grant followed by a failure): a removed grant is blamed only for
//! its grantee, never for a caller the key policy allows directly, nor for
//! the grant's creator.

use serde_json::{Value, json};

use crate::verdicts::{ACCT, KEY, Trail, one, user};

const OTHER: &str = "444455556666";

/// An assumed role calling directly (no `invokedBy`).
fn role(name: &str, account: &str) -> Value {
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/s"),
           "accountId": account,
           "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/{name}")}}})
}

fn arn(name: &str, account: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

const DENIED: (&str, &str) = (
    "AccessDeniedException",
    "User is not authorized to perform: kms:Decrypt because no resource-based policy allows the kms:Decrypt action",
);

/// Synthetic scenario and its truth. The key policy delegates to the
/// account and allows role `batch` directly. At 01:00 role `deployer`
/// grants the account (`arn:aws:iam::ACCT:root`) Decrypt; at 04:00 an
/// admin revokes the grant. Then:
/// - `worker` (needs the grant) calls hourly, then is denied: grant-revoked;
/// - `batch` (allowed by the key policy) calls hourly and its job ends: no
///   verdict, although it is in the grantee account and went quiet right
///   after the revoke;
/// - `deployer` (the creator) calls hourly, then is denied: not the grant
///   (unexplained);
/// - `reader` of another account, denied after: not a grantee (unexplained),
///   and its verdict names its own account to look in.
fn scenario() -> Trail {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Batch", "Effect": "Allow", "Principal": {"AWS": arn("batch", ACCT)},
         "Action": "kms:Decrypt", "Resource": "*"}]});
    let mut t = Trail::default();
    t.add(
        0,
        "kms.amazonaws.com",
        "PutKeyPolicy",
        user("admin"),
        json!({"keyId": KEY, "policyName": "default", "policy": policy.to_string()}),
        None,
    );
    t.grant(
        1,
        "CreateGrant",
        role("deployer", ACCT),
        "g-7",
        &format!("arn:aws:iam::{ACCT}:root"),
    );
    for hour in [2, 3] {
        for who in ["worker", "batch", "deployer"] {
            t.kms(hour, "Decrypt", role(who, ACCT), None);
        }
        t.kms(hour, "Decrypt", role("reader", OTHER), None);
    }
    t.grant(4, "RevokeGrant", user("admin"), "g-7", "");
    for who in ["worker", "deployer"] {
        t.kms(5, "Decrypt", role(who, ACCT), Some(DENIED));
    }
    t.kms(5, "Decrypt", role("reader", OTHER), Some(DENIED));
    t
}

#[test]
fn only_the_grantee_that_failed_is_blamed_on_the_revoked_grant() {
    let v = scenario().analyze(&[]);
    let worker = one(&v, &arn("worker", ACCT));
    assert_eq!(worker["verdict"], "grant-revoked");
    assert_eq!(worker["since"], "2026-11-10T04:00:00Z");
    assert_eq!(worker["reason"]["grant_id"], "g-7");
    assert_eq!(worker["evidence"][0]["event_name"], "RevokeGrant");
    assert_eq!(worker["evidence"][1]["event_name"], "CreateGrant");
    assert_eq!(worker["evidence"][1]["actor"], arn("deployer", ACCT));
    assert!(worker["look_in_account"].is_null(), "same account");

    let all = v["verdicts"].as_array().unwrap();
    let blamed: Vec<&Value> = all
        .iter()
        .filter(|x| x["verdict"] == "grant-revoked")
        .collect();
    assert_eq!(blamed.len(), 1, "only the worker: {}", v["verdicts"]);
    assert!(
        !all.iter()
            .any(|x| x["caller"]["principal_arn"] == arn("batch", ACCT).as_str()),
        "the directly allowed caller whose job ended gets no verdict: {}",
        v["verdicts"]
    );
    assert_eq!(one(&v, &arn("deployer", ACCT))["verdict"], "unexplained");
    let reader = one(&v, &arn("reader", OTHER));
    assert_eq!(reader["verdict"], "unexplained");
    assert_eq!(reader["look_in_account"], OTHER);

    // One cause for the revoke, with the worker alone.
    let causes: Vec<&Value> = v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "grant-removed")
        .collect();
    assert_eq!(causes.len(), 1, "{}", v["causes"]);
    assert_eq!(causes[0]["callers"], 1);
    assert_eq!(causes[0]["event_name"], "RevokeGrant");
}

#[test]
fn the_grant_is_on_the_timeline_with_its_fields() {
    let v = scenario().analyze(&[]);
    let created = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["event_name"] == "CreateGrant")
        .unwrap()
        .clone();
    assert_eq!(created["grant"]["grant_id"], "g-7");
    assert_eq!(
        created["grant"]["grantee_principal"],
        format!("arn:aws:iam::{ACCT}:root")
    );
    assert_eq!(
        created["grant"]["operations"],
        json!(["Decrypt", "GenerateDataKey"])
    );
    assert!(
        created["grant"].get("grant_token").is_none(),
        "never reported"
    );
}

#[test]
fn the_text_report_words_the_grant_and_the_account_to_look_in() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("synthetic-trail.json");
    std::fs::write(&f, json!({"Records": scenario().records}).to_string()).unwrap();
    let out = crate::util::run(&["analyze", "--format", "table", f.to_str().unwrap()], b"");
    let text = crate::util::stdout(&out);
    assert!(
        text.contains("grant `g-7` to `arn:aws:iam::111122223333:root` was revoked or retired"),
        "{text}"
    );
    assert!(text.contains("RevokeGrant removed the grant"), "{text}");
    assert!(text.contains("look in account 444455556666"), "{text}");
}
