//! The answer, first: one block per cause (key, change, actor, time, the
//! blocking statement, how many callers by class, ongoing or resolved, and
//! the fix in one line), so that the first screen of a report says who is
//! blocked, by what, since when, and what to change.

use std::io::Write;

use super::words::{
    SHOWN, Style, classes, fix_kind, probe_words, short_arn, short_caller, statement_words,
    verified_words,
};
use crate::analysis::Analysis;
use crate::analysis::causes::{BlockingStatement, Cause, ChangeKind, ChangeRef};
use crate::analysis::diagnosis::State;
use crate::analysis::diagnosis::fixes::{CheckSubject, ProposedFix};
use crate::call::fmt_time;
use crate::policy::FixKind;

fn time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "an unknown time".into(), fmt_time)
}

pub(super) fn change_words(c: &ChangeRef) -> String {
    let name = c.event_name.as_deref().unwrap_or("a change");
    let by = c
        .actor
        .as_deref()
        .map_or(String::new(), |a| format!(" by {}", short_arn(a)));
    let id = c
        .event_id
        .as_deref()
        .map_or(String::new(), |i| format!(" [{i}]"));
    format!("{name}{by} at {}{id}", time(c.time_ms))
}

pub(super) fn kind_words(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::PolicyChange => "key policy changed",
        ChangeKind::PolicyInForce => "key policy in force (given or fetched)",
        ChangeKind::KeyDisabled => "key disabled",
        ChangeKind::KeyPendingDeletion => "key scheduled for deletion",
        ChangeKind::GrantRemoved => "grant revoked or retired",
        ChangeKind::TrailChange => "trail stopped logging KMS events",
    }
}

/// The causes, answer first; a line that says so when there are none.
pub(super) fn render(a: &Analysis, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    writeln!(w, "{}\n", st.head(&headline(a)))?;
    for c in &a.causes {
        cause(c, st, w)?;
    }
    Ok(())
}

/// `Answer: 2 cause(s), 2 ongoing, blocking 4 caller(s) now`.
pub(super) fn headline(a: &Analysis) -> String {
    let ongoing = a
        .causes
        .iter()
        .filter(|c| c.state == State::Ongoing)
        .count();
    // Distinct callers: one caller can be in two causes. A trail that
    // stopped logging hides callers; it does not block them.
    let callers = a
        .causes
        .iter()
        .filter(|c| c.state == State::Ongoing && c.change != ChangeKind::TrailChange)
        .flat_map(|c| {
            let blocked = c.blocking.iter().flat_map(|b| &b.callers);
            blocked
                .chain(&c.affected)
                .map(move |caller| (c.key_arn.as_str(), caller))
        })
        .collect::<std::collections::HashSet<_>>()
        .len();
    if a.causes.is_empty() {
        return "Answer: no change on a key blocks a caller".into();
    }
    format!(
        "Answer: {} cause(s), {ongoing} ongoing, blocking {callers} caller(s) now",
        a.causes.len()
    )
}

/// `ONGOING` or `RESOLVED`.
pub(super) fn state_word(s: State) -> &'static str {
    match s {
        State::Ongoing => "ONGOING",
        State::Resolved => "RESOLVED",
    }
}

/// What a cause did to its callers: `blocks`, `blocked`, `hides`, `hid`.
pub(super) fn blocks_word(c: &Cause) -> &'static str {
    match (c.change, c.state) {
        (ChangeKind::TrailChange, State::Ongoing) => "hides",
        (ChangeKind::TrailChange, State::Resolved) => "hid",
        (_, State::Ongoing) => "blocks",
        (_, State::Resolved) => "blocked",
    }
}

/// The statements a policy change added, changed and removed, in words.
pub(super) fn statement_changes(c: &Cause) -> Option<String> {
    let s = c.statements.as_ref()?;
    let list = |v: &[crate::analysis::diagnosis::StatementRef]| {
        v.iter().map(statement_words).collect::<Vec<_>>().join(", ")
    };
    let mut parts = Vec::new();
    if !s.added.is_empty() {
        parts.push(format!("added {}", list(&s.added)));
    }
    if !s.changed.is_empty() {
        parts.push(format!("changed {}", list(&s.changed)));
    }
    if !s.removed.is_empty() {
        parts.push(format!("removed {}", list(&s.removed)));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The fix to lead with: the smallest verified change first (a patch that
/// lets nothing else in, then any verified patch, then the restore).
pub(super) fn best_fix(c: &Cause) -> Option<&ProposedFix> {
    c.fixes
        .iter()
        .find(|f| f.verified && f.kind != FixKind::Restore && f.lets_in.is_empty())
        .or_else(|| {
            c.fixes
                .iter()
                .find(|f| f.verified && f.kind != FixKind::Restore)
        })
        .or_else(|| c.fixes.iter().find(|f| f.verified))
        .or(c.fixes.first())
}

/// The note when no patch is safe: the keys it would need.
pub(super) fn no_patch_note(c: &Cause) -> Option<String> {
    let verified_patch = c
        .fixes
        .iter()
        .any(|f| f.verified && f.kind != FixKind::Restore);
    let mut keys: Vec<&str> = Vec::new();
    for k in c.fix_failures.iter().flat_map(|f| &f.not_in_trail) {
        if !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    (!verified_patch && !keys.is_empty()).then(|| {
        format!(
            "no safe patch: it needs the caller's `{}`, which CloudTrail does not show",
            keys.join("`, `")
        )
    })
}

fn cause(c: &Cause, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let paint = match c.state {
        State::Ongoing => anstyle::AnsiColor::Red.on_default().bold(),
        State::Resolved => anstyle::AnsiColor::Green.on_default().bold(),
    };
    let state = st.paint(paint, state_word(c.state));
    writeln!(w, "{}{} {state}: {}", st.bullet, c.id, kind_words(c.change))?;
    writeln!(w, "{}", st.field("key", &c.key_arn))?;
    writeln!(w, "{}", st.field("change", &change_words(&c.event)))?;
    if let Some(parts) = statement_changes(c) {
        writeln!(w, "{}", st.field("policy", &parts))?;
    }
    let blocks = blocks_word(c);
    if c.blocking.is_empty() {
        let head = format!("{} caller(s): {}", c.callers, classes(&c.by_class));
        writeln!(w, "{}", st.field(blocks, &head))?;
        for caller in c.affected.iter().take(SHOWN) {
            writeln!(w, "{}", st.item(&short_caller(caller)))?;
        }
        if c.affected.len() > SHOWN {
            let more = format!("... and {} more", c.affected.len() - SHOWN);
            writeln!(w, "{}", st.item(&more))?;
        }
    }
    for b in &c.blocking {
        writeln!(w, "{}", st.field(blocks, &blocking_head(b)))?;
        for caller in b.callers.iter().take(SHOWN) {
            writeln!(w, "{}", st.item(&short_caller(caller)))?;
        }
        if b.callers.len() > SHOWN {
            let more = format!("... and {} more", b.callers.len() - SHOWN);
            writeln!(w, "{}", st.item(&more))?;
        }
    }
    if let Some(r) = &c.resolved_by {
        writeln!(w, "{}", st.field("resolved", &change_words(r)))?;
    }
    if let Some(f) = best_fix(c) {
        writeln!(w, "{}", st.field("fix", &fix_line(f)))?;
        let others = other_fixes(c, f);
        if !others.is_empty() {
            writeln!(w, "{}", st.field("also", &others))?;
        }
    } else if c.state == State::Ongoing && !c.blocking.is_empty() {
        writeln!(w, "{}", st.field("fix", NO_FIX))?;
    }
    if let Some(note) = no_patch_note(c) {
        writeln!(w, "{}", st.field("note", &note))?;
    }
    writeln!(w)
}

/// `3 caller(s) by statement 1 ("Sid"): 1 service-principal, 2 forward-access`.
pub(super) fn blocking_head(b: &BlockingStatement) -> String {
    format!(
        "{} caller(s) by {}: {}",
        b.callers.len(),
        statement_words(&b.statement),
        classes(&b.by_class)
    )
}

/// When an ongoing cause has no fix at all.
pub(super) const NO_FIX: &str = "none could be made (see the details)";

/// The cause's fixes other than `best`, in one line.
pub(super) fn other_fixes(c: &Cause, best: &ProposedFix) -> String {
    c.fixes
        .iter()
        .filter(|o| o.id != best.id)
        .map(|o| format!("{} ({}, {})", o.id, fix_kind(o.kind), verified_words(o)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn fix_line(f: &ProposedFix) -> String {
    format!(
        "{} ({}, {}, unblocks {}): {}",
        f.id,
        fix_kind(f.kind),
        verified_words(f),
        f.unblocks,
        fix_what(f)
    )
}

/// What a fix changes, and what else it lets in.
pub(super) fn fix_what(f: &ProposedFix) -> String {
    let what = if f.kind == FixKind::Restore && f.undoes > 1 {
        format!(
            "restore the version before the change (this undoes {} versions, the later ones too)",
            f.undoes
        )
    } else if f.kind == FixKind::Restore {
        "restore the version before the change".to_owned()
    } else {
        f.description.clone()
    };
    let lets_in: Vec<&str> = f
        .lets_in
        .iter()
        .filter_map(|s| match s {
            CheckSubject::Probe { probe, .. } => Some(probe_words(*probe)),
            _ => None,
        })
        .collect();
    if lets_in.is_empty() {
        what
    } else {
        format!("{what} (lets in: {})", lets_in.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::words::WIDTH;

    #[test]
    fn arns_shorten_and_lines_wrap() {
        assert_eq!(
            short_arn(
                "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b"
            ),
            "role/AWSReservedSSO_Admin_0a1b@111122223333"
        );
        assert_eq!(
            short_arn("arn:aws:iam::111122223333:root"),
            "root@111122223333"
        );
        assert_eq!(short_arn("not an arn"), "not an arn");
        let long = "word ".repeat(60);
        let text = crate::report::table::TEXT.field("fix", long.trim());
        assert!(text.lines().count() > 2);
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        assert!(
            text.lines()
                .skip(1)
                .all(|l| l.starts_with("            word"))
        );
    }
}
