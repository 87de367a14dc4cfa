//! The explanation of one event, or one request described by hand, against
//! one or two key policies (`denydiff explain`).
//!
//! An event's request context is synthesised exactly as `analyze` does it
//! (`diagnosis::request`); a hand-written request is taken literally: keys
//! given are present, keys left out are absent, `null` is an error. The
//! fixes are those `analyze` would propose, verified the same way. Reading
//! files happens in `cmd::explain`; evaluation stays in `policy`.

use serde::Serialize;

use crate::analysis::diagnosis::StatementRef;
use crate::analysis::diagnosis::fixes::{ProposedFix, make_fixes};
use crate::analysis::diagnosis::request::{arn_part, blocked_caller_for};
use crate::call::{CallerClass, KmsCall};
use crate::policy::context::role_of_session;
use crate::policy::{
    BlockedCaller, ConditionTrace, Decision, Effect, Outcome, Policy, Principal, Request, Tri,
    evaluate,
};

/// What is being explained.
#[derive(Debug)]
pub enum Subject {
    /// A CloudTrail record, with the request denydiff derives from it.
    Event {
        call: Box<KmsCall>,
        request: Request,
    },
    /// A request given directly.
    Request(Request),
}

/// The explanation, in the shape the JSON output serialises.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub schema_version: u32,
    pub subject: SubjectSummary,
    /// The decision under the last policy given.
    pub decision: Outcome,
    /// Every statement of the last policy, with its evidence.
    pub statements: Vec<StatementOut>,
    /// One entry per `--policy`, in the order given.
    pub policies: Vec<PolicyDecision>,
    /// With two policies: whether the decision differs.
    pub changed: bool,
    /// Fixes for the deciding Deny of the last policy, verified.
    pub fixes: Vec<ProposedFix>,
    pub notes: Vec<String>,
}

/// Who asked for what.
#[derive(Debug, Serialize)]
pub struct SubjectSummary {
    pub kind: &'static str,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub event_id: Option<String>,
    pub caller_class: Option<CallerClass>,
}

/// One policy's decision.
#[derive(Debug, Serialize)]
pub struct PolicyDecision {
    pub policy: String,
    pub decision: Outcome,
    /// The deciding statements, by Sid and index.
    pub deciding: Vec<StatementRef>,
}

/// One statement's trace.
#[derive(Debug, Serialize)]
pub struct StatementOut {
    pub sid: Option<String>,
    pub index: usize,
    pub effect: Effect,
    pub matched: Tri,
    pub deciding: bool,
    pub principal_match: Tri,
    pub action_match: Tri,
    pub resource_match: Tri,
    pub via_account_delegation: bool,
    pub conditions: Vec<ConditionTrace>,
}

/// Explains `subject` against each policy (`(name, policy)`, in order).
pub fn explain(subject: &Subject, policies: &[(String, Policy)]) -> Explanation {
    let req = match subject {
        Subject::Event { request, .. } | Subject::Request(request) => request,
    };
    let decisions: Vec<Decision> = policies.iter().map(|(_, p)| evaluate(p, req)).collect();
    let last = decisions.last().expect("at least one policy");
    let (_, policy) = policies.last().expect("at least one policy");
    let (fixes, mut notes) = fixes(subject, req, policy, last);
    notes.extend(session_note(subject, req));
    notes.extend(decision_notes(req, last));
    Explanation {
        schema_version: crate::report::SCHEMA_VERSION,
        subject: summary(subject, req),
        decision: last.outcome,
        statements: statements(last),
        policies: policies
            .iter()
            .zip(&decisions)
            .map(|((n, _), d)| PolicyDecision {
                policy: n.clone(),
                decision: d.outcome,
                deciding: d
                    .deciding()
                    .iter()
                    .map(|s| StatementRef {
                        sid: s.sid.clone(),
                        index: s.index,
                    })
                    .collect(),
            })
            .collect(),
        changed: decisions.windows(2).any(|w| w[0].outcome != w[1].outcome),
        fixes,
        notes,
    }
}

fn summary(subject: &Subject, req: &Request) -> SubjectSummary {
    let principal = match &req.principal {
        Principal::Aws { arn, account } => {
            arn.clone().or_else(|| account.clone()).unwrap_or_default()
        }
        Principal::Service(s) | Principal::Federated(s) => s.clone(),
        Principal::Anonymous => "anonymous".into(),
    };
    let (kind, event_id, class) = match subject {
        Subject::Event { call, .. } => (
            "event",
            call.event_id.as_ref().map(ToString::to_string),
            Some(call.caller.class),
        ),
        Subject::Request(_) => ("request", None, None),
    };
    SubjectSummary {
        kind,
        principal,
        action: req.action.clone(),
        resource: req.resource.clone(),
        event_id,
        caller_class: class,
    }
}

fn statements(d: &Decision) -> Vec<StatementOut> {
    let deciding: Vec<usize> = d.deciding().iter().map(|s| s.index).collect();
    d.statements
        .iter()
        .map(|s| StatementOut {
            sid: s.sid.clone(),
            index: s.index,
            effect: s.effect,
            matched: s.matched,
            deciding: deciding.contains(&s.index),
            principal_match: s.principal_match,
            action_match: s.action_match,
            resource_match: s.resource_match,
            via_account_delegation: s.via_account_delegation,
            conditions: s.conditions.clone(),
        })
        .collect()
}

fn decision_notes(req: &Request, d: &Decision) -> Vec<String> {
    let mut notes = Vec::new();
    if d.outcome == Outcome::ImplicitDeny && matches!(req.principal, Principal::Service(_)) {
        notes.push("no key-policy statement allows this service principal: the call can only rest on a grant (CloudTrail shows grants as CreateGrant/RetireGrant/RevokeGrant)".into());
    }
    if d.only_via_account_delegation() {
        notes.push("allowed only through the account principal: an IAM policy of the account must also allow it, which this policy cannot show".into());
    }
    let hangs_on_unknown_key = d.deciding().iter().any(|s| {
        s.conditions
            .iter()
            .any(|c| c.result == Tri::Unknown && c.note.is_none())
            || [s.principal_match, s.resource_match].contains(&Tri::Unknown)
    });
    if d.outcome == Outcome::Undetermined && hangs_on_unknown_key {
        notes.push(
            "the decision hangs on a condition key the request does not show (seen `unknown`)"
                .into(),
        );
    }
    notes.extend(d.notes().into_iter().map(str::to_owned));
    notes
}

/// How an assumed-role session ARN given as the principal was read.
fn session_note(subject: &Subject, req: &Request) -> Option<String> {
    let Subject::Request(_) = subject else {
        return None;
    };
    let Principal::Aws { arn: Some(arn), .. } = &req.principal else {
        return None;
    };
    let role = role_of_session(arn)?;
    Some(format!(
        "principal `{arn}` is an assumed-role session: a role ARN in the policy's `Principal` matches it by account and role name (`{role}`, any path: a session ARN does not show the role's path), and its `aws:PrincipalArn` is the role's ARN, here `{role}` (path `/` assumed; give `aws:PrincipalArn` in `context` if the role has a path)"
    ))
}

/// The caller in fix terms: from the event's caller, or guessed from the request.
fn fix_caller(subject: &Subject, req: &Request) -> Option<BlockedCaller> {
    let region = arn_part(&req.resource, 3).unwrap_or_default().to_owned();
    match subject {
        Subject::Event { call, .. } => {
            let region = call.region.as_deref().map_or(region, str::to_owned);
            blocked_caller_for(&call.caller, &region)
        }
        Subject::Request(_) => match &req.principal {
            Principal::Service(s) => Some(BlockedCaller::ServicePrincipal { service: s.clone() }),
            Principal::Aws { arn: Some(arn), .. } => Some(via_service(req).map_or_else(
                || BlockedCaller::Direct {
                    principal_arn: role_of_session(arn).unwrap_or_else(|| arn.clone()),
                },
                |service| BlockedCaller::ForwardAccess {
                    service,
                    region: region.clone(),
                },
            )),
            _ => None,
        },
    }
}

/// `kms:ViaService` = `backup.eu-west-1.amazonaws.com` -> `backup.amazonaws.com`.
fn via_service(req: &Request) -> Option<String> {
    let crate::policy::Seen::Present(v) = req.context.get("kms:ViaService") else {
        return None;
    };
    let name = v.first()?.split('.').next()?;
    Some(format!("{name}.amazonaws.com"))
}

fn fixes(
    subject: &Subject,
    req: &Request,
    policy: &Policy,
    d: &Decision,
) -> (Vec<ProposedFix>, Vec<String>) {
    if d.explicit_deny() == Tri::False {
        return (Vec::new(), Vec::new());
    }
    let Some(stmt) = d.deciding().into_iter().find(|s| s.effect == Effect::Deny) else {
        return (Vec::new(), Vec::new());
    };
    let Some(caller) = fix_caller(subject, req) else {
        return (
            Vec::new(),
            vec!["no fix: the caller is not identified well enough".into()],
        );
    };
    let (fixes, failures) = make_fixes(policy, stmt.index, &caller, req);
    let notes = failures
        .into_iter()
        .map(|f| format!("no {} fix: {}", fix_kind_name(f.kind), f.reason))
        .collect();
    (fixes, notes)
}

fn fix_kind_name(k: crate::policy::FixKind) -> &'static str {
    match k {
        crate::policy::FixKind::Broad => "broad",
        crate::policy::FixKind::Narrow => "narrow",
        crate::policy::FixKind::Restore => "restore",
    }
}

/// The exit code that tells a script the decision (README, "Exit codes").
pub fn exit_code(o: Outcome) -> u8 {
    match o {
        Outcome::Allowed => 0,
        Outcome::ExplicitDeny => 3,
        Outcome::Undetermined => 4,
        Outcome::ImplicitDeny => 5,
    }
}
