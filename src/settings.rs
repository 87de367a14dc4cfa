//! What the command line resolves to: the time window in milliseconds, the
//! key and event filters, the output format and destination. Everything that
//! can be wrong with the arguments is found here, before any input is read.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::{AnalyzeArgs, Format};
use crate::collect::Filters;
use crate::policy::{Policy, parse_policy};
use crate::report::Options as ReportOptions;
use crate::source::kms::AwsOptions;
use crate::timeline::parse_range;

/// A resolved `analyze` invocation.
#[derive(Debug)]
pub struct Settings {
    pub paths: Vec<String>,
    pub filters: Filters,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub quiet: bool,
    /// `--policy`: the path and the parsed document.
    pub policy: Option<(PathBuf, Policy)>,
    /// `--fetch-policy` with how to reach AWS.
    pub fetch: Option<AwsOptions>,
    /// `--key`, `--baseline`, `--incident`, as the report needs them.
    pub report: ReportOptions,
}

impl Settings {
    pub fn from_args(a: AnalyzeArgs) -> anyhow::Result<Self> {
        let since_ms = a
            .since
            .as_deref()
            .map(|s| parse_bound(s, false))
            .transpose()?;
        let until_ms = a
            .until
            .as_deref()
            .map(|s| parse_bound(s, true))
            .transpose()?;
        if let (Some(s), Some(u)) = (since_ms, until_ms)
            && s > u
        {
            bail!("`--since` is after `--until`");
        }
        let event_names = a
            .event_names
            .iter()
            .map(|n| n.strip_prefix("kms:").unwrap_or(n).to_owned())
            .collect();
        let format = match (a.format, &a.output) {
            (Some(f), _) => f,
            (None, Some(_)) => Format::Json,
            (None, None) => default_format(),
        };
        let policy = a
            .policy
            .map(|p| read_policy(&p).map(|doc| (p, doc)))
            .transpose()?;
        let fetch = a.aws.fetch_policy.then_some(AwsOptions {
            profile: a.aws.profile,
            region: a.aws.region,
            endpoint_url: a.aws.endpoint_url,
        });
        let report = ReportOptions {
            wanted_keys: a.keys.clone(),
            baseline: a
                .baseline
                .as_deref()
                .map(parse_range)
                .transpose()
                .context("`--baseline`")?,
            incident: a
                .incident
                .as_deref()
                .map(parse_range)
                .transpose()
                .context("`--incident`")?,
        };
        Ok(Self {
            report,
            policy,
            fetch,
            paths: a.paths,
            filters: Filters {
                since_ms,
                until_ms,
                keys: a.keys,
                event_names,
            },
            format,
            output: a.output,
            quiet: a.quiet,
        })
    }
}

/// Table on a terminal, JSON otherwise.
pub fn default_format() -> Format {
    if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    }
}

/// Reads and parses a key policy file; errors name the file and the place.
pub fn read_policy(path: &Path) -> anyhow::Result<Policy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the policy `{}`", path.display()))?;
    parse_policy(&text).with_context(|| format!("the policy `{}` does not parse", path.display()))
}

/// RFC 3339, or a bare date (`--since` at its start, `--until` at its end).
pub fn parse_bound(s: &str, end_of_day: bool) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    let day = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("`{s}` is not an RFC 3339 time or a YYYY-MM-DD date\nhint: use e.g. `2026-11-20T09:00:00Z`"))?;
    let t = if end_of_day {
        day.and_hms_milli_opt(23, 59, 59, 999)
    } else {
        day.and_hms_opt(0, 0, 0)
    };
    Ok(t.expect("valid time of day").and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::parse_bound;

    #[test]
    fn bounds() {
        assert_eq!(parse_bound("1970-01-01T00:00:01Z", false).unwrap(), 1000);
        assert_eq!(parse_bound("1970-01-01", true).unwrap(), 86_399_999);
        assert!(parse_bound("yesterday", false).is_err());
    }
}
