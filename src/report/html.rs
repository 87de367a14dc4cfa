//! The HTML report: one self-contained page to attach to a ticket. Inline
//! CSS and inline SVG only: no script, no font, no request of any kind (a
//! Content-Security-Policy says so to the browser too). It leads with the
//! answer (the causes), then per key a timeline chart ([`chart`]), the
//! callers, the changes and the verdicts with their evidence, then per
//! cause the blocked callers and each fix as a coloured diff with the full
//! patched policy. Long parts fold in `<details>`; long lists are cut at a
//! limit that the page states (the JSON keeps everything).
//!
//! Every text that comes from the logs passes through [`esc`]: a principal
//! named `<script>` renders as text.

mod chart;
mod details;

use std::fmt::Write as _;
use std::io::Write;

use super::answer::{
    NO_FIX, best_fix, blocking_head, blocks_word, change_words, fix_line, headline, kind_words,
    no_patch_note, other_fixes, state_word, statement_changes,
};
use super::verdict_lines::{evidence_words, kind_words as verdict_kind, reason_words};
use super::words::{SHOWN, classes, full_caller};
use crate::analysis::Analysis;
use crate::analysis::causes::Cause;
use crate::analysis::diagnosis::State;
use crate::call::{Caller, fmt_time};

/// Rows of a list (callers of a cause, blocked entries, groups) shown
/// before the page says how many more the JSON has.
const ROWS: usize = 100;

/// Escapes text for HTML content and attribute values: the one place
/// logged text becomes markup.
pub(super) fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out.into()
}

/// Words of the reports (which quote values in backticks) as HTML: each
/// part escaped, the quoted ones in `<code>`.
fn words(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut parts = s.split('`');
    if let Some(first) = parts.next() {
        out.push_str(&esc(first));
    }
    let rest: Vec<&str> = parts.collect();
    // An odd backtick out stays a backtick.
    let pairs = rest.len() / 2 * 2;
    for (i, part) in rest.iter().enumerate() {
        if i >= pairs {
            out.push('`');
            out.push_str(&esc(part));
        } else if i % 2 == 0 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;max-width:1100px;margin:0 auto;padding:0 20px 40px}
h1{font-size:1.6em;margin:.6em 0 .2em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
h3{margin:1em 0 .4em}code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
code{background:#f3f4f6;padding:0 .25em;border-radius:3px;overflow-wrap:anywhere}
.banner{background:#fff4d6;border:1px solid #d4a72c;padding:.5em .8em;border-radius:6px;margin-top:1em}
.summary{color:#57606a}
.cause{border:1px solid #d0d7de;border-left:6px solid #cf222e;border-radius:6px;padding:.4em 1em .8em;margin:1em 0}
.cause.resolved{border-left-color:#1a7f37}
.state{font-weight:700;padding:0 .4em;border-radius:4px;color:#fff;background:#cf222e}.state.resolved{background:#1a7f37}
dl.fields{display:grid;grid-template-columns:8em 1fr;gap:.25em .8em;margin:.4em 0}dl.fields dt{font-weight:600;color:#57606a}dl.fields dd{margin:0;overflow-wrap:anywhere}
ul.callers{margin:.2em 0;padding-left:1.2em}
table{border-collapse:collapse;margin:.6em 0;width:100%}th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
td code{overflow-wrap:anywhere}th{background:#f6f8fa;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}td.n,td.nw{white-space:nowrap}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6em;overflow-x:auto}
pre.diff span{display:block;min-height:1.2em}pre.diff .add{background:#dafbe1;color:#116329}pre.diff .del{background:#ffebe9;color:#82071e}pre.diff .hunk{color:#0550ae}
details{margin:.5em 0}summary{cursor:pointer;font-weight:600}
.fix{border:1px solid #d0d7de;border-radius:6px;padding:.2em 1em;margin:.8em 0}
.ok-word{color:#1a7f37;font-weight:600}.bad-word{color:#cf222e;font-weight:600}
figure{margin:1em 0}figcaption{color:#57606a;font-size:.9em}
svg.timeline{background:#fff;border:1px solid #d0d7de;border-radius:6px}
svg text{font:11px system-ui,sans-serif;fill:#1b1f24}svg .tick{fill:#57606a}
svg .lane{stroke:#d0d7de}svg .axis{stroke:#8c959f}svg rect.ok{fill:#2da44e}svg rect.bad{fill:#cf222e}
svg .others text.who{font-style:italic}
svg .mark line{stroke-width:1.5;stroke-dasharray:4 3}svg .mark text{font-weight:700}
.m-policy line{stroke:#8250df}.m-policy text,li.m-policy::marker{fill:#8250df;color:#8250df}
.m-state line{stroke:#bc4c00}.m-state text,li.m-state::marker{fill:#bc4c00;color:#bc4c00}
.m-grant line{stroke:#0969da}.m-grant text,li.m-grant::marker{fill:#0969da;color:#0969da}
.m-trail line{stroke:#57606a}.m-trail text,li.m-trail::marker{fill:#57606a;color:#57606a}
.m-other line{stroke:#8c959f}.m-other text{fill:#8c959f}
blockquote{margin:.3em 0;padding:.1em .8em;border-left:4px solid #d0d7de;color:#57606a;overflow-wrap:anywhere}
";

/// Renders the whole page; `redacted` puts the banner on it.
pub(super) fn render(a: &Analysis, redacted: bool, w: &mut impl Write) -> std::io::Result<()> {
    let mut out = String::with_capacity(64 * 1024);
    head("denydiff report", &mut out);
    if redacted {
        let _ = write!(
            out,
            "<p class=\"banner\"><strong>{}</strong></p>",
            esc(super::redact::NOTICE)
        );
    }
    out.push_str("<h1>denydiff report</h1>");
    let _ = write!(out, "<p class=\"summary\">{}</p>", esc(&super::summary(a)));
    answer(a, &mut out);
    // The keys of the causes first, in the causes' order.
    let all = a.keys();
    let mut keys: Vec<&str> = Vec::with_capacity(all.len());
    let causes = a.causes.iter().map(|c| c.key_arn.as_str());
    for key in causes
        .filter(|k| all.contains(k))
        .chain(all.iter().copied())
    {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for key in keys {
        key_section(a, key, &mut out);
    }
    if a.groups.is_empty() {
        out.push_str("<p>No KMS calls found.</p>");
    }
    for c in &a.causes {
        details::cause(a, c, &mut out);
    }
    details::unexplained(a, &mut out);
    details::failures(a, &mut out);
    out.push_str("</body></html>\n");
    w.write_all(out.as_bytes())
}

/// A page holding a text report as is (`explain --format html`).
pub(super) fn text_page(title: &str, text: &str, w: &mut impl Write) -> std::io::Result<()> {
    let mut out = String::new();
    head(title, &mut out);
    let _ = writeln!(
        out,
        "<h1>{}</h1><pre>{}</pre></body></html>",
        esc(title),
        esc(text)
    );
    w.write_all(out.as_bytes())
}

fn head(title: &str, out: &mut String) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"denydiff {}\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    );
}

fn answer(a: &Analysis, out: &mut String) {
    let _ = write!(out, "<section id=\"answer\"><h2>{}</h2>", esc(&headline(a)));
    for c in &a.causes {
        cause(c, out);
    }
    out.push_str("</section>");
}

fn field(out: &mut String, label: &str, html: &str) {
    let _ = write!(out, "<dt>{}</dt><dd>{html}</dd>", esc(label));
}

/// The first few callers, the next ones up to [`ROWS`] folded: the
/// answer stays one screen with 10,000 callers.
fn caller_list(callers: &[Caller], out: &mut String) {
    let item = |c: &Caller| format!("<li><code>{}</code></li>", esc(&full_caller(c)));
    out.push_str("<ul class=\"callers\">");
    for c in callers.iter().take(SHOWN) {
        out.push_str(&item(c));
    }
    out.push_str("</ul>");
    if callers.len() <= SHOWN {
        return;
    }
    let _ = write!(
        out,
        "<details><summary>{} more caller(s)</summary><ul class=\"callers\">",
        callers.len() - SHOWN
    );
    for c in callers.iter().take(ROWS).skip(SHOWN) {
        out.push_str(&item(c));
    }
    if callers.len() > ROWS {
        let _ = write!(
            out,
            "<li>... and {} more (all in <code>--format json</code>)</li>",
            callers.len() - ROWS
        );
    }
    out.push_str("</ul></details>");
}

fn cause(c: &Cause, out: &mut String) {
    let resolved = if c.state == State::Resolved {
        " resolved"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<article class=\"cause{resolved}\" id=\"{}\"><h3>{} <span class=\"state{resolved}\">{}</span> {}</h3><dl class=\"fields\">",
        esc(&c.id),
        esc(&c.id),
        state_word(c.state),
        esc(kind_words(c.change))
    );
    field(out, "key", &format!("<code>{}</code>", esc(&c.key_arn)));
    field(out, "change", &words(&change_words(&c.event)));
    if let Some(parts) = statement_changes(c) {
        field(out, "policy", &words(&parts));
    }
    let blocks = blocks_word(c);
    if c.blocking.is_empty() {
        let mut list = esc(&format!(
            "{} caller(s): {}",
            c.callers,
            classes(&c.by_class)
        ))
        .into_owned();
        caller_list(&c.affected, &mut list);
        field(out, blocks, &list);
    }
    for b in &c.blocking {
        let mut list = esc(&blocking_head(b)).into_owned();
        caller_list(&b.callers, &mut list);
        field(out, blocks, &list);
    }
    if let Some(r) = &c.resolved_by {
        field(out, "resolved", &words(&change_words(r)));
    }
    if let Some(f) = best_fix(c) {
        let whole = fix_line(f);
        let rest = whole.strip_prefix(f.id.as_str()).unwrap_or(&whole);
        let link = format!(
            "<a href=\"#{}\">{}</a>{}",
            esc(&f.id),
            esc(&f.id),
            words(rest)
        );
        field(out, "fix", &link);
        let others = other_fixes(c, f);
        if !others.is_empty() {
            field(out, "also", &esc(&others));
        }
    } else if c.state == State::Ongoing && !c.blocking.is_empty() {
        field(out, "fix", NO_FIX);
    }
    if let Some(note) = no_patch_note(c) {
        field(out, "note", &words(&note));
    }
    out.push_str("</dl></article>");
}

fn key_section(a: &Analysis, key: &str, out: &mut String) {
    let _ = write!(
        out,
        "<section class=\"key\"><h2>Key <code>{}</code></h2>",
        esc(key)
    );
    chart::figure(a, key, out);
    let marks = chart::marks(a, key);
    if !marks.is_empty() {
        out.push_str("<h3>Changes</h3><ol class=\"changes\">");
        for m in &marks {
            let by = m.actor.map_or(String::new(), |x| format!(" by {x}"));
            let id = m.event_id.map_or(String::new(), |x| format!(" [{x}]"));
            let t = m.time_ms.map_or_else(|| "?".into(), fmt_time);
            let _ = write!(
                out,
                "<li class=\"{}\">{}</li>",
                m.kind.class(),
                esc(&format!("{t} {}{by}{id}", m.event_name))
            );
        }
        out.push_str("</ol>");
    }
    groups(a, key, out);
    verdicts(a, key, out);
    out.push_str("</section>");
}

fn groups(a: &Analysis, key: &str, out: &mut String) {
    let (shown, more) = super::table::rows(a, key);
    out.push_str("<h3>Callers</h3><table><thead><tr>");
    for h in super::table::HEADER {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for g in shown {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"nw\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"nw\">{}</td></tr>",
            esc(&full_caller(&g.caller)),
            esc(&g.event_name),
            g.succeeded,
            g.denied,
            g.key_state_failed,
            g.other_failed,
            esc(&super::contrast_label(g))
        );
    }
    out.push_str("</tbody></table>");
    if more > 0 {
        let _ = write!(
            out,
            "<p>... and {more} more callers and events (all in <code>--format json</code>)</p>"
        );
    }
    let messages: Vec<_> = a
        .groups
        .iter()
        .filter(|g| g.key_arn == key && !g.denied_messages.is_empty())
        .take(SHOWN)
        .collect();
    if !messages.is_empty() {
        out.push_str("<details><summary>What AWS said when it denied</summary>");
        for g in messages {
            let _ = write!(
                out,
                "<p>{} for <code>{}</code>:</p>",
                esc(&g.event_name),
                esc(&full_caller(&g.caller))
            );
            for m in &g.denied_messages {
                let _ = write!(out, "<blockquote>{}</blockquote>", esc(m));
            }
            if !g.sample_event_ids.is_empty() {
                let _ = write!(
                    out,
                    "<p>Sample event IDs: <span class=\"mono\">{}</span></p>",
                    esc(&g.sample_event_ids.join(", "))
                );
            }
        }
        out.push_str("</details>");
    }
}

fn verdicts(a: &Analysis, key: &str, out: &mut String) {
    let mine: Vec<_> = a.verdicts.iter().filter(|v| v.key_arn == key).collect();
    if mine.is_empty() {
        return;
    }
    out.push_str("<h3>Verdicts and evidence</h3><ul class=\"verdicts\">");
    for v in mine.iter().take(ROWS) {
        let who = v
            .caller
            .as_ref()
            .map_or_else(|| "the key".into(), full_caller);
        let since = v.since.map_or_else(|| "?".into(), fmt_time);
        let cause = v
            .cause
            .as_deref()
            .map_or(String::new(), |c| format!(" [{c}]"));
        let state = if v.state == State::Resolved {
            " (resolved)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li><strong>{}</strong>{}: <code>{}</code>, since {}{}<br>{}",
            esc(verdict_kind(v.verdict)),
            state,
            esc(&who),
            esc(&since),
            esc(&cause),
            words(&reason_words(&v.reason, &v.key_arn))
        );
        if !v.evidence.is_empty() {
            out.push_str("<ul>");
            for e in &v.evidence {
                let t = e.event_time.map_or_else(|| "?".into(), fmt_time);
                let id = e.event_id.as_deref().unwrap_or("?");
                let _ = write!(
                    out,
                    "<li>evidence: {}</li>",
                    words(&format!("{t} {} [{id}]", evidence_words(e)))
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</li>");
    }
    if mine.len() > ROWS {
        let _ = write!(
            out,
            "<li>... and {} more verdicts (all in <code>--format json</code>)</li>",
            mine.len() - ROWS
        );
    }
    out.push_str("</ul>");
}
