//! The `denydiff` binary: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: see Cargo.toml for why and what it measured.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Small pages: see Cargo.toml's `rustix` for what huge ones cost here.
    // Should the kernel refuse, the run only keeps its huge pages.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
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
