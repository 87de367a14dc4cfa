//! What the user typed: clap structs only. Resolution into a runnable
//! configuration happens in `settings`.

use clap::{Args, Parser, Subcommand, ValueEnum};

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

    /// Output format [default: table on a terminal, json otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Files or directories (read recursively); `-` reads standard input.
    ///
    /// Gzipped or plain `{"Records":[...]}`, S3-export trees, JSON arrays, NDJSON,
    /// and `aws cloudtrail lookup-events` output (or JSON Lines of its items).
    #[arg(required = true, value_name = "PATH")]
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

    /// Output format [default: table on a terminal, json otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Write the report to this file instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Do not print per-input error messages on standard error (the report still lists them)
    #[arg(long, short)]
    pub quiet: bool,

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

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Reaching AWS (for `--fetch-policy`).
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// Fetch each key's policy with `kms:GetKeyPolicy` (standard credential chain)
    #[arg(long)]
    pub fetch_policy: bool,

    /// AWS profile (default: the standard chain: environment, default profile, instance role)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region for API calls (default: each key's own region)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Send AWS API calls to this endpoint (tests, private endpoints)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
}
