//! Causes: each change on a key that blocks callers, with every caller it
//! blocks, one verified fix per blocking statement (and a verified restore
//! of the version before it), and whether a later change resolved it.
//!
//! Incidents happen per cause: one `PutKeyPolicy` can block a thousand
//! roles, and the answer is one entry with one fix, not a thousand. Policy
//! causes come from the diagnosis (each blocked entry names the version
//! that blocked it); the other changes (`DisableKey`, `ScheduleKeyDeletion`,
//! a removed grant, a trail that stopped logging KMS) from the verdicts
//! that name them. Pure: no I/O, no words.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::diagnosis::fixes::{
    FixFailure, FixIds, FixRef, ProposedFix, Target, restore_fix, statement_fixes,
};
use super::diagnosis::request::blocked_caller_for;
use super::diagnosis::{Diagnosis, State, StatementRef};
use super::policies::{KeyPolicy, PolicySet};
use super::verdicts::{EvidenceKind, Verdict, VerdictKind};
use crate::call::ser_time;
use crate::call::{Caller, CallerClass};
use crate::collect::{Lifecycle, TrailChange};

/// One change on a key and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    /// `cause-N`; blocked entries and verdicts refer to it.
    pub id: String,
    pub key_arn: String,
    pub change: ChangeKind,
    /// The change's event, when the trail holds it.
    #[serde(flatten)]
    pub event: ChangeRef,
    /// For a policy change: the statements added, removed or changed
    /// against the version before it (`None` without an earlier version).
    pub statements: Option<StatementChanges>,
    /// Per blocking statement (policy causes), every caller it blocks.
    pub blocking: Vec<BlockingStatement>,
    /// Callers whose calls failed or stopped after a change that is not a
    /// policy version (the verdicts that name it); policy causes list
    /// theirs per statement in `blocking`.
    pub affected: Vec<Caller>,
    /// Callers this change blocks (or stopped), all statements together.
    pub callers: u64,
    pub by_class: BTreeMap<CallerClass, u64>,
    pub denied: u64,
    pub replayed: u64,
    pub state: State,
    /// The later change that unblocked every caller, when `resolved`.
    pub resolved_by: Option<ChangeRef>,
    /// One fix per blocking statement (broad, then narrow), then the
    /// restore of the previous version; verified each.
    pub fixes: Vec<ProposedFix>,
    /// Fixes that could not be made, and why.
    pub fix_failures: Vec<FixFailure>,
}

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A new key policy version (`PutKeyPolicy`, or `CreateKey`'s).
    PolicyChange,
    /// The policy in force from `--policy` or `--fetch-policy`: when it was
    /// set is not in the trail.
    PolicyInForce,
    KeyDisabled,
    KeyPendingDeletion,
    GrantRemoved,
    /// The trail stopped logging KMS events.
    TrailChange,
}

/// An event that changed something.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ChangeRef {
    pub event_name: Option<String>,
    pub event_id: Option<String>,
    pub actor: Option<String>,
    #[serde(rename = "event_time", serialize_with = "ser_time")]
    pub time_ms: Option<i64>,
}

impl ChangeRef {
    fn of(kp: &KeyPolicy) -> Self {
        Self {
            event_name: kp.event_name.clone(),
            event_id: kp.event_id.clone(),
            actor: kp.actor.clone(),
            time_ms: kp.time_ms,
        }
    }
}

/// How a policy version differs from the one before it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatementChanges {
    pub added: Vec<StatementRef>,
    pub removed: Vec<StatementRef>,
    pub changed: Vec<StatementRef>,
}

/// One statement and every caller it blocks.
#[derive(Debug, Clone, Serialize)]
pub struct BlockingStatement {
    pub statement: StatementRef,
    pub by_class: BTreeMap<CallerClass, u64>,
    pub callers: Vec<Caller>,
    pub denied: u64,
    pub replayed: u64,
    pub state: State,
}

/// A non-policy change by key and event: id, name and time (a change
/// without an id is still told from another by its name and time).
type ChangeId = (String, Option<String>, Option<String>, Option<i64>);

/// The causes of every blocked entry and of every verdict that names a
/// change; fills in `cause` (and `fixes`) on both.
pub fn causes(
    d: &mut Diagnosis,
    policies: &PolicySet,
    changes: &Changes<'_>,
    verdicts: &mut [Verdict],
) -> Vec<Cause> {
    let mut ids = FixIds::default();
    let mut out = policy_causes(d, policies, &mut ids);
    let blocked = d.blocked_by_caller();
    let mut change_causes: BTreeMap<ChangeId, usize> = BTreeMap::new();
    for v in verdicts.iter_mut() {
        if v.verdict == VerdictKind::KeyPolicyDeny {
            if let Some(c) = &v.caller {
                v.cause = blocked
                    .get(&(v.key_arn.as_str(), c))
                    .map(|b| b.cause.clone());
            }
            continue;
        }
        // A key without calls is reported on its own, not as a caller.
        let (Some(change), Some(caller)) = (change_kind(v.verdict), v.caller.clone()) else {
            continue;
        };
        // The change, never the caller's own failed call.
        let Some(ev) = v
            .evidence
            .iter()
            .find(|e| e.what != EvidenceKind::FirstFailure)
            .filter(|e| e.event_id.is_some() || e.event_time.is_some())
        else {
            continue;
        };
        let id = (
            v.key_arn.clone(),
            ev.event_id.clone(),
            ev.event_name.clone(),
            ev.event_time,
        );
        let i = *change_causes.entry(id).or_insert_with(|| {
            out.push(Cause {
                id: String::new(),
                key_arn: v.key_arn.clone(),
                change,
                event: ChangeRef {
                    event_name: ev.event_name.clone(),
                    event_id: ev.event_id.clone(),
                    actor: ev.actor.clone(),
                    time_ms: ev.event_time,
                },
                statements: None,
                blocking: Vec::new(),
                affected: Vec::new(),
                callers: 0,
                by_class: BTreeMap::new(),
                denied: 0,
                replayed: 0,
                state: State::Ongoing,
                resolved_by: None,
                fixes: Vec::new(),
                fix_failures: Vec::new(),
            });
            out.len() - 1
        });
        let c = &mut out[i];
        c.callers += 1;
        *c.by_class.entry(caller.class).or_default() += 1;
        c.affected.push(caller);
        c.denied += v.after.denied + v.after.key_state_failed;
        v.cause = Some(format!("#{i}"));
    }
    for c in out
        .iter_mut()
        .filter(|c| c.change != ChangeKind::PolicyChange)
    {
        if let Some(undo) = changes.undone(c) {
            c.state = State::Resolved;
            c.resolved_by = Some(undo);
        }
    }
    for v in verdicts.iter_mut() {
        let resolved = v
            .cause
            .as_deref()
            .and_then(|id| id.strip_prefix('#')?.parse::<usize>().ok())
            .is_some_and(|i| {
                out[i].state == State::Resolved && out[i].change != ChangeKind::PolicyChange
            });
        if resolved {
            v.state = State::Resolved;
        }
    }
    // Ongoing first, then the widest, then the earliest.
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by_key(|&i| {
        let c = &out[i];
        (
            c.state != State::Ongoing,
            std::cmp::Reverse(c.callers),
            c.event.time_ms,
        )
    });
    let mut renamed = vec![String::new(); out.len()];
    for (n, &i) in order.iter().enumerate() {
        renamed[i] = format!("cause-{}", n + 1);
    }
    // Ids are `#position` until the order is known.
    let rename = |id: &str| -> String {
        id.strip_prefix('#')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|i| renamed.get(i).cloned())
            .unwrap_or_default()
    };
    for b in &mut d.blocked {
        b.cause = rename(&b.cause);
    }
    for v in verdicts.iter_mut() {
        if let Some(c) = &v.cause {
            v.cause = Some(rename(c));
        }
    }
    for (c, id) in out.iter_mut().zip(&renamed) {
        c.id.clone_from(id);
    }
    let mut sorted: Vec<Option<Cause>> = out.into_iter().map(Some).collect();
    order.iter().filter_map(|&i| sorted[i].take()).collect()
}

/// The key and trail changes a later one can undo.
pub struct Changes<'a> {
    pub lifecycle: &'a [Lifecycle],
    pub trail_changes: &'a [TrailChange],
}

impl Changes<'_> {
    /// The event that undid a non-policy change: `EnableKey` after
    /// `DisableKey`, `CancelKeyDeletion` after `ScheduleKeyDeletion`, on the
    /// same key; `StartLogging` of the same trail after it stopped logging.
    fn undone(&self, c: &Cause) -> Option<ChangeRef> {
        let after = |t: Option<i64>| t.zip(c.event.time_ms).is_some_and(|(t, at)| t > at);
        let key_undo = match c.change {
            ChangeKind::KeyDisabled => Some("EnableKey"),
            ChangeKind::KeyPendingDeletion => Some("CancelKeyDeletion"),
            _ => None,
        };
        if let Some(name) = key_undo {
            return self
                .lifecycle
                .iter()
                .find(|l| {
                    l.key_arn == c.key_arn
                        && l.event_name == name
                        && l.outcome == crate::call::Outcome::Succeeded
                        && after(l.time_ms)
                })
                .map(|l| ChangeRef {
                    event_name: Some(l.event_name.clone()),
                    event_id: l.event_id.clone(),
                    actor: l.actor.clone(),
                    time_ms: l.time_ms,
                });
        }
        if c.change != ChangeKind::TrailChange {
            return None;
        }
        let stopped = self
            .trail_changes
            .iter()
            .find(|t| t.event_id.is_some() && t.event_id == c.event.event_id)?;
        self.trail_changes
            .iter()
            .find(|t| {
                t.event_name == "StartLogging" && t.trail == stopped.trail && after(t.time_ms)
            })
            .map(|t| ChangeRef {
                event_name: Some(t.event_name.clone()),
                event_id: t.event_id.clone(),
                actor: t.actor.clone(),
                time_ms: t.time_ms,
            })
    }
}

fn change_kind(v: VerdictKind) -> Option<ChangeKind> {
    Some(match v {
        VerdictKind::KeyDisabled => ChangeKind::KeyDisabled,
        VerdictKind::KeyPendingDeletion => ChangeKind::KeyPendingDeletion,
        VerdictKind::GrantRevoked => ChangeKind::GrantRemoved,
        VerdictKind::NoKmsEvents => ChangeKind::TrailChange,
        _ => return None,
    })
}

/// One cause per (key, policy version) that blocks callers, with fixes.
fn policy_causes(d: &mut Diagnosis, policies: &PolicySet, ids: &mut FixIds) -> Vec<Cause> {
    let mut at: BTreeMap<(String, usize), usize> = BTreeMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, (b, link)) in d.blocked.iter().zip(&d.links).enumerate() {
        let n = members.len();
        let c = *at.entry((b.key_arn.clone(), link.version)).or_insert(n);
        if c == n {
            members.push(Vec::new());
        }
        members[c].push(i);
    }
    let mut out = Vec::with_capacity(members.len());
    for ((key, version), c) in at {
        let epochs = policies.epochs(&key);
        let id = format!("#{}", out.len());
        for &i in &members[c] {
            d.blocked[i].cause.clone_from(&id);
        }
        let mut cause = policy_cause(d, &members[c], &key, epochs, version);
        cause.id = id;
        if cause.state == State::Ongoing {
            add_fixes(d, &members[c], &mut cause, epochs, version, ids);
        }
        out.push(cause);
    }
    out
}

fn policy_cause(
    d: &Diagnosis,
    members: &[usize],
    key: &str,
    epochs: &[KeyPolicy],
    version: usize,
) -> Cause {
    let kp = &epochs[version];
    let mut blocking: BTreeMap<StatementRef, BlockingStatement> = BTreeMap::new();
    let mut by_class: BTreeMap<CallerClass, u64> = BTreeMap::new();
    let (mut denied, mut replayed) = (0, 0);
    let mut resolved_by: Option<usize> = None;
    let mut ongoing = false;
    let mut listed: foldhash::HashSet<(&StatementRef, &Caller)> = foldhash::HashSet::default();
    for &i in members {
        let b = &d.blocked[i];
        let s = blocking
            .entry(b.statement.clone())
            .or_insert_with(|| BlockingStatement {
                statement: b.statement.clone(),
                by_class: BTreeMap::new(),
                callers: Vec::new(),
                denied: 0,
                replayed: 0,
                state: State::Resolved,
            });
        if listed.insert((&b.statement, &b.caller)) {
            s.callers.push(b.caller.clone());
            *s.by_class.entry(b.caller.class).or_default() += 1;
            *by_class.entry(b.caller.class).or_default() += 1;
        }
        s.denied += b.denied;
        s.replayed += b.replayed;
        denied += b.denied;
        replayed += b.replayed;
        if b.state == State::Ongoing {
            s.state = State::Ongoing;
            ongoing = true;
        } else if let Some(r) = &b.resolved_by {
            let v = epochs
                .iter()
                .position(|p| p.event_id == r.event_id && p.source == r.source);
            resolved_by = resolved_by.max(v);
        }
    }
    let callers = by_class.values().sum();
    Cause {
        id: String::new(),
        key_arn: key.to_owned(),
        change: if kp.time_ms.is_some() {
            ChangeKind::PolicyChange
        } else {
            ChangeKind::PolicyInForce
        },
        event: ChangeRef::of(kp),
        statements: version
            .checked_sub(1)
            .map(|p| statement_changes(&epochs[p].policy.document, &kp.policy.document)),
        blocking: blocking.into_values().collect(),
        affected: Vec::new(),
        callers,
        by_class,
        denied,
        replayed,
        state: if ongoing {
            State::Ongoing
        } else {
            State::Resolved
        },
        resolved_by: if ongoing {
            None
        } else {
            resolved_by.map(|v| ChangeRef::of(&epochs[v]))
        },
        fixes: Vec::new(),
        fix_failures: Vec::new(),
    }
}

/// One fix per statement of the current version that blocks the cause's
/// ongoing callers, and the restore of the version before the cause.
fn add_fixes(
    d: &mut Diagnosis,
    members: &[usize],
    cause: &mut Cause,
    epochs: &[KeyPolicy],
    version: usize,
    ids: &mut FixIds,
) {
    let current = &epochs[epochs.len() - 1];
    let observed = d
        .observed
        .get(&cause.key_arn)
        .map_or(&[][..], Vec::as_slice);
    let region = super::diagnosis::request::arn_part(&cause.key_arn, 3).unwrap_or_default();
    let mut by_statement: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in members {
        if d.blocked[i].state == State::Ongoing
            && let Some(s) = d.links[i].current_statement
        {
            by_statement.entry(s).or_default().push(i);
        }
    }
    let target = |i: usize| Target {
        caller: &d.blocked[i].caller,
        fix_caller: blocked_caller_for(&d.blocked[i].caller, region),
        requests: &d.links[i].requests,
    };
    let mut refs: Vec<(usize, Vec<FixRef>)> = Vec::new();
    for (statement, who) in &by_statement {
        let targets: Vec<Target<'_>> = who.iter().map(|&i| target(i)).collect();
        let (fixes, failures) = statement_fixes(
            ids,
            &cause.key_arn,
            &current.policy,
            *statement,
            &targets,
            observed,
        );
        let r: Vec<FixRef> = fixes.iter().map(fix_ref).collect();
        refs.extend(who.iter().map(|&i| (i, r.clone())));
        cause.fixes.extend(fixes);
        cause.fix_failures.extend(failures);
    }
    if let Some(previous) = version.checked_sub(1).map(|p| &epochs[p]) {
        let ongoing: Vec<usize> = by_statement.values().flatten().copied().collect();
        let targets: Vec<Target<'_>> = ongoing.iter().map(|&i| target(i)).collect();
        let mut restore = restore_fix(
            ids,
            &cause.key_arn,
            &current.policy,
            &previous.policy,
            &targets,
            observed,
        );
        // The cause's version and every one after it.
        restore.undoes = epochs.len() - version;
        let r = fix_ref(&restore);
        refs.extend(ongoing.iter().map(|&i| (i, vec![r.clone()])));
        cause.fixes.push(restore);
    }
    for (i, r) in refs {
        d.blocked[i].fixes.extend(r);
    }
}

fn fix_ref(f: &ProposedFix) -> FixRef {
    FixRef {
        id: f.id.clone(),
        kind: f.kind,
        verified: f.verified,
    }
}

/// Statements by Sid (by index when they have none), compared as JSON.
fn statement_changes(old: &Value, new: &Value) -> StatementChanges {
    let list = |doc: &Value| -> Vec<(StatementRef, Value)> {
        let items = match doc.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => Vec::new(),
        };
        items
            .into_iter()
            .enumerate()
            .map(|(index, s)| {
                let sid = s.get("Sid").and_then(Value::as_str).map(str::to_owned);
                (StatementRef { sid, index }, s)
            })
            .collect()
    };
    let (a, b) = (list(old), list(new));
    let same = |x: &StatementRef, y: &StatementRef| match (&x.sid, &y.sid) {
        (Some(p), Some(q)) => p == q,
        (None, None) => x.index == y.index,
        _ => false,
    };
    let mut c = StatementChanges::default();
    for (r, s) in &b {
        match a.iter().find(|(q, _)| same(q, r)) {
            None => c.added.push(r.clone()),
            Some((_, old)) if old != s => c.changed.push(r.clone()),
            Some(_) => {}
        }
    }
    for (r, _) in &a {
        if !b.iter().any(|(q, _)| same(q, r)) {
            c.removed.push(r.clone());
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statement_changes_by_sid_then_index() {
        let old = json!({"Statement": [
            {"Sid": "Root", "Effect": "Allow"},
            {"Sid": "Gone", "Effect": "Allow"},
            {"Effect": "Deny", "Action": "kms:Delete*"}]});
        let new = json!({"Statement": [
            {"Sid": "Root", "Effect": "Allow"},
            {"Sid": "Deny all but admin", "Effect": "Deny"},
            {"Effect": "Deny", "Action": "kms:*"}]});
        let c = statement_changes(&old, &new);
        let sids = |v: &[StatementRef]| {
            v.iter()
                .map(|s| (s.sid.clone(), s.index))
                .collect::<Vec<_>>()
        };
        assert_eq!(sids(&c.added), [(Some("Deny all but admin".into()), 1)]);
        assert_eq!(sids(&c.removed), [(Some("Gone".into()), 1)]);
        assert_eq!(sids(&c.changed), [(None, 2)]);
    }
}
