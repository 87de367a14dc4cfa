//! Fixes, each verified by evaluating the patched policy again
//! (`docs/policy-evaluation.md`, "Fixes"): every caller the statement
//! blocks is no longer denied, no caller seen on the key and no principal
//! the statement exempts is newly denied, and the statement still keeps out
//! what it was written to keep out: probes built from its conditions (an
//! unlisted IAM user of the key's account, a principal of another account,
//! another service, another network origin, another encryption context)
//! that it denied before stay denied. `verified` is the result of those
//! checks, never assumed. A restore of the previous version is checked the
//! same way, except that the probes it lets in are listed (`re_allows`)
//! rather than failed: letting them in is what a restore means.

use std::borrow::Cow;

use serde::Serialize;

use super::request::{arn_part, probe, unlisted_user};
use super::{Observed, StatementRef};
use crate::call::Caller;
use crate::policy::{
    BlockedCaller, Blocking, DecisionSummary, Expectation, FixError, FixKind, Outcome, Policy,
    Request, Seen, Tri, evaluate, holds, patch_blocking,
};

/// A patched (or restored) policy, its diff, and how its verification went.
#[derive(Debug, Clone, Serialize)]
pub struct ProposedFix {
    /// `fix-N`, unique in a report; blocked entries refer to it.
    pub id: String,
    pub kind: FixKind,
    /// The statement patched; `None` for a restore.
    pub statement: Option<StatementRef>,
    pub description: String,
    /// The full patched key policy document.
    pub policy: serde_json::Value,
    /// Unified diff against the policy in force.
    pub diff: String,
    /// True only if every check passed, listed or not, (for a patch) the
    /// statement still denied at least one probe it denied before, and the
    /// document fits KMS's key policy size limit.
    pub verified: bool,
    /// For a restore: how many policy versions it undoes (the cause's and
    /// every later one); 0 for a patch.
    pub undoes: usize,
    /// The document's size as compact JSON, in bytes.
    pub policy_bytes: usize,
    /// Over [`POLICY_SIZE_LIMIT`]: `PutKeyPolicy` would refuse it.
    pub over_size_limit: bool,
    /// Blocked callers this fix unblocks (every event of theirs checked).
    pub unblocks: u64,
    /// Every failed check, then passed ones up to [`LISTED`] of each subject kind.
    pub checks: Vec<Check>,
    /// Passed checks not listed in `checks` (0: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub checks_passed_not_listed: u64,
    /// Callers the current policy denies that this fix leaves denied (by
    /// another statement, or undecided): the first [`LISTED`].
    pub still_blocked: Vec<Caller>,
    pub still_blocked_count: u64,
    /// Probes the current policy denies that this fix lets in: for a
    /// restore, all of them (letting them in is what a restore means); for
    /// a patch, those of the caller class a broad fix exempts by design,
    /// when the statement does not single that class out.
    pub lets_in: Vec<CheckSubject>,
    /// Caveats the patch itself carries (from the policy module).
    pub warnings: Vec<String>,
}

/// A fix as a blocked entry lists it: the cause's fix, by id.
#[derive(Debug, Clone, Serialize)]
pub struct FixRef {
    pub id: String,
    pub kind: FixKind,
    pub verified: bool,
}

/// "Key policy format: up to 32 kilobytes (32,768 bytes)", KMS Developer
/// Guide, "Creating a key policy" (`docs/policy-evaluation.md`). An
/// exception list of thousands of ARNs passes every check and still cannot
/// be applied.
pub const POLICY_SIZE_LIMIT: usize = 32_768;

/// Sets the fix's document and checks its size against the limit.
fn set_policy(f: &mut ProposedFix, document: serde_json::Value) {
    f.policy_bytes = serde_json::to_string(&document).map_or(usize::MAX, |t| t.len());
    f.over_size_limit = f.policy_bytes > POLICY_SIZE_LIMIT;
    f.verified &= !f.over_size_limit;
    f.policy = document;
}

/// How many passed checks of each subject kind a fix lists, and how many
/// still-blocked callers: a Deny over 2,000 roles made a 1.5 GB report when
/// every check was listed.
pub const LISTED: usize = 20;

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a check evaluates.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "subject", rename_all = "kebab-case")]
pub enum CheckSubject {
    /// The request `explain` was given.
    ThisRequest,
    /// A caller the statement blocks.
    Blocked { caller: Caller, event_name: String },
    /// Another caller seen on the key.
    Observed { caller: Caller, event_name: String },
    /// A principal the statement exempts.
    Exempted { principal_arn: String },
    /// A request the statement is there to keep out.
    Probe {
        probe: ProbeKind,
        principal: String,
        event_name: String,
    },
}

impl CheckSubject {
    fn kind(&self) -> u8 {
        match self {
            CheckSubject::ThisRequest => 0,
            CheckSubject::Blocked { .. } => 1,
            CheckSubject::Observed { .. } => 2,
            CheckSubject::Exempted { .. } => 3,
            CheckSubject::Probe { .. } => 4,
        }
    }
}

/// The probes a fix must keep out.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// An IAM user of the key's account that no statement names.
    UnlistedUser,
    /// An IAM role of another account.
    OtherAccount,
    /// A service principal no caller was seen as.
    OtherService,
    /// An unlisted user's call through a service no caller was seen through.
    OtherViaService,
    /// A role of another account (and organization) calling through a
    /// service: built when the statement reads the caller's account.
    OtherAccountViaService,
    /// A blocked caller's request from another IP address.
    OtherSourceIp,
    /// A blocked caller's request through another VPC endpoint.
    OtherVpcEndpoint,
    /// A blocked caller's request with another encryption context value.
    OtherEncryptionContext,
}

/// One verification check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    #[serde(flatten)]
    pub subject: CheckSubject,
    pub expectation: Expectation,
    pub before: Outcome,
    pub after: Outcome,
    pub passed: bool,
}

/// A request to re-evaluate, what must hold for it, and what it is.
struct CheckInput<'a> {
    request: Cow<'a, Request>,
    expectation: Expectation,
    subject: CheckSubject,
    /// A probe a broad fix may let in without failing (see `lets_in`).
    soft: bool,
}

impl<'a> CheckInput<'a> {
    fn new(request: Cow<'a, Request>, expectation: Expectation, subject: CheckSubject) -> Self {
        Self {
            request,
            expectation,
            subject,
            soft: false,
        }
    }
}

/// Why a fix could not be made (the policy module's words).
#[derive(Debug, Clone, Serialize)]
pub struct FixFailure {
    pub kind: FixKind,
    pub reason: String,
    /// Condition keys a safe fix needs the caller's value of, which
    /// CloudTrail does not show (`aws:PrincipalOrgID`): no safe fix
    /// without them. Empty for other failures.
    pub not_in_trail: Vec<String>,
}

impl FixFailure {
    fn of(kind: FixKind, e: &FixError) -> Self {
        let not_in_trail = match e {
            FixError::ValueNotInTrail { key, .. } => vec![key.clone()],
            _ => Vec::new(),
        };
        Self {
            kind,
            reason: e.to_string(),
            not_in_trail,
        }
    }
}

/// Numbers fixes across a report.
#[derive(Debug, Default)]
pub struct FixIds(usize);

impl FixIds {
    pub fn next_id(&mut self) -> String {
        self.0 += 1;
        format!("fix-{}", self.0)
    }
}

/// A blocked caller as the statement's fix sees it.
pub struct Target<'a> {
    pub caller: &'a Caller,
    pub fix_caller: Option<BlockedCaller>,
    pub requests: &'a [Request],
}

/// Broad and narrow patches of statement `index` of `policy` that unblock
/// every one of `targets` at once, verified against every `observed`
/// caller of the key and the statement's probes.
pub fn statement_fixes(
    ids: &mut FixIds,
    key_arn: &str,
    policy: &Policy,
    index: usize,
    targets: &[Target<'_>],
    observed: &[Observed],
) -> (Vec<ProposedFix>, Vec<FixFailure>) {
    let blocking: Vec<Blocking<'_>> = targets
        .iter()
        .filter_map(|t| {
            t.fix_caller.as_ref().map(|caller| Blocking {
                caller,
                requests: t.requests,
            })
        })
        .collect();
    let checks = checks(key_arn, policy, Some(index), targets, observed);
    patches(ids, policy, index, &blocking, &checks)
}

/// The broad and the narrow patch of statement `index` for `blocking`
/// (one when both come out the same), each verified against `checks`.
fn patches(
    ids: &mut FixIds,
    policy: &Policy,
    index: usize,
    blocking: &[Blocking<'_>],
    checks: &[(CheckInput<'_>, DecisionSummary)],
) -> (Vec<ProposedFix>, Vec<FixFailure>) {
    let mut fixes: Vec<ProposedFix> = Vec::new();
    let mut failures = Vec::new();
    for kind in [FixKind::Broad, FixKind::Narrow] {
        match patch_blocking(policy, index, blocking, kind) {
            Ok(fix) if fixes.iter().any(|f| f.policy == fix.document) => {}
            Ok(fix) => {
                let mut f = verified(ids, kind, &fix.policy, checks, false);
                f.statement = policy.statements.get(index).map(|s| StatementRef {
                    sid: s.sid.clone(),
                    index,
                });
                f.description = fix.description;
                set_policy(&mut f, fix.document);
                f.diff = fix.diff;
                f.warnings = fix.warnings;
                fixes.push(f);
            }
            Err(e) => failures.push(FixFailure::of(kind, &e)),
        }
    }
    (fixes, failures)
}

/// Restoring `previous` in place of `policy`, verified like a patch, with
/// the probes it lets back in listed.
pub fn restore_fix(
    ids: &mut FixIds,
    key_arn: &str,
    policy: &Policy,
    previous: &Policy,
    targets: &[Target<'_>],
    observed: &[Observed],
) -> ProposedFix {
    let checks = checks(key_arn, policy, None, targets, observed);
    let mut f = verified(ids, FixKind::Restore, previous, &checks, true);
    set_policy(&mut f, previous.document.clone());
    f.diff = crate::policy::unified_diff(&policy.document, &previous.document);
    f
}

/// Evaluates every check against `patched`; for a restore, probes that
/// the patched policy lets in are listed in `re_allows`, not failed.
fn verified(
    ids: &mut FixIds,
    kind: FixKind,
    patched: &Policy,
    checks: &[(CheckInput<'_>, DecisionSummary)],
    restore: bool,
) -> ProposedFix {
    let mut all = Vec::with_capacity(checks.len());
    let mut lets_in = Vec::new();
    let (mut still_blocked, mut still_blocked_count) = (Vec::new(), 0);
    let mut guarded = false;
    let mut unblocked: foldhash::HashMap<&Caller, bool> = foldhash::HashMap::default();
    let mut still_blocked_seen: foldhash::HashSet<&Caller> = foldhash::HashSet::default();
    for (c, before) in checks {
        let after = evaluate(patched, &c.request);
        let is_probe = matches!(c.subject, CheckSubject::Probe { .. });
        let passed = holds(c.expectation, *before, after.summary());
        if is_probe && (restore || c.soft) {
            if !passed {
                lets_in.push(c.subject.clone());
            }
            continue;
        }
        guarded |= is_probe && passed;
        if let CheckSubject::Blocked { caller, .. } = &c.subject {
            *unblocked.entry(caller).or_insert(true) &= passed;
        }
        if let CheckSubject::Observed { caller, .. } = &c.subject
            && before.explicit_deny == Tri::True
            && after.explicit_deny() != Tri::False
            && still_blocked_seen.insert(caller)
        {
            still_blocked_count += 1;
            if still_blocked.len() < LISTED {
                still_blocked.push(caller.clone());
            }
        }
        all.push(Check {
            subject: c.subject.clone(),
            expectation: c.expectation,
            before: before.outcome,
            after: after.outcome,
            passed,
        });
    }
    let all_passed = !all.is_empty() && all.iter().all(|c| c.passed);
    let (checks, checks_passed_not_listed) = listed(all);
    ProposedFix {
        id: ids.next_id(),
        kind,
        statement: None,
        description: String::new(),
        policy: serde_json::Value::Null,
        diff: String::new(),
        verified: all_passed && (restore || guarded),
        undoes: 0,
        policy_bytes: 0,
        over_size_limit: false,
        unblocks: unblocked.values().filter(|ok| **ok).count() as u64,
        checks,
        checks_passed_not_listed,
        still_blocked,
        still_blocked_count,
        lets_in,
        warnings: Vec::new(),
    }
}

/// Keeps failed checks and the first [`LISTED`] passed ones of each subject
/// kind; returns them and how many were left out.
fn listed(checks: Vec<Check>) -> (Vec<Check>, u64) {
    let mut per_kind = [0usize; 5];
    let mut left_out = 0;
    let kept = checks
        .into_iter()
        .filter(|c| {
            if !c.passed {
                return true;
            }
            let n = &mut per_kind[usize::from(c.subject.kind())];
            *n += 1;
            let keep = *n <= LISTED;
            left_out += u64::from(!keep);
            keep
        })
        .collect();
    (kept, left_out)
}

/// The checks for a fix of statement `index` (or a restore, `None`), each
/// with the current policy's decision.
fn checks<'a>(
    key_arn: &str,
    policy: &Policy,
    index: Option<usize>,
    targets: &'a [Target<'a>],
    observed: &'a [Observed],
) -> Vec<(CheckInput<'a>, DecisionSummary)> {
    let mut out: Vec<(CheckInput<'_>, DecisionSummary)> = Vec::new();
    // A blocked caller's other events are observed calls like any other's:
    // a fix must not newly deny them either.
    let blocked: foldhash::HashSet<(&Caller, &str)> = targets
        .iter()
        .flat_map(|t| {
            t.requests
                .iter()
                .map(|r| (t.caller, r.action.strip_prefix("kms:").unwrap_or(&r.action)))
        })
        .collect();
    for t in targets {
        for r in t.requests {
            let event_name = r
                .action
                .strip_prefix("kms:")
                .unwrap_or(&r.action)
                .to_owned();
            let subject = CheckSubject::Blocked {
                caller: t.caller.clone(),
                event_name,
            };
            let c = CheckInput::new(Cow::Borrowed(r), Expectation::NotExplicitlyDenied, subject);
            out.push((c, evaluate(policy, r).summary()));
        }
    }
    for o in observed
        .iter()
        .filter(|o| !blocked.contains(&(&o.caller, o.event_name.as_str())))
    {
        let subject = CheckSubject::Observed {
            caller: o.caller.clone(),
            event_name: o.event_name.clone(),
        };
        let c = CheckInput::new(
            Cow::Borrowed(&o.request),
            Expectation::NotNewlyDenied,
            subject,
        );
        out.push((c, o.now));
    }
    let first = targets.iter().find_map(|t| t.requests.first());
    out.extend(guard_checks(key_arn, policy, index, first));
    out
}

/// The probes the statement denies now (they must stay denied), and the
/// principals it exempts (they must not become denied).
fn guard_checks(
    key_arn: &str,
    policy: &Policy,
    index: Option<usize>,
    first: Option<&Request>,
) -> Vec<(CheckInput<'static>, DecisionSummary)> {
    let mut out = Vec::new();
    let event = first.map_or("Decrypt", |r| {
        r.action.strip_prefix("kms:").unwrap_or("Decrypt")
    });
    let statement = index.and_then(|i| policy.statements.get(i));
    let reads = |keys: &[&str]| {
        statement.is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| keys.iter().any(|k| c.key.eq_ignore_ascii_case(k)))
        })
    };
    // A class probe is soft unless the statement singles that class out.
    let services = reads(&[
        "aws:PrincipalServiceName",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalServiceNamesList",
    ]);
    let via = reads(&[
        "kms:ViaService",
        "aws:ViaAWSService",
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
    ]);
    for (kind, principal, r) in probes(key_arn, event, first, statement, policy) {
        let before = evaluate(policy, &r);
        if before.explicit_deny() == Tri::True {
            let subject = CheckSubject::Probe {
                probe: kind,
                principal,
                event_name: event.to_owned(),
            };
            let mut c = CheckInput::new(Cow::Owned(r), Expectation::ExplicitlyDenied, subject);
            c.soft = match kind {
                ProbeKind::OtherService => !services,
                ProbeKind::OtherViaService => !via,
                _ => false,
            };
            out.push((c, before.summary()));
        }
    }
    if let Some(i) = index {
        for arn in exempted(policy, i) {
            let account = arn_part(&arn, 4).unwrap_or_default().to_owned();
            let r = Request::iam_principal(&arn, &account, &format!("kms:{event}"), key_arn);
            let before = evaluate(policy, &r);
            let subject = CheckSubject::Exempted { principal_arn: arn };
            out.push((
                CheckInput::new(Cow::Owned(r), Expectation::NotNewlyDenied, subject),
                before.summary(),
            ));
        }
    }
    out
}

/// The account no probe principal should share with a real one.
const OTHER_ACCOUNT: &str = "000000000000";
const PROBE_SERVICE: &str = "denydiff-probe.amazonaws.com";
/// The organization of the other-account probes: no policy names it.
const PROBE_ORG: &str = "o-denydiffprobe";

/// Requests the statement may be there to keep out: principals of other
/// kinds, and a blocked caller's own request from elsewhere when the
/// statement's conditions read the network or the encryption context.
fn probes(
    key_arn: &str,
    event: &str,
    blocked: Option<&Request>,
    statement: Option<&crate::policy::Statement>,
    policy: &Policy,
) -> Vec<(ProbeKind, String, Request)> {
    let action = format!("kms:{event}");
    let region = arn_part(key_arn, 3).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(p) = probe(key_arn, event) {
        let arn = principal_text(&p);
        out.push((ProbeKind::UnlistedUser, arn, p));
    }
    let other = format!("arn:aws:iam::{OTHER_ACCOUNT}:role/denydiff-probe");
    let mut outsider = Request::iam_principal(&other, OTHER_ACCOUNT, &action, key_arn);
    outsider.context = outsider.context.set("aws:PrincipalOrgID", [PROBE_ORG]);
    out.push((ProbeKind::OtherAccount, other.clone(), outsider));
    out.push((
        ProbeKind::OtherService,
        PROBE_SERVICE.to_owned(),
        Request::service_principal(PROBE_SERVICE, &action, key_arn),
    ));
    if let Some(account) = arn_part(key_arn, 4) {
        let user = unlisted_user(account);
        out.push((
            ProbeKind::OtherViaService,
            user.clone(),
            Request::forward_access(&user, account, PROBE_SERVICE, region, &action, key_arn),
        ));
    }
    let reads_account = |s: &crate::policy::Statement| {
        s.conditions.iter().any(|c| {
            [
                "kms:CallerAccount",
                "aws:PrincipalAccount",
                "aws:PrincipalOrgID",
            ]
            .iter()
            .any(|k| c.key.eq_ignore_ascii_case(k))
        })
    };
    if statement.map_or_else(
        || policy.statements.iter().any(reads_account),
        reads_account,
    ) {
        let mut r = Request::forward_access(
            &other,
            OTHER_ACCOUNT,
            PROBE_SERVICE,
            region,
            &action,
            key_arn,
        );
        r.context = r.context.set("aws:PrincipalOrgID", [PROBE_ORG]);
        out.push((ProbeKind::OtherAccountViaService, other, r));
    }
    let reads = |prefix: &str| {
        let keys: Vec<String> = statement.map_or_else(
            || {
                policy
                    .statements
                    .iter()
                    .flat_map(|s| s.conditions.iter().map(|c| c.key.to_ascii_lowercase()))
                    .collect()
            },
            |s| {
                s.conditions
                    .iter()
                    .map(|c| c.key.to_ascii_lowercase())
                    .collect()
            },
        );
        keys.into_iter()
            .filter(|k| k.starts_with(prefix))
            .collect::<Vec<_>>()
    };
    if let Some(b) = blocked {
        let who = principal_text(b);
        let variant = |kind, key: &str, value: &str| {
            let mut r = b.clone();
            r.context = r.context.clone().set(key, [value]);
            (kind, who.clone(), r)
        };
        // Another network origin, as a real call would carry it
        // (`docs/request-context.md`: through an endpoint, no aws:SourceIp).
        let from = |kind, ip: &str, vpce: Option<&str>| {
            let mut r = b.clone();
            r.context = r.context.clone().with_network(Some(ip), vpce);
            (kind, who.clone(), r)
        };
        let on_ip = !reads("aws:sourceip").is_empty();
        let via_endpoint = matches!(b.context.get("aws:SourceVpce"), Seen::Present(_));
        if on_ip {
            out.push(from(ProbeKind::OtherSourceIp, "192.0.2.1", None));
        }
        if !reads("aws:sourcevpce").is_empty() || (on_ip && via_endpoint) {
            out.push(from(
                ProbeKind::OtherVpcEndpoint,
                "10.255.0.1",
                Some("vpce-0denydiffprobe"),
            ));
        }
        for key in reads("kms:encryptioncontext:") {
            let value = if key.ends_with(":aws:s3:arn") {
                "arn:aws:s3:::denydiff-probe-foreign-bucket"
            } else {
                "denydiff-probe"
            };
            out.push(variant(ProbeKind::OtherEncryptionContext, &key, value));
        }
    }
    out
}

fn principal_text(r: &Request) -> String {
    match &r.principal {
        crate::policy::Principal::Aws { arn, account } => {
            arn.clone().or_else(|| account.clone()).unwrap_or_default()
        }
        crate::policy::Principal::Service(s) | crate::policy::Principal::Federated(s) => s.clone(),
        crate::policy::Principal::Anonymous => "*".into(),
    }
}

/// Broad and narrow patches of statement `index` for the one caller of
/// `request` (what `explain` proposes), verified like a statement's fixes:
/// the request is no longer denied, the statement's probes stay denied,
/// the principals it exempts are not newly denied.
pub fn make_fixes(
    policy: &Policy,
    index: usize,
    caller: &BlockedCaller,
    request: &Request,
) -> (Vec<ProposedFix>, Vec<FixFailure>) {
    let this = CheckInput::new(
        Cow::Borrowed(request),
        Expectation::NotExplicitlyDenied,
        CheckSubject::ThisRequest,
    );
    let mut checks = vec![(this, evaluate(policy, request).summary())];
    checks.extend(guard_checks(
        &request.resource,
        policy,
        Some(index),
        Some(request),
    ));
    let blocking = [Blocking {
        caller,
        requests: std::slice::from_ref(request),
    }];
    patches(&mut FixIds::default(), policy, index, &blocking, &checks)
}

/// The ARNs a Deny exempts through a negated `aws:PrincipalArn` condition;
/// a pattern (`arn:aws:iam::111122223333:role/app-*`) stands for one
/// principal it matches (`role/app-denydiff-probe`), so a fix that adds to
/// an `ArnNotLike` list is checked to keep the pattern's principals exempt.
pub fn exempted(policy: &Policy, index: usize) -> Vec<String> {
    let Some(stmt) = policy.statements.get(index) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let arns = stmt
        .conditions
        .iter()
        .filter(|c| c.op.negated && c.key.eq_ignore_ascii_case("aws:PrincipalArn"))
        .flat_map(|c| c.values.iter().map(|v| instance(v)));
    for arn in arns {
        if !out.contains(&arn) {
            out.push(arn);
        }
    }
    out
}

/// A principal ARN that `pattern` matches: each `*` as `denydiff-probe`,
/// each `?` as `x` (a `*` in the account part as the probes' account).
fn instance(pattern: &str) -> String {
    let mut parts: Vec<String> = pattern.splitn(6, ':').map(str::to_owned).collect();
    if let Some(account) = parts.get_mut(4)
        && account.contains(['*', '?'])
    {
        OTHER_ACCOUNT.clone_into(account);
    }
    parts
        .join(":")
        .replace('*', "denydiff-probe")
        .replace('?', "x")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(subject: CheckSubject, passed: bool) -> Check {
        Check {
            subject,
            expectation: Expectation::NotNewlyDenied,
            before: Outcome::Allowed,
            after: Outcome::Allowed,
            passed,
        }
    }

    fn exempt(n: usize) -> CheckSubject {
        CheckSubject::Exempted {
            principal_arn: format!("arn:aws:iam::111122223333:user/u{n}"),
        }
    }

    #[test]
    fn long_lists_keep_failures_and_count_the_rest() {
        let mut all: Vec<Check> = (0..30).map(|n| check(exempt(n), true)).collect();
        all.insert(25, check(exempt(100), false));
        all.push(check(CheckSubject::ThisRequest, true));
        let (kept, left_out) = listed(all);
        let mut want: Vec<CheckSubject> = (0..20).map(exempt).collect();
        want.push(exempt(100));
        want.push(CheckSubject::ThisRequest);
        let got: Vec<CheckSubject> = kept.into_iter().map(|c| c.subject).collect();
        assert_eq!(got, want);
        assert_eq!(left_out, 10);
        let few: Vec<Check> = (0..5).map(|n| check(exempt(n), true)).collect();
        assert_eq!(listed(few).1, 0);
    }
}
