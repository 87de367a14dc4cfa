//! Evaluate a key policy against one request, in three-valued logic, keeping
//! the evidence a report needs to explain the decision.
//!
//! A statement matches when its principal, action, resource and every
//! condition match (Kleene AND). The outcome follows "Policy evaluation
//! logic": a matching Deny wins, then a matching Allow; an `Unknown` Deny (or,
//! without any Allow, an `Unknown` Allow) makes the outcome `Undetermined`
//! rather than a guess. Pure: no I/O, no clock. Grants and IAM policies are not
//! visible here; an Allow through the account root is marked
//! `via_account_delegation` so a report can say so.

use std::ops::Not as _;

use serde::Serialize;

use super::cond;
use super::context::{Principal, Request, Seen};
use super::parse::{Effect, Policy, PrincipalPattern, Statement, Targets, Version, is_account_id};
use super::pattern::{Expanded, expand, glob, literal};
use super::tri::Tri;

/// How the policy decides the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// An Allow statement matches and no Deny can.
    Allowed,
    /// A Deny statement matches.
    ExplicitDeny,
    /// Nothing matches; the call can still rest on a grant or, for account
    /// principals, on IAM policies through delegation.
    ImplicitDeny,
    /// A Deny (or the only possible Allow) hangs on an unknown key.
    Undetermined,
}

/// The decision with the evidence for every statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub statements: Vec<StatementTrace>,
}

/// How one statement fared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatementTrace {
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal_match: Tri,
    pub action_match: Tri,
    pub resource_match: Tri,
    pub conditions: Vec<ConditionTrace>,
    pub matched: Tri,
    /// The principal matched only as "any principal of this account"
    /// (`arn:aws:iam::ACCT:root` or `ACCT`): in a key policy that delegates to
    /// the account's IAM policies, which this evaluator cannot see ("Key
    /// policies in AWS KMS", default key policy).
    pub via_account_delegation: bool,
}

/// How one condition fared: the operator and key as written, the policy
/// values, what the request showed, and the result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConditionTrace {
    pub operator: String,
    pub key: String,
    /// The condition's values, shared with the policy (not copied per evaluation).
    #[serde(serialize_with = "shared_values")]
    pub values: std::sync::Arc<Vec<String>>,
    pub seen: Seen,
    pub result: Tri,
    /// Why the result is not a plain comparison (a lint on the policy), such
    /// as a multivalued key without a set operator. Left out of JSON when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Serialises shared values as the list they are (serde's `rc` feature
/// would rebuild every crate that depends on serde).
#[allow(clippy::ref_option)]
fn shared_values<S: serde::Serializer>(
    v: &std::sync::Arc<Vec<String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(v.as_slice(), s)
}

/// What a fix's check needs of a decision, without the statement traces:
/// a caller's decision is kept for every fix of its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionSummary {
    pub outcome: Outcome,
    /// Whether a Deny applies ([`Decision::explicit_deny`]).
    pub explicit_deny: Tri,
    /// [`Decision::only_via_account_delegation`].
    pub only_via_account_delegation: bool,
}

impl Decision {
    /// The outcome and whether a Deny applies.
    pub fn summary(&self) -> DecisionSummary {
        DecisionSummary {
            outcome: self.outcome,
            explicit_deny: self.explicit_deny(),
            only_via_account_delegation: self.only_via_account_delegation(),
        }
    }

    /// The statements that decided the outcome: the matching Denies for
    /// `ExplicitDeny`, the matching Allows for `Allowed`, the unknown Denies
    /// (or else unknown Allows) for `Undetermined`, none for `ImplicitDeny`.
    pub fn deciding(&self) -> Vec<&StatementTrace> {
        let pick = |effect, matched| {
            self.statements
                .iter()
                .filter(move |s| s.effect == effect && s.matched == matched)
        };
        match self.outcome {
            Outcome::ExplicitDeny => pick(Effect::Deny, Tri::True).collect(),
            Outcome::Allowed => pick(Effect::Allow, Tri::True).collect(),
            Outcome::ImplicitDeny => Vec::new(),
            Outcome::Undetermined => {
                let denies: Vec<_> = pick(Effect::Deny, Tri::Unknown).collect();
                if denies.is_empty() {
                    pick(Effect::Allow, Tri::Unknown).collect()
                } else {
                    denies
                }
            }
        }
    }

    /// Whether a Deny applies: `True` if one matches, `Unknown` if one may.
    pub fn explicit_deny(&self) -> Tri {
        Tri::any(
            self.statements
                .iter()
                .filter(|s| s.effect == Effect::Deny)
                .map(|s| s.matched),
        )
    }

    /// The notes of every condition, in statement order, without repeats:
    /// why a condition could not be decided from the policy text alone.
    pub fn notes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let all = self.statements.iter().flat_map(|s| &s.conditions);
        for note in all.filter_map(|c| c.note.as_deref()) {
            if !out.contains(&note) {
                out.push(note);
            }
        }
        out
    }

    /// `Allowed` and every deciding Allow matched only through account
    /// delegation: the IAM policy that really allows it is not visible.
    pub fn only_via_account_delegation(&self) -> bool {
        self.outcome == Outcome::Allowed && self.deciding().iter().all(|s| s.via_account_delegation)
    }
}

/// Evaluate `policy` for `req`.
///
/// ```
/// use denydiff::policy::{Outcome, Request, evaluate, parse_policy};
///
/// let policy = parse_policy(r#"{"Version": "2012-10-17", "Statement": [{
///     "Sid": "Deny actions except Administrator", "Effect": "Deny",
///     "Principal": "*", "Action": "kms:*", "Resource": "*",
///     "Condition": {"StringNotEquals": {
///         "aws:PrincipalArn": ["arn:aws:iam::111122223333:user/admin"]}}}]}"#)?;
/// let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd";
/// let backup = Request::service_principal("backup-storage.amazonaws.com", "kms:Decrypt", key);
///
/// let decision = evaluate(&policy, &backup);
/// assert_eq!(decision.outcome, Outcome::ExplicitDeny);
/// let blocking = decision.deciding();
/// assert_eq!(blocking[0].sid.as_deref(), Some("Deny actions except Administrator"));
/// // A service principal has no aws:PrincipalArn, and StringNotEquals on an
/// // absent key is true.
/// assert_eq!(blocking[0].conditions[0].key, "aws:PrincipalArn");
/// # Ok::<(), denydiff::policy::ParseError>(())
/// ```
pub fn evaluate(policy: &Policy, req: &Request) -> Decision {
    let variables = policy.version == Version::V2012;
    let statements: Vec<_> = policy
        .statements
        .iter()
        .map(|s| statement(s, req, variables))
        .collect();
    Decision {
        outcome: outcome(&statements),
        statements,
    }
}

fn outcome(statements: &[StatementTrace]) -> Outcome {
    let any = |effect, matched| {
        statements
            .iter()
            .any(|s| s.effect == effect && s.matched == matched)
    };
    if any(Effect::Deny, Tri::True) {
        Outcome::ExplicitDeny
    } else if any(Effect::Deny, Tri::Unknown) {
        Outcome::Undetermined
    } else if any(Effect::Allow, Tri::True) {
        Outcome::Allowed
    } else if any(Effect::Allow, Tri::Unknown) {
        Outcome::Undetermined
    } else {
        Outcome::ImplicitDeny
    }
}

fn statement(s: &Statement, req: &Request, variables: bool) -> StatementTrace {
    let (principal_match, via_account) = principal_clause(&s.principal, &req.principal);
    let action_match = action_clause(&s.action, &req.action);
    let resource_match = resource_clause(&s.resource, req, variables);
    let conditions: Vec<_> = s
        .conditions
        .iter()
        .map(|c| cond::evaluate(c, &req.context, variables))
        .collect();
    let matched = Tri::all(
        [principal_match, action_match, resource_match]
            .into_iter()
            .chain(conditions.iter().map(|c| c.result)),
    );
    StatementTrace {
        index: s.index,
        sid: s.sid.clone(),
        effect: s.effect,
        principal_match,
        action_match,
        resource_match,
        conditions,
        matched,
        via_account_delegation: via_account && principal_match == Tri::True,
    }
}

/// The principal match and whether it rests only on account patterns.
fn principal_clause(targets: &Targets<PrincipalPattern>, who: &Principal) -> (Tri, bool) {
    match targets {
        Targets::Listed(patterns) => {
            let direct = Tri::any(
                patterns
                    .iter()
                    .filter(|p| !matches!(p, PrincipalPattern::Account(_)))
                    .map(|p| principal(p, who)),
            );
            let account = Tri::any(
                patterns
                    .iter()
                    .filter(|p| matches!(p, PrincipalPattern::Account(_)))
                    .map(|p| principal(p, who)),
            );
            (
                direct.or(account),
                direct != Tri::True && account == Tri::True,
            )
        }
        Targets::Except(patterns) => (
            Tri::any(patterns.iter().map(|p| principal(p, who))).not(),
            false,
        ),
    }
}

/// One `Principal` entry against the caller ("AWS JSON policy elements:
/// Principal").
fn principal(pattern: &PrincipalPattern, who: &Principal) -> Tri {
    match (pattern, who) {
        (PrincipalPattern::Everyone, _)
        | (PrincipalPattern::AnyAws, Principal::Aws { .. } | Principal::Anonymous) => Tri::True,
        // The docs call `{"AWS": "*"}` equivalent to `*` only for anonymous
        // users; whether it covers service or federated principals is not
        // documented, so it is unknown.
        (PrincipalPattern::AnyAws, _) => Tri::Unknown,
        (PrincipalPattern::Account(account), Principal::Aws { arn, account: own }) => {
            let own = own.clone().or_else(|| arn.as_deref().and_then(arn_account));
            own.map_or(Tri::Unknown, |own| Tri::from(own == *account))
        }
        (PrincipalPattern::Arn(pattern), Principal::Aws { arn, account }) => {
            aws_arn(pattern, arn.as_deref(), account.as_deref())
        }
        (PrincipalPattern::Service(name), Principal::Service(own)) => {
            Tri::from(name.eq_ignore_ascii_case(own))
        }
        (PrincipalPattern::Federated(name), Principal::Federated(own)) => Tri::from(name == own),
        _ => Tri::False,
    }
}

/// An exact principal ARN ("AWS JSON policy elements: Principal", role and
/// role-session principals). The caller's ARN is a user or role ARN, or an
/// assumed-role session ARN (`arn:aws:sts::A:assumed-role/R/S`, as a
/// hand-written request may give it):
/// - a role ARN in the policy matches that role's sessions. The session ARN
///   does not show the role's path, so role `R` of account `A` matches on
///   account and name alone: "IAM user, group, role, and policy names must
///   be unique within the account. Names are not distinguished by case"
///   (IAM API Reference, `CreateRole`), whatever their path;
/// - a session ARN in the policy matches that session only; against a role
///   ARN (session unknown) it is `Unknown`.
fn aws_arn(pattern: &str, arn: Option<&str>, account: Option<&str>) -> Tri {
    let pattern_account = arn_account(pattern);
    let other_account = account
        .or(arn.and_then(|a| a.split(':').nth(4)))
        .is_some_and(|a| Some(a.to_owned()) != pattern_account);
    if other_account {
        return Tri::False;
    }
    let Some(arn) = arn else {
        return Tri::Unknown;
    };
    if arn == pattern {
        return Tri::True;
    }
    match (session_role(arn), role_name(pattern)) {
        (Some(session), Some(role)) => return Tri::from(same_role(session, role)),
        (Some(_), None) => return Tri::False,
        _ => {}
    }
    match (session_role(pattern), role_name(arn)) {
        (Some(session), Some(role)) if same_role(session, role) => Tri::Unknown,
        _ => Tri::False,
    }
}

fn arn_account(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    is_account_id(account).then(|| account.to_owned())
}

/// Same partition and account, and role names equal ignoring case.
fn same_role(a: (&str, &str, &str), b: (&str, &str, &str)) -> bool {
    a.0 == b.0 && a.1 == b.1 && a.2.eq_ignore_ascii_case(b.2)
}

/// (partition, account, role name) of `arn:P:sts::A:assumed-role/R/S`.
pub(crate) fn session_role(arn: &str) -> Option<(&str, &str, &str)> {
    let a = crate::arn::Arn::parse(arn)?;
    let (role, session) = a.resource.strip_prefix("assumed-role/")?.split_once('/')?;
    (a.service == "sts" && !role.is_empty() && !session.is_empty()).then_some((
        a.partition,
        a.account,
        role,
    ))
}

/// (partition, account, role name) of `arn:P:iam::A:role/PATH/R`, path dropped.
pub(crate) fn role_name(arn: &str) -> Option<(&str, &str, &str)> {
    let a = crate::arn::Arn::parse(arn)?;
    let name = a.resource.strip_prefix("role/")?.rsplit('/').next()?;
    (a.service == "iam" && !name.is_empty()).then_some((a.partition, a.account, name))
}

/// Actions match case-insensitively with `*` and `?`.
fn action_clause(targets: &Targets<String>, action: &str) -> Tri {
    let any = |items: &[String]| items.iter().any(|p| glob(&literal(p), action, true));
    Tri::from(match targets {
        Targets::Listed(items) => any(items),
        Targets::Except(items) => !any(items),
    })
}

/// Resources match case-sensitively with wildcards and variables.
fn resource_clause(targets: &Targets<String>, req: &Request, variables: bool) -> Tri {
    let one = |p: &String| match expand(p, &req.context, variables) {
        Expanded::Tokens(toks) => Tri::from(glob(&toks, &req.resource, false)),
        Expanded::Unknown => Tri::Unknown,
        Expanded::Missing => Tri::False,
    };
    match targets {
        Targets::Listed(items) => Tri::any(items.iter().map(one)),
        Targets::Except(items) => Tri::any(items.iter().map(one)).not(),
    }
}

#[cfg(test)]
mod tests;
