use super::*;
use crate::policy::parse::parse_policy;
use crate::policy::testdata::{
    ACCOUNT, ADMIN, BACKUP_ROLE, KEY, SEED, admin, backup_fas, backup_storage, bob, seed,
};
use Expectation::{ExplicitlyDenied, NotExplicitlyDenied, NotNewlyDenied, SameAsBefore};

fn sp() -> BlockedCaller {
    BlockedCaller::ServicePrincipal {
        service: "backup-storage.amazonaws.com".into(),
    }
}

fn fas() -> BlockedCaller {
    BlockedCaller::ForwardAccess {
        service: "backup.amazonaws.com".into(),
        region: "eu-west-1".into(),
    }
}

/// The checks `docs/policy-evaluation.md` asks of every fix, with `blocked` as the caller to unblock.
fn standard_checks(blocked: Request) -> Vec<(Request, Expectation)> {
    vec![
        (blocked, NotExplicitlyDenied),
        (admin(), NotNewlyDenied),
        (admin(), SameAsBefore),
        (bob(), ExplicitlyDenied),
        (backup_storage(), NotNewlyDenied),
        (backup_fas(), NotNewlyDenied),
    ]
}

fn fixed(caller: &BlockedCaller, kind: FixKind) -> Fix {
    patch(&seed(), 1, caller, kind).unwrap_or_else(|e| panic!("{e}"))
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap()
}

fn report(v: &Verification) -> String {
    format!("{:#?}", v.checks)
}

#[test]
fn service_principal_broad_adds_exactly_the_entry() {
    let fix = fixed(&sp(), FixKind::Broad);
    let expected = SEED.replace(
        r#"["arn:aws:iam::111122223333:user/admin"]}"#,
        r#"["arn:aws:iam::111122223333:user/admin"]},"BoolIfExists":{"aws:PrincipalIsAWSService":"false"}"#,
    );
    assert_eq!(compact(&fix.document), expected);
    assert_eq!(fix.policy.document, fix.document);
    assert!(
        fix.description
            .contains("`BoolIfExists` `aws:PrincipalIsAWSService` = `false`"),
        "{}",
        fix.description
    );
    assert!(
        fix.description
            .contains("statement 1 (`Deny actions except Administrator`)")
    );
    assert!(fix.diff.starts_with("@@ "), "{}", fix.diff);
    let added: Vec<_> = fix
        .diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert!(
        added
            .iter()
            .any(|l| l.contains(r#""aws:PrincipalIsAWSService": "false""#)),
        "{}",
        fix.diff
    );
    assert!(
        fix.diff
            .lines()
            .all(|l| !l.starts_with('-') || l.trim_start_matches('-').trim() == "}"),
        "{}",
        fix.diff
    );
}

#[test]
fn service_principal_broad_is_verified() {
    let fix = fixed(&sp(), FixKind::Broad);
    let checks = standard_checks(backup_storage());
    let v = verify(&seed(), &fix.policy, &checks);
    assert!(v.verified, "{}", report(&v));
    assert_eq!(
        (v.checks[0].before, v.checks[0].after),
        (Outcome::ExplicitDeny, Outcome::ImplicitDeny)
    );
    assert_eq!(v.checks[1].after, Outcome::Allowed);
    assert_eq!(v.checks[3].after, Outcome::ExplicitDeny);
}

#[test]
fn service_principal_broad_leaves_forward_access_blocked() {
    let fix = fixed(&sp(), FixKind::Broad);
    assert_eq!(fix.warnings.len(), 1);
    assert!(fix.warnings[0].contains("forward access"));
    let v = verify(&seed(), &fix.policy, &[(backup_fas(), NotExplicitlyDenied)]);
    assert!(!v.verified);
    assert_eq!(v.checks[0].after, Outcome::ExplicitDeny);
}

#[test]
fn service_principal_narrow_is_verified_and_narrow() {
    let fix = fixed(&sp(), FixKind::Narrow);
    let block = &fix.document["Statement"][1]["Condition"]["StringNotEqualsIfExists"];
    assert_eq!(
        compact(block),
        r#"{"aws:PrincipalServiceName":["backup-storage.amazonaws.com"]}"#
    );
    let mut checks = standard_checks(backup_storage());
    let logs = Request::service_principal("logs.amazonaws.com", "kms:Decrypt", KEY);
    checks.push((logs, ExplicitlyDenied));
    let v = verify(&seed(), &fix.policy, &checks);
    assert!(v.verified, "{}", report(&v));
}

#[test]
fn forward_access_broad_is_verified() {
    let fix = fixed(&fas(), FixKind::Broad);
    let block = &fix.document["Statement"][1]["Condition"]["BoolIfExists"];
    assert_eq!(compact(block), r#"{"aws:ViaAWSService":"false"}"#);
    let v = verify(&seed(), &fix.policy, &standard_checks(backup_fas()));
    assert!(v.verified, "{}", report(&v));
    assert_eq!(v.checks[0].after, Outcome::Allowed);
    let v = verify(
        &seed(),
        &fix.policy,
        &[(backup_storage(), NotExplicitlyDenied)],
    );
    assert!(
        !v.verified,
        "the FAS fix does not cover the service principal"
    );
}

#[test]
fn forward_access_narrow_is_verified_and_narrow() {
    let fix = fixed(&fas(), FixKind::Narrow);
    let block = &fix.document["Statement"][1]["Condition"]["StringNotEqualsIfExists"];
    assert_eq!(
        compact(block),
        r#"{"kms:ViaService":["backup.eu-west-1.amazonaws.com"]}"#
    );
    let mut checks = standard_checks(backup_fas());
    let via_ec2 = Request::forward_access(
        BACKUP_ROLE,
        ACCOUNT,
        "ec2.amazonaws.com",
        "eu-west-1",
        "kms:Decrypt",
        KEY,
    );
    checks.push((via_ec2, ExplicitlyDenied));
    let v = verify(&seed(), &fix.policy, &checks);
    assert!(v.verified, "{}", report(&v));
}

#[test]
fn direct_principal_is_appended_to_the_exception_list() {
    let caller = BlockedCaller::Direct {
        principal_arn: BACKUP_ROLE.into(),
    };
    let fix = fixed(&caller, FixKind::Narrow);
    let list = &fix.document["Statement"][1]["Condition"]["StringNotEquals"]["aws:PrincipalArn"];
    assert_eq!(compact(list), format!(r#"["{ADMIN}","{BACKUP_ROLE}"]"#));
    let role = Request::iam_principal(BACKUP_ROLE, ACCOUNT, "kms:Decrypt", KEY);
    let v = verify(&seed(), &fix.policy, &standard_checks(role));
    assert!(v.verified, "{}", report(&v));
    assert_eq!(fix.kind, FixKind::Narrow);
}

#[test]
fn direct_turns_a_single_string_into_a_list() {
    let policy = parse_policy(&SEED.replace(
        r#"["arn:aws:iam::111122223333:user/admin"]"#,
        r#""arn:aws:iam::111122223333:user/admin""#,
    ))
    .unwrap();
    let caller = BlockedCaller::Direct {
        principal_arn: BACKUP_ROLE.into(),
    };
    let fix = patch(&policy, 1, &caller, FixKind::Broad).unwrap();
    let list = &fix.document["Statement"][1]["Condition"]["StringNotEquals"]["aws:PrincipalArn"];
    assert_eq!(compact(list), format!(r#"["{ADMIN}","{BACKUP_ROLE}"]"#));
}

#[test]
fn direct_finds_arn_not_like_lists_with_any_key_case() {
    let policy = parse_policy(&SEED.replace(
        r#""StringNotEquals":{"aws:PrincipalArn""#,
        r#""Bool":{"aws:SecureTransport":"true"},"ArnNotLike":{"AWS:PrincipalARN""#,
    ))
    .unwrap();
    let caller = BlockedCaller::Direct {
        principal_arn: BACKUP_ROLE.into(),
    };
    let fix = patch(&policy, 1, &caller, FixKind::Broad).unwrap();
    assert!(
        fix.description.contains("`ArnNotLike` exception list"),
        "{}",
        fix.description
    );
    assert_eq!(
        fix.document["Statement"][1]["Condition"]["ArnNotLike"]["AWS:PrincipalARN"][1],
        BACKUP_ROLE
    );
}

#[test]
fn direct_without_an_exception_list_is_an_error() {
    let policy = parse_policy(&SEED.replace(
        r#""StringNotEquals":{"aws:PrincipalArn":["arn:aws:iam::111122223333:user/admin"]}"#,
        r#""Bool":{"aws:SecureTransport":"false"}"#,
    ))
    .unwrap();
    let caller = BlockedCaller::Direct {
        principal_arn: BACKUP_ROLE.into(),
    };
    let e = patch(&policy, 1, &caller, FixKind::Broad).unwrap_err();
    assert!(matches!(e, FixError::NoExceptionList { .. }));
    assert!(e.to_string().starts_with("statement 1 (`Deny actions except Administrator`) has no exception list on `aws:PrincipalArn` to add `arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole` to\nhint: "), "{e}");
}

#[test]
fn already_listed_principal_is_no_change() {
    let caller = BlockedCaller::Direct {
        principal_arn: ADMIN.into(),
    };
    let e = patch(&seed(), 1, &caller, FixKind::Broad).unwrap_err();
    assert!(matches!(e, FixError::NoChange { .. }), "{e}");
}

#[test]
fn bool_fix_merges_into_an_existing_block() {
    let with_block = SEED.replace(
        r#""StringNotEquals""#,
        r#""BoolIfExists":{"aws:SecureTransport":"true"},"StringNotEquals""#,
    );
    let fix = patch(
        &parse_policy(&with_block).unwrap(),
        1,
        &sp(),
        FixKind::Broad,
    )
    .unwrap();
    let block = &fix.document["Statement"][1]["Condition"]["BoolIfExists"];
    assert_eq!(
        compact(block),
        r#"{"aws:SecureTransport":"true","aws:PrincipalIsAWSService":"false"}"#
    );
}

#[test]
fn bool_fix_already_present_or_conflicting() {
    let same = SEED.replace(
        r#""StringNotEquals""#,
        r#""BoolIfExists":{"aws:principalisawsservice":false},"StringNotEquals""#,
    );
    let e = patch(&parse_policy(&same).unwrap(), 1, &sp(), FixKind::Broad).unwrap_err();
    assert!(matches!(e, FixError::NoChange { .. }), "{e}");
    let other = same.replace("false}", r#""true"}"#);
    let e = patch(&parse_policy(&other).unwrap(), 1, &sp(), FixKind::Broad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statement 1 (`Deny actions except Administrator`): `BoolIfExists` `aws:principalisawsservice` already holds `true`, which conflicts with `false`"
    );
}

#[test]
fn narrow_fix_merges_values_without_duplicates() {
    let with_list = SEED.replace(r#""StringNotEquals""#, r#""StringNotEqualsIfExists":{"aws:PrincipalServiceName":"logs.amazonaws.com"},"StringNotEquals""#);
    let policy = parse_policy(&with_list).unwrap();
    let fix = patch(&policy, 1, &sp(), FixKind::Narrow).unwrap();
    let list = &fix.document["Statement"][1]["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalServiceName"];
    assert_eq!(
        compact(list),
        r#"["logs.amazonaws.com","backup-storage.amazonaws.com"]"#
    );
    let again = patch(&fix.policy, 1, &sp(), FixKind::Narrow).unwrap_err();
    assert!(matches!(again, FixError::NoChange { .. }));
}

#[test]
fn statement_without_condition_and_as_single_object() {
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}}"#;
    let fix = patch(&parse_policy(doc).unwrap(), 0, &fas(), FixKind::Broad).unwrap();
    assert_eq!(
        compact(&fix.document),
        doc.replace(
            r#""Resource":"*"}"#,
            r#""Resource":"*","Condition":{"BoolIfExists":{"aws:ViaAWSService":"false"}}}"#
        )
    );
}

#[test]
fn only_existing_deny_statements_can_be_patched() {
    let e = patch(&seed(), 0, &sp(), FixKind::Broad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statement 0 (`Enable IAM User Permissions`) is an `Allow`: only a `Deny` statement blocks a caller"
    );
    let e = patch(&seed(), 5, &sp(), FixKind::Broad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statement 5 does not exist: the policy has 2 statements"
    );
}

#[test]
fn verification_catches_a_newly_denied_caller() {
    let allow_only =
        parse_policy(&SEED.replace(r#""Effect":"Deny""#, r#""Effect":"Allow""#)).unwrap();
    let v = verify(
        &allow_only,
        &seed(),
        &[(bob(), NotNewlyDenied), (admin(), NotNewlyDenied)],
    );
    assert!(!v.verified);
    assert!(!v.checks[0].passed);
    assert!(v.checks[1].passed);
    assert_eq!(
        (v.checks[0].before, v.checks[0].after),
        (Outcome::Allowed, Outcome::ExplicitDeny)
    );
}

#[test]
fn verification_treats_a_possible_deny_as_not_cleared() {
    let org = SEED.replace(
        r#""StringNotEquals":{"aws:PrincipalArn":["arn:aws:iam::111122223333:user/admin"]}"#,
        r#""StringNotEquals":{"aws:PrincipalOrgID":"o-123"}"#,
    );
    let v = verify(
        &seed(),
        &parse_policy(&org).unwrap(),
        &[(bob(), NotExplicitlyDenied), (admin(), NotNewlyDenied)],
    );
    assert_eq!(v.checks[0].after, Outcome::Undetermined);
    assert!(!v.checks[0].passed);
    assert!(
        !v.checks[1].passed,
        "admin went from Allowed to Undetermined"
    );
}

#[test]
fn empty_verification_is_not_verified() {
    assert!(!verify(&seed(), &seed(), &[]).verified);
}

/// A one-Deny policy with `condition`, for the value edits.
fn deny_with(condition: &str) -> Policy {
    parse_policy(&format!(
        r#"{{"Statement": [{{"Sid": "D", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
            "Resource": "*", "Condition": {condition}}}]}}"#
    ))
    .unwrap()
}

const PARTNER_ROLE: &str = "arn:aws:iam::444455556666:role/reader";

fn partner() -> Request {
    Request::iam_principal(PARTNER_ROLE, "444455556666", "kms:Decrypt", KEY)
}

fn patched_for(policy: &Policy, caller: &BlockedCaller, request: &Request) -> Result<Fix> {
    let blocking = [Blocking {
        caller,
        requests: std::slice::from_ref(request),
    }];
    patch_blocking(policy, 0, &blocking, FixKind::Narrow)
}

#[test]
fn an_account_list_gets_the_account_the_request_shows() {
    let policy = deny_with(r#"{"StringNotEquals": {"kms:CallerAccount": "111122223333"}}"#);
    let caller = BlockedCaller::Direct {
        principal_arn: PARTNER_ROLE.into(),
    };
    let fix = patched_for(&policy, &caller, &partner()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        compact(&fix.document["Statement"][0]["Condition"]),
        r#"{"StringNotEquals":{"kms:CallerAccount":["111122223333","444455556666"]}}"#
    );
    let other = Request::iam_principal(
        "arn:aws:iam::000000000000:role/x",
        "000000000000",
        "kms:Decrypt",
        KEY,
    );
    let v = verify(
        &policy,
        &fix.policy,
        &[(partner(), NotExplicitlyDenied), (other, ExplicitlyDenied)],
    );
    assert!(v.verified, "{}", report(&v));
    // Without the request only the ARN list is left, and there is none.
    assert!(matches!(
        patch_all(&policy, 0, &[caller], FixKind::Narrow),
        Err(FixError::NoExceptionList { .. })
    ));
}

#[test]
fn an_organization_list_has_no_value_to_add() {
    let policy = deny_with(r#"{"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}"#);
    let caller = BlockedCaller::Direct {
        principal_arn: PARTNER_ROLE.into(),
    };
    let err = patched_for(&policy, &caller, &partner()).unwrap_err();
    assert_eq!(
        err,
        FixError::ValueNotInTrail {
            at: Location::Statement {
                index: 0,
                sid: Some("D".into())
            },
            key: "aws:PrincipalOrgID".into()
        }
    );
    // When the request shows it (`explain --request`), it is added.
    let mut known = partner();
    known.context = known.context.set("aws:PrincipalOrgID", ["o-partner"]);
    let fix = patched_for(&policy, &caller, &known).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        compact(&fix.document["Statement"][0]["Condition"]),
        r#"{"StringNotEquals":{"aws:PrincipalOrgID":["o-abc123","o-partner"]}}"#
    );
}

#[test]
fn a_source_ip_deny_exempts_the_endpoint_of_the_request() {
    let policy = deny_with(r#"{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}"#);
    let app = "arn:aws:iam::111122223333:role/app";
    let caller = BlockedCaller::Direct {
        principal_arn: app.into(),
    };
    let through = |vpce: &str| {
        let mut r = Request::iam_principal(app, ACCOUNT, "kms:Decrypt", KEY);
        r.context = r.context.with_network(Some("10.0.1.5"), Some(vpce));
        r
    };
    let fix =
        patched_for(&policy, &caller, &through("vpce-0aaa")).unwrap_or_else(|e| panic!("{e}"));
    let mut outside = Request::iam_principal(app, ACCOUNT, "kms:Decrypt", KEY);
    outside.context = outside.context.with_network(Some("192.0.2.1"), None);
    let v = verify(
        &policy,
        &fix.policy,
        &[
            (through("vpce-0aaa"), NotExplicitlyDenied),
            (through("vpce-0bbb"), ExplicitlyDenied),
            (outside, ExplicitlyDenied),
        ],
    );
    assert!(v.verified, "{}", report(&v));
    // A value with a wildcard under a `...Like` operator is never added.
    let like = deny_with(r#"{"StringNotLike": {"kms:EncryptionContext:team": "a*"}}"#);
    let mut r = Request::iam_principal(app, ACCOUNT, "kms:Decrypt", KEY);
    r.context = r.context.set_encryption_context([("team", "b*")]);
    assert!(patched_for(&like, &caller, &r).is_err());
}
