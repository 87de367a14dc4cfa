//! One file per command: each reads its settings, wires the stages
//! (source -> collect -> analysis -> report) and returns the exit status.

pub mod analyze;
pub mod check;
pub mod completions;
pub mod explain;
pub mod fetch;
pub mod sql;

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::call::KmsCall;

/// The distinct key ARNs the calls name, sorted; borrowed until then, so
/// a big trail holds one string per key, not one per call.
pub(crate) fn trail_keys(calls: &[KmsCall]) -> Vec<String> {
    calls
        .iter()
        .map(|k| &*k.key)
        .filter(|k| k.starts_with("arn:"))
        .collect::<std::collections::BTreeSet<&str>>()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Writes a report to `output` (a file), or to standard output. Styles
/// reach a terminal only: anstream drops them for a file, a pipe, or
/// `NO_COLOR`.
pub(crate) fn write_output(
    output: Option<&Path>,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    if let Some(path) = output {
        let file = std::fs::File::create(path)
            .with_context(|| format!("creating `{}`", path.display()))?;
        let mut w = std::io::BufWriter::new(anstream::StripStream::new(file));
        render(&mut w).with_context(|| format!("writing `{}`", path.display()))?;
        w.flush()
            .with_context(|| format!("writing `{}`", path.display()))?;
    } else {
        let mut w = std::io::BufWriter::new(anstream::AutoStream::auto(std::io::stdout().lock()));
        render(&mut w)?;
        w.flush()?;
    }
    Ok(())
}
