//! From a caller group and one of its calls to the request the key policy
//! sees, per `docs/request-context.md` (the constructors on
//! [`Context`](crate::policy::Context) hold the per-class rules).
//!
//! What CloudTrail cannot tell stays unknown; a caller CloudTrail does not
//! identify (service events, empty `userIdentity`) has no request at all.

use crate::call::{Caller, CallerClass, KmsCall};
use crate::policy::{BlockedCaller, Policy, Request};

/// The request for `c` doing `event_name` on `key`, with the network and
/// encryption context of `call` (a representative call).
pub fn request_for(
    c: &Caller,
    key: &str,
    event_name: &str,
    call: Option<&KmsCall>,
) -> Option<Request> {
    let action = format!("kms:{event_name}");
    let region = call
        .and_then(|c| c.region.clone())
        .or_else(|| arn_part(key, 3).map(Into::into))
        .unwrap_or_default();
    let mut req = match c.class {
        CallerClass::ServicePrincipal => {
            Request::service_principal(c.invoked_by.as_deref()?, &action, key)
        }
        CallerClass::ForwardAccess => {
            let arn = c.principal_arn.as_deref()?;
            let account = account_of(c.account_id.as_deref(), arn)?;
            let via = c.invoked_by.as_deref()?;
            Request::forward_access(arn, &account, via, &region, &action, key)
        }
        CallerClass::Direct | CallerClass::ServiceLinkedRole => {
            let arn = c.principal_arn.as_deref()?;
            let account = account_of(c.account_id.as_deref(), arn)?;
            Request::iam_principal(arn, &account, &action, key)
        }
        CallerClass::ServiceEvent | CallerClass::Unknown => return None,
    };
    if let Some(call) = call {
        req.context = with_call_context(req.context, call);
    }
    Some(req)
}

/// The network keys (`docs/request-context.md`: through a VPC endpoint
/// `aws:SourceVpce` and `aws:VpcSourceIp`, never `aws:SourceIp`) and the
/// encryption context, from the event; a context the record holds in a form
/// denydiff cannot read leaves its keys unknown.
fn with_call_context(ctx: crate::policy::Context, call: &KmsCall) -> crate::policy::Context {
    let mut ctx = ctx.with_network(call.source_ip.as_deref(), call.vpc_endpoint_id.as_deref());
    if call.encryption_context_unreadable {
        ctx = ctx
            .set_unknown_prefix("kms:EncryptionContext:")
            .set_unknown("kms:EncryptionContextKeys");
    } else if !call.encryption_context.is_empty() {
        ctx = ctx.set_encryption_context(
            call.encryption_context
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
    }
    ctx
}

/// Condition keys whose value in the request a record may not show,
/// whatever it says (`docs/request-context.md`): the network path (an
/// endpoint or proxy the record does not name), the organization, tags, the
/// source of a service's request, and, when the record shows no encryption
/// context (`requestParameters` missing), the encryption context.
pub fn trail_may_not_show(key: &str, context_logged: bool) -> bool {
    const KEYS: &[&str] = &[
        "aws:sourceip",
        "aws:vpcsourceip",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
    ];
    const PREFIXES: &[&str] = &["aws:principaltag/", "aws:resourcetag/", "aws:requesttag/"];
    let k = key.to_ascii_lowercase();
    let context = k.starts_with("kms:encryptioncontext:") || k == "kms:encryptioncontextkeys";
    KEYS.contains(&k.as_str())
        || PREFIXES.iter().any(|p| k.starts_with(p))
        || (context && !context_logged)
}

/// `req` with every condition key of `policies` that the record of `call`
/// may not show ([`trail_may_not_show`]) set to unknown: the request as
/// far as the trail can vouch for it.
pub fn relaxed<'p>(
    req: &Request,
    policies: impl IntoIterator<Item = &'p Policy>,
    call: &KmsCall,
) -> Request {
    let logged = !call.encryption_context.is_empty();
    let mut out = req.clone();
    for p in policies {
        for c in p.statements.iter().flat_map(|s| &s.conditions) {
            if trail_may_not_show(&c.key, logged) {
                out.context = out.context.set_unknown(&c.key);
            }
        }
    }
    out
}

/// The IAM user of `account` that no statement names, whom the probes use.
pub fn unlisted_user(account: &str) -> String {
    format!("arn:aws:iam::{account}:user/denydiff-probe-unlisted")
}

/// An unlisted IAM user of the key's account: the probe that a fix must
/// still keep out.
pub fn probe(key_arn: &str, event_name: &str) -> Option<Request> {
    let account = arn_part(key_arn, 4)?;
    let arn = unlisted_user(account);
    Some(Request::iam_principal(
        &arn,
        account,
        &format!("kms:{event_name}"),
        key_arn,
    ))
}

/// `aws:PrincipalOrgID` for the key's own account's principals, when the
/// user gave the organization (`--org-id`): CloudTrail never shows it, so
/// without it the key stays unknown; another account's principals may be
/// in another organization and stay unknown.
pub fn with_org(mut req: Request, c: &Caller, key: &str, org_id: Option<&str>) -> Request {
    let key_account = arn_part(key, 4);
    let caller_account = c
        .account_id
        .as_deref()
        .or_else(|| c.principal_arn.as_deref().and_then(|a| arn_part(a, 4)));
    let iam = matches!(
        c.class,
        CallerClass::Direct | CallerClass::ServiceLinkedRole | CallerClass::ForwardAccess
    );
    if let Some(org) = org_id
        && iam
        && key_account.is_some()
        && caller_account == key_account
    {
        req.context = req.context.set("aws:PrincipalOrgID", [org]);
    }
    req
}

/// The caller in the fix module's terms.
pub fn blocked_caller_for(c: &Caller, region: &str) -> Option<BlockedCaller> {
    Some(match c.class {
        CallerClass::ServicePrincipal => BlockedCaller::ServicePrincipal {
            service: c.invoked_by.clone()?,
        },
        CallerClass::ForwardAccess => BlockedCaller::ForwardAccess {
            service: c.invoked_by.clone()?,
            region: region.to_owned(),
        },
        CallerClass::Direct | CallerClass::ServiceLinkedRole => BlockedCaller::Direct {
            principal_arn: c.principal_arn.clone()?,
        },
        CallerClass::ServiceEvent | CallerClass::Unknown => return None,
    })
}

/// The `n`th colon-separated part of an ARN (`3` region, `4` account).
pub fn arn_part(arn: &str, n: usize) -> Option<&str> {
    arn.split(':').nth(n).filter(|s| !s.is_empty())
}

fn account_of(account: Option<&str>, arn: &str) -> Option<String> {
    account.or_else(|| arn_part(arn, 4)).map(str::to_owned)
}
