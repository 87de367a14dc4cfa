//! Grants by id: which grant each `RevokeGrant`/`RetireGrant` removed, and
//! whether a caller is that grant's grantee.
//!
//! A removal is tied to its `CreateGrant` by `grantId` (or, for
//! `RetireGrant`, a grant token when the trail shows one for both). A
//! removal whose grant is not in the trail blames nobody: its grantee is
//! unknown. Grantee principals are matched as `docs/kms-events.md`
//! ("Grants") describes them; a principal ID (`AROA...`) matches nobody,
//! as call rows do not keep principal IDs. Pure: no I/O, no words.

use crate::arn::Arn;
use crate::call::{Caller, CallerClass, Outcome};
use crate::collect::Lifecycle;

/// A grant created and then removed, both in the trail.
#[derive(Debug, Clone, Copy)]
pub(super) struct Removed<'a> {
    pub(super) created: &'a Lifecycle,
    pub(super) removed: &'a Lifecycle,
}

impl Removed<'_> {
    pub(super) fn time(&self) -> Option<i64> {
        self.removed.time_ms
    }

    pub(super) fn grantee(&self) -> Option<&str> {
        self.created.grant.as_ref()?.grantee_principal.as_deref()
    }
}

/// Every removal whose grant's creation is in the trail, in time order.
pub(super) fn removed(lifecycle: &[Lifecycle]) -> Vec<Removed<'_>> {
    let ok = |l: &&Lifecycle| l.outcome == Outcome::Succeeded && l.grant.is_some();
    let created: Vec<&Lifecycle> = lifecycle
        .iter()
        .filter(ok)
        .filter(|l| l.event_name == "CreateGrant")
        .collect();
    lifecycle
        .iter()
        .filter(ok)
        .filter(|l| matches!(l.event_name.as_str(), "RevokeGrant" | "RetireGrant"))
        .filter_map(|removed| {
            let g = removed.grant.as_ref()?;
            let same = |c: &&&Lifecycle| {
                let cg = c.grant.as_ref();
                let by = |f: fn(&crate::collect::Grant) -> &Option<String>| {
                    f(g).is_some() && cg.is_some_and(|cg| f(cg) == f(g))
                };
                by(|g| &g.grant_id) || by(|g| &g.grant_token)
            };
            let created = *created.iter().find(same)?;
            Some(Removed { created, removed })
        })
        .collect()
}

/// Whether `caller` is `grantee` (a grant's `granteePrincipal` as logged).
pub(super) fn is_grantee(grantee: &str, caller: &Caller) -> bool {
    if let Some(arn) = Arn::parse(grantee) {
        return arn_is(grantee, &arn, caller);
    }
    if let Some(svc) = service_name(grantee) {
        return caller.class == CallerClass::ServicePrincipal
            && caller.invoked_by.as_deref().and_then(service_name) == Some(svc);
    }
    // `<account>:<role name>:<session>`, as EBS grants to
    // `aws:ec2-infrastructure` show (observed in public samples).
    if let Some((account, rest)) = grantee.split_once(':')
        && let Some((role, _session)) = rest.rsplit_once(':')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
    {
        return role_is(caller, account, role);
    }
    false
}

/// `<service>` of `<service>.amazonaws.com` or `<service>.<region>.amazonaws.com`.
fn service_name(p: &str) -> Option<&str> {
    let host = p.strip_suffix(".amazonaws.com")?;
    host.split('.').next().filter(|s| !s.is_empty())
}

/// Whether the grantee ARN `text` (parsed: `arn`) names `caller`.
fn arn_is(text: &str, arn: &Arn, caller: &Caller) -> bool {
    let (service, account, resource) = (arn.service, arn.account, arn.resource);
    let caller_account = caller.account_id.as_deref().or_else(|| {
        caller
            .principal_arn
            .as_deref()
            .and_then(Arn::parse)
            .map(|a| a.account)
    });
    match (service, resource.split_once('/')) {
        ("iam", None) if resource == "root" => caller_account == Some(account),
        ("iam", Some(("role", path_name))) => {
            role_is(caller, account, path_name.rsplit('/').next().unwrap_or(""))
        }
        ("sts", Some(("assumed-role", role_session))) => role_is(
            caller,
            account,
            role_session.split('/').next().unwrap_or(""),
        ),
        ("iam", Some(("user", _))) => caller.principal_arn.as_deref() == Some(text),
        _ => false,
    }
}

/// The caller is role `name` of `account`, whatever its path (role names
/// are unique in an account and not case-sensitive: docs/request-context.md).
fn role_is(caller: &Caller, account: &str, name: &str) -> bool {
    caller
        .principal_arn
        .as_deref()
        .and_then(crate::policy::eval::role_name)
        .is_some_and(|(_, acct, role)| acct == account && role.eq_ignore_ascii_case(name))
}

/// Whether `caller` made the change (`actor` is a principal ARN or a service).
pub(super) fn is_actor(actor: Option<&str>, caller: &Caller) -> bool {
    actor.is_some_and(|a| {
        caller.principal_arn.as_deref() == Some(a)
            || (caller.principal_arn.is_none() && caller.invoked_by.as_deref() == Some(a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(class: CallerClass, arn: Option<&str>, via: Option<&str>) -> Caller {
        Caller {
            class,
            kind: None,
            invoked_by: via.map(str::to_owned),
            principal_arn: arn.map(str::to_owned),
            account_id: arn.and_then(Arn::parse).map(|a| a.account.to_owned()),
        }
    }

    fn role(arn: &str) -> Caller {
        caller(CallerClass::Direct, Some(arn), None)
    }

    #[test]
    fn grantees_as_logged() {
        let app = role("arn:aws:iam::111122223333:role/team/App");
        let yes = |g: &str, c: &Caller| assert!(is_grantee(g, c), "{g} should match");
        let no = |g: &str, c: &Caller| assert!(!is_grantee(g, c), "{g} should not match");
        yes("arn:aws:iam::111122223333:role/App", &app);
        yes("arn:aws:iam::111122223333:role/team/app", &app);
        yes("arn:aws:sts::111122223333:assumed-role/App/session", &app);
        yes("arn:aws:iam::111122223333:root", &app);
        no("arn:aws:iam::444455556666:role/App", &app);
        no("arn:aws:iam::111122223333:role/Other", &app);
        no("AROAEXAMPLEID", &app);
        no("", &app);
        no("arn:", &app);
        let ebs = role("arn:aws:iam::111122223333:role/aws:ec2-infrastructure");
        yes("111122223333:aws:ec2-infrastructure:i-81e2f56c", &ebs);
        no("123456789012:aws:ec2-infrastructure:i-81e2f56c", &ebs);
        let ddb = caller(
            CallerClass::ServicePrincipal,
            None,
            Some("dynamodb.amazonaws.com"),
        );
        yes("dynamodb.us-west-2.amazonaws.com", &ddb);
        yes("dynamodb.amazonaws.com", &ddb);
        no("backup.amazonaws.com", &ddb);
        // A forward access session is the user's identity, not the service.
        let fas = caller(
            CallerClass::ForwardAccess,
            Some("arn:aws:iam::111122223333:role/App"),
            Some("dynamodb.amazonaws.com"),
        );
        no("dynamodb.amazonaws.com", &fas);
        let user = role("arn:aws:iam::111122223333:user/Alice");
        yes("arn:aws:iam::111122223333:user/Alice", &user);
        no("arn:aws:iam::111122223333:user/Bob", &user);
    }
}
