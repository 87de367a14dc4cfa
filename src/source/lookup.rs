//! CloudTrail `LookupEvents` (the last 90 days of management events), at the
//! API's rate limit.
//!
//! One lookup attribute per call, as the API allows: `EventSource =
//! kms.amazonaws.com`, or `ResourceName = <key ARN>` for each `--key`; the
//! rest is filtered client-side by the collector. Pages of `MaxResults` 50
//! follow `NextToken` with the same parameters. The API allows 2 requests
//! per second per account and region: each region runs as its own task with
//! its own limiter, and every attempt (retries included) waits for a slot.
//! The SDK's own retries are off so the limiter sees every request;
//! `ThrottlingException`, 5xx and timeouts are retried here with
//! exponential backoff and jitter (0.5 s doubling, at most 8 s), up to
//! `--max-attempts` tries, re-sending the same page request, so a page is
//! neither lost nor emitted twice. The timeouts are the shared ones
//! ([`Net`](super::aws::Net)).

use std::time::Duration;

use aws_sdk_cloudtrail::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use indicatif::ProgressBar;
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;

use super::aws::{AwsOptions, backoff, explain};
use super::remote::{Item, Payload, Query};

/// The API's limit is 2 requests per second per account per region; 505 ms
/// keeps clear of a server that counts a sliding one-second window.
const INTERVAL: Duration = Duration::from_millis(505);

/// Commercial regions, for `--region all-enabled`; regions not enabled for
/// the account answer with an auth error and are reported, not fatal.
const ALL_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "sa-east-1",
];

/// The regions to ask: the source's own, else `--region` (with
/// `all-enabled`), else the configuration's default.
pub fn regions(
    source: Option<String>,
    opts: &AwsOptions,
    conf: &aws_config::SdkConfig,
) -> Vec<String> {
    if let Some(r) = source {
        return vec![r];
    }
    if opts.all_enabled() {
        return ALL_REGIONS.iter().map(|r| (*r).to_owned()).collect();
    }
    if !opts.regions.is_empty() {
        return opts.regions.clone();
    }
    conf.region()
        .map_or_else(|| vec!["us-east-1".to_owned()], |r| vec![r.to_string()])
}

/// Fetches every region concurrently, each at the rate limit.
pub(super) async fn fetch(
    conf: &aws_config::SdkConfig,
    region: Option<String>,
    q: &Query,
    opts: &AwsOptions,
    tx: &Sender<Item>,
    bar: &ProgressBar,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for region in regions(region, opts, conf) {
        let (conf, q, tx, bar) = (conf.clone(), q.clone(), tx.clone(), bar.clone());
        let tries = opts.net.max_attempts.max(1);
        tasks.spawn(async move { fetch_region(&conf, &region, &q, tries, &tx, &bar).await });
    }
    while tasks.join_next().await.is_some() {}
}

/// The lookups for one region: one per key, or one by event source.
fn attributes(q: &Query) -> Vec<(LookupAttributeKey, String)> {
    if q.keys.is_empty() {
        return vec![(LookupAttributeKey::EventSource, "kms.amazonaws.com".into())];
    }
    q.keys
        .iter()
        .map(|k| (LookupAttributeKey::ResourceName, k.clone()))
        .collect()
}

async fn fetch_region(
    conf: &aws_config::SdkConfig,
    region: &str,
    q: &Query,
    tries: u32,
    tx: &Sender<Item>,
    bar: &ProgressBar,
) {
    let client = client(conf, region);
    let mut limiter = Limiter {
        next: Instant::now(),
    };
    for (key, value) in attributes(q) {
        let resume_key = format!("{region}|{}={value}", key.as_str());
        let token = q.resume.lookup_tokens.get(&resume_key).cloned();
        if token.as_deref() == Some("") {
            continue; // finished in an earlier run
        }
        let attr = LookupAttribute::builder()
            .attribute_key(key)
            .attribute_value(value)
            .build();
        let attr = match attr {
            Ok(a) => a,
            Err(e) => return failed(tx, region, 0, e.to_string()).await,
        };
        let pages = Pages {
            client: &client,
            region,
            attr,
            q,
            tries,
            resume_key,
        };
        if !pages.run(token, &mut limiter, tx, bar).await {
            return;
        }
    }
}

fn client(conf: &aws_config::SdkConfig, region: &str) -> aws_sdk_cloudtrail::Client {
    let c = aws_sdk_cloudtrail::config::Builder::from(conf)
        .region(aws_config::Region::new(region.to_owned()))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_cloudtrail::Client::from_conf(c)
}

async fn failed(tx: &Sender<Item>, region: &str, page: u64, reason: String) {
    let source = format!("cloudtrail://{region} page {page}");
    let _ = tx
        .send(Item {
            source,
            payload: Payload::Failed(reason),
        })
        .await;
}

/// Spaces requests at least [`INTERVAL`] apart.
struct Limiter {
    next: Instant,
}

impl Limiter {
    async fn wait(&mut self) {
        tokio::time::sleep_until(self.next).await;
        self.next = Instant::now().max(self.next) + INTERVAL;
    }
}

/// The pages of one lookup in one region.
struct Pages<'a> {
    client: &'a aws_sdk_cloudtrail::Client,
    region: &'a str,
    attr: LookupAttribute,
    q: &'a Query,
    /// `--max-attempts`: tries per page.
    tries: u32,
    resume_key: String,
}

impl Pages<'_> {
    /// Follows `NextToken` to the end; false if a page failed for good.
    async fn run(
        &self,
        mut token: Option<String>,
        limiter: &mut Limiter,
        tx: &Sender<Item>,
        bar: &ProgressBar,
    ) -> bool {
        let mut page = 0u64;
        loop {
            page += 1;
            let out = match self.page(token.clone(), limiter).await {
                Ok(out) => out,
                Err(reason) => {
                    failed(tx, self.region, page, reason).await;
                    return false;
                }
            };
            let events: Vec<Option<String>> = out
                .events()
                .iter()
                .map(|e| e.cloud_trail_event().map(str::to_owned))
                .collect();
            bar.inc_length(1);
            token = out
                .next_token()
                .map(str::to_owned)
                .filter(|t| !t.is_empty());
            let payload = Payload::Page {
                events,
                region: self.resume_key.clone(),
                next: token.clone(),
            };
            let source = format!("cloudtrail://{} page {page}", self.region);
            if tx.send(Item { source, payload }).await.is_err() || token.is_none() {
                return true;
            }
        }
    }

    /// One page, retried on throttling, 5xx and timeouts.
    async fn page(
        &self,
        token: Option<String>,
        limiter: &mut Limiter,
    ) -> Result<aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput, String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            limiter.wait().await;
            let mut req = self
                .client
                .lookup_events()
                .lookup_attributes(self.attr.clone())
                .max_results(50)
                .set_next_token(token.clone());
            if let Some(ms) = self.q.since_ms {
                req = req.start_time(DateTime::from_millis(ms));
            }
            if let Some(ms) = self.q.until_ms {
                req = req.end_time(DateTime::from_millis(ms));
            }
            match req.send().await {
                Ok(out) => return Ok(out),
                Err(e) if attempt < self.tries && retryable(&e) => {
                    let wait = backoff(attempt, Duration::from_millis(500), Duration::from_secs(8));
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    return Err(explain(
                        "cloudtrail:LookupEvents",
                        &DisplayErrorContext(&e).to_string(),
                    ));
                }
            }
        }
    }
}

type LookupError = aws_sdk_cloudtrail::error::SdkError<
    aws_sdk_cloudtrail::operation::lookup_events::LookupEventsError,
    aws_sdk_cloudtrail::config::http::HttpResponse,
>;

fn retryable(e: &LookupError) -> bool {
    use aws_sdk_cloudtrail::error::SdkError;
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            let throttled = s
                .err()
                .code()
                .is_some_and(|c| c.contains("Throttl") || c == "RequestLimitExceeded");
            throttled || s.raw().status().is_server_error()
        }
        _ => false,
    }
}
