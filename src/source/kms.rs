//! `kms:GetKeyPolicy` through aws-sdk-kms: the key policies in force, for
//! `--fetch-policy`. [`fetch_policies`] builds its own small runtime so the
//! rest of denydiff stays synchronous.
//!
//! Credentials come from aws-config's standard chain (environment,
//! `--profile`, SSO and assume-role profiles, instance roles). Each key is
//! asked in its own region (from its ARN); `--endpoint-url` points every
//! call at a test server or a private endpoint.

use aws_sdk_kms::error::DisplayErrorContext;

use super::aws::{AwsOptions, explain, load, runtime};

/// Fetches the `default` key policy of each key: `(key, policy or error)`.
pub fn fetch_policies(opts: &AwsOptions, keys: &[String]) -> Vec<(String, Result<String, String>)> {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let why = format!("starting the runtime: {e}");
            return keys.iter().map(|k| (k.clone(), Err(why.clone()))).collect();
        }
    };
    rt.block_on(async {
        let base = load(opts).await;
        let mut out = Vec::new();
        for key in keys {
            out.push((key.clone(), get_policy(&base, key).await));
        }
        out
    })
}

async fn get_policy(base: &aws_config::SdkConfig, key: &str) -> Result<String, String> {
    let mut conf = aws_sdk_kms::config::Builder::from(base);
    // A key lives in one region: ask that region.
    if let Some(region) = key.split(':').nth(3).filter(|r| !r.is_empty()) {
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
        Err(e) => Err(explain(
            "kms:GetKeyPolicy",
            &DisplayErrorContext(&e).to_string(),
        )),
    }
}
