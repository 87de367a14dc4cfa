//! CloudTrail's S3 exports, straight from the bucket.
//!
//! The trail layout is `prefix/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`
//! (organization trails: `AWSLogs/<o-id>/<account>/...`). Accounts and
//! regions are discovered with delimiter listings (filtered by `--account`
//! and `--region`); with `--since`/`--until` only the day prefixes inside the
//! window are listed, so three days never list a year. Digest, Insight and
//! Aggregated deliveries live beside `CloudTrail/` and are never listed. A
//! prefix below `CloudTrail/` (or one without `AWSLogs/`) is listed as is.
//! Objects are fetched `--concurrency` at a time, decompressed as their body
//! streams in, and handed on; a failed object is reported by `s3://` key.
//!
//! The client starts from `--region` (or the profile's region) and then
//! moves to the bucket's own region, which `HeadBucket` tells whether or not
//! the request was signed for it: S3 refuses a listing signed for another
//! region (301 `PermanentRedirect`), and the Rust SDK does not follow that.

use std::io::Write;
use std::sync::Arc;

use aws_sdk_s3::error::DisplayErrorContext;
use chrono::{Days, NaiveDate};
use flate2::write::MultiGzDecoder;
use indicatif::ProgressBar;
use tokio::sync::Semaphore;
use tokio::sync::mpsc::Sender;

use super::aws::{AwsOptions, explain};
use super::remote::{Item, Payload, Query};

/// Fetches every log object under `s3://bucket/prefix` that the query selects.
pub(super) async fn fetch(
    conf: &aws_config::SdkConfig,
    bucket: &str,
    prefix: &str,
    q: &Query,
    opts: &AwsOptions,
    tx: &Sender<Item>,
    bar: &ProgressBar,
) {
    let from = conf.region().map(ToString::to_string);
    // With no region configured the SDK would send nothing at all; S3
    // tells the bucket's region to a request signed for any region.
    let asking = s3_client(conf, opts, from.is_none().then(|| "us-east-1".to_owned()));
    let mut client = s3_client(conf, opts, None);
    if let Some(home) = bucket_region(&asking, bucket).await
        && from.as_deref() != Some(home.as_str())
    {
        if q.verbose {
            eprintln!("denydiff: s3://{bucket} is in {home}; reading it there");
        }
        client = s3_client(conf, opts, Some(home));
    }
    let lister = Lister {
        client: &client,
        bucket,
        q,
    };
    let keys = match lister.keys(prefix, opts).await {
        Ok(keys) => keys,
        Err(reason) => {
            let source = format!("s3://{bucket}/{prefix}");
            let _ = tx
                .send(Item {
                    source,
                    payload: Payload::Failed(reason),
                })
                .await;
            return;
        }
    };
    let keys: Vec<String> = keys
        .into_iter()
        .filter(|k| !q.resume.s3_done.contains(&s3_url(bucket, k)))
        .collect();
    bar.inc_length(keys.len() as u64);
    get_all(&client, bucket, keys, q.concurrency.max(1), tx).await;
}

fn s3_client(
    conf: &aws_config::SdkConfig,
    opts: &AwsOptions,
    region: Option<String>,
) -> aws_sdk_s3::Client {
    let mut b =
        aws_sdk_s3::config::Builder::from(conf).force_path_style(opts.endpoint_url.is_some());
    if let Some(r) = region {
        b = b.region(aws_sdk_s3::config::Region::new(r));
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// The bucket's region, from `HeadBucket`'s `x-amz-bucket-region`: S3 sends
/// it with a 200, and with the 301 it answers when the request was signed
/// for another region (and with a 403 where the caller may not list).
/// `None` when S3 gives none (no such bucket, no network); the listing
/// then reports the error.
async fn bucket_region(client: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(out) => out.bucket_region().map(str::to_owned),
        Err(err) => err
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_owned),
    }
}

fn s3_url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

async fn get_all(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    keys: Vec<String>,
    concurrency: usize,
    tx: &Sender<Item>,
) {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for key in keys {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (client, bucket, tx) = (client.clone(), bucket.to_owned(), tx.clone());
        tasks.spawn(async move {
            let payload = if is_log(&key) {
                get(&client, &bucket, &key).await
            } else {
                Payload::Skipped
            };
            let _ = tx
                .send(Item {
                    source: s3_url(&bucket, &key),
                    payload,
                })
                .await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Log objects by name; everything else under a prefix is skipped and counted.
fn is_log(key: &str) -> bool {
    let not_events = [
        "/CloudTrail-Digest/",
        "/CloudTrail-Insight/",
        "/CloudTrail-Aggregated/",
    ];
    !not_events.iter().any(|n| key.contains(n))
        && [".json.gz", ".json", ".jsonl", ".ndjson", ".gz"]
            .iter()
            .any(|e| key.ends_with(e))
}

/// One object, gunzipped while its body streams in.
async fn get(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Payload {
    let resp = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(r) => r,
        Err(e) => {
            return Payload::Failed(explain(
                "s3:GetObject",
                &DisplayErrorContext(&e).to_string(),
            ));
        }
    };
    let mut body = resp.body;
    let mut sink = Body::default();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return Payload::Failed(format!("s3:GetObject body: {}", DisplayErrorContext(&e)));
            }
        };
        if let Err(e) = sink.write(&chunk) {
            return Payload::Failed(format!("gzip: {e}"));
        }
    }
    match sink.finish() {
        Ok(bytes) => Payload::Object(bytes),
        Err(e) => Payload::Failed(format!("gzip: {e}")),
    }
}

/// A body that decides on its first bytes whether it is gzip.
#[derive(Default)]
enum Body {
    #[default]
    Start,
    Plain(Vec<u8>),
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
}

impl Body {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if matches!(self, Body::Start) {
            *self = if chunk.starts_with(&[0x1f, 0x8b]) {
                Body::Gzip(Box::new(MultiGzDecoder::new(Vec::with_capacity(
                    chunk.len() * 8,
                ))))
            } else {
                Body::Plain(Vec::new())
            };
        }
        match self {
            Body::Start => Ok(()),
            Body::Plain(v) => {
                v.extend_from_slice(chunk);
                Ok(())
            }
            Body::Gzip(d) => d.write_all(chunk),
        }
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Body::Start => Ok(Vec::new()),
            Body::Plain(v) => Ok(v),
            Body::Gzip(d) => d.finish(),
        }
    }
}

/// Lists what a query selects.
struct Lister<'a> {
    client: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    q: &'a Query,
}

impl Lister<'_> {
    /// Every object key to fetch, pruned by account, region and day.
    async fn keys(&self, prefix: &str, opts: &AwsOptions) -> Result<Vec<String>, String> {
        let base = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_owned()
        } else {
            format!("{prefix}/")
        };
        let logs = format!("{base}AWSLogs/");
        let tops = self.dirs(&logs).await?;
        if tops.is_empty() || base.contains("/CloudTrail/") {
            return self.all(&base).await;
        }
        let mut keys = Vec::new();
        for account_dir in self.accounts(tops).await? {
            for region_dir in self.regions(&account_dir, opts).await? {
                for day in self.days(&region_dir) {
                    keys.extend(self.all(&day).await?);
                }
            }
        }
        Ok(keys)
    }

    /// `AWSLogs/<acct>/` and, for organization trails, `AWSLogs/<o-id>/<acct>/`.
    async fn accounts(&self, tops: Vec<String>) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for top in tops {
            let name = last(&top);
            if name.starts_with("o-") {
                out.extend(self.dirs(&top).await?);
            } else {
                out.push(top);
            }
        }
        let wanted = &self.q.accounts;
        out.retain(|d| wanted.is_empty() || wanted.iter().any(|a| a == last(d)));
        Ok(out)
    }

    async fn regions(&self, account_dir: &str, opts: &AwsOptions) -> Result<Vec<String>, String> {
        let mut regions = self.dirs(&format!("{account_dir}CloudTrail/")).await?;
        let wanted: Vec<&str> = opts.named_regions().collect();
        regions.retain(|d| wanted.is_empty() || wanted.iter().any(|r| *r == last(d)));
        Ok(regions)
    }

    /// The day prefixes inside `--since/--until`, or the region prefix itself.
    fn days(&self, region_dir: &str) -> Vec<String> {
        let day = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.date_naive());
        let Some(first) = self.q.since_ms.and_then(day) else {
            return vec![region_dir.to_owned()];
        };
        let end = self
            .q
            .until_ms
            .and_then(day)
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        let mut out = Vec::new();
        let mut d: NaiveDate = first;
        while d <= end && out.len() < 3660 {
            out.push(format!("{region_dir}{}/", d.format("%Y/%m/%d")));
            d = d + Days::new(1);
        }
        out
    }

    /// The "directories" right under `prefix`.
    async fn dirs(&self, prefix: &str) -> Result<Vec<String>, String> {
        self.list(prefix, true).await
    }

    /// Every key under `prefix`.
    async fn all(&self, prefix: &str) -> Result<Vec<String>, String> {
        self.list(prefix, false).await
    }

    async fn list(&self, prefix: &str, delimited: bool) -> Result<Vec<String>, String> {
        if self.q.verbose {
            eprintln!("denydiff: listing s3://{}/{prefix}", self.bucket);
        }
        let mut req = self
            .client
            .list_objects_v2()
            .bucket(self.bucket)
            .prefix(prefix);
        if delimited {
            req = req.delimiter("/");
        }
        let mut pages = req.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| explain("s3:ListObjectsV2", &DisplayErrorContext(&e).to_string()))?;
            if delimited {
                out.extend(
                    page.common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix().map(str::to_owned)),
                );
            } else {
                out.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(str::to_owned)),
                );
            }
        }
        Ok(out)
    }
}

/// The last path segment of a `dir/` prefix.
fn last(dir: &str) -> &str {
    dir.trim_end_matches('/').rsplit('/').next().unwrap_or(dir)
}
