//! Words the text reports share: how a caller, a statement, a condition's
//! evidence, a fix's kind and a probe are said, how long lists are cut, and
//! how lines wrap within [`WIDTH`] columns (principals as
//! `type/name@account`; full ARNs are in the JSON).

use std::collections::BTreeMap;

use crate::analysis::diagnosis::StatementRef;
use crate::analysis::diagnosis::fixes::{CheckSubject, ProbeKind, ProposedFix};
use crate::call::{Caller, CallerClass};
use crate::policy::{ConditionTrace, FixKind, Seen, Tri};

/// How many callers, verdicts or entries a list shows before it says how
/// many more there are (the JSON keeps them all).
pub(super) const SHOWN: usize = 5;

/// The widest line the text reports write.
pub(super) const WIDTH: usize = 120;

/// `role/name@account` for an IAM ARN; anything else as is.
pub(super) fn short_arn(arn: &str) -> String {
    let Some(crate::arn::Arn {
        account, resource, ..
    }) = crate::arn::Arn::parse(arn)
    else {
        return arn.to_owned();
    };
    let mut segments = resource.split('/');
    let kind = segments.next().unwrap_or_default();
    let name = segments.next_back().unwrap_or_default();
    if name.is_empty() {
        format!("{kind}@{account}")
    } else {
        format!("{kind}/{name}@{account}")
    }
}

/// A caller in a table cell: the class in a word, the principal without
/// the key's own account, the service without `.amazonaws.com`.
pub(super) fn table_caller(c: &Caller, key_arn: &str) -> String {
    let key_account = key_arn.split(':').nth(4).unwrap_or_default();
    let principal = |arn: &str| {
        let short = short_arn(arn);
        match short.rsplit_once('@') {
            Some((name, account)) if account == key_account => name.to_owned(),
            _ => short,
        }
    };
    let service = |s: &str| s.trim_end_matches(".amazonaws.com").to_owned();
    let who = match (&c.principal_arn, &c.invoked_by) {
        (Some(p), Some(via)) => format!("{} via {}", principal(p), service(via)),
        (Some(p), None) => principal(p),
        (None, Some(via)) => service(via),
        (None, None) => c.account_id.clone().unwrap_or_else(|| "?".into()),
    };
    let class = match c.class {
        CallerClass::ServicePrincipal => "service",
        CallerClass::ForwardAccess => "fas",
        CallerClass::ServiceLinkedRole => "slr",
        CallerClass::ServiceEvent => "event",
        CallerClass::Direct => "direct",
        CallerClass::Unknown => "?",
    };
    format!("{class} {who}")
}

/// A caller in one short line.
pub(super) fn short_caller(c: &Caller) -> String {
    let who = match (&c.principal_arn, &c.invoked_by) {
        (Some(p), Some(via)) => format!("{} via {via}", short_arn(p)),
        (Some(p), None) => short_arn(p),
        (None, Some(via)) => via.clone(),
        (None, None) => c.account_id.clone().unwrap_or_else(|| "?".into()),
    };
    format!("{} {who}", c.class.as_str())
}

/// A caller with its full principal ARN (the HTML report's tables and
/// tooltips: the JSON and HTML keep ARNs whole).
pub(super) fn full_caller(c: &Caller) -> String {
    let who = match (&c.principal_arn, &c.invoked_by) {
        (Some(p), Some(via)) => format!("{p} via {via}"),
        (Some(p), None) => p.clone(),
        (None, Some(via)) => via.clone(),
        (None, None) => c.account_id.clone().unwrap_or_else(|| "?".into()),
    };
    format!("{} {who}", c.class.as_str())
}

pub(super) fn classes(by_class: &BTreeMap<CallerClass, u64>) -> String {
    by_class
        .iter()
        .map(|(c, n)| format!("{n} {}", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Wraps `text` at [`WIDTH`], the first line after `first`, the rest
/// indented by `indent` spaces.
pub(super) fn wrapped(first: &str, indent: usize, text: &str) -> String {
    let mut out = first.to_owned();
    let mut col = first.chars().count();
    for word in text.split(' ') {
        let n = word.chars().count();
        if col + 1 + n > WIDTH && col > indent {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if col > 0 && !out.ends_with(' ') {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += n;
    }
    out
}

/// How the two text formats differ.
#[derive(Clone, Copy)]
pub(super) struct Style {
    pub heading: &'static str,
    pub bullet: &'static str,
    pub code_open: &'static str,
    pub code_close: &'static str,
    /// Markdown: fields as a nested list item, long sections in `<details>`.
    pub markdown: bool,
    /// Styles (bold headings, the state, diff lines) for a terminal; the
    /// writer drops them elsewhere (`anstream`).
    pub color: bool,
}

impl Style {
    /// The plain-text report: `== ` headings, styles for a terminal.
    pub(super) const TEXT: Style = Style {
        heading: "== ",
        bullet: "- ",
        code_open: "",
        code_close: "",
        markdown: false,
        color: true,
    };

    /// Markdown: `## ` headings, diffs in fenced blocks, no styles.
    pub(super) const MARKDOWN: Style = Style {
        heading: "## ",
        bullet: "- ",
        code_open: "\n  ```diff",
        code_close: "  ```",
        markdown: true,
        color: false,
    };

    /// `label: text` under a bullet: aligned and wrapped in text, a nested
    /// list item in Markdown.
    pub(super) fn field(self, label: &str, text: &str) -> String {
        if self.markdown {
            // Continuation lines indented: the same list item in GFM.
            wrapped(&format!("  - **{label}**:"), 4, text)
        } else {
            wrapped(&format!("  {:<10}", format!("{label}:")), 12, text)
        }
    }

    /// `text` in `style` when styles are on.
    pub(super) fn paint(self, style: anstyle::Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// A heading line: bold on a terminal.
    pub(super) fn head(self, text: &str) -> String {
        self.paint(
            anstyle::Style::new().bold(),
            &format!("{}{text}", self.heading),
        )
    }

    /// Opens a folded section in Markdown (GitHub renders `<details>`;
    /// the blank line lets Markdown inside it render); nothing in text.
    pub(super) fn fold(self, summary: &str) -> String {
        if self.markdown {
            format!("<details><summary>{summary}</summary>\n\n")
        } else {
            String::new()
        }
    }

    /// Closes what [`Self::fold`] opened.
    pub(super) fn unfold(self) -> &'static str {
        if self.markdown { "</details>\n\n" } else { "" }
    }

    /// One entry of a list under a field.
    pub(super) fn item(self, text: &str) -> String {
        if self.markdown {
            format!("    - {text}")
        } else {
            format!("            {text}")
        }
    }
}

pub(super) fn statement_words(s: &StatementRef) -> String {
    match &s.sid {
        Some(sid) => format!("statement {} (\"{sid}\")", s.index),
        None => format!("statement {}", s.index),
    }
}

fn seen_words(s: &Seen) -> String {
    match s {
        Seen::Present(v) => format!("`{}`", v.join("`, `")),
        Seen::Absent => "absent".into(),
        Seen::Unknown => "unknown (CloudTrail cannot tell)".into(),
    }
}

fn tri_words(t: Tri) -> &'static str {
    match t {
        Tri::True => "true",
        Tri::False => "false",
        Tri::Unknown => "unknown",
    }
}

pub(super) fn evidence_line(c: &ConditionTrace) -> String {
    format!("{}: {}", condition_words(c), seen_result_words(c))
}

/// A condition without what a request showed: operator, key, values.
pub(super) fn condition_words(c: &ConditionTrace) -> String {
    let mut values: Vec<String> = c.values.to_vec();
    if values.len() > 5 {
        let more = values.len() - 5;
        values.truncate(5);
        values.push(format!("... {more} more"));
    }
    format!("{} `{}` [{}]", c.operator, c.key, values.join(", "))
}

/// What one request showed of a condition's key, and the result.
pub(super) fn seen_result_words(c: &ConditionTrace) -> String {
    format!("seen {} -> {}", seen_words(&c.seen), tri_words(c.result))
}

pub(super) fn fix_kind(k: FixKind) -> &'static str {
    match k {
        FixKind::Broad => "broad",
        FixKind::Narrow => "narrow",
        FixKind::Restore => "restore",
    }
}

pub(super) fn verified_words(f: &ProposedFix) -> &'static str {
    if f.over_size_limit {
        return "NOT verified: over the 32 KB key policy limit";
    }
    if f.verified {
        "verified"
    } else {
        "NOT verified"
    }
}

pub(super) fn subject_words(s: &CheckSubject) -> String {
    match s {
        CheckSubject::ThisRequest => "this request".into(),
        CheckSubject::Blocked { caller, event_name } => {
            format!("blocked caller {}, {event_name}", short_caller(caller))
        }
        CheckSubject::Observed { caller, event_name } => {
            format!("observed caller {}, {event_name}", short_caller(caller))
        }
        CheckSubject::Exempted { principal_arn } => format!("exempted principal {principal_arn}"),
        CheckSubject::Probe {
            probe,
            principal,
            event_name,
        } => format!("{} ({principal}), {event_name}", probe_words(*probe)),
    }
}

pub(super) fn probe_words(p: ProbeKind) -> &'static str {
    match p {
        ProbeKind::UnlistedUser => "an unlisted IAM user of the account",
        ProbeKind::OtherAccount => "a principal of another account",
        ProbeKind::OtherService => "another service principal",
        ProbeKind::OtherViaService => "a call through another service",
        ProbeKind::OtherAccountViaService => {
            "a call through a service by a principal of another account"
        }
        ProbeKind::OtherSourceIp => "a call from another IP address",
        ProbeKind::OtherVpcEndpoint => "a call through another VPC endpoint",
        ProbeKind::OtherEncryptionContext => "a call with another encryption context",
    }
}
