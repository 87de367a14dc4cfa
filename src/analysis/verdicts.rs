//! One verdict per key and caller: why its calls fail (or stopped), since
//! when, and the events that show it.
//!
//! AWS Backup says "disabled or pending deletion or access denied"; EBS says
//! `InvalidKMSKey.InvalidState` even for a policy; RDS says
//! `KMSKeyNotAccessibleFault`. The verdict separates them from the trail: the
//! key-policy diagnosis, AWS's own error message (identity policy, SCP,
//! permissions boundary), the key's lifecycle (`DisableKey`,
//! `ScheduleKeyDeletion`, `RevokeGrant`) and the trail's own configuration
//! (event selectors that exclude KMS). Callers that only went silent after a
//! change are reported as suspects. Pure: no I/O.

use foldhash::HashMap;
use serde::Serialize;

use crate::analysis::diagnosis::{Blocked, Diagnosis, State, Unexplained, UnexplainedKind};
use crate::analysis::groups::ser_time;
use crate::analysis::policies::PolicySource;
use crate::analysis::timeline::{Period, Range, period};
use crate::call::{Caller, KmsCall, Outcome};
use crate::collect::{Lifecycle, TrailChange};

/// What a verdict says failed (README, "verdicts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    KeyPolicyDeny,
    IdentityPolicyDeny,
    ScpDeny,
    RcpDeny,
    PermissionsBoundaryDeny,
    SessionPolicyDeny,
    KeyDisabled,
    KeyPendingDeletion,
    GrantRevoked,
    CrossAccountNotLoggedHere,
    NoKmsEvents,
    Unexplained,
}

/// An event that supports a verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Evidence {
    pub event_name: Option<String>,
    pub actor: Option<String>,
    pub event_id: Option<String>,
    #[serde(serialize_with = "ser_time")]
    pub event_time: Option<i64>,
    pub what: String,
}

/// The verdict for one caller of one key (or for a key, when `caller` is null).
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub key_arn: String,
    pub caller: Option<Caller>,
    pub verdict: VerdictKind,
    /// When things changed for this caller.
    #[serde(serialize_with = "ser_time")]
    pub since: Option<i64>,
    pub detail: String,
    pub evidence: Vec<Evidence>,
    /// Only successes, then silence after a change: a suspect, not a proof.
    pub suspect: bool,
    /// Calls before and after `since` (or in `--baseline` / `--incident`).
    pub before: Period,
    pub after: Period,
    /// The cause this verdict belongs to (`causes[].id`), when one is known.
    pub cause: Option<String>,
    /// `resolved` when a later policy version no longer blocks the caller.
    pub state: State,
}

/// What the verdicts are judged from.
pub struct Inputs<'a> {
    pub calls: &'a [KmsCall],
    pub lifecycle: &'a [Lifecycle],
    pub trail_changes: &'a [TrailChange],
    pub diagnosis: &'a Diagnosis,
    /// Keys the user asked about (`--key`), to say when one shows no events.
    pub wanted_keys: &'a [String],
    pub baseline: Option<Range>,
    pub incident: Option<Range>,
    /// How far the trail reaches: changes after it cannot explain a silence.
    pub horizon_ms: Option<i64>,
}

/// One (key, caller)'s calls, summed over event names.
#[derive(Debug)]
struct Agg<'a> {
    key: &'a str,
    caller: &'a Caller,
    succeeded: u64,
    denied: u64,
    key_state: u64,
    last_ok: Option<i64>,
    /// The last success of a call that uses the key (silence is judged on these).
    last_use_ok: Option<i64>,
    first_failed: Option<(i64, &'a KmsCall)>,
    codes: Vec<&'a str>,
}

fn aggregate(calls: &[KmsCall]) -> Vec<Agg<'_>> {
    let mut out: Vec<Agg<'_>> = Vec::new();
    // Each (key, caller)'s place in `out`: a scan of `out` for every call
    // was quadratic in the callers.
    let mut place: HashMap<(&str, &Caller), usize> = HashMap::default();
    let uses = calls
        .iter()
        .filter(|c| crate::call::KEY_USE_EVENTS.contains(&&*c.event_name));
    for c in uses {
        let i = *place.entry((&*c.key, &*c.caller)).or_insert_with(|| {
            out.push(Agg {
                key: &c.key,
                caller: &c.caller,
                succeeded: 0,
                denied: 0,
                key_state: 0,
                last_ok: None,
                last_use_ok: None,
                first_failed: None,
                codes: Vec::new(),
            });
            out.len() - 1
        });
        let a = &mut out[i];
        match c.outcome {
            Outcome::Succeeded => {
                a.succeeded += 1;
                a.last_ok = a.last_ok.max(c.time_ms);
                if crate::call::KEY_USE_EVENTS.contains(&&*c.event_name) {
                    a.last_use_ok = a.last_use_ok.max(c.time_ms);
                }
            }
            Outcome::Denied | Outcome::KeyStateFailed => {
                if c.outcome == Outcome::Denied {
                    a.denied += 1;
                } else {
                    a.key_state += 1;
                }
                if let Some(t) = c.time_ms
                    && a.first_failed.is_none_or(|(f, _)| t < f)
                {
                    a.first_failed = Some((t, c));
                }
                if let Some(code) = c.error_code.as_deref()
                    && !a.codes.contains(&code)
                {
                    a.codes.push(code);
                }
            }
            Outcome::OtherFailed => {}
        }
    }
    out
}

/// Every verdict, callers first (in call order), then keys without events.
pub fn verdicts(inp: &Inputs<'_>) -> Vec<Verdict> {
    let series = series(inp.calls);
    let index = Index::new(inp.diagnosis);
    let mut out: Vec<Verdict> = aggregate(inp.calls)
        .iter()
        .filter_map(|a| judge(inp, a, &series, &index))
        .collect();
    out.extend(silent_keys(inp));
    out
}

/// The diagnosis by (key, caller): its blocked entry (an ongoing one when
/// there is one) and its first unexplained entry. Scanning the lists for
/// each caller was quadratic in callers.
struct Index<'a> {
    blocked: HashMap<(&'a str, &'a Caller), &'a Blocked>,
    unexplained: HashMap<(&'a str, &'a Caller), &'a Unexplained>,
}

impl<'a> Index<'a> {
    fn new(d: &'a Diagnosis) -> Self {
        let mut blocked: HashMap<(&str, &Caller), &Blocked> = HashMap::default();
        for b in &d.blocked {
            let slot = blocked.entry((b.key_arn.as_str(), &b.caller)).or_insert(b);
            if slot.state == State::Resolved && b.state == State::Ongoing {
                *slot = b;
            }
        }
        let mut unexplained: HashMap<(&str, &Caller), &Unexplained> = HashMap::default();
        for u in &d.unexplained {
            unexplained
                .entry((u.key_arn.as_str(), &u.caller))
                .or_insert(u);
        }
        Self {
            blocked,
            unexplained,
        }
    }
}

/// Every call of each (key, caller), in call order.
type Series<'a> = HashMap<(&'a str, &'a Caller), Vec<&'a KmsCall>>;

fn series(calls: &[KmsCall]) -> Series<'_> {
    let mut out = Series::default();
    for c in calls {
        out.entry((&*c.key, &*c.caller)).or_default().push(c);
    }
    out
}

fn judge(inp: &Inputs<'_>, a: &Agg<'_>, series: &Series<'_>, index: &Index<'_>) -> Option<Verdict> {
    let failed = a.denied + a.key_state > 0;
    let silent = !failed
        && a.last_use_ok.is_some()
        && a.last_ok == a.last_use_ok
        && last_change_before(inp, a.key, None, a.last_use_ok).is_some();
    let blocked = index.blocked.get(&(a.key, a.caller)).copied();
    if !failed && !silent && blocked.is_none() {
        return None;
    }
    let (kind, since, detail, mut evidence) = if let Some(b) = blocked {
        key_policy(inp, a, b)
    } else if a.key_state > 0 {
        key_state(inp, a)
    } else if let Some(v) = from_message(index, a) {
        v
    } else if let Some(v) = grant(inp, a) {
        v
    } else if silent {
        silent_verdict(inp, a)
    } else {
        (
            VerdictKind::Unexplained,
            a.first_failed.map(|f| f.0),
            "no policy, key state or grant change in the trail explains these failures".into(),
            Vec::new(),
        )
    };
    if let Some((t, c)) = a.first_failed {
        evidence.push(Evidence {
            event_name: Some(c.event_name.to_string()),
            actor: None,
            event_id: c.event_id.as_ref().map(ToString::to_string),
            event_time: Some(t),
            what: format!(
                "first failure: {} {}",
                c.event_name,
                c.error_code.as_deref().unwrap_or("")
            ),
        });
    }
    let (before, after) = periods(inp, a, since, series);
    Some(Verdict {
        key_arn: a.key.to_owned(),
        caller: Some(a.caller.clone()),
        verdict: kind,
        since,
        detail,
        evidence,
        suspect: silent,
        before,
        after,
        cause: None,
        state: blocked.map_or(State::Ongoing, |b| b.state),
    })
}

type Judged = (VerdictKind, Option<i64>, String, Vec<Evidence>);

fn ev_of(l: &Lifecycle, what: &str) -> Evidence {
    Evidence {
        event_name: Some(l.event_name.clone()),
        actor: l.actor.clone(),
        event_id: l.event_id.clone(),
        event_time: l.time_ms,
        what: format!("{} {what}", l.event_name),
    }
}

fn key_policy(inp: &Inputs<'_>, a: &Agg<'_>, b: &Blocked) -> Judged {
    let stmt = match &b.statement.sid {
        Some(sid) => format!("statement {} (\"{sid}\")", b.statement.index),
        None => format!("statement {}", b.statement.index),
    };
    let set_by = (b.policy.source == PolicySource::Trail)
        .then(|| {
            inp.lifecycle.iter().find(|l| {
                l.key_arn == a.key && l.event_id.is_some() && l.event_id == b.policy.event_id
            })
        })
        .flatten();
    let mut evidence = Vec::new();
    if let Some(l) = set_by {
        evidence.push(ev_of(
            l,
            &format!("set the policy whose {stmt} denies this caller"),
        ));
    }
    let since = set_by
        .and_then(|l| l.time_ms)
        .or(a.first_failed.map(|f| f.0));
    let how = if b.denied == 0 {
        "would deny (its earlier successes replayed against the current policy)"
    } else {
        "denies"
    };
    (
        VerdictKind::KeyPolicyDeny,
        since,
        format!("the key policy's {stmt} {how} this caller"),
        evidence,
    )
}

fn key_state(inp: &Inputs<'_>, a: &Agg<'_>) -> Judged {
    let t = a.first_failed.map(|f| f.0);
    let last = |name: &str| last_lifecycle(inp, a.key, name, t);
    let disabled =
        last("DisableKey").filter(|d| last("EnableKey").is_none_or(|e| e.time_ms < d.time_ms));
    let deleting = last("ScheduleKeyDeletion")
        .filter(|d| last("CancelKeyDeletion").is_none_or(|c| c.time_ms < d.time_ms));
    let says = |needle: &str| {
        a.first_failed.is_some_and(|(_, c)| {
            c.error_message
                .as_deref()
                .unwrap_or("")
                .to_lowercase()
                .contains(needle)
        })
    };
    let is_disabled =
        a.codes.iter().any(|c| c.ends_with("DisabledException")) || says("is disabled");
    match (disabled, deleting) {
        (_, Some(d)) if !is_disabled || says("pending deletion") => (
            VerdictKind::KeyPendingDeletion,
            d.time_ms,
            "the key is pending deletion (ScheduleKeyDeletion)".into(),
            vec![ev_of(d, "scheduled the key for deletion")],
        ),
        (Some(d), _) => (
            VerdictKind::KeyDisabled,
            d.time_ms,
            "the key is disabled (DisableKey)".into(),
            vec![ev_of(d, "disabled the key")],
        ),
        _ if is_disabled => (
            VerdictKind::KeyDisabled,
            t,
            "KMS says the key is disabled (the DisableKey is not in this trail)".into(),
            Vec::new(),
        ),
        _ if says("pending deletion") => (
            VerdictKind::KeyPendingDeletion,
            t,
            "KMS says the key is pending deletion".into(),
            Vec::new(),
        ),
        _ => (
            VerdictKind::Unexplained,
            t,
            format!(
                "the key's state refused the calls ({}), and no lifecycle event in the trail says why",
                a.codes.join(", ")
            ),
            Vec::new(),
        ),
    }
}

/// The policy type AWS's message names (`diagnose` read it already).
fn from_message(index: &Index<'_>, a: &Agg<'_>) -> Option<Judged> {
    let u = index.unexplained.get(&(a.key, a.caller))?;
    let (kind, what) = match u.kind {
        UnexplainedKind::IdentityPolicy => (
            VerdictKind::IdentityPolicyDeny,
            "an IAM identity-based policy",
        ),
        UnexplainedKind::Scp => (VerdictKind::ScpDeny, "a service control policy"),
        UnexplainedKind::Rcp => (VerdictKind::RcpDeny, "a resource control policy"),
        UnexplainedKind::PermissionsBoundary => (
            VerdictKind::PermissionsBoundaryDeny,
            "a permissions boundary",
        ),
        UnexplainedKind::SessionPolicy => (VerdictKind::SessionPolicyDeny, "a session policy"),
        _ => return None,
    };
    Some((
        kind,
        a.first_failed.map(|f| f.0),
        format!("AWS says {what} denied it, not the key policy"),
        Vec::new(),
    ))
}

fn grant(inp: &Inputs<'_>, a: &Agg<'_>) -> Option<Judged> {
    let t = a.first_failed.map(|f| f.0)?;
    let g = inp.lifecycle.iter().rfind(|l| {
        l.key_arn == a.key
            && l.outcome == Outcome::Succeeded
            && matches!(l.event_name.as_str(), "RevokeGrant" | "RetireGrant")
            && l.time_ms
                .is_some_and(|lt| lt <= t && a.last_ok.is_none_or(|ok| lt > ok))
    })?;
    Some((
        VerdictKind::GrantRevoked,
        g.time_ms,
        "a grant on the key was revoked or retired before the failures began".into(),
        vec![ev_of(g, "removed a grant")],
    ))
}

fn silent_verdict(inp: &Inputs<'_>, a: &Agg<'_>) -> Judged {
    let change =
        last_change_before(inp, a.key, None, a.last_use_ok).expect("silent implies a change");
    let key_account = a.key.split(':').nth(4).unwrap_or("");
    let caller_account = a
        .caller
        .account_id
        .as_deref()
        .or_else(|| a.caller.principal_arn.as_deref()?.split(':').nth(4))
        .unwrap_or(key_account);
    let ev = vec![change.evidence.clone()];
    if change.hides_kms {
        return (VerdictKind::NoKmsEvents, change.time, "the trail stopped logging KMS events after this caller's last success: its calls may go on unseen".into(), ev);
    }
    if caller_account != key_account {
        let detail = format!(
            "the caller is in account {caller_account}, the key in {key_account}: denials of its calls are logged in account {caller_account}'s trail only"
        );
        return (
            VerdictKind::CrossAccountNotLoggedHere,
            change.time,
            detail,
            ev,
        );
    }
    let kind = match change.name.as_str() {
        "DisableKey" => VerdictKind::KeyDisabled,
        "ScheduleKeyDeletion" => VerdictKind::KeyPendingDeletion,
        "RevokeGrant" | "RetireGrant" => VerdictKind::GrantRevoked,
        _ => VerdictKind::Unexplained,
    };
    (
        kind,
        change.time,
        format!("only successes, none after {}: a suspect", change.name),
        ev,
    )
}

/// A change that can explain a switch: a key lifecycle event or a trail change.
struct Change {
    name: String,
    time: Option<i64>,
    hides_kms: bool,
    evidence: Evidence,
}

/// The latest change after `last_ok` (and at or before `until`, if given).
fn last_change_before(
    inp: &Inputs<'_>,
    key: &str,
    until: Option<i64>,
    last_ok: Option<i64>,
) -> Option<Change> {
    let horizon = inp.horizon_ms;
    let in_gap = |t: Option<i64>| {
        t.is_some_and(|t| {
            last_ok.is_none_or(|ok| t > ok)
                && until.map_or_else(|| horizon.is_some_and(|h| t < h), |u| t <= u)
        })
    };
    let key_changes = inp
        .lifecycle
        .iter()
        .filter(|l| {
            l.key_arn == key
                && l.outcome == Outcome::Succeeded
                && crate::call::BREAKING_EVENTS.contains(&l.event_name.as_str())
                && in_gap(l.time_ms)
        })
        .map(|l| Change {
            name: l.event_name.clone(),
            time: l.time_ms,
            hides_kms: false,
            evidence: ev_of(l, "changed the key"),
        });
    let trail_changes = inp
        .trail_changes
        .iter()
        .filter(|t| t.excludes_kms && in_gap(t.time_ms))
        .map(|t| Change {
            name: t.event_name.clone(),
            time: t.time_ms,
            hides_kms: true,
            evidence: Evidence {
                event_name: Some(t.event_name.clone()),
                actor: t.actor.clone(),
                event_id: t.event_id.clone(),
                event_time: t.time_ms,
                what: format!("{} stopped KMS events from being logged", t.event_name),
            },
        });
    key_changes.chain(trail_changes).max_by_key(|c| c.time)
}

fn last_lifecycle<'a>(
    inp: &Inputs<'a>,
    key: &str,
    name: &str,
    until: Option<i64>,
) -> Option<&'a Lifecycle> {
    inp.lifecycle.iter().rfind(|l| {
        l.key_arn == key
            && l.event_name == name
            && l.outcome == Outcome::Succeeded
            && until.is_none_or(|u| l.time_ms.is_some_and(|t| t <= u))
    })
}

fn periods(
    inp: &Inputs<'_>,
    a: &Agg<'_>,
    since: Option<i64>,
    series: &Series<'_>,
) -> (Period, Period) {
    // Only this caller's calls: counting over all calls for each verdict
    // was quadratic when a policy change blocks thousands of callers.
    let mine = series
        .get(&(a.key, a.caller))
        .map_or(&[][..], Vec::as_slice);
    let split = since.unwrap_or(i64::MAX);
    let baseline = inp.baseline.unwrap_or(Range {
        from: i64::MIN,
        to: split.saturating_sub(1),
    });
    let incident = inp.incident.unwrap_or(Range {
        from: split,
        to: i64::MAX,
    });
    (
        period(mine.iter().copied(), baseline),
        period(mine.iter().copied(), incident),
    )
}

/// Keys asked for with `--key` that show no KMS call at all.
fn silent_keys(inp: &Inputs<'_>) -> Vec<Verdict> {
    let hidden: Vec<Evidence> = inp
        .trail_changes
        .iter()
        .filter(|t| t.excludes_kms)
        .map(|t| Evidence {
            event_name: Some(t.event_name.clone()),
            actor: t.actor.clone(),
            event_id: t.event_id.clone(),
            event_time: t.time_ms,
            what: format!("{} stopped KMS events from being logged", t.event_name),
        })
        .collect();
    let mut keys: Vec<String> = inp
        .wanted_keys
        .iter()
        .filter(|k| !inp.calls.iter().any(|c| key_is(&c.key, k)))
        .cloned()
        .collect();
    if inp.calls.is_empty() && keys.is_empty() {
        keys.push("*".into());
    }
    keys.into_iter()
        .map(|key| Verdict {
            key_arn: key,
            caller: None,
            verdict: VerdictKind::NoKmsEvents,
            since: hidden.first().and_then(|e| e.event_time),
            detail: "no KMS calls in the window: the trail may exclude KMS events (event selectors), or the key is unused".into(),
            evidence: hidden.clone(),
            suspect: false,
            before: Period::default(),
            after: Period::default(),
            cause: None,
            state: State::Ongoing,
        })
        .collect()
}

fn key_is(key: &str, want: &str) -> bool {
    key == want || key.rsplit_once("key/").is_some_and(|(_, id)| id == want)
}
