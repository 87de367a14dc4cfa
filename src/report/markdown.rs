//! The Markdown report, for support tickets: the same content as the table,
//! as GitHub-flavoured Markdown that reads well when pasted.

use std::io::Write;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::table::{HEADER, row, rows};
use super::words::{short_caller, wrapped};
use crate::analysis::Analysis;

/// How Markdown marks headings, bullets and code.
const MD: super::words::Style = super::words::Style::MARKDOWN;

/// Escapes the characters that would break a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub(super) fn render(r: &Analysis, w: &mut impl Write) -> std::io::Result<()> {
    writeln!(w, "# denydiff report\n")?;
    super::answer::render(r, MD, w)?;
    writeln!(w, "{}\n", wrapped("", 0, &super::summary(r)))?;
    for key in r.keys() {
        writeln!(w, "## Key `{key}`\n")?;
        let mut b = Builder::default();
        b.push_record(HEADER);
        let (shown, more) = rows(r, key);
        for g in shown {
            b.push_record(row(g).map(|c| cell(&c)));
        }
        let mut t = b.build();
        t.with(Style::markdown());
        writeln!(w, "{t}\n")?;
        if more > 0 {
            writeln!(
                w,
                "... and {more} more callers and events (all in `--format json`)\n"
            )?;
        }
        writeln!(w, "{}\n", super::table::legend(key))?;
        write!(w, "{}", MD.fold("Timeline, verdicts and what AWS said"))?;
        super::verdict_lines::render_key(r, key, MD, w)?;
        denied_messages(r, key, w)?;
        write!(w, "{}", MD.unfold())?;
    }
    if r.groups.is_empty() {
        writeln!(w, "No KMS calls found.\n")?;
    }
    super::verdict_lines::render_keyless(r, MD, w)?;
    super::prose::render(r, MD, w)?;
    failures(r, w)
}

fn denied_messages(r: &Analysis, key: &str, w: &mut impl Write) -> std::io::Result<()> {
    for g in r
        .groups
        .iter()
        .filter(|g| g.key_arn == key && !g.denied_messages.is_empty())
        .take(super::words::SHOWN)
    {
        writeln!(
            w,
            "Denied `{}` for {}:\n",
            g.event_name,
            short_caller(&g.caller)
        )?;
        for m in &g.denied_messages {
            // Every line quoted: a quote within 120 columns.
            let quoted = wrapped("> ", 2, &cell(m)).replace("\n  ", "\n> ");
            writeln!(w, "{quoted}\n")?;
        }
        if !g.sample_event_ids.is_empty() {
            let ids = g.sample_event_ids.join(", ");
            writeln!(w, "{}\n", wrapped("Sample event IDs:", 2, &ids))?;
        }
    }
    Ok(())
}

fn failures(r: &Analysis, w: &mut impl Write) -> std::io::Result<()> {
    if r.failures.is_empty() {
        return Ok(());
    }
    writeln!(w, "## Inputs that failed\n")?;
    for f in &r.failures {
        let line = format!("`{}`: {}", f.source, cell(&f.reason));
        writeln!(w, "{}", wrapped("- ", 2, &line))?;
    }
    writeln!(w)
}
