//! denydiff: find who a KMS key policy is really blocking, from CloudTrail.
//!
//! The pipeline is `source -> collect -> diff -> report`: sources decode
//! inputs into records, the collector counts, deduplicates and filters them
//! into KMS call rows, the differ groups the rows, and a report renders
//! the result. [`run`] wires it to the command line.

pub mod call;
pub mod cli;
pub mod collect;
pub mod diff;
pub mod event;
pub mod policy;
pub mod report;
pub mod settings;
pub mod source;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::collect::Collector;
use crate::settings::Settings;

/// denydiff's exit codes, documented in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every input was read.
    Ok = 0,
    /// The report was made, but some inputs (or records) failed.
    InputsFailed = 1,
    /// Usage error or fatal error: no report.
    Error = 2,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        ExitCode::from(s as u8)
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Analyze(args) => analyze(&Settings::from_args(args)?),
    }
}

fn analyze(s: &Settings) -> anyhow::Result<ExitStatus> {
    let mut collector = Collector::new(s.filters.clone());
    source::files::read_paths(&s.paths, &mut collector);
    let collected = collector.finish();
    if !s.quiet {
        for f in &collected.failures {
            eprintln!("denydiff: `{}`: {}", f.source, f.reason);
        }
    }
    let report = report::Report::build(collected)?;
    write_report(s, &report)?;
    Ok(if report.failures.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::InputsFailed
    })
}

fn write_report(s: &Settings, report: &report::Report) -> anyhow::Result<()> {
    if let Some(path) = &s.output {
        let file = std::fs::File::create(path)
            .with_context(|| format!("creating `{}`", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        report.render(s.format, &mut w)?;
        w.flush()
            .with_context(|| format!("writing `{}`", path.display()))?;
    } else {
        let mut w = std::io::BufWriter::new(std::io::stdout().lock());
        report.render(s.format, &mut w)?;
        w.flush()?;
    }
    Ok(())
}

/// True when an error is a closed stdout (`denydiff ... | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
