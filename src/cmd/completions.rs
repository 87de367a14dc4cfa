//! `denydiff completions SHELL` and `denydiff man`: generated from the
//! clap definitions in `cli`, so they list exactly the flags there are.

use std::io::Write;

use clap::CommandFactory;

use crate::ExitStatus;
use crate::cli::{Cli, Shell};

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: Shell) -> anyhow::Result<ExitStatus> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut cmd, "denydiff", &mut out);
    out.flush()?;
    Ok(ExitStatus::Ok)
}

/// Writes the manual page (roff) to stdout: the command, then each
/// subcommand's page, one after the other.
pub fn man() -> anyhow::Result<ExitStatus> {
    let cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let title = format!("denydiff-{}", sub.get_name());
        let sub = sub
            .clone()
            .display_name(title.clone())
            .bin_name(format!("denydiff {}", sub.get_name()));
        clap_mangen::Man::new(sub).title(title).render(&mut out)?;
    }
    out.flush()?;
    Ok(ExitStatus::Ok)
}
