//! denydiff: find who a KMS key policy is really blocking, from CloudTrail.
//!
//! The pipeline is `source -> collect -> analysis -> report`: sources decode
//! inputs into records, the collector counts, deduplicates and filters them
//! into KMS call rows, the analysis turns the rows and the key policies into
//! one plain result (groups, diagnosis, verdicts, causes, timeline), and a
//! report renders it. [`run`] wires it to the command line.

pub mod analysis;
pub mod arn;
pub mod call;
pub mod cli;
pub mod collect;
pub mod event;
pub mod explain;
pub mod fetch;
pub mod policy;
pub mod report;
pub mod settings;
pub mod source;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use crate::analysis::policies::{KeyPolicy, PolicyError, PolicySet, PolicySource};
use crate::cli::{Cli, Command};
use crate::collect::Collector;
use crate::settings::Settings;

/// denydiff's exit codes, documented in README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every input was read.
    Ok,
    /// The report was made, but some inputs (or records) failed.
    InputsFailed,
    /// Usage error or fatal error: no report.
    Error,
    /// `explain`: the decision (0 allowed, 3, 4, 5; see README).
    Decision(u8),
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        ExitCode::from(match s {
            ExitStatus::Ok => 0,
            ExitStatus::InputsFailed => 1,
            ExitStatus::Error => 2,
            ExitStatus::Decision(code) => code,
        })
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Analyze(args) => analyze(&Settings::from_args(*args)?),
        Command::Explain(args) => explain_cmd(&args),
        Command::Fetch(args) => fetch::run(&settings::FetchSettings::from_args(*args)?),
    }
}

fn explain_cmd(a: &cli::ExplainArgs) -> anyhow::Result<ExitStatus> {
    if a.policies.len() > 2 {
        anyhow::bail!("`--policy` may be given at most twice (old, then new)");
    }
    let policies = a
        .policies
        .iter()
        .map(|p| Ok((p.display().to_string(), settings::read_policy(p)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let subject = match (&a.event, &a.request) {
        (_, Some(r)) => explain::load_request(r)?,
        (Some(e), None) => explain::load_event(e, a.org_id.as_deref())?,
        (None, None) => anyhow::bail!("give an EVENT file or `--request FILE`"),
    };
    let x = explain::explain(&subject, &policies);
    let format = a.format.unwrap_or_else(settings::default_format);
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    report::explanation::render(&x, format, &mut w)?;
    w.flush()?;
    Ok(ExitStatus::Decision(explain::exit_code(x.decision)))
}

fn analyze(s: &Settings) -> anyhow::Result<ExitStatus> {
    let mut collector = Collector::new(s.filters.clone());
    source::files::read_paths(&s.paths, &mut collector, s.threads, s.strict, !s.quiet);
    if !s.remotes.is_empty() {
        source::remote::fetch(&s.remotes, &s.aws, &s.query, &mut |item| {
            source::items::collect(item, &mut collector);
            !(s.strict && collector.has_failed())
        })?;
    }
    let mut collected = collector.finish();
    if collected.inputs.kms_calls == 0 && collected.left_out.calls > 0 {
        collected.failures.push(collect::Failure {
            source: "filters".into(),
            reason: nothing_left(&s.filters, &collected.left_out),
        });
    }
    strict_stop(s, &collected)?;
    let policies = policies(s, &mut collected)?;
    // A `kms:GetKeyPolicy` that failed (`--fetch-policy`) is an input too.
    strict_stop(s, &collected)?;
    if !s.quiet {
        for f in &collected.failures {
            eprintln!("denydiff: `{}`: {}", f.source, f.reason);
        }
        for e in &policies.errors {
            eprintln!("denydiff: warning: key `{}`: {}", e.key_arn, e.reason);
        }
    }
    let analysis = analysis::analyze(collected, &policies, &s.analysis)?;
    write_report(s, &analysis)?;
    Ok(if analysis.failures.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::InputsFailed
    })
}

/// Says that the filters left no KMS call, and what there was: a filter
/// that matches nothing must not pass for a quiet trail.
fn nothing_left(f: &collect::Filters, l: &collect::LeftOut) -> String {
    let mut given = Vec::new();
    if let Some(t) = f.since_ms {
        given.push(format!("`--since {}`", call::fmt_time(t)));
    }
    if let Some(t) = f.until_ms {
        given.push(format!("`--until {}`", call::fmt_time(t)));
    }
    given.extend(f.keys.iter().map(|k| format!("`--key {k}`")));
    given.extend(f.event_names.iter().map(|e| format!("`--event-name {e}`")));
    let list = |set: &std::collections::BTreeSet<String>| {
        set.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let span = match (l.first_ms, l.last_ms) {
        (Some(a), Some(b)) => format!(" from {} to {}", call::fmt_time(a), call::fmt_time(b)),
        _ => String::new(),
    };
    format!(
        "nothing to analyse: {} left none of the {} KMS calls read; they run{span}, on keys {} and events {}\nhint: widen the window, or check the key and event names against these",
        given.join(", "),
        l.calls,
        list(&l.keys),
        list(&l.event_names)
    )
}

/// With `--strict`, the first failed input ends the run without a report.
fn strict_stop(s: &Settings, c: &collect::Collected) -> anyhow::Result<()> {
    match c.failures.first() {
        Some(f) if s.strict => anyhow::bail!(
            "`{}`: {}\nhint: stopped at the first input that failed (`--strict`)",
            f.source,
            f.reason
        ),
        _ => Ok(()),
    }
}

/// The key policies: the trail's, then `--fetch-policy`, then `--policy`.
fn policies(s: &Settings, c: &mut collect::Collected) -> anyhow::Result<PolicySet> {
    let mut set = PolicySet::from_trail(&c.lifecycle);
    // The distinct keys, sorted: a string per call first was the run's
    // peak at 5 GB (29 MB for 228,000 calls, massif).
    let keys: Vec<String> = c
        .calls
        .iter()
        .map(|k| &*k.key)
        .filter(|k| k.starts_with("arn:"))
        .collect::<std::collections::BTreeSet<&str>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    if s.fetch_policy {
        for (key, result) in source::kms::fetch_policies(&s.aws, &keys) {
            match result.map(|text| policy::parse_policy(&text).map_err(|e| e.to_string())) {
                Ok(Ok(policy)) => set.add(KeyPolicy {
                    key_arn: key,
                    source: PolicySource::Api,
                    origin: None,
                    event_id: None,
                    time_ms: None,
                    actor: None,
                    event_name: None,
                    policy,
                }),
                Ok(Err(e)) => set.errors.push(PolicyError {
                    key_arn: key,
                    source: PolicySource::Api,
                    event_id: None,
                    reason: format!("the fetched policy does not parse: {e}"),
                }),
                Err(e) => {
                    c.inputs.files_failed += 1;
                    c.failures.push(collect::Failure {
                        source: format!("kms:GetKeyPolicy {key}"),
                        reason: e,
                    });
                }
            }
        }
    }
    if let Some((path, policy)) = &s.policy {
        if s.filters.keys.is_empty() && keys.len() > 1 {
            anyhow::bail!(
                "`--policy {}` would apply to {} keys\nhint: name the key it belongs to with `--key`",
                path.display(),
                keys.len()
            );
        }
        for key in keys {
            set.add(KeyPolicy {
                key_arn: key,
                source: PolicySource::File,
                origin: Some(path.display().to_string()),
                event_id: None,
                time_ms: None,
                actor: None,
                event_name: None,
                policy: policy.clone(),
            });
        }
    }
    Ok(set)
}

fn write_report(s: &Settings, analysis: &analysis::Analysis) -> anyhow::Result<()> {
    if let Some(path) = &s.output {
        let file = std::fs::File::create(path)
            .with_context(|| format!("creating `{}`", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        report::render(analysis, s.format, &mut w)?;
        w.flush()
            .with_context(|| format!("writing `{}`", path.display()))?;
    } else {
        let mut w = std::io::BufWriter::new(std::io::stdout().lock());
        report::render(analysis, s.format, &mut w)?;
        w.flush()?;
    }
    Ok(())
}

/// True when an error is a closed stdout (`denydiff ... | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
