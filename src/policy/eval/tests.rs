use super::*;
use crate::policy::context::Context;
use crate::policy::parse::parse_policy;
use crate::policy::testdata::{
    ACCOUNT, ADMIN, BACKUP_ROLE, BOB, KEY, SEED, admin, backup_fas, backup_storage, bob, seed,
};
use Outcome::{Allowed, ExplicitDeny, ImplicitDeny, Undetermined};

/// Evaluate `policy_json` for `request` and assert the outcome.
fn decides(policy_json: &str, request: &Request, expected: Outcome) -> Decision {
    let policy = parse_policy(policy_json).unwrap_or_else(|e| panic!("{e}"));
    let decision = evaluate(&policy, request);
    assert_eq!(decision.outcome, expected, "{decision:#?}");
    decision
}

/// A one-statement policy denying everyone everything under `condition`.
fn deny_if(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{condition}}}]}}"#
    )
}

/// A one-statement policy allowing everyone everything under `condition`.
fn allow_if(condition: &str) -> String {
    deny_if(condition).replace("Deny", "Allow")
}

/// Bob's Decrypt with a hand-made context.
fn bob_with(context: Context) -> Request {
    Request { context, ..bob() }
}

fn ctx(key: &str, values: &[&str]) -> Request {
    bob_with(Context::new().set(key, values.iter().copied()))
}

fn none() -> Request {
    bob_with(Context::new())
}

// The seed incident.

#[test]
fn seed_service_principal_is_denied_by_the_absent_principal_arn() {
    let d = decides(SEED, &backup_storage(), ExplicitDeny);
    let deciding = d.deciding();
    assert_eq!(deciding.len(), 1);
    assert_eq!(deciding[0].index, 1);
    assert_eq!(
        deciding[0].sid.as_deref(),
        Some("Deny actions except Administrator")
    );
    let c = &deciding[0].conditions[0];
    assert_eq!(
        (c.operator.as_str(), c.key.as_str()),
        ("StringNotEquals", "aws:PrincipalArn")
    );
    assert_eq!((&c.seen, c.result), (&Seen::Absent, Tri::True));
    assert_eq!(d.statements[0].principal_match, Tri::False);
}

#[test]
fn seed_admin_is_allowed_via_account_delegation() {
    let d = decides(SEED, &admin(), Allowed);
    assert!(d.only_via_account_delegation());
    assert!(d.statements[0].via_account_delegation);
    assert_eq!(d.statements[1].conditions[0].result, Tri::False);
}

#[test]
fn seed_unlisted_user_is_denied() {
    let d = decides(SEED, &bob(), ExplicitDeny);
    assert_eq!(d.deciding()[0].index, 1);
    assert_eq!(d.statements[0].matched, Tri::True);
}

#[test]
fn seed_forward_access_role_is_denied() {
    decides(SEED, &backup_fas(), ExplicitDeny);
}

fn seed_with_bool_if_exists() -> String {
    SEED.replace(
        r#"{"StringNotEquals""#,
        r#"{"BoolIfExists":{"aws:PrincipalIsAWSService":"false"},"StringNotEquals""#,
    )
}

#[test]
fn seed_fixed_service_principal_rests_on_a_grant() {
    let d = decides(&seed_with_bool_if_exists(), &backup_storage(), ImplicitDeny);
    assert!(d.deciding().is_empty());
    assert_eq!(d.statements[1].conditions[0].result, Tri::False);
}

#[test]
fn seed_fixed_admin_still_allowed() {
    decides(&seed_with_bool_if_exists(), &admin(), Allowed);
}

#[test]
fn seed_fixed_unlisted_user_still_denied() {
    decides(&seed_with_bool_if_exists(), &bob(), ExplicitDeny);
}

// One case per operator family.

#[test]
fn string_equals_is_case_sensitive() {
    let p = deny_if(r#"{"StringEquals":{"kms:EncryptionContext:App":"Billing"}}"#);
    let with = |v: &str| bob_with(Context::new().set_encryption_context([("app", v)]));
    decides(&p, &with("Billing"), ExplicitDeny);
    decides(&p, &with("billing"), ImplicitDeny);
}

#[test]
fn string_equals_ignore_case_and_negation() {
    let p = deny_if(r#"{"StringEqualsIgnoreCase":{"aws:PrincipalType":"assumedrole"}}"#);
    decides(
        &p,
        &ctx("aws:PrincipalType", &["AssumedRole"]),
        ExplicitDeny,
    );
    let p = deny_if(r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalType":["USER","Account"]}}"#);
    decides(&p, &ctx("aws:PrincipalType", &["user"]), ImplicitDeny);
    decides(
        &p,
        &ctx("aws:PrincipalType", &["AssumedRole"]),
        ExplicitDeny,
    );
}

#[test]
fn string_like_and_not_like() {
    let p = deny_if(r#"{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/backup-?"}}"#);
    decides(
        &p,
        &ctx("aws:PrincipalArn", &["arn:aws:iam::1:role/backup-a"]),
        ExplicitDeny,
    );
    decides(
        &p,
        &ctx("aws:PrincipalArn", &["arn:aws:iam::1:role/backup-ab"]),
        ImplicitDeny,
    );
    let p = deny_if(r#"{"StringNotLike":{"aws:PrincipalArn":["*:role/ops-*","*:user/admin"]}}"#);
    decides(
        &p,
        &ctx("aws:PrincipalArn", &["arn:aws:iam::1:role/ops-x"]),
        ImplicitDeny,
    );
    decides(
        &p,
        &ctx("aws:PrincipalArn", &["arn:aws:iam::1:role/dev"]),
        ExplicitDeny,
    );
}

#[test]
fn numeric_operators_compare_numbers() {
    let p = deny_if(r#"{"NumericGreaterThan":{"aws:MultiFactorAuthAge":3600}}"#);
    decides(&p, &ctx("aws:MultiFactorAuthAge", &["7200"]), ExplicitDeny);
    decides(&p, &ctx("aws:MultiFactorAuthAge", &["600"]), ImplicitDeny);
    decides(
        &deny_if(r#"{"NumericEquals":{"k":"10"}}"#),
        &ctx("k", &["10.0"]),
        ExplicitDeny,
    );
    decides(
        &deny_if(r#"{"NumericNotEquals":{"k":"10"}}"#),
        &ctx("k", &["10"]),
        ImplicitDeny,
    );
    decides(
        &deny_if(r#"{"NumericLessThanEquals":{"k":"10"}}"#),
        &ctx("k", &["10"]),
        ExplicitDeny,
    );
    decides(
        &deny_if(r#"{"NumericLessThan":{"k":"10"}}"#),
        &ctx("k", &["abc"]),
        ImplicitDeny,
    );
}

#[test]
fn date_operators_accept_iso_and_epoch() {
    let p = deny_if(r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}"#);
    decides(
        &p,
        &ctx("aws:CurrentTime", &["2024-06-01T12:00:00Z"]),
        ExplicitDeny,
    );
    decides(
        &p,
        &ctx("aws:CurrentTime", &["2023-12-31T23:59:59Z"]),
        ImplicitDeny,
    );
    let p = deny_if(r#"{"DateLessThan":{"aws:EpochTime":"2024-01-01T00:00:00Z"}}"#);
    decides(&p, &ctx("aws:EpochTime", &["1700000000"]), ExplicitDeny);
    let p = deny_if(r#"{"DateNotEquals":{"aws:CurrentTime":"1704067200"}}"#);
    decides(
        &p,
        &ctx("aws:CurrentTime", &["2024-01-01T00:00:00Z"]),
        ImplicitDeny,
    );
}

#[test]
fn bool_is_case_insensitive_and_accepts_json_booleans() {
    let p = deny_if(r#"{"Bool":{"aws:SecureTransport":false}}"#);
    decides(&p, &ctx("aws:SecureTransport", &["FALSE"]), ExplicitDeny);
    decides(&p, &ctx("aws:SecureTransport", &["true"]), ImplicitDeny);
}

#[test]
fn binary_equals_compares_exactly() {
    let p = deny_if(r#"{"BinaryEquals":{"k":"QmluYXJ5"}}"#);
    decides(&p, &ctx("k", &["QmluYXJ5"]), ExplicitDeny);
    decides(&p, &ctx("k", &["qmluyxj5"]), ImplicitDeny);
}

#[test]
fn ip_address_v4_and_v6() {
    let p = deny_if(r#"{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}"#);
    decides(&p, &ctx("aws:SourceIp", &["203.0.113.50"]), ImplicitDeny);
    decides(&p, &ctx("aws:SourceIp", &["2001:db8::1"]), ImplicitDeny);
    decides(&p, &ctx("aws:SourceIp", &["198.51.100.1"]), ExplicitDeny);
    let p = deny_if(r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#);
    decides(
        &p,
        &ctx("aws:SourceIp", &["2001:db8:ffff::1"]),
        ExplicitDeny,
    );
}

#[test]
fn arn_operators_match_part_by_part() {
    let p = deny_if(r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#);
    decides(&p, &ctx("aws:PrincipalArn", &[BACKUP_ROLE]), ExplicitDeny);
    decides(&p, &ctx("aws:PrincipalArn", &[BOB]), ImplicitDeny);
    let p =
        deny_if(r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/admin"}}"#);
    decides(&p, &ctx("aws:PrincipalArn", &[ADMIN]), ImplicitDeny);
    decides(&p, &ctx("aws:PrincipalArn", &[BOB]), ExplicitDeny);
    let p = deny_if(r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::bucket"}}"#);
    decides(&p, &ctx("aws:SourceArn", &["bucket"]), ImplicitDeny);
}

#[test]
fn null_tests_presence() {
    let p = deny_if(r#"{"Null":{"aws:PrincipalArn":"true"}}"#);
    decides(&p, &none(), ExplicitDeny);
    decides(&p, &ctx("aws:PrincipalArn", &[BOB]), ImplicitDeny);
    let p = deny_if(r#"{"Null":{"aws:PrincipalArn":false}}"#);
    decides(&p, &ctx("aws:PrincipalArn", &[BOB]), ExplicitDeny);
    decides(&p, &none(), ImplicitDeny);
    let unknown = bob_with(Context::new().set_unknown("aws:PrincipalArn"));
    decides(&p, &unknown, Undetermined);
}

// Absent and unknown keys.

#[test]
fn negated_operator_on_absent_key_is_true() {
    decides(
        &deny_if(r#"{"StringNotEquals":{"aws:SourceVpce":"vpce-1"}}"#),
        &none(),
        ExplicitDeny,
    );
    decides(
        &deny_if(r#"{"ArnNotLike":{"aws:SourceArn":"arn:*"}}"#),
        &none(),
        ExplicitDeny,
    );
    decides(
        &deny_if(r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#),
        &none(),
        ExplicitDeny,
    );
}

#[test]
fn positive_operator_on_absent_key_is_false() {
    decides(
        &deny_if(r#"{"StringEquals":{"aws:SourceVpce":"vpce-1"}}"#),
        &none(),
        ImplicitDeny,
    );
    decides(
        &deny_if(r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#),
        &none(),
        ImplicitDeny,
    );
}

#[test]
fn if_exists_on_absent_key_is_true() {
    decides(
        &deny_if(r#"{"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1"}}"#),
        &none(),
        ExplicitDeny,
    );
    decides(
        &deny_if(r#"{"BoolIfExists":{"aws:ViaAWSService":"true"}}"#),
        &none(),
        ExplicitDeny,
    );
    let p = deny_if(r#"{"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1"}}"#);
    decides(&p, &ctx("aws:SourceVpce", &["vpce-2"]), ImplicitDeny);
}

#[test]
fn for_all_values_is_true_on_absent_or_empty() {
    let p = deny_if(r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["App"]}}"#);
    decides(&p, &none(), ExplicitDeny);
    decides(&p, &ctx("kms:EncryptionContextKeys", &[]), ExplicitDeny);
    decides(
        &p,
        &ctx("kms:EncryptionContextKeys", &["App"]),
        ExplicitDeny,
    );
    decides(
        &p,
        &ctx("kms:EncryptionContextKeys", &["App", "Other"]),
        ImplicitDeny,
    );
}

#[test]
fn for_any_value_is_false_on_absent() {
    let p = deny_if(r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"App"}}"#);
    decides(&p, &none(), ImplicitDeny);
    decides(
        &p,
        &ctx("kms:EncryptionContextKeys", &["Other", "App"]),
        ExplicitDeny,
    );
    let p = deny_if(r#"{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":"App"}}"#);
    decides(
        &p,
        &ctx("kms:EncryptionContextKeys", &["App"]),
        ImplicitDeny,
    );
    decides(
        &p,
        &ctx("kms:EncryptionContextKeys", &["App", "Other"]),
        ExplicitDeny,
    );
}

#[test]
fn multivalued_key_without_set_operator_is_undetermined_with_a_note() {
    let p = deny_if(r#"{"StringNotEquals":{"aws:CalledVia":"athena.amazonaws.com"}}"#);
    let both = ["athena.amazonaws.com", "dynamodb.amazonaws.com"];
    for req in [
        ctx("aws:CalledVia", &both),
        ctx("aws:CalledVia", &["dynamodb.amazonaws.com"]),
        none(),
    ] {
        let d = decides(&p, &req, Undetermined);
        let c = &d.statements[0].conditions[0];
        assert_eq!(c.result, Tri::Unknown);
        let note = c.note.as_deref().expect("a lint note");
        assert!(note.contains("multivalued"), "{note}");
        assert!(note.contains("aws:CalledVia"), "{note}");
        assert_eq!(d.notes(), vec![note]);
    }
    // The same key under a set operator, or tested with Null, is decided
    // and carries no note.
    let p = deny_if(r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"App"}}"#);
    let d = decides(
        &p,
        &ctx("kms:EncryptionContextKeys", &["App"]),
        ExplicitDeny,
    );
    assert!(d.notes().is_empty());
    let p = deny_if(r#"{"Null":{"aws:TagKeys":"false"}}"#);
    decides(&p, &ctx("aws:TagKeys", &["a"]), ExplicitDeny);
    // Keys compare case-insensitively here too; a single-valued key is not
    // affected.
    let p = deny_if(r#"{"StringEquals":{"KMS:encryptioncontextkeys":"App"}}"#);
    decides(
        &p,
        &ctx("kms:EncryptionContextKeys", &["App"]),
        Undetermined,
    );
    let p = deny_if(r#"{"StringEquals":{"aws:CalledViaFirst":"athena.amazonaws.com"}}"#);
    let d = decides(
        &p,
        &ctx("aws:CalledViaFirst", &["athena.amazonaws.com"]),
        ExplicitDeny,
    );
    assert!(d.notes().is_empty());
}

#[test]
fn unknown_key_makes_a_deny_undetermined() {
    let p = deny_if(r#"{"StringNotEquals":{"aws:PrincipalOrgID":"o-abc"}}"#);
    let d = decides(&p, &bob(), Undetermined);
    assert_eq!(d.deciding().len(), 1);
    assert_eq!(d.statements[0].conditions[0].seen, Seen::Unknown);
    assert_eq!(d.explicit_deny(), Tri::Unknown);
}

#[test]
fn unknown_and_false_is_false() {
    let p = deny_if(
        r#"{"StringEquals":{"aws:PrincipalTag/team":"red"},"Bool":{"aws:ViaAWSService":"true"}}"#,
    );
    decides(&p, &bob(), ImplicitDeny);
}

#[test]
fn unknown_allow_is_undetermined_but_a_true_allow_wins() {
    let p = allow_if(r#"{"StringEquals":{"aws:PrincipalTag/team":"red"}}"#);
    let d = decides(&p, &bob(), Undetermined);
    assert_eq!(d.deciding().len(), 1);
    let everyone = r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#;
    let both = p.replace("}]}", &format!("}},{everyone}]}}"));
    decides(&both, &bob(), Allowed);
}

#[test]
fn unknown_variable_or_matching_value_is_true() {
    let p = deny_if(r#"{"StringEquals":{"aws:SourceVpce":["${aws:PrincipalTag/vpce}","vpce-1"]}}"#);
    let req = bob_with(
        Context::new()
            .set_unknown_prefix("aws:PrincipalTag/")
            .set("aws:SourceVpce", ["vpce-1"]),
    );
    decides(&p, &req, ExplicitDeny);
    let req = bob_with(
        Context::new()
            .set_unknown_prefix("aws:PrincipalTag/")
            .set("aws:SourceVpce", ["vpce-2"]),
    );
    decides(&p, &req, Undetermined);
}

// Policy variables.

#[test]
fn variables_expand_in_condition_values() {
    let p = allow_if(r#"{"StringEquals":{"kms:EncryptionContext:user":"${aws:username}"}}"#);
    let req = |user: &str| {
        bob_with(
            Context::new()
                .set("aws:username", ["bob"])
                .set_encryption_context([("user", user)]),
        )
    };
    decides(&p, &req("bob"), Allowed);
    decides(&p, &req("alice"), ImplicitDeny);
}

#[test]
fn missing_variable_makes_the_condition_false_even_negated() {
    let p = deny_if(r#"{"StringNotEquals":{"kms:EncryptionContext:user":"${aws:username}"}}"#);
    decides(&p, &none(), ImplicitDeny);
    let p = deny_if(
        r#"{"StringNotEquals":{"kms:EncryptionContext:user":"${aws:username, 'nobody'}"}}"#,
    );
    decides(&p, &none(), ExplicitDeny);
    let p =
        deny_if(r#"{"StringNotEqualsIfExists":{"kms:EncryptionContext:user":"${aws:username}"}}"#);
    decides(&p, &none(), ExplicitDeny);
    decides(
        &p,
        &ctx("kms:EncryptionContext:user", &["bob"]),
        ImplicitDeny,
    );
}

#[test]
fn variables_are_literal_in_version_2008() {
    let p = r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":"${aws:username}"}}}}"#;
    decides(p, &ctx("k", &["${aws:username}"]), ExplicitDeny);
    let v2012 = deny_if(r#"{"StringEquals":{"k":"${aws:username}"}}"#);
    decides(&v2012, &ctx("k", &["${aws:username}"]), ImplicitDeny);
}

#[test]
fn escaped_wildcards_are_literal_in_string_like() {
    let p = deny_if(r#"{"StringLike":{"k":"a${*}b"}}"#);
    decides(&p, &ctx("k", &["a*b"]), ExplicitDeny);
    decides(&p, &ctx("k", &["axb"]), ImplicitDeny);
}

// Actions and resources.

fn statement(fields: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*",{fields}}}]}}"#
    )
}

#[test]
fn actions_match_case_insensitively_with_wildcards() {
    decides(
        &statement(r#""Action":"KMS:decrypt","Resource":"*""#),
        &bob(),
        ExplicitDeny,
    );
    decides(
        &statement(r#""Action":"kms:Generate*","Resource":"*""#),
        &bob(),
        ImplicitDeny,
    );
    decides(
        &statement(r#""Action":"*","Resource":"*""#),
        &bob(),
        ExplicitDeny,
    );
    decides(
        &statement(r#""NotAction":"kms:Decrypt","Resource":"*""#),
        &bob(),
        ImplicitDeny,
    );
    decides(
        &statement(r#""NotAction":["kms:Encrypt"],"Resource":"*""#),
        &bob(),
        ExplicitDeny,
    );
}

#[test]
fn resources_match_the_key_arn() {
    decides(
        &statement(r#""Action":"*","Resource":"arn:aws:kms:*:111122223333:key/*""#),
        &bob(),
        ExplicitDeny,
    );
    decides(
        &statement(r#""Action":"*","Resource":"arn:aws:kms:*:444455556666:key/*""#),
        &bob(),
        ImplicitDeny,
    );
    decides(
        &statement(r#""Action":"*","NotResource":"arn:aws:kms:*:*:key/other""#),
        &bob(),
        ExplicitDeny,
    );
}

// Principals and caller classes.

fn deny_principal(principal: &str) -> String {
    statement(&format!(
        r#""Principal":{principal},"Action":"*","Resource":"*""#
    ))
    .replace(r#""Principal":"*","#, "")
}

#[test]
fn service_principal_element_matches_the_service() {
    let p = deny_principal(r#"{"Service":"backup-storage.amazonaws.com"}"#);
    decides(&p, &backup_storage(), ExplicitDeny);
    decides(&p, &bob(), ImplicitDeny);
    let p = deny_principal(r#"{"Service":["ec2.amazonaws.com"]}"#);
    decides(&p, &backup_storage(), ImplicitDeny);
}

#[test]
fn any_aws_principal_is_unknown_for_service_principals() {
    let p = deny_principal(r#"{"AWS":"*"}"#);
    decides(&p, &bob(), ExplicitDeny);
    decides(&p, &backup_storage(), Undetermined);
}

#[test]
fn exact_principal_arn_and_unknown_arn() {
    let p = deny_principal(&format!(r#"{{"AWS":["{BOB}"]}}"#));
    decides(&p, &bob(), ExplicitDeny);
    decides(&p, &admin(), ImplicitDeny);
    let unknown_arn = Principal::Aws {
        arn: None,
        account: Some(ACCOUNT.into()),
    };
    decides(
        &p,
        &Request::new(unknown_arn, "kms:Decrypt", KEY, Context::new()),
        Undetermined,
    );
    let other_account = Principal::Aws {
        arn: None,
        account: Some("444455556666".into()),
    };
    decides(
        &p,
        &Request::new(other_account, "kms:Decrypt", KEY, Context::new()),
        ImplicitDeny,
    );
}

#[test]
fn account_principal_covers_the_account_only() {
    let p = deny_principal(r#"{"AWS":"111122223333"}"#);
    let d = decides(&p, &bob(), ExplicitDeny);
    assert!(d.statements[0].via_account_delegation);
    let stranger = Request::iam_principal(
        "arn:aws:iam::444455556666:user/eve",
        "444455556666",
        "kms:Decrypt",
        KEY,
    );
    decides(&p, &stranger, ImplicitDeny);
    decides(&p, &backup_storage(), ImplicitDeny);
    let anonymous = Request::new(Principal::Anonymous, "kms:Decrypt", KEY, Context::new());
    decides(&p, &anonymous, ImplicitDeny);
}

#[test]
fn assumed_role_session_principal_is_unknown_for_its_role() {
    let p = deny_principal(
        r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/AWSBackupDefaultServiceRole/s1"}"#,
    );
    decides(&p, &backup_fas(), Undetermined);
    decides(&p, &bob(), ImplicitDeny);
}

#[test]
fn session_arn_matches_its_role_principal_by_account_and_name() {
    let session = "arn:aws:sts::111122223333:assumed-role/app/s1";
    let req = Request::new(
        Principal::Aws {
            arn: Some(session.into()),
            account: Some(ACCOUNT.into()),
        },
        "kms:Decrypt",
        KEY,
        Context::iam_principal(session, ACCOUNT),
    );
    // The role, with or without a path (the session ARN shows none; role
    // names are unique in an account).
    let p = deny_principal(r#"{"AWS":"arn:aws:iam::111122223333:role/app"}"#);
    decides(&p, &req, ExplicitDeny);
    let p = deny_principal(r#"{"AWS":"arn:aws:iam::111122223333:role/team/app"}"#);
    decides(&p, &req, ExplicitDeny);
    // Another role, the same role name in another account, another session.
    for other in [
        "arn:aws:iam::111122223333:role/application",
        "arn:aws:iam::444455556666:role/app",
        "arn:aws:sts::111122223333:assumed-role/app/s2",
        "arn:aws:iam::111122223333:user/app",
    ] {
        let p = deny_principal(&format!(r#"{{"AWS":"{other}"}}"#));
        decides(&p, &req, ImplicitDeny);
    }
    // The exact session.
    let p = deny_principal(&format!(r#"{{"AWS":"{session}"}}"#));
    decides(&p, &req, ExplicitDeny);
    // NotPrincipal with the role exempts its sessions.
    let p = statement(
        r#""NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"*","Resource":"*""#,
    )
    .replace(r#""Principal":"*","#, "");
    decides(&p, &req, ImplicitDeny);
    // aws:PrincipalArn is the role ARN, not the session ARN.
    assert_eq!(
        req.context.get("aws:PrincipalArn"),
        Seen::Present(vec!["arn:aws:iam::111122223333:role/app".into()])
    );
    let p = deny_if(r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app"}}"#);
    decides(&p, &req, ExplicitDeny);
}

#[test]
fn not_principal_inverts() {
    let p = statement(&format!(
        r#""NotPrincipal":{{"AWS":"{ADMIN}"}},"Action":"*","Resource":"*""#
    ))
    .replace(r#""Principal":"*","#, "");
    decides(&p, &bob(), ExplicitDeny);
    decides(&p, &admin(), ImplicitDeny);
    decides(&p, &backup_storage(), ExplicitDeny);
}

#[test]
fn service_principal_context_keys() {
    let p =
        deny_if(r#"{"StringEquals":{"aws:PrincipalServiceName":"backup-storage.amazonaws.com"}}"#);
    decides(&p, &backup_storage(), ExplicitDeny);
    decides(&p, &backup_fas(), ImplicitDeny);
    let p = deny_if(r#"{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}"#);
    decides(&p, &backup_storage(), Undetermined);
    decides(&p, &bob(), ImplicitDeny);
}

#[test]
fn forward_access_context_keys() {
    let p = allow_if(r#"{"StringEquals":{"kms:ViaService":"backup.eu-west-1.amazonaws.com"}}"#);
    decides(&p, &backup_fas(), Allowed);
    decides(&p, &bob(), ImplicitDeny);
    let p = deny_if(r#"{"BoolIfExists":{"aws:ViaAWSService":"false"}}"#);
    decides(&p, &backup_fas(), ImplicitDeny);
    decides(&p, &bob(), ExplicitDeny);
    let p = deny_if(r#"{"ForAnyValue:StringEquals":{"aws:CalledVia":"backup.amazonaws.com"}}"#);
    decides(&p, &backup_fas(), Undetermined);
    let mut known = backup_fas();
    known.context = known.context.set("aws:CalledVia", ["backup.amazonaws.com"]);
    decides(&p, &known, ExplicitDeny);
}

#[test]
fn direct_principal_context_keys() {
    let p = deny_if(
        r#"{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob","aws:PrincipalIsAWSService":"false"}}"#,
    );
    decides(&p, &bob(), ExplicitDeny);
    decides(&p, &admin(), ImplicitDeny);
}

#[test]
fn deciding_prefers_denies_and_reports_all_matching() {
    let p = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"A","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
        {"Sid":"D1","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"},
        {"Sid":"D2","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}"#;
    let d = decides(p, &bob(), ExplicitDeny);
    let sids: Vec<_> = d
        .deciding()
        .iter()
        .map(|s| s.sid.clone().unwrap())
        .collect();
    assert_eq!(sids, ["D1", "D2"]);
    assert!(!d.only_via_account_delegation());
}

#[test]
fn seed_policy_parses_with_statement_indexes() {
    let policy = seed();
    assert_eq!(policy.statements[1].index, 1);
    assert_eq!(policy.statements[1].effect, crate::policy::Effect::Deny);
}
