//! Reports: one file per format, each rendering an [`Analysis`] and owning
//! every word of it. Each renderer writes to a `&mut impl Write`, never to
//! stdout directly, so tests render into a `Vec<u8>`. Imports from the
//! analysis are its result types only.

mod answer;
mod html;
mod json;
mod markdown;
pub mod one_request;
pub mod preflight_report;
mod prose;
pub mod redact;
mod table;
mod verdict_lines;
mod words;

use std::io::Write;

use crate::analysis::Analysis;
use crate::analysis::groups::{Contrast, Group};
use crate::call::fmt_time;
use crate::cli::Format;

/// The JSON schema version; bumped when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 2;

/// Renders `a` in `format`.
pub fn render(a: &Analysis, format: Format, w: &mut impl Write) -> std::io::Result<()> {
    render_with(a, format, false, w)
}

/// Renders `a` in `format`; `redacted` (after [`redact::Redactor::redact`])
/// makes the report say so: a JSON field, a line, a banner.
pub fn render_with(
    a: &Analysis,
    format: Format,
    redacted: bool,
    w: &mut impl Write,
) -> std::io::Result<()> {
    if redacted && matches!(format, Format::Table | Format::Markdown) {
        writeln!(w, "{}\n", words::wrapped("", 0, redact::NOTICE))?;
    }
    match format {
        Format::Json => json::render(a, redacted, w),
        Format::Table => table::render(a, w),
        Format::Markdown => markdown::render(a, w),
        Format::Html => html::render(a, redacted, w),
    }
}

/// One line that says what was read.
fn summary(a: &Analysis) -> String {
    let i = &a.inputs;
    format!(
        "{} files read, {} skipped, {} failed; {} records: {} KMS calls analysed, {} outside filters, {} duplicates dropped, {} not KMS, {} invalid",
        i.files_read,
        i.files_skipped,
        i.files_failed,
        i.records,
        i.kms_calls,
        i.outside_filters,
        i.duplicates_dropped,
        i.non_kms,
        i.records_invalid
    )
}

/// The contrast flag in words, or empty.
fn contrast_label(g: &Group) -> String {
    // `11-11 14:07Z`: the table's flag column stays narrow (the year is in
    // the verdicts below the table).
    let t = |ms: &Option<i64>| {
        ms.map_or_else(
            || "?".into(),
            |ms| {
                let full = fmt_time(ms);
                match (full.get(5..10), full.get(11..16)) {
                    (Some(day), Some(time)) => format!("{day} {time}Z"),
                    _ => full,
                }
            },
        )
    };
    match &g.contrast {
        None => String::new(),
        Some(Contrast::SucceededThenFailed {
            last_succeeded,
            first_failed,
        }) => {
            let _ = last_succeeded;
            format!("FAILING since {}", t(first_failed))
        }
        Some(Contrast::WentSilent {
            last_seen,
            after_event,
            after_time,
            ..
        }) => {
            let _ = (last_seen, after_time);
            format!("SILENT after {after_event}")
        }
    }
}
