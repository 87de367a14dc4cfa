//! Parse an IAM/KMS key policy document into a typed [`Policy`].
//!
//! The whole policy grammar is accepted (`Version`, `Id`, `Statement` as an
//! object or a list, `Sid`, `Effect`, `Principal`/`NotPrincipal`,
//! `Action`/`NotAction`, `Resource`/`NotResource`, `Condition` with every
//! operator family, `IfExists` and `ForAnyValue:`/`ForAllValues:`), and
//! anything outside it is a [`ParseError`] naming the statement, the field,
//! what was expected and what was found: an unsupported construct is never
//! silently ignored. The original `serde_json::Value` is kept on the
//! [`Policy`] so `fix` can patch it and leave everything else untouched. This
//! module does not evaluate anything; policy variables are kept as written and
//! expanded at evaluation time.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::cond::{parse_cidr, parse_date};

/// A parsed policy; `document` is the exact JSON it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
    pub document: Value,
}

/// The policy language version; variables are expanded only in `V2012`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `2008-10-17`, also the default when `Version` is absent.
    V2008,
    /// `2012-10-17`.
    V2012,
}

/// One statement; `index` is its 0-based position in `Statement`.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Targets<PrincipalPattern>,
    pub action: Targets<String>,
    pub resource: Targets<String>,
    pub conditions: Vec<Condition>,
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// A positive element (`Principal`, `Action`, `Resource`) or its `Not` form.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets<T> {
    Listed(Vec<T>),
    Except(Vec<T>),
}

/// One entry of a `Principal` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalPattern {
    /// `"Principal": "*"`: everyone, service principals included.
    Everyone,
    /// `{"AWS": "*"}`: every AWS identity (see `eval` for service principals).
    AnyAws,
    /// `{"AWS": "111122223333"}` or `arn:aws:iam::111122223333:root`.
    Account(String),
    /// An exact IAM user, role or assumed-role session ARN.
    Arn(String),
    /// The unique id IAM writes in place of a deleted principal (`AIDA...`).
    UniqueId(String),
    Service(String),
    Federated(String),
    CanonicalUser(String),
}

/// One condition: an operator applied to one key with its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The operator as written, e.g. `ForAnyValue:StringNotLikeIfExists`.
    pub operator: String,
    pub op: Operator,
    pub key: String,
    /// Values in their string form (`10`, `true`), as AWS compares them.
    /// Shared: every evaluation's evidence holds them, and an exception
    /// list can name thousands of principals.
    pub values: Arc<Vec<String>>,
    /// The values as a set, when a plain string comparison decides the
    /// condition (see `Condition::new`).
    pub exact: Option<Arc<HashSet<String>>>,
}

impl Condition {
    /// A condition; `exact` is filled when the operator compares whole
    /// strings case-sensitively (`StringEquals`, `ArnEquals`/`ArnLike`
    /// without wildcards) and no value holds a `${...}` variable, so that
    /// an exception list of thousands of ARNs is one lookup, not a scan.
    pub fn new(operator: String, op: Operator, key: String, values: Vec<String>) -> Self {
        let exact = Self::exact_set(op.kind, &values).map(Arc::new);
        Condition {
            operator,
            op,
            key,
            values: Arc::new(values),
            exact,
        }
    }

    fn exact_set(kind: OperatorKind, values: &[String]) -> Option<HashSet<String>> {
        let plain = |v: &String| !v.contains("${");
        let wildcard = |v: &String| v.contains('*') || v.contains('?');
        let exact = match kind {
            OperatorKind::StringEquals => values.iter().all(plain),
            OperatorKind::ArnEquals | OperatorKind::ArnLike => {
                values.iter().all(|v| plain(v) && !wildcard(v))
            }
            _ => false,
        };
        (exact && values.len() > 8).then(|| values.iter().cloned().collect())
    }
}

/// A decoded condition operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operator {
    pub kind: OperatorKind,
    /// `StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...
    pub negated: bool,
    pub if_exists: bool,
    pub set: Option<SetQualifier>,
}

/// `ForAnyValue:` or `ForAllValues:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

/// The positive comparison behind an operator; negation is a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatorKind {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    ArnEquals,
    ArnLike,
    Null,
}

/// Where in the document an error was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Document,
    Statement { index: usize, sid: Option<String> },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Document => f.write_str("policy"),
            Location::Statement { index, sid: None } => write!(f, "statement {index}"),
            Location::Statement {
                index,
                sid: Some(sid),
            } => write!(f, "statement {index} (`{sid}`)"),
        }
    }
}

/// Why a policy document was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The text is not JSON: `{"Version": }`.
    #[error("policy is not valid JSON: {message}")]
    Json { message: String },
    /// The document is not an object: `[]`.
    #[error("policy must be a JSON object, found {found}")]
    NotAnObject { found: &'static str },
    /// A field has the wrong JSON type: `"Statement": 5`, `"Sid": 1`.
    #[error("{at}: `{field}` must be {expected}, found {found}")]
    WrongType {
        at: Location,
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A field the grammar does not have: `"Statment": []`, `"Efect": "Deny"`,
    /// `"Principal": {"Aws": "*"}`.
    #[error("{at}: unknown field `{field}`")]
    UnknownField { at: Location, field: String },
    /// A required field is absent: a statement without `Effect`, without
    /// `Action`/`NotAction`, `Resource`/`NotResource` or
    /// `Principal`/`NotPrincipal` (every key policy statement needs one).
    #[error("{at}: missing {expected}")]
    MissingField {
        at: Location,
        expected: &'static str,
    },
    /// Both forms of an element: `Principal` with `NotPrincipal`, `Action`
    /// with `NotAction`, `Resource` with `NotResource`.
    #[error("{at}: `{first}` and `{second}` cannot both be present")]
    Conflict {
        at: Location,
        first: &'static str,
        second: &'static str,
    },
    /// A value outside what the field allows: `"Effect": "Permit"`,
    /// `"Version": "2020-01-01"`, `"Action": "Decrypt"`, `"Resource": "key/1"`,
    /// `{"AWS": "arn:aws:iam::111122223333:user/*"}`, `"Action": []`.
    #[error("{at}: `{field}` must be {expected}, found `{found}`")]
    InvalidValue {
        at: Location,
        field: String,
        expected: String,
        found: String,
    },
    /// An operator IAM does not define: `"StringEqualz": {...}`.
    #[error("{at}: unknown condition operator `{operator}`")]
    UnknownOperator { at: Location, operator: String },
    /// A combination IAM does not allow: `NullIfExists`, `ForAnyValue:Null`.
    #[error("{at}: condition operator `{operator}` is not allowed: {reason}")]
    UnsupportedOperator {
        at: Location,
        operator: String,
        reason: &'static str,
    },
    /// A value the operator cannot compare: `"NumericLessThan": {"k": "ten"}`,
    /// `"Bool": {"k": "yes"}`, `"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}`.
    #[error("{at}: `{operator}` value for `{key}` must be {expected}, found `{found}`")]
    InvalidConditionValue {
        at: Location,
        operator: String,
        key: String,
        expected: &'static str,
        found: String,
    },
}

type Result<T> = std::result::Result<T, ParseError>;

/// Parse policy text; see [`parse_policy_value`].
pub fn parse_policy(text: &str) -> Result<Policy> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError::Json {
        message: e.to_string(),
    })?;
    parse_policy_value(&value)
}

/// Parse a policy document already decoded as JSON.
pub fn parse_policy_value(value: &Value) -> Result<Policy> {
    let Value::Object(doc) = value else {
        return Err(ParseError::NotAnObject { found: kind(value) });
    };
    let at = Location::Document;
    check_fields(doc, &["Version", "Id", "Statement"], &at)?;
    let version = version(doc.get("Version"))?;
    let id = optional_string(doc, "Id", &at)?;
    let statements = statement_values(doc.get("Statement"))?
        .into_iter()
        .enumerate()
        .map(|(index, v)| statement(index, v))
        .collect::<Result<Vec<_>>>()?;
    Ok(Policy {
        version,
        id,
        statements,
        document: value.clone(),
    })
}

fn version(value: Option<&Value>) -> Result<Version> {
    match value {
        None => Ok(Version::V2008),
        Some(Value::String(s)) if s == "2012-10-17" => Ok(Version::V2012),
        Some(Value::String(s)) if s == "2008-10-17" => Ok(Version::V2008),
        Some(Value::String(s)) => Err(invalid(
            &Location::Document,
            "Version",
            "`2012-10-17` or `2008-10-17`",
            s,
        )),
        Some(other) => Err(wrong_type(
            &Location::Document,
            "Version",
            "a string",
            other,
        )),
    }
}

fn statement_values(value: Option<&Value>) -> Result<Vec<&Value>> {
    let at = Location::Document;
    match value {
        None => Err(ParseError::MissingField {
            at,
            expected: "`Statement`",
        }),
        Some(Value::Array(items)) if items.is_empty() => {
            Err(invalid(&at, "Statement", "at least one statement", "[]"))
        }
        Some(Value::Array(items)) => Ok(items.iter().collect()),
        Some(one @ Value::Object(_)) => Ok(vec![one]),
        Some(other) => Err(wrong_type(&at, "Statement", "an object or a list", other)),
    }
}

const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn statement(index: usize, value: &Value) -> Result<Statement> {
    let plain = Location::Statement { index, sid: None };
    let Value::Object(map) = value else {
        return Err(wrong_type(&plain, "Statement", "an object", value));
    };
    let sid = optional_string(map, "Sid", &plain)?;
    let at = Location::Statement {
        index,
        sid: sid.clone(),
    };
    check_fields(map, STATEMENT_FIELDS, &at)?;
    Ok(Statement {
        index,
        effect: effect(map, &at)?,
        principal: targets(map, ("Principal", "NotPrincipal"), &at, principals)?,
        action: targets(map, ("Action", "NotAction"), &at, actions)?,
        resource: targets(map, ("Resource", "NotResource"), &at, resources)?,
        conditions: conditions(map.get("Condition"), &at)?,
        sid,
    })
}

fn effect(map: &Map<String, Value>, at: &Location) -> Result<Effect> {
    match map.get("Effect") {
        None => Err(ParseError::MissingField {
            at: at.clone(),
            expected: "`Effect`",
        }),
        Some(Value::String(s)) if s == "Allow" => Ok(Effect::Allow),
        Some(Value::String(s)) if s == "Deny" => Ok(Effect::Deny),
        Some(Value::String(s)) => Err(invalid(at, "Effect", "`Allow` or `Deny`", s)),
        Some(other) => Err(wrong_type(at, "Effect", "a string", other)),
    }
}

type ElementParser<T> = fn(&Value, &Location, &'static str) -> Result<Vec<T>>;

fn targets<T>(
    map: &Map<String, Value>,
    (name, not_name): (&'static str, &'static str),
    at: &Location,
    parse: ElementParser<T>,
) -> Result<Targets<T>> {
    match (map.get(name), map.get(not_name)) {
        (Some(_), Some(_)) => Err(ParseError::Conflict {
            at: at.clone(),
            first: name,
            second: not_name,
        }),
        (Some(v), None) => Ok(Targets::Listed(parse(v, at, name)?)),
        (None, Some(v)) => Ok(Targets::Except(parse(v, at, not_name)?)),
        (None, None) => Err(ParseError::MissingField {
            at: at.clone(),
            expected: match name {
                "Principal" => "`Principal` or `NotPrincipal`",
                "Action" => "`Action` or `NotAction`",
                _ => "`Resource` or `NotResource`",
            },
        }),
    }
}

fn actions(value: &Value, at: &Location, field: &'static str) -> Result<Vec<String>> {
    let items = non_empty_strings(value, at, field)?;
    for item in &items {
        if item != "*" && !item.contains(':') {
            return Err(invalid(at, field, "`*` or `service:action`", item));
        }
    }
    Ok(items)
}

fn resources(value: &Value, at: &Location, field: &'static str) -> Result<Vec<String>> {
    let items = non_empty_strings(value, at, field)?;
    for item in &items {
        if item != "*" && !item.starts_with("arn:") {
            return Err(invalid(at, field, "`*` or an ARN", item));
        }
    }
    Ok(items)
}

fn principals(value: &Value, at: &Location, field: &'static str) -> Result<Vec<PrincipalPattern>> {
    match value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalPattern::Everyone]),
        Value::String(s) => Err(invalid(
            at,
            field,
            "`*` or an object such as `{\"AWS\": ...}`",
            s,
        )),
        Value::Object(map) if map.is_empty() => Err(invalid(at, field, "a non-empty object", "{}")),
        Value::Object(map) => {
            let mut out = Vec::new();
            for (kind, values) in map {
                let name = format!("{field}.{kind}");
                for item in non_empty_strings(values, at, field)? {
                    out.push(principal(kind, item, at, &name)?);
                }
            }
            Ok(out)
        }
        other => Err(wrong_type(at, field, "`*` or an object", other)),
    }
}

fn principal(kind: &str, item: String, at: &Location, field: &str) -> Result<PrincipalPattern> {
    let no_wildcards = |item: String| {
        if item.is_empty() || item.contains(['*', '?']) {
            Err(invalid(at, field, "a name without wildcards", &item))
        } else {
            Ok(item)
        }
    };
    match kind {
        "AWS" => aws_principal(item, at, field),
        "Service" => no_wildcards(item).map(PrincipalPattern::Service),
        "Federated" => no_wildcards(item).map(PrincipalPattern::Federated),
        "CanonicalUser" => no_wildcards(item).map(PrincipalPattern::CanonicalUser),
        _ => Err(ParseError::UnknownField {
            at: at.clone(),
            field: field.to_owned(),
        }),
    }
}

/// "AWS JSON policy elements: Principal": an account id, an account root,
/// user, role or assumed-role ARN, or `*`; "You cannot use a wildcard to match
/// part of a principal name or ARN", so partial wildcards are rejected.
fn aws_principal(item: String, at: &Location, field: &str) -> Result<PrincipalPattern> {
    if item == "*" {
        return Ok(PrincipalPattern::AnyAws);
    }
    if is_account_id(&item) {
        return Ok(PrincipalPattern::Account(item));
    }
    if is_unique_id(&item) {
        return Ok(PrincipalPattern::UniqueId(item));
    }
    let parts: Vec<&str> = item.splitn(6, ':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && matches!(parts[2], "iam" | "sts")
        && is_account_id(parts[4])
        && !parts[5].is_empty()
        && !item.contains(['*', '?']);
    if !valid {
        let expected = "`*`, an account id, or an IAM or STS ARN without wildcards";
        return Err(invalid(at, field, expected, &item));
    }
    if parts[5] == "root" {
        return Ok(PrincipalPattern::Account(parts[4].to_owned()));
    }
    Ok(PrincipalPattern::Arn(item))
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_unique_id(s: &str) -> bool {
    s.len() >= 16
        && s.starts_with('A')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn conditions(value: Option<&Value>, at: &Location) -> Result<Vec<Condition>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Object(blocks) = value else {
        return Err(wrong_type(at, "Condition", "an object", value));
    };
    let mut out = Vec::new();
    for (operator, block) in blocks {
        let op = operator_named(operator, at)?;
        let field = format!("Condition.{operator}");
        let Value::Object(keys) = block else {
            return Err(wrong_type(at, &field, "an object", block));
        };
        for (key, values) in keys {
            let values = condition_values(values, at, &format!("{field}.{key}"))?;
            check_condition_values(op.kind, &values, at, operator, key)?;
            out.push(Condition::new(operator.clone(), op, key.clone(), values));
        }
    }
    Ok(out)
}

const OPERATORS: &[(&str, OperatorKind, bool)] = &[
    ("StringEquals", OperatorKind::StringEquals, false),
    ("StringNotEquals", OperatorKind::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        OperatorKind::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        OperatorKind::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", OperatorKind::StringLike, false),
    ("StringNotLike", OperatorKind::StringLike, true),
    ("NumericEquals", OperatorKind::NumericEquals, false),
    ("NumericNotEquals", OperatorKind::NumericEquals, true),
    ("NumericLessThan", OperatorKind::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        OperatorKind::NumericLessThanEquals,
        false,
    ),
    (
        "NumericGreaterThan",
        OperatorKind::NumericGreaterThan,
        false,
    ),
    (
        "NumericGreaterThanEquals",
        OperatorKind::NumericGreaterThanEquals,
        false,
    ),
    ("DateEquals", OperatorKind::DateEquals, false),
    ("DateNotEquals", OperatorKind::DateEquals, true),
    ("DateLessThan", OperatorKind::DateLessThan, false),
    (
        "DateLessThanEquals",
        OperatorKind::DateLessThanEquals,
        false,
    ),
    ("DateGreaterThan", OperatorKind::DateGreaterThan, false),
    (
        "DateGreaterThanEquals",
        OperatorKind::DateGreaterThanEquals,
        false,
    ),
    ("Bool", OperatorKind::Bool, false),
    ("BinaryEquals", OperatorKind::BinaryEquals, false),
    ("IpAddress", OperatorKind::IpAddress, false),
    ("NotIpAddress", OperatorKind::IpAddress, true),
    ("ArnEquals", OperatorKind::ArnEquals, false),
    ("ArnNotEquals", OperatorKind::ArnEquals, true),
    ("ArnLike", OperatorKind::ArnLike, false),
    ("ArnNotLike", OperatorKind::ArnLike, true),
    ("Null", OperatorKind::Null, false),
];

/// Decode `[ForAnyValue:|ForAllValues:]Name[IfExists]` ("IAM JSON policy
/// elements: Condition operators"; names are matched exactly as AWS spells them).
fn operator_named(operator: &str, at: &Location) -> Result<Operator> {
    let (set, rest) = if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), rest)
    } else if let Some(rest) = operator.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), rest)
    } else {
        (None, operator)
    };
    let (if_exists, name) = match rest.strip_suffix("IfExists") {
        Some(name) => (true, name),
        None => (false, rest),
    };
    let Some(&(_, kind, negated)) = OPERATORS.iter().find(|(n, _, _)| *n == name) else {
        return Err(ParseError::UnknownOperator {
            at: at.clone(),
            operator: operator.to_owned(),
        });
    };
    let unsupported = |reason| ParseError::UnsupportedOperator {
        at: at.clone(),
        operator: operator.to_owned(),
        reason,
    };
    if kind == OperatorKind::Null && if_exists {
        return Err(unsupported("`Null` has no `IfExists` form"));
    }
    if kind == OperatorKind::Null && set.is_some() {
        return Err(unsupported(
            "`Null` takes no `ForAnyValue:`/`ForAllValues:` qualifier",
        ));
    }
    Ok(Operator {
        kind,
        negated,
        if_exists,
        set,
    })
}

/// A condition value is one scalar or a non-empty list of scalars; numbers and
/// booleans are kept in their string form, which is how AWS compares them.
fn condition_values(value: &Value, at: &Location, field: &str) -> Result<Vec<String>> {
    match value {
        Value::Array(items) if items.is_empty() => {
            Err(invalid(at, field, "at least one value", "[]"))
        }
        Value::Array(items) => items.iter().map(|v| scalar(v, at, field)).collect(),
        other => Ok(vec![scalar(other, at, field)?]),
    }
}

fn scalar(value: &Value, at: &Location, field: &str) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(wrong_type(at, field, "a string, number or boolean", other)),
    }
}

/// Values of non-string operators must parse; "IAM policy elements:
/// Variables and tags" allows variables only with string and ARN operators,
/// so `${...}` in a numeric, date, bool, IP or Null value is an error too.
fn check_condition_values(
    kind: OperatorKind,
    values: &[String],
    at: &Location,
    operator: &str,
    key: &str,
) -> Result<()> {
    let (ok, expected): (fn(&str) -> bool, &'static str) = match kind {
        OperatorKind::NumericEquals
        | OperatorKind::NumericLessThan
        | OperatorKind::NumericLessThanEquals
        | OperatorKind::NumericGreaterThan
        | OperatorKind::NumericGreaterThanEquals => (|v| v.parse::<f64>().is_ok(), "a number"),
        OperatorKind::DateEquals
        | OperatorKind::DateLessThan
        | OperatorKind::DateLessThanEquals
        | OperatorKind::DateGreaterThan
        | OperatorKind::DateGreaterThanEquals => (
            |v| parse_date(v).is_some(),
            "an ISO 8601 date or epoch seconds",
        ),
        OperatorKind::Bool | OperatorKind::Null => (
            |v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
            "`true` or `false`",
        ),
        OperatorKind::IpAddress => (
            |v| parse_cidr(v).is_some(),
            "an IPv4 or IPv6 address or CIDR block",
        ),
        _ => return Ok(()),
    };
    match values.iter().find(|v| !ok(v)) {
        None => Ok(()),
        Some(bad) => Err(ParseError::InvalidConditionValue {
            at: at.clone(),
            operator: operator.to_owned(),
            key: key.to_owned(),
            expected,
            found: bad.clone(),
        }),
    }
}

fn check_fields(map: &Map<String, Value>, allowed: &[&str], at: &Location) -> Result<()> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(field) => Err(ParseError::UnknownField {
            at: at.clone(),
            field: field.clone(),
        }),
    }
}

fn optional_string(map: &Map<String, Value>, field: &str, at: &Location) -> Result<Option<String>> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(at, field, "a string", other)),
    }
}

fn non_empty_strings(value: &Value, at: &Location, field: &str) -> Result<Vec<String>> {
    let items = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.is_empty() => {
            return Err(invalid(at, field, "at least one value", "[]"));
        }
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong_type(
                    at,
                    field,
                    "a string or a list of strings",
                    other,
                )),
            })
            .collect::<Result<Vec<_>>>()?,
        other => {
            return Err(wrong_type(
                at,
                field,
                "a string or a list of strings",
                other,
            ));
        }
    };
    Ok(items)
}

fn invalid(at: &Location, field: &str, expected: &str, found: &str) -> ParseError {
    ParseError::InvalidValue {
        at: at.clone(),
        field: field.to_owned(),
        expected: expected.to_owned(),
        found: found.to_owned(),
    }
}

fn wrong_type(at: &Location, field: &str, expected: &'static str, found: &Value) -> ParseError {
    ParseError::WrongType {
        at: at.clone(),
        field: field.to_owned(),
        expected,
        found: kind(found),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
