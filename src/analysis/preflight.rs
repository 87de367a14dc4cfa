//! Preflight: replay every caller the trail shows on a key against the
//! policy in force and against a proposed one, before the proposal ships.
//!
//! Each distinct request shape (key, caller, event name, and the network
//! and encryption context a record shows) is built as the diagnosis builds
//! it ([`request_for`], [`with_org`]) and evaluated under both policies.
//! A caller *loses* access when the proposal denies what the policy in
//! force allows, or what the trail shows succeeding (without a policy in
//! force, successes are the only evidence of access, and an implicit deny
//! is undetermined: a grant may have let it in); it is *still denied* when
//! it succeeded in the window, the policy in force denies it and the
//! proposal still does; it becomes *undetermined* when the proposal's
//! decision hangs on keys the trail cannot show; it *gains* access when
//! the proposal allows what the policy in force denies. Losers and
//! still-denied callers of a Deny get that statement's fixes, verified
//! like the diagnosis's (`diagnosis::fixes`): every observed request
//! checked and the statement's probes still denied. Pure: no I/O, no words.

use std::collections::BTreeMap;

use foldhash::HashMap;
use serde::Serialize;

use super::diagnosis::fixes::{FixFailure, FixIds, FixRef, ProposedFix, Target, statement_fixes};
use super::diagnosis::request::{arn_part, blocked_caller_for, request_for, with_org};
use super::diagnosis::{Observed, PolicyRef, StatementRef};
use super::policies::KeyPolicy;
use crate::call::{Caller, KmsCall, Outcome as CallOutcome, ser_time};
use crate::policy::{
    ConditionTrace, Decision, Outcome, Policy, Request, Seen, StatementTrace, Tri, evaluate,
};

/// One key to check: the policy in force (if known) and the proposal's.
pub struct KeyInput<'a> {
    pub key_arn: &'a str,
    pub current: Option<&'a KeyPolicy>,
    pub proposed: &'a Policy,
    /// The Terraform address or CloudFormation logical id it comes from.
    pub resource: Option<String>,
}

/// What changes for one key's observed callers.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCheck {
    pub key_arn: String,
    pub resource: Option<String>,
    /// The policy in force the proposal is compared with; `None` when the
    /// trail, `--current` and `--fetch-policy` give none.
    pub current: Option<PolicyRef>,
    /// Distinct callers and request shapes replayed, and their calls (the
    /// `not_evaluable` callers' are not counted).
    pub callers: u64,
    pub shapes: u64,
    pub calls: u64,
    /// Callers CloudTrail does not identify well enough to replay.
    pub not_evaluable: Vec<Caller>,
    pub lose: Vec<CallerChange>,
    /// Callers the trail shows succeeding that the policy in force denies
    /// and the proposal still denies: cut off now, and not let back in.
    pub still_denied: Vec<CallerChange>,
    pub undetermined: Vec<CallerChange>,
    pub gain: Vec<CallerChange>,
    /// One fix per Deny statement that losers and still-denied callers hit
    /// (broad, then narrow).
    pub fixes: Vec<ProposedFix>,
    pub fix_failures: Vec<FixFailure>,
}

impl KeyCheck {
    /// The entries of one list.
    pub fn list(&self, kind: ListKind) -> &[CallerChange] {
        match kind {
            ListKind::Lose => &self.lose,
            ListKind::StillDenied => &self.still_denied,
            ListKind::Undetermined => &self.undetermined,
            ListKind::Gain => &self.gain,
        }
    }

    /// The check of `k` before any shape is replayed.
    fn empty(k: &KeyInput<'_>) -> Self {
        KeyCheck {
            key_arn: k.key_arn.to_owned(),
            resource: k.resource.clone(),
            current: k.current.map(PolicyRef::of),
            callers: 0,
            shapes: 0,
            calls: 0,
            not_evaluable: Vec::new(),
            lose: Vec::new(),
            still_denied: Vec::new(),
            undetermined: Vec::new(),
            gain: Vec::new(),
            fixes: Vec::new(),
            fix_failures: Vec::new(),
        }
    }

    fn list_mut(&mut self, kind: ListKind) -> &mut Vec<CallerChange> {
        match kind {
            ListKind::Lose => &mut self.lose,
            ListKind::StillDenied => &mut self.still_denied,
            ListKind::Undetermined => &mut self.undetermined,
            ListKind::Gain => &mut self.gain,
        }
    }
}

/// One caller whose decision changes (or, still denied, does not change
/// back), per statement of the proposal.
#[derive(Debug, Clone, Serialize)]
pub struct CallerChange {
    pub caller: Caller,
    pub event_names: Vec<String>,
    /// Calls the trail shows succeeding, and denied.
    pub succeeded: u64,
    pub denied: u64,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<i64>,
    /// Under the policy in force (`None`: no policy known).
    pub now: Option<Outcome>,
    pub proposed: Outcome,
    /// The proposal's statement that decides it (a Deny for `lose`,
    /// `still_denied` and `undetermined`, the Allow for `gain`); `None`
    /// when no statement of the proposal allows the call any more.
    pub statement: Option<StatementRef>,
    /// That statement's conditions: key, value seen, result.
    pub evidence: Vec<ConditionTrace>,
    /// For `gain` and `still_denied`: the statement of the policy in force
    /// that denies it.
    pub now_statement: Option<StatementRef>,
    /// The condition keys the decision hangs on that CloudTrail cannot show.
    pub uncertain_keys: Vec<String>,
    /// The 1-based line of the statement's `Sid` in the proposal file,
    /// when the text shows it.
    pub line: Option<usize>,
    /// The fixes (of this key's `fixes`) that unblock it.
    pub fixes: Vec<FixRef>,
    #[serde(skip)]
    pub requests: Vec<Request>,
}

/// What the check concludes, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckVerdict {
    /// Every observed caller was replayed, and none loses access or stays
    /// cut off.
    Pass,
    /// Nothing shows a loss, but the check proves nothing either: some
    /// inputs failed (or the filters left no call to replay).
    NotProven,
    /// Some observed caller would lose access.
    Lose,
    /// None loses access, but some the trail shows succeeding are denied
    /// by the policy in force and would still be denied by the proposal.
    StillDenied,
    /// None loses for sure; some decisions hang on keys the trail cannot
    /// show, or some callers could not be replayed at all.
    Undetermined,
}

/// The verdict over every key checked; `inputs_failed`: some input (or
/// the filters) failed, so what was replayed may not be all there is.
pub fn verdict(keys: &[KeyCheck], inputs_failed: bool) -> CheckVerdict {
    let any = |kind| keys.iter().any(|k| !k.list(kind).is_empty());
    if any(ListKind::Lose) {
        CheckVerdict::Lose
    } else if any(ListKind::StillDenied) {
        CheckVerdict::StillDenied
    } else if any(ListKind::Undetermined) || keys.iter().any(|k| !k.not_evaluable.is_empty()) {
        CheckVerdict::Undetermined
    } else if inputs_failed {
        CheckVerdict::NotProven
    } else {
        CheckVerdict::Pass
    }
}

/// The lists of a [`KeyCheck`] a request shape can go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKind {
    Lose,
    StillDenied,
    Undetermined,
    Gain,
}

impl ListKind {
    pub const ALL: [ListKind; 4] = [
        ListKind::Lose,
        ListKind::StillDenied,
        ListKind::Undetermined,
        ListKind::Gain,
    ];
}

/// One request shape's calls.
struct RequestShape<'a> {
    caller: &'a Caller,
    event: &'a str,
    rep: &'a KmsCall,
    succeeded: u64,
    denied: u64,
    last_ms: Option<i64>,
}

type ShapeKey<'a> = (
    &'a Caller,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'a [(crate::call::Text, Box<str>)],
    bool,
);

/// Checks every key of `inputs` against the calls the trail shows on it.
/// `org_id`: `--org-id`, as for the diagnosis.
pub fn preflight(
    calls: &[KmsCall],
    inputs: &[KeyInput<'_>],
    org_id: Option<&str>,
) -> Vec<KeyCheck> {
    let mut ids = FixIds::default();
    inputs
        .iter()
        .map(|k| check_key(calls, k, org_id, &mut ids))
        .collect()
}

fn shapes<'a>(calls: &'a [KmsCall], key: &str) -> Vec<RequestShape<'a>> {
    let mut out: Vec<RequestShape<'a>> = Vec::new();
    let mut at: HashMap<ShapeKey<'a>, usize> = HashMap::default();
    for c in calls.iter().filter(|c| &*c.key == key) {
        let id: ShapeKey<'a> = (
            &c.caller,
            &c.event_name,
            c.region.as_deref(),
            c.source_ip.as_deref(),
            c.vpc_endpoint_id.as_deref(),
            &c.encryption_context,
            c.encryption_context_unreadable,
        );
        let i = *at.entry(id).or_insert_with(|| {
            out.push(RequestShape {
                caller: &c.caller,
                event: &c.event_name,
                rep: c,
                succeeded: 0,
                denied: 0,
                last_ms: None,
            });
            out.len() - 1
        });
        let s = &mut out[i];
        match c.outcome {
            CallOutcome::Succeeded => s.succeeded += 1,
            CallOutcome::Denied => s.denied += 1,
            CallOutcome::KeyStateFailed | CallOutcome::OtherFailed => {}
        }
        s.last_ms = s.last_ms.max(c.time_ms);
    }
    out
}

fn check_key(
    calls: &[KmsCall],
    k: &KeyInput<'_>,
    org_id: Option<&str>,
    ids: &mut FixIds,
) -> KeyCheck {
    let shapes = shapes(calls, k.key_arn);
    let mut out = KeyCheck::empty(k);
    let mut callers: foldhash::HashSet<&Caller> = foldhash::HashSet::default();
    let mut merged = Merged::default();
    let mut observed: Vec<Observed> = Vec::new();
    for s in &shapes {
        let Some(req) = request_for(s.caller, k.key_arn, s.event, Some(s.rep))
            .map(|r| with_org(r, s.caller, k.key_arn, org_id))
        else {
            if !out.not_evaluable.contains(s.caller) {
                out.not_evaluable.push(s.caller.clone());
            }
            continue;
        };
        callers.insert(s.caller);
        out.shapes += 1;
        out.calls += s.succeeded + s.denied;
        let now = k.current.map(|p| evaluate(&p.policy, &req));
        let after = evaluate(k.proposed, &req);
        if let Some(kind) = classify(s, now.as_ref(), &after) {
            merged.add(kind, s, &req, now.as_ref(), &after);
        }
        // One per shape, not per (caller, event): a caller's second
        // encryption context, address or endpoint is a request of its own
        // that a fix must keep working.
        observed.push(Observed {
            caller: s.caller.clone(),
            event_name: s.event.to_owned(),
            request: req,
            now: after.summary(),
        });
    }
    out.callers = callers.len() as u64;
    for ((kind, _), c) in merged.changes {
        out.list_mut(kind).push(c);
    }
    add_fixes(&mut out, k, &observed, ids);
    out
}

/// The changes of one key, one entry per (list, caller, deciding
/// statement) in order of first sight.
#[derive(Default)]
struct Merged<'a> {
    changes: BTreeMap<(ListKind, usize), CallerChange>,
    order: HashMap<(ListKind, &'a Caller, Option<usize>), usize>,
}

impl<'a> Merged<'a> {
    fn add(
        &mut self,
        kind: ListKind,
        s: &RequestShape<'a>,
        req: &Request,
        now: Option<&Decision>,
        after: &Decision,
    ) {
        let deciding = deciding(after);
        let next = self.order.len();
        let entry = *self
            .order
            .entry((kind, s.caller, deciding.map(|d| d.index)))
            .or_insert(next);
        let c = self
            .changes
            .entry((kind, entry))
            .or_insert_with(|| new_change(kind, s.caller, now, after, deciding));
        c.succeeded += s.succeeded;
        c.denied += s.denied;
        c.last_seen = c.last_seen.max(s.last_ms);
        if !c.event_names.iter().any(|e| e == s.event) {
            c.event_names.push(s.event.to_owned());
        }
        if !c.requests.contains(req) {
            c.requests.push(req.clone());
        }
        if let Some(d) = deciding {
            for key in uncertain(&d.conditions) {
                if !c
                    .uncertain_keys
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&key))
                {
                    c.uncertain_keys.push(key);
                }
            }
        }
    }
}

/// A list entry with no calls counted yet.
fn new_change(
    kind: ListKind,
    caller: &Caller,
    now: Option<&Decision>,
    after: &Decision,
    deciding: Option<&StatementTrace>,
) -> CallerChange {
    let statement_ref = |s: &StatementTrace| StatementRef {
        sid: s.sid.clone(),
        index: s.index,
    };
    let denied_now = matches!(kind, ListKind::Gain | ListKind::StillDenied);
    CallerChange {
        caller: caller.clone(),
        event_names: Vec::new(),
        succeeded: 0,
        denied: 0,
        last_seen: None,
        now: now.map(|d| d.outcome),
        proposed: after.outcome,
        statement: deciding.map(statement_ref),
        evidence: deciding.map(|d| d.conditions.clone()).unwrap_or_default(),
        now_statement: now
            .filter(|_| denied_now)
            .and_then(|d| d.deciding().first().map(|s| statement_ref(s))),
        uncertain_keys: Vec::new(),
        line: None,
        fixes: Vec::new(),
        requests: Vec::new(),
    }
}

/// Where a shape goes, if its decision changes.
fn classify(s: &RequestShape<'_>, now: Option<&Decision>, after: &Decision) -> Option<ListKind> {
    let now_outcome = now.map(|d| d.outcome);
    let denied_now = now.is_some_and(|d| d.explicit_deny() == Tri::True);
    // Successes prove the caller was let in then (by this policy, or a
    // grant while no Deny matched).
    let had_access = s.succeeded > 0 || now_outcome == Some(Outcome::Allowed);
    match after.outcome {
        Outcome::ExplicitDeny if had_access && !denied_now => Some(ListKind::Lose),
        // It got in during the window; the policy in force cuts it off and
        // the proposal keeps it out: a change that leaves it so fails.
        Outcome::ExplicitDeny if denied_now && s.succeeded > 0 => Some(ListKind::StillDenied),
        // No statement allows it any more: a loss of what the key policy
        // allowed (a grant may still let the caller in).
        Outcome::ImplicitDeny if now_outcome == Some(Outcome::Allowed) => Some(ListKind::Lose),
        // With no policy in force known, a success may have come through a
        // grant, which an implicit deny leaves working: no loss for sure.
        Outcome::ImplicitDeny if now.is_none() && s.succeeded > 0 => Some(ListKind::Undetermined),
        // Whether the proposal lets it in hangs on keys the trail cannot
        // show: so whether it keeps or restores access is unknown.
        Outcome::Undetermined if had_access && now_outcome != Some(Outcome::Undetermined) => {
            Some(ListKind::Undetermined)
        }
        Outcome::Allowed
            if matches!(
                now_outcome,
                Some(Outcome::ExplicitDeny | Outcome::ImplicitDeny)
            ) =>
        {
            Some(ListKind::Gain)
        }
        // No Deny any more: the grant the trail shows it succeeding
        // through lets it in again.
        Outcome::ImplicitDeny if denied_now && s.succeeded > 0 => Some(ListKind::Gain),
        _ => None,
    }
}

/// The proposal's statement that decides a change: the matching Deny of
/// a loss, the Deny (or else Allow) that hangs on unknown keys, the Allow
/// of a gain; none when nothing allows the call any more.
fn deciding(after: &Decision) -> Option<&StatementTrace> {
    after.deciding().into_iter().next()
}

/// The keys of `conditions` whose values CloudTrail cannot show.
fn uncertain(conditions: &[ConditionTrace]) -> Vec<String> {
    conditions
        .iter()
        .filter(|c| c.seen == Seen::Unknown || c.result == Tri::Unknown)
        .map(|c| c.key.clone())
        .collect()
}

/// One fix per Deny statement that losers and still-denied callers hit,
/// verified against every observed caller of the key (their decisions
/// under the proposal) and the statement's probes.
fn add_fixes(out: &mut KeyCheck, k: &KeyInput<'_>, observed: &[Observed], ids: &mut FixIds) {
    let region = arn_part(k.key_arn, 3).unwrap_or_default();
    let mut by_statement: BTreeMap<usize, Vec<(ListKind, usize)>> = BTreeMap::new();
    for kind in [ListKind::Lose, ListKind::StillDenied] {
        for (i, c) in out.list(kind).iter().enumerate() {
            if c.proposed == Outcome::ExplicitDeny
                && let Some(s) = &c.statement
            {
                by_statement.entry(s.index).or_default().push((kind, i));
            }
        }
    }
    for (statement, who) in by_statement {
        let targets: Vec<Target<'_>> = who
            .iter()
            .map(|&(kind, i)| {
                let c = &out.list(kind)[i];
                Target {
                    caller: &c.caller,
                    fix_caller: blocked_caller_for(&c.caller, region),
                    requests: &c.requests,
                }
            })
            .collect();
        let (fixes, failures) =
            statement_fixes(ids, k.key_arn, k.proposed, statement, &targets, observed);
        let refs: Vec<FixRef> = fixes
            .iter()
            .map(|f| FixRef {
                id: f.id.clone(),
                kind: f.kind,
                verified: f.verified,
            })
            .collect();
        for (kind, i) in who {
            out.list_mut(kind)[i].fixes.clone_from(&refs);
        }
        out.fixes.extend(fixes);
        out.fix_failures.extend(failures);
    }
}
