//! Per key, in words: the timeline of changes, then one line per verdict
//! with the before/after contrast and a sparkline of successes and
//! failures per bucket. Shared by the table and Markdown reports.

use std::io::Write;

use super::Report;
use super::diagnosis::{Style, caller_words};
use crate::call::Caller;
use crate::diff::fmt_time;
use crate::timeline::{Period, sparkline};
use crate::verdict::{Kind, Verdict};

fn t(ms: Option<i64>) -> String {
    ms.map_or_else(|| "?".into(), fmt_time)
}

pub(super) fn kind_words(k: Kind) -> &'static str {
    match k {
        Kind::KeyPolicyDeny => "key-policy-deny",
        Kind::IdentityPolicyDeny => "identity-policy-deny",
        Kind::ScpDeny => "scp-deny",
        Kind::PermissionsBoundaryDeny => "permissions-boundary-deny",
        Kind::SessionPolicyDeny => "session-policy-deny",
        Kind::KeyDisabled => "key-disabled",
        Kind::KeyPendingDeletion => "key-pending-deletion",
        Kind::GrantRevoked => "grant-revoked",
        Kind::CrossAccountNotLoggedHere => "cross-account-not-logged-here",
        Kind::NoKmsEvents => "no-kms-events",
        Kind::Unexplained => "unexplained",
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
    r: &Report,
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
    for v in verdicts {
        verdict(r, v, st, w)?;
    }
    writeln!(w)
}

fn verdict(r: &Report, v: &Verdict, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let who = v
        .caller
        .as_ref()
        .map_or_else(|| "the key".into(), caller_words);
    let suspect = if v.suspect {
        " (suspect: went silent)"
    } else {
        ""
    };
    writeln!(
        w,
        "{}{}{suspect}: {who}, since {}",
        st.bullet,
        kind_words(v.verdict),
        t(v.since)
    )?;
    writeln!(w, "  {}", v.detail)?;
    if let Some(c) = &v.caller {
        writeln!(
            w,
            "  before: {}; after: {}",
            period(&v.before),
            period(&v.after)
        )?;
        let (ok, bad) = spark(r, &v.key_arn, c);
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

fn spark(r: &Report, key: &str, caller: &Caller) -> (String, String) {
    let mine: Vec<_> = r
        .buckets
        .iter()
        .filter(|b| b.key_arn == key && &b.caller == caller)
        .collect();
    let ok: Vec<u64> = mine.iter().map(|b| b.succeeded).collect();
    let bad: Vec<u64> = mine.iter().map(|b| b.denied + b.key_state_failed).collect();
    let max = ok.iter().chain(&bad).copied().max().unwrap_or(0);
    (sparkline(&ok, max), sparkline(&bad, max))
}

fn width_words(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s => format!("{} min", s / 60),
    }
}

/// Verdicts about keys with no events (and `*`, no KMS events at all).
pub(super) fn render_keyless(r: &Report, st: Style, w: &mut impl Write) -> std::io::Result<()> {
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
        writeln!(w, "  evidence: {} {} [{id}]", t(e.event_time), e.what)?;
    }
    Ok(())
}
