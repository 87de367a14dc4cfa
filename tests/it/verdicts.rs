//! Verdicts per key and caller on synthetic scenarios (written here, labelled
//! synthetic: public data has no KMS denial records) and on a `gen_corpus.py`
//! tree.

use serde_json::{Value, json};

use crate::util::analyze_json;

pub(crate) const ACCT: &str = "111122223333";
pub(crate) const KEY: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/feedface-0000-4000-8000-000000000001";

/// A synthetic trail, record by record.
#[derive(Default)]
pub(crate) struct Trail {
    pub(crate) records: Vec<Value>,
}

pub(crate) fn service(svc: &str) -> Value {
    json!({"type": "AWSService", "invokedBy": svc})
}

pub(crate) fn role_via(role: &str, via: &str, account: &str) -> Value {
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/s"),
           "accountId": account, "invokedBy": via,
           "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/{role}")}}})
}

pub(crate) fn user(name: &str) -> Value {
    json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCT}:user/{name}"), "accountId": ACCT})
}

impl Trail {
    pub(crate) fn add(
        &mut self,
        hour: u32,
        source: &str,
        name: &str,
        who: Value,
        req: Value,
        error: Option<(&str, &str)>,
    ) -> &mut Self {
        let n = self.records.len();
        let mut r = json!({"eventVersion": "1.09", "eventID": format!("00000000-0000-4000-8000-{n:012}"),
            "eventTime": format!("2026-11-10T{hour:02}:00:00Z"), "eventSource": source, "eventName": name,
            "awsRegion": "eu-west-1", "recipientAccountId": ACCT});
        r["userIdentity"] = who;
        r["requestParameters"] = req;
        if source == "kms.amazonaws.com" {
            r["resources"] = json!([{"type": "AWS::KMS::Key", "ARN": KEY}]);
        }
        if let Some((code, msg)) = error {
            r["errorCode"] = json!(code);
            r["errorMessage"] = json!(msg);
        }
        self.records.push(r);
        self
    }

    pub(crate) fn kms(
        &mut self,
        hour: u32,
        name: &str,
        who: Value,
        error: Option<(&str, &str)>,
    ) -> &mut Self {
        self.add(
            hour,
            "kms.amazonaws.com",
            name,
            who,
            json!({"keyId": KEY}),
            error,
        )
    }

    /// A grant event on the key: `CreateGrant` (id in the response,
    /// grantee in the request, as in the KMS developer guide's log entry),
    /// or `RevokeGrant`/`RetireGrant` (id in the request).
    pub(crate) fn grant(
        &mut self,
        hour: u32,
        name: &str,
        who: Value,
        id: &str,
        grantee: &str,
    ) -> &mut Self {
        let req = if name == "CreateGrant" {
            json!({"keyId": KEY, "granteePrincipal": grantee, "operations": ["Decrypt", "GenerateDataKey"]})
        } else {
            json!({"keyId": KEY, "grantId": id})
        };
        self.add(hour, "kms.amazonaws.com", name, who, req, None);
        if name == "CreateGrant" {
            let last = self.records.last_mut().unwrap();
            last["responseElements"] = json!({"grantId": id, "keyId": KEY});
        }
        self
    }

    pub(crate) fn analyze(&self, extra: &[&str]) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("synthetic-trail.json");
        std::fs::write(&f, json!({"Records": self.records}).to_string()).unwrap();
        let mut args = extra.to_vec();
        args.push(f.to_str().unwrap());
        analyze_json(&args).0
    }
}

/// The verdicts as (caller principal or service, verdict, suspect).
pub(crate) fn verdicts(v: &Value) -> Vec<(String, String, bool)> {
    v["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let c = &x["caller"];
            let who = c["principal_arn"]
                .as_str()
                .or(c["invoked_by"].as_str())
                .unwrap_or("-");
            (
                who.to_owned(),
                x["verdict"].as_str().unwrap().to_owned(),
                x["suspect"] == true,
            )
        })
        .collect()
}

pub(crate) fn one(v: &Value, who: &str) -> Value {
    v["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["caller"]["principal_arn"] == who || x["caller"]["invoked_by"] == who)
        .unwrap_or_else(|| panic!("no verdict for {who}: {}", v["verdicts"]))
        .clone()
}

#[test]
fn pending_deletion() {
    let mut t = Trail::default();
    let ebs = || role_via("app", "ec2.amazonaws.com", ACCT);
    t.kms(1, "Decrypt", ebs(), None)
        .kms(2, "ScheduleKeyDeletion", user("admin"), None)
        .kms(
            3,
            "Decrypt",
            ebs(),
            Some((
                "KMSInvalidStateException",
                &format!("{KEY} is pending deletion."),
            )),
        );
    let v = t.analyze(&[]);
    let x = one(&v, &format!("arn:aws:iam::{ACCT}:role/app"));
    assert_eq!(x["verdict"], "key-pending-deletion");
    assert_eq!(x["since"], "2026-11-10T02:00:00Z");
    assert_eq!(
        x["evidence"][0]["event_id"],
        "00000000-0000-4000-8000-000000000001"
    );
    assert_eq!(
        (
            x["before"]["succeeded"].as_u64(),
            x["after"]["key_state_failed"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

/// Synthetic: the grant to AWS Backup is created, then revoked; Backup's
/// next Decrypt is denied. Truth: grant-revoked, since the `RevokeGrant`,
/// with the `RevokeGrant` and the `CreateGrant` as evidence.
#[test]
fn revoked_grant() {
    let mut t = Trail::default();
    let denied = (
        "AccessDeniedException",
        "User: backup.amazonaws.com is not authorized to perform: kms:Decrypt because no resource-based policy allows the kms:Decrypt action",
    );
    t.grant(
        0,
        "CreateGrant",
        user("admin"),
        "g-1",
        "backup.amazonaws.com",
    )
    .kms(1, "Decrypt", service("backup.amazonaws.com"), None)
    .grant(2, "RevokeGrant", user("admin"), "g-1", "")
    .kms(3, "Decrypt", service("backup.amazonaws.com"), Some(denied));
    let v = t.analyze(&[]);
    let x = one(&v, "backup.amazonaws.com");
    assert_eq!(x["verdict"], "grant-revoked");
    assert_eq!(x["since"], "2026-11-10T02:00:00Z");
    assert_eq!(x["reason"]["grant_id"], "g-1");
    assert_eq!(x["reason"]["grantee_principal"], "backup.amazonaws.com");
    let what: Vec<&str> = x["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(what, ["removed-grant", "created-grant", "first-failure"]);
    assert_eq!(x["evidence"][2]["error_code"], "AccessDeniedException");
}

#[test]
fn scp_denial() {
    let mut t = Trail::default();
    let msg = format!(
        "User: arn:aws:iam::{ACCT}:user/ci is not authorized to perform: kms:Decrypt on resource: {KEY} with an explicit deny in a service control policy"
    );
    t.kms(1, "Decrypt", user("ci"), None).kms(
        2,
        "Decrypt",
        user("ci"),
        Some(("AccessDeniedException", &msg)),
    );
    let v = t.analyze(&[]);
    assert_eq!(
        one(&v, &format!("arn:aws:iam::{ACCT}:user/ci"))["verdict"],
        "scp-deny"
    );
    assert!(
        v["blocked"].as_array().unwrap().is_empty(),
        "never blamed on the key policy"
    );
}

#[test]
fn cross_account_caller_goes_silent() {
    // The key is in 111122223333; a role of 444455556666 used it, then a
    // policy change, then nothing: its denials would be logged in its own account.
    let mut t = Trail::default();
    let other = || role_via("reader", "s3.amazonaws.com", "444455556666");
    t.kms(1, "Decrypt", other(), None)
        .kms(2, "Decrypt", other(), None)
        .kms(3, "PutKeyPolicy", user("admin"), None)
        .add(
            5,
            "s3.amazonaws.com",
            "GetObject",
            user("admin"),
            json!({}),
            None,
        );
    let v = t.analyze(&[]);
    let x = one(&v, "arn:aws:iam::444455556666:role/reader");
    assert_eq!(x["verdict"], "cross-account-not-logged-here");
    assert_eq!(x["suspect"], true);
    assert_eq!(x["reason"]["kind"], "cross-account");
    assert_eq!(x["reason"]["caller_account"], "444455556666");
    assert_eq!(x["reason"]["key_account"], ACCT);
    assert_eq!(x["reason"]["change_event"], "PutKeyPolicy");
    assert_eq!(
        x["look_in_account"], "444455556666",
        "its calls are logged in its own account"
    );
}

#[test]
fn trail_that_excludes_kms_events() {
    let mut t = Trail::default();
    let app = || role_via("app", "s3.amazonaws.com", ACCT);
    t.kms(1, "Decrypt", app(), None).kms(2, "Decrypt", app(), None).add(
        3,
        "cloudtrail.amazonaws.com",
        "PutEventSelectors",
        user("admin"),
        json!({"trailName": "main", "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true,
               "excludeManagementEventSources": ["kms.amazonaws.com"], "dataResources": []}]}),
        None,
    );
    // The trail goes on (other services) while KMS events are no longer logged.
    t.add(
        6,
        "s3.amazonaws.com",
        "GetObject",
        user("admin"),
        json!({}),
        None,
    );
    let v = t.analyze(&[]);
    let x = one(&v, &format!("arn:aws:iam::{ACCT}:role/app"));
    assert_eq!(x["verdict"], "no-kms-events");
    assert_eq!(
        x["evidence"][0]["event_id"],
        "00000000-0000-4000-8000-000000000002"
    );
    assert_eq!(v["trail_changes"][0]["excludes_kms"], true);
    // Asked about a key with no events at all: no-kms-events for the key, citing the selectors.
    let other = "arn:aws:kms:eu-west-1:111122223333:key/other";
    let v = t.analyze(&["--key", other]);
    let x = v["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["key_arn"] == other)
        .unwrap()
        .clone();
    assert_eq!(
        (x["verdict"].as_str(), x["caller"].is_null()),
        (Some("no-kms-events"), true)
    );
    assert_eq!(x["evidence"][0]["what"], "stopped-kms-logging");
    assert_eq!(x["evidence"][0]["event_name"], "PutEventSelectors");
    assert_eq!(x["reason"]["kind"], "no-calls");
}

#[test]
fn silent_caller_is_a_suspect_and_steady_callers_get_no_verdict() {
    let mut t = Trail::default();
    let lambda = || role_via("fn", "lambda.amazonaws.com", ACCT);
    t.kms(1, "Decrypt", lambda(), None)
        .kms(2, "Decrypt", lambda(), None)
        .kms(3, "DisableKey", user("admin"), None)
        .kms(4, "DescribeKey", user("admin"), None);
    let v = t.analyze(&[]);
    assert_eq!(
        verdicts(&v),
        [(
            format!("arn:aws:iam::{ACCT}:role/fn"),
            "key-disabled".to_owned(),
            true
        )],
        "only the silent caller; the admin's one-off calls are no suspects"
    );
}

#[test]
fn baseline_and_incident_override_the_split() {
    let mut t = Trail::default();
    let svc = || service("backup-storage.amazonaws.com");
    let denied = (
        "AccessDenied",
        "no identity-based policy allows the kms:Decrypt action",
    );
    t.kms(1, "Decrypt", svc(), None)
        .kms(2, "Decrypt", svc(), None)
        .kms(5, "Decrypt", svc(), Some(denied));
    let v = t.analyze(&[
        "--baseline",
        "2026-11-10T00:00:00Z..2026-11-10T01:30:00Z",
        "--incident",
        "2026-11-10T01:30:00Z..",
    ]);
    let x = one(&v, "backup-storage.amazonaws.com");
    assert_eq!(
        (
            x["before"]["succeeded"].as_u64(),
            x["after"]["succeeded"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(x["after"]["denied"], 1);
    // Buckets cover the window, empty ones included, and sum to the calls.
    let series: Vec<&Value> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["caller"]["invoked_by"] == "backup-storage.amazonaws.com")
        .collect();
    assert_eq!(series.len(), 1, "one series per key and caller");
    assert_eq!(
        v["bucket_seconds"], 900,
        "a 4-hour window gets 15-minute buckets"
    );
    let counts = |name: &str| -> Vec<u64> {
        series[0][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect()
    };
    assert_eq!(counts("succeeded").len(), 17);
    assert_eq!(counts("succeeded").iter().sum::<u64>(), 2);
    assert_eq!(counts("denied").last(), Some(&1));
}

#[test]
fn corpus_verdicts() {
    let Some((_dir, logs, truth)) = crate::util::gen_corpus("8", "3", "400") else {
        return;
    };
    let (v, _) = analyze_json(&[logs.to_str().unwrap()]);
    let all = v["verdicts"].as_array().unwrap();
    assert!(
        all.iter().all(|x| x["verdict"] != "unexplained"),
        "{}",
        v["verdicts"]
    );
    let change = &truth["policy_change"];
    let vault: Vec<&Value> = all
        .iter()
        .filter(|x| x["key_arn"] == change["key"])
        .collect();
    assert_eq!(
        vault.len(),
        truth["blocked_by_key_policy"].as_object().unwrap().len()
    );
    for x in vault {
        assert_eq!(x["verdict"], "key-policy-deny");
        assert_eq!(x["since"], change["eventTime"]);
        assert_eq!(x["evidence"][0]["event_id"], change["eventID"]);
    }
    let kinds: Vec<&str> = all
        .iter()
        .filter(|x| x["key_arn"] != change["key"])
        .map(|x| x["verdict"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"key-disabled") && kinds.contains(&"identity-policy-deny"),
        "{kinds:?}"
    );
    let disabled = all.iter().find(|x| x["verdict"] == "key-disabled").unwrap();
    assert_eq!(disabled["evidence"][0]["what"], "disabled-key");
    assert_eq!(disabled["evidence"][0]["event_name"], "DisableKey");
}

/// SYNTHETIC: the key is disabled at 03:00, a caller fails at 04:00, the key
/// is enabled again at 05:00. Truth: one `key-disabled` cause, resolved by
/// the `EnableKey`; the caller's verdict is resolved too. Without the
/// `EnableKey`, the same cause is ongoing.
#[test]
fn a_disabled_key_enabled_again_resolves_its_cause() {
    let disabled = ("DisabledException", "arn:aws:kms:... is disabled.");
    let trail = |enabled: bool| {
        let mut t = Trail::default();
        let app = || role_via("app", "ec2.amazonaws.com", ACCT);
        t.kms(1, "Decrypt", app(), None)
            .kms(2, "Decrypt", app(), None)
            .kms(3, "DisableKey", user("admin"), None)
            .kms(4, "Decrypt", app(), Some(disabled));
        if enabled {
            t.kms(5, "EnableKey", user("admin"), None);
        }
        t.analyze(&[])
    };
    let v = trail(true);
    let causes = v["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0]["change"], "key-disabled");
    assert_eq!(causes[0]["state"], "resolved");
    assert_eq!(causes[0]["resolved_by"]["event_name"], "EnableKey");
    let x = &v["verdicts"][0];
    assert_eq!(
        (x["verdict"].as_str(), x["state"].as_str()),
        (Some("key-disabled"), Some("resolved"))
    );
    assert_eq!(x["cause"], causes[0]["id"]);
    let v = trail(false);
    assert_eq!(v["causes"][0]["state"], "ongoing");
    assert_eq!(v["verdicts"][0]["state"], "ongoing");
}
