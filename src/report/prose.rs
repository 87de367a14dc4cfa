//! The diagnosis in words, shared by the table and Markdown reports: the
//! blocked callers of each cause with their evidence, each fix and how its
//! verification went, and the failures the key policy does not explain.

use std::io::Write;

use super::words::{
    SHOWN, Style, evidence_line, fix_kind, short_caller, statement_words, subject_words,
    verified_words, wrapped,
};
use crate::analysis::Analysis;
use crate::analysis::diagnosis::fixes::ProposedFix;
use crate::analysis::diagnosis::{Blocked, KeyPolicyMessage, State, UnexplainedKind};
use crate::policy::{FixKind, Outcome};

/// Why a failure is not a key-policy statement's doing, in words.
pub(super) fn unexplained_words(kind: UnexplainedKind, code: Option<&str>) -> String {
    let aws_says = |what: &str| format!("AWS says {what} denied it, not the key policy");
    match kind {
        UnexplainedKind::IdentityPolicy => aws_says("an IAM identity-based policy"),
        UnexplainedKind::Scp => aws_says("a service control policy"),
        UnexplainedKind::Rcp => aws_says("a resource control policy"),
        UnexplainedKind::PermissionsBoundary => aws_says("a permissions boundary"),
        UnexplainedKind::SessionPolicy => aws_says("a session policy"),
        UnexplainedKind::KeyState => format!(
            "the key's state refused the call ({}), not a policy",
            code.unwrap_or("a key state error")
        ),
        UnexplainedKind::NoPolicy => "no key policy known for this key (give it with `--policy FILE`, or fetch it with `--fetch-policy`)".into(),
        UnexplainedKind::NotEvaluable => {
            "CloudTrail does not identify this caller well enough to evaluate the key policy".into()
        }
        UnexplainedKind::PolicyAllows => "the key policy in hand allows it".into(),
        UnexplainedKind::PolicyDoesNotDeny => "the key policy in hand does not deny it (no statement matches; a grant or IAM policy may be missing)".into(),
        UnexplainedKind::KeyPolicyNoAllow => "AWS says no key policy statement allows it (an implicit deny, not a Deny statement): an Allow, a grant or an IAM policy is missing".into(),
        UnexplainedKind::KeyPolicyDenyNotFound => "AWS says a Deny in the key policy refused it, but no Deny of the policy in hand can match, whatever the keys CloudTrail cannot show: the policy in hand may not be the one in force".into(),
    }
}

fn kind_tag(k: UnexplainedKind) -> &'static str {
    match k {
        UnexplainedKind::IdentityPolicy => "identity-policy",
        UnexplainedKind::Scp => "scp",
        UnexplainedKind::Rcp => "rcp",
        UnexplainedKind::PermissionsBoundary => "permissions-boundary",
        UnexplainedKind::SessionPolicy => "session-policy",
        UnexplainedKind::KeyState => "key-state",
        UnexplainedKind::NoPolicy => "no-policy",
        UnexplainedKind::NotEvaluable => "not-evaluable",
        UnexplainedKind::PolicyAllows => "policy-allows",
        UnexplainedKind::PolicyDoesNotDeny => "policy-does-not-deny",
        UnexplainedKind::KeyPolicyNoAllow => "key-policy-no-allow",
        UnexplainedKind::KeyPolicyDenyNotFound => "key-policy-deny-not-found",
    }
}

/// The details after the answer: per cause, its blocked callers (the
/// first [`SHOWN`]) with evidence, and its fixes with diffs; then the
/// failures the key policy does not explain.
pub(super) fn render(a: &Analysis, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    for c in &a.causes {
        let mine: Vec<&Blocked> = a.blocked.iter().filter(|b| b.cause == c.id).collect();
        if mine.is_empty() && c.fixes.is_empty() {
            continue;
        }
        writeln!(w, "{}\n", st.head(&format!("Details of {}", c.id)))?;
        write!(w, "{}", st.fold("Blocked callers, evidence and fixes"))?;
        for b in mine.iter().take(SHOWN) {
            blocked(b, w)?;
        }
        if mine.len() > SHOWN {
            writeln!(
                w,
                "{}... and {} more blocked callers with the same statement (all in `--format json`)\n",
                st.bullet,
                mine.len() - SHOWN
            )?;
        }
        for f in &c.fixes {
            fix(f, DiffBase::Current, st, w)?;
        }
        for f in &c.fix_failures {
            if f.not_in_trail.is_empty() {
                writeln!(
                    w,
                    "{}no {} fix: {}",
                    st.bullet,
                    fix_kind(f.kind),
                    f.reason.replace('\n', " ")
                )?;
            } else {
                let head = format!(
                    "no safe {} fix: it needs the caller's `{}`, which CloudTrail does not show; adding a guessed value could let in what the statement keeps out",
                    fix_kind(f.kind),
                    f.not_in_trail.join("`, `")
                );
                writeln!(w, "{}", wrapped(st.bullet, 4, &head))?;
            }
        }
        writeln!(w)?;
        write!(w, "{}", st.unfold())?;
    }
    if !a.unexplained.is_empty() {
        writeln!(
            w,
            "{}\n",
            st.head("Failures the key policy does not explain")
        )?;
        for u in a.unexplained.iter().take(SHOWN * 2) {
            let n = if u.denied > 0 {
                format!("{} denied", u.denied)
            } else {
                format!("{} key-state failures", u.key_state_failed)
            };
            let line = format!(
                "{} ({}, {n}): {} [{}]",
                short_caller(&u.caller),
                u.event_names.join(", "),
                unexplained_words(u.kind, u.error_code.as_deref()),
                kind_tag(u.kind)
            );
            writeln!(w, "{}", wrapped(st.bullet, 2, &line))?;
        }
        if a.unexplained.len() > SHOWN * 2 {
            writeln!(
                w,
                "{}... and {} more",
                st.bullet,
                a.unexplained.len() - SHOWN * 2
            )?;
        }
        writeln!(w)?;
    }
    for e in &a.policy_errors {
        writeln!(w, "{}warning: key `{}`: {}", st.bullet, e.key_arn, e.reason)?;
    }
    Ok(())
}

fn blocked(b: &Blocked, w: &mut impl Write) -> std::io::Result<()> {
    let how = match (b.state, b.decision) {
        (State::Resolved, _) => "was denied",
        (_, Outcome::Undetermined) => "may be denied",
        _ => "is denied",
    };
    let head = format!(
        "{} {how} by {}",
        short_caller(&b.caller),
        statement_words(&b.statement)
    );
    writeln!(w, "{}", wrapped("- ", 2, &head))?;
    writeln!(
        w,
        "  events: {}; denied calls logged: {}; earlier successes the current policy would deny: {}",
        b.event_names.join(", "),
        b.denied,
        b.replayed
    )?;
    if !b.uncertain_keys.is_empty() {
        let keys = format!(
            "`{}`, which CloudTrail cannot show{}",
            b.uncertain_keys.join("`, `"),
            if b.aws_says == Some(KeyPolicyMessage::ExplicitDeny) {
                "; AWS's message says a key-policy Deny refused the call, so this statement is the likely cause"
            } else {
                ""
            }
        );
        writeln!(w, "{}", wrapped("  hangs on: ", 4, &keys))?;
    }
    for c in &b.evidence {
        writeln!(w, "{}", wrapped("  evidence: ", 4, &evidence_line(c)))?;
    }
    Ok(())
}

/// A decision as the reports spell it (as in the JSON).
pub(super) fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Allowed => "allowed",
        Outcome::ExplicitDeny => "explicit-deny",
        Outcome::ImplicitDeny => "implicit-deny",
        Outcome::Undetermined => "undetermined",
    }
}

/// The policy a fix's diff starts from.
#[derive(Clone, Copy)]
pub(super) enum DiffBase {
    /// `analyze`, `explain`: the policy in force.
    Current,
    /// `check`: the proposal.
    Proposed,
}

/// The `---`/`+++` header of a fix's diff.
fn diff_header(f: &ProposedFix, base: DiffBase) -> [String; 2] {
    let from = match base {
        DiffBase::Current => "current",
        DiffBase::Proposed => "proposed",
    };
    let to = if f.kind == FixKind::Restore {
        "restored"
    } else {
        "patched"
    };
    [
        format!("--- key policy ({from})"),
        format!("+++ key policy ({to})"),
    ]
}

pub(super) fn fix(
    f: &ProposedFix,
    base: DiffBase,
    st: Style,
    w: &mut impl Write,
) -> std::io::Result<()> {
    let unlisted = usize::try_from(f.checks_passed_not_listed).unwrap_or(usize::MAX);
    let passed = f.checks.iter().filter(|c| c.passed).count() + unlisted;
    let what = if f.kind == FixKind::Restore {
        "restore the policy version before the change".to_owned()
    } else {
        f.description.clone()
    };
    let head = format!(
        "{} ({}, {}: {passed}/{} checks pass): {what}",
        f.id,
        fix_kind(f.kind),
        verified_words(f),
        f.checks.len() + unlisted,
    );
    writeln!(w, "{}", wrapped("  ", 4, &head))?;
    if f.over_size_limit {
        let line = format!(
            "too large: {} bytes, over KMS's {}-byte key policy limit (PutKeyPolicy would refuse it)",
            f.policy_bytes,
            crate::analysis::diagnosis::fixes::POLICY_SIZE_LIMIT
        );
        writeln!(w, "{}", wrapped("    ", 4, &line))?;
    }
    for c in f.checks.iter().filter(|c| !c.passed) {
        let line = format!(
            "{} ({} -> {})",
            subject_words(&c.subject),
            outcome_words(c.before),
            outcome_words(c.after)
        );
        writeln!(w, "{}", wrapped("    failed check: ", 6, &line))?;
    }
    if f.still_blocked_count > 0 {
        let first: Vec<String> = f.still_blocked.iter().take(3).map(short_caller).collect();
        let line = format!(
            "{} caller(s), e.g. {}",
            f.still_blocked_count,
            first.join("; ")
        );
        writeln!(
            w,
            "{}",
            wrapped("    still blocked after this fix: ", 6, &line)
        )?;
    }
    for r in &f.lets_in {
        writeln!(w, "{}", wrapped("    lets in: ", 6, &subject_words(r)))?;
    }
    for warning in &f.warnings {
        writeln!(w, "{}", wrapped("    warning: ", 6, warning))?;
    }
    writeln!(w, "{}", st.code_open)?;
    let lines: Vec<&str> = f.diff.lines().collect();
    if !lines.is_empty() {
        for line in diff_header(f, base) {
            writeln!(w, "    {line}")?;
        }
    }
    for line in lines.iter().take(60) {
        let paint = match line.as_bytes().first() {
            Some(b'+') => anstyle::AnsiColor::Green.on_default(),
            Some(b'-') => anstyle::AnsiColor::Red.on_default(),
            Some(b'@') => anstyle::AnsiColor::Cyan.on_default(),
            _ => anstyle::Style::new(),
        };
        writeln!(w, "    {}", st.paint(paint, line))?;
    }
    if lines.len() > 60 {
        writeln!(
            w,
            "    ... {} more diff lines (the full policy is in `--format json`)",
            lines.len() - 60
        )?;
    }
    writeln!(w, "{}", st.code_close)
}
