//! Reports: one [`Report`] value, rendered by one file per format. Each
//! renderer writes to a `&mut impl Write`, never to stdout directly, so tests
//! render into a `Vec<u8>`.

mod diagnosis;
pub mod explain;
mod json;
mod markdown;
mod table;
mod verdicts;

use std::io::Write;

use serde::Serialize;

use crate::cli::Format;
use crate::collect::{Collected, Failure, FileCount, Inputs, Lifecycle, TrailChange};
use crate::diagnose::{self, Blocked, PolicyError, PolicySet, Unexplained, policies::PolicyEntry};
use crate::diff::{self, Group};
use crate::timeline::{self, Bucket, Range};
use crate::verdict::{self, Verdict};

/// The JSON schema version; bumped only when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a report shows, in the shape the JSON format serialises.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub inputs: Inputs,
    /// The books per input read: each balances like `inputs`.
    pub inputs_per_file: Vec<FileCount>,
    pub failures: Vec<Failure>,
    pub groups: Vec<Group>,
    /// Changes to the keys seen (policy, state, grants, material, rotation),
    /// in time order, whatever the window.
    pub timeline: Vec<LifecycleEntry>,
    /// Changes to trails that can hide KMS events (`PutEventSelectors`, `StopLogging`).
    pub trail_changes: Vec<TrailChangeEntry>,
    /// Every key policy version known, and which one the diagnosis used.
    pub policies: Vec<PolicyEntry>,
    /// Policies that could not be used (they do not parse).
    pub policy_errors: Vec<PolicyError>,
    /// Callers a key-policy statement blocks, with verified fixes.
    pub blocked: Vec<Blocked>,
    /// Failed calls the key policy does not explain, and why.
    pub unexplained: Vec<Unexplained>,
    /// One verdict per key and caller whose calls fail or stopped.
    pub verdicts: Vec<Verdict>,
    /// The width of `buckets`, in seconds.
    pub bucket_seconds: i64,
    /// Each caller's calls per time bucket, empty buckets included.
    pub buckets: Vec<Bucket>,
}

/// A trail change as reported.
#[derive(Debug, Serialize)]
pub struct TrailChangeEntry {
    #[serde(flatten)]
    pub change: TrailChange,
    pub event_time: Option<String>,
}

/// What shapes a report beyond the collected data.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `--key` values, to say when a key shows no events.
    pub wanted_keys: Vec<String>,
    pub baseline: Option<Range>,
    pub incident: Option<Range>,
}

/// A lifecycle event as reported.
#[derive(Debug, Serialize)]
pub struct LifecycleEntry {
    #[serde(flatten)]
    pub event: Lifecycle,
    pub event_time: Option<String>,
}

impl Report {
    pub fn build(c: Collected, policies: &PolicySet, opts: &Options) -> anyhow::Result<Self> {
        let groups = diff::groups(&c.calls, &c.lifecycle, c.horizon_ms)?;
        let d = diagnose::diagnose(&groups, &c.calls, policies);
        let verdicts = verdict::verdicts(&verdict::Inputs {
            calls: &c.calls,
            lifecycle: &c.lifecycle,
            trail_changes: &c.trail_changes,
            diagnosis: &d,
            wanted_keys: &opts.wanted_keys,
            baseline: opts.baseline,
            incident: opts.incident,
            horizon_ms: c.horizon_ms,
        });
        let (width, buckets) = timeline::buckets(&c.calls)?;
        let trail_changes = c
            .trail_changes
            .into_iter()
            .map(|change| TrailChangeEntry {
                event_time: change.time_ms.map(diff::fmt_time),
                change,
            })
            .collect();
        let lifecycle = c
            .lifecycle
            .into_iter()
            .map(|event| LifecycleEntry {
                event_time: event.time_ms.map(diff::fmt_time),
                event,
            })
            .collect();
        Ok(Self {
            schema_version: SCHEMA_VERSION,
            inputs: c.inputs,
            inputs_per_file: c.per_file,
            failures: c.failures,
            groups,
            timeline: lifecycle,
            trail_changes,
            policies: policies.entries(),
            policy_errors: policies.errors.clone(),
            blocked: d.blocked,
            unexplained: d.unexplained,
            verdicts,
            bucket_seconds: width / 1000,
            buckets,
        })
    }

    pub fn render(&self, format: Format, w: &mut impl Write) -> std::io::Result<()> {
        match format {
            Format::Json => json::render(self, w),
            Format::Table => table::render(self, w),
            Format::Markdown => markdown::render(self, w),
        }
    }

    /// The distinct keys of the groups, in order.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.groups.iter().map(|g| g.key_arn.as_str()).collect();
        keys.dedup();
        keys
    }

    /// One line that says what was read.
    pub fn summary(&self) -> String {
        let i = &self.inputs;
        format!(
            "{} files read, {} skipped, {} failed; {} records: {} KMS calls analysed, {} outside filters, {} duplicates dropped, {} not KMS, {} invalid",
            i.files_read,
            i.files_skipped,
            i.files_failed,
            i.records,
            i.kms_calls,
            i.outside_filters,
            i.duplicates_dropped,
            i.non_kms,
            i.records_invalid
        )
    }
}

/// A short label for a caller: the service, or the principal.
pub fn caller_label(g: &Group) -> String {
    let c = &g.caller;
    let who = match (&c.principal_arn, &c.invoked_by) {
        (Some(p), Some(via)) => format!("{p} via {via}"),
        (Some(p), None) => p.clone(),
        (None, Some(via)) => via.clone(),
        (None, None) => c.account_id.clone().unwrap_or_else(|| "?".into()),
    };
    format!("{} {}", c.class.as_str(), who)
}

/// The contrast flag in words, or empty.
pub fn contrast_label(g: &Group) -> String {
    let t = |ms: &Option<i64>| ms.map_or_else(|| "?".into(), diff::fmt_time);
    match &g.contrast {
        None => String::new(),
        Some(diff::Contrast::SucceededThenFailed {
            last_succeeded,
            first_failed,
        }) => {
            format!(
                "FAILING since {} (ok until {})",
                t(first_failed),
                t(last_succeeded)
            )
        }
        Some(diff::Contrast::WentSilent {
            last_seen,
            after_event,
            after_time,
            ..
        }) => {
            format!(
                "SILENT since {} (after {} at {})",
                t(last_seen),
                after_event,
                t(after_time)
            )
        }
    }
}
