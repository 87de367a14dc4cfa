//! `denydiff analyze`: read the inputs, collect the KMS calls and key
//! changes, gather the key policies, analyse, and write the report.

use std::path::PathBuf;

use crate::analysis::policies::{KeyPolicy, PolicyError, PolicySet, PolicySource};
use crate::collect::{self, Collected, Collector};
use crate::policy::Policy;
use crate::settings::{Settings, TrailSettings};
use crate::{ExitStatus, analysis, call, policy, reduced_table, report, source};

pub fn run(s: &Settings) -> anyhow::Result<ExitStatus> {
    let mut collector = Collector::new(s.trail.filters.clone());
    if s.export_calls.is_some() {
        collector.keep_rows();
    }
    let (mut collected, policies) =
        read_trail_into(&s.trail, s.policy.as_ref(), "--policy", collector)?;
    if let Some(path) = &s.export_calls {
        let rows = std::mem::take(&mut collected.rows);
        reduced_table::write(path, &rows, collected.horizon_ms)?;
    }
    let mut analysis = analysis::analyze(collected, &policies, &s.analysis)?;
    write_report(s, &mut analysis)?;
    Ok(if analysis.failures.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::InputsFailed
    })
}

/// Reads the trail into KMS calls and key changes, and gathers the key
/// policies: the trail's, then `--fetch-policy`, then `policy_file`
/// (given with the command's flag `policy_flag`, which errors name).
/// Failed inputs are listed in the result (and on stderr unless quiet);
/// with `--strict`, the first one is an error.
pub fn read_trail(
    s: &TrailSettings,
    policy_file: Option<&(PathBuf, Policy)>,
    policy_flag: &str,
) -> anyhow::Result<(Collected, PolicySet)> {
    read_trail_into(
        s,
        policy_file,
        policy_flag,
        Collector::new(s.filters.clone()),
    )
}

/// [`read_trail`] into a collector set up by the caller (`--export-calls`
/// keeps the rows).
fn read_trail_into(
    s: &TrailSettings,
    policy_file: Option<&(PathBuf, Policy)>,
    policy_flag: &str,
    mut collector: Collector,
) -> anyhow::Result<(Collected, PolicySet)> {
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
    let policies = policies(s, policy_file, policy_flag, &mut collected)?;
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
    Ok((collected, policies))
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
fn strict_stop(s: &TrailSettings, c: &Collected) -> anyhow::Result<()> {
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
fn policies(
    s: &TrailSettings,
    policy_file: Option<&(PathBuf, Policy)>,
    policy_flag: &str,
    c: &mut Collected,
) -> anyhow::Result<PolicySet> {
    let mut set = PolicySet::from_trail(&c.lifecycle);
    let keys = super::trail_keys(&c.calls);
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
    if let Some((path, policy)) = policy_file {
        if s.filters.keys.is_empty() && keys.len() > 1 {
            anyhow::bail!(
                "`{policy_flag} {}` would apply to {} keys\nhint: name the key it belongs to with `--key`",
                path.display(),
                keys.len()
            );
        }
        for key in keys {
            set.add(KeyPolicy::from_file(key, path, policy));
        }
    }
    Ok(set)
}

/// Writes the report to `--output` or stdout. With `--redact`, the
/// analysis is rewritten first and the rendered document passes the same
/// rewriting again (see `report::redact`).
fn write_report(s: &Settings, analysis: &mut analysis::Analysis) -> anyhow::Result<()> {
    let mut redactor = s.redact.then(|| report::redact::Redactor::redact(analysis));
    super::write_output(s.output.as_deref(), |mut w| match &mut redactor {
        None => report::render_with(analysis, s.format, false, &mut w),
        Some(r) => {
            let mut buf = Vec::new();
            report::render_with(analysis, s.format, true, &mut buf)?;
            w.write_all(r.text(&String::from_utf8_lossy(&buf)).as_bytes())
        }
    })
}
