//! The HTML report after the per-key sections: per cause, the blocked
//! callers with their evidence and each fix as a coloured diff with its
//! full policy (folded); then the failures the key policy does not
//! explain, and the inputs that failed.

use std::fmt::Write as _;

use super::{ROWS, esc, words};
use crate::analysis::Analysis;
use crate::analysis::causes::Cause;
use crate::analysis::diagnosis::fixes::ProposedFix;
use crate::analysis::diagnosis::{Blocked, State};
use crate::report::answer::fix_what;
use crate::report::prose::{outcome_words, unexplained_words};
use crate::report::words::{
    evidence_line, fix_kind, full_caller, statement_words, subject_words, verified_words,
};

/// Lines of a diff shown, and of a patched policy.
const DIFF_LINES: usize = 400;
const POLICY_LINES: usize = 2_000;

pub(super) fn cause(a: &Analysis, c: &Cause, out: &mut String) {
    let mine: Vec<&Blocked> = a.blocked.iter().filter(|b| b.cause == c.id).collect();
    if mine.is_empty() && c.fixes.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section class=\"details\"><h2>Details of {}</h2>",
        esc(&c.id)
    );
    if !mine.is_empty() {
        out.push_str(
            "<h3>Blocked callers</h3><table><thead><tr><th>caller</th><th>statement</th>\
             <th>events</th><th>denied</th><th>earlier successes now denied</th><th>evidence</th>\
             </tr></thead><tbody>",
        );
        for b in mine.iter().take(ROWS) {
            blocked_row(b, out);
        }
        out.push_str("</tbody></table>");
        if mine.len() > ROWS {
            let _ = write!(
                out,
                "<p>... and {} more blocked callers (all in <code>--format json</code>)</p>",
                mine.len() - ROWS
            );
        }
    }
    for f in &c.fixes {
        fix(f, out);
    }
    for f in &c.fix_failures {
        let text = if f.not_in_trail.is_empty() {
            format!("no {} fix: {}", fix_kind(f.kind), f.reason)
        } else {
            format!(
                "no safe {} fix: it needs the caller's `{}`, which CloudTrail does not show",
                fix_kind(f.kind),
                f.not_in_trail.join("`, `")
            )
        };
        let _ = write!(out, "<p>{}</p>", words(&text));
    }
    out.push_str("</section>");
}

fn blocked_row(b: &Blocked, out: &mut String) {
    let how = match (b.state, b.decision) {
        (State::Resolved, _) => " (was denied)",
        (_, crate::policy::Outcome::Undetermined) => " (may be denied)",
        _ => "",
    };
    let evidence: Vec<String> = b
        .evidence
        .iter()
        .map(|e| words(&evidence_line(e)))
        .collect();
    let mut ev = evidence.join("<br>");
    if !b.uncertain_keys.is_empty() {
        let _ = write!(
            ev,
            "<br>hangs on {}, which CloudTrail cannot show",
            esc(&b.uncertain_keys.join(", "))
        );
    }
    let _ = write!(
        out,
        "<tr><td><code>{}</code>{how}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td class=\"mono\">{ev}</td></tr>",
        esc(&full_caller(&b.caller)),
        esc(&statement_words(&b.statement)),
        esc(&b.event_names.join(", ")),
        b.denied,
        b.replayed
    );
}

/// A fix: its heading and what it does, the notes on its checks, the
/// diff, and the full policy (folded).
fn fix(f: &ProposedFix, out: &mut String) {
    let unlisted = usize::try_from(f.checks_passed_not_listed).unwrap_or(usize::MAX);
    let passed = f.checks.iter().filter(|c| c.passed).count() + unlisted;
    let word_class = if f.verified { "ok-word" } else { "bad-word" };
    let _ = write!(
        out,
        "<div class=\"fix\" id=\"{}\"><h3>{} ({}, <span class=\"{word_class}\">{}</span>: {passed}/{} checks pass)</h3><p>{}</p>",
        esc(&f.id),
        esc(&f.id),
        fix_kind(f.kind),
        esc(verified_words(f)),
        f.checks.len() + unlisted,
        words(&fix_what(f))
    );
    let notes = fix_notes(f);
    if !notes.is_empty() {
        out.push_str("<ul>");
        for n in notes {
            let _ = write!(out, "<li>{}</li>", words(&n));
        }
        out.push_str("</ul>");
    }
    diff_lines(&f.diff, out);
    full_policy(f, out);
    out.push_str("</div>");
}

/// What a reader must know before applying a fix: failed checks, callers
/// it leaves blocked, who it lets in, warnings, the size limit.
fn fix_notes(f: &ProposedFix) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for c in f.checks.iter().filter(|c| !c.passed) {
        notes.push(format!(
            "failed check: {} ({} -> {})",
            subject_words(&c.subject),
            outcome_words(c.before),
            outcome_words(c.after)
        ));
    }
    if f.still_blocked_count > 0 {
        let first: Vec<String> = f.still_blocked.iter().take(3).map(full_caller).collect();
        notes.push(format!(
            "still blocked after this fix: {} caller(s), e.g. {}",
            f.still_blocked_count,
            first.join("; ")
        ));
    }
    notes.extend(
        f.lets_in
            .iter()
            .map(|r| format!("lets in: {}", subject_words(r))),
    );
    notes.extend(f.warnings.iter().map(|x| format!("warning: {x}")));
    if f.over_size_limit {
        notes.push(format!(
            "too large: {} bytes, over KMS's {}-byte key policy limit (PutKeyPolicy would refuse it)",
            f.policy_bytes,
            crate::analysis::diagnosis::fixes::POLICY_SIZE_LIMIT
        ));
    }
    notes
}

/// A diff, each line coloured by what it does, cut at [`DIFF_LINES`].
fn diff_lines(diff: &str, out: &mut String) {
    out.push_str("<pre class=\"diff\">");
    let lines: Vec<&str> = diff.lines().collect();
    for line in lines.iter().take(DIFF_LINES) {
        let class = match line.as_bytes().first() {
            Some(b'+') if !line.starts_with("+++") => "add",
            Some(b'-') if !line.starts_with("---") => "del",
            Some(b'@') => "hunk",
            _ => "ctx",
        };
        // Block spans: one line each, with no newline between them (a
        // newline in `pre` would double every line).
        let _ = write!(out, "<span class=\"{class}\">{}</span>", esc(line));
    }
    if lines.len() > DIFF_LINES {
        let _ = write!(
            out,
            "<span>... {} more diff lines (the full policy is below)</span>",
            lines.len() - DIFF_LINES
        );
    }
    out.push_str("</pre>");
}

/// The whole patched (or restored) policy, folded, cut at [`POLICY_LINES`].
fn full_policy(f: &ProposedFix, out: &mut String) {
    let policy = serde_json::to_string_pretty(&f.policy).unwrap_or_default();
    let _ = write!(
        out,
        "<details><summary>The full {} policy ({} bytes)</summary><pre>",
        if f.kind == crate::policy::FixKind::Restore {
            "restored"
        } else {
            "patched"
        },
        f.policy_bytes
    );
    let lines: Vec<&str> = policy.lines().collect();
    for line in lines.iter().take(POLICY_LINES) {
        let _ = writeln!(out, "{}", esc(line));
    }
    if lines.len() > POLICY_LINES {
        let _ = writeln!(
            out,
            "... {} more lines (the whole document is in <code>--format json</code>)",
            lines.len() - POLICY_LINES
        );
    }
    out.push_str("</pre></details>");
}

pub(super) fn unexplained(a: &Analysis, out: &mut String) {
    if a.unexplained.is_empty() && a.policy_errors.is_empty() {
        return;
    }
    out.push_str("<section><h2>Failures the key policy does not explain</h2><ul>");
    for u in a.unexplained.iter().take(ROWS) {
        let n = if u.denied > 0 {
            format!("{} denied", u.denied)
        } else {
            format!("{} key-state failures", u.key_state_failed)
        };
        let _ = write!(
            out,
            "<li><code>{}</code> ({}, {n}): {}</li>",
            esc(&full_caller(&u.caller)),
            esc(&u.event_names.join(", ")),
            words(&unexplained_words(u.kind, u.error_code.as_deref()))
        );
    }
    if a.unexplained.len() > ROWS {
        let _ = write!(out, "<li>... and {} more</li>", a.unexplained.len() - ROWS);
    }
    for e in &a.policy_errors {
        let _ = write!(
            out,
            "<li>warning: key <code>{}</code>: {}</li>",
            esc(&e.key_arn),
            words(&e.reason)
        );
    }
    out.push_str("</ul></section>");
}

pub(super) fn failures(a: &Analysis, out: &mut String) {
    if a.failures.is_empty() {
        return;
    }
    out.push_str("<section><h2>Inputs that failed</h2><ul>");
    for f in a.failures.iter().take(ROWS) {
        let _ = write!(
            out,
            "<li><code>{}</code>: {}</li>",
            esc(&f.source),
            words(&f.reason)
        );
    }
    if a.failures.len() > ROWS {
        let _ = write!(out, "<li>... and {} more</li>", a.failures.len() - ROWS);
    }
    out.push_str("</ul></section>");
}
