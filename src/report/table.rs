//! The terminal report: the answer first (causes), then per key the callers
//! with succeeded and denied side by side, the timeline and verdicts, then
//! the details of each cause, then what was read. Long lists show the first
//! few and say how many more; lines fit 120 columns.

use std::io::Write;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::contrast_label;
use super::words::table_caller;
use crate::analysis::Analysis;
use crate::analysis::groups::Group;

/// How the plain-text report marks headings, bullets and code.
pub(super) const TEXT: super::words::Style = super::words::Style::TEXT;

/// The columns of a key's block, shared with the Markdown report. Under
/// the table: `fas` forward access session, `slr` service-linked role,
/// `service` a service principal; principals of the key's own account
/// without their account.
pub(super) const HEADER: [&str; 7] = ["caller", "event", "ok", "denied", "state", "other", "flag"];

/// How many rows a key's table shows: the flagged and failing groups first.
pub(super) const ROWS: usize = 20;

/// Shortens `s` to `n` characters, with an ellipsis in the middle.
pub(super) fn fit(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        return s.to_owned();
    }
    let head: String = s.chars().take(n / 2).collect();
    let tail: String = s.chars().skip(count - (n - n / 2 - 1)).collect();
    format!("{head}…{tail}")
}

/// What the short names of a key's table mean.
pub(super) fn legend(key: &str) -> String {
    let abbreviations =
        "fas: forward access; slr: service-linked role; service: a service principal";
    match key.split(':').nth(4).filter(|a| !a.is_empty()) {
        Some(account) => format!("({abbreviations}; no @account: the key's, {account})"),
        None => format!("({abbreviations})"),
    }
}

/// One row of a key's block.
pub(super) fn row(g: &Group) -> [String; 7] {
    [
        fit(&table_caller(&g.caller, &g.key_arn), 34),
        fit(&g.event_name, 16),
        g.succeeded.to_string(),
        g.denied.to_string(),
        g.key_state_failed.to_string(),
        g.other_failed.to_string(),
        contrast_label(g),
    ]
}

/// A key's groups, flagged and failing first, at most [`ROWS`], and how
/// many were left out.
pub(super) fn rows<'a>(a: &'a Analysis, key: &str) -> (Vec<&'a Group>, usize) {
    let mut mine: Vec<&Group> = a.groups.iter().filter(|g| g.key_arn == key).collect();
    mine.sort_by_key(|g| (g.contrast.is_none(), g.denied + g.key_state_failed == 0));
    let more = mine.len().saturating_sub(ROWS);
    mine.truncate(ROWS);
    (mine, more)
}

pub(super) fn render(a: &Analysis, w: &mut impl Write) -> std::io::Result<()> {
    super::answer::render(a, TEXT, w)?;
    for key in a.keys() {
        writeln!(w, "{}\n", TEXT.head(&format!("Key {key}")))?;
        let mut b = Builder::default();
        b.push_record(HEADER);
        let (shown, more) = rows(a, key);
        for g in shown {
            b.push_record(row(g));
        }
        let mut t = b.build();
        t.with(Style::rounded());
        writeln!(w, "{t}")?;
        if more > 0 {
            writeln!(
                w,
                "... and {more} more callers and events (all in `--format json`)"
            )?;
        }
        writeln!(w, "{}\n", legend(key))?;
        super::verdict_lines::render_key(a, key, TEXT, w)?;
    }
    if a.groups.is_empty() {
        writeln!(w, "no KMS calls found")?;
    }
    super::verdict_lines::render_keyless(a, TEXT, w)?;
    super::prose::render(a, TEXT, w)?;
    for f in &a.failures {
        writeln!(w, "failed: {}: {}", f.source, f.reason)?;
    }
    writeln!(w, "{}", super::words::wrapped("", 2, &super::summary(a)))
}
