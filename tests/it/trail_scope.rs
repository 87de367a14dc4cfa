//! Trail changes in their place, on synthetic trails (written here,
//! labelled synthetic) and on `../shared/real-samples`: a change that hides
//! KMS events explains a caller's silence only for keys of the trail's
//! account, in its home region unless it logs every region, and only for a
//! caller that was calling regularly up to it.

use serde_json::{Value, json};

use crate::util::{analyze_json, shared};
use crate::verdicts::{ACCT, Trail, role_via, user, verdicts};

const APP: &str = "arn:aws:iam::111122223333:role/app";

/// Sets the last record's account and region.
fn place(t: &mut Trail, account: &str, region: &str) {
    let r = t.records.last_mut().unwrap();
    r["recipientAccountId"] = json!(account);
    r["awsRegion"] = json!(region);
}

/// Synthetic: `app` decrypts hourly at 01:00-03:00 with a key of
/// 111122223333 in eu-west-1; `setup` may add records before the trail
/// change at 04:00 (`StopLogging` of trail `t` in `account`/`region`); an
/// S3 call at 06:00 shows the trail reaches past it.
fn stopped(account: &str, region: &str, setup: impl Fn(&mut Trail)) -> Value {
    let mut t = Trail::default();
    let app = || role_via("app", "s3.amazonaws.com", ACCT);
    t.kms(1, "Decrypt", app(), None)
        .kms(2, "Decrypt", app(), None)
        .kms(3, "Decrypt", app(), None);
    setup(&mut t);
    t.add(
        4,
        "cloudtrail.amazonaws.com",
        "StopLogging",
        user("admin"),
        json!({"name": "t"}),
        None,
    );
    place(&mut t, account, region);
    t.add(
        6,
        "s3.amazonaws.com",
        "GetObject",
        user("admin"),
        json!({}),
        None,
    );
    t.analyze(&[])
}

/// A `CreateTrail` of trail `t` at 00:00, its response as CloudTrail logs it.
fn created(multi_region: bool, account: &str, region: &str) -> impl Fn(&mut Trail) {
    let (account, region) = (account.to_owned(), region.to_owned());
    move |t: &mut Trail| {
        t.add(
            0,
            "cloudtrail.amazonaws.com",
            "CreateTrail",
            user("admin"),
            json!({"name": "t", "s3BucketName": "b"}),
            None,
        );
        place(t, &account, &region);
        t.records.last_mut().unwrap()["responseElements"] = json!({"name": "t",
            "isMultiRegionTrail": multi_region, "isOrganizationTrail": false,
            "trailARN": format!("arn:aws:cloudtrail:{region}:{account}:trail/t")});
    }
}

fn silent(v: &Value) -> Vec<(String, String, bool)> {
    verdicts(v)
}

#[test]
fn same_account_and_region_explains_the_silence() {
    let v = stopped(ACCT, "eu-west-1", |_| {});
    assert_eq!(
        silent(&v),
        [(APP.to_owned(), "no-kms-events".to_owned(), true)]
    );
    let r = &v["verdicts"][0]["reason"];
    assert_eq!(
        (
            r["kind"].as_str(),
            r["trail_account"].as_str(),
            r["scope"].as_str()
        ),
        (Some("trail-stopped-kms"), Some(ACCT), Some("unknown"))
    );
    assert_eq!(v["trail_changes"][0]["account"], ACCT);
}

#[test]
fn another_accounts_trail_explains_nothing() {
    let v = stopped("999988887777", "eu-west-1", |_| {});
    assert_eq!(silent(&v), [], "{}", v["verdicts"]);
}

#[test]
fn a_single_region_trail_of_another_region_explains_nothing() {
    let v = stopped(ACCT, "us-east-1", created(false, ACCT, "us-east-1"));
    assert_eq!(v["trail_changes"][0]["scope"], "region");
    assert_eq!(silent(&v), [], "{}", v["verdicts"]);
}

#[test]
fn a_multi_region_trail_of_another_region_explains_it() {
    let v = stopped(ACCT, "us-east-1", created(true, ACCT, "us-east-1"));
    assert_eq!(silent(&v).len(), 1, "{}", v["verdicts"]);
    assert_eq!(v["verdicts"][0]["reason"]["scope"], "all-regions");
    assert_eq!(v["verdicts"][0]["reason"]["trail_region"], "us-east-1");
}

#[test]
fn unknown_scope_in_another_region_is_said() {
    let v = stopped(ACCT, "us-east-1", |_| {});
    assert_eq!(v["verdicts"][0]["reason"]["scope"], "unknown");
    // The words: the text report says the scope is not known.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("synthetic-trail.json");
    let mut t = Trail::default();
    let app = || role_via("app", "s3.amazonaws.com", ACCT);
    t.kms(1, "Decrypt", app(), None)
        .kms(2, "Decrypt", app(), None)
        .add(
            3,
            "cloudtrail.amazonaws.com",
            "StopLogging",
            user("admin"),
            json!({"name": "t"}),
            None,
        );
    place(&mut t, ACCT, "us-east-1");
    t.add(
        6,
        "s3.amazonaws.com",
        "GetObject",
        user("admin"),
        json!({}),
        None,
    );
    std::fs::write(&f, json!({"Records": t.records}).to_string()).unwrap();
    let out = crate::util::run(&["analyze", "--format", "table", f.to_str().unwrap()], b"");
    let text = crate::util::stdout(&out).replace("\n  ", " ");
    assert!(
        text.contains("whether it logs every region is not in this trail"),
        "{text}"
    );
}

#[test]
fn logging_started_again_explains_nothing() {
    let mut t = Trail::default();
    let app = || role_via("app", "s3.amazonaws.com", ACCT);
    t.kms(1, "Decrypt", app(), None)
        .kms(2, "Decrypt", app(), None);
    for (hour, name) in [(3, "StopLogging"), (4, "StartLogging")] {
        t.add(
            hour,
            "cloudtrail.amazonaws.com",
            name,
            user("admin"),
            json!({"name": "t"}),
            None,
        );
    }
    t.add(
        9,
        "s3.amazonaws.com",
        "GetObject",
        user("admin"),
        json!({}),
        None,
    );
    let v = t.analyze(&[]);
    assert_eq!(silent(&v), [], "{}", v["verdicts"]);
}

#[test]
fn a_caller_long_quiet_before_the_change_is_no_suspect() {
    // Hourly at 01:00-03:00 a day earlier, then nothing until the change.
    let v = stopped(ACCT, "eu-west-1", |t| {
        for r in &mut t.records {
            r["eventTime"] = json!(r["eventTime"].as_str().unwrap().replace("-10T", "-09T"));
        }
    });
    assert_eq!(silent(&v), [], "{}", v["verdicts"]);
}

/// The whole of `../shared/real-samples`: no verdict blames a change of
/// another account than its key's, and no silence verdict cites a change
/// far from the caller's last success. Before trail changes were placed,
/// 31 `no-kms-events` verdicts cited a `StopLogging` of account
/// 143434273843 for keys of other accounts, years after their calls.
#[test]
fn real_samples_blame_no_change_of_another_account() {
    let Some(dir) = shared("real-samples") else {
        return;
    };
    let (v, _) = analyze_json(&[dir.to_str().unwrap()]);
    let account = |arn: &str| arn.split(':').nth(4).unwrap_or_default().to_owned();
    let trail_changes = v["trail_changes"].as_array().unwrap();
    let timeline = v["timeline"].as_array().unwrap();
    for x in v["verdicts"].as_array().unwrap() {
        let key_account = account(x["key_arn"].as_str().unwrap());
        for e in x["evidence"].as_array().unwrap() {
            if let Some(t) = trail_changes
                .iter()
                .find(|t| t["event_id"] == e["event_id"])
            {
                assert!(
                    t["account"] == key_account.as_str() || t["scope"] == "organization",
                    "{x}\ncites {t}"
                );
            }
            if let Some(l) = timeline.iter().find(|l| l["event_id"] == e["event_id"]) {
                assert_eq!(account(l["key_arn"].as_str().unwrap()), key_account, "{x}");
            }
        }
        if x["suspect"] == true || x["verdict"] == "no-kms-events" {
            let last_ok = v["groups"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["key_arn"] == x["key_arn"] && g["caller"] == x["caller"])
                .filter_map(|g| g["last_succeeded"].as_str())
                .max();
            let days = |s: &str| denydiff::call::parse_time(s).unwrap() / 86_400_000;
            if let (Some(ok), Some(since)) = (last_ok, x["since"].as_str()) {
                assert!(days(since) - days(ok) <= 7, "{x}");
            }
        }
    }
    // The changes are placed: the stratus trails' CreateTrail (us-east-1,
    // not multi-region) scopes their later changes.
    let stratus = trail_changes
        .iter()
        .find(|t| {
            t["trail"] == "stratus-red-team-ctes-trail-qyxyekjbtk"
                && t["event_name"] == "DeleteTrail"
        })
        .unwrap();
    assert_eq!(
        (
            stratus["account"].as_str(),
            stratus["region"].as_str(),
            stratus["scope"].as_str()
        ),
        (Some("123837392027"), Some("us-east-1"), Some("region"))
    );
    // The KMS guide's RevokeGrant names the grant its CreateGrant made, for
    // an EBS grantee in CloudTrail's `<account>:<role>:<instance>` form.
    let grant = |name: &str| {
        timeline
            .iter()
            .find(|l| {
                l["event_name"] == name
                    && l["grant"]["grant_id"]
                        .as_str()
                        .is_some_and(|g| g.starts_with("abcde123"))
            })
            .unwrap_or_else(|| panic!("no {name} of grant abcde123..."))["grant"]
            .clone()
    };
    assert_eq!(
        grant("CreateGrant")["grantee_principal"],
        "111122223333:aws:ec2-infrastructure:i-81e2f56c"
    );
    assert!(grant("RevokeGrant")["grantee_principal"].is_null());
}
