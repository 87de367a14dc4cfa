//! Output that fits: styles on a terminal only (`CLICOLOR_FORCE` stands in
//! for one here), none when piped or under `NO_COLOR`; Markdown within 120
//! columns outside its code blocks, long sections folded in `<details>`.

use std::path::Path;
use std::process::Command;

fn sample() -> [String; 2] {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/incident-2026-11-backup-vault");
    [
        dir.join("AWSLogs").display().to_string(),
        dir.join("lookup-events-kms.json").display().to_string(),
    ]
}

/// The table report of the sample with `env` set (and the colour
/// variables of the calling shell unset).
fn table(env: &[(&str, &str)]) -> String {
    let [logs, lookup] = sample();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_denydiff"));
    cmd.args(["analyze", "--format", "table", &logs, &lookup])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn styles_reach_a_terminal_only_and_no_color_turns_them_off() {
    let forced = table(&[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains("\x1b[1m"), "bold headings on a terminal");
    assert!(
        forced.contains("\x1b[1m\x1b[31mONGOING"),
        "the state in red"
    );
    let piped = table(&[]);
    assert!(!piped.contains('\x1b'), "escape codes in piped output");
    let no_color = table(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!no_color.contains('\x1b'), "escape codes under NO_COLOR");
    assert_eq!(piped, no_color);
}

/// Lines over 120 columns outside fenced code blocks.
fn wide_lines(markdown: &str) -> Vec<&str> {
    let mut fenced = false;
    markdown
        .lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced && l.chars().count() > 120
        })
        .collect()
}

#[test]
fn markdown_fits_120_columns_and_folds_the_details() {
    let [logs, lookup] = sample();
    let out = crate::util::run(&["analyze", "--format", "markdown", &logs, &lookup], b"");
    let md = crate::util::stdout(&out);
    assert_eq!(wide_lines(&md), Vec::<&str>::new());
    let opened = md.matches("<details><summary>").count();
    assert!(opened >= 3, "{opened} folded sections");
    assert_eq!(opened, md.matches("</details>").count());
    assert!(
        md.contains("no @account: the key's, 111122223333)"),
        "the account legend"
    );
}
