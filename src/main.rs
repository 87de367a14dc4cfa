//! The `denydiff` binary: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: see Cargo.toml for why and what it measured.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = denydiff::cli::Cli::parse();
    match denydiff::run(cli) {
        Ok(status) => status.into(),
        Err(err) if denydiff::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("denydiff: error: {err:#}");
            denydiff::ExitStatus::Error.into()
        }
    }
}
