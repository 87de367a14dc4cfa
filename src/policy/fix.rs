//! Propose and verify the smallest change to a blocking Deny statement.
//!
//! [`patch_blocking`] edits the policy's original JSON (key order and every
//! other field untouched) per the fix table in `docs/policy-evaluation.md`,
//! once for every caller a statement blocks, re-parses it, and renders a
//! unified diff; [`holds`] says whether a check's expectation holds before
//! and after. The analysis (`analysis::diagnosis::fixes`) chooses the
//! callers and probes and verifies each fix with [`holds`]; [`patch`] and
//! [`verify`] are the one-caller, list-of-requests forms the property tests
//! and the fuzz target drive. A fix is only as good as the checks it was
//! verified with: this module chooses no callers itself.

use serde::Serialize;
use serde_json::{Map, Value};

use super::context::{Request, Seen, via_service};
use super::diff;
use super::eval::{DecisionSummary, Outcome, evaluate};
use super::parse::{
    Condition, Effect, Location, OperatorKind, ParseError, Policy, Statement, parse_policy_value,
};
use super::tri::Tri;

/// How wide the exemption is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FixKind {
    /// Exempt the whole caller class (every service principal, every FAS).
    Broad,
    /// Exempt only the observed service (or principal).
    Narrow,
    /// Put back the policy version before the change.
    Restore,
}

/// The legitimate caller a Deny statement blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "class")]
pub enum BlockedCaller {
    /// `userIdentity.type` `AWSService`; `service` is `invokedBy`.
    ServicePrincipal { service: String },
    /// An IAM principal's call made by `service` (`invokedBy`, e.g.
    /// `backup.amazonaws.com`) in `region`.
    ForwardAccess { service: String, region: String },
    /// An IAM user or role calling directly.
    Direct { principal_arn: String },
}

/// A patched policy and how it differs from the original.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    pub kind: FixKind,
    pub description: String,
    /// Callers the fix knowingly leaves blocked.
    pub warnings: Vec<String>,
    /// The full patched document.
    pub document: Value,
    /// `document` parsed, ready for [`verify`].
    pub policy: Policy,
    /// Unified diff of the pretty-printed documents.
    pub diff: String,
}

/// Why no fix could be produced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FixError {
    /// `patch(&policy, 5, ..)` on a two-statement policy.
    #[error("statement {index} does not exist: the policy has {count} statements")]
    NoSuchStatement { index: usize, count: usize },
    /// Patching the seed's statement 0, `Enable IAM User Permissions`.
    #[error("{at} is an `Allow`: only a `Deny` statement blocks a caller")]
    NotADeny { at: Location },
    /// A `Direct` fix for a Deny whose only condition is `Bool
    /// aws:SecureTransport`.
    #[error(
        "{at} has no exception list on `aws:PrincipalArn` to add `{arn}` to\nhint: use the service principal or forward access fix, or add a `StringNotEquals` block on `aws:PrincipalArn`"
    )]
    NoExceptionList { at: Location, arn: String },
    /// A `BoolIfExists` entry the fix would set to `false` already holds
    /// another value.
    #[error("{at}: `{operator}` `{key}` already holds `{existing}`, which conflicts with `false`")]
    Conflict {
        at: Location,
        operator: String,
        key: String,
        existing: String,
    },
    /// The entry is already there: a `Direct` fix for an ARN already on the
    /// list, or the broad fix applied twice.
    #[error("{at}: `{operator}` `{key}` already holds `{value}`, so the fix would change nothing")]
    NoChange {
        at: Location,
        operator: String,
        key: String,
        value: String,
    },
    /// The document disagrees with its parse: `"Condition"` replaced by a
    /// non-object in `Policy::document` after parsing.
    #[error("{at}: `{field}` in the document is not an object")]
    Malformed { at: Location, field: String },
    /// A Deny with `StringNotEquals` `aws:PrincipalOrgID` blocking an IAM
    /// role: CloudTrail does not show the role's organization, so there is
    /// no value to add and no safe fix.
    #[error(
        "{at}: the caller's `{key}` is not in the trail, so no value can be added to the list on it\nhint: find the caller's `{key}` and add it by hand"
    )]
    ValueNotInTrail { at: Location, key: String },
    /// The patched document no longer parses (a hand-edited `document`).
    #[error("the patched policy does not parse: {0}")]
    Invalid(#[source] ParseError),
}

type Result<T> = std::result::Result<T, FixError>;

const EXCEPTION_OPERATORS: &[&str] = &[
    "StringNotEquals",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
    "StringNotEqualsIfExists",
    "StringNotLikeIfExists",
    "ArnNotEqualsIfExists",
    "ArnNotLikeIfExists",
];

/// Patch Deny statement `statement_index` so that `caller` is no longer
/// blocked, per the fix table in `docs/policy-evaluation.md`.
pub fn patch(
    policy: &Policy,
    statement_index: usize,
    caller: &BlockedCaller,
    kind: FixKind,
) -> Result<Fix> {
    patch_all(policy, statement_index, std::slice::from_ref(caller), kind)
}

/// A blocked caller and the requests it made: what a fix may add to the
/// statement's lists (an account, a service, an encryption context value,
/// a VPC endpoint) is what these requests show.
#[derive(Clone, Copy, Debug)]
pub struct Blocking<'a> {
    pub caller: &'a BlockedCaller,
    pub requests: &'a [Request],
}

/// [`patch_blocking`] for callers whose requests are not at hand: class
/// exemptions and principal ARNs only.
pub fn patch_all(
    policy: &Policy,
    statement_index: usize,
    callers: &[BlockedCaller],
    kind: FixKind,
) -> Result<Fix> {
    let blocking: Vec<Blocking<'_>> = callers
        .iter()
        .map(|caller| Blocking {
            caller,
            requests: &[],
        })
        .collect();
    patch_blocking(policy, statement_index, &blocking, kind)
}

/// Patch Deny statement `statement_index` once so that none of `blocking`
/// is blocked, applied to one copy of the document, parsed and diffed once.
/// Per caller, the narrowest edit that applies: its ARN on the statement's
/// `aws:PrincipalArn` exception list; else what its request shows added to
/// a negated list the statement already has (see [`value_rank`]); else
/// its VPC endpoint exempted from a Deny on `aws:SourceIp`; else (for a
/// service principal or forward access) its class or service exempted. A
/// broad fix exempts service callers by class. A caller already exempted
/// by an earlier edit adds nothing; the patch fails only when no edit
/// applies at all.
pub fn patch_blocking(
    policy: &Policy,
    statement_index: usize,
    blocking: &[Blocking<'_>],
    kind: FixKind,
) -> Result<Fix> {
    let statement = policy
        .statements
        .get(statement_index)
        .ok_or(FixError::NoSuchStatement {
            index: statement_index,
            count: policy.statements.len(),
        })?;
    let at = Location::Statement {
        index: statement.index,
        sid: statement.sid.clone(),
    };
    if statement.effect != Effect::Deny {
        return Err(FixError::NotADeny { at });
    }
    let mut document = policy.document.clone();
    let condition = condition_object(&mut document, statement_index, &at)?;
    let mut descriptions: Vec<String> = Vec::new();
    let mut shorts: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut first_error = None;
    for edit in edits(statement, blocking, kind) {
        match apply(condition, &edit, kind, &at) {
            Ok((d, w)) => {
                shorts.push(short(&d, &at));
                descriptions.push(d);
                warnings.extend(w);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if descriptions.is_empty() {
        return Err(first_error.unwrap_or(FixError::NoSuchStatement {
            index: statement_index,
            count: policy.statements.len(),
        }));
    }
    if blocking
        .iter()
        .any(|b| matches!(b.caller, BlockedCaller::ForwardAccess { .. }))
    {
        warnings.retain(|w| w != FAS_STILL_DENIED);
    }
    let patched = parse_policy_value(&document).map_err(FixError::Invalid)?;
    let diff = diff::unified(&pretty(&policy.document), &pretty(&document));
    let description = match descriptions.len() {
        1 => descriptions.remove(0),
        _ => format!("in {at}: {}", shorts.join("; ")),
    };
    Ok(Fix {
        kind,
        description,
        warnings,
        document,
        policy: patched,
        diff,
    })
}

/// What one edit of a statement exempts.
enum Edit<'a> {
    One(&'a BlockedCaller),
    /// Principal ARNs for one exception list, in the callers' order.
    Arns(Vec<&'a str>),
    /// Values the requests show, added to one of the statement's negated
    /// lists (`operator` and `key` as the policy writes them).
    Values {
        operator: &'a str,
        key: &'a str,
        values: Vec<String>,
    },
    /// VPC endpoints exempted from a Deny on the source address.
    Endpoints(Vec<String>),
    /// A key whose value the edit needs and the trail does not show.
    NotInTrail(&'a str),
}

/// How one blocked request is best exempted (see [`patch_blocking`]).
enum Choice<'a> {
    Arn(&'a str),
    Value(&'a Condition, String),
    Endpoint(String),
    Class,
    NotInTrail(&'a str),
}

/// One edit per class for a broad fix, one per distinct service for a
/// narrow one, every direct principal's ARN in one list, every value of
/// one list in one edit.
fn edits<'a>(statement: &'a Statement, blocking: &[Blocking<'a>], kind: FixKind) -> Vec<Edit<'a>> {
    let mut out: Vec<Edit<'a>> = Vec::new();
    let mut arns: Vec<&'a str> = Vec::new();
    let mut values: Vec<(&'a Condition, Vec<String>)> = Vec::new();
    let mut endpoints: Vec<String> = Vec::new();
    let mut unknown: Vec<&'a str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for b in blocking {
        for choice in choices(statement, b, kind) {
            match choice {
                Choice::Arn(arn) => {
                    if seen.insert(format!("arn {arn}")) {
                        arns.push(arn);
                    }
                }
                Choice::Value(c, v) => {
                    if seen.insert(format!("{} {} {v}", c.operator, c.key)) {
                        match values.iter_mut().find(|(d, _)| std::ptr::eq(*d, c)) {
                            Some((_, list)) => list.push(v),
                            None => values.push((c, vec![v])),
                        }
                    }
                }
                Choice::Endpoint(v) => {
                    if seen.insert(format!("vpce {v}")) {
                        endpoints.push(v);
                    }
                }
                Choice::NotInTrail(key) => {
                    if seen.insert(format!("unknown {key}")) {
                        unknown.push(key);
                    }
                }
                Choice::Class => {
                    if seen.insert(class_id(b.caller, kind)) {
                        out.push(Edit::One(b.caller));
                    }
                }
            }
        }
    }
    out.extend(values.into_iter().map(|(c, values)| Edit::Values {
        operator: &c.operator,
        key: &c.key,
        values,
    }));
    if !endpoints.is_empty() {
        out.push(Edit::Endpoints(endpoints));
    }
    if !arns.is_empty() {
        out.push(Edit::Arns(arns));
    }
    out.extend(unknown.into_iter().map(Edit::NotInTrail));
    out
}

fn class_id(caller: &BlockedCaller, kind: FixKind) -> String {
    match (caller, kind) {
        (BlockedCaller::ServicePrincipal { .. }, FixKind::Broad) => "sp".to_owned(),
        (BlockedCaller::ForwardAccess { .. }, FixKind::Broad) => "fas".to_owned(),
        (BlockedCaller::ServicePrincipal { service }, _) => format!("sp {service}"),
        (BlockedCaller::ForwardAccess { service, region }, _) => {
            format!("fas {}", via_service(service, region))
        }
        (BlockedCaller::Direct { principal_arn }, _) => format!("arn {principal_arn}"),
    }
}

/// The edit for each of a caller's requests (one without requests).
fn choices<'a>(statement: &'a Statement, b: &Blocking<'a>, kind: FixKind) -> Vec<Choice<'a>> {
    if let BlockedCaller::Direct { principal_arn } = b.caller
        && has_exception_list(statement)
    {
        return vec![Choice::Arn(principal_arn)];
    }
    let direct = matches!(b.caller, BlockedCaller::Direct { .. });
    // A broad fix exempts service callers by class; a narrow one (and any
    // fix for a direct caller) uses what the request shows first.
    let from_request = direct || kind != FixKind::Broad;
    let fallback = |unknown: Option<&'a str>| match (b.caller, unknown) {
        (BlockedCaller::Direct { principal_arn }, None) => Choice::Arn(principal_arn),
        (BlockedCaller::Direct { .. }, Some(key)) => Choice::NotInTrail(key),
        _ => Choice::Class,
    };
    if !from_request || b.requests.is_empty() {
        return vec![fallback(None)];
    }
    b.requests
        .iter()
        .map(|r| match from_the_request(statement, r) {
            Ok(choice) => choice,
            Err(unknown) => fallback(unknown),
        })
        .collect()
}

/// What `r` shows that the statement can be told to exempt: a value for
/// its best-ranked negated list ([`value_rank`]), else the VPC endpoint
/// of a call a Deny on `aws:SourceIp` catches. Otherwise the best-ranked
/// list key whose value the trail does not show, if any.
fn from_the_request<'a>(
    statement: &'a Statement,
    r: &Request,
) -> std::result::Result<Choice<'a>, Option<&'a str>> {
    let mut lists: Vec<(usize, &'a Condition)> = statement
        .conditions
        .iter()
        .filter(|c| is_value_list(c))
        .filter_map(|c| value_rank(&c.key).map(|rank| (rank, c)))
        .collect();
    lists.sort_by_key(|(rank, _)| *rank);
    let mut unknown = None;
    for (_, c) in lists {
        match r.context.get(&c.key) {
            Seen::Present(v) if v.len() == 1 && safe_value(c, &v[0]) => {
                return Ok(Choice::Value(c, v[0].clone()));
            }
            Seen::Unknown => {
                unknown.get_or_insert(c.key.as_str());
            }
            _ => {}
        }
    }
    let on_source_ip = statement.conditions.iter().any(|c| {
        c.op.kind == OperatorKind::IpAddress
            && c.op.negated
            && c.key.eq_ignore_ascii_case("aws:SourceIp")
    });
    if on_source_ip
        && let Seen::Present(v) = r.context.get("aws:SourceVpce")
        && let [vpce] = v.as_slice()
    {
        return Ok(Choice::Endpoint(vpce.clone()));
    }
    Err(unknown)
}

/// The condition keys whose negated lists a fix may add a request's value
/// to, narrowest first: the encryption context (one bucket, one table), a
/// VPC endpoint, a service (`<svc>.<region>.amazonaws.com`), a source,
/// an account, an organization. `aws:PrincipalArn` lists take the
/// caller's ARN as written in the trail instead (a role's path included).
pub fn value_rank(key: &str) -> Option<usize> {
    const KEYS: &[&str] = &[
        "aws:sourcevpce",
        "kms:viaservice",
        "aws:sourcearn",
        "aws:sourceaccount",
        "kms:calleraccount",
        "aws:principalaccount",
        "aws:principalorgid",
    ];
    let k = key.to_ascii_lowercase();
    if k.starts_with("kms:encryptioncontext:") {
        return Some(0);
    }
    KEYS.iter().position(|x| *x == k).map(|p| p + 1)
}

/// A negated string or ARN list on a single-valued key (`StringNotEquals`,
/// `StringNotLike`, `ArnNotLike`, ... with or without `IfExists`).
fn is_value_list(c: &Condition) -> bool {
    c.op.negated
        && c.op.set.is_none()
        && matches!(
            c.op.kind,
            OperatorKind::StringEquals
                | OperatorKind::StringEqualsIgnoreCase
                | OperatorKind::StringLike
                | OperatorKind::ArnEquals
                | OperatorKind::ArnLike
        )
}

/// A value that means itself in the list: no policy variable, and no
/// wildcard under a `...Like` or ARN operator.
fn safe_value(c: &Condition, v: &str) -> bool {
    let wild = matches!(
        c.op.kind,
        OperatorKind::StringLike | OperatorKind::ArnLike | OperatorKind::ArnEquals
    ) && v.contains(['*', '?']);
    !v.is_empty() && !v.contains("${") && !wild
}

/// The statement has a negated exception list on `aws:PrincipalArn`.
fn has_exception_list(statement: &Statement) -> bool {
    statement.conditions.iter().any(|c| {
        EXCEPTION_OPERATORS.contains(&c.operator.as_str())
            && c.key.eq_ignore_ascii_case("aws:PrincipalArn")
    })
}

const FAS_STILL_DENIED: &str = "callers that reach the key through a forward access session (an IAM principal with `invokedBy`) are still denied by this statement";

fn apply(
    condition: &mut Map<String, Value>,
    edit: &Edit<'_>,
    kind: FixKind,
    at: &Location,
) -> Result<(String, Vec<String>)> {
    let caller = match edit {
        Edit::One(c) => *c,
        Edit::Arns(arns) => {
            let operator = add_exceptions(condition, arns, at)?;
            let text = match arns.as_slice() {
                [one] => format!(
                    "add `{one}` to the `{operator}` exception list on `aws:PrincipalArn` in {at}"
                ),
                many => format!(
                    "add {} principal ARNs to the `{operator}` exception list on `aws:PrincipalArn` in {at}",
                    many.len()
                ),
            };
            return Ok((text, Vec::new()));
        }
        Edit::Values {
            operator,
            key,
            values,
        } => return add_values(condition, operator, key, values, at),
        Edit::Endpoints(vpces) => return exempt_endpoints(condition, vpces, at),
        Edit::NotInTrail(key) => {
            return Err(FixError::ValueNotInTrail {
                at: at.clone(),
                key: (*key).to_owned(),
            });
        }
    };
    match (caller, kind) {
        (BlockedCaller::ServicePrincipal { .. }, FixKind::Broad) => {
            add_bool(condition, "aws:PrincipalIsAWSService", at)?;
            let what = "so it no longer applies to any AWS service principal";
            Ok((
                describe(
                    "BoolIfExists",
                    "aws:PrincipalIsAWSService",
                    "false",
                    at,
                    what,
                ),
                vec![FAS_STILL_DENIED.to_owned()],
            ))
        }
        (BlockedCaller::ServicePrincipal { service }, _) => {
            add_list(
                condition,
                "StringNotEqualsIfExists",
                "aws:PrincipalServiceName",
                service,
                at,
            )?;
            let what = format!("so it no longer applies to the service principal `{service}`");
            Ok((
                describe(
                    "StringNotEqualsIfExists",
                    "aws:PrincipalServiceName",
                    service,
                    at,
                    &what,
                ),
                Vec::new(),
            ))
        }
        (BlockedCaller::ForwardAccess { .. }, FixKind::Broad) => {
            add_bool(condition, "aws:ViaAWSService", at)?;
            let what =
                "so it no longer applies to calls any AWS service makes on a principal's behalf";
            Ok((
                describe("BoolIfExists", "aws:ViaAWSService", "false", at, what),
                Vec::new(),
            ))
        }
        (BlockedCaller::ForwardAccess { service, region }, _) => {
            let via = via_service(service, region);
            add_list(
                condition,
                "StringNotEqualsIfExists",
                "kms:ViaService",
                &via,
                at,
            )?;
            let what = format!("so it no longer applies to calls made through `{via}`");
            Ok((
                describe("StringNotEqualsIfExists", "kms:ViaService", &via, at, &what),
                Vec::new(),
            ))
        }
        (BlockedCaller::Direct { principal_arn }, _) => {
            let operator = add_exceptions(condition, &[principal_arn.as_str()], at)?;
            let text = format!(
                "add `{principal_arn}` to the `{operator}` exception list on `aws:PrincipalArn` in {at}"
            );
            Ok((text, Vec::new()))
        }
    }
}

/// Adds `values` to the statement's `operator` list on `key`.
fn add_values(
    condition: &mut Map<String, Value>,
    operator: &str,
    key: &str,
    values: &[String],
    at: &Location,
) -> Result<(String, Vec<String>)> {
    let block = operator_block(condition, operator, at)?;
    let Some(existing) = find_key(block, key) else {
        return Err(FixError::Malformed {
            at: at.clone(),
            field: format!("Condition.{operator}.{key}"),
        });
    };
    let list: Vec<&str> = values.iter().map(String::as_str).collect();
    merge_all(block, &existing, operator, &list, at)?;
    let text = match list.as_slice() {
        [one] => format!("add `{one}` to the `{operator}` list on `{existing}` in {at}"),
        many => format!(
            "add `{}` to the `{operator}` list on `{existing}` in {at}",
            many.join("`, `")
        ),
    };
    Ok((text, Vec::new()))
}

/// `StringNotEqualsIfExists` `aws:SourceVpce` = `vpces`: a Deny on the
/// source address no longer applies to calls through these endpoints
/// (such calls have no `aws:SourceIp`), and still applies to every other
/// endpoint and to calls from outside a VPC.
fn exempt_endpoints(
    condition: &mut Map<String, Value>,
    vpces: &[String],
    at: &Location,
) -> Result<(String, Vec<String>)> {
    let (operator, key) = ("StringNotEqualsIfExists", "aws:SourceVpce");
    let block = operator_block(condition, operator, at)?;
    let existing = find_key(block, key).unwrap_or_else(|| {
        block.insert(key.to_owned(), Value::Array(Vec::new()));
        key.to_owned()
    });
    let list: Vec<&str> = vpces.iter().map(String::as_str).collect();
    merge_all(block, &existing, operator, &list, at)?;
    let what = format!(
        "so it no longer applies to calls through the VPC endpoint(s) `{}` (they carry no `aws:SourceIp`)",
        list.join("`, `")
    );
    Ok((
        describe(operator, key, &list.join("`, `"), at, &what),
        Vec::new(),
    ))
}

/// An edit's description without its statement and purpose, for a fix
/// that makes several edits to one statement.
fn short(description: &str, at: &Location) -> String {
    let cut = description
        .find(&format!(" to {at}"))
        .or_else(|| description.find(&format!(" in {at}")))
        .unwrap_or(description.len());
    description[..cut].to_owned()
}

fn describe(operator: &str, key: &str, value: &str, at: &Location, what: &str) -> String {
    format!("add `{operator}` `{key}` = `{value}` to {at} {what}")
}

/// The statement's `Condition` object, created when absent.
fn condition_object<'a>(
    document: &'a mut Value,
    index: usize,
    at: &Location,
) -> Result<&'a mut Map<String, Value>> {
    let malformed = |field: &str| FixError::Malformed {
        at: at.clone(),
        field: field.to_owned(),
    };
    let statements = document
        .get_mut("Statement")
        .ok_or_else(|| malformed("Statement"))?;
    let statement = match statements {
        Value::Array(items) => items.get_mut(index),
        one @ Value::Object(_) if index == 0 => Some(one),
        _ => None,
    };
    let Some(Value::Object(statement)) = statement else {
        return Err(malformed("Statement"));
    };
    let condition = statement
        .entry("Condition")
        .or_insert_with(|| Value::Object(Map::new()));
    condition
        .as_object_mut()
        .ok_or_else(|| malformed("Condition"))
}

/// `"BoolIfExists": {key: "false"}`, merged into an existing block.
fn add_bool(condition: &mut Map<String, Value>, key: &str, at: &Location) -> Result<()> {
    let operator = "BoolIfExists";
    let block = operator_block(condition, operator, at)?;
    match find_key(block, key) {
        None => {
            block.insert(key.to_owned(), Value::String("false".to_owned()));
            Ok(())
        }
        Some(existing) => {
            let values = scalars(&block[&existing]);
            let error = if values.iter().all(|v| v.eq_ignore_ascii_case("false")) {
                FixError::NoChange {
                    at: at.clone(),
                    operator: operator.to_owned(),
                    key: existing,
                    value: "false".to_owned(),
                }
            } else {
                FixError::Conflict {
                    at: at.clone(),
                    operator: operator.to_owned(),
                    key: existing,
                    existing: values.join("`, `"),
                }
            };
            Err(error)
        }
    }
}

/// `operator: {key: [value]}`, merging `value` into an existing list.
fn add_list(
    condition: &mut Map<String, Value>,
    operator: &str,
    key: &str,
    value: &str,
    at: &Location,
) -> Result<()> {
    let block = operator_block(condition, operator, at)?;
    match find_key(block, key) {
        None => {
            block.insert(
                key.to_owned(),
                Value::Array(vec![Value::String(value.to_owned())]),
            );
            Ok(())
        }
        Some(existing) => merge(block, &existing, operator, value, at),
    }
}

/// Append `arns` to the first negated exception list on `aws:PrincipalArn`.
fn add_exceptions(
    condition: &mut Map<String, Value>,
    arns: &[&str],
    at: &Location,
) -> Result<String> {
    let found = condition.iter().find_map(|(operator, block)| {
        let block = block.as_object()?;
        let listed = EXCEPTION_OPERATORS.contains(&operator.as_str());
        let key = find_key(block, "aws:PrincipalArn")?;
        listed.then(|| (operator.clone(), key))
    });
    let Some((operator, key)) = found else {
        return Err(FixError::NoExceptionList {
            at: at.clone(),
            arn: arns.first().copied().unwrap_or_default().to_owned(),
        });
    };
    let block = operator_block(condition, &operator, at)?;
    merge_all(block, &key, &operator, arns, at)?;
    Ok(operator)
}

fn operator_block<'a>(
    condition: &'a mut Map<String, Value>,
    operator: &str,
    at: &Location,
) -> Result<&'a mut Map<String, Value>> {
    condition
        .entry(operator)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| FixError::Malformed {
            at: at.clone(),
            field: format!("Condition.{operator}"),
        })
}

/// Condition keys are case-insensitive: reuse the key as the policy spells it.
fn find_key(block: &Map<String, Value>, key: &str) -> Option<String> {
    block.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Add `value` to `block[key]`, turning a single value into a list.
fn merge(
    block: &mut Map<String, Value>,
    key: &str,
    operator: &str,
    value: &str,
    at: &Location,
) -> Result<()> {
    merge_all(block, key, operator, &[value], at)
}

/// Add each of `values` not already there to `block[key]` (one pass, a set
/// of what is there: thousands of principals go into one list).
fn merge_all(
    block: &mut Map<String, Value>,
    key: &str,
    operator: &str,
    values: &[&str],
    at: &Location,
) -> Result<()> {
    let slot = block.get_mut(key).expect("key found in block");
    let present = scalars(slot);
    let mut have: std::collections::HashSet<&str> = present.iter().map(String::as_str).collect();
    let new: Vec<&str> = values.iter().copied().filter(|v| have.insert(v)).collect();
    if new.is_empty() {
        return Err(FixError::NoChange {
            at: at.clone(),
            operator: operator.to_owned(),
            key: key.to_owned(),
            value: values.join("`, `"),
        });
    }
    let mut items = match slot.take() {
        Value::Array(items) => items,
        one => vec![one],
    };
    items.extend(new.into_iter().map(|v| Value::String(v.to_owned())));
    *slot = Value::Array(items);
    Ok(())
}

fn scalars(value: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => vec![one(other)],
    }
}

/// The unified diff's hunks between two policy documents, pretty-printed.
pub fn unified_diff(old: &Value, new: &Value) -> String {
    diff::unified(&pretty(old), &pretty(new))
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// What must hold for one request after the patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// No Deny matches, not even possibly (the blocked caller).
    NotExplicitlyDenied,
    /// A Deny matches for certain (the callers the statement keeps out).
    ExplicitlyDenied,
    /// No Deny applies that did not before, and an `Allowed` stays `Allowed`.
    NotNewlyDenied,
    /// The outcome is unchanged.
    SameAsBefore,
}

/// One check's result; `index` is its position in the list given to [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub index: usize,
    pub expectation: Expectation,
    pub before: Outcome,
    pub after: Outcome,
    pub passed: bool,
}

/// All checks; `verified` only if there was at least one and all passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub checks: Vec<CheckResult>,
    pub verified: bool,
}

/// Evaluate every request against both policies and test its expectation.
pub fn verify(
    original: &Policy,
    patched: &Policy,
    checks: &[(Request, Expectation)],
) -> Verification {
    let checks: Vec<CheckResult> = checks
        .iter()
        .enumerate()
        .map(|(index, (request, expectation))| {
            let before = evaluate(original, request);
            let after = evaluate(patched, request);
            CheckResult {
                index,
                expectation: *expectation,
                before: before.outcome,
                after: after.outcome,
                passed: holds(*expectation, before.summary(), after.summary()),
            }
        })
        .collect();
    let verified = !checks.is_empty() && checks.iter().all(|c| c.passed);
    Verification { checks, verified }
}

/// Whether `expectation` holds, given the decisions before and after a patch.
pub fn holds(expectation: Expectation, before: DecisionSummary, after: DecisionSummary) -> bool {
    match expectation {
        Expectation::NotExplicitlyDenied => after.explicit_deny == Tri::False,
        Expectation::ExplicitlyDenied => after.explicit_deny == Tri::True,
        Expectation::SameAsBefore => before.outcome == after.outcome,
        Expectation::NotNewlyDenied => {
            let (was, is) = (before.explicit_deny, after.explicit_deny);
            let newly =
                (is == Tri::True && was != Tri::True) || (is == Tri::Unknown && was == Tri::False);
            let lost_allow =
                before.outcome == Outcome::Allowed && after.outcome != Outcome::Allowed;
            !newly && !lost_allow
        }
    }
}

#[cfg(test)]
mod tests;
