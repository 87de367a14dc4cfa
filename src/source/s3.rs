//! CloudTrail's S3 exports, straight from the bucket.
//!
//! The trail layout is `prefix/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`
//! (organization trails: `AWSLogs/<o-id>/<account>/...`). Accounts and
//! regions are discovered with delimiter listings (filtered by `--account`
//! and `--region`); with `--since`/`--until` only the day prefixes inside the
//! window are listed, so three days never list a year (`s3/list.rs`). Digest,
//! Insight and Aggregated deliveries live beside `CloudTrail/` and are never
//! listed. A prefix below `CloudTrail/` (or one without `AWSLogs/`) is listed
//! as is. Objects are fetched `--concurrency` at a time, decompressed as
//! their body streams in, fetched again when it breaks off (`s3/get.rs`), and
//! handed on whole. Objects whose request still failed after the SDK's
//! retries get one last pass once all others are done; only then is a
//! failed object reported, by `s3://` key.
//!
//! The client starts from `--region` (or the profile's region) and then
//! moves to the bucket's own region, which `HeadBucket` tells whether or not
//! the request was signed for it: S3 refuses a listing signed for another
//! region (301 `PermanentRedirect`), and the Rust SDK does not follow that.

mod get;
mod list;

use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use tokio::sync::Semaphore;
use tokio::sync::mpsc::Sender;

use self::get::{Getter, Mend};
use self::list::Lister;
use super::aws::AwsOptions;
use super::remote::{Item, Payload, Query};

/// The pause before the last pass over failed objects: a moment for a
/// throttled or failing endpoint to recover.
const LAST_PASS_PAUSE: Duration = Duration::from_secs(2);

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
    let getter = Arc::new(Getter {
        client,
        bucket: bucket.to_owned(),
        net: opts.net,
    });
    get_all(&getter, keys, q.concurrency.max(1), tx).await;
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

/// Fetches every key, then gives those that failed in a way a later try may
/// mend one last pass.
async fn get_all(getter: &Arc<Getter>, keys: Vec<String>, concurrency: usize, tx: &Sender<Item>) {
    let failed = get_many(getter, keys, concurrency, tx, false).await;
    if failed.is_empty() {
        return;
    }
    tokio::time::sleep(LAST_PASS_PAUSE).await;
    get_many(getter, failed, concurrency, tx, true).await;
}

/// Fetches `keys` `concurrency` at a time and sends each item on; returns
/// the keys that failed for now (unless `last`: then they are sent failed).
async fn get_many(
    getter: &Arc<Getter>,
    keys: Vec<String>,
    concurrency: usize,
    tx: &Sender<Item>,
    last: bool,
) -> Vec<String> {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    let mut later = Vec::new();
    for key in keys {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let one = getter.clone();
        tasks.spawn(async move {
            let got = if is_log(&key) {
                one.object(&key).await.map(Payload::Object)
            } else {
                Ok(Payload::Skipped)
            };
            drop(permit);
            (key, got)
        });
        while let Some(Ok(done)) = tasks.try_join_next() {
            hand_on(done, &getter.bucket, tx, last, &mut later).await;
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(done) = done {
            hand_on(done, &getter.bucket, tx, last, &mut later).await;
        }
    }
    later
}

/// Sends a fetched object on, or keeps a mendable failure for the last pass.
async fn hand_on(
    (key, got): (String, Result<Payload, get::Failure>),
    bucket: &str,
    tx: &Sender<Item>,
    last: bool,
    later: &mut Vec<String>,
) {
    let payload = match got {
        Ok(p) => p,
        Err(f) if !last && f.mend != Mend::Never => return later.push(key),
        Err(f) if last => Payload::Failed(format!("{} (and again in a last pass)", f.reason)),
        Err(f) => Payload::Failed(f.reason),
    };
    let source = s3_url(bucket, &key);
    let _ = tx.send(Item { source, payload }).await;
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
