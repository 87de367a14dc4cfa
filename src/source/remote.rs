//! Remote sources (`s3://bucket/prefix`, `cloudtrail://[region]`) run on one
//! small runtime: producers fetch concurrently and send [`Item`]s down a
//! bounded channel; the caller's sink consumes them one at a time on the
//! calling thread, so memory stays bounded and the sink needs no locking.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use super::aws::{AwsOptions, load, runtime};
use super::{lookup, s3};

/// One remote input, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    S3 {
        bucket: String,
        prefix: String,
    },
    /// LookupEvents; `None` means the regions of `--region` (or the default).
    Lookup {
        region: Option<String>,
    },
}

impl Remote {
    /// Parses `s3://bucket/prefix` or `cloudtrail://[region]`; `None` for a local path.
    pub fn parse(s: &str) -> Option<anyhow::Result<Self>> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Some(Err(anyhow::anyhow!(
                    "`{s}` names no bucket\nhint: write `s3://BUCKET/PREFIX`"
                )));
            }
            return Some(Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            }));
        }
        let rest = s.strip_prefix("cloudtrail://")?;
        let region = rest.trim_end_matches('/');
        Some(Ok(Self::Lookup {
            region: (!region.is_empty()).then(|| region.to_owned()),
        }))
    }
}

/// What a remote fetch is asked for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Key ARNs: LookupEvents asks `ResourceName=<key>` for each.
    pub keys: Vec<String>,
    /// `--account`: S3 trees only.
    pub accounts: Vec<String>,
    pub concurrency: usize,
    /// Print each S3 prefix listed (`-v`).
    pub verbose: bool,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Already fetched (for `fetch --resume`): S3 keys done, and per region
    /// the LookupEvents `NextToken` to resume from (`""` when finished).
    pub resume: Resume,
}

/// Progress a previous fetch recorded.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Resume {
    pub s3_done: std::collections::BTreeSet<String>,
    pub lookup_tokens: std::collections::BTreeMap<String, String>,
}

/// One unit of fetched data.
#[derive(Debug)]
pub struct Item {
    /// `s3://bucket/key` or `cloudtrail://region page N`.
    pub source: String,
    pub payload: Payload,
}

/// What a unit holds.
#[derive(Debug)]
pub enum Payload {
    /// An S3 object's bytes, already decompressed if it was gzipped.
    Object(Vec<u8>),
    /// A LookupEvents page's `CloudTrailEvent` strings; `next` is the page's
    /// `NextToken` (`None` on the last page), for resuming.
    Page {
        events: Vec<Option<String>>,
        region: String,
        next: Option<String>,
    },
    /// Skipped on purpose (a digest, not a log by name).
    Skipped,
    /// Could not be fetched; the reason names the call and the cause.
    Failed(String),
}

/// Fetches every remote and hands each item to `sink`, in arrival order.
pub fn fetch(
    remotes: &[Remote],
    opts: &AwsOptions,
    q: &Query,
    sink: &mut dyn FnMut(Item) -> bool,
) -> anyhow::Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let conf = load(opts).await;
        let (tx, mut rx) = mpsc::channel::<Item>(q.concurrency.max(1) * 2);
        let bar = progress_bar(q.progress);
        let mut tasks = tokio::task::JoinSet::new();
        for r in remotes.iter().cloned() {
            let (conf, tx, q, opts, bar) = (
                conf.clone(),
                tx.clone(),
                q.clone(),
                opts.clone(),
                bar.clone(),
            );
            tasks.spawn(async move {
                match r {
                    Remote::S3 { bucket, prefix } => {
                        s3::fetch(&conf, &bucket, &prefix, &q, &opts, &tx, &bar).await;
                    }
                    Remote::Lookup { region } => {
                        lookup::fetch(&conf, region, &q, &opts, &tx, &bar).await;
                    }
                }
            });
        }
        drop(tx);
        let (mut events, mut bytes) = (0usize, 0usize);
        while let Some(item) = rx.recv().await {
            match &item.payload {
                Payload::Object(b) => bytes += b.len(),
                Payload::Page { events: e, .. } => events += e.len(),
                Payload::Skipped | Payload::Failed(_) => {}
            }
            bar.inc(1);
            bar.set_message(progress_words(events, bytes));
            if !sink(item) {
                tasks.abort_all();
                break;
            }
        }
        while tasks.join_next().await.is_some() {}
        bar.finish_and_clear();
        Ok(())
    })
}

/// `123 events, 45.6 MB`: what the progress bar says has arrived so far.
fn progress_words(events: usize, bytes: usize) -> String {
    #[allow(clippy::cast_precision_loss)]
    let mb = bytes as f64 / 1e6;
    format!("{events} LookupEvents events, {mb:.1} MB of S3 logs")
}

fn progress_bar(show: bool) -> ProgressBar {
    if !show || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{spinner} {pos}/{len} objects or pages ({msg}) [{elapsed_precise}, {per_sec}, eta {eta}]",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
