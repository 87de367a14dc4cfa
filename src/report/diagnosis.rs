//! The diagnosis in words, shared by the table and Markdown reports: who is
//! blocked by which statement and why, the fixes and whether they verified,
//! and the failures the key policy does not explain.

use std::io::Write;

use super::Report;
use crate::call::Caller;
use crate::diagnose::{Blocked, ProposedFix};
use crate::policy::{ConditionTrace, Seen, Tri};

/// How the two text formats differ.
#[derive(Clone, Copy)]
pub(super) struct Style {
    pub heading: &'static str,
    pub bullet: &'static str,
    pub code_open: &'static str,
    pub code_close: &'static str,
}

pub(super) fn caller_words(c: &Caller) -> String {
    let who = match (&c.principal_arn, &c.invoked_by) {
        (Some(p), Some(via)) => format!("`{p}` through `{via}`"),
        (Some(p), None) => format!("`{p}`"),
        (None, Some(via)) => format!("`{via}`"),
        (None, None) => "an unidentified caller".into(),
    };
    format!("{} {who}", c.class.as_str())
}

fn statement_words(b: &Blocked) -> String {
    match &b.statement.sid {
        Some(sid) => format!("statement {} (\"{sid}\")", b.statement.index),
        None => format!("statement {}", b.statement.index),
    }
}

fn seen_words(s: &Seen) -> String {
    match s {
        Seen::Present(v) => format!("`{}`", v.join("`, `")),
        Seen::Absent => "absent".into(),
        Seen::Unknown => "unknown (CloudTrail cannot tell)".into(),
    }
}

fn tri_words(t: Tri) -> &'static str {
    match t {
        Tri::True => "true",
        Tri::False => "false",
        Tri::Unknown => "unknown",
    }
}

pub(super) fn evidence_line(c: &ConditionTrace) -> String {
    format!(
        "{} `{}` [{}]: seen {} -> {}",
        c.operator,
        c.key,
        c.values.join(", "),
        seen_words(&c.seen),
        tri_words(c.result)
    )
}

pub(super) fn render(r: &Report, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    if !r.blocked.is_empty() {
        writeln!(w, "{}Blocked by the key policy\n", st.heading)?;
    }
    for b in &r.blocked {
        blocked(b, st, w)?;
    }
    if !r.unexplained.is_empty() {
        writeln!(
            w,
            "{}Failures the key policy does not explain\n",
            st.heading
        )?;
        for u in &r.unexplained {
            let n = if u.denied > 0 {
                format!("{} denied", u.denied)
            } else {
                format!("{} key-state failures", u.key_state_failed)
            };
            writeln!(
                w,
                "{}{} on `{}` ({}, {n}): {} [{}]",
                st.bullet,
                caller_words(&u.caller),
                u.key_arn,
                u.event_names.join(", "),
                u.reason.replace('\n', " "),
                u.kind
            )?;
        }
        writeln!(w)?;
    }
    for e in &r.policy_errors {
        writeln!(w, "{}warning: key `{}`: {}", st.bullet, e.key_arn, e.reason)?;
    }
    Ok(())
}

fn blocked(b: &Blocked, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let how = if b.decision == crate::policy::Outcome::Undetermined {
        "may be denied"
    } else {
        "is denied"
    };
    writeln!(
        w,
        "{}{} {how} by {} of `{}`",
        st.bullet,
        caller_words(&b.caller),
        statement_words(b),
        b.key_arn
    )?;
    writeln!(
        w,
        "  events: {}; denied calls logged: {}; earlier successes the current policy would deny: {}",
        b.event_names.join(", "),
        b.denied,
        b.replayed
    )?;
    for c in &b.evidence {
        writeln!(w, "  evidence: {}", evidence_line(c))?;
    }
    for n in &b.notes {
        writeln!(w, "  note: {n}")?;
    }
    for f in &b.fixes {
        fix(f, st, w)?;
    }
    writeln!(w)
}

pub(super) fn fix(f: &ProposedFix, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let kind = match f.kind {
        crate::policy::FixKind::Broad => "broad",
        crate::policy::FixKind::Narrow => "narrow",
    };
    let unlisted = usize::try_from(f.checks_passed_not_listed).unwrap_or(usize::MAX);
    let passed = f.checks.iter().filter(|c| c.passed).count() + unlisted;
    let verdict = if f.verified {
        "verified"
    } else {
        "NOT verified"
    };
    writeln!(
        w,
        "  fix ({kind}, {verdict}: {passed}/{} checks pass): {}",
        f.checks.len() + unlisted,
        f.description
    )?;
    for c in f.checks.iter().filter(|c| !c.passed) {
        writeln!(
            w,
            "    failed check: {} ({:?} -> {:?})",
            c.what, c.before, c.after
        )?;
    }
    for warning in &f.warnings {
        writeln!(w, "    warning: {warning}")?;
    }
    writeln!(w, "{}", st.code_open)?;
    for line in f.diff.lines() {
        writeln!(w, "    {line}")?;
    }
    writeln!(w, "{}", st.code_close)
}
