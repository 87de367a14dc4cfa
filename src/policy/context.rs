//! The request an evaluation is about: who called, what action on which key,
//! and what the policy's condition keys can see.
//!
//! A [`Context`] maps condition keys (compared case-insensitively, per "IAM
//! JSON policy elements: Condition") to [`Seen`]: present with values, absent,
//! or unknown. A key not set is absent, unless it falls under a prefix marked
//! unknown (`aws:PrincipalTag/`). The caller-class constructors encode the
//! "Request context from an event" table of DESIGN.md; they read no events
//! themselves.

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

    /// An AWS service principal calling on its own behalf (`userIdentity.type`
    /// `AWSService`, `invokedBy` = `service`): no `aws:PrincipalArn`.
    pub fn service_principal(service: &str) -> Self {
        Context::new()
            .with_identity_unknowns()
            .set_bool("aws:PrincipalIsAWSService", true)
            .set("aws:PrincipalServiceName", [service])
            .set_bool("aws:ViaAWSService", false)
            .set_unknown("aws:PrincipalAccount")
            .set_unknown("kms:CallerAccount")
            .set_unknown("aws:SourceAccount")
            .set_unknown("aws:SourceArn")
    }

    /// A direct call by an IAM user or role (`principal_arn` is the role ARN
    /// for assumed roles).
    pub fn iam_principal(principal_arn: &str, account: &str) -> Self {
        Context::new()
            .with_identity_unknowns()
            .set("aws:PrincipalArn", [principal_arn])
            .set_bool("aws:PrincipalIsAWSService", false)
            .set_bool("aws:ViaAWSService", false)
            .set("aws:PrincipalAccount", [account])
            .set("kms:CallerAccount", [account])
            .set("aws:PrincipalType", [principal_type(principal_arn)])
    }

    /// A forward access session: `invoked_by` (e.g. `backup.amazonaws.com`)
    /// calls KMS with the identity of `principal_arn` in `region`.
    /// `aws:CalledVia` is unknown (only some services set it); override it
    /// with [`Context::set`] when the event shows it.
    pub fn forward_access(
        principal_arn: &str,
        account: &str,
        invoked_by: &str,
        region: &str,
    ) -> Self {
        Context::iam_principal(principal_arn, account)
            .set_bool("aws:ViaAWSService", true)
            .set("kms:ViaService", [via_service(invoked_by, region)])
            .set_unknown("aws:CalledVia")
            .set_unknown("aws:CalledViaFirst")
            .set_unknown("aws:CalledViaLast")
    }
}

/// `backup.amazonaws.com` in `eu-west-1` -> `backup.eu-west-1.amazonaws.com`.
pub(crate) fn via_service(invoked_by: &str, region: &str) -> String {
    let name = invoked_by.split('.').next().unwrap_or(invoked_by);
    format!("{name}.{region}.amazonaws.com")
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
}
