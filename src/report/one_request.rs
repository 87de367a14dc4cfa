//! Rendering `denydiff explain`: the decision, the deciding statements, per
//! condition the key, the value seen and the result, the comparison between
//! two policies, and the verified fixes. JSON is the [`Explanation`] as is.

use std::io::Write;

use super::prose::{DiffBase, fix, outcome_words};
use super::words::{Style, evidence_line};
use crate::analysis::explanation::Explanation;
use crate::cli::Format;
use crate::policy::{Effect, Tri};

/// Writes the explanation in `format`.
pub fn render(x: &Explanation, format: Format, w: &mut impl Write) -> std::io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, x)?;
            writeln!(w)
        }
        Format::Table => text(
            x,
            Style {
                color: false,
                ..Style::TEXT
            },
            w,
        ),
        Format::Html => {
            let mut buf = Vec::new();
            render(x, Format::Table, &mut buf)?;
            super::html::text_page("denydiff explain", &String::from_utf8_lossy(&buf), w)
        }
        Format::Markdown => {
            writeln!(w, "# denydiff explain\n")?;
            text(x, Style::MARKDOWN, w)
        }
    }
}

fn tri(t: Tri) -> &'static str {
    match t {
        Tri::True => "yes",
        Tri::False => "no",
        Tri::Unknown => "unknown",
    }
}

fn text(x: &Explanation, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let s = &x.subject;
    writeln!(w, "{}Decision: {}\n", st.heading, outcome_words(x.decision))?;
    let id = s
        .event_id
        .as_deref()
        .map_or(String::new(), |i| format!(" (event {i})"));
    writeln!(
        w,
        "`{}` calling `{}` on `{}`{id}\n",
        s.principal, s.action, s.resource
    )?;
    if x.policies.len() > 1 {
        writeln!(w, "{}Policies compared\n", st.heading)?;
        for p in &x.policies {
            let by: Vec<String> = p
                .deciding
                .iter()
                .map(|d| statement_name(d.sid.as_deref(), d.index))
                .collect();
            let by = if by.is_empty() {
                String::new()
            } else {
                format!(" by {}", by.join(", "))
            };
            writeln!(
                w,
                "{}`{}`: {}{by}",
                st.bullet,
                p.policy,
                outcome_words(p.decision)
            )?;
        }
        writeln!(
            w,
            "{}\n",
            if x.changed {
                "The decision changed."
            } else {
                "The decision did not change."
            }
        )?;
    }
    writeln!(w, "{}Statements\n", st.heading)?;
    for s in &x.statements {
        let effect = if s.effect == Effect::Deny {
            "Deny"
        } else {
            "Allow"
        };
        let mark = if s.deciding { "  <- deciding" } else { "" };
        writeln!(
            w,
            "{}{} {effect}: matches {} (principal {}, action {}, resource {}){mark}",
            st.bullet,
            statement_name(s.sid.as_deref(), s.index),
            tri(s.matched),
            tri(s.principal_match),
            tri(s.action_match),
            tri(s.resource_match)
        )?;
        for c in &s.conditions {
            writeln!(w, "  {}", evidence_line(c))?;
        }
    }
    writeln!(w)?;
    for n in &x.notes {
        writeln!(w, "note: {n}")?;
    }
    if !x.fixes.is_empty() {
        writeln!(w, "\n{}Fixes\n", st.heading)?;
    }
    for f in &x.fixes {
        fix(f, DiffBase::Current, st, w)?;
    }
    Ok(())
}

fn statement_name(sid: Option<&str>, index: usize) -> String {
    match sid {
        Some(sid) => format!("statement {index} (\"{sid}\")"),
        None => format!("statement {index}"),
    }
}
