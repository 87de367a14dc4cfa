//! Which key policy is in force for each key, and where it came from.
//!
//! Precedence (highest first): `--policy FILE`, the latest `PutKeyPolicy` or
//! `CreateKey` in the trail (each earlier one is kept as history), the policy
//! fetched with `kms:GetKeyPolicy`. Policies that do not parse are kept as
//! errors naming their source, never silently dropped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::call::Outcome as CallOutcome;
use crate::collect::Lifecycle;
use crate::diff::fmt_time;
use crate::policy::{Policy, parse_policy};

/// Where a key policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    File,
    Trail,
    Api,
}

/// One version of one key's policy.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub key_arn: String,
    pub source: PolicySource,
    /// The file path, for `file`.
    pub origin: Option<String>,
    pub event_id: Option<String>,
    pub time_ms: Option<i64>,
    pub policy: Policy,
}

/// A policy document that could not be used.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyError {
    pub key_arn: String,
    pub source: PolicySource,
    pub event_id: Option<String>,
    pub reason: String,
}

/// Every known policy version, per key.
#[derive(Debug, Default)]
pub struct PolicySet {
    versions: BTreeMap<String, Vec<KeyPolicy>>,
    pub errors: Vec<PolicyError>,
}

/// A policy as the JSON report lists it.
#[derive(Debug, Serialize)]
pub struct PolicyEntry {
    pub key_arn: String,
    pub source: PolicySource,
    pub origin: Option<String>,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    /// Whether this is the version the diagnosis evaluates against.
    pub current: bool,
    pub statements: usize,
}

impl PolicySet {
    /// Policies the trail carries, from `PutKeyPolicy` and `CreateKey`.
    pub fn from_trail(lifecycle: &[Lifecycle]) -> Self {
        let mut set = Self::default();
        for l in lifecycle
            .iter()
            .filter(|l| l.outcome == CallOutcome::Succeeded)
        {
            let Some(text) = &l.policy else { continue };
            match parse_policy(text) {
                Ok(policy) => set.add(KeyPolicy {
                    key_arn: l.key_arn.clone(),
                    source: PolicySource::Trail,
                    origin: None,
                    event_id: l.event_id.clone(),
                    time_ms: l.time_ms,
                    policy,
                }),
                Err(e) => set.errors.push(PolicyError {
                    key_arn: l.key_arn.clone(),
                    source: PolicySource::Trail,
                    event_id: l.event_id.clone(),
                    reason: format!("the policy set by `{}` does not parse: {e}", l.event_name),
                }),
            }
        }
        set
    }

    /// Adds a version; file and API versions carry no time.
    pub fn add(&mut self, p: KeyPolicy) {
        let v = self.versions.entry(p.key_arn.clone()).or_default();
        v.push(p);
        v.sort_by_key(|p| (rank(p.source), p.time_ms));
    }

    /// The policy in force now: a file beats the trail, the trail beats the API.
    pub fn current(&self, key: &str) -> Option<&KeyPolicy> {
        self.versions.get(key)?.last()
    }

    /// Every version of every key, for the report.
    pub fn entries(&self) -> Vec<PolicyEntry> {
        self.versions
            .iter()
            .flat_map(|(key, versions)| {
                let current = versions.len() - 1;
                versions.iter().enumerate().map(move |(i, p)| PolicyEntry {
                    key_arn: key.clone(),
                    source: p.source,
                    origin: p.origin.clone(),
                    event_id: p.event_id.clone(),
                    event_time: p.time_ms.map(fmt_time),
                    current: i == current,
                    statements: p.policy.statements.len(),
                })
            })
            .collect()
    }
}

/// Sort order: API (lowest precedence), then trail by time, then file.
fn rank(s: PolicySource) -> u8 {
    match s {
        PolicySource::Api => 0,
        PolicySource::Trail => 1,
        PolicySource::File => 2,
    }
}
