//! denydiff: find who a KMS key policy is really blocking, from CloudTrail.
//!
//! The pipeline is `source -> collect -> analysis -> report`: sources decode
//! inputs into records, the collector counts, deduplicates and filters them
//! into KMS call rows, the analysis turns the rows and the key policies into
//! one plain result (groups, diagnosis, verdicts, causes, timeline), and a
//! report renders it. [`run`] wires it to the command line.

pub mod analysis;
pub mod arn;
pub mod call;
pub mod cli;
pub mod cmd;
pub mod collect;
pub mod event;
pub mod policy;
pub mod proposal;
pub mod queries;
pub mod reduced_table;
pub mod report;
pub mod settings;
pub mod source;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::settings::Settings;

/// denydiff's exit codes, documented in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every input was read.
    Ok,
    /// The report was made, but some inputs (or records) failed.
    InputsFailed,
    /// Usage error or fatal error: no report.
    Error,
    /// `explain`: the decision (0 allowed, 3, 4, 5); `check`: 3 some
    /// observed caller loses access or stays cut off (still denied), 4
    /// only undetermined ones (see README). `check`'s "not proven" (no
    /// loss, but inputs failed) is [`ExitStatus::InputsFailed`] (1).
    Decision(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        ExitCode::from(match s {
            ExitStatus::Ok => 0,
            ExitStatus::InputsFailed => 1,
            ExitStatus::Error => 2,
            ExitStatus::Decision(code) => code,
        })
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Analyze(args) => cmd::analyze::run(&Settings::from_args(*args)?),
        Command::Explain(args) => cmd::explain::run(&args),
        Command::Fetch(args) => cmd::fetch::run(&settings::FetchSettings::from_args(*args)?),
        Command::Check(args) => cmd::check::run(&settings::CheckSettings::from_args(*args)?),
        Command::Completions(args) => cmd::completions::completions(args.shell),
        Command::Man => cmd::completions::man(),
        Command::Sql(args) => cmd::sql::run(&settings::SqlSettings::from_args(&args)?),
    }
}

/// True when an error is a closed stdout (`denydiff ... | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
