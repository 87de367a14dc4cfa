//! The terminal report: one block per key, callers with succeeded and
//! denied side by side, the contrast flagged, then what was read.

use std::io::Write;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::{Report, caller_label, contrast_label};

/// How the plain-text report marks headings, bullets and code.
pub(super) const TEXT: super::diagnosis::Style = super::diagnosis::Style {
    heading: "== ",
    bullet: "- ",
    code_open: "",
    code_close: "",
};

/// The columns of a key's block, shared with the Markdown report.
pub(super) const HEADER: [&str; 8] = [
    "caller",
    "event",
    "ok",
    "denied",
    "key state",
    "other",
    "last ok",
    "flag",
];

/// One row of a key's block.
pub(super) fn row(g: &crate::diff::Group) -> [String; 8] {
    [
        caller_label(g),
        g.event_name.clone(),
        g.succeeded.to_string(),
        g.denied.to_string(),
        g.key_state_failed.to_string(),
        g.other_failed.to_string(),
        g.last_succeeded
            .map(crate::diff::fmt_time)
            .unwrap_or_default(),
        contrast_label(g),
    ]
}

pub(super) fn render(r: &Report, w: &mut impl Write) -> std::io::Result<()> {
    for key in r.keys() {
        writeln!(w, "key {key}")?;
        let mut b = Builder::default();
        b.push_record(HEADER);
        for g in r.groups.iter().filter(|g| g.key_arn == key) {
            b.push_record(row(g));
        }
        let mut t = b.build();
        t.with(Style::rounded());
        writeln!(w, "{t}\n")?;
        super::verdicts::render_key(r, key, TEXT, w)?;
    }
    if r.groups.is_empty() {
        writeln!(w, "no KMS calls found")?;
    }
    super::verdicts::render_keyless(r, TEXT, w)?;
    super::diagnosis::render(r, TEXT, w)?;
    for f in &r.failures {
        writeln!(w, "failed: {}: {}", f.source, f.reason)?;
    }
    writeln!(w, "{}", r.summary())
}
