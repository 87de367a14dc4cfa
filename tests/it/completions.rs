//! `denydiff completions SHELL` and `denydiff man`: generated from the clap
//! definitions, so they name every subcommand; bash really loads the script.

use std::process::Command;

use crate::util::{run, stdout};

const SUBCOMMANDS: [&str; 5] = ["analyze", "explain", "fetch", "completions", "man"];

#[test]
fn each_shell_script_names_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(&["completions", shell], b"");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = stdout(&out);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "the {shell} script lacks `{sub}`");
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
    for sub in SUBCOMMANDS {
        let th = format!(".TH denydiff-{sub} 1");
        assert!(page.contains(&th), "no `{th}`");
    }
    // The flags are there, as roff: `\-\-redact`.
    assert!(page.contains("\\-\\-redact"));
}
