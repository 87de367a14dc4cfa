//! The request an evaluation is about: who called, what action on which key,
//! and what the policy's condition keys can see.
//!
//! A [`Context`] maps condition keys (compared case-insensitively, per "IAM
//! JSON policy elements: Condition") to [`Seen`]: present with values, absent,
//! or unknown. A key not set is absent, unless it falls under a prefix marked
//! unknown (`aws:PrincipalTag/`). The caller-class constructors and
//! [`Context::with_network`] encode the table of `docs/request-context.md`
//! (each key with its AWS documentation page); they read no events
//! themselves: the caller hands them the record's fields.

use std::collections::BTreeMap;

use serde::Serialize;

/// What the request context says about one condition key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "values")]
pub enum Seen {
    /// The key is in the request with these values (several for multivalued keys).
    Present(Vec<String>),
    /// The key is not in the request.
    Absent,
    /// The evidence cannot tell whether or how the key is present.
    Unknown,
}

/// Condition keys of one request; unset keys are absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    keys: BTreeMap<String, Seen>,
    unknown_prefixes: Vec<String>,
    /// Set by the caller-class constructors: network keys differ for
    /// service principals (see [`Context::with_network`]).
    service_principal: bool,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set a key present with these values.
    #[must_use]
    pub fn set<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values = values.into_iter().map(Into::into).collect();
        self.keys.insert(key.to_lowercase(), Seen::Present(values));
        self
    }

    /// Set a boolean key, written `true`/`false` as AWS does.
    #[must_use]
    pub fn set_bool(self, key: &str, value: bool) -> Self {
        self.set(key, [value.to_string()])
    }

    /// Mark a key unknown.
    #[must_use]
    pub fn set_unknown(mut self, key: &str) -> Self {
        self.keys.insert(key.to_lowercase(), Seen::Unknown);
        self
    }

    /// Mark a key absent, also under a prefix marked unknown.
    #[must_use]
    pub fn set_absent(mut self, key: &str) -> Self {
        self.keys.insert(key.to_lowercase(), Seen::Absent);
        self
    }

    /// Mark every key starting with `prefix` (e.g. `aws:PrincipalTag/`) unknown
    /// unless set explicitly.
    #[must_use]
    pub fn set_unknown_prefix(mut self, prefix: &str) -> Self {
        self.unknown_prefixes.push(prefix.to_lowercase());
        self
    }

    /// Record the request's encryption context: each pair as
    /// `kms:EncryptionContext:<key>` and the keys as the multivalued
    /// `kms:EncryptionContextKeys` (absent when the context is empty). Pairs not
    /// given are absent. "AWS KMS condition keys" (case sensitivity of the
    /// encryption context condition): the whole condition key, `<key>` part
    /// included, is not case sensitive; values keep their case.
    #[must_use]
    pub fn set_encryption_context<I, K, V>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut names = Vec::new();
        for (k, v) in pairs {
            let k = k.into();
            self = self.set(&format!("kms:EncryptionContext:{k}"), [v.into()]);
            names.push(k);
        }
        if names.is_empty() {
            self.set_absent("kms:EncryptionContextKeys")
        } else {
            self.set("kms:EncryptionContextKeys", names)
        }
    }

    /// What the request says about `key`.
    pub fn get(&self, key: &str) -> Seen {
        let key = key.to_lowercase();
        if let Some(seen) = self.keys.get(&key) {
            return seen.clone();
        }
        if self.unknown_prefixes.iter().any(|p| key.starts_with(p)) {
            return Seen::Unknown;
        }
        Seen::Absent
    }

    /// Keys no event can show for any caller: organization and principal tags.
    fn with_identity_unknowns(self) -> Self {
        self.set_unknown("aws:PrincipalOrgID")
            .set_unknown("aws:PrincipalOrgPaths")
            .set_unknown_prefix("aws:PrincipalTag/")
    }

    /// The network keys, from the record's `sourceIPAddress` and
    /// `vpcEndpointId`; every one is set (present, absent or unknown), so
    /// this overrides whatever was set before.
    ///
    /// "AWS global condition context keys": a request through a VPC endpoint
    /// carries `aws:SourceVpce` and `aws:VpcSourceIp` but no `aws:SourceIp`;
    /// `aws:SourceVpc` is in it too, but no record shows the VPC, so it is
    /// unknown. Without an endpoint, `aws:SourceIp` is the address, or unknown
    /// when the record shows a service name instead (forward access sessions
    /// keep the requester's address, which the record then does not show).
    /// A service principal's own call has neither `aws:SourceIp` nor
    /// `aws:VpcSourceIp`.
    #[must_use]
    pub fn with_network(self, source_ip: Option<&str>, vpc_endpoint: Option<&str>) -> Self {
        let ip = source_ip.filter(|s| s.trim().parse::<std::net::IpAddr>().is_ok());
        let ctx = match vpc_endpoint {
            Some(vpce) => self
                .set("aws:SourceVpce", [vpce])
                .set_unknown("aws:SourceVpc")
                .set_absent("aws:SourceIp"),
            None => self
                .set_absent("aws:SourceVpce")
                .set_absent("aws:SourceVpc")
                .set_absent("aws:VpcSourceIp"),
        };
        let key = if vpc_endpoint.is_some() {
            "aws:VpcSourceIp"
        } else {
            "aws:SourceIp"
        };
        if ctx.service_principal {
            return ctx.set_absent("aws:SourceIp").set_absent("aws:VpcSourceIp");
        }
        match ip {
            Some(ip) => ctx.set(key, [ip.trim()]),
            None => ctx.set_unknown(key),
        }
    }

    /// An AWS service principal calling on its own behalf (`userIdentity.type`
    /// `AWSService`, `invokedBy` = `service`): no `aws:PrincipalArn`.
    pub fn service_principal(service: &str) -> Self {
        let ctx = Context {
            service_principal: true,
            ..Context::new()
        };
        ctx.with_identity_unknowns()
            .set_bool("aws:PrincipalIsAWSService", true)
            .set("aws:PrincipalServiceName", [service])
            .set_bool("aws:ViaAWSService", false)
            .set_unknown("aws:PrincipalAccount")
            .set_unknown("kms:CallerAccount")
            .set_unknown("aws:SourceAccount")
            .set_unknown("aws:SourceArn")
    }

    /// A direct call by an IAM user or role. `aws:PrincipalArn` is the role
    /// ARN for an assumed-role session ("AWS global condition context keys",
    /// `aws:PrincipalArn`): a session ARN given here is read as its role
    /// (see [`role_of_session`]).
    pub fn iam_principal(principal_arn: &str, account: &str) -> Self {
        let arn = role_of_session(principal_arn).unwrap_or_else(|| principal_arn.to_owned());
        Context::new()
            .with_identity_unknowns()
            .set("aws:PrincipalArn", [arn])
            .set_bool("aws:PrincipalIsAWSService", false)
            .set_bool("aws:ViaAWSService", false)
            .set("aws:PrincipalAccount", [account])
            .set("kms:CallerAccount", [account])
            .set("aws:PrincipalType", [principal_type(principal_arn)])
    }

    /// A forward access session: `invoked_by` (e.g. `backup.amazonaws.com`)
    /// calls KMS with the identity of `principal_arn` in `region`.
    /// `aws:CalledVia` is unknown (only some services set it); override it
    /// with [`Context::set`] when the event shows it. `kms:ViaService` is
    /// unknown when `invoked_by` is no service host name (`AWS Internal`).
    pub fn forward_access(
        principal_arn: &str,
        account: &str,
        invoked_by: &str,
        region: &str,
    ) -> Self {
        let ctx =
            Context::iam_principal(principal_arn, account).set_bool("aws:ViaAWSService", true);
        let ctx = if is_service_host(invoked_by) && !region.is_empty() {
            ctx.set("kms:ViaService", [via_service(invoked_by, region)])
        } else {
            ctx.set_unknown("kms:ViaService")
        };
        ctx.set_unknown("aws:CalledVia")
            .set_unknown("aws:CalledViaFirst")
            .set_unknown("aws:CalledViaLast")
    }
}

/// `backup.amazonaws.com` in `eu-west-1` -> `backup.eu-west-1.amazonaws.com`.
pub(crate) fn via_service(invoked_by: &str, region: &str) -> String {
    let name = invoked_by.split('.').next().unwrap_or(invoked_by);
    format!("{name}.{region}.amazonaws.com")
}

/// `backup.amazonaws.com` (or `.amazonaws.com.cn`), not `AWS Internal`.
fn is_service_host(invoked_by: &str) -> bool {
    let name = invoked_by.trim_end_matches(".cn");
    name.ends_with(".amazonaws.com") && !name.contains(' ')
}

/// `arn:aws:sts::A:assumed-role/R/S` -> `arn:aws:iam::A:role/R`; `None` for
/// any other ARN. A session ARN does not show the role's path, so the result
/// has none: it is the role's ARN only when the role's path is `/`.
pub fn role_of_session(arn: &str) -> Option<String> {
    let (partition, account, role) = super::eval::session_role(arn)?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

fn principal_type(arn: &str) -> &'static str {
    if arn.contains(":role/") || arn.contains(":assumed-role/") {
        "AssumedRole"
    } else if arn.ends_with(":root") {
        "Account"
    } else {
        "User"
    }
}

/// Who made the request, as far as the `Principal` element can see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An IAM user or role (the role ARN for assumed-role sessions); either
    /// part may be unknown.
    Aws {
        arn: Option<String>,
        account: Option<String>,
    },
    /// An AWS service principal such as `backup.amazonaws.com`.
    Service(String),
    Federated(String),
    Anonymous,
}

/// One request to evaluate: `action` like `kms:Decrypt`, `resource` the key ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub principal: Principal,
    pub action: String,
    pub resource: String,
    pub context: Context,
}

impl Request {
    pub fn new(principal: Principal, action: &str, resource: &str, context: Context) -> Self {
        Request {
            principal,
            action: action.to_owned(),
            resource: resource.to_owned(),
            context,
        }
    }

    /// A service principal's request; see [`Context::service_principal`].
    pub fn service_principal(service: &str, action: &str, resource: &str) -> Self {
        let principal = Principal::Service(service.to_owned());
        Request::new(
            principal,
            action,
            resource,
            Context::service_principal(service),
        )
    }

    /// A direct IAM principal's request; see [`Context::iam_principal`].
    pub fn iam_principal(principal_arn: &str, account: &str, action: &str, resource: &str) -> Self {
        let context = Context::iam_principal(principal_arn, account);
        Request::new(aws(principal_arn, account), action, resource, context)
    }

    /// A forward access session's request; see [`Context::forward_access`].
    pub fn forward_access(
        principal_arn: &str,
        account: &str,
        invoked_by: &str,
        region: &str,
        action: &str,
        resource: &str,
    ) -> Self {
        let context = Context::forward_access(principal_arn, account, invoked_by, region);
        Request::new(aws(principal_arn, account), action, resource, context)
    }
}

fn aws(arn: &str, account: &str) -> Principal {
    Principal::Aws {
        arn: Some(arn.to_owned()),
        account: Some(account.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_default_absent() {
        let ctx = Context::new().set("AWS:SourceIp", ["10.0.0.1"]);
        assert_eq!(
            ctx.get("aws:sourceip"),
            Seen::Present(vec!["10.0.0.1".into()])
        );
        assert_eq!(ctx.get("aws:SourceVpce"), Seen::Absent);
    }

    #[test]
    fn unknown_prefix_yields_to_explicit_keys() {
        let ctx = Context::new()
            .set_unknown_prefix("aws:PrincipalTag/")
            .set("aws:PrincipalTag/team", ["blue"]);
        assert_eq!(ctx.get("aws:principaltag/Other"), Seen::Unknown);
        assert_eq!(
            ctx.get("aws:PrincipalTag/TEAM"),
            Seen::Present(vec!["blue".into()])
        );
        assert_eq!(ctx.get("aws:PrincipalTagX"), Seen::Absent);
    }

    #[test]
    fn encryption_context_pairs_and_keys() {
        let ctx = Context::new().set_encryption_context([("AppName", "Billing")]);
        assert_eq!(
            ctx.get("kms:encryptioncontext:appname"),
            Seen::Present(vec!["Billing".into()])
        );
        assert_eq!(ctx.get("kms:EncryptionContext:Other"), Seen::Absent);
        assert_eq!(
            ctx.get("kms:EncryptionContextKeys"),
            Seen::Present(vec!["AppName".into()])
        );
        let empty = Context::new().set_encryption_context(Vec::<(String, String)>::new());
        assert_eq!(empty.get("kms:EncryptionContextKeys"), Seen::Absent);
    }

    #[test]
    fn caller_classes_follow_the_design_table() {
        let sp = Context::service_principal("backup-storage.amazonaws.com");
        assert_eq!(sp.get("aws:PrincipalArn"), Seen::Absent);
        assert_eq!(
            sp.get("aws:PrincipalIsAWSService"),
            Seen::Present(vec!["true".into()])
        );
        assert_eq!(sp.get("kms:CallerAccount"), Seen::Unknown);
        let role = "arn:aws:iam::111122223333:role/backup";
        let fas =
            Context::forward_access(role, "111122223333", "backup.amazonaws.com", "eu-west-1");
        assert_eq!(
            fas.get("kms:ViaService"),
            Seen::Present(vec!["backup.eu-west-1.amazonaws.com".into()])
        );
        assert_eq!(
            fas.get("aws:ViaAWSService"),
            Seen::Present(vec!["true".into()])
        );
        assert_eq!(
            fas.get("aws:PrincipalType"),
            Seen::Present(vec!["AssumedRole".into()])
        );
        assert_eq!(fas.get("aws:CalledVia"), Seen::Unknown);
        let user = Context::iam_principal("arn:aws:iam::111122223333:user/bob", "111122223333");
        assert_eq!(
            user.get("aws:PrincipalType"),
            Seen::Present(vec!["User".into()])
        );
        assert_eq!(user.get("kms:ViaService"), Seen::Absent);
        assert_eq!(user.get("aws:PrincipalTag/x"), Seen::Unknown);
    }
    fn present(v: &str) -> Seen {
        Seen::Present(vec![v.into()])
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/app";

    #[test]
    fn vpc_endpoint_call_has_vpc_source_ip_and_no_source_ip() {
        let ctx = Context::iam_principal(ROLE, "111122223333")
            .with_network(Some("10.1.2.3"), Some("vpce-0d985940f92611b87"));
        assert_eq!(ctx.get("aws:SourceVpce"), present("vpce-0d985940f92611b87"));
        assert_eq!(ctx.get("aws:VpcSourceIp"), present("10.1.2.3"));
        assert_eq!(ctx.get("aws:SourceIp"), Seen::Absent);
        assert_eq!(ctx.get("aws:SourceVpc"), Seen::Unknown);
    }

    #[test]
    fn call_without_endpoint_has_source_ip_only() {
        let ctx =
            Context::iam_principal(ROLE, "111122223333").with_network(Some("203.0.113.9"), None);
        assert_eq!(ctx.get("aws:SourceIp"), present("203.0.113.9"));
        for key in ["aws:VpcSourceIp", "aws:SourceVpce", "aws:SourceVpc"] {
            assert_eq!(ctx.get(key), Seen::Absent, "{key}");
        }
        // Applied over an earlier guess, it wins.
        let over = Context::iam_principal(ROLE, "111122223333")
            .set("aws:SourceIp", ["10.0.0.1"])
            .with_network(Some("10.0.0.1"), Some("vpce-1"));
        assert_eq!(over.get("aws:SourceIp"), Seen::Absent);
    }

    #[test]
    fn service_name_in_place_of_an_address_is_unknown() {
        // A forward access session keeps the requester's address, which the
        // record replaces with the service's name.
        let fas = Context::forward_access(
            ROLE,
            "111122223333",
            "secretsmanager.amazonaws.com",
            "us-east-1",
        )
        .with_network(Some("secretsmanager.amazonaws.com"), None);
        assert_eq!(fas.get("aws:SourceIp"), Seen::Unknown);
        let fas_vpce = Context::forward_access(
            ROLE,
            "111122223333",
            "secretsmanager.amazonaws.com",
            "us-east-1",
        )
        .with_network(Some("secretsmanager.amazonaws.com"), Some("vpce-1"));
        assert_eq!(fas_vpce.get("aws:VpcSourceIp"), Seen::Unknown);
        assert_eq!(fas_vpce.get("aws:SourceIp"), Seen::Absent);
        let direct = Context::iam_principal(ROLE, "111122223333").with_network(None, None);
        assert_eq!(direct.get("aws:SourceIp"), Seen::Unknown);
    }

    #[test]
    fn service_principal_has_no_source_ip() {
        let sp = Context::service_principal("cloudtrail.amazonaws.com")
            .with_network(Some("cloudtrail.amazonaws.com"), None);
        assert_eq!(sp.get("aws:SourceIp"), Seen::Absent);
        assert_eq!(sp.get("aws:VpcSourceIp"), Seen::Absent);
        assert_eq!(sp.get("aws:ViaAWSService"), present("false"));
        assert_eq!(sp.get("aws:CalledVia"), Seen::Absent);
        assert_eq!(sp.get("kms:ViaService"), Seen::Absent);
        let sp_vpce = Context::service_principal("cloudtrail.amazonaws.com")
            .with_network(Some("10.0.0.1"), Some("vpce-1"));
        assert_eq!(sp_vpce.get("aws:SourceVpce"), present("vpce-1"));
        assert_eq!(sp_vpce.get("aws:VpcSourceIp"), Seen::Absent);
        assert_eq!(sp_vpce.get("aws:SourceIp"), Seen::Absent);
    }

    #[test]
    fn forward_access_via_service_needs_a_service_host() {
        let fas = Context::forward_access(ROLE, "111122223333", "AWS Internal", "eu-west-1");
        assert_eq!(fas.get("kms:ViaService"), Seen::Unknown);
        assert_eq!(fas.get("aws:ViaAWSService"), present("true"));
        let cn = Context::forward_access(ROLE, "111122223333", "s3.amazonaws.com.cn", "cn-north-1");
        assert_eq!(
            cn.get("kms:ViaService"),
            present("s3.cn-north-1.amazonaws.com")
        );
        let no_region = Context::forward_access(ROLE, "111122223333", "s3.amazonaws.com", "");
        assert_eq!(no_region.get("kms:ViaService"), Seen::Unknown);
    }

    #[test]
    fn cross_account_caller_accounts_and_unknown_org() {
        let other = Context::iam_principal("arn:aws:iam::444455556666:role/reader", "444455556666");
        assert_eq!(other.get("kms:CallerAccount"), present("444455556666"));
        assert_eq!(other.get("aws:PrincipalAccount"), present("444455556666"));
        assert_eq!(other.get("aws:PrincipalOrgID"), Seen::Unknown);
        assert_eq!(other.get("aws:PrincipalOrgPaths"), Seen::Unknown);
    }

    #[test]
    fn session_arn_is_read_as_its_role() {
        let ctx = Context::iam_principal(
            "arn:aws:sts::111122223333:assumed-role/app/s1",
            "111122223333",
        );
        assert_eq!(ctx.get("aws:PrincipalArn"), present(ROLE));
        assert_eq!(ctx.get("aws:PrincipalType"), present("AssumedRole"));
        assert_eq!(
            role_of_session("arn:aws-cn:sts::111122223333:assumed-role/app/s1").as_deref(),
            Some("arn:aws-cn:iam::111122223333:role/app")
        );
        assert_eq!(role_of_session(ROLE), None);
        assert_eq!(
            role_of_session("arn:aws:sts::111122223333:assumed-role/app"),
            None
        );
    }

    #[test]
    fn s3_bucket_key_context_is_the_bucket_arn() {
        // With an S3 Bucket Key, S3 asks KMS with the bucket's ARN as
        // context, not the object's.
        let ctx =
            Context::new().set_encryption_context([("aws:s3:arn", "arn:aws:s3:::orders-bucket")]);
        assert_eq!(
            ctx.get("kms:EncryptionContext:aws:s3:arn"),
            present("arn:aws:s3:::orders-bucket")
        );
        assert_eq!(ctx.get("kms:EncryptionContextKeys"), present("aws:s3:arn"));
    }
}
