//! Diagnosis: which callers a key-policy statement blocks, why, and a fix
//! verified by evaluating the patched policy again.
//!
//! For each key with a known policy, every caller group is evaluated against
//! the policy in force now (DESIGN.md, "Replaying successes"): a denied
//! caller that a Deny matches is blocked by that statement; a caller that
//! only succeeded, under an earlier policy, but that a Deny now matches is
//! blocked too (replayed), even when no failure was logged. Denials the key
//! policy does not explain (identity policies, SCPs, key state) are labelled
//! and never blamed on a statement. Pure: no I/O.

pub mod fixes;
pub mod policies;
pub mod request;

use std::collections::BTreeMap;

use foldhash::HashMap;

use serde::Serialize;

use crate::call::{Caller, KmsCall, Outcome as CallOutcome};
use crate::diff::Group;
use crate::policy::{ConditionTrace, Outcome, evaluate};

pub use fixes::ProposedFix;
pub use policies::{KeyPolicy, PolicyError, PolicySet, PolicySource};

/// A caller that a key-policy Deny blocks.
#[derive(Debug, Clone, Serialize)]
pub struct Blocked {
    pub key_arn: String,
    pub caller: Caller,
    pub event_names: Vec<String>,
    /// Denied calls logged.
    pub denied: u64,
    /// Successes under an earlier policy that the current policy would deny.
    pub replayed: u64,
    /// `explicit_deny`, or `undetermined` when the Deny hangs on an unknown key.
    pub decision: Outcome,
    pub statement: StatementRef,
    /// The deciding statement's conditions: key, value seen, result.
    pub evidence: Vec<ConditionTrace>,
    /// The policy version the statement belongs to.
    pub policy: PolicyRef,
    pub fixes: Vec<ProposedFix>,
    /// Callers a fix knowingly leaves blocked, and similar notes.
    pub notes: Vec<String>,
}

/// A policy version: where it came from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash)]
pub struct PolicyRef {
    pub source: PolicySource,
    pub event_id: Option<String>,
    pub origin: Option<String>,
}

/// A statement by Sid (if it has one) and 0-based index.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash)]
pub struct StatementRef {
    pub sid: Option<String>,
    pub index: usize,
}

/// Failed calls the key policy does not explain.
#[derive(Debug, Clone, Serialize)]
pub struct Unexplained {
    pub key_arn: String,
    pub caller: Caller,
    pub event_names: Vec<String>,
    pub denied: u64,
    pub key_state_failed: u64,
    /// `identity-policy`, `scp`, `permissions-boundary`, `session-policy`,
    /// `key-state`, `no-policy`, `not-evaluable`, `policy-allows`.
    pub kind: &'static str,
    pub reason: String,
}

/// The diagnosis of all keys.
#[derive(Debug, Default, Serialize)]
pub struct Diagnosis {
    pub blocked: Vec<Blocked>,
    pub unexplained: Vec<Unexplained>,
}

/// Diagnoses every group against the key policies in `policies`.
///
/// Entries are merged through maps of their identities, and each blocked
/// entry's fixes are proposed once, after merging: scanning the lists for
/// every group, and proposing twice, made 2,000 blocked roles on one key
/// take 125 s.
pub fn diagnose(groups: &[Group], calls: &[KmsCall], policies: &PolicySet) -> Diagnosis {
    let mut d = Diagnosis::default();
    let reps = representatives(calls);
    let mut blocked_at: HashMap<BlockedId, usize> = HashMap::default();
    // The policy each blocked entry was first judged by.
    let mut judged_by: Vec<&KeyPolicy> = Vec::new();
    let mut unexplained_at: HashMap<UnexplainedId, usize> = HashMap::default();
    for g in groups {
        let rep = reps
            .get(&(g.key_arn.as_str(), g.event_name.as_str(), &g.caller))
            .copied();
        match judge(g, rep, policies) {
            Verdict::Blocked(b, kp) => {
                let id = b.id();
                if let Some(&i) = blocked_at.get(&id) {
                    merge_blocked(&mut d.blocked[i], b);
                } else {
                    blocked_at.insert(id, d.blocked.len());
                    judged_by.push(kp);
                    d.blocked.push(b);
                }
            }
            Verdict::Unexplained(u) => {
                merge_unexplained(&mut d.unexplained, &mut unexplained_at, u);
            }
            Verdict::Fine => {}
        }
        if g.key_state_failed > 0 {
            merge_unexplained(&mut d.unexplained, &mut unexplained_at, key_state(g, rep));
        }
    }
    // Fixes patch the current policy where one is known.
    for (b, first) in d.blocked.iter_mut().zip(judged_by) {
        let kp = policies.current(&b.key_arn).unwrap_or(first);
        let (fixes, notes) = fixes::propose(b, kp, groups, &reps);
        b.fixes = fixes;
        b.notes.extend(notes);
    }
    d
}

type GroupId<'a> = (&'a str, &'a str, &'a Caller);

/// The last failed call of each group, else its last call.
fn representatives(calls: &[KmsCall]) -> BTreeMap<GroupId<'_>, &KmsCall> {
    let mut out: BTreeMap<GroupId<'_>, &KmsCall> = BTreeMap::new();
    for c in calls {
        let id = (&*c.key, &*c.event_name, &*c.caller);
        let failed = c.outcome != CallOutcome::Succeeded;
        let keep = out
            .get(&id)
            .is_some_and(|prev| prev.outcome != CallOutcome::Succeeded && !failed);
        if !keep {
            out.insert(id, c);
        }
    }
    out
}

enum Verdict<'p> {
    /// Blocked, by a statement of this policy.
    Blocked(Blocked, &'p KeyPolicy),
    Unexplained(Unexplained),
    Fine,
}

fn judge<'p>(g: &Group, rep: Option<&KmsCall>, policies: &'p PolicySet) -> Verdict<'p> {
    if g.denied > 0
        && let Some((kind, reason)) = named_policy_type(g)
    {
        return Verdict::Unexplained(unexplained(g, kind, reason));
    }
    // A denial is judged by the policy in force when the failures began;
    // successes are replayed against the current one.
    let at = if g.denied > 0 { g.first_failed } else { None };
    let Some(kp) = policies.in_force(&g.key_arn, at) else {
        return if g.denied > 0 {
            Verdict::Unexplained(unexplained(g, "no-policy", no_policy_reason()))
        } else {
            Verdict::Fine
        };
    };
    let Some(req) = request::request(g, &g.event_name, rep) else {
        return if g.denied > 0 {
            let why =
                "CloudTrail does not identify this caller well enough to evaluate the key policy";
            Verdict::Unexplained(unexplained(g, "not-evaluable", why.into()))
        } else {
            Verdict::Fine
        };
    };
    let decision = evaluate(&kp.policy, &req);
    let denying = matches!(
        decision.outcome,
        Outcome::ExplicitDeny | Outcome::Undetermined
    ) && decision.explicit_deny() != crate::policy::Tri::False;
    if !denying {
        return if g.denied > 0 {
            let (kind, reason) = not_key_policy(decision.outcome);
            Verdict::Unexplained(unexplained(g, kind, reason))
        } else {
            Verdict::Fine
        };
    }
    let replayed = replayed(g, kp);
    if g.denied == 0 && replayed == 0 {
        return Verdict::Fine;
    }
    let deciding = decision.deciding();
    let Some(stmt) = deciding.first() else {
        return Verdict::Fine;
    };
    let b = Blocked {
        key_arn: g.key_arn.clone(),
        caller: g.caller.clone(),
        event_names: vec![g.event_name.clone()],
        denied: g.denied,
        replayed,
        decision: decision.outcome,
        statement: StatementRef {
            sid: stmt.sid.clone(),
            index: stmt.index,
        },
        evidence: stmt.conditions.clone(),
        policy: PolicyRef {
            source: kp.source,
            event_id: kp.event_id.clone(),
            origin: kp.origin.clone(),
        },
        fixes: Vec::new(),
        notes: Vec::new(),
    };
    Verdict::Blocked(b, kp)
}

/// Successes before the current policy took effect (all of them when its
/// time is unknown, as for `--policy` and `--fetch-policy`).
fn replayed(g: &Group, kp: &KeyPolicy) -> u64 {
    let Some(last) = g.last_succeeded else {
        return 0;
    };
    // When some successes came after the change, only a lower bound is known: 0.
    match kp.time_ms {
        None => g.succeeded,
        Some(change) if last < change => g.succeeded,
        Some(_) => 0,
    }
}

fn no_policy_reason() -> String {
    "no key policy known for this key\nhint: give it with `--policy FILE`, or fetch it with `--fetch-policy`".into()
}

/// The policy type AWS's error message names, when it is not the key policy
/// (DESIGN.md, "KMS events": `... in an identity-based policy`, `... because no
/// identity-based policy allows ...`, and so on).
fn named_policy_type(g: &Group) -> Option<(&'static str, String)> {
    let msg = g.denied_messages.join(" ").to_lowercase();
    let by = [
        (
            "identity-based policy",
            "identity-policy",
            "an IAM identity-based policy",
        ),
        ("service control policy", "scp", "a service control policy"),
        (
            "permissions boundary",
            "permissions-boundary",
            "a permissions boundary",
        ),
        ("session policy", "session-policy", "a session policy"),
    ];
    by.into_iter()
        .find(|(needle, ..)| msg.contains(needle))
        .map(|(_, kind, what)| {
            (
                kind,
                format!("AWS says {what} denied it, not the key policy"),
            )
        })
}

/// Why a denial is not the key policy's doing, when AWS does not say.
fn not_key_policy(outcome: Outcome) -> (&'static str, String) {
    let outcome = match outcome {
        Outcome::Allowed => "allows it",
        _ => "does not deny it (no statement matches; a grant or IAM policy may be missing)",
    };
    ("policy-allows", format!("the key policy in hand {outcome}"))
}

fn key_state(g: &Group, rep: Option<&KmsCall>) -> Unexplained {
    let code = rep
        .and_then(|c| c.error_code.clone())
        .unwrap_or_else(|| "a key state error".into());
    let mut u = unexplained(
        g,
        "key-state",
        format!("the key's state refused the call ({code}), not a policy"),
    );
    u.denied = 0;
    u
}

fn unexplained(g: &Group, kind: &'static str, reason: String) -> Unexplained {
    Unexplained {
        key_arn: g.key_arn.clone(),
        caller: g.caller.clone(),
        event_names: vec![g.event_name.clone()],
        denied: g.denied,
        key_state_failed: if kind == "key-state" {
            g.key_state_failed
        } else {
            0
        },
        kind,
        reason,
    }
}

impl Blocked {
    /// One entry per key, caller, and statement of one policy version.
    fn id(&self) -> BlockedId {
        (
            self.key_arn.clone(),
            self.caller.clone(),
            self.statement.clone(),
            self.policy.clone(),
        )
    }
}

type BlockedId = (String, Caller, StatementRef, PolicyRef);

fn merge_blocked(x: &mut Blocked, b: Blocked) {
    x.event_names.extend(b.event_names);
    x.denied += b.denied;
    x.replayed += b.replayed;
    if b.decision == Outcome::ExplicitDeny {
        x.decision = Outcome::ExplicitDeny;
    }
}

/// One entry per key, caller and kind.
type UnexplainedId = (String, Caller, &'static str);

fn merge_unexplained(
    list: &mut Vec<Unexplained>,
    at: &mut HashMap<UnexplainedId, usize>,
    u: Unexplained,
) {
    let id = (u.key_arn.clone(), u.caller.clone(), u.kind);
    if let Some(&i) = at.get(&id) {
        let x = &mut list[i];
        x.event_names.extend(u.event_names);
        x.denied += u.denied;
        x.key_state_failed += u.key_state_failed;
    } else {
        at.insert(id, list.len());
        list.push(u);
    }
}
