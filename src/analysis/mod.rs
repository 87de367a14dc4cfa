//! Analysis: collected call rows and key policies in, one plain
//! [`Analysis`] out. Never prints and never words anything: `report/`
//! renders the result and owns every sentence.
//!
//! The stages, in the order [`analyze`] runs them:
//!
//! | stage | module | what it makes |
//! |---|---|---|
//! | groups | [`groups`] | one row per (key, caller, event name), succeeded against denied (polars) |
//! | diagnosis | [`diagnosis`] | who a key-policy Deny blocks, judged by the policy version in force at each call, with verified fixes |
//! | verdicts | [`verdicts`] | one verdict per key and caller whose calls fail or stopped |
//! | causes | [`causes`] | each change on a key, the callers it blocks, one fix per statement, ongoing or resolved; points blocked entries and verdicts at it |
//! | timeline | [`timeline`] | each caller's calls per time bucket |
//!
//! [`policies`] holds the key policy versions the diagnosis reads;
//! [`preflight`] replays the callers of a trail against a proposed policy
//! (`check`), with the diagnosis's requests and fixes.

pub mod causes;
pub mod diagnosis;
pub mod explanation;
pub mod groups;
pub mod policies;
pub mod preflight;
pub mod timeline;
pub mod verdicts;

use serde::Serialize;

use crate::collect::{Collected, Failure, FileCount, Inputs, Lifecycle, TrailChange};
use causes::Cause;
use diagnosis::{Blocked, Unexplained};
use groups::Group;
use policies::{PolicyEntry, PolicyError, PolicySet};
use timeline::{Range, Series};
use verdicts::Verdict;

/// Everything the analysis found, in the shape the JSON report serialises.
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub inputs: Inputs,
    /// The books per input read: each balances like `inputs`.
    pub inputs_per_file: Vec<FileCount>,
    pub failures: Vec<Failure>,
    /// Each change on a key that blocks callers, answer first.
    pub causes: Vec<Cause>,
    pub groups: Vec<Group>,
    /// Changes to the keys seen (policy, state, grants, material, rotation),
    /// in time order, whatever the window.
    pub timeline: Vec<Lifecycle>,
    /// Changes to trails that can hide KMS events (`PutEventSelectors`, `StopLogging`).
    pub trail_changes: Vec<TrailChange>,
    /// Every key policy version known, and which one is in force now.
    pub policies: Vec<PolicyEntry>,
    /// Policies that could not be used (they do not parse).
    pub policy_errors: Vec<PolicyError>,
    /// Callers a key-policy statement blocks, each pointing at its cause.
    pub blocked: Vec<Blocked>,
    /// Failed calls the key policy does not explain, and why.
    pub unexplained: Vec<Unexplained>,
    /// One verdict per key and caller whose calls fail or stopped.
    pub verdicts: Vec<Verdict>,
    /// The width of `buckets`, in seconds.
    pub bucket_seconds: i64,
    /// Each caller's calls per time bucket, empty buckets included.
    pub buckets: Vec<Series>,
}

/// What shapes the analysis beyond the collected data.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `--key` values, to say when a key shows no events.
    pub wanted_keys: Vec<String>,
    pub baseline: Option<Range>,
    pub incident: Option<Range>,
    /// `--org-id`: the key's account's organization.
    pub org_id: Option<String>,
}

/// Runs every stage on the collected rows.
pub fn analyze(c: Collected, policies: &PolicySet, opts: &Options) -> anyhow::Result<Analysis> {
    // The rows numbered once, for the groups and the timeline.
    let frame = groups::frame(&c.calls)?;
    let groups = groups::groups(&c.calls, &frame, &c.lifecycle, c.horizon_ms)?;
    let mut d = diagnosis::diagnose(&c.calls, policies, opts.org_id.as_deref());
    let mut verdicts = verdicts::verdicts(&verdicts::Inputs {
        calls: &c.calls,
        lifecycle: &c.lifecycle,
        trail_changes: &c.trail_changes,
        diagnosis: &d,
        wanted_keys: &opts.wanted_keys,
        baseline: opts.baseline,
        incident: opts.incident,
        horizon_ms: c.horizon_ms,
    });
    let changes = causes::Changes {
        lifecycle: &c.lifecycle,
        trail_changes: &c.trail_changes,
    };
    let causes = causes::causes(&mut d, policies, &changes, &mut verdicts);
    let (width, buckets) = timeline::buckets(&c.calls, &frame)?;
    drop(frame);
    Ok(Analysis {
        inputs: c.inputs,
        inputs_per_file: c.per_file,
        failures: c.failures,
        causes,
        groups,
        timeline: c.lifecycle,
        trail_changes: c.trail_changes,
        policies: policies.entries(),
        policy_errors: policies.errors.clone(),
        blocked: d.blocked,
        unexplained: d.unexplained,
        verdicts,
        bucket_seconds: width / 1000,
        buckets,
    })
}

impl Analysis {
    /// The distinct keys of the groups, in order.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.groups.iter().map(|g| g.key_arn.as_str()).collect();
        keys.dedup();
        keys
    }
}
