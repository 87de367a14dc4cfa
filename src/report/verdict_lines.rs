//! Per key, in words: the timeline of changes, then one line per verdict
//! with its reason, the before/after contrast and a sparkline of successes
//! and failures per bucket. Shared by the table and Markdown reports. The
//! analysis gives each verdict's reason and evidence as data
//! ([`Reason`], [`EvidenceKind`]); every word of them is here.

use std::io::Write;

use foldhash::HashMap;

use super::words::{SHOWN, Style, short_caller, statement_words, wrapped};
use crate::analysis::Analysis;
use crate::analysis::diagnosis::State;
use crate::analysis::timeline::Series;
use crate::analysis::timeline::{Period, sparkline};
use crate::analysis::verdicts::{Evidence, EvidenceKind, PolicyType, Reason, Verdict, VerdictKind};
use crate::call::Caller;
use crate::call::fmt_time;
use crate::collect::TrailScope;

fn t(ms: Option<i64>) -> String {
    ms.map_or_else(|| "?".into(), fmt_time)
}

pub(super) fn kind_words(k: VerdictKind) -> &'static str {
    match k {
        VerdictKind::KeyPolicyDeny => "key-policy-deny",
        VerdictKind::IdentityPolicyDeny => "identity-policy-deny",
        VerdictKind::ScpDeny => "scp-deny",
        VerdictKind::RcpDeny => "rcp-deny",
        VerdictKind::PermissionsBoundaryDeny => "permissions-boundary-deny",
        VerdictKind::SessionPolicyDeny => "session-policy-deny",
        VerdictKind::KeyDisabled => "key-disabled",
        VerdictKind::KeyPendingDeletion => "key-pending-deletion",
        VerdictKind::GrantRevoked => "grant-revoked",
        VerdictKind::CrossAccountNotLoggedHere => "cross-account-not-logged-here",
        VerdictKind::NoKmsEvents => "no-kms-events",
        VerdictKind::Unexplained => "unexplained",
    }
}

fn period(p: &Period) -> String {
    format!(
        "{} ok, {} denied, {} key-state",
        p.succeeded, p.denied, p.key_state_failed
    )
}

/// The timeline and verdicts of one key.
pub(super) fn render_key(
    r: &Analysis,
    key: &str,
    st: Style,
    w: &mut impl Write,
) -> std::io::Result<()> {
    let events: Vec<_> = r.timeline.iter().filter(|l| l.key_arn == key).collect();
    if !events.is_empty() {
        writeln!(w, "Timeline:\n")?;
        for l in events {
            let who = l
                .actor
                .as_deref()
                .map_or(String::new(), |a| format!(" by `{a}`"));
            let failed = if l.outcome == crate::call::Outcome::Succeeded {
                ""
            } else {
                " (failed)"
            };
            let id = l.event_id.as_deref().unwrap_or("?");
            writeln!(
                w,
                "{}{} {}{who}{failed} [{id}]",
                st.bullet,
                t(l.time_ms),
                l.event_name
            )?;
        }
        writeln!(w)?;
    }
    let verdicts: Vec<&Verdict> = r.verdicts.iter().filter(|v| v.key_arn == key).collect();
    if verdicts.is_empty() {
        return Ok(());
    }
    writeln!(w, "Verdicts:\n")?;
    let series: HashMap<&Caller, &Series> = r
        .buckets
        .iter()
        .filter(|s| s.key_arn == key)
        .map(|s| (&s.caller, s))
        .collect();
    // Per cause, the first few verdicts; the rest are counted.
    let mut per_cause: HashMap<Option<&str>, usize> = HashMap::default();
    let mut left_out = 0;
    for v in verdicts {
        let n = per_cause.entry(v.cause.as_deref()).or_default();
        *n += 1;
        if *n > SHOWN {
            left_out += 1;
            continue;
        }
        verdict(r, v, &series, st, w)?;
    }
    if left_out > 0 {
        writeln!(
            w,
            "{}... and {left_out} more verdicts like these (all in `--format json`)",
            st.bullet
        )?;
    }
    writeln!(w)
}

fn verdict(
    r: &Analysis,
    v: &Verdict,
    series: &HashMap<&Caller, &Series>,
    st: Style,
    w: &mut impl Write,
) -> std::io::Result<()> {
    let who = v
        .caller
        .as_ref()
        .map_or_else(|| "the key".into(), short_caller);
    let cause = v
        .cause
        .as_deref()
        .map_or(String::new(), |c| format!(" [{c}]"));
    let resolved = if v.state == State::Resolved {
        " (resolved)"
    } else {
        ""
    };
    let suspect = if v.suspect {
        " (suspect: went silent)"
    } else {
        ""
    };
    let head = format!(
        "{}{resolved}{suspect}: {who}, since {}{cause}",
        kind_words(v.verdict),
        t(v.since)
    );
    writeln!(w, "{}", wrapped(st.bullet, 2, &head))?;
    writeln!(
        w,
        "{}",
        wrapped("  ", 2, &reason_words(&v.reason, &v.key_arn))
    )?;
    if let Some(account) = &v.look_in_account {
        writeln!(
            w,
            "{}",
            wrapped("  ", 2, &look_in_words(account, &v.key_arn))
        )?;
    }
    if let Some(c) = &v.caller {
        writeln!(
            w,
            "  before: {}; after: {}",
            period(&v.before),
            period(&v.after)
        )?;
        let (ok, bad) = series.get(c).map_or_else(Default::default, |s| spark(s));
        if !ok.is_empty() {
            writeln!(
                w,
                "  ok     {ok}\n  failed {bad}   ({} per character)",
                width_words(r.bucket_seconds)
            )?;
        }
    }
    evidence(v, w)?;
    Ok(())
}

fn spark(s: &Series) -> (String, String) {
    let bad: Vec<u64> = s
        .denied
        .iter()
        .zip(&s.key_state_failed)
        .map(|(d, k)| d + k)
        .collect();
    let max = s.succeeded.iter().chain(&bad).copied().max().unwrap_or(0);
    (sparkline(&s.succeeded, max), sparkline(&bad, max))
}

pub(super) fn width_words(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s => format!("{} min", s / 60),
    }
}

/// Verdicts about keys with no events (and `*`, no KMS events at all).
pub(super) fn render_keyless(r: &Analysis, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let keys = r.keys();
    for v in r
        .verdicts
        .iter()
        .filter(|v| v.caller.is_none() && !keys.contains(&v.key_arn.as_str()))
    {
        let key = if v.key_arn == "*" {
            "any key".to_owned()
        } else {
            format!("`{}`", v.key_arn)
        };
        writeln!(
            w,
            "{}{} for {key}: {}",
            st.bullet,
            kind_words(v.verdict),
            reason_words(&v.reason, &v.key_arn)
        )?;
        evidence(v, w)?;
    }
    Ok(())
}

fn evidence(v: &Verdict, w: &mut impl Write) -> std::io::Result<()> {
    for e in &v.evidence {
        let id = e.event_id.as_deref().unwrap_or("?");
        let line = format!("{} {} [{id}]", t(e.event_time), evidence_words(e));
        writeln!(w, "{}", wrapped("  evidence: ", 4, &line))?;
    }
    Ok(())
}

/// A verdict's reason in one sentence; `key` is the verdict's key.
pub(super) fn reason_words(r: &Reason, key: &str) -> String {
    match r {
        Reason::KeyPolicy {
            statement,
            replayed,
        } => {
            let how = if *replayed {
                "would deny (its earlier successes replayed against the current policy)"
            } else {
                "denies"
            };
            format!(
                "the key policy's {} {how} this caller",
                statement_words(statement)
            )
        }
        Reason::OtherPolicy { policy_type } => format!(
            "AWS says {} denied it, not the key policy",
            policy_type_words(*policy_type)
        ),
        Reason::KeyDisabled {
            change_in_trail: true,
        } => "the key is disabled (DisableKey)".into(),
        Reason::KeyDisabled {
            change_in_trail: false,
        } => "KMS says the key is disabled (the DisableKey is not in this trail)".into(),
        Reason::KeyPendingDeletion {
            change_in_trail: true,
        } => "the key is pending deletion (ScheduleKeyDeletion)".into(),
        Reason::KeyPendingDeletion {
            change_in_trail: false,
        } => "KMS says the key is pending deletion".into(),
        Reason::KeyState { error_codes } => format!(
            "the key's state refused the calls ({}), and no lifecycle event in the trail says why",
            error_codes.join(", ")
        ),
        Reason::GrantRemoved {
            grant_id,
            grantee_principal,
        } => format!(
            "grant {} to `{grantee_principal}` was revoked or retired before its calls failed or stopped",
            grant_id
                .as_deref()
                .map_or_else(|| "?".into(), |g| format!("`{}`", short_id(g)))
        ),
        Reason::TrailStoppedKms {
            trail,
            trail_account,
            trail_region,
            scope,
        } => trail_words(
            trail.as_deref(),
            trail_account.as_deref(),
            trail_region.as_deref(),
            *scope,
            key,
        ),
        Reason::CrossAccount {
            caller_account,
            key_account,
            change_event,
        } => format!(
            "no calls after {change_event}: the caller is in account {caller_account}, the key in \
             {key_account}, and denials of its calls are logged in account {caller_account}'s trail only"
        ),
        Reason::WentSilent { change_event } => {
            format!("only successes, none after {change_event}: a suspect")
        }
        Reason::NoCalls => "no KMS calls in the window: the trail may exclude KMS events \
                            (event selectors), or the key is unused"
            .into(),
        Reason::Unexplained => {
            "no policy, key state or grant change in the trail explains these failures".into()
        }
    }
}

fn trail_words(
    trail: Option<&str>,
    account: Option<&str>,
    region: Option<&str>,
    scope: TrailScope,
    key: &str,
) -> String {
    let name = trail.map_or_else(|| "a trail".into(), |n| format!("trail `{n}`"));
    let account = account.unwrap_or("?");
    let home = region.unwrap_or("?");
    let key_region = key.split(':').nth(3).unwrap_or("?");
    let scope = match scope {
        TrailScope::Region => format!("home region {home}, logs it only"),
        TrailScope::AllRegions => format!("home region {home}, logs every region"),
        TrailScope::Organization => format!("home region {home}, an organization trail"),
        TrailScope::Unknown if key_region == home => format!("home region {home}"),
        TrailScope::Unknown => format!(
            "home region {home}; whether it logs every region is not in this trail, and it logs \
             this key's region ({key_region}) only if it does"
        ),
    };
    format!(
        "{name} of account {account} ({scope}) stopped logging KMS events after this caller's \
         last success: its calls may go on unseen"
    )
}

fn look_in_words(account: &str, key: &str) -> String {
    let key_account = key.split(':').nth(4).unwrap_or("?");
    format!(
        "the caller is in account {account}, the key in {key_account}: its calls are logged in \
         account {account}'s own trail, its denied ones only there; look in account {account}"
    )
}

fn policy_type_words(p: PolicyType) -> &'static str {
    match p {
        PolicyType::IdentityPolicy => "an IAM identity-based policy",
        PolicyType::ServiceControlPolicy => "a service control policy",
        PolicyType::ResourceControlPolicy => "a resource control policy",
        PolicyType::PermissionsBoundary => "a permissions boundary",
        PolicyType::SessionPolicy => "a session policy",
    }
}

/// The first 12 characters of a 64-character grant id.
fn short_id(id: &str) -> String {
    match id.char_indices().nth(12) {
        Some((i, _)) => format!("{}...", &id[..i]),
        None => id.to_owned(),
    }
}

/// What an evidence event did, with its name.
pub(super) fn evidence_words(e: &Evidence) -> String {
    let name = e.event_name.as_deref().unwrap_or("?");
    let did = match e.what {
        EvidenceKind::SetPolicy => "set the policy whose statement denies this caller",
        EvidenceKind::DisabledKey => "disabled the key",
        EvidenceKind::ScheduledDeletion => "scheduled the key for deletion",
        EvidenceKind::CreatedGrant => "created the grant",
        EvidenceKind::RemovedGrant => "removed the grant",
        EvidenceKind::ChangedKey => "changed the key",
        EvidenceKind::StoppedKmsLogging => "stopped KMS events from being logged",
        EvidenceKind::FirstFailure => {
            return format!(
                "first failure: {name} {}",
                e.error_code.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_owned();
        }
    };
    let by = e
        .actor
        .as_deref()
        .map_or(String::new(), |a| format!(" (by `{a}`)"));
    format!("{name} {did}{by}")
}
