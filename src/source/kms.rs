//! `kms:GetKeyPolicy` through aws-sdk-kms: the key policies in force, for
//! `--fetch-policy`. The only async code here; [`fetch_policies`] builds its
//! own small runtime so the rest of denydiff stays synchronous.
//!
//! Credentials come from aws-config's standard chain (environment,
//! `--profile`, SSO and assume-role profiles, instance roles). Each key is
//! asked in its own region (from its ARN); `--endpoint-url` points every
//! call at a test server or a private endpoint.

use aws_config::BehaviorVersion;
use aws_sdk_kms::error::DisplayErrorContext;

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Fetches the `default` key policy of each key: `(key, policy or error)`.
pub fn fetch_policies(opts: &AwsOptions, keys: &[String]) -> Vec<(String, Result<String, String>)> {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return keys
                .iter()
                .map(|k| (k.clone(), Err(format!("starting the runtime: {e}"))))
                .collect();
        }
    };
    rt.block_on(async {
        let base = load(opts).await;
        let mut out = Vec::new();
        for key in keys {
            out.push((key.clone(), get_policy(&base, opts, key).await));
        }
        out
    })
}

async fn load(opts: &AwsOptions) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

async fn get_policy(
    base: &aws_config::SdkConfig,
    opts: &AwsOptions,
    key: &str,
) -> Result<String, String> {
    let mut conf = aws_sdk_kms::config::Builder::from(base);
    // A key lives in one region: ask that region unless the user pinned one.
    if opts.region.is_none()
        && let Some(region) = key.split(':').nth(3).filter(|r| !r.is_empty())
    {
        conf = conf.region(aws_config::Region::new(region.to_owned()));
    }
    let client = aws_sdk_kms::Client::from_conf(conf.build());
    let resp = client
        .get_key_policy()
        .key_id(key)
        .policy_name("default")
        .send()
        .await;
    match resp {
        Ok(out) => out
            .policy
            .ok_or_else(|| "kms:GetKeyPolicy returned no policy".to_owned()),
        Err(e) => Err(explain(&DisplayErrorContext(&e).to_string())),
    }
}

/// The SDK's error, with a hint for the causes people meet most.
fn explain(err: &str) -> String {
    let hint = if err.contains("credentials") || err.contains("Credentials") {
        "hint: no AWS credentials found: set `AWS_PROFILE`, pass `--profile`, or run `aws sso login`"
    } else if err.contains("AccessDenied") {
        "hint: the caller needs `kms:GetKeyPolicy` on this key (key policy or IAM policy)"
    } else if err.contains("ExpiredToken") {
        "hint: the session token has expired: refresh your credentials"
    } else if err.contains("NotFoundException") {
        "hint: check the key ARN and the region"
    } else {
        return format!("kms:GetKeyPolicy failed: {err}");
    };
    format!("kms:GetKeyPolicy failed: {err}\n{hint}")
}
