use super::*;
use crate::policy::testdata::SEED;

/// Parse a document whose single statement has these fields.
fn statement(fields: &str) -> Result<Policy> {
    parse_policy(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{{fields}}}]}}"#
    ))
}

const BASE: &str = r#""Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*""#;

fn error(fields: &str) -> String {
    statement(fields)
        .expect_err("should be rejected")
        .to_string()
}

fn with_condition(condition: &str) -> Result<Policy> {
    statement(&format!(r#"{BASE},"Condition":{condition}"#))
}

#[test]
fn seed_parses_and_keeps_the_document() {
    let policy = parse_policy(SEED).unwrap();
    assert_eq!(policy.version, Version::V2012);
    assert_eq!(policy.statements.len(), 2);
    let deny = &policy.statements[1];
    assert_eq!((deny.index, deny.effect), (1, Effect::Deny));
    assert_eq!(
        deny.sid.as_deref(),
        Some("Deny actions except Administrator")
    );
    assert_eq!(
        deny.principal,
        Targets::Listed(vec![PrincipalPattern::Everyone])
    );
    assert_eq!(deny.conditions[0].operator, "StringNotEquals");
    assert!(deny.conditions[0].op.negated);
    let allow = &policy.statements[0];
    assert_eq!(
        allow.principal,
        Targets::Listed(vec![PrincipalPattern::Account("111122223333".into())])
    );
    assert_eq!(
        policy.document,
        serde_json::from_str::<Value>(SEED).unwrap()
    );
}

#[test]
fn statement_may_be_a_single_object_and_version_may_be_absent() {
    let policy = parse_policy(r#"{"Id":"k","Statement":{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":["kms:Encrypt*"],"Resource":"*"}}"#).unwrap();
    assert_eq!(policy.version, Version::V2008);
    assert_eq!(policy.id.as_deref(), Some("k"));
    assert_eq!(
        policy.statements[0].principal,
        Targets::Listed(vec![PrincipalPattern::Service("logs.amazonaws.com".into())])
    );
}

#[test]
fn principal_forms() {
    let p = statement(r#""Effect":"Allow","Principal":{"AWS":["*","111122223333","arn:aws:iam::111122223333:role/r","arn:aws:sts::111122223333:assumed-role/r/s","AIDAJQABLZS4A3QDU576Q"],"Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e5"},"Action":"*","Resource":"*""#).unwrap();
    let Targets::Listed(items) = &p.statements[0].principal else {
        panic!()
    };
    assert_eq!(
        items,
        &vec![
            PrincipalPattern::AnyAws,
            PrincipalPattern::Account("111122223333".into()),
            PrincipalPattern::Arn("arn:aws:iam::111122223333:role/r".into()),
            PrincipalPattern::Arn("arn:aws:sts::111122223333:assumed-role/r/s".into()),
            PrincipalPattern::UniqueId("AIDAJQABLZS4A3QDU576Q".into()),
            PrincipalPattern::Federated("cognito-identity.amazonaws.com".into()),
            PrincipalPattern::CanonicalUser("79a59df900b949e5".into()),
        ]
    );
    let not = statement(r#""Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"NotAction":"kms:Decrypt","NotResource":"arn:aws:kms:*:*:key/x""#).unwrap();
    assert!(matches!(not.statements[0].principal, Targets::Except(_)));
    assert!(matches!(not.statements[0].action, Targets::Except(_)));
    assert!(matches!(not.statements[0].resource, Targets::Except(_)));
}

#[test]
fn every_operator_family_with_qualifiers() {
    let p = with_condition(
        r#"{
        "StringEqualsIgnoreCase":{"a":"x"},"StringNotLikeIfExists":{"b":["x*","y"]},
        "NumericGreaterThanEquals":{"c":5},"DateLessThan":{"d":"2024-01-01T00:00:00Z"},
        "Bool":{"e":true},"BinaryEquals":{"f":"QQ=="},"NotIpAddress":{"g":"2001:db8::/32"},
        "ArnNotLike":{"h":"arn:aws:iam::*:role/*"},"Null":{"i":"true"},
        "ForAllValues:StringEquals":{"j":["A","B"]},"ForAnyValue:ArnLikeIfExists":{"k":"arn:*"}}"#,
    )
    .unwrap();
    let ops: Vec<_> = p.statements[0].conditions.iter().map(|c| c.op).collect();
    assert_eq!(ops.len(), 11);
    assert_eq!(
        ops[1],
        Operator {
            kind: OperatorKind::StringLike,
            negated: true,
            if_exists: true,
            set: None
        }
    );
    assert_eq!(ops[6].kind, OperatorKind::IpAddress);
    assert!(ops[6].negated);
    assert_eq!(
        ops[10],
        Operator {
            kind: OperatorKind::ArnLike,
            negated: false,
            if_exists: true,
            set: Some(SetQualifier::ForAnyValue)
        }
    );
    let c = &p.statements[0].conditions;
    assert_eq!(
        (c[2].values.to_vec(), c[4].values.to_vec()),
        (vec!["5".to_owned()], vec!["true".to_owned()])
    );
    assert_eq!(c[9].operator, "ForAllValues:StringEquals");
}

// One test per error variant, with its message.

#[test]
fn error_json() {
    let e = parse_policy(r#"{"Version": }"#).unwrap_err();
    assert!(matches!(e, ParseError::Json { .. }));
    assert!(e.to_string().starts_with("policy is not valid JSON: "));
}

#[test]
fn error_not_an_object() {
    assert_eq!(
        parse_policy("[]").unwrap_err().to_string(),
        "policy must be a JSON object, found a list"
    );
}

#[test]
fn error_wrong_type() {
    let e = parse_policy(r#"{"Statement": 5}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "policy: `Statement` must be an object or a list, found a number"
    );
    assert_eq!(
        error(r#""Sid":1,"Effect":"Deny""#),
        "statement 0: `Sid` must be a string, found a number"
    );
    assert_eq!(
        error(&format!(r#"{BASE},"Condition":{{"Bool":{{"k":null}}}}"#)),
        "statement 0: `Condition.Bool.k` must be a string, number or boolean, found null"
    );
}

#[test]
fn error_unknown_field() {
    assert_eq!(
        parse_policy(r#"{"Statment":[]}"#).unwrap_err().to_string(),
        "policy: unknown field `Statment`"
    );
    assert_eq!(
        error(&format!(r#""Sid":"S",{BASE},"Efect":"Deny""#)),
        "statement 0 (`S`): unknown field `Efect`"
    );
    assert_eq!(
        error(r#""Effect":"Deny","Principal":{"Aws":"*"},"Action":"*","Resource":"*""#),
        "statement 0: unknown field `Principal.Aws`"
    );
}

#[test]
fn error_missing_field() {
    assert_eq!(
        error(r#""Principal":"*","Action":"*","Resource":"*""#),
        "statement 0: missing `Effect`"
    );
    assert_eq!(
        error(r#""Effect":"Deny","Principal":"*","Resource":"*""#),
        "statement 0: missing `Action` or `NotAction`"
    );
    assert_eq!(
        error(r#""Effect":"Deny","Action":"*","Resource":"*""#),
        "statement 0: missing `Principal` or `NotPrincipal`"
    );
    assert_eq!(
        parse_policy("{}").unwrap_err().to_string(),
        "policy: missing `Statement`"
    );
}

#[test]
fn error_conflict() {
    let e = error(&format!(
        r#"{BASE},"NotPrincipal":{{"AWS":"111122223333"}}"#
    ));
    assert_eq!(
        e,
        "statement 0: `Principal` and `NotPrincipal` cannot both be present"
    );
    let e = error(&format!(r#"{BASE},"NotAction":"kms:Decrypt""#));
    assert_eq!(
        e,
        "statement 0: `Action` and `NotAction` cannot both be present"
    );
}

#[test]
fn error_invalid_value() {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{{BASE}}},{{{BASE}}},{{"Sid":"DenyAll",{}}}]}}"#,
        BASE.replace("\"Deny\"", "\"Permit\"")
    );
    assert_eq!(
        parse_policy(&doc).unwrap_err().to_string(),
        "statement 2 (`DenyAll`): `Effect` must be `Allow` or `Deny`, found `Permit`"
    );
    let e = parse_policy(r#"{"Version":"2020-01-01","Statement":[]}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "policy: `Version` must be `2012-10-17` or `2008-10-17`, found `2020-01-01`"
    );
    assert_eq!(
        error(r#""Effect":"Deny","Principal":"*","Action":"Decrypt","Resource":"*""#),
        "statement 0: `Action` must be `*` or `service:action`, found `Decrypt`"
    );
    assert_eq!(
        error(r#""Effect":"Deny","Principal":"*","Action":[],"Resource":"*""#),
        "statement 0: `Action` must be at least one value, found `[]`"
    );
    assert_eq!(
        error(r#""Effect":"Deny","Principal":"*","Action":"*","Resource":"key/1""#),
        "statement 0: `Resource` must be `*` or an ARN, found `key/1`"
    );
    let e = error(
        r#""Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"*","Resource":"*""#,
    );
    assert_eq!(
        e,
        "statement 0: `Principal.AWS` must be `*`, an account id, or an IAM or STS ARN without wildcards, found `arn:aws:iam::111122223333:user/*`"
    );
    let e = error(r#""Effect":"Deny","Principal":"everyone","Action":"*","Resource":"*""#);
    assert!(e.contains("found `everyone`"), "{e}");
    let e = error(
        r#""Effect":"Deny","Principal":{"Service":"*.amazonaws.com"},"Action":"*","Resource":"*""#,
    );
    assert_eq!(
        e,
        "statement 0: `Principal.Service` must be a name without wildcards, found `*.amazonaws.com`"
    );
    let e = parse_policy(r#"{"Statement":[]}"#).unwrap_err().to_string();
    assert_eq!(
        e,
        "policy: `Statement` must be at least one statement, found `[]`"
    );
}

#[test]
fn error_unknown_operator() {
    let e = with_condition(r#"{"StringEqualz":{"k":"v"}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statement 0: unknown condition operator `StringEqualz`"
    );
    assert!(with_condition(r#"{"ForSomeValues:StringEquals":{"k":"v"}}"#).is_err());
    assert!(with_condition(r#"{"stringequals":{"k":"v"}}"#).is_err());
}

#[test]
fn error_unsupported_operator() {
    let e = with_condition(r#"{"NullIfExists":{"k":"true"}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statement 0: condition operator `NullIfExists` is not allowed: `Null` has no `IfExists` form"
    );
    let e = with_condition(r#"{"ForAnyValue:Null":{"k":"true"}}"#).unwrap_err();
    assert!(matches!(e, ParseError::UnsupportedOperator { .. }));
}

#[test]
fn error_invalid_condition_value() {
    let e = with_condition(r#"{"NumericLessThan":{"k":"ten"}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statement 0: `NumericLessThan` value for `k` must be a number, found `ten`"
    );
    let cases = [
        r#"{"Bool":{"k":"yes"}}"#,
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#,
        r#"{"DateGreaterThan":{"aws:CurrentTime":"tomorrow"}}"#,
        r#"{"Null":{"k":"maybe"}}"#,
        r#"{"NumericEquals":{"k":"${aws:MultiFactorAuthAge}"}}"#,
    ];
    for case in cases {
        let e = with_condition(case).unwrap_err();
        assert!(
            matches!(e, ParseError::InvalidConditionValue { .. }),
            "{case}: {e}"
        );
    }
}

#[test]
fn condition_values_need_at_least_one() {
    let e = with_condition(r#"{"StringEquals":{"k":[]}}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statement 0: `Condition.StringEquals.k` must be at least one value, found `[]`"
    );
    let e = with_condition(r#"{"StringEquals":"k"}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "statement 0: `Condition.StringEquals` must be an object, found a string"
    );
}
