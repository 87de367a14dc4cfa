//! Silence: a caller that only succeeded, then stopped, and the change that
//! can explain it.
//!
//! A change explains a silence only for a caller that was calling
//! regularly up to it: its last success at most [`GAPS`] usual gaps (the
//! median gap between its successes) before the change. A key change (or
//! a removed grant) also needs the trail to reach one usual gap past it,
//! or nobody can tell the caller stopped. A trail change that hides KMS
//! events explains it only for keys of the trail's own account, and of its
//! home region unless the trail logs every region (or its scope is not in
//! the trail); a later `StartLogging`, or selectors that log KMS again,
//! undo it. Pure: no I/O, no words.

use super::Inputs;
use super::grants::{Removed, is_actor, is_grantee};
use crate::arn::Arn;
use crate::call::{BREAKING_EVENTS, Caller, KEY_USE_EVENTS, KmsCall, Outcome};
use crate::collect::{Lifecycle, TrailChange, TrailScope};

/// How many usual gaps may separate a caller's last success from the
/// change that explains its silence.
pub(super) const GAPS: i64 = 2;

/// The median gap between a caller's successful key uses at distinct
/// times (`mine` in time order); `None` with fewer than two such times.
pub(super) fn usual_gap(mine: &[&KmsCall]) -> Option<i64> {
    let mut times: Vec<i64> = mine
        .iter()
        .filter(|c| c.outcome == Outcome::Succeeded && KEY_USE_EVENTS.contains(&&*c.event_name))
        .filter_map(|c| c.time_ms)
        .collect();
    times.sort_unstable();
    times.dedup();
    let mut gaps: Vec<i64> = times
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied()
}

/// What changed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Source<'a> {
    Key(&'a Lifecycle),
    Trail(&'a TrailChange),
    Grant(Removed<'a>),
}

/// A change that explains a caller's silence.
#[derive(Debug, Clone, Copy)]
pub(super) struct Change<'a> {
    pub(super) time: i64,
    pub(super) source: Source<'a>,
}

/// One caller's rhythm on one key.
pub(super) struct Rhythm<'c> {
    pub(super) key: &'c str,
    pub(super) caller: &'c Caller,
    pub(super) last_ok: i64,
    pub(super) gap: i64,
    /// The key policy allows the caller directly: no grant is what it needed.
    pub(super) policy_allows: bool,
}

/// The first change after the caller's last success that explains its
/// silence (see the module docs), if any.
pub(super) fn explaining<'a>(
    inp: &Inputs<'a>,
    r: &Rhythm<'_>,
    grants: &[Removed<'a>],
) -> Option<Change<'a>> {
    let horizon = inp.horizon_ms?;
    let near = |t: i64| t > r.last_ok && t.saturating_sub(r.last_ok) <= GAPS.saturating_mul(r.gap);
    let seen_after = |t: i64| horizon >= t.saturating_add(r.gap);
    let key = inp
        .lifecycle
        .iter()
        .filter(|l| {
            l.key_arn == r.key
                && l.outcome == Outcome::Succeeded
                && BREAKING_EVENTS.contains(&l.event_name.as_str())
                && !l.event_name.ends_with("Grant")
        })
        .filter_map(|l| Some((l.time_ms?, Source::Key(l))));
    let trail = inp
        .trail_changes
        .iter()
        .filter(|t| t.excludes_kms && covers(t, r.key) && !undone(inp, t))
        .filter_map(|t| Some((t.time_ms.filter(|&tt| tt <= horizon)?, Source::Trail(t))));
    let grant = grants
        .iter()
        .filter(|g| !r.policy_allows && holds(g, r.key, r.caller))
        .filter_map(|g| Some((g.time()?, Source::Grant(*g))));
    key.chain(grant)
        .filter(|(t, _)| seen_after(*t))
        .chain(trail)
        .filter(|(t, _)| near(*t))
        .min_by_key(|(t, _)| *t)
        .map(|(time, source)| Change { time, source })
}

/// `caller` held the removed grant on `key`: its grantee, not its creator.
pub(super) fn holds(g: &Removed<'_>, key: &str, caller: &Caller) -> bool {
    g.created.key_arn == key
        && g.grantee().is_some_and(|p| is_grantee(p, caller))
        && !is_actor(g.created.actor.as_deref(), caller)
}

/// The key's (region, account), from its ARN.
fn place(key: &str) -> Option<(&str, &str)> {
    let a = Arn::parse(key)?;
    (!a.region.is_empty() && !a.account.is_empty()).then_some((a.region, a.account))
}

/// Whether the changed trail logs `key`'s events: same account (any
/// account of an organization trail), and the trail's home region unless
/// it logs every region or its scope is unknown.
pub(super) fn covers(t: &TrailChange, key: &str) -> bool {
    let Some((region, account)) = place(key) else {
        return false;
    };
    let same_account = t.account.as_deref() == Some(account);
    let same_region = t.region.as_deref() == Some(region);
    match t.scope {
        TrailScope::Organization => true,
        TrailScope::AllRegions | TrailScope::Unknown => same_account,
        TrailScope::Region => same_account && same_region,
    }
}

/// A later change to the same trail, within the trail's reach, logs KMS
/// events again (`StartLogging`, selectors that include them).
pub(super) fn undone(inp: &Inputs<'_>, t: &TrailChange) -> bool {
    let Some(at) = t.time_ms else {
        return false;
    };
    inp.trail_changes.iter().any(|u| {
        !u.excludes_kms
            && u.event_name != "DeleteTrail"
            && u.account == t.account
            && u.trail.is_some()
            && u.trail == t.trail
            && u.time_ms
                .is_some_and(|ut| ut > at && inp.horizon_ms.is_some_and(|h| ut <= h))
    })
}
