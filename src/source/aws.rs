//! What every AWS source shares: loading aws-config's standard credential
//! chain with the user's `--profile`, `--region` and `--endpoint-url`, a
//! small runtime for the async SDK, and error messages that name the call
//! and the cause with a `hint:` line.

use aws_config::BehaviorVersion;

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    /// `--region`, repeatable; empty means the profile's default region.
    pub regions: Vec<String>,
    pub endpoint_url: Option<String>,
}

/// `--region all-enabled`: every commercial region, for LookupEvents.
pub const ALL_ENABLED: &str = "all-enabled";

impl AwsOptions {
    /// The regions named with `--region`, without `all-enabled`.
    pub fn named_regions(&self) -> impl Iterator<Item = &str> {
        self.regions
            .iter()
            .map(String::as_str)
            .filter(|r| *r != ALL_ENABLED)
    }

    /// Whether `--region all-enabled` was given.
    pub fn all_enabled(&self) -> bool {
        self.regions.iter().any(|r| r == ALL_ENABLED)
    }

    /// The one region an S3 or KMS client should start from, if the user
    /// gave any; `all-enabled` is a LookupEvents choice, never a client's.
    pub fn first_region(&self) -> Option<&str> {
        self.named_regions().next()
    }
}

/// A current-thread runtime: the SDK is async, denydiff is not.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// aws-config's standard chain with the user's overrides.
pub async fn load(opts: &AwsOptions) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = opts.first_region() {
        loader = loader.region(aws_config::Region::new(r.to_owned()));
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

/// `call failed: cause`, with a hint for the causes people meet most.
pub fn explain(call: &str, err: &str) -> String {
    let hint = if err.contains("credentials") || err.contains("Credentials") {
        "hint: no AWS credentials found: set `AWS_PROFILE`, pass `--profile`, or run `aws sso login`"
    } else if err.contains("ExpiredToken") || err.contains("expired") {
        "hint: the session token has expired: refresh your credentials"
    } else if err.contains("AccessDenied") {
        "hint: the caller lacks the permission for this call (IAM policy, bucket or key policy)"
    } else if err.contains("NoSuchBucket") {
        "hint: check the bucket name"
    } else if err.contains("NotFoundException") || err.contains("NoSuchKey") {
        "hint: check the name, the ARN and the region"
    } else if err.contains("dispatch failure") || err.contains("io error") {
        "hint: AWS could not be reached: check the network, `--region` and `--endpoint-url`"
    } else {
        return format!("{call} failed: {err}");
    };
    format!("{call} failed: {err}\n{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_enabled_is_never_a_client_region() {
        let opts = |r: &[&str]| AwsOptions {
            regions: r.iter().map(|s| (*s).to_owned()).collect(),
            ..AwsOptions::default()
        };
        assert_eq!(opts(&["all-enabled"]).first_region(), None);
        assert_eq!(
            opts(&["all-enabled", "eu-west-1"]).first_region(),
            Some("eu-west-1")
        );
        assert_eq!(opts(&["us-east-1"]).first_region(), Some("us-east-1"));
    }
}
