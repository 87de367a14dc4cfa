//! Fixes for a blocked caller, each verified by evaluating the patched
//! policy again against every caller seen on the key (DESIGN.md, "Fixes the
//! tool proposes"): the blocked caller is no longer denied, an unlisted IAM
//! user of the key's account still is, the principals the statement exempts
//! and every other observed caller are not newly denied. `verified` is the
//! result of those checks, never assumed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::policies::KeyPolicy;
use super::request::{arn_part, blocked_caller, probe, request};
use super::{Blocked, GroupId};
use crate::call::KmsCall;
use crate::diff::Group;
use crate::policy::{
    BlockedCaller, Expectation, FixKind, Outcome, Policy, Request, evaluate, patch, verify,
};

/// A patched policy, its diff, and how its verification went.
#[derive(Debug, Clone, Serialize)]
pub struct ProposedFix {
    pub kind: FixKind,
    pub description: String,
    /// The full patched key policy document.
    pub policy: serde_json::Value,
    /// Unified diff against the policy in force.
    pub diff: String,
    /// True only if every check passed, listed or not.
    pub verified: bool,
    /// Every failed check, and the passed ones up to [`LISTED`] checks of
    /// other callers ("not newly denied").
    pub checks: Vec<Check>,
    /// Passed checks of other callers not listed in `checks` (0: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub checks_passed_not_listed: u64,
    /// Callers this fix knowingly leaves blocked (the first [`LISTED`], then
    /// how many more).
    pub warnings: Vec<String>,
}

/// How many passed checks of other callers, and how many warnings, a fix
/// lists. Every observed caller of the key is checked against every fix;
/// listing them all made a Deny that blocks 2,000 roles of one key a 1.5 GB
/// report (4,006,000 checks).
pub const LISTED: usize = 20;

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Keeps failed checks and the first [`LISTED`] passed "not newly denied"
/// ones (the other callers); returns them and how many were left out.
fn listed(checks: Vec<Check>) -> (Vec<Check>, u64) {
    let mut others = 0;
    let mut left_out = 0;
    let kept = checks
        .into_iter()
        .filter(|c| {
            if !c.passed || c.expectation != Expectation::NotNewlyDenied {
                return true;
            }
            others += 1;
            let keep = others <= LISTED;
            left_out += u64::from(!keep);
            keep
        })
        .collect();
    (kept, left_out)
}

/// The first [`LISTED`] warnings, then how many more there are.
fn listed_warnings(mut warnings: Vec<String>) -> Vec<String> {
    if warnings.len() > LISTED {
        let more = warnings.len() - LISTED;
        warnings.truncate(LISTED);
        warnings.push(format!("... and {more} more warnings like these"));
    }
    warnings
}

/// One verification check, in words.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub expectation: Expectation,
    pub before: Outcome,
    pub after: Outcome,
    pub passed: bool,
}

/// Broad and narrow fixes for `b`, plus notes when none can be made.
pub(super) fn propose(
    b: &Blocked,
    kp: &KeyPolicy,
    groups: &[Group],
    reps: &BTreeMap<GroupId<'_>, &KmsCall>,
) -> (Vec<ProposedFix>, Vec<String>) {
    let mine: Vec<&Group> = groups
        .iter()
        .filter(|g| g.key_arn == b.key_arn && g.caller == b.caller)
        .collect();
    let Some(first) = mine.first() else {
        return (Vec::new(), Vec::new());
    };
    let rep = |g: &Group| {
        reps.get(&(g.key_arn.as_str(), g.event_name.as_str(), &g.caller))
            .copied()
    };
    let region = rep(first)
        .and_then(|c| c.region.clone())
        .or_else(|| arn_part(&b.key_arn, 3).map(Into::into))
        .unwrap_or_default();
    let Some(caller) = blocked_caller(first, &region) else {
        return (
            Vec::new(),
            vec!["no fix: the caller is not identified well enough".into()],
        );
    };
    // The key's other callers with their requests, built once for the
    // checks and for every fix's "still blocked" pass; and those the policy
    // denies now, the only ones a fix can leave blocked.
    let others: Vec<(&Group, Request)> = groups
        .iter()
        .filter(|g| g.key_arn == b.key_arn && g.caller != b.caller)
        .filter_map(|g| request(g, &g.event_name, rep(g)).map(|r| (g, r)))
        .collect();
    let denied_now: Vec<&(&Group, Request)> = others
        .iter()
        .filter(|(_, r)| evaluate(&kp.policy, r).outcome == Outcome::ExplicitDeny)
        .collect();
    let checks = checks(b, kp, &mine, &others, &rep);
    let leaves_blocked = |patched: &Policy| still_blocked(&denied_now, patched);
    make_fixes(
        &kp.policy,
        b.statement.index,
        &caller,
        &checks,
        &leaves_blocked,
    )
}

/// Broad and narrow patches of statement `index` for `caller`, each verified
/// against `checks`; `extra_warnings` names what a patch leaves blocked.
pub fn make_fixes(
    policy: &Policy,
    index: usize,
    caller: &BlockedCaller,
    checks: &Checks,
    extra_warnings: &dyn Fn(&Policy) -> Vec<String>,
) -> (Vec<ProposedFix>, Vec<String>) {
    let mut fixes: Vec<ProposedFix> = Vec::new();
    let mut notes = Vec::new();
    let plain: Vec<(Request, Expectation)> =
        checks.iter().map(|(r, e, _)| (r.clone(), *e)).collect();
    for kind in [FixKind::Broad, FixKind::Narrow] {
        match patch(policy, index, caller, kind) {
            Ok(fix) if fixes.iter().any(|f| f.policy == fix.document) => {}
            Ok(fix) => {
                let mut warnings = fix.warnings;
                warnings.extend(extra_warnings(&fix.policy));
                let v = verify(policy, &fix.policy, &plain);
                let all = v
                    .checks
                    .iter()
                    .zip(checks)
                    .map(|(c, (_, _, what))| Check {
                        what: what.clone(),
                        expectation: c.expectation,
                        before: c.before,
                        after: c.after,
                        passed: c.passed,
                    })
                    .collect();
                let (checks, checks_passed_not_listed) = listed(all);
                fixes.push(ProposedFix {
                    kind,
                    description: fix.description,
                    policy: fix.document,
                    diff: fix.diff,
                    verified: v.verified,
                    checks,
                    checks_passed_not_listed,
                    warnings: listed_warnings(warnings),
                });
            }
            Err(e) => notes.push(format!("no {} fix: {e}", kind_name(kind))),
        }
    }
    (fixes, notes)
}

/// Other callers on the key that the current policy denies and the patched
/// one still does, named so the report can say the fix is not the whole story.
fn still_blocked(denied_now: &[&(&Group, Request)], patched: &Policy) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (g, r) in denied_now {
        if evaluate(patched, r).outcome == Outcome::ExplicitDeny {
            let line = format!(
                "still blocked after this fix: {}",
                crate::report::caller_label(g)
            );
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

fn kind_name(k: FixKind) -> &'static str {
    match k {
        FixKind::Broad => "broad",
        FixKind::Narrow => "narrow",
    }
}

/// Requests to re-evaluate, what must hold for each, and how to say it.
pub type Checks = Vec<(Request, Expectation, String)>;

fn checks<'a>(
    b: &Blocked,
    kp: &KeyPolicy,
    mine: &[&'a Group],
    others: &[(&Group, Request)],
    rep: &dyn Fn(&Group) -> Option<&'a KmsCall>,
) -> Checks {
    let mut out: Checks = Vec::new();
    for g in mine {
        if let Some(r) = request(g, &g.event_name, rep(g)) {
            out.push((
                r,
                Expectation::NotExplicitlyDenied,
                format!("the blocked caller's {}", g.event_name),
            ));
        }
    }
    let event = mine.first().map_or("Decrypt", |g| g.event_name.as_str());
    if let Some(p) = probe(&b.key_arn, event)
        && evaluate(&kp.policy, &p).outcome == Outcome::ExplicitDeny
    {
        out.push((
            p,
            Expectation::ExplicitlyDenied,
            format!("an unlisted IAM user of the account, {event}"),
        ));
    }
    for (g, r) in others {
        let who = crate::report::caller_label(g);
        out.push((
            r.clone(),
            Expectation::NotNewlyDenied,
            format!("observed caller {who}, {}", g.event_name),
        ));
    }
    for arn in exempted(&kp.policy, b.statement.index) {
        let account = arn_part(&arn, 4).unwrap_or_default().to_owned();
        let r = Request::iam_principal(&arn, &account, &format!("kms:{event}"), &b.key_arn);
        out.push((
            r,
            Expectation::NotNewlyDenied,
            format!("exempted principal {arn}, {event}"),
        ));
    }
    out
}

/// The ARNs a Deny exempts through a negated `aws:PrincipalArn` condition.
pub fn exempted(policy: &Policy, index: usize) -> Vec<String> {
    let Some(stmt) = policy.statements.get(index) else {
        return Vec::new();
    };
    stmt.conditions
        .iter()
        .filter(|c| c.op.negated && c.key.eq_ignore_ascii_case("aws:PrincipalArn"))
        .flat_map(|c| {
            c.values
                .iter()
                .filter(|v| !v.contains('*') && !v.contains('?'))
                .cloned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(n: usize, expectation: Expectation, passed: bool) -> Check {
        Check {
            what: format!("check {n}"),
            expectation,
            before: Outcome::Allowed,
            after: Outcome::Allowed,
            passed,
        }
    }

    #[test]
    fn long_lists_keep_failures_and_count_the_rest() {
        let mut all: Vec<Check> = (0..30)
            .map(|n| check(n, Expectation::NotNewlyDenied, true))
            .collect();
        all.insert(25, check(100, Expectation::NotNewlyDenied, false));
        all.push(check(101, Expectation::ExplicitlyDenied, true));
        let (kept, left_out) = listed(all);
        let names: Vec<&str> = kept.iter().map(|c| c.what.as_str()).collect();
        let mut want: Vec<String> = (0..20).map(|n| format!("check {n}")).collect();
        want.push("check 100".into());
        want.push("check 101".into());
        assert_eq!(names, want);
        assert_eq!(left_out, 10);

        let few: Vec<Check> = (0..5)
            .map(|n| check(n, Expectation::NotNewlyDenied, true))
            .collect();
        assert_eq!(listed(few).1, 0);

        let warnings: Vec<String> = (0..25).map(|n| format!("w{n}")).collect();
        let shown = listed_warnings(warnings);
        assert_eq!(shown.len(), LISTED + 1);
        assert_eq!(shown[LISTED - 1], "w19");
        assert_eq!(shown[LISTED], "... and 5 more warnings like these");
        assert_eq!(listed_warnings(vec!["one".into()]), ["one"]);
    }
}
