//! `denydiff completions SHELL` and `denydiff man`: generated from the clap
//! definitions, so they name every subcommand; bash really loads the script.

use std::process::Command;

use clap::CommandFactory;

use crate::util::{run, stdout};

/// Every subcommand, from the clap definitions themselves: a new one is
/// covered without touching this file.
fn subcommands() -> Vec<String> {
    let cli = denydiff::cli::Cli::command();
    let names: Vec<String> = cli
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_owned())
        .collect();
    // The list is what the binary's own help lists (clap adds `help`).
    let help = stdout(&run(&["--help"], b""));
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .collect();
    assert_eq!(listed, names, "the help lists other subcommands");
    assert!(names.len() >= 6, "{names:?}");
    names
}

#[test]
fn each_shell_script_names_every_subcommand() {
    let subs = subcommands();
    assert!(subs.iter().any(|s| s == "check"), "{subs:?}");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(&["completions", shell], b"");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = stdout(&out);
        for sub in &subs {
            assert!(
                script.contains(sub.as_str()),
                "the {shell} script lacks `{sub}`"
            );
        }
        assert!(
            script.contains("redact"),
            "the {shell} script lacks `--redact`"
        );
    }
    let bad = run(&["completions", "tcsh"], b"");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn bash_loads_the_script() {
    let bin = env!("CARGO_BIN_EXE_denydiff");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{bin}' completions bash) && complete -p denydiff"
        ))
        .output()
        .expect("bash runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with("complete ") && said.trim_end().ends_with(" denydiff"),
        "{said}"
    );
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let out = run(&["man"], b"");
    assert_eq!(out.status.code(), Some(0));
    let page = stdout(&out);
    assert!(page.contains(".TH denydiff 1"), "{page}");
    assert!(page.contains(".SH SYNOPSIS"));
    for sub in subcommands() {
        let th = format!(".TH denydiff-{sub} 1");
        assert!(page.contains(&th), "no `{th}`");
    }
    // The flags are there, as roff: `\-\-redact`.
    assert!(page.contains("\\-\\-redact"));
}
