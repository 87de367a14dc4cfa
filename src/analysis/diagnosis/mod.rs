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
//! message puts on another policy type, or on the key policy allowing
//! nothing, and key-state failures, are labelled and never blamed on a
//! statement. When the message says a key-policy Deny refused the call and
//! the evaluation finds none, the Denies that would match if the keys the
//! trail cannot show took other values are the likely cause (`undetermined`,
//! with those keys named). Pure: no I/O, no words.

pub mod fixes;
pub mod request;

use foldhash::{HashMap, HashSet};
use serde::Serialize;

use crate::analysis::policies::{KeyPolicy, PolicySet, PolicySource, epoch_at};
use crate::call::{Caller, KmsCall, Outcome as CallOutcome};
use crate::policy::{
    ConditionTrace, Decision, DecisionSummary, Outcome, Request, Seen, Tri, evaluate,
};

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
    /// The condition keys the Deny hangs on whose values CloudTrail cannot
    /// show (empty when `decision` is `explicit-deny`).
    pub uncertain_keys: Vec<String>,
    /// What AWS's denial message said of the key policy, when it said.
    pub aws_says: Option<KeyPolicyMessage>,
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
    /// AWS's message says no key-policy statement allows the call (an
    /// implicit deny): no Deny is to blame.
    KeyPolicyNoAllow,
    /// AWS's message says a key-policy Deny refused the call, but no Deny of
    /// the policy in hand can match, whatever the keys CloudTrail cannot
    /// show: the policy in hand may not be the one in force.
    KeyPolicyDenyNotFound,
}

impl UnexplainedKind {
    /// The policy type AWS's error message names, when it is not the key
    /// policy (`docs/kms-events.md`, "What `errorMessage` says").
    pub fn from_message(message: &str) -> Option<Self> {
        match Reading::from_message(message)? {
            Reading::Other(kind) => Some(kind),
            Reading::KeyPolicy(_) => None,
        }
    }
}

/// What AWS's denial message says of the key policy (a resource-based
/// policy, in its words; `docs/kms-events.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPolicyMessage {
    /// `with an explicit deny in a resource-based policy`: a Deny decided.
    ExplicitDeny,
    /// `because no resource-based policy allows`: an implicit deny.
    NoAllow,
    /// `no resource-based policies allow access, or a resource-based policy
    /// explicitly denies access`: one of the two.
    DenyOrNoAllow,
}

/// What one denial message says decided the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Another policy type than the key policy.
    Other(UnexplainedKind),
    KeyPolicy(KeyPolicyMessage),
}

impl Reading {
    /// The reading of AWS's error message, when it names a policy type.
    pub fn from_message(message: &str) -> Option<Self> {
        let m = message.to_ascii_lowercase();
        let other = [
            ("identity-based polic", UnexplainedKind::IdentityPolicy),
            ("service control polic", UnexplainedKind::Scp),
            ("resource control polic", UnexplainedKind::Rcp),
            ("permissions boundar", UnexplainedKind::PermissionsBoundary),
            ("session polic", UnexplainedKind::SessionPolicy),
        ]
        .into_iter()
        .find(|(needle, _)| m.contains(needle))
        .map(|(_, kind)| Self::Other(kind));
        let key_policy = || {
            let says = |needle: &str| m.contains(needle);
            if says("no resource-based policies allow") && says("explicitly denies") {
                Some(KeyPolicyMessage::DenyOrNoAllow)
            } else if says("explicit deny in a resource-based policy") {
                Some(KeyPolicyMessage::ExplicitDeny)
            } else if says("no resource-based policy allows") {
                Some(KeyPolicyMessage::NoAllow)
            } else {
                None
            }
        };
        other.or_else(|| key_policy().map(Self::KeyPolicy))
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
    pub now: DecisionSummary,
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

impl Diagnosis {
    /// Each (key, caller)'s blocked entry that stands for it: an ongoing one
    /// when there is one, else the first.
    pub fn blocked_by_caller(&self) -> HashMap<(&str, &Caller), &Blocked> {
        let mut out: HashMap<(&str, &Caller), &Blocked> = HashMap::default();
        for b in &self.blocked {
            let slot = out.entry((b.key_arn.as_str(), &b.caller)).or_insert(b);
            if slot.state == State::Resolved && b.state == State::Ongoing {
                *slot = b;
            }
        }
        out
    }
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
    /// What the first denial message naming a policy type says.
    named: Option<Reading>,
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

/// Diagnoses every call against the key policies in `policies`.
/// `org_id`: the key's account's organization (`--org-id`), if given.
pub fn diagnose(calls: &[KmsCall], policies: &PolicySet, org_id: Option<&str>) -> Diagnosis {
    let all = cells(calls, policies);
    // A caller that succeeded under the current version is not blocked by it.
    let ok_now: HashSet<(&str, &Caller, &str)> = all
        .iter()
        .filter(|c| c.succeeded > 0 && c.epoch + 1 == policies.epochs(c.key).len())
        .map(|c| (c.key, c.caller, c.event))
        .collect();
    let mut d = Diagnosis::default();
    let mut at = At::default();
    for cell in &all {
        let mut explain = |kind: UnexplainedKind| {
            add_unexplained(&mut d.unexplained, &mut at.unexplained, cell, kind);
        };
        if cell.key_state > 0 {
            explain(UnexplainedKind::KeyState);
        }
        let says = match cell.named {
            Some(Reading::Other(kind)) if cell.denied > 0 => {
                explain(kind);
                continue;
            }
            Some(Reading::KeyPolicy(m)) => Some(m),
            _ => None,
        };
        let epochs = policies.epochs(cell.key);
        if epochs.is_empty() {
            if cell.denied > 0 {
                explain(UnexplainedKind::NoPolicy);
            }
            continue;
        }
        let Some(req) = request::request_for(cell.caller, cell.key, cell.event, Some(cell.rep))
            .map(|r| request::with_org(r, cell.caller, cell.key, org_id))
        else {
            if cell.denied > 0 {
                explain(UnexplainedKind::NotEvaluable);
            }
            continue;
        };
        let judged: Vec<Judgement> = epochs.iter().map(|kp| judge(kp, &req)).collect();
        let last = judged.len() - 1;
        let likely = (cell.denied > 0
            && says == Some(KeyPolicyMessage::ExplicitDeny)
            && !judged[cell.epoch].denies)
            .then(|| likely_cause(epochs, cell, &req))
            .flatten();
        let denied_by: Option<(&[Judgement], &Request)> = match &likely {
            _ if cell.denied == 0 => None,
            // AWS says nothing allowed it: no Deny is to blame.
            _ if says == Some(KeyPolicyMessage::NoAllow) => {
                explain(UnexplainedKind::KeyPolicyNoAllow);
                None
            }
            _ if judged[cell.epoch].denies => Some((&judged, &req)),
            Some((j, r)) => Some((j, r)),
            None => {
                explain(match (says, judged[cell.epoch].outcome) {
                    (Some(KeyPolicyMessage::ExplicitDeny), _) => {
                        UnexplainedKind::KeyPolicyDenyNotFound
                    }
                    (_, Outcome::Allowed) => UnexplainedKind::PolicyAllows,
                    _ => UnexplainedKind::PolicyDoesNotDeny,
                });
                None
            }
        };
        let replay = cell.succeeded > 0
            && judged[last].denies
            && !ok_now.contains(&(cell.key, cell.caller, cell.event))
            && (cell.epoch < last || epochs[last].time_ms.is_none());
        // Denied under a version a later one undid, and denied again by the
        // latest: blocked now too, by the change that put the Deny back,
        // even when no call was logged since.
        let blocked_again = denied_by.filter(|(j, _)| {
            !replay && j[last].denies && (cell.epoch..=last).any(|v| !j[v].denies)
        });
        let hits = [
            denied_by.map(|(judged, request)| Hit {
                judged,
                request,
                at: cell.epoch,
                denied: cell.denied,
                replayed: 0,
                says,
            }),
            replay.then_some(Hit {
                judged: &judged,
                request: &req,
                at: last,
                denied: 0,
                replayed: cell.succeeded,
                says: None,
            }),
            blocked_again.map(|(judged, request)| Hit {
                judged,
                request,
                at: last,
                denied: 0,
                replayed: 0,
                says: None,
            }),
        ];
        for hit in hits.into_iter().flatten() {
            record(&mut d, &mut at.blocked, cell, epochs, &hit);
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
                .decision
                .summary(),
        };
        if let Some(&i) = at.observed.get(&(cell.key, cell.caller, cell.event)) {
            seen[i] = o;
        } else {
            at.observed
                .insert((cell.key, cell.caller, cell.event), seen.len());
            seen.push(o);
        }
    }
    d
}

/// Where each entry is, by what identifies it.
#[derive(Default)]
struct At<'a> {
    blocked: HashMap<(&'a str, &'a Caller, usize, usize), usize>,
    unexplained: HashMap<(&'a str, &'a Caller, UnexplainedKind), usize>,
    observed: HashMap<(&'a str, &'a Caller, &'a str), usize>,
}

/// A cell's calls that a Deny of version `at` blocks, judged by every
/// version for `request`.
struct Hit<'j> {
    judged: &'j [Judgement],
    request: &'j Request,
    at: usize,
    denied: u64,
    replayed: u64,
    says: Option<KeyPolicyMessage>,
}

/// Where AWS says a key-policy Deny refused the cell's calls and the
/// evaluation finds none: its request with every key the policies read that
/// the trail may not show set to unknown ([`request::relaxed`]), judged by
/// every version, when a Deny of the version in force can match then.
fn likely_cause(
    epochs: &[KeyPolicy],
    cell: &Cell<'_>,
    req: &Request,
) -> Option<(Vec<Judgement>, Request)> {
    let relaxed = request::relaxed(req, epochs.iter().map(|kp| &kp.policy), cell.rep);
    let judged: Vec<Judgement> = epochs.iter().map(|kp| judge(kp, &relaxed)).collect();
    judged[cell.epoch].denies.then_some((judged, relaxed))
}

/// The keys of `evidence` whose values CloudTrail cannot show, in order.
fn uncertain_keys(evidence: &[ConditionTrace]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Unknown values, and conditions undecided for another reason (a
    // multivalued key under an operator without a set qualifier).
    for c in evidence
        .iter()
        .filter(|c| c.seen == Seen::Unknown || c.result == Tri::Unknown)
    {
        if !out.iter().any(|k| k.eq_ignore_ascii_case(&c.key)) {
            out.push(c.key.clone());
        }
    }
    out
}

/// Adds `hit` to the blocked entry of its cell's caller, cause and
/// statement, made on first sight.
fn record<'a>(
    d: &mut Diagnosis,
    blocked_at: &mut HashMap<(&'a str, &'a Caller, usize, usize), usize>,
    cell: &Cell<'a>,
    epochs: &[KeyPolicy],
    hit: &Hit<'_>,
) {
    let judged = hit.judged;
    let last = judged.len() - 1;
    let version = (0..=hit.at)
        .rev()
        .take_while(|&v| judged[v].denies)
        .last()
        .unwrap_or(hit.at);
    // This cause ends with the first version after it that lets the call
    // through; a later version that denies again is a cause of its own
    // (see `blocked_again`).
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
            uncertain_keys: uncertain_keys(&j.evidence),
            aws_says: None,
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
    b.denied += hit.denied;
    b.replayed += hit.replayed;
    if j.outcome == Outcome::ExplicitDeny {
        b.decision = Outcome::ExplicitDeny;
        b.uncertain_keys.clear();
        b.evidence.clone_from(&j.evidence);
    }
    if b.aws_says.is_none() {
        b.aws_says = hit.says;
    }
    if !b.event_names.iter().any(|e| e == cell.event) {
        b.event_names.push(cell.event.to_owned());
        d.links[i].requests.push(hit.request.clone());
    }
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
                    cell.named = c.error_message.as_deref().and_then(Reading::from_message);
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

#[cfg(test)]
mod tests {
    use super::{KeyPolicyMessage as K, Reading, UnexplainedKind as U};

    fn reads(message: &str) -> Option<Reading> {
        Reading::from_message(message)
    }

    #[test]
    fn denial_messages_name_who_decided() {
        let head = "User: arn:aws:sts::111122223333:assumed-role/app/s is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-west-1:111122223333:key/k";
        let says = |tail: &str| reads(&format!("{head} {tail}"));
        assert_eq!(
            says("with an explicit deny in a resource-based policy"),
            Some(Reading::KeyPolicy(K::ExplicitDeny))
        );
        assert_eq!(
            says("because no resource-based policy allows the kms:Decrypt action"),
            Some(Reading::KeyPolicy(K::NoAllow))
        );
        assert_eq!(
            says(
                "because no resource-based policies allow access, or a resource-based policy explicitly denies access"
            ),
            Some(Reading::KeyPolicy(K::DenyOrNoAllow))
        );
        assert_eq!(
            says("with an explicit deny in a resource control policy"),
            Some(Reading::Other(U::Rcp))
        );
        assert_eq!(
            says("with an explicit deny in a service control policy"),
            Some(Reading::Other(U::Scp))
        );
        assert_eq!(
            U::from_message(&format!(
                "{head} with an explicit deny in a resource-based policy"
            )),
            None,
            "the key policy is no other policy type"
        );
        assert_eq!(
            reads("The ciphertext refers to a key that does not exist"),
            None
        );
    }
}
