//! What the command line resolves to: the time window in milliseconds, the
//! key and event filters, local paths and remote sources, the output format
//! and destination. Everything that can be wrong with the arguments is found
//! here, before any input is read.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::analysis::Options as AnalysisOptions;
use crate::analysis::timeline::Range;
use crate::cli::{
    AnalyzeArgs, AwsArgs, CheckArgs, CheckFormat, FetchArgs, Format, SqlArgs, SqlEngine, TrailArgs,
};
use crate::collect::Filters;
use crate::policy::{Policy, parse_policy};
use crate::queries::{Engine, QueryScope};
use crate::source::aws::AwsOptions;
use crate::source::remote::{Query, Remote};

/// A resolved `analyze` invocation.
#[derive(Debug)]
pub struct Settings {
    pub trail: TrailSettings,
    pub format: Format,
    pub output: Option<PathBuf>,
    /// `--redact`: pseudonyms for names, ids and addresses.
    pub redact: bool,
    /// `--export-calls`: where to write the reduced table.
    pub export_calls: Option<PathBuf>,
    /// `--policy`: the path and the parsed document.
    pub policy: Option<(PathBuf, Policy)>,
    /// `--key`, `--baseline`, `--incident`, as the analysis needs them.
    pub analysis: AnalysisOptions,
}

/// The trail to read, resolved (`cli::TrailArgs`).
#[derive(Debug)]
pub struct TrailSettings {
    /// Local paths (and `-`).
    pub paths: Vec<String>,
    /// `s3://` and `cloudtrail://` sources.
    pub remotes: Vec<Remote>,
    pub filters: Filters,
    pub quiet: bool,
    pub fetch_policy: bool,
    /// `--threads` (0: one per core).
    pub threads: usize,
    /// `--strict`: the first failed input aborts the run.
    pub strict: bool,
    pub aws: AwsOptions,
    pub query: Query,
    /// `--org-id`.
    pub org_id: Option<String>,
}

/// A resolved `check` invocation.
#[derive(Debug)]
pub struct CheckSettings {
    pub trail: TrailSettings,
    /// `--policy`: the proposal file.
    pub proposal: PathBuf,
    /// `--current`: the path and the parsed document.
    pub current: Option<(PathBuf, Policy)>,
    /// `--parameter NAME=VALUE`.
    pub parameters: std::collections::BTreeMap<String, String>,
    /// `--resource`.
    pub resource: Option<String>,
    pub format: CheckFormat,
    pub output: Option<PathBuf>,
}

impl CheckSettings {
    pub fn from_args(a: CheckArgs) -> anyhow::Result<Self> {
        let trail = TrailSettings::from_args(a.trail)?;
        let format = match (a.format, &a.output) {
            (Some(f), _) => f,
            (None, Some(path)) => check_format(format_of(path), path)?,
            (None, None) => check_format(default_format(), Path::new(""))?,
        };
        let current = a
            .current
            .map(|p| read_policy(&p).map(|doc| (p, doc)))
            .transpose()?;
        Ok(Self {
            trail,
            proposal: a.policy,
            current,
            parameters: a.parameters.into_iter().collect(),
            resource: a.resource,
            format,
            output: a.output,
        })
    }
}

/// A resolved `fetch` invocation.
#[derive(Debug)]
pub struct FetchSettings {
    pub remotes: Vec<Remote>,
    pub output: PathBuf,
    pub resume: bool,
    pub quiet: bool,
    pub aws: AwsOptions,
    pub query: Query,
}

/// `--since`/`--until` in milliseconds, checked.
fn window(since: Option<&str>, until: Option<&str>) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    let since_ms = since.map(|s| parse_bound(s, false)).transpose()?;
    let until_ms = until.map(|s| parse_bound(s, true)).transpose()?;
    if let (Some(s), Some(u)) = (since_ms, until_ms)
        && s > u
    {
        bail!("`--since` is after `--until`");
    }
    Ok((since_ms, until_ms))
}

/// Splits inputs into local paths and remote sources.
fn split_sources(inputs: Vec<String>, lookup: bool) -> anyhow::Result<(Vec<String>, Vec<Remote>)> {
    let mut paths = Vec::new();
    let mut remotes = Vec::new();
    for s in inputs {
        match Remote::parse(&s) {
            Some(r) => remotes.push(r?),
            None => paths.push(s),
        }
    }
    if lookup && !remotes.iter().any(|r| matches!(r, Remote::Lookup { .. })) {
        remotes.push(Remote::Lookup { region: None });
    }
    Ok((paths, remotes))
}

fn aws_options(a: &AwsArgs) -> AwsOptions {
    AwsOptions {
        profile: a.profile.clone(),
        regions: a.regions.clone(),
        endpoint_url: a.endpoint_url.clone(),
        net: crate::source::aws::Net {
            connect: a.connect_timeout,
            read: a.read_timeout,
            attempt: a.attempt_timeout,
            max_attempts: a.max_attempts,
        },
    }
}

fn query(
    a: &AwsArgs,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    keys: &[String],
    quiet: bool,
) -> Query {
    Query {
        since_ms,
        until_ms,
        keys: keys
            .iter()
            .filter(|k| k.starts_with("arn:"))
            .cloned()
            .collect(),
        accounts: a.accounts.clone(),
        concurrency: a.concurrency.max(1),
        verbose: a.verbose,
        progress: !quiet,
        resume: crate::source::remote::Resume::default(),
    }
}

impl TrailSettings {
    pub fn from_args(a: TrailArgs) -> anyhow::Result<Self> {
        let (since_ms, until_ms) = window(a.since.as_deref(), a.until.as_deref())?;
        let event_names = a
            .event_names
            .iter()
            .map(|n| n.strip_prefix("kms:").unwrap_or(n).to_owned())
            .collect();
        let (paths, remotes) = split_sources(a.paths, a.aws.lookup)?;
        Ok(Self {
            fetch_policy: a.fetch_policy,
            threads: a.threads,
            strict: a.strict,
            aws: aws_options(&a.aws),
            query: query(&a.aws, since_ms, until_ms, &a.keys, a.quiet),
            paths,
            remotes,
            filters: Filters {
                since_ms,
                until_ms,
                keys: a.keys,
                event_names,
            },
            quiet: a.quiet,
            org_id: a.org_id,
        })
    }
}

impl Settings {
    pub fn from_args(a: AnalyzeArgs) -> anyhow::Result<Self> {
        let trail = TrailSettings::from_args(a.trail)?;
        if let Some(p) = &a.export_calls {
            crate::reduced_table::TableFormat::of_path(p)?;
        }
        let format = match (a.format, &a.output) {
            (Some(f), _) => f,
            (None, Some(path)) => format_of(path),
            (None, None) => default_format(),
        };
        let policy = a
            .policy
            .map(|p| read_policy(&p).map(|doc| (p, doc)))
            .transpose()?;
        let analysis = AnalysisOptions {
            wanted_keys: trail.filters.keys.clone(),
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
            org_id: trail.org_id.clone(),
        };
        Ok(Self {
            trail,
            format,
            output: a.output,
            redact: a.redact,
            export_calls: a.export_calls,
            policy,
            analysis,
        })
    }
}

impl FetchSettings {
    pub fn from_args(a: FetchArgs) -> anyhow::Result<Self> {
        let (since_ms, until_ms) = window(a.since.as_deref(), a.until.as_deref())?;
        let (paths, remotes) = split_sources(a.sources, a.aws.lookup)?;
        if let Some(p) = paths.first() {
            bail!(
                "`{p}` is not a remote source\nhint: `fetch` takes `s3://BUCKET/PREFIX` or `cloudtrail://[REGION]`; `analyze` reads local files"
            );
        }
        Ok(Self {
            remotes,
            output: a.output,
            resume: a.resume,
            quiet: a.quiet,
            aws: aws_options(&a.aws),
            query: query(&a.aws, since_ms, until_ms, &a.keys, a.quiet),
        })
    }
}

/// The format an `--output` file's extension asks for: `.html`/`.htm`
/// HTML, `.md` Markdown, anything else JSON; in any case, as `sql`'s
/// table extensions are.
fn format_of(path: &Path) -> Format {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let is = |want: &str| ext.eq_ignore_ascii_case(want);
    if is("html") || is("htm") {
        Format::Html
    } else if is("md") {
        Format::Markdown
    } else {
        Format::Json
    }
}

/// A resolved `sql` invocation.
#[derive(Debug)]
pub struct SqlSettings {
    pub engine: Engine,
    pub selection: QueryScope,
}

impl SqlSettings {
    pub fn from_args(a: &SqlArgs) -> anyhow::Result<Self> {
        let (since_ms, until_ms) = window(a.since.as_deref(), a.until.as_deref())?;
        let engine = match a.engine {
            SqlEngine::Spark => Engine::Spark,
            SqlEngine::Athena => Engine::Athena,
            SqlEngine::Trino => Engine::Trino,
            SqlEngine::CloudtrailLake => Engine::CloudtrailLake,
        };
        let selection = QueryScope {
            since_ms,
            until_ms,
            keys: a.keys.clone(),
            accounts: a.accounts.clone(),
            regions: a.regions.clone(),
            input: a.input.clone().unwrap_or_default(),
            output: a.output.clone().unwrap_or_default(),
            table: a
                .event_data_store
                .clone()
                .unwrap_or_else(|| a.table.clone()),
        };
        Ok(Self { engine, selection })
    }
}

/// `check`'s format for `analyze`'s: the same, but HTML (which `check`
/// does not write) is an error naming the `--output` file that asked for it.
fn check_format(f: Format, output: &Path) -> anyhow::Result<CheckFormat> {
    Ok(match f {
        Format::Table => CheckFormat::Table,
        Format::Json => CheckFormat::Json,
        Format::Markdown => CheckFormat::Markdown,
        Format::Html => anyhow::bail!(
            "`--output {}`: `check` writes no HTML report\nhint: name a `.md` or `.json` file, or give `--format`",
            output.display()
        ),
    })
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

/// Parses `FROM..TO` (RFC 3339 or dates; either end may be empty).
pub fn parse_range(s: &str) -> anyhow::Result<Range> {
    let Some((from, to)) = s.split_once("..") else {
        anyhow::bail!(
            "`{s}` is not a range\nhint: write `FROM..TO`, e.g. `2026-11-10..2026-11-11T09:00:00Z`"
        );
    };
    let from = if from.is_empty() {
        i64::MIN
    } else {
        parse_bound(from, false)?
    };
    let to = if to.is_empty() {
        i64::MAX
    } else {
        parse_bound(to, true)?
    };
    if from > to {
        anyhow::bail!("`{s}`: the range ends before it starts");
    }
    Ok(Range { from, to })
}

#[cfg(test)]
mod tests {
    use super::{Format, Range, format_of, parse_bound, parse_range};

    #[test]
    fn output_extensions_in_any_case() {
        let of = |p: &str| format_of(std::path::Path::new(p));
        assert!(matches!(of("y.MD"), Format::Markdown));
        assert!(matches!(of("x.HTM"), Format::Html));
        assert!(matches!(of("x.Html"), Format::Html));
        assert!(matches!(of("x.json"), Format::Json));
        assert!(matches!(of("x.markdown"), Format::Json));
    }

    #[test]
    fn bounds() {
        assert_eq!(parse_bound("1970-01-01T00:00:01Z", false).unwrap(), 1000);
        assert_eq!(parse_bound("1970-01-01", true).unwrap(), 86_399_999);
        assert!(parse_bound("yesterday", false).is_err());
        let r = parse_range("1970-01-01..1970-01-01").unwrap();
        assert!(r.contains(0) && r.contains(86_399_999) && !r.contains(86_400_000));
        assert_eq!(
            parse_range("..").unwrap(),
            Range {
                from: i64::MIN,
                to: i64::MAX
            }
        );
        assert!(parse_range("2026-11-10").is_err());
    }
}
