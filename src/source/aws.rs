//! What every AWS source shares: loading aws-config's standard credential
//! chain with the user's `--profile`, `--region` and `--endpoint-url`, the
//! timeouts and retries every client gets ([`Net`]), a small runtime for the
//! async SDK, and error messages that name the call and the cause with a
//! `hint:` line. It retries nothing itself: the SDK retries requests, and
//! `s3` and `lookup` retry what the SDK cannot see (a body that breaks off,
//! a rate-limited page).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    /// `--region`, repeatable; empty means the profile's default region.
    pub regions: Vec<String>,
    pub endpoint_url: Option<String>,
    pub net: Net,
}

/// How long every AWS call may wait, and how often it is tried.
///
/// Without these the SDK sets only a 3.1 s connect timeout: a server that
/// accepts a request and never answers holds the run forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    /// `--connect-timeout`: to open a connection.
    pub connect: Duration,
    /// `--read-timeout`: from sending a request to the response's first
    /// byte (the SDK's read timeout), and, while a response body streams,
    /// for more of it (the SDK's stalled-stream protection; `s3`'s idle
    /// timer for objects).
    pub read: Duration,
    /// `--attempt-timeout`: one attempt of a call, until its response is
    /// parsed (for `GetObject`, until the body starts).
    pub attempt: Duration,
    /// `--max-attempts`: tries per request (first one included) for 5xx,
    /// throttling, resets and timeouts; also per S3 object whose body
    /// breaks off.
    pub max_attempts: u32,
}

impl Default for Net {
    /// The defaults `--help` shows (a test in `cli` keeps them equal).
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
            attempt: Duration::from_mins(1),
            max_attempts: 10,
        }
    }
}

impl Net {
    /// The SDK's timeouts: connect, read (first byte), per attempt. No
    /// operation timeout: attempts and backoff bound an operation.
    pub fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.read)
            .operation_attempt_timeout(self.attempt)
            .build()
    }

    /// The SDK's stalled-stream protection with a grace of `read`: a
    /// response body (a listing's, a LookupEvents page's) that stops for
    /// that long fails the attempt, which is then retried. Its default
    /// grace, 20 s, would leave a stalled listing to the attempt timeout.
    pub fn stalls(&self) -> StalledStreamProtectionConfig {
        StalledStreamProtectionConfig::enabled()
            .grace_period(self.read)
            .build()
    }

    /// Standard retries (exponential backoff with jitter, 1 s doubling up
    /// to 20 s; 5xx, throttling, IO errors and timeouts) with
    /// `max_attempts` tries instead of the SDK's 3.
    pub fn retries(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts.max(1))
    }
}

/// Parses `--*-timeout` values: seconds, fractions allowed (`2`, `0.5`).
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("`{s}`: give between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Exponential backoff with full jitter: a random wait up to
/// `base * 2^(attempt-1)`, at most `cap`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(cap);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    ceiling.mul_f64(f64::from(nanos % 1000) / 1000.0)
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
    loader
        .timeout_config(opts.net.timeouts())
        .retry_config(opts.net.retries())
        .stalled_stream_protection(opts.net.stalls())
        .load()
        .await
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
    } else if err.contains("timeout") || err.contains("timed out") {
        "hint: AWS did not answer in time: check the network, or raise `--connect-timeout`, `--read-timeout` or `--attempt-timeout`"
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

    #[test]
    fn seconds_parse_and_reject() {
        assert_eq!(parse_seconds("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        let (base, cap) = (Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..40 {
            let ceiling = (base * 2u32.pow(attempt.min(16) - 1)).min(cap);
            assert!(backoff(attempt, base, cap) <= ceiling, "{attempt}");
        }
    }
}
