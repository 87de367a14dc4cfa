//! Time: each caller's calls bucketed over the window (polars), the split
//! between baseline and incident, and the per-period counts around it.
//!
//! Bucket width is chosen from the window's span so a report shows about two
//! dozen buckets; buckets are aligned to whole multiples of the width in UTC.
//! This module only counts; what the counts mean is `verdict`'s business.

use foldhash::HashMap;
use polars::prelude::*;
use serde::Serialize;

use crate::call::ser_time;
use crate::call::{Caller, KmsCall, Outcome};

/// Calls of one caller on one key in one bucket, as polars counts them.
#[derive(Debug, Clone)]
struct Bucket {
    key_arn: String,
    caller: Caller,
    start: Option<i64>,
    succeeded: u64,
    denied: u64,
    key_state_failed: u64,
}

/// One caller's calls on one key, bucket by bucket from `start`, empty
/// buckets included: three arrays, not one object a bucket (a 10,000-caller
/// blast has 240,000 buckets).
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub key_arn: String,
    pub caller: Caller,
    /// The first bucket's start; bucket `i` starts `i` widths later.
    #[serde(serialize_with = "ser_time")]
    pub start: Option<i64>,
    pub succeeded: Vec<u64>,
    pub denied: Vec<u64>,
    pub key_state_failed: Vec<u64>,
}

/// Counts in one period (baseline or incident).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Period {
    pub succeeded: u64,
    pub denied: u64,
    pub key_state_failed: u64,
    pub other_failed: u64,
}

/// A time range in epoch milliseconds, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: i64,
    pub to: i64,
}

impl Range {
    pub fn contains(self, t: i64) -> bool {
        self.from <= t && t <= self.to
    }
}

const WIDTHS_MIN: [i64; 11] = [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10_080, 43_200];

/// The bucket width for a span: the smallest that gives at most 24 buckets.
pub fn bucket_width(span_ms: i64) -> i64 {
    let minute = 60_000;
    WIDTHS_MIN
        .iter()
        .map(|m| m * minute)
        .find(|w| span_ms / w < 24)
        .unwrap_or(WIDTHS_MIN[WIDTHS_MIN.len() - 1] * minute)
}

/// The calls' time span, `None` without timed calls.
pub fn span(calls: &[KmsCall]) -> Option<Range> {
    let times = calls.iter().filter_map(|c| c.time_ms);
    let from = times.clone().min()?;
    Some(Range {
        from,
        to: times.max()?,
    })
}

/// Buckets every (key, caller) over the calls' span, empty buckets included.
pub fn buckets(
    calls: &[KmsCall],
    (df, codes): &(DataFrame, crate::analysis::groups::Codes<'_>),
) -> PolarsResult<(i64, Vec<Series>)> {
    let Some(window) = span(calls) else {
        return Ok((0, Vec::new()));
    };
    let width = bucket_width(window.to - window.from);
    let is = |o: Outcome| {
        crate::analysis::groups::is(o)
            .cast(DataType::UInt64)
            .sum()
            .alias(o.as_str())
    };
    let g = df
        .clone()
        .lazy()
        .filter(col("time_ms").is_not_null())
        .with_column(((col("time_ms") / lit(width)) * lit(width)).alias("bucket"))
        .group_by_stable([col("series"), col("bucket")])
        .agg([
            is(Outcome::Succeeded),
            is(Outcome::Denied),
            is(Outcome::KeyStateFailed),
        ])
        .collect()?;
    let filled = fill(&read(&g, codes)?, window, width);
    Ok((width, filled))
}

fn read(g: &DataFrame, c: &crate::analysis::groups::Codes<'_>) -> PolarsResult<Vec<Bucket>> {
    let u = |n: &str| crate::analysis::groups::nums(g, n);
    let series = crate::analysis::groups::codes(g, "series")?;
    let start: Vec<Option<i64>> = g.column("bucket")?.i64()?.iter().collect();
    let (ok, den, st) = (u("succeeded")?, u("denied")?, u("key_state_failed")?);
    Ok((0..g.height())
        .map(|i| (i, c.series[series[i]]))
        .map(|(i, (key, caller))| Bucket {
            key_arn: c.keys[key].to_owned(),
            caller: c.callers[caller].clone(),
            start: start[i],
            succeeded: ok[i],
            denied: den[i],
            key_state_failed: st[i],
        })
        .collect())
}

/// Adds the empty buckets between the window's ends, per (key, caller),
/// sorted by key and caller.
///
/// Found buckets are placed by slot number: a scan of all of them for each
/// slot took 5.2 s for 5,000 callers of one key.
fn fill(found: &[Bucket], window: Range, width: i64) -> Vec<Series> {
    let first = window.from / width * width;
    let slots = usize::try_from((window.to - first) / width + 1).unwrap_or(0);
    let mut at: HashMap<(&str, &Caller), usize> = HashMap::default();
    let mut out: Vec<Series> = Vec::new();
    for b in found {
        let i = *at
            .entry((b.key_arn.as_str(), &b.caller))
            .or_insert_with(|| {
                out.push(Series {
                    key_arn: b.key_arn.clone(),
                    caller: b.caller.clone(),
                    start: Some(first),
                    succeeded: vec![0; slots],
                    denied: vec![0; slots],
                    key_state_failed: vec![0; slots],
                });
                out.len() - 1
            });
        let Some(slot) = b
            .start
            .and_then(|t| usize::try_from((t - first) / width).ok())
            .filter(|&s| s < slots)
        else {
            continue;
        };
        let s = &mut out[i];
        s.succeeded[slot] += b.succeeded;
        s.denied[slot] += b.denied;
        s.key_state_failed[slot] += b.key_state_failed;
    }
    out.sort_by(|a, b| (&a.key_arn, &a.caller).cmp(&(&b.key_arn, &b.caller)));
    out
}

/// Counts `calls` (one caller's on one key) inside `range`.
pub fn period<'a>(calls: impl IntoIterator<Item = &'a KmsCall>, range: Range) -> Period {
    let mut p = Period::default();
    for c in calls {
        if !c.time_ms.is_some_and(|t| range.contains(t)) {
            continue;
        }
        match c.outcome {
            Outcome::Succeeded => p.succeeded += 1,
            Outcome::Denied => p.denied += 1,
            Outcome::KeyStateFailed => p.key_state_failed += 1,
            Outcome::OtherFailed => p.other_failed += 1,
        }
    }
    p
}

/// A text sparkline: one character per bucket, height relative to `max`.
pub fn sparkline(values: &[u64], max: u64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .map(|&v| match v {
            0 => '·',
            v => {
                let i = usize::try_from((v.saturating_mul(8).saturating_sub(1)) / max.max(1))
                    .unwrap_or(7);
                BARS[i.min(7)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        let hour = 3_600_000;
        assert_eq!(bucket_width(hour), 5 * 60_000);
        assert_eq!(bucket_width(4 * 24 * hour), 6 * hour);
        assert_eq!(bucket_width(0), 60_000);
    }

    #[test]
    fn fill_adds_empty_buckets_and_keeps_found_ones() {
        let caller = |arn: &str| Caller {
            class: crate::call::CallerClass::Direct,
            kind: Some("IAMUser".into()),
            invoked_by: None,
            principal_arn: Some(arn.into()),
            account_id: None,
        };
        let bucket = |key: &str, who: &str, start: i64, n: u64| Bucket {
            key_arn: key.into(),
            caller: caller(who),
            start: Some(start),
            succeeded: n,
            denied: 0,
            key_state_failed: 0,
        };
        let found = [
            bucket("k2", "a", 20, 7),
            bucket("k1", "b", 0, 1),
            bucket("k1", "a", 10, 2),
            bucket("k1", "a", 30, 3),
        ];
        let filled = fill(&found, Range { from: 5, to: 39 }, 10);
        let got: Vec<(&str, &str, Option<i64>, &[u64])> = filled
            .iter()
            .map(|s| {
                let who = s.caller.principal_arn.as_deref().unwrap();
                (s.key_arn.as_str(), who, s.start, s.succeeded.as_slice())
            })
            .collect();
        let want: Vec<(&str, &str, Option<i64>, &[u64])> = vec![
            ("k1", "a", Some(0), &[0, 2, 0, 3]),
            ("k1", "b", Some(0), &[1, 0, 0, 0]),
            ("k2", "a", Some(0), &[0, 0, 7, 0]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[0, 1, 8, 4], 8), "·▁█▄");
    }
}
