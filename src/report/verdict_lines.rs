//! Per key, in words: the timeline of changes, then one line per verdict
//! with the before/after contrast and a sparkline of successes and
//! failures per bucket. Shared by the table and Markdown reports.

use std::io::Write;

use foldhash::HashMap;

use super::words::{SHOWN, Style, short_caller, wrapped};
use crate::analysis::Analysis;
use crate::analysis::diagnosis::State;
use crate::analysis::groups::fmt_time;
use crate::analysis::timeline::Series;
use crate::analysis::timeline::{Period, sparkline};
use crate::analysis::verdicts::{Verdict, VerdictKind};
use crate::call::Caller;

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
    let events: Vec<_> = r
        .timeline
        .iter()
        .filter(|l| l.event.key_arn == key)
        .collect();
    if !events.is_empty() {
        writeln!(w, "Timeline:\n")?;
        for l in events {
            let who = l
                .event
                .actor
                .as_deref()
                .map_or(String::new(), |a| format!(" by `{a}`"));
            let failed = if l.event.outcome == crate::call::Outcome::Succeeded {
                ""
            } else {
                " (failed)"
            };
            let id = l.event.event_id.as_deref().unwrap_or("?");
            writeln!(
                w,
                "{}{} {}{who}{failed} [{id}]",
                st.bullet,
                t(l.event.time_ms),
                l.event.event_name
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
    writeln!(w, "{}", wrapped("  ", 2, &v.detail))?;
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

fn width_words(seconds: i64) -> String {
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
            v.detail
        )?;
        evidence(v, w)?;
    }
    Ok(())
}

fn evidence(v: &Verdict, w: &mut impl Write) -> std::io::Result<()> {
    for e in &v.evidence {
        let id = e.event_id.as_deref().unwrap_or("?");
        let line = format!("{} {} [{id}]", t(e.event_time), e.what);
        writeln!(w, "{}", wrapped("  evidence: ", 4, &line))?;
    }
    Ok(())
}
