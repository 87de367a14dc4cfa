//! Diagnosis: which callers a key-policy statement blocks, judged by the
//! policy version in force when each call was made, and whether the latest
//! version still blocks them.
//!
//! One pass over the call rows puts each call in a cell: (key, caller,
//! event name, policy epoch), where epoch `i` is the time the `i`th
//! version of the key's policy was in force. Each cell's request is
//! evaluated once against every version of its key. A denied cell that a
//! Deny of its own epoch matches is blocked by that statement; its cause is
//! the earliest version of the unbroken run of versions that deny it, and
//! it is resolved by the first later version that does not. Successes under
//! an earlier version that the current one would deny are blocked too
//! (replayed; `docs/policy-evaluation.md`, "Replaying successes"), unless
//! the caller also succeeded under the current version. Denials AWS's own
//! message puts on another policy type, and key-state failures, are
//! labelled and never blamed on a statement. Pure: no I/O, no words.

pub mod fixes;
pub mod request;

use foldhash::{HashMap, HashSet};
use serde::Serialize;

use crate::analysis::policies::{KeyPolicy, PolicySet, PolicySource};
use crate::call::{Caller, KmsCall, Outcome as CallOutcome};
use crate::policy::{ConditionTrace, Decision, Outcome, Request, Tri, evaluate};

pub use fixes::{FixRef, ProposedFix};

/// A caller that a key-policy Deny blocks (or blocked, when `state` is
/// `resolved`), one entry per key, caller and cause.
#[derive(Debug, Clone, Serialize)]
pub struct Blocked {
    pub key_arn: String,
    pub caller: Caller,
    pub event_names: Vec<String>,
    /// Denied calls logged.
    pub denied: u64,
    /// Successes under an earlier policy that the current policy would deny.
    pub replayed: u64,
    /// `explicit-deny`, or `undetermined` when the Deny hangs on an unknown key.
    pub decision: Outcome,
    /// The blocking statement, in the version named by `policy`.
    pub statement: StatementRef,
    /// The deciding statement's conditions: key, value seen, result.
    pub evidence: Vec<ConditionTrace>,
    /// The policy version whose change blocked this caller.
    pub policy: PolicyRef,
    /// The cause this entry belongs to (`causes[].id`).
    pub cause: String,
    pub state: State,
    /// The version that unblocked it, when `state` is `resolved`.
    pub resolved_by: Option<PolicyRef>,
    /// The fixes that unblock it: its cause's, by id.
    pub fixes: Vec<FixRef>,
}

/// Whether the latest policy version still blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Ongoing,
    Resolved,
}

/// A policy version: where it came from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash)]
pub struct PolicyRef {
    pub source: PolicySource,
    pub event_id: Option<String>,
    pub origin: Option<String>,
}

impl PolicyRef {
    pub fn of(kp: &KeyPolicy) -> Self {
        Self {
            source: kp.source,
            event_id: kp.event_id.clone(),
            origin: kp.origin.clone(),
        }
    }
}

/// A statement by Sid (if it has one) and 0-based index.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatementRef {
    pub sid: Option<String>,
    pub index: usize,
}

/// Why a failure is not a key-policy statement's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnexplainedKind {
    /// AWS's message names an identity-based policy.
    IdentityPolicy,
    /// ... a service control policy.
    Scp,
    /// ... a resource control policy.
    Rcp,
    /// ... a permissions boundary.
    PermissionsBoundary,
    /// ... a session policy.
    SessionPolicy,
    /// Disabled, pending deletion or not found: the key's state refused it.
    KeyState,
    /// No key policy is known for the key.
    NoPolicy,
    /// CloudTrail does not identify the caller well enough to evaluate.
    NotEvaluable,
    /// The policy in hand allows the call.
    PolicyAllows,
    /// No statement of the policy in hand matches (a grant or IAM policy may
    /// be missing).
    PolicyDoesNotDeny,
}

impl UnexplainedKind {
    /// The policy type AWS's error message names, when it is not the key
    /// policy (`docs/kms-events.md`, "Denial messages").
    pub fn from_message(message: &str) -> Option<Self> {
        let m = message.to_ascii_lowercase();
        [
            ("identity-based polic", Self::IdentityPolicy),
            ("service control polic", Self::Scp),
            ("resource control polic", Self::Rcp),
            ("permissions boundar", Self::PermissionsBoundary),
            ("session polic", Self::SessionPolicy),
        ]
        .into_iter()
        .find(|(needle, _)| m.contains(needle))
        .map(|(_, kind)| kind)
    }
}

/// Failed calls the key policy does not explain.
#[derive(Debug, Clone, Serialize)]
pub struct Unexplained {
    pub key_arn: String,
    pub caller: Caller,
    pub event_names: Vec<String>,
    pub denied: u64,
    pub key_state_failed: u64,
    pub kind: UnexplainedKind,
    /// The error code of a key-state failure.
    pub error_code: Option<String>,
}

/// A caller seen on a key, with its request and how the current policy
/// decides it: what every fix of that key is checked against.
#[derive(Debug, Clone)]
pub struct Observed {
    pub caller: Caller,
    pub event_name: String,
    pub request: Request,
    /// Under the key's current policy.
    pub now: Decision,
}

/// What the causes stage needs of a blocked entry beyond its JSON.
#[derive(Debug, Clone)]
pub struct Link {
    /// The epoch (index into [`PolicySet::epochs`]) whose change blocked it.
    pub version: usize,
    /// The blocking statement in the current version, while it is ongoing.
    pub current_statement: Option<usize>,
    /// The caller's requests (one per event name).
    pub requests: Vec<Request>,
}

/// The diagnosis of all keys.
#[derive(Debug, Default)]
pub struct Diagnosis {
    pub blocked: Vec<Blocked>,
    pub unexplained: Vec<Unexplained>,
    /// `links[i]` belongs to `blocked[i]`.
    pub links: Vec<Link>,
    /// Every (caller, event name) seen on each key with a policy.
    pub observed: HashMap<String, Vec<Observed>>,
}

/// One (key, caller, event name, epoch)'s calls.
struct Cell<'a> {
    key: &'a str,
    caller: &'a Caller,
    event: &'a str,
    epoch: usize,
    succeeded: u64,
    denied: u64,
    key_state: u64,
    /// The last failed call, else the last call: its network and encryption
    /// context stand for the cell's.
    rep: &'a KmsCall,
    /// The policy type the first denial message naming one names.
    named: Option<UnexplainedKind>,
}

/// How one version of a key's policy decides one request.
struct Judgement {
    denies: bool,
    outcome: Outcome,
    statement: Option<StatementRef>,
    evidence: Vec<ConditionTrace>,
    decision: Decision,
}

fn judge(kp: &KeyPolicy, req: &Request) -> Judgement {
    let decision = evaluate(&kp.policy, req);
    let denies = matches!(
        decision.outcome,
        Outcome::ExplicitDeny | Outcome::Undetermined
    ) && decision.explicit_deny() != Tri::False;
    let first = decision.deciding().first().map(|s| {
        (
            StatementRef {
                sid: s.sid.clone(),
                index: s.index,
            },
            s.conditions.clone(),
        )
    });
    let (statement, evidence) = match (denies, first) {
        (true, Some((s, e))) => (Some(s), e),
        _ => (None, Vec::new()),
    };
    Judgement {
        denies: denies && statement.is_some(),
        outcome: decision.outcome,
        statement,
        evidence,
        decision,
    }
}

/// The epoch in force at `t`: the latest version set at or before it, the
/// first before any, the last when the time is unknown or versions carry
/// none.
pub fn epoch_at(epochs: &[KeyPolicy], t: Option<i64>) -> usize {
    let last = epochs.len().saturating_sub(1);
    let Some(t) = t else { return last };
    if epochs.iter().any(|p| p.time_ms.is_none()) {
        return last;
    }
    epochs
        .iter()
        .rposition(|p| p.time_ms.is_some_and(|pt| pt <= t))
        .unwrap_or(0)
}

/// Diagnoses every call against the key policies in `policies`.
pub fn diagnose(calls: &[KmsCall], policies: &PolicySet) -> Diagnosis {
    let all = cells(calls, policies);
    // A caller that succeeded under the current version is not blocked by it.
    let ok_now: HashSet<(&str, &Caller, &str)> = all
        .iter()
        .filter(|c| c.succeeded > 0 && c.epoch + 1 == policies.epochs(c.key).len())
        .map(|c| (c.key, c.caller, c.event))
        .collect();
    let mut d = Diagnosis::default();
    let mut blocked_at: HashMap<(&str, &Caller, usize, usize), usize> = HashMap::default();
    let mut unexplained_at: HashMap<(&str, &Caller, UnexplainedKind), usize> = HashMap::default();
    let mut observed_at: HashMap<(&str, &Caller, &str), usize> = HashMap::default();
    for cell in &all {
        let mut explain = |kind: UnexplainedKind| {
            add_unexplained(&mut d.unexplained, &mut unexplained_at, cell, kind);
        };
        if cell.key_state > 0 {
            explain(UnexplainedKind::KeyState);
        }
        if cell.denied > 0
            && let Some(kind) = cell.named
        {
            explain(kind);
            continue;
        }
        let epochs = policies.epochs(cell.key);
        if epochs.is_empty() {
            if cell.denied > 0 {
                explain(UnexplainedKind::NoPolicy);
            }
            continue;
        }
        let Some(req) = request::request_for(cell.caller, cell.key, cell.event, Some(cell.rep))
        else {
            if cell.denied > 0 {
                explain(UnexplainedKind::NotEvaluable);
            }
            continue;
        };
        let judged: Vec<Judgement> = epochs.iter().map(|kp| judge(kp, &req)).collect();
        let last = judged.len() - 1;
        if cell.denied > 0 && !judged[cell.epoch].denies {
            explain(match judged[cell.epoch].outcome {
                Outcome::Allowed => UnexplainedKind::PolicyAllows,
                _ => UnexplainedKind::PolicyDoesNotDeny,
            });
        }
        let replay = cell.succeeded > 0
            && judged[last].denies
            && !ok_now.contains(&(cell.key, cell.caller, cell.event))
            && (cell.epoch < last || epochs[last].time_ms.is_none());
        let hits = [
            (cell.denied > 0 && judged[cell.epoch].denies).then_some((cell.epoch, cell.denied, 0)),
            replay.then_some((last, 0, cell.succeeded)),
        ];
        for (at, denied, replayed) in hits.into_iter().flatten() {
            let version = (0..=at)
                .rev()
                .take_while(|&v| judged[v].denies)
                .last()
                .unwrap_or(at);
            let resolved = (version..=last).find(|&v| !judged[v].denies);
            let j = &judged[version];
            let stmt = j
                .statement
                .clone()
                .expect("a denying judgement names its statement");
            let id = (cell.key, cell.caller, version, stmt.index);
            let i = *blocked_at.entry(id).or_insert_with(|| {
                d.blocked.push(Blocked {
                    key_arn: cell.key.to_owned(),
                    caller: cell.caller.clone(),
                    event_names: Vec::new(),
                    denied: 0,
                    replayed: 0,
                    decision: j.outcome,
                    statement: stmt.clone(),
                    evidence: j.evidence.clone(),
                    policy: PolicyRef::of(&epochs[version]),
                    cause: String::new(),
                    state: if resolved.is_some() {
                        State::Resolved
                    } else {
                        State::Ongoing
                    },
                    resolved_by: resolved.map(|v| PolicyRef::of(&epochs[v])),
                    fixes: Vec::new(),
                });
                d.links.push(Link {
                    version,
                    current_statement: judged[last].statement.as_ref().map(|s| s.index),
                    requests: Vec::new(),
                });
                d.blocked.len() - 1
            });
            let b = &mut d.blocked[i];
            b.denied += denied;
            b.replayed += replayed;
            if j.outcome == Outcome::ExplicitDeny {
                b.decision = Outcome::ExplicitDeny;
            }
            if !b.event_names.iter().any(|e| e == cell.event) {
                b.event_names.push(cell.event.to_owned());
                d.links[i].requests.push(req.clone());
            }
        }
        // The latest cell of each (caller, event) stands for it in the checks.
        let seen = d.observed.entry(cell.key.to_owned()).or_default();
        let o = Observed {
            caller: cell.caller.clone(),
            event_name: cell.event.to_owned(),
            request: req,
            now: judged
                .into_iter()
                .next_back()
                .expect("one version at least")
                .decision,
        };
        if let Some(&i) = observed_at.get(&(cell.key, cell.caller, cell.event)) {
            seen[i] = o;
        } else {
            observed_at.insert((cell.key, cell.caller, cell.event), seen.len());
            seen.push(o);
        }
    }
    d
}

/// Every call in its cell, cells in order of first appearance.
fn cells<'a>(calls: &'a [KmsCall], policies: &PolicySet) -> Vec<Cell<'a>> {
    let mut out: Vec<Cell<'a>> = Vec::new();
    let mut at: HashMap<(&str, &Caller, &str, usize), usize> = HashMap::default();
    let mut epochs: HashMap<&str, &[KeyPolicy]> = HashMap::default();
    for c in calls {
        let key: &str = &c.key;
        let versions = *epochs.entry(key).or_insert_with(|| policies.epochs(key));
        let epoch = epoch_at(versions, c.time_ms);
        let i = *at
            .entry((key, &*c.caller, &*c.event_name, epoch))
            .or_insert_with(|| {
                out.push(Cell {
                    key,
                    caller: &c.caller,
                    event: &c.event_name,
                    epoch,
                    succeeded: 0,
                    denied: 0,
                    key_state: 0,
                    rep: c,
                    named: None,
                });
                out.len() - 1
            });
        let cell = &mut out[i];
        let failed = c.outcome != CallOutcome::Succeeded;
        if failed || cell.rep.outcome == CallOutcome::Succeeded {
            cell.rep = c;
        }
        match c.outcome {
            CallOutcome::Succeeded => cell.succeeded += 1,
            CallOutcome::Denied => {
                cell.denied += 1;
                if cell.named.is_none() {
                    cell.named = c
                        .error_message
                        .as_deref()
                        .and_then(UnexplainedKind::from_message);
                }
            }
            CallOutcome::KeyStateFailed => cell.key_state += 1,
            CallOutcome::OtherFailed => {}
        }
    }
    out
}

fn add_unexplained<'a>(
    list: &mut Vec<Unexplained>,
    at: &mut HashMap<(&'a str, &'a Caller, UnexplainedKind), usize>,
    cell: &Cell<'a>,
    kind: UnexplainedKind,
) {
    let key_state = kind == UnexplainedKind::KeyState;
    let (denied, key_state_failed) = if key_state {
        (0, cell.key_state)
    } else {
        (cell.denied, 0)
    };
    let i = *at.entry((cell.key, cell.caller, kind)).or_insert_with(|| {
        list.push(Unexplained {
            key_arn: cell.key.to_owned(),
            caller: cell.caller.clone(),
            event_names: Vec::new(),
            denied: 0,
            key_state_failed: 0,
            kind,
            error_code: None,
        });
        list.len() - 1
    });
    let u = &mut list[i];
    u.denied += denied;
    u.key_state_failed += key_state_failed;
    if !u.event_names.iter().any(|e| e == cell.event) {
        u.event_names.push(cell.event.to_owned());
    }
    if key_state && u.error_code.is_none() {
        u.error_code = cell
            .rep
            .error_code
            .as_ref()
            .filter(|_| cell.rep.outcome == CallOutcome::KeyStateFailed)
            .map(ToString::to_string);
    }
}
