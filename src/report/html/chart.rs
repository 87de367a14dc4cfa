//! A key's timeline as inline SVG: one lane per caller, its succeeded
//! calls as bars above the lane's line and its failed calls (denied, key
//! state) below it, bucket by bucket, and the key's changes (policy
//! versions, disable/enable, grants, trail changes) as numbered vertical
//! marks across every lane. Beyond [`LANES`] callers the rest are summed
//! into one "others" lane, and the caption says so: 10,000 callers draw
//! as fast, and weigh as little, as 13.

use std::fmt::Write;

use super::esc;
use crate::analysis::Analysis;
use crate::analysis::timeline::Series;
use crate::call::fmt_time;
use crate::report::table::fit;
use crate::report::words::{full_caller, table_caller};

/// Lanes drawn one per caller; the rest are summed into one more.
pub(super) const LANES: usize = 12;

const WIDTH: f64 = 960.0;
/// Where the time axis starts: the caller names are left of it.
const LEFT: f64 = 300.0;
const RIGHT: f64 = 16.0;
/// Room above the lanes for the change marks' numbers.
const TOP: f64 = 22.0;
const LANE: f64 = 30.0;
/// Room below the lanes for the time axis.
const BOTTOM: f64 = 26.0;

/// What kind of change a mark is, for its colour and its legend.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum MarkKind {
    Policy,
    State,
    Grant,
    Trail,
    Other,
}

impl MarkKind {
    fn of(event_name: &str) -> Self {
        match event_name {
            "PutKeyPolicy" | "CreateKey" => Self::Policy,
            "DisableKey" | "EnableKey" | "ScheduleKeyDeletion" | "CancelKeyDeletion" => Self::State,
            "CreateGrant" | "RetireGrant" | "RevokeGrant" => Self::Grant,
            _ => Self::Other,
        }
    }

    pub(super) fn class(self) -> &'static str {
        match self {
            Self::Policy => "m-policy",
            Self::State => "m-state",
            Self::Grant => "m-grant",
            Self::Trail => "m-trail",
            Self::Other => "m-other",
        }
    }
}

/// One change on the key, as the chart and its legend show it.
pub(super) struct Mark<'a> {
    pub time_ms: Option<i64>,
    pub event_name: &'a str,
    pub actor: Option<&'a str>,
    pub event_id: Option<&'a str>,
    pub kind: MarkKind,
}

/// The key's changes in time order: its lifecycle events, and the trail
/// changes that stop KMS logging in the key's account.
pub(super) fn marks<'a>(a: &'a Analysis, key: &str) -> Vec<Mark<'a>> {
    let account = key.split(':').nth(4);
    let mut out: Vec<Mark<'a>> = a
        .timeline
        .iter()
        .filter(|l| l.key_arn == key)
        .map(|l| Mark {
            time_ms: l.time_ms,
            event_name: &l.event_name,
            actor: l.actor.as_deref(),
            event_id: l.event_id.as_deref(),
            kind: MarkKind::of(&l.event_name),
        })
        .collect();
    out.extend(
        a.trail_changes
            .iter()
            .filter(|t| t.account.is_none() || t.account.as_deref() == account)
            .map(|t| Mark {
                time_ms: t.time_ms,
                event_name: &t.event_name,
                actor: t.actor.as_deref(),
                event_id: t.event_id.as_deref(),
                kind: MarkKind::Trail,
            }),
    );
    out.sort_by_key(|m| m.time_ms);
    out
}

/// A lane: a caller's (or the others') failed and succeeded calls per bucket.
struct Lane {
    label: String,
    title: String,
    ok: Vec<u64>,
    bad: Vec<u64>,
}

fn failed(s: &Series) -> Vec<u64> {
    s.denied
        .iter()
        .zip(&s.key_state_failed)
        .map(|(d, k)| d + k)
        .collect()
}

/// The lanes of a key: callers with failures first, then by calls; past
/// [`LANES`], one summed lane. Returns the lanes and how many callers the
/// last one sums (0: none summed).
fn lanes(series: &[&Series], key: &str) -> (Vec<Lane>, usize) {
    let total = |s: &Series| -> u64 { s.succeeded.iter().chain(&failed(s)).sum() };
    let mut order: Vec<(&Series, u64, u64)> = series
        .iter()
        .map(|s| (*s, failed(s).iter().sum::<u64>(), total(s)))
        .collect();
    order.sort_by_key(|&(_, failed, total)| std::cmp::Reverse((failed > 0, total)));
    let mut out: Vec<Lane> = order
        .iter()
        .take(LANES)
        .map(|(s, _, _)| Lane {
            label: table_caller(&s.caller, key),
            title: full_caller(&s.caller),
            ok: s.succeeded.clone(),
            bad: failed(s),
        })
        .collect();
    let rest = &order[order.len().min(LANES)..];
    if !rest.is_empty() {
        let n = rest
            .iter()
            .map(|(s, _, _)| s.succeeded.len())
            .max()
            .unwrap_or(0);
        let mut lane = Lane {
            label: format!("others ({} callers)", rest.len()),
            title: format!("{} more callers, summed", rest.len()),
            ok: vec![0; n],
            bad: vec![0; n],
        };
        for (s, _, _) in rest {
            for (i, (o, b)) in s.succeeded.iter().zip(failed(s)).enumerate() {
                lane.ok[i] += o;
                lane.bad[i] += b;
            }
        }
        out.push(lane);
    }
    (out, rest.len())
}

/// The time domain: the buckets' and the marks' together.
fn domain(start: i64, buckets: usize, width_ms: i64, marks: &[Mark<'_>]) -> (i64, i64) {
    let end = start + i64::try_from(buckets).unwrap_or(0) * width_ms;
    let times = marks.iter().filter_map(|m| m.time_ms);
    let from = times.clone().min().map_or(start, |t| t.min(start));
    let to = times.max().map_or(end, |t| t.max(end));
    (from, to.max(from + 1))
}

/// Writes the figure of key `key`: the SVG, its caption, and the legend of
/// its change marks. Nothing when the key has no bucketed calls.
pub(super) fn figure(a: &Analysis, key: &str, out: &mut String) {
    let series: Vec<&Series> = a.buckets.iter().filter(|s| s.key_arn == key).collect();
    let Some(start) = series.iter().find_map(|s| s.start) else {
        return;
    };
    let width_ms = a.bucket_seconds.max(1) * 1000;
    let buckets = series.iter().map(|s| s.succeeded.len()).max().unwrap_or(0);
    let marks = marks(a, key);
    let (from, to) = domain(start, buckets, width_ms, &marks);
    let (lanes, summed) = lanes(&series, key);
    #[allow(clippy::cast_precision_loss)]
    let x = |t: i64| LEFT + (t - from) as f64 / (to - from) as f64 * (WIDTH - LEFT - RIGHT);
    #[allow(clippy::cast_precision_loss)]
    let height = TOP + LANE * lanes.len() as f64 + BOTTOM;
    let _ = write!(
        out,
        "<figure><svg class=\"timeline\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\" aria-label=\"calls over time per caller\">"
    );
    axis(from, to, &x, height, out);
    for (i, lane) in lanes.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = TOP + LANE * i as f64 + LANE / 2.0;
        let others = summed > 0 && i == lanes.len() - 1;
        draw_lane(lane, others, y, (start, width_ms), &x, out);
    }
    for (n, m) in marks.iter().enumerate() {
        let Some(t) = m.time_ms else { continue };
        let mx = x(t);
        let _ = write!(
            out,
            "<g class=\"mark {}\"><title>{}</title><line x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"{}\" \
             y2=\"{:.1}\"/><text x=\"{mx:.1}\" y=\"14\" text-anchor=\"middle\">{}</text></g>",
            m.kind.class(),
            esc(&format!("{} {} {}", n + 1, fmt_time(t), m.event_name)),
            TOP - 4.0,
            height - BOTTOM,
            n + 1
        );
    }
    out.push_str("</svg>");
    caption(a, key, lanes.len() - usize::from(summed > 0), summed, out);
    out.push_str("</figure>");
}

fn draw_lane(
    lane: &Lane,
    others: bool,
    y: f64,
    (start, width_ms): (i64, i64),
    x: &impl Fn(i64) -> f64,
    out: &mut String,
) {
    let class = if others { "series others" } else { "series" };
    let _ = write!(
        out,
        "<g class=\"{class}\"><title>{}</title>\
         <text class=\"who\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
         <line class=\"lane\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
        esc(&lane.title),
        LEFT - 8.0,
        y + 4.0,
        esc(&fit(&lane.label, 44)),
        WIDTH - RIGHT,
    );
    // Each lane to its own peak: one caller's 1 call beside 10,000 summed
    // ones would not show otherwise (the counts are in the tooltips).
    let max = lane
        .ok
        .iter()
        .chain(&lane.bad)
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let half = LANE / 2.0 - 2.0;
    #[allow(clippy::cast_precision_loss)]
    let h = |v: u64| (v as f64 / max as f64 * half).max(1.5);
    for (i, (&ok, &bad)) in lane.ok.iter().zip(&lane.bad).enumerate() {
        let t0 = start + i64::try_from(i).unwrap_or(0) * width_ms;
        let (x0, x1) = (x(t0), x(t0 + width_ms));
        let w = (x1 - x0 - 1.0).max(1.0);
        if ok > 0 {
            let hh = h(ok);
            let _ = write!(
                out,
                "<rect class=\"ok\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{hh:.1}\"><title>{ok} succeeded from {}</title></rect>",
                y - hh,
                fmt_time(t0)
            );
        }
        if bad > 0 {
            let _ = write!(
                out,
                "<rect class=\"bad\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\"><title>{bad} failed from {}</title></rect>",
                h(bad),
                fmt_time(t0)
            );
        }
    }
    out.push_str("</g>");
}

/// Ticks along the bottom: about six, at the domain's start and end too.
fn axis(from: i64, to: i64, x: &impl Fn(i64) -> f64, height: f64, out: &mut String) {
    let y = height - BOTTOM + 16.0;
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        WIDTH - RIGHT,
        height - BOTTOM,
        height - BOTTOM
    );
    for i in 0..=5 {
        let t = from + (to - from) * i / 5;
        let label = fmt_time(t);
        // `11-11 14:07`: the year is in the legend and the tables.
        let short = match (label.get(5..10), label.get(11..16)) {
            (Some(d), Some(hm)) => format!("{d} {hm}"),
            _ => label.clone(),
        };
        let anchor = match i {
            0 => "start",
            5 => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{}</text>",
            x(t),
            esc(&short)
        );
    }
}

fn caption(a: &Analysis, key: &str, drawn: usize, summed: usize, out: &mut String) {
    let width = crate::report::verdict_lines::width_words(a.bucket_seconds);
    let _ = write!(
        out,
        "<figcaption>Calls per {width}: succeeded above each caller's line, failed (denied or \
         refused by the key's state) below, each lane scaled to its own peak (the counts are in \
         the tooltips); the numbered lines are the key's changes (listed below). "
    );
    if summed > 0 {
        let _ = write!(
            out,
            "The {drawn} callers with failures or the most calls have a lane each; the other \
             {summed} callers are summed in the last lane (every caller is in <code>--format json</code>)."
        );
    } else {
        let _ = write!(out, "One lane per caller ({drawn}).");
    }
    let _ = write!(out, " {}", esc(&crate::report::table::legend(key)));
    out.push_str("</figcaption>");
}
