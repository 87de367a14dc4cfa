//! Which key policy is in force for each key, and where it came from.
//!
//! Precedence (highest first): `--policy FILE`, the latest `PutKeyPolicy` or
//! `CreateKey` in the trail (each earlier one is kept as history), the policy
//! fetched with `kms:GetKeyPolicy`. Policies that do not parse are kept as
//! errors naming their source, never silently dropped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::call::Outcome as CallOutcome;
use crate::call::fmt_time;
use crate::collect::Lifecycle;
use crate::policy::{Policy, parse_policy};

/// Where a key policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
    /// Who set it (`PutKeyPolicy`/`CreateKey` in the trail).
    pub actor: Option<String>,
    /// The event that set it (`PutKeyPolicy`, `CreateKey`), trail versions only.
    pub event_name: Option<String>,
    pub policy: Policy,
}

impl KeyPolicy {
    /// `key`'s policy given as a file (`--policy`, `--current`).
    pub fn from_file(key_arn: String, path: &std::path::Path, policy: &Policy) -> Self {
        KeyPolicy {
            key_arn,
            source: PolicySource::File,
            origin: Some(path.display().to_string()),
            event_id: None,
            time_ms: None,
            actor: None,
            event_name: None,
            policy: policy.clone(),
        }
    }
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
                    actor: l.actor.clone(),
                    event_name: Some(l.event_name.clone()),
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

    /// Every version of `key`: fetched, then the trail's in time order,
    /// then a file.
    pub fn versions(&self, key: &str) -> &[KeyPolicy] {
        self.versions.get(key).map_or(&[], Vec::as_slice)
    }

    /// The versions calls are judged by, oldest first: a `--policy` file
    /// alone when given (it overrides), else the trail's versions in time
    /// order, else the fetched policy.
    pub fn epochs(&self, key: &str) -> &[KeyPolicy] {
        let Some(versions) = self.versions.get(key) else {
            return &[];
        };
        let n = versions.len();
        match versions.last() {
            Some(last) if last.source != PolicySource::Trail => &versions[n - 1..],
            _ => {
                let first = versions
                    .iter()
                    .position(|p| p.source == PolicySource::Trail)
                    .unwrap_or(n);
                &versions[first..]
            }
        }
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

/// The epoch in force at `t`: the latest version set at or before it, the
/// first before any, the last when the time is unknown or versions carry
/// none.
pub fn epoch_at(epochs: &[KeyPolicy], t: Option<i64>) -> usize {
    let last = epochs.len().saturating_sub(1);
    let Some(t) = t else { return last };
    if epochs.iter().any(|p| p.time_ms.is_none()) {
        return last;
    }
    epochs
        .iter()
        .rposition(|p| p.time_ms.is_some_and(|pt| pt <= t))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(source: PolicySource, t: Option<i64>, sid: &str) -> KeyPolicy {
        let text = format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "{sid}", "Effect": "Allow",
               "Principal": "*", "Action": "kms:*", "Resource": "*"}}]}}"#
        );
        KeyPolicy {
            key_arn: "k".into(),
            source,
            origin: None,
            event_id: None,
            time_ms: t,
            actor: None,
            event_name: None,
            policy: parse_policy(&text).unwrap(),
        }
    }

    fn sid(p: Option<&KeyPolicy>) -> &str {
        p.unwrap().policy.statements[0].sid.as_deref().unwrap()
    }

    /// The version a call at `t` is judged by.
    fn at(set: &PolicySet, t: Option<i64>) -> &str {
        let epochs = set.epochs("k");
        sid(epochs.get(epoch_at(epochs, t)))
    }

    #[test]
    fn policy_in_force_at_a_time() {
        let mut set = PolicySet::default();
        set.add(version(PolicySource::Api, None, "api"));
        assert_eq!(at(&set, Some(15)), "api", "the fetched policy alone");
        set.add(version(PolicySource::Trail, Some(20), "second"));
        set.add(version(PolicySource::Trail, Some(10), "first"));
        assert_eq!(sid(set.current("k")), "second");
        assert_eq!(
            set.epochs("k").len(),
            2,
            "the trail's versions, not the API's"
        );
        assert_eq!(at(&set, Some(15)), "first");
        assert_eq!(at(&set, Some(20)), "second", "in force from its own time");
        assert_eq!(at(&set, Some(25)), "second");
        assert_eq!(at(&set, Some(5)), "first", "before any: the earliest known");
        assert_eq!(at(&set, None), "second", "time unknown: the latest");
        set.add(version(PolicySource::File, None, "file"));
        assert_eq!(at(&set, Some(15)), "file", "a file overrides the trail");
        assert_eq!(set.epochs("k").len(), 1);
        assert!(set.current("other").is_none());
        assert!(set.epochs("other").is_empty());
    }
}
