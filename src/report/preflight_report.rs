//! The `check` report: who a proposed key policy would cut off, in the
//! four formats `check` writes (table, JSON, Markdown for a pull-request
//! comment, GitHub Actions annotations). Every word of it is here.

use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;
use tabled::builder::Builder;

use super::prose::outcome_words;
use super::words::{
    SHOWN, Style, WIDTH, condition_words, evidence_line, seen_result_words, short_caller,
    statement_words, table_caller, wrapped,
};
use crate::analysis::policies::PolicyError;
use crate::analysis::policies::PolicySource;
use crate::analysis::preflight::{CallerChange, CheckVerdict, KeyCheck, ListKind};
use crate::call::fmt_time;
use crate::cli::CheckFormat;
use crate::collect::{Failure, Inputs};
use crate::policy::ConditionTrace;
use crate::proposal::{ProposalKind, ProposalRef, Unseen};

/// What the check report shows: the checks of `analysis::preflight`, with
/// the proposal and the inputs they were made from.
#[derive(Debug, Serialize)]
pub struct Preflight {
    /// The proposal file and what it is.
    pub proposal: ProposalRef,
    pub verdict: CheckVerdict,
    pub keys: Vec<KeyCheck>,
    /// Resources of the proposal whose key the trail shows no call to:
    /// no observed caller to lose.
    pub unseen: Vec<Unseen>,
    pub inputs: Inputs,
    pub failures: Vec<Failure>,
    /// Trail policies that could not be used.
    pub policy_errors: Vec<PolicyError>,
}

/// Renders `r` in `format`.
pub fn render(r: &Preflight, format: CheckFormat, w: &mut impl Write) -> std::io::Result<()> {
    match format {
        CheckFormat::Json => json(r, w),
        CheckFormat::Table => text(r, TEXT, w),
        CheckFormat::Markdown => text(r, MD, w),
        CheckFormat::Github => github(r, w),
    }
}

/// Sections under the verdict line: no heading marks, indented items.
const TEXT: Style = Style {
    heading: "",
    bullet: "  ",
    color: false,
    ..Style::TEXT
};

/// One level below a pull-request comment's own headings.
const MD: Style = Style {
    heading: "### ",
    ..Style::MARKDOWN
};

/// The JSON report: the [`Preflight`] with a `schema_version`, as
/// `analyze`'s.
#[derive(Serialize)]
struct CheckJson<'a> {
    schema_version: u32,
    #[serde(flatten)]
    check: &'a Preflight,
}

fn json(r: &Preflight, w: &mut impl Write) -> std::io::Result<()> {
    let report = CheckJson {
        schema_version: super::SCHEMA_VERSION,
        check: r,
    };
    serde_json::to_writer(&mut *w, &report)?;
    writeln!(w)
}

/// `label: text`: [`Style::field`] in text; in Markdown a list item
/// wrapped at [`WIDTH`] (a pull-request comment is read as source too).
fn field(st: Style, label: &str, text: &str) -> String {
    if st.markdown {
        wrapped(&format!("- **{label}**:"), 2, text)
    } else {
        st.field(label, text)
    }
}

fn kind_words(k: ProposalKind) -> &'static str {
    match k {
        ProposalKind::KeyPolicy => "key policy",
        ProposalKind::TerraformPlan => "Terraform plan",
        ProposalKind::CloudFormation => "CloudFormation template",
    }
}

/// The answer, in one line.
fn headline(r: &Preflight) -> String {
    let count = |kind| {
        r.keys
            .iter()
            .map(|k: &KeyCheck| callers(k.list(kind)))
            .sum::<usize>()
    };
    let lose = count(ListKind::Lose);
    let still = count(ListKind::StillDenied);
    let undetermined = count(ListKind::Undetermined);
    let gain = count(ListKind::Gain);
    let not_replayed: usize = r.keys.iter().map(|k| k.not_evaluable.len()).sum();
    let mut more = String::new();
    if still > 0 && r.verdict == CheckVerdict::Lose {
        let _ = write!(more, ", {still} more stay(s) cut off");
    }
    if undetermined > 0 && matches!(r.verdict, CheckVerdict::Lose | CheckVerdict::StillDenied) {
        let _ = write!(more, ", {undetermined} more undetermined");
    }
    if gain > 0 {
        let _ = write!(more, "; {gain} would gain access");
    }
    match r.verdict {
        CheckVerdict::Lose => {
            format!("FAIL: {lose} caller(s) seen in the trail would lose access{more}")
        }
        CheckVerdict::StillDenied => format!(
            "FAIL: {still} caller(s) seen succeeding in the trail are denied by the policy in force and the proposal still denies them{more}"
        ),
        CheckVerdict::Undetermined => {
            let mut why = Vec::new();
            if undetermined > 0 {
                why.push(format!(
                    "{undetermined} depend(s) on keys CloudTrail cannot show"
                ));
            }
            if not_replayed > 0 {
                why.push(format!(
                    "{not_replayed} could not be replayed (CloudTrail does not identify them)"
                ));
            }
            format!(
                "UNDETERMINED: no caller seen in the trail loses access for sure; {}{more}",
                why.join(", ")
            )
        }
        CheckVerdict::NotProven => format!(
            "NOT PROVEN: no loss found, but some inputs failed or no call was left to replay{more}"
        ),
        CheckVerdict::Pass => format!("PASS: no caller seen in the trail loses access{more}"),
    }
}

/// Distinct callers of a list (one caller may be hit by two statements).
fn callers(list: &[CallerChange]) -> usize {
    let mut seen: Vec<&crate::call::Caller> = Vec::new();
    for c in list {
        if !seen.contains(&&c.caller) {
            seen.push(&c.caller);
        }
    }
    seen.len()
}

fn current_words(k: &KeyCheck) -> String {
    match &k.current {
        None => "none known (no policy change in the trail, no `--current`, no `--fetch-policy`): \
                 a caller loses access when the proposal denies what it did successfully"
            .into(),
        Some(p) => match p.source {
            PolicySource::File => {
                format!("`--current {}`", p.origin.as_deref().unwrap_or_default())
            }
            PolicySource::Api => "fetched with kms:GetKeyPolicy".into(),
            PolicySource::Trail => format!(
                "the latest the trail shows (event {})",
                p.event_id.as_deref().unwrap_or("?")
            ),
        },
    }
}

fn calls_words(c: &CallerChange) -> String {
    format!(
        "{} ok, {} denied; last {}",
        c.succeeded,
        c.denied,
        last_seen(c)
    )
}

fn text(r: &Preflight, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let md = st.markdown;
    if md {
        writeln!(w, "## denydiff check\n")?;
        writeln!(w, "**{}**\n", headline(r))?;
        writeln!(
            w,
            "Proposal: `{}` ({})\n",
            r.proposal.path,
            kind_words(r.proposal.kind)
        )?;
    } else {
        writeln!(w, "{}", headline(r))?;
        writeln!(
            w,
            "{}\n",
            wrapped(
                "proposal: ",
                10,
                &format!("{} ({})", r.proposal.path, kind_words(r.proposal.kind))
            )
        )?;
    }
    for k in &r.keys {
        key(k, st, w)?;
    }
    if r.keys.is_empty() {
        writeln!(
            w,
            "No key of the proposal has calls in the trail: no observed caller to lose.\n"
        )?;
    }
    for u in &r.unseen {
        let what = u.resource.as_deref().unwrap_or("the policy");
        let line = match (&u.key_ref, u.creates) {
            (_, true) => format!("`{what}`: the proposal creates this key, so no caller to lose"),
            (Some(key), false) => format!(
                "`{what}` (key `{key}`): the trail shows no call to this key, so no caller to lose"
            ),
            (None, false) => {
                format!("`{what}`: the trail shows no call to its key, so no caller to lose")
            }
        };
        writeln!(w, "{}", item(md, "", &line))?;
    }
    if !r.unseen.is_empty() {
        writeln!(w)?;
    }
    let i = &r.inputs;
    let replayed: u64 = r.keys.iter().map(|k| k.calls).sum();
    writeln!(
        w,
        "{} files read, {} failed; {} KMS calls read, {replayed} replayed",
        i.files_read, i.files_failed, i.kms_calls
    )?;
    for f in &r.failures {
        let (reason, hints) = split_hints(&f.reason);
        let line = format!("`{}`: {reason}", f.source);
        writeln!(w, "{}", item(md, "input failed: ", &line))?;
        for h in hints {
            writeln!(w, "{}", wrapped("  ", 4, h))?;
        }
    }
    Ok(())
}

/// A message's first line, and the lines after it (`hint: ...`), which
/// stay lines of their own.
fn split_hints(message: &str) -> (&str, impl Iterator<Item = &str>) {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or_default();
    (first, lines.filter(|l| !l.trim().is_empty()))
}

/// A line of a list: a Markdown item, or text wrapped under `label`.
fn item(md: bool, label: &str, text: &str) -> String {
    if md {
        wrapped(&format!("- {label}"), 2, text)
    } else {
        wrapped(label, 2, text)
    }
}

fn key(k: &KeyCheck, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let md = st.markdown;
    let resource = k
        .resource
        .as_deref()
        .map(|r| format!(" (`{r}`)"))
        .unwrap_or_default();
    if md {
        writeln!(w, "{}Key `{}`{resource}\n", st.heading, k.key_arn)?;
    } else {
        writeln!(w, "Key {}{resource}", k.key_arn)?;
    }
    let facts = [
        ("in force", current_words(k)),
        (
            "replayed",
            format!(
                "{} caller(s), {} request shape(s), {} calls",
                k.callers, k.shapes, k.calls
            ),
        ),
    ];
    for (label, text) in facts {
        writeln!(w, "{}", field(st, label, &text))?;
    }
    if !k.not_evaluable.is_empty() {
        let who: Vec<String> = k
            .not_evaluable
            .iter()
            .take(SHOWN)
            .map(short_caller)
            .collect();
        writeln!(
            w,
            "{}",
            field(
                st,
                "not replayed",
                &format!(
                    "{} caller(s) CloudTrail does not identify: {}",
                    k.not_evaluable.len(),
                    who.join("; ")
                )
            )
        )?;
    }
    writeln!(w)?;
    for kind in ListKind::ALL {
        section(k, kind, st, w)?;
    }
    if ListKind::ALL.iter().all(|&kind| k.list(kind).is_empty()) {
        writeln!(w, "No caller seen on this key changes decision.\n")?;
    } else {
        // The callers' short names, as `analyze`'s table writes them.
        writeln!(w, "{}\n", super::table::legend(&k.key_arn))?;
    }
    fixes(k, st, w)
}

fn list_title(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Lose => "Would lose access",
        ListKind::StillDenied => {
            "Still denied (cut off by the policy in force, and by the proposal)"
        }
        ListKind::Undetermined => "Undetermined",
        ListKind::Gain => "Would gain access",
    }
}

/// One list, per deciding statement: the statement (and its line), its
/// evidence, then its callers (a table in text, a list in Markdown).
fn section(k: &KeyCheck, kind: ListKind, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    let title = list_title(kind);
    let gain = kind == ListKind::Gain;
    for group in by_statement(k.list(kind)) {
        let first = group[0];
        let line = first
            .line
            .map(|l| format!(", line {l}"))
            .unwrap_or_default();
        let what = match &first.statement {
            Some(s) => format!("{}{line}", statement_words(s)),
            None if gain => "no Deny of the proposal matches (the grant it used lets it in)".into(),
            None if kind == ListKind::Undetermined => {
                "no statement of the proposal allows the call; with no policy in force known, \
                 a grant may be what let it in"
                    .into()
            }
            None => "no statement of the proposal allows the call (a grant may still)".into(),
        };
        let head = format!("{title}: {what}: {} caller(s)", group.len());
        if st.markdown {
            writeln!(w, "**{title}**: {what}: {} caller(s)\n", group.len())?;
        } else {
            writeln!(w, "{}", wrapped("", 2, &head))?;
        }
        let mut fields = 0;
        if !gain {
            for (i, e) in first.evidence.iter().enumerate() {
                let text = evidence_for(&group, i, e, &k.key_arn);
                writeln!(w, "{}", field(st, "evidence", &text))?;
                fields += 1;
            }
        }
        let mut unknown: Vec<&str> = Vec::new();
        for key in group.iter().flat_map(|c| &c.uncertain_keys) {
            if !unknown.contains(&key.as_str()) {
                unknown.push(key);
            }
        }
        if !unknown.is_empty() {
            let text = format!("{} (CloudTrail cannot show them)", unknown.join(", "));
            writeln!(w, "{}", field(st, "hangs on", &text))?;
            fields += 1;
        }
        if st.markdown && fields > 0 {
            writeln!(w)?;
        }
        if st.markdown {
            callers_list(k, &group, w)?;
        } else {
            callers_table(k, &group, w)?;
        }
    }
    Ok(())
}

/// Condition `i` of a group's statement (`e`, as the first caller's
/// request shows it): one line when every caller shows the same, else
/// what each shows, with whose it is.
fn evidence_for(group: &[&CallerChange], i: usize, e: &ConditionTrace, key_arn: &str) -> String {
    let mut seen: Vec<(String, Vec<String>)> = Vec::new();
    for c in group {
        let Some(ce) = c
            .evidence
            .get(i)
            .filter(|ce| ce.key == e.key && ce.operator == e.operator)
        else {
            continue;
        };
        let words = seen_result_words(ce);
        let who = table_caller(&c.caller, key_arn);
        match seen.iter_mut().find(|(w, _)| *w == words) {
            Some((_, callers)) => callers.push(who),
            None => seen.push((words, vec![who])),
        }
    }
    if seen.len() <= 1 {
        return evidence_line(e);
    }
    let per: Vec<String> = seen
        .iter()
        .map(|(words, callers)| {
            let more = callers.len().saturating_sub(SHOWN);
            let mut who = callers[..callers.len().min(SHOWN)].join(", ");
            if more > 0 {
                let _ = write!(who, " and {more} more");
            }
            format!("{words} ({who})")
        })
        .collect();
    format!("{}: {}", condition_words(e), per.join("; "))
}

/// The entries of `list` per deciding statement, in order of first sight.
fn by_statement(list: &[CallerChange]) -> Vec<Vec<&CallerChange>> {
    let mut out: Vec<Vec<&CallerChange>> = Vec::new();
    for c in list {
        let id = c.statement.as_ref().map(|s| s.index);
        match out
            .iter_mut()
            .find(|g| g[0].statement.as_ref().map(|s| s.index) == id)
        {
            Some(g) => g.push(c),
            None => out.push(vec![c]),
        }
    }
    out
}

/// What the policy in force says of the caller.
fn now_words(c: &CallerChange) -> String {
    match (&c.now_statement, c.now) {
        (Some(s), _) => format!("denied by {}", statement_words(s)),
        (_, Some(o)) => outcome_words(o).to_owned(),
        (_, None) => "unknown".into(),
    }
}

fn last_seen(c: &CallerChange) -> String {
    c.last_seen.map_or_else(|| "?".into(), fmt_time)
}

fn callers_table(k: &KeyCheck, group: &[&CallerChange], w: &mut impl Write) -> std::io::Result<()> {
    let mut b = Builder::default();
    b.push_record(["caller", "events", "calls", "last seen", "now"]);
    let shown = group.len().min(SHOWN * 4);
    for c in &group[..shown] {
        b.push_record([
            table_caller(&c.caller, &k.key_arn),
            c.event_names.join(", "),
            format!("{} ok, {} denied", c.succeeded, c.denied),
            last_seen(c),
            now_words(c),
        ]);
    }
    let mut t = b.build();
    t.with(tabled::settings::Style::sharp()).with(
        tabled::settings::Width::wrap(WIDTH)
            .priority(tabled::settings::peaker::Priority::max(true)),
    );
    writeln!(w, "{t}")?;
    if group.len() > shown {
        writeln!(
            w,
            "... and {} more (all in `--format json`)",
            group.len() - shown
        )?;
    }
    writeln!(w)
}

fn callers_list(k: &KeyCheck, group: &[&CallerChange], w: &mut impl Write) -> std::io::Result<()> {
    let folded = group.len() > SHOWN;
    if folded {
        writeln!(w, "<details><summary>{} callers</summary>\n", group.len())?;
    }
    for c in group {
        let line = format!(
            "- `{}`: {}; {} ok, {} denied, last {}; now {}",
            table_caller(&c.caller, &k.key_arn),
            c.event_names.join(", "),
            c.succeeded,
            c.denied,
            last_seen(c),
            now_words(c)
        );
        writeln!(w, "{}", wrapped("", 2, &line))?;
    }
    if folded {
        writeln!(w, "\n</details>")?;
    }
    writeln!(w)
}

fn fixes(k: &KeyCheck, st: Style, w: &mut impl Write) -> std::io::Result<()> {
    if k.fixes.is_empty() && k.fix_failures.is_empty() {
        return Ok(());
    }
    if st.markdown {
        writeln!(
            w,
            "**Fixes to the proposal**\n\n<details><summary>{} fix(es), each re-checked against every caller seen and the statement's probes</summary>\n",
            k.fixes.len()
        )?;
    } else {
        writeln!(
            w,
            "Fixes to the proposal (each re-checked against every caller seen and the statement's probes):"
        )?;
    }
    for f in &k.fixes {
        super::prose::fix(f, super::prose::DiffBase::Proposed, st, w)?;
    }
    for f in &k.fix_failures {
        let (reason, hints) = split_hints(&f.reason);
        let line = format!("{}: {reason}", super::words::fix_kind(f.kind));
        writeln!(w, "{}", wrapped("  no fix: ", 4, &line))?;
        for h in hints {
            writeln!(w, "{}", wrapped("    ", 6, h))?;
        }
    }
    if st.markdown {
        writeln!(w, "\n</details>")?;
    }
    writeln!(w)
}

/// A GitHub Actions workflow command's level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn of(kind: ListKind) -> Level {
        match kind {
            ListKind::Lose | ListKind::StillDenied => Level::Error,
            ListKind::Undetermined => Level::Warning,
            ListKind::Gain => Level::Notice,
        }
    }

    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// GitHub Actions workflow commands: `::error` per Deny statement (or
/// lost Allow) that cuts callers off or keeps them cut off, `::warning`
/// per undetermined one, `::notice` for gains; `line=` where the
/// proposal's text shows the Sid.
fn github(r: &Preflight, w: &mut impl Write) -> std::io::Result<()> {
    for k in &r.keys {
        for kind in ListKind::ALL {
            for group in by_statement(k.list(kind)) {
                annotation(r, k, kind, &group, w)?;
            }
        }
    }
    let line = headline(r);
    let level = match r.verdict {
        CheckVerdict::Pass => Level::Notice,
        CheckVerdict::Undetermined | CheckVerdict::NotProven => Level::Warning,
        CheckVerdict::Lose | CheckVerdict::StillDenied => Level::Error,
    };
    writeln!(
        w,
        "::{} title=denydiff check::{}",
        level.command(),
        escape_data(&line)
    )
}

fn annotation(
    r: &Preflight,
    k: &KeyCheck,
    kind: ListKind,
    group: &[&CallerChange],
    w: &mut impl Write,
) -> std::io::Result<()> {
    let first = group[0];
    let n = group.len();
    let title = annotation_title(first, kind, n);
    let who: Vec<String> = group
        .iter()
        .take(SHOWN)
        .map(|c| {
            format!(
                "{} ({}; {})",
                short_caller(&c.caller),
                c.event_names.join(", "),
                calls_words(c)
            )
        })
        .collect();
    let more = group.len().saturating_sub(SHOWN);
    let mut msg = format!("Key {}: {}", k.key_arn, who.join("; "));
    if more > 0 {
        let _ = write!(msg, "; and {more} more");
    }
    let level = Level::of(kind);
    if kind == ListKind::Undetermined {
        let keys: std::collections::BTreeSet<&str> = group
            .iter()
            .flat_map(|c| c.uncertain_keys.iter().map(String::as_str))
            .collect();
        let keys: Vec<&str> = keys.into_iter().collect();
        let _ = write!(
            msg,
            ". It hangs on keys CloudTrail cannot show: {}",
            keys.join(", ")
        );
    }
    if level == Level::Error
        && let Some(f) = first
            .fixes
            .iter()
            .find_map(|id| k.fixes.iter().find(|f| f.id == id.id && f.verified))
    {
        let _ = write!(
            msg,
            ". Verified fix ({}): {}",
            super::words::fix_kind(f.kind),
            f.description
        );
    }
    let line = first.line.map(|l| format!(",line={l}")).unwrap_or_default();
    writeln!(
        w,
        "::{} file={}{line},title={}::{}",
        level.command(),
        escape_property(&r.proposal.path),
        escape_property(&title),
        escape_data(&msg)
    )
}

/// An annotation's title: what the statement does to the group's `n` callers.
fn annotation_title(first: &CallerChange, kind: ListKind, n: usize) -> String {
    match (&first.statement, kind) {
        (Some(st), ListKind::Lose) => format!(
            "{} would deny {n} caller(s) seen in the trail",
            statement_words(st)
        ),
        (Some(st), ListKind::StillDenied) => format!(
            "{} would still deny {n} caller(s) the policy in force cuts off",
            statement_words(st)
        ),
        (Some(st), ListKind::Undetermined) => format!(
            "{} may deny {n} caller(s) seen in the trail (undetermined)",
            statement_words(st)
        ),
        (Some(st), ListKind::Gain) => format!(
            "{} would newly allow {n} caller(s) seen in the trail",
            statement_words(st)
        ),
        (None, ListKind::Gain) => {
            format!("no Deny would refuse {n} caller(s) seen in the trail any more")
        }
        (None, ListKind::Undetermined) => format!(
            "no statement would allow {n} caller(s) seen in the trail; a grant may (undetermined)"
        ),
        (None, _) => {
            format!("no statement would allow {n} caller(s) seen in the trail any more")
        }
    }
}

/// A workflow command's message: `%`, CR and LF escaped.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property: also `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
