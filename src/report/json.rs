//! The JSON report: the [`Analysis`] serialised as is, on one line (a
//! 1,000-role blast: 3.7 MB, against 5.8 MB pretty-printed), with a
//! `schema_version`. Field names are a promise (README.md documents them).

use std::io::Write;

use serde::Serialize;

use crate::analysis::Analysis;

#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    /// `--redact`: names, ids and addresses are pseudonyms.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    redacted: bool,
    #[serde(flatten)]
    analysis: &'a Analysis,
}

pub(super) fn render(a: &Analysis, redacted: bool, w: &mut impl Write) -> std::io::Result<()> {
    let r = Report {
        schema_version: super::SCHEMA_VERSION,
        redacted,
        analysis: a,
    };
    serde_json::to_writer(&mut *w, &r)?;
    writeln!(w)
}
