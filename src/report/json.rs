//! The JSON report: the [`Report`] serialised as is, pretty-printed, with a
//! `schema_version`. Field names are a promise (README.md documents them).

use std::io::Write;

use super::Report;

pub(super) fn render(r: &Report, w: &mut impl Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, r)?;
    writeln!(w)
}
