//! Fix kinds and the denial text as evidence, on SYNTHETIC incidents
//! (written here from the record shapes of `../shared/real-samples` and the
//! KMS developer guide; public data has no KMS denials of these kinds). Each
//! scenario states its truth: who is blocked, by which statement, the fix
//! that is safe, and what the statement must still keep out.
//!
//! Every trail: at 00:00 the key policy is the root delegation only; callers
//! succeed at 01:00; at 02:00 a `PutKeyPolicy` adds one Deny; the blocked
//! callers are denied at 03:00 and the others still succeed at 04:00.

use serde_json::{Value, json};

use crate::util::{analyze_json, run, stdout};
use crate::verdicts::{ACCT, KEY, Trail, role_via, user};

const PARTNER: &str = "444455556666";
const EXPLICIT: (&str, &str) = (
    "AccessDeniedException",
    "User: arn:aws:sts::111122223333:assumed-role/app/s is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-west-1:111122223333:key/feedface-0000-4000-8000-000000000001 with an explicit deny in a resource-based policy",
);

fn role(name: &str, account: &str) -> Value {
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/s"),
           "accountId": account,
           "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/{name}")}}})
}

fn role_arn(name: &str, account: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

/// A call's network origin and encryption context as the record shows them.
#[derive(Default, Clone, Copy)]
struct Shown<'a> {
    ip: Option<&'a str>,
    vpce: Option<&'a str>,
    s3_arn: Option<&'a str>,
    /// The account whose trail logged it (a cross-account denial is logged
    /// only in the caller's account).
    recipient: Option<&'a str>,
}

struct Incident {
    trail: Trail,
}

impl Incident {
    /// The two policy versions: the root delegation, then it plus `deny`.
    fn new(deny: &Value) -> Self {
        let root = json!({"Sid": "Root", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:*", "Resource": "*"});
        let before = json!({"Version": "2012-10-17", "Statement": [root]});
        let after = json!({"Version": "2012-10-17", "Statement": [root, deny]});
        let mut trail = Trail::default();
        for (hour, p) in [(0, before), (2, after)] {
            trail.add(
                hour,
                "kms.amazonaws.com",
                "PutKeyPolicy",
                user("admin"),
                json!({"keyId": KEY, "policyName": "default", "policy": p.to_string()}),
                None,
            );
            let last = trail.records.last_mut().unwrap();
            last["sourceIPAddress"] = json!("203.0.113.10");
        }
        Self { trail }
    }

    fn call(&mut self, hour: u32, who: Value, shown: Shown<'_>, denied: bool) -> &mut Self {
        let mut req = json!({"keyId": KEY});
        if let Some(arn) = shown.s3_arn {
            req["encryptionContext"] = json!({"aws:s3:arn": arn});
        }
        let error = denied.then_some(EXPLICIT);
        self.trail
            .add(hour, "kms.amazonaws.com", "Decrypt", who, req, error);
        let r = self.trail.records.last_mut().unwrap();
        if let Some(ip) = shown.ip {
            r["sourceIPAddress"] = json!(ip);
        }
        if let Some(vpce) = shown.vpce {
            r["vpcEndpointId"] = json!(vpce);
        }
        if let Some(acct) = shown.recipient {
            r["recipientAccountId"] = json!(acct);
        }
        self
    }

    /// `who` succeeds at 01:00 and is denied at 03:00.
    fn blocked(&mut self, who: &Value, shown: Shown<'_>) -> &mut Self {
        self.call(1, who.clone(), shown, false)
            .call(3, who.clone(), shown, true)
    }

    /// The trail in a file: JSON and table reports read the same one.
    fn file(&self) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("synthetic-trail.json");
        std::fs::write(&f, json!({"Records": self.trail.records}).to_string()).unwrap();
        let f = f.to_str().unwrap().to_owned();
        (dir, f)
    }

    /// The JSON report and the table report of the trail.
    fn reports(&self) -> (Value, String) {
        let (_dir, f) = self.file();
        let (v, _) = analyze_json(&[&f]);
        let table = stdout(&run(&["analyze", "--format", "table", &f], b""));
        (v, table)
    }

    /// `who` succeeds at 01:00 and at 04:00.
    fn fine(&mut self, who: &Value, shown: Shown<'_>) -> &mut Self {
        self.call(1, who.clone(), shown, false)
            .call(4, who.clone(), shown, false)
    }
}

/// The one cause of the trail.
fn cause(v: &Value) -> &Value {
    let causes = v["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:#?}");
    &causes[0]
}

fn fix<'a>(c: &'a Value, kind: &str) -> Option<&'a Value> {
    c["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
}

/// The probes a fix checked, as (probe, passed, outcome after).
fn probes(f: &Value) -> Vec<(String, bool, String)> {
    f["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["subject"] == "probe")
        .map(|c| {
            assert_eq!(c["expectation"], "explicitly_denied", "{c}");
            (
                c["probe"].as_str().unwrap().to_owned(),
                c["passed"] == true,
                c["after"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Asserts `probe` was checked on `f`, passed, and is still denied after.
fn still_denies(f: &Value, probe: &str) {
    let p = probes(f);
    assert!(
        p.contains(&(probe.to_owned(), true, "explicit-deny".to_owned())),
        "`{probe}` is not checked and still denied: {p:?}\n{f:#}"
    );
}

fn failed_probes(f: &Value) -> Vec<String> {
    probes(f)
        .into_iter()
        .filter(|(_, passed, _)| !passed)
        .map(|(p, _, _)| p)
        .collect()
}

/// The blocked entries as (principal, `invoked_by`, Sid, decision).
fn blocked(v: &Value) -> Vec<(String, String, String, String)> {
    v["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let s = |x: &Value| x.as_str().unwrap_or("-").to_owned();
            (
                s(&b["caller"]["principal_arn"]),
                s(&b["caller"]["invoked_by"]),
                s(&b["statement"]["sid"]),
                s(&b["decision"]),
            )
        })
        .collect()
}

/// Truth: role `app` calls from a subnet through interface endpoint
/// `vpce-0aaa`; the new Deny keeps out every address outside the office
/// range. Through an endpoint a request has no `aws:SourceIp`, so
/// `NotIpAddress` is true and the Deny matches (as AWS's message says).
/// The safe fix exempts that endpoint only: a call from another address,
/// or through another endpoint, stays denied. `office` calls from inside
/// the range and must stay allowed.
#[test]
fn a_source_ip_deny_blocks_vpc_endpoint_calls_and_the_fix_exempts_that_endpoint() {
    let deny = json!({"Sid": "DenyOutsideOffice", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}});
    let via = Shown {
        ip: Some("10.0.1.5"),
        vpce: Some("vpce-0aaa"),
        ..Shown::default()
    };
    let office = Shown {
        ip: Some("203.0.113.20"),
        ..Shown::default()
    };
    let v = Incident::new(&deny)
        .blocked(&role("app", ACCT), via)
        .fine(&role("office", ACCT), office)
        .trail
        .analyze(&[]);
    let app = role_arn("app", ACCT);
    assert_eq!(
        blocked(&v),
        [(
            app,
            "-".into(),
            "DenyOutsideOffice".into(),
            "explicit-deny".into()
        )]
    );
    let b = &v["blocked"][0];
    assert_eq!(b["aws_says"], "explicit-deny");
    assert_eq!(b["uncertain_keys"], json!([]));
    assert_eq!(b["evidence"][0]["seen"]["state"], "absent", "{b}");
    let c = cause(&v);
    let f = fix(c, "broad").expect("a patch");
    assert_eq!(f["verified"], true, "{f:#}");
    assert_eq!(f["unblocks"], 1);
    assert_eq!(
        f["policy"]["Statement"][1]["Condition"],
        json!({"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]},
               "StringNotEqualsIfExists": {"aws:SourceVpce": ["vpce-0aaa"]}})
    );
    still_denies(f, "other-source-ip");
    still_denies(f, "other-vpc-endpoint");
    assert!(
        f["lets_in"].as_array().unwrap().is_empty(),
        "{}",
        f["lets_in"]
    );
}

/// Truth: the new Deny keeps out principals outside organization
/// `o-abc123`. A partner's role is denied, and AWS says a key-policy Deny
/// did it; no record shows an organization, so the Deny is the likely
/// cause, undetermined, hanging on `aws:PrincipalOrgID`. There is no safe
/// patch: adding a guessed organization could let in anyone.
#[test]
fn an_organization_deny_is_undetermined_and_has_no_safe_fix() {
    let deny = json!({"Sid": "DenyOutsideOrg", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}});
    let partner = Shown {
        ip: Some("198.51.100.7"),
        recipient: Some(PARTNER),
        ..Shown::default()
    };
    let (v, table) = Incident::new(&deny)
        .blocked(&role("reader", PARTNER), partner)
        .reports();
    let reader = role_arn("reader", PARTNER);
    assert_eq!(
        blocked(&v),
        [(
            reader,
            "-".into(),
            "DenyOutsideOrg".into(),
            "undetermined".into()
        )]
    );
    let b = &v["blocked"][0];
    assert_eq!(b["uncertain_keys"], json!(["aws:PrincipalOrgID"]));
    assert_eq!(b["aws_says"], "explicit-deny");
    let c = cause(&v);
    assert!(
        fix(c, "broad").is_none() && fix(c, "narrow").is_none(),
        "{c:#}"
    );
    let failures = c["fix_failures"].as_array().unwrap();
    assert!(!failures.is_empty());
    for f in failures {
        assert_eq!(f["not_in_trail"], json!(["aws:PrincipalOrgID"]), "{f}");
    }
    assert!(
        table.contains("no safe patch: it needs the caller's `aws:PrincipalOrgID`"),
        "{table}"
    );
    assert!(
        table.contains("hangs on: `aws:PrincipalOrgID`, which CloudTrail cannot show"),
        "{table}"
    );
}

/// Truth: the new Deny keeps out addresses outside the office range; role
/// `etl`'s record shows an office address, yet AWS says a key-policy Deny
/// refused it (the address the policy saw is not the one logged: a proxy,
/// or an endpoint the record does not name). The evaluation finds no Deny
/// on the logged address; with `aws:SourceIp` unknown the statement may
/// match, so it is the likely cause, undetermined.
#[test]
fn an_explicit_deny_the_evaluation_misses_is_traced_to_the_likely_statement() {
    let deny = json!({"Sid": "DenyOutsideOffice", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}});
    let logged = Shown {
        ip: Some("203.0.113.50"),
        ..Shown::default()
    };
    let v = Incident::new(&deny)
        .blocked(&role("etl", ACCT), logged)
        .trail
        .analyze(&[]);
    let etl = role_arn("etl", ACCT);
    assert_eq!(
        blocked(&v),
        [(
            etl,
            "-".into(),
            "DenyOutsideOffice".into(),
            "undetermined".into()
        )]
    );
    let b = &v["blocked"][0];
    assert_eq!(b["uncertain_keys"], json!(["aws:SourceIp"]));
    assert_eq!(b["denied"], 1);
    assert_eq!(b["evidence"][0]["seen"]["state"], "unknown");
    assert!(
        v["unexplained"].as_array().unwrap().is_empty(),
        "not reported as allowed: {}",
        v["unexplained"]
    );
    // No patch can be shown safe without the address: none is verified.
    let c = cause(&v);
    for f in c["fixes"].as_array().unwrap() {
        assert!(f["kind"] == "restore" || f["verified"] == false, "{f:#}");
    }
}

/// Truth: the same trail, but the Deny could not match whatever the
/// address (it only covers `kms:Encrypt`): AWS's message points at a
/// policy not in hand, said as such, not as "allowed". And a message
/// saying no key-policy statement allows the call blames no Deny.
#[test]
fn the_message_decides_what_the_key_policy_is_blamed_for() {
    let deny = json!({"Sid": "DenyEncrypt", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Encrypt", "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}});
    let v = Incident::new(&deny)
        .blocked(&role("etl", ACCT), Shown::default())
        .trail
        .analyze(&[]);
    assert!(blocked(&v).is_empty(), "{}", v["blocked"]);
    assert_eq!(v["unexplained"][0]["kind"], "key-policy-deny-not-found");
    // A Deny that matches for certain, and AWS says nothing allowed it.
    let deny = json!({"Sid": "DenyAll", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*"});
    let mut i = Incident::new(&deny);
    i.call(1, role("etl", ACCT), Shown::default(), false);
    i.trail.add(
        3,
        "kms.amazonaws.com",
        "Decrypt",
        role("etl", ACCT),
        json!({"keyId": KEY}),
        Some(("AccessDeniedException", "User: arn:aws:sts::111122223333:assumed-role/etl/s is not authorized to perform: kms:Decrypt because no resource-based policy allows the kms:Decrypt action")),
    );
    let v = i.trail.analyze(&[]);
    let denied: u64 = v["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["denied"].as_u64().unwrap())
        .sum();
    assert_eq!(denied, 0, "the denial is not blamed on DenyAll: {v:#}");
    assert_eq!(v["unexplained"][0]["kind"], "key-policy-no-allow");
}

/// Truth: S3 may use the key only for bucket `orders`; role `etl` now
/// writes to bucket `orders-archive` through S3 and is denied. The safe
/// fix adds that bucket's ARN: a foreign bucket must stay denied. A fix
/// that exempts every S3 call (`aws:ViaAWSService`) must not be verified.
#[test]
fn an_encryption_context_deny_gets_the_observed_bucket_not_every_s3_call() {
    let deny = json!({"Sid": "S3OnlyForOrders", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {
            "StringNotEquals": {"kms:EncryptionContext:aws:s3:arn": ["arn:aws:s3:::orders"]},
            "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}});
    let archive = Shown {
        ip: Some("s3.amazonaws.com"),
        s3_arn: Some("arn:aws:s3:::orders-archive"),
        ..Shown::default()
    };
    let orders = Shown {
        s3_arn: Some("arn:aws:s3:::orders"),
        ..archive
    };
    let (v, table) = Incident::new(&deny)
        .blocked(&role_via("etl", "s3.amazonaws.com", ACCT), archive)
        .fine(&role_via("web", "s3.amazonaws.com", ACCT), orders)
        .reports();
    let etl = role_arn("etl", ACCT);
    assert_eq!(
        blocked(&v),
        [(
            etl,
            "s3.amazonaws.com".into(),
            "S3OnlyForOrders".into(),
            "explicit-deny".into()
        )]
    );
    let c = cause(&v);
    let narrow = fix(c, "narrow").expect("a narrow fix");
    assert_eq!(narrow["verified"], true, "{narrow:#}");
    assert_eq!(
        narrow["policy"]["Statement"][1]["Condition"]["StringNotEquals"],
        json!({"kms:EncryptionContext:aws:s3:arn": ["arn:aws:s3:::orders", "arn:aws:s3:::orders-archive"]})
    );
    still_denies(narrow, "other-encryption-context");
    let broad = fix(c, "broad").expect("the class fix is shown");
    assert_eq!(broad["verified"], false, "{broad:#}");
    assert_eq!(failed_probes(broad), ["other-encryption-context"]);
    // The answer leads with the verified fix.
    let id = narrow["id"].as_str().unwrap();
    assert!(
        table.contains(&format!("fix:      {id} (narrow, verified")),
        "{table}"
    );
}

/// Truth: the key may be used only through S3; AWS Backup now copies
/// with role `backup-operator` and is denied. The safe fix adds
/// `backup.eu-west-1.amazonaws.com` to the list: a call through another
/// service, or a direct call, stays denied. Exempting every service call
/// (`aws:ViaAWSService`) would empty the statement: not verified.
#[test]
fn a_via_service_deny_gets_the_observed_service_and_no_blanket_exemption() {
    let deny = json!({"Sid": "OnlyThroughS3", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com"]}}});
    let s3 = Shown {
        ip: Some("s3.amazonaws.com"),
        ..Shown::default()
    };
    let backup = Shown {
        ip: Some("backup.amazonaws.com"),
        ..Shown::default()
    };
    let v = Incident::new(&deny)
        .blocked(
            &role_via("backup-operator", "backup.amazonaws.com", ACCT),
            backup,
        )
        .fine(&role_via("web", "s3.amazonaws.com", ACCT), s3)
        .trail
        .analyze(&[]);
    assert_eq!(
        blocked(&v),
        [(
            role_arn("backup-operator", ACCT),
            "backup.amazonaws.com".into(),
            "OnlyThroughS3".into(),
            "explicit-deny".into()
        )]
    );
    let c = cause(&v);
    let narrow = fix(c, "narrow").expect("a narrow fix");
    assert_eq!(narrow["verified"], true, "{narrow:#}");
    assert_eq!(
        narrow["policy"]["Statement"][1]["Condition"],
        json!({"StringNotEquals": {"kms:ViaService": [
            "s3.eu-west-1.amazonaws.com", "backup.eu-west-1.amazonaws.com"]}})
    );
    still_denies(narrow, "other-via-service");
    still_denies(narrow, "unlisted-user");
    let broad = fix(c, "broad").expect("the class fix is shown");
    assert_eq!(broad["verified"], false, "{broad:#}");
    assert!(
        failed_probes(broad).contains(&"other-via-service".to_owned()),
        "{broad:#}"
    );
}

/// Truth: the key may be used only by this account and a partner, but the
/// partner's account id was typed with a digit missing. The partner's role
/// is denied (logged in the partner's trail). The safe fix adds the
/// partner's account as the trail shows it; another account stays denied,
/// directly or through a service.
#[test]
fn a_caller_account_typo_gets_the_partners_observed_account() {
    let deny = json!({"Sid": "OnlyOurAccounts", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:CallerAccount": [ACCT, "44445555666"]}}});
    let partner = Shown {
        ip: Some("198.51.100.7"),
        recipient: Some(PARTNER),
        ..Shown::default()
    };
    let v = Incident::new(&deny)
        .blocked(&role("reader", PARTNER), partner)
        .fine(&role("app", ACCT), Shown::default())
        .trail
        .analyze(&[]);
    assert_eq!(
        blocked(&v),
        [(
            role_arn("reader", PARTNER),
            "-".into(),
            "OnlyOurAccounts".into(),
            "explicit-deny".into()
        )]
    );
    let c = cause(&v);
    let f = fix(c, "broad").expect("a patch");
    assert_eq!(f["verified"], true, "{f:#}");
    assert_eq!(
        f["policy"]["Statement"][1]["Condition"]["StringNotEquals"]["kms:CallerAccount"],
        json!([ACCT, "44445555666", PARTNER])
    );
    still_denies(f, "other-account");
    still_denies(f, "other-account-via-service");
    assert!(
        f["description"].as_str().unwrap().contains(PARTNER),
        "{}",
        f["description"]
    );
}

/// Truth: only the `app-*` roles and the admin may decrypt; role
/// `jobs/reports` (a role with a path) is denied. The fix adds its ARN as
/// the trail shows it; an unlisted user stays denied and a role the
/// pattern exempts stays exempt.
#[test]
fn an_arn_not_like_list_gets_the_callers_arn_and_keeps_its_patterns() {
    let deny = json!({"Sid": "OnlyAppRoles", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": [
            format!("arn:aws:iam::{ACCT}:role/app-*"), format!("arn:aws:iam::{ACCT}:user/admin")]}}});
    let reports = json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCT}:assumed-role/reports/s"),
        "accountId": ACCT,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCT}:role/jobs/reports")}}});
    let v = Incident::new(&deny)
        .blocked(&reports, Shown::default())
        .fine(&role("app-web", ACCT), Shown::default())
        .trail
        .analyze(&[]);
    let arn = format!("arn:aws:iam::{ACCT}:role/jobs/reports");
    assert_eq!(
        blocked(&v),
        [(
            arn.clone(),
            "-".into(),
            "OnlyAppRoles".into(),
            "explicit-deny".into()
        )]
    );
    let c = cause(&v);
    let f = fix(c, "broad").expect("a patch");
    assert_eq!(f["verified"], true, "{f:#}");
    assert_eq!(
        f["policy"]["Statement"][1]["Condition"]["ArnNotLike"]["aws:PrincipalArn"][2],
        json!(arn)
    );
    still_denies(f, "unlisted-user");
    let exempt: Vec<&Value> = f["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["subject"] == "exempted")
        .collect();
    assert!(
        exempt.iter().any(|c| c["principal_arn"]
            == format!("arn:aws:iam::{ACCT}:role/app-denydiff-probe")
            && c["passed"] == true),
        "{exempt:#?}"
    );
}
