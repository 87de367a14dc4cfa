//! What the user typed: clap structs only. Resolution into a runnable
//! configuration happens in `settings`.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::source::aws::parse_seconds;

/// Find who a KMS key policy is really blocking, from CloudTrail.
///
/// denydiff groups KMS calls by key and by who really called (`userIdentity.type`,
/// `invokedBy`, principal), and contrasts the calls that succeeded with the ones
/// that were denied, over time.
#[derive(Debug, Parser)]
#[command(name = "denydiff", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read CloudTrail files and report KMS calls: who succeeded, who was denied, since when
    Analyze(Box<AnalyzeArgs>),
    /// Explain one event (or a request described by hand) against a key policy
    ///
    /// Exit codes tell the decision: 0 allowed, 3 explicit deny, 4 undetermined,
    /// 5 implicit deny (no statement allows: the call can only rest on a grant or
    /// on IAM delegation), 2 error.
    Explain(ExplainArgs),
    /// Fetch CloudTrail events from S3 or LookupEvents into a gzipped NDJSON file
    ///
    /// `analyze` reads the file like any other, so an analysis can be re-run
    /// offline. `--resume` continues an interrupted fetch without fetching
    /// again what the file already has.
    Fetch(Box<FetchArgs>),
    /// Check a proposed key policy against every caller the trail shows, before it ships
    ///
    /// Replays each caller seen on the key against the policy in force and
    /// the proposed one: who would lose access, whose decision becomes
    /// undetermined, who would gain it. Exit codes: 0 no observed caller
    /// loses access, 3 some would, 4 only undetermined ones remain, 1 none
    /// loses but some input failed, 2 error (a bad proposal).
    Check(Box<CheckArgs>),
    /// Print a shell completion script (`source <(denydiff completions bash)`)
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `denydiff man > denydiff.1`
    Man,
    /// Print the query that reduces a trail to denydiff's table where it lives
    ///
    /// Spark SQL over the raw S3 export, Athena or Trino over the CloudTrail
    /// table the Athena user guide creates, or CloudTrail Lake over an event
    /// data store. `analyze` reads what it writes (Parquet or CSV); see
    /// docs/reduced-table.md.
    Sql(SqlArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub trail: TrailArgs,

    /// The proposed key policy: a policy document, a Terraform plan
    /// (`terraform show -json plan.out`), or a CloudFormation template
    /// (JSON or YAML); told apart by content
    #[arg(long = "policy", value_name = "FILE")]
    pub policy: std::path::PathBuf,

    /// The policy in force (a JSON document), for the key the proposal is
    /// for; without it, the live policy (`--fetch-policy`, when no
    /// `--until` is given), else the trail's version at the window's end
    #[arg(long, value_name = "FILE", conflicts_with = "fetch_policy")]
    pub current: Option<std::path::PathBuf>,

    /// A CloudFormation value: a parameter, a pseudo parameter
    /// (`AWS::AccountId`), `RESOURCE.ATTRIBUTE` for `Fn::GetAtt`, or an
    /// export name for `Fn::ImportValue` (repeatable)
    #[arg(long = "parameter", value_name = "NAME=VALUE", value_parser = parse_parameter)]
    pub parameters: Vec<(String, String)>,

    /// The Terraform address or CloudFormation logical id whose key policy
    /// to check, when the proposal sets several
    #[arg(long, value_name = "NAME")]
    pub resource: Option<String>,

    /// Output format [default: table on a terminal, json otherwise]
    #[arg(long, value_enum)]
    pub format: Option<CheckFormat>,

    /// Write the report to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// `check`'s output formats: `analyze`'s, and GitHub Actions annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    Markdown,
    /// GitHub Actions workflow commands (`::error file=...,line=...::`)
    Github,
}

/// `NAME=VALUE`, split at the first `=`.
fn parse_parameter(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{s}` is not `NAME=VALUE`")),
    }
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Where the query runs
    #[arg(long, value_enum)]
    pub engine: SqlEngine,

    /// Spark: the folder that holds the account folders of the S3 export
    /// (`s3://BUCKET/PREFIX/AWSLogs`, `.../AWSLogs/o-ORGID` for an
    /// organization trail, or a local copy)
    #[arg(long, value_name = "LOCATION", required_if_eq("engine", "spark"))]
    pub input: Option<String>,

    /// Spark: the folder to write the table's Parquet parts to (replaced)
    #[arg(long, value_name = "LOCATION", required_if_eq("engine", "spark"))]
    pub output: Option<String>,

    /// Athena or Trino: the CloudTrail table
    #[arg(long, value_name = "NAME", default_value = "cloudtrail_logs_pp")]
    pub table: String,

    /// CloudTrail Lake: the event data store id (the end of its ARN)
    #[arg(long, value_name = "ID", required_if_eq("engine", "cloudtrail-lake"))]
    pub event_data_store: Option<String>,

    /// Only the days from this time on (RFC 3339, or a date)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only the days up to this time (RFC 3339, or a date: the end of that day)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only records that may concern this key (key ARN, key id, alias; repeatable)
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,

    /// Only this account (repeatable)
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,

    /// Only this region (repeatable)
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
}

/// `denydiff sql --engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlEngine {
    Spark,
    Athena,
    Trino,
    CloudtrailLake,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// `s3://BUCKET/PREFIX` or `cloudtrail://[REGION]` (repeatable)
    #[arg(required_unless_present = "lookup", value_name = "SOURCE")]
    pub sources: Vec<String>,

    /// The gzipped NDJSON file to write
    #[arg(long, short, value_name = "FILE")]
    pub output: std::path::PathBuf,

    /// Continue an interrupted fetch into the same file
    #[arg(long)]
    pub resume: bool,

    /// Only events at or after this time (RFC 3339, or a date). For S3 the
    /// window picks whole day folders: their objects are written whole
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events at or before this time (RFC 3339, or a date; S3: whole
    /// day folders, as `--since`)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// LookupEvents: only this key (`ResourceName`; repeatable)
    #[arg(long = "key", value_name = "KEY_ARN")]
    pub keys: Vec<String>,

    /// No progress bar and no per-item messages
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The key policy; give it twice (old, then new) to compare the decisions
    #[arg(long = "policy", value_name = "FILE", required = true, num_args = 1)]
    pub policies: Vec<std::path::PathBuf>,

    /// One CloudTrail event: a record, a `{"Records":[...]}` with one record,
    /// a LookupEvents item, or `-` for stdin
    #[arg(
        value_name = "EVENT",
        required_unless_present = "request",
        conflicts_with = "request"
    )]
    pub event: Option<String>,

    /// A request described by hand: `{"principal", "action", "resource", "context": {...}}`
    #[arg(long, value_name = "FILE")]
    pub request: Option<String>,

    /// With EVENT: the AWS Organizations id of the key's account (`o-...`),
    /// as for `analyze --org-id`
    #[arg(long, value_name = "ORG_ID", value_parser = parse_org_id, conflicts_with = "request")]
    pub org_id: Option<String>,

    /// Output format [default: table on a terminal, json otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub trail: TrailArgs,

    /// Output format [default: table on a terminal, json otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Write the report to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Replace account ids, IAM names, access key ids, IP addresses, key
    /// ids, resource names, encryption-context values and e-mail addresses
    /// with stable pseudonyms (any format), for a report that leaves the company
    #[arg(long)]
    pub redact: bool,

    /// The key policy in force (a JSON document); it overrides the trail's.
    ///
    /// It applies to the keys selected with `--key`; without `--key`, the
    /// trail must show calls to one key only.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<std::path::PathBuf>,

    /// The baseline period for the before/after contrast, `FROM..TO` (default: before each caller's change)
    #[arg(long, value_name = "FROM..TO")]
    pub baseline: Option<String>,

    /// The incident period for the before/after contrast, `FROM..TO` (default: from each caller's change on)
    #[arg(long, value_name = "FROM..TO")]
    pub incident: Option<String>,

    /// Also write the reduced table of the trail read (`.parquet` or `.csv`):
    /// every KMS record and trail change, before `--since/--until` and `--key`
    /// (docs/reduced-table.md). `analyze` reads it back like the trail. The
    /// table is raw data: `--redact` applies to reports only, so the two
    /// conflict
    #[arg(long, value_name = "FILE", conflicts_with = "redact")]
    pub export_calls: Option<std::path::PathBuf>,
}

/// The trail to read and how: shared by the commands that read one.
#[derive(Debug, Args)]
pub struct TrailArgs {
    /// Files or directories (read recursively), `-` for standard input,
    /// `s3://BUCKET/PREFIX` (a trail's S3 export) or `cloudtrail://[REGION]`
    /// (the LookupEvents API).
    ///
    /// Gzipped or plain `{"Records":[...]}`, S3-export trees, JSON arrays, NDJSON,
    /// `aws cloudtrail lookup-events` output (or JSON Lines of its items), and
    /// reduced tables (`.parquet`, a directory of parts, `.csv`; `denydiff sql`).
    #[arg(required_unless_present = "lookup", value_name = "PATH")]
    pub paths: Vec<String>,

    /// Only calls at or after this time (RFC 3339, e.g. `2026-11-20T00:00:00Z`, or a date)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only calls at or before this time (RFC 3339, or a date: the end of that day)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only this key: key ARN, key id, alias name or alias ARN (repeatable)
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,

    /// Only this KMS event, e.g. `Decrypt` or `kms:Decrypt` (repeatable; default: all)
    #[arg(long = "event-name", value_name = "NAME")]
    pub event_names: Vec<String>,

    /// Do not print per-input error messages on standard error (the report still lists them)
    #[arg(long, short)]
    pub quiet: bool,

    /// Stop at the first input that fails, with exit code 2 (for pipelines)
    #[arg(long)]
    pub strict: bool,

    /// Threads that read and parse files (default: one per core)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Fetch each key's policy with `kms:GetKeyPolicy` (standard credential chain)
    #[arg(long)]
    pub fetch_policy: bool,

    /// The AWS Organizations id of the key's account (`o-...`): its principals
    /// get `aws:PrincipalOrgID`, which CloudTrail does not show; other
    /// accounts' stay unknown
    #[arg(long, value_name = "ORG_ID", value_parser = parse_org_id)]
    pub org_id: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Reaching AWS: `s3://` and `cloudtrail://` sources, `--fetch-policy`.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// AWS profile (default: the standard chain: environment, default profile, SSO, instance role)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Region for LookupEvents and S3 (repeatable; `all-enabled` for every commercial region)
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,

    /// Send AWS API calls to this endpoint (tests, private endpoints)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Only this account's logs in an S3 tree (repeatable)
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,

    /// S3 objects fetched at once
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub concurrency: usize,

    /// Read LookupEvents too (the same as a `cloudtrail://` source)
    #[arg(long)]
    pub lookup: bool,

    /// Say which S3 prefixes are listed
    #[arg(long, short)]
    pub verbose: bool,

    /// Seconds to wait for a connection to AWS
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_seconds)]
    pub connect_timeout: Duration,

    /// Seconds to wait for a response to start, and for more of an S3
    /// object's body while it streams
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_seconds)]
    pub read_timeout: Duration,

    /// Seconds one attempt of an AWS call may take until its response starts
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_seconds)]
    pub attempt_timeout: Duration,

    /// Tries per AWS request on 5xx, throttling, resets and timeouts (with
    /// backoff and jitter), and per S3 object whose body breaks off
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    /// One self-contained page (inline styles and SVG, no scripts)
    Html,
}

/// An organization id as AWS writes it: `o-` and 10 to 32 lowercase
/// letters or digits ("Organizations API: Organization", `Id`).
fn parse_org_id(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix("o-").unwrap_or("");
    let ok = (10..=32).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}` is not an organization id (`o-` and 10 to 32 lowercase letters or digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};
    use crate::source::aws::Net;

    #[test]
    fn network_defaults_are_nets() {
        let cli = Cli::parse_from(["denydiff", "fetch", "-o", "f", "s3://b/"]);
        let Command::Fetch(a) = cli.command else {
            panic!("not fetch")
        };
        let a = &a.aws;
        let shown = Net {
            connect: a.connect_timeout,
            read: a.read_timeout,
            attempt: a.attempt_timeout,
            max_attempts: a.max_attempts,
        };
        assert_eq!(shown, Net::default());
    }
}
