//! The differ: KMS call rows in a polars DataFrame, grouped by key, caller and
//! event name, successes contrasted with failures over time.
//!
//! The contrast is the product: a caller that succeeded and then only failed,
//! or that went silent after a change to its key, is flagged. This module
//! never prints (see `report`) and never evaluates policies (see `policy`).

use foldhash::{HashMap, HashMapExt};

use polars::prelude::*;
use serde::Serialize;

use crate::call::{Caller, CallerClass, KmsCall, Outcome, ser_time};
use crate::collect::Lifecycle;

/// One (key, caller, event name) group.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub key_arn: String,
    pub event_name: String,
    pub caller: Caller,
    pub succeeded: u64,
    pub denied: u64,
    pub key_state_failed: u64,
    pub other_failed: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<i64>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<i64>,
    #[serde(serialize_with = "ser_time")]
    pub last_succeeded: Option<i64>,
    #[serde(serialize_with = "ser_time")]
    pub first_failed: Option<i64>,
    /// Up to three distinct error messages of denied calls.
    pub denied_messages: Vec<String>,
    /// Up to three event IDs: failed calls first, else successes.
    pub sample_event_ids: Vec<String>,
    pub contrast: Option<Contrast>,
}

/// Why a group stands out.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Contrast {
    /// Succeeded, then every later call failed (denied or key state).
    SucceededThenFailed {
        #[serde(serialize_with = "ser_time")]
        last_succeeded: Option<i64>,
        #[serde(serialize_with = "ser_time")]
        first_failed: Option<i64>,
    },
    /// Only successes, none after a change to the key.
    WentSilent {
        #[serde(serialize_with = "ser_time")]
        last_seen: Option<i64>,
        after_event: String,
        after_event_id: Option<String>,
        #[serde(serialize_with = "ser_time")]
        after_time: Option<i64>,
    },
}

/// The distinct keys, event names and callers of the call rows, and their
/// combinations, numbered in order of first appearance. The frame holds
/// these numbers, not the strings: at 228,000 rows, string columns and
/// their grouping took about 150 MB more.
#[derive(Debug, Default)]
pub struct Codes<'a> {
    pub keys: Vec<&'a str>,
    pub events: Vec<&'a str>,
    pub callers: Vec<&'a Caller>,
    /// (key, event, caller) codes of each `group` code.
    pub groups: Vec<(usize, usize, usize)>,
    /// (key, caller) codes of each `series` code.
    pub series: Vec<(usize, usize)>,
}

/// Numbers values in order of first appearance.
struct Numbering<K> {
    index: HashMap<K, u32>,
    values: Vec<K>,
}

impl<K: Copy + Eq + std::hash::Hash> Numbering<K> {
    fn new() -> Self {
        Self {
            index: HashMap::new(),
            values: Vec::new(),
        }
    }

    fn code(&mut self, v: K) -> u32 {
        let next = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        *self.index.entry(v).or_insert_with(|| {
            self.values.push(v);
            next
        })
    }
}

/// An outcome's number in the frame's `outcome` column.
pub fn outcome_code(o: Outcome) -> u32 {
    o as u32
}

/// The call rows as a DataFrame, one row per call: `group` (key, event
/// name, caller) and `series` (key, caller) numbered by the returned
/// [`Codes`], `outcome` by [`outcome_code`], and `time_ms`.
pub fn frame(calls: &[KmsCall]) -> PolarsResult<(DataFrame, Codes<'_>)> {
    let (mut keys, mut events) = (Numbering::<&str>::new(), Numbering::<&str>::new());
    let mut callers = Numbering::<&Caller>::new();
    let (mut groups, mut series) = (Numbering::new(), Numbering::new());
    let n = calls.len();
    let (mut group, mut serie) = (Vec::with_capacity(n), Vec::with_capacity(n));
    // One integer column to group on: grouping 228,000 rows on three code
    // columns instead took about 9 MB more (54 MB against 45 MB of growth
    // in the grouping phase at 5 GB).
    for c in calls {
        let key = keys.code(&c.key) as usize;
        let event = events.code(&c.event_name) as usize;
        let caller = callers.code(&c.caller) as usize;
        group.push(groups.code((key, event, caller)));
        serie.push(series.code((key, caller)));
    }
    let df = df!(
        "group" => group,
        "series" => serie,
        "outcome" => calls.iter().map(|c| outcome_code(c.outcome)).collect::<Vec<_>>(),
        "time_ms" => calls.iter().map(|c| c.time_ms).collect::<Vec<_>>(),
    )?;
    let codes = Codes {
        keys: keys.values,
        events: events.values,
        callers: callers.values,
        groups: groups.values,
        series: series.values,
    };
    Ok((df, codes))
}

pub fn is(outcome: Outcome) -> Expr {
    col("outcome").eq(lit(outcome_code(outcome)))
}

fn failed() -> Expr {
    is(Outcome::Denied).or(is(Outcome::KeyStateFailed))
}

/// Groups the rows; one output row per (key, caller, event name), in the
/// order of first appearance.
pub fn grouped(df: DataFrame) -> PolarsResult<DataFrame> {
    let count = |o: Outcome| is(o).cast(DataType::UInt64).sum().alias(o.as_str());
    df.lazy()
        .group_by_stable([col("group")])
        .agg([
            count(Outcome::Succeeded),
            count(Outcome::Denied),
            count(Outcome::KeyStateFailed),
            count(Outcome::OtherFailed),
            col("time_ms").min().alias("first_seen"),
            col("time_ms").max().alias("last_seen"),
            col("time_ms")
                .filter(is(Outcome::Succeeded))
                .max()
                .alias("last_succeeded"),
            col("time_ms").filter(failed()).min().alias("first_failed"),
        ])
        .collect()
}

/// Groups the calls (numbered once by [`frame`], which the timeline shares)
/// and flags the contrasts against the key lifecycle.
/// `horizon`: the latest time the trail is known to reach (see `Collected`).
pub fn groups(
    calls: &[KmsCall],
    (df, codes): &(DataFrame, Codes<'_>),
    lifecycle: &[Lifecycle],
    horizon: Option<i64>,
) -> PolarsResult<Vec<Group>> {
    let mut out = read_groups(&grouped(df.clone())?, codes)?;
    out.sort_by(|a, b| group_order(a).cmp(&group_order(b)));
    add_samples(&mut out, calls);
    for group in &mut out {
        group.contrast = contrast(group, lifecycle, horizon);
    }
    Ok(out)
}

/// A column of codes, as indices into [`Codes`].
pub fn codes(df: &DataFrame, name: &str) -> PolarsResult<Vec<usize>> {
    Ok(df
        .column(name)?
        .u32()?
        .iter()
        .map(|v| v.map_or(usize::MAX, |v| v as usize))
        .collect())
}

/// The groups' order in reports: by key, event name, and the caller's
/// class name, type, `invokedBy`, principal and account; absent values last.
fn group_order(g: &Group) -> impl Ord + '_ {
    let last = |v: &Option<String>| (v.is_none(), v.clone());
    (
        g.key_arn.clone(),
        g.event_name.clone(),
        g.caller.class.as_str(),
        last(&g.caller.kind),
        last(&g.caller.invoked_by),
        last(&g.caller.principal_arn),
        last(&g.caller.account_id),
    )
}

/// A u64 column (a count), nulls as 0.
pub fn nums(df: &DataFrame, name: &str) -> PolarsResult<Vec<u64>> {
    Ok(df
        .column(name)?
        .u64()?
        .iter()
        .map(Option::unwrap_or_default)
        .collect())
}

fn times(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    Ok(df.column(name)?.i64()?.iter().collect())
}

fn read_groups(g: &DataFrame, c: &Codes<'_>) -> PolarsResult<Vec<Group>> {
    let group = codes(g, "group")?;
    let [ok, denied, state, other] = [
        Outcome::Succeeded,
        Outcome::Denied,
        Outcome::KeyStateFailed,
        Outcome::OtherFailed,
    ]
    .map(|o| nums(g, o.as_str()));
    let (ok, denied, state, other) = (ok?, denied?, state?, other?);
    let [first, last, last_ok, first_bad] =
        ["first_seen", "last_seen", "last_succeeded", "first_failed"].map(|n| times(g, n));
    let (first, last, last_ok, first_bad) = (first?, last?, last_ok?, first_bad?);
    Ok((0..g.height())
        .map(|i| (i, c.groups[group[i]]))
        .map(|(i, (key, event, caller))| Group {
            key_arn: c.keys[key].to_owned(),
            event_name: c.events[event].to_owned(),
            caller: c.callers[caller].clone(),
            succeeded: ok[i],
            denied: denied[i],
            key_state_failed: state[i],
            other_failed: other[i],
            first_seen: first[i],
            last_seen: last[i],
            last_succeeded: last_ok[i],
            first_failed: first_bad[i],
            denied_messages: Vec::new(),
            sample_event_ids: Vec::new(),
            contrast: None,
        })
        .collect())
}

/// Fills each group's sample messages and event IDs, in call order.
fn add_samples(groups: &mut [Group], calls: &[KmsCall]) {
    let index: HashMap<(&str, &str, &Caller), usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| ((g.key_arn.as_str(), g.event_name.as_str(), &g.caller), i))
        .collect();
    let mut picks = vec![Samples::default(); groups.len()];
    for c in calls {
        let Some(&i) = index.get(&(&*c.key, &*c.event_name, &*c.caller)) else {
            continue;
        };
        let p = &mut picks[i];
        if let Some(m) = c
            .error_message
            .as_ref()
            .filter(|_| c.outcome == Outcome::Denied)
        {
            push_sample(&mut p.messages, m);
        }
        if let Some(id) = &c.event_id {
            let failed = matches!(c.outcome, Outcome::Denied | Outcome::KeyStateFailed);
            push_sample(if failed { &mut p.failed } else { &mut p.any }, id);
        }
    }
    for (g, p) in groups.iter_mut().zip(picks) {
        g.denied_messages = p.messages;
        g.sample_event_ids = if p.failed.is_empty() { p.any } else { p.failed };
    }
}

#[derive(Default, Clone)]
struct Samples {
    messages: Vec<String>,
    failed: Vec<String>,
    any: Vec<String>,
}

/// Keeps up to three distinct samples; the text is made only when there is
/// room (228,000 calls at 5 GB, three samples a group).
fn push_sample(v: &mut Vec<String>, s: impl std::fmt::Display) {
    if v.len() < 3 {
        let s = s.to_string();
        if !v.contains(&s) {
            v.push(s);
        }
    }
}

pub fn class_from(s: Option<&str>) -> CallerClass {
    CallerClass::ALL
        .into_iter()
        .find(|c| Some(c.as_str()) == s)
        .unwrap_or(CallerClass::Unknown)
}

fn contrast(g: &Group, lifecycle: &[Lifecycle], horizon: Option<i64>) -> Option<Contrast> {
    let failed = g.denied + g.key_state_failed;
    if g.succeeded > 0 && failed > 0 {
        let (ok, bad) = (g.last_succeeded?, g.first_failed?);
        return (ok < bad).then_some(Contrast::SucceededThenFailed {
            last_succeeded: Some(ok),
            first_failed: Some(bad),
        });
    }
    let uses_key = crate::call::KEY_USE_EVENTS.contains(&g.event_name.as_str());
    if !uses_key || g.succeeded == 0 || failed > 0 || g.other_failed > 0 {
        return None;
    }
    let last = g.last_seen?;
    let change = lifecycle.iter().find(|l| {
        l.key_arn == g.key_arn
            && l.outcome == Outcome::Succeeded
            && crate::call::BREAKING_EVENTS.contains(&l.event_name.as_str())
            && l.time_ms
                .is_some_and(|t| t > last && horizon.is_some_and(|h| t < h))
    })?;
    Some(Contrast::WentSilent {
        last_seen: Some(last),
        after_event: change.event_name.clone(),
        after_event_id: change.event_id.clone(),
        after_time: change.time_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::CallerClass;

    fn call(key: &str, who: &str, outcome: Outcome, t: i64) -> KmsCall {
        KmsCall {
            key: key.into(),
            event_name: "Decrypt".into(),
            caller: Caller {
                class: CallerClass::ServicePrincipal,
                kind: Some("AWSService".into()),
                invoked_by: Some(who.into()),
                principal_arn: None,
                account_id: None,
            }
            .into(),
            outcome,
            time_ms: Some(t),
            event_id: Some(crate::call::EventId::new(&format!("id-{t}"))),
            error_code: None,
            error_message: (outcome == Outcome::Denied).then(|| "denied!".into()),
            region: None,
            source_ip: None,
            vpc_endpoint_id: None,
            encryption_context: Box::default(),
            encryption_context_unreadable: false,
        }
    }

    fn change(key: &str, t: i64) -> Lifecycle {
        Lifecycle {
            key_arn: key.into(),
            event_name: "PutKeyPolicy".into(),
            time_ms: Some(t),
            event_id: Some("change".into()),
            actor: None,
            outcome: Outcome::Succeeded,
            policy: None,
            grant: None,
        }
    }

    #[test]
    fn counts_and_switch() {
        let calls = [
            call("k", "a", Outcome::Succeeded, 1),
            call("k", "a", Outcome::Succeeded, 2),
            call("k", "a", Outcome::Denied, 3),
            call("k", "b", Outcome::Succeeded, 1),
        ];
        let g = groups(&calls, &frame(&calls).unwrap(), &[], Some(i64::MAX)).unwrap();
        assert_eq!(g.len(), 2);
        let a = &g[0];
        assert_eq!(
            (a.succeeded, a.denied, a.first_seen, a.last_seen),
            (2, 1, Some(1), Some(3))
        );
        assert_eq!(a.denied_messages, ["denied!"]);
        assert_eq!(a.sample_event_ids, ["id-3"]);
        assert_eq!(
            a.contrast,
            Some(Contrast::SucceededThenFailed {
                last_succeeded: Some(2),
                first_failed: Some(3)
            })
        );
        assert_eq!(g[1].contrast, None);
    }

    #[test]
    fn mixed_failures_are_not_a_switch() {
        let calls = [
            call("k", "a", Outcome::Denied, 1),
            call("k", "a", Outcome::Succeeded, 2),
        ];
        assert_eq!(
            groups(&calls, &frame(&calls).unwrap(), &[], Some(i64::MAX)).unwrap()[0].contrast,
            None
        );
    }

    #[test]
    fn silent_after_a_change() {
        let calls = [
            call("k", "a", Outcome::Succeeded, 1),
            call("k2", "a", Outcome::Succeeded, 1),
        ];
        let g = groups(&calls, &frame(&calls).unwrap(), &[change("k", 5)], Some(10)).unwrap();
        assert!(matches!(g[0].contrast, Some(Contrast::WentSilent { .. })));
        assert_eq!(g[1].contrast, None, "a change to another key says nothing");
    }
}
