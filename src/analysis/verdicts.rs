//! One verdict per key and caller: why its calls fail (or stopped), since
//! when, and the events that show it.
//!
//! AWS Backup says "disabled or pending deletion or access denied"; EBS says
//! `InvalidKMSKey.InvalidState` even for a policy; RDS says
//! `KMSKeyNotAccessibleFault`. The verdict separates them from the trail: the
//! key-policy diagnosis, AWS's own error message (identity policy, SCP,
//! permissions boundary), the key's lifecycle (`DisableKey`,
//! `ScheduleKeyDeletion`), the grants the caller held (`grants`) and the
//! trail's own configuration (event selectors that exclude KMS). Callers
//! that only went silent after a change are reported as suspects
//! (`silence`). The rules and the JSON are in `docs/verdicts.md`. Pure: no
//! I/O, and no words: a verdict's [`Reason`] and its evidence's
//! [`EvidenceKind`] are data the renderers word.

mod grants;
mod silence;

use crate::arn::Arn;
use foldhash::{HashMap, HashSet};
use serde::Serialize;

use crate::analysis::diagnosis::{
    Blocked, Diagnosis, State, StatementRef, Unexplained, UnexplainedKind,
};
use crate::analysis::policies::PolicySource;
use crate::analysis::timeline::{Period, Range, period};
use crate::call::ser_time;
use crate::call::{Caller, KmsCall, Outcome};
use crate::collect::{Lifecycle, TrailChange, TrailScope};
use grants::Removed;
use silence::{Change, Rhythm, Source};

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

/// What an evidence event did for the verdict it supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// Set the key policy whose statement denies the caller.
    SetPolicy,
    DisabledKey,
    ScheduledDeletion,
    /// Created the grant the caller held.
    CreatedGrant,
    /// Revoked or retired that grant.
    RemovedGrant,
    /// Changed the key; the caller went silent after it.
    ChangedKey,
    /// Stopped the trail logging KMS events.
    StoppedKmsLogging,
    /// The caller's first failed call (`error_code` says how).
    FirstFailure,
}

/// An event that supports a verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Evidence {
    pub event_name: Option<String>,
    pub actor: Option<String>,
    pub event_id: Option<String>,
    #[serde(serialize_with = "ser_time")]
    pub event_time: Option<i64>,
    pub what: EvidenceKind,
    /// The error code of a [`EvidenceKind::FirstFailure`].
    pub error_code: Option<String>,
}

/// A policy type other than the key policy, as AWS's denial names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyType {
    IdentityPolicy,
    ServiceControlPolicy,
    ResourceControlPolicy,
    PermissionsBoundary,
    SessionPolicy,
}

/// Why the verdict is what it is: the facts its words need.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// A statement of the key policy denies the caller; `replayed`: no
    /// denial is logged, its earlier successes replayed against the
    /// current policy show it.
    KeyPolicy {
        statement: StatementRef,
        replayed: bool,
    },
    /// AWS's denial names another policy type than the key policy.
    OtherPolicy { policy_type: PolicyType },
    /// The key is disabled; `change_in_trail`: the `DisableKey` is in the
    /// evidence, else only KMS's error says so.
    KeyDisabled { change_in_trail: bool },
    /// The key is pending deletion (`ScheduleKeyDeletion`, or KMS says so).
    KeyPendingDeletion { change_in_trail: bool },
    /// The key's state refused the calls with these codes, and no
    /// lifecycle event in the trail says why.
    KeyState { error_codes: Vec<String> },
    /// A grant whose grantee is the caller was revoked or retired before
    /// its calls failed or stopped.
    GrantRemoved {
        grant_id: Option<String>,
        grantee_principal: String,
    },
    /// A change to a trail of the key's account stopped logging KMS
    /// events, after the caller's last success.
    TrailStoppedKms {
        trail: Option<String>,
        trail_account: Option<String>,
        trail_region: Option<String>,
        scope: TrailScope,
    },
    /// The caller is of another account than the key: its denials are
    /// logged in its own account's trail only.
    CrossAccount {
        caller_account: String,
        key_account: String,
        change_event: String,
    },
    /// Only successes, then none after `change_event`: a suspect.
    WentSilent { change_event: String },
    /// No KMS call for the key in the window.
    NoCalls,
    /// No policy, key state, grant or trail change explains the failures.
    Unexplained,
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
    pub reason: Reason,
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
    /// A caller of another account than the key's: that account, whose
    /// own trail logs its calls (and alone its denied ones,
    /// `docs/kms-events.md`).
    pub look_in_account: Option<String>,
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
    /// The last success (only calls that use the key are aggregated, and
    /// silence is judged on these).
    last_ok: Option<i64>,
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
    let ctx = Context {
        series: series(inp.calls),
        index: Index::new(inp.diagnosis),
        grants: grants::removed(inp.lifecycle),
        allowed: directly_allowed(inp.diagnosis),
    };
    let mut out: Vec<Verdict> = aggregate(inp.calls)
        .iter()
        .filter_map(|a| judge(inp, a, &ctx))
        .collect();
    out.extend(silent_keys(inp));
    out
}

/// What every caller's verdict is judged against, built once.
struct Context<'a> {
    series: Series<'a>,
    index: Index<'a>,
    grants: Vec<Removed<'a>>,
    allowed: HashSet<(&'a str, &'a Caller)>,
}

/// The (key, caller)s whose calls the key's current policy allows
/// directly (not only through account delegation to IAM policies): a grant
/// is not what they needed.
fn directly_allowed(d: &Diagnosis) -> HashSet<(&str, &Caller)> {
    d.observed
        .iter()
        .flat_map(|(key, seen)| seen.iter().map(move |o| (key.as_str(), o)))
        .filter(|(_, o)| {
            o.now.outcome == crate::policy::Outcome::Allowed && !o.now.only_via_account_delegation
        })
        .map(|(key, o)| (key, &o.caller))
        .collect()
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
        let blocked = d.blocked_by_caller();
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

/// A verdict before the caller's counts: kind, since, reason, evidence.
type Judged = (VerdictKind, Option<i64>, Reason, Vec<Evidence>);

fn judge<'a>(inp: &Inputs<'a>, a: &Agg<'a>, ctx: &Context<'a>) -> Option<Verdict> {
    let failed = a.denied + a.key_state > 0;
    let mine = ctx
        .series
        .get(&(a.key, a.caller))
        .map_or(&[][..], Vec::as_slice);
    let silence = (!failed)
        .then(|| silent_change(inp, a, ctx, mine))
        .flatten();
    let blocked = ctx.index.blocked.get(&(a.key, a.caller)).copied();
    if !failed && silence.is_none() && blocked.is_none() {
        return None;
    }
    let (kind, since, reason, mut evidence) = if let Some(b) = blocked {
        key_policy(inp, a, b)
    } else if a.key_state > 0 {
        key_state(inp, a)
    } else if let Some(v) = from_message(&ctx.index, a) {
        v
    } else if let Some(v) = grant(a, ctx) {
        v
    } else if let Some(change) = silence {
        silent_verdict(a, change)
    } else {
        let since = a.first_failed.map(|f| f.0);
        (VerdictKind::Unexplained, since, Reason::Unexplained, vec![])
    };
    if let Some((t, c)) = a.first_failed {
        evidence.push(Evidence {
            event_name: Some(c.event_name.to_string()),
            actor: None,
            event_id: c.event_id.as_ref().map(ToString::to_string),
            event_time: Some(t),
            what: EvidenceKind::FirstFailure,
            error_code: c.error_code.as_deref().map(str::to_owned),
        });
    }
    let (before, after) = periods(inp, since, mine);
    Some(Verdict {
        key_arn: a.key.to_owned(),
        caller: Some(a.caller.clone()),
        verdict: kind,
        since,
        reason,
        evidence,
        suspect: silence.is_some() && !failed,
        before,
        after,
        cause: None,
        state: blocked.map_or(State::Ongoing, |b| b.state),
        look_in_account: other_account(a.key, a.caller).map(|(caller, _)| caller.to_owned()),
    })
}

/// The change that explains a caller's silence (`silence` module).
fn silent_change<'a>(
    inp: &Inputs<'a>,
    a: &Agg<'a>,
    ctx: &Context<'a>,
    mine: &[&KmsCall],
) -> Option<Change<'a>> {
    let rhythm = Rhythm {
        key: a.key,
        caller: a.caller,
        last_ok: a.last_ok?,
        gap: silence::usual_gap(mine)?,
        policy_allows: ctx.allowed.contains(&(a.key, a.caller)),
    };
    silence::explaining(inp, &rhythm, &ctx.grants)
}

/// `(caller's account, key's account)` when they differ.
fn other_account<'c>(key: &'c str, caller: &'c Caller) -> Option<(&'c str, &'c str)> {
    let key_account = Some(Arn::parse(key)?.account).filter(|a| !a.is_empty())?;
    let caller_account = caller
        .account_id
        .as_deref()
        .or_else(|| Some(Arn::parse(caller.principal_arn.as_deref()?)?.account))
        .filter(|a| !a.is_empty())?;
    (caller_account != key_account).then_some((caller_account, key_account))
}

fn ev_of(l: &Lifecycle, what: EvidenceKind) -> Evidence {
    Evidence {
        event_name: Some(l.event_name.clone()),
        actor: l.actor.clone(),
        event_id: l.event_id.clone(),
        event_time: l.time_ms,
        what,
        error_code: None,
    }
}

fn ev_of_trail(t: &TrailChange) -> Evidence {
    Evidence {
        event_name: Some(t.event_name.clone()),
        actor: t.actor.clone(),
        event_id: t.event_id.clone(),
        event_time: t.time_ms,
        what: EvidenceKind::StoppedKmsLogging,
        error_code: None,
    }
}

fn key_policy(inp: &Inputs<'_>, a: &Agg<'_>, b: &Blocked) -> Judged {
    let set_by = (b.policy.source == PolicySource::Trail)
        .then(|| {
            inp.lifecycle.iter().find(|l| {
                l.key_arn == a.key && l.event_id.is_some() && l.event_id == b.policy.event_id
            })
        })
        .flatten();
    let evidence: Vec<Evidence> = set_by
        .map(|l| ev_of(l, EvidenceKind::SetPolicy))
        .into_iter()
        .collect();
    let since = set_by
        .and_then(|l| l.time_ms)
        .or(a.first_failed.map(|f| f.0));
    let reason = Reason::KeyPolicy {
        statement: b.statement.clone(),
        replayed: b.denied == 0,
    };
    (VerdictKind::KeyPolicyDeny, since, reason, evidence)
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
    let pending = |change_in_trail| Reason::KeyPendingDeletion { change_in_trail };
    let off = |change_in_trail| Reason::KeyDisabled { change_in_trail };
    match (disabled, deleting) {
        (_, Some(d)) if !is_disabled || says("pending deletion") => (
            VerdictKind::KeyPendingDeletion,
            d.time_ms,
            pending(true),
            vec![ev_of(d, EvidenceKind::ScheduledDeletion)],
        ),
        (Some(d), _) => (
            VerdictKind::KeyDisabled,
            d.time_ms,
            off(true),
            vec![ev_of(d, EvidenceKind::DisabledKey)],
        ),
        _ if is_disabled => (VerdictKind::KeyDisabled, t, off(false), vec![]),
        _ if says("pending deletion") => {
            (VerdictKind::KeyPendingDeletion, t, pending(false), vec![])
        }
        _ => {
            let error_codes = a.codes.iter().map(|c| (*c).to_owned()).collect();
            (
                VerdictKind::Unexplained,
                t,
                Reason::KeyState { error_codes },
                vec![],
            )
        }
    }
}

/// The policy type AWS's message names (`diagnose` read it already).
fn from_message(index: &Index<'_>, a: &Agg<'_>) -> Option<Judged> {
    let u = index.unexplained.get(&(a.key, a.caller))?;
    let (kind, policy_type) = match u.kind {
        UnexplainedKind::IdentityPolicy => {
            (VerdictKind::IdentityPolicyDeny, PolicyType::IdentityPolicy)
        }
        UnexplainedKind::Scp => (VerdictKind::ScpDeny, PolicyType::ServiceControlPolicy),
        UnexplainedKind::Rcp => (VerdictKind::RcpDeny, PolicyType::ResourceControlPolicy),
        UnexplainedKind::PermissionsBoundary => (
            VerdictKind::PermissionsBoundaryDeny,
            PolicyType::PermissionsBoundary,
        ),
        UnexplainedKind::SessionPolicy => {
            (VerdictKind::SessionPolicyDeny, PolicyType::SessionPolicy)
        }
        _ => return None,
    };
    let reason = Reason::OtherPolicy { policy_type };
    Some((kind, a.first_failed.map(|f| f.0), reason, vec![]))
}

/// A grant the caller held, removed after its last success and at or
/// before its first failure; never for a caller the key policy allows
/// directly, nor for the grant's creator.
fn grant(a: &Agg<'_>, ctx: &Context<'_>) -> Option<Judged> {
    let t = a.first_failed.map(|f| f.0)?;
    if ctx.allowed.contains(&(a.key, a.caller)) {
        return None;
    }
    let g = ctx.grants.iter().rfind(|g| {
        silence::holds(g, a.key, a.caller)
            && g.time()
                .is_some_and(|gt| gt <= t && a.last_ok.is_none_or(|ok| gt > ok))
    })?;
    Some(grant_judged(g))
}

fn grant_judged(g: &Removed<'_>) -> Judged {
    let reason = Reason::GrantRemoved {
        grant_id: g.created.grant.as_ref().and_then(|x| x.grant_id.clone()),
        grantee_principal: g.grantee().unwrap_or_default().to_owned(),
    };
    let evidence = vec![
        ev_of(g.removed, EvidenceKind::RemovedGrant),
        ev_of(g.created, EvidenceKind::CreatedGrant),
    ];
    (VerdictKind::GrantRevoked, g.time(), reason, evidence)
}

fn silent_verdict(a: &Agg<'_>, change: Change<'_>) -> Judged {
    let since = Some(change.time);
    let l = match change.source {
        Source::Grant(g) => return grant_judged(&g),
        Source::Trail(t) => {
            let reason = Reason::TrailStoppedKms {
                trail: t.trail.clone(),
                trail_account: t.account.clone(),
                trail_region: t.region.clone(),
                scope: t.scope,
            };
            return (
                VerdictKind::NoKmsEvents,
                since,
                reason,
                vec![ev_of_trail(t)],
            );
        }
        Source::Key(l) => l,
    };
    let evidence = vec![ev_of(l, EvidenceKind::ChangedKey)];
    let change_event = l.event_name.clone();
    if let Some((caller, key)) = other_account(a.key, a.caller) {
        let reason = Reason::CrossAccount {
            caller_account: caller.to_owned(),
            key_account: key.to_owned(),
            change_event,
        };
        return (
            VerdictKind::CrossAccountNotLoggedHere,
            since,
            reason,
            evidence,
        );
    }
    let kind = match l.event_name.as_str() {
        "DisableKey" => VerdictKind::KeyDisabled,
        "ScheduleKeyDeletion" => VerdictKind::KeyPendingDeletion,
        _ => VerdictKind::Unexplained,
    };
    (kind, since, Reason::WentSilent { change_event }, evidence)
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

/// Only this caller's calls (`mine`): counting over all calls for each
/// verdict was quadratic when a policy change blocks thousands of callers.
fn periods(inp: &Inputs<'_>, since: Option<i64>, mine: &[&KmsCall]) -> (Period, Period) {
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

/// Keys asked for with `--key` that show no KMS call at all, citing the
/// trail changes that can hide their events: those of the key's account
/// and region ([`silence::covers`]), or any when the key is no ARN.
fn silent_keys(inp: &Inputs<'_>) -> Vec<Verdict> {
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
        .map(|key| {
            let arn = key.starts_with("arn:");
            let evidence: Vec<Evidence> = inp
                .trail_changes
                .iter()
                .filter(|t| t.excludes_kms && !silence::undone(inp, t))
                .filter(|t| !arn || silence::covers(t, &key))
                .map(ev_of_trail)
                .collect();
            Verdict {
                since: evidence.first().and_then(|e| e.event_time),
                key_arn: key,
                caller: None,
                verdict: VerdictKind::NoKmsEvents,
                reason: Reason::NoCalls,
                evidence,
                suspect: false,
                before: Period::default(),
                after: Period::default(),
                cause: None,
                state: State::Ongoing,
                look_in_account: None,
            }
        })
        .collect()
}

fn key_is(key: &str, want: &str) -> bool {
    key == want || key.rsplit_once("key/").is_some_and(|(_, id)| id == want)
}
