//! The queries that reduce a trail to the reduced table where the trail
//! lives (`denydiff sql`, `docs/reduced-table.md`): Spark SQL over the raw
//! S3 export, Athena or Trino over the CloudTrail table AWS documents, and
//! CloudTrail Lake over an event data store. Each selects exactly the
//! columns of `reduced_table::COLUMNS` and the records `reduced_table::keeps`
//! keeps, plus the horizon row.
//!
//! The window prunes what is read (S3 day folders, the `timestamp`
//! partition, Lake's `eventTime`) but not the records of the days read: the
//! analysis applies `--since/--until` exactly, and the horizon row is the
//! latest `eventTime` inside the window. Key and trail changes are kept
//! before the window too. `--key` keeps a superset (records that name the
//! key or any alias; every KMS record when a key is given as an alias) that
//! `analyze --key` narrows exactly.
//! This module writes text only; it reads nothing.

mod lake;
mod spark;
mod trino;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::call::{ALIAS_EVENTS, KMS_SOURCE, LIFECYCLE_EVENTS, TRAIL_SOURCE, trail_events};
use crate::reduced_table::{COLUMNS, FIELDS, RowKind, VERSION};

/// Where the query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Spark,
    Athena,
    Trino,
    CloudtrailLake,
}

/// What the query selects, and where (`denydiff sql`'s settings).
#[derive(Debug, Clone, Default)]
pub struct QueryScope {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Key ARNs, key ids, alias names or alias ARNs.
    pub keys: Vec<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Spark: the folder that holds the account folders
    /// (`s3://BUCKET/PREFIX/AWSLogs`, or `.../AWSLogs/o-ORGID` for an
    /// organization trail), local or on S3.
    pub input: String,
    /// Spark: the folder the Parquet parts are written to.
    pub output: String,
    /// Athena and Trino: the table; CloudTrail Lake: the event data store id.
    pub table: String,
}

/// What `denydiff sql` refuses before writing a query: options its engine
/// does not use, and values that would be pasted into the query text
/// unchecked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error(
        "`--{0}` is Spark's (`--engine spark`); the other engines read a table\nhint: drop `--{0}`, or name the table with `--table` (CloudTrail Lake: `--event-data-store`)"
    )]
    SparkOnly(&'static str),
    #[error("`{0}` is not an account id\nhint: an account id is 12 digits, e.g. `111122223333`")]
    Account(String),
    #[error("`{0}` is not a region\nhint: a region looks like `eu-west-1` or `us-gov-east-1`")]
    Region(String),
    #[error(
        "`{0}` is not a table name denydiff writes into a query\nhint: use letters, digits, `_` and `.` (`database.table`)"
    )]
    Table(String),
    #[error(
        "`{0}` is not an event data store id\nhint: use the end of the event data store's ARN (letters, digits, `-` and `_`)"
    )]
    EventDataStore(String),
}

/// Checks `sel` for `engine` ([`ScopeError`]).
pub fn check_scope(engine: Engine, sel: &QueryScope) -> Result<(), ScopeError> {
    if engine != Engine::Spark {
        if !sel.input.is_empty() {
            return Err(ScopeError::SparkOnly("input"));
        }
        if !sel.output.is_empty() {
            return Err(ScopeError::SparkOnly("output"));
        }
    }
    if let Some(a) = sel
        .accounts
        .iter()
        .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ScopeError::Account(a.clone()));
    }
    if let Some(r) = sel.regions.iter().find(|r| !is_region(r)) {
        return Err(ScopeError::Region(r.clone()));
    }
    let t = &sel.table;
    match engine {
        Engine::Spark => {}
        Engine::Athena | Engine::Trino => {
            let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
            if t.is_empty() || !t.bytes().all(ok) {
                return Err(ScopeError::Table(t.clone()));
            }
        }
        Engine::CloudtrailLake => {
            let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            if t.is_empty() || !t.bytes().all(ok) {
                return Err(ScopeError::EventDataStore(t.clone()));
            }
        }
    }
    Ok(())
}

/// `[a-z]{2}(-[a-z]+)+-\d+`: `eu-west-1`, `us-gov-east-1`, `ap-southeast-5`.
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The query text for `engine`.
pub fn query(engine: Engine, sel: &QueryScope) -> String {
    match engine {
        Engine::Spark => spark::query(sel),
        Engine::Athena | Engine::Trino => trino::query(engine, sel),
        Engine::CloudtrailLake => lake::query(sel),
    }
}

/// How one engine spells the record's fields: `field(name)` gives the
/// expression of a CloudTrail field, by its JSON path
/// (`userIdentity.sessionContext.sessionIssuer.arn`).
pub(crate) trait Dialect {
    fn field(&self, path: &str) -> String;
    /// `event_time`'s expression: RFC 3339 text as CloudTrail logs it.
    fn event_time(&self) -> String {
        self.field("eventTime")
    }
    /// The JSON text of a JSON field (`requestParameters`, `resources`, ...).
    fn json(&self, path: &str) -> String {
        self.field(path)
    }
    /// Whether string `text` contains `token` (a quoted literal).
    fn contains(&self, text: &str, token: &str) -> String {
        format!("strpos({text}, {token}) > 0")
    }
    /// The string type of `CAST(NULL AS ...)`.
    fn string_type(&self) -> &'static str {
        "VARCHAR"
    }
}

/// Fields whose value is JSON (kept as its text).
const JSON_FIELDS: [&str; 4] = [
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
];

/// The record row: `(expression, column)` for each column, in order.
pub(crate) fn record_columns(d: &dyn Dialect) -> Vec<(String, &'static str)> {
    let mut out = vec![
        (format!("'{VERSION}'"), COLUMNS[0]),
        (format!("'{}'", RowKind::Record.as_str()), COLUMNS[1]),
    ];
    let fields = FIELDS.iter().filter_map(|(c, p)| Some((*c, (*p)?)));
    for (column, path) in fields {
        let expr = if path == "eventTime" {
            d.event_time()
        } else if JSON_FIELDS.contains(&path) {
            d.json(path)
        } else {
            d.field(path)
        };
        out.push((expr, column));
    }
    out
}

/// The horizon row: `time` as `event_time`, the rest null.
pub(crate) fn horizon_columns(d: &dyn Dialect, time: &str) -> Vec<(String, &'static str)> {
    let mut out = vec![
        (format!("'{VERSION}'"), COLUMNS[0]),
        (format!("'{}'", RowKind::Horizon.as_str()), COLUMNS[1]),
        (time.to_owned(), COLUMNS[2]),
    ];
    let null = format!("CAST(NULL AS {})", d.string_type());
    out.extend(COLUMNS[3..].iter().map(|c| (null.clone(), *c)));
    out
}

/// A select list, `expr AS column` a line.
pub(crate) fn select_list(columns: &[(String, &str)]) -> String {
    columns
        .iter()
        .map(|(e, c)| format!("{e} AS {c}"))
        .collect::<Vec<_>>()
        .join(",\n  ")
}

/// How an engine bounds the records it reads by time, on its partition or
/// time column: from the first day of the window (`lower`), to the last
/// day read (`upper`, see [`days`]).
#[derive(Debug, Default)]
pub(crate) struct Bounds {
    pub lower: Option<String>,
    pub upper: Option<String>,
}

/// A query in two scans (Athena, Trino, Lake): the kept records, then the
/// horizon row, the latest `time` (an expression of the RFC 3339 text) of
/// the records of the accounts and regions asked for inside the window.
/// Key changes and trail changes have no lower bound ([`kept`]).
pub(crate) fn two_scans(d: &dyn Dialect, sel: &QueryScope, head: &str, bounds: &Bounds) -> String {
    let time = d.event_time();
    let mut records = vec![kept(d, sel, bounds.lower.as_deref())];
    records.extend(bounds.upper.clone());
    let mut horizon = place(d, sel);
    horizon.extend(bounds.lower.clone());
    horizon.extend(bounds.upper.clone());
    horizon.extend(in_window(sel, &format!("substr({time}, 1, 19)")));
    let horizon_where = if horizon.is_empty() {
        String::new()
    } else {
        format!("\nWHERE {}", horizon.join("\n  AND "))
    };
    format!(
        "{head}\
SELECT
  {records_list}
FROM {table}
WHERE {records_where}
UNION ALL
SELECT
  {horizon_list}
FROM {table}{horizon_where}
HAVING max({time}) IS NOT NULL;
",
        records_list = select_list(&record_columns(d)),
        horizon_list = select_list(&horizon_columns(d, &format!("max({time})"))),
        table = sel.table,
        records_where = records.join("\n  AND "),
    )
}

/// The records the table keeps (`reduced_table::keeps`): the KMS records of
/// the accounts, regions and key asked for, from `lower` on, and their key
/// changes (policies, state, grants, aliases) and every trail change at any
/// time: the collector reads those whatever the window, and places trail
/// changes itself (a multi-region or organization trail is changed in its
/// home region, which `--region` need not name).
pub(crate) fn kept(d: &dyn Dialect, sel: &QueryScope, lower: Option<&str>) -> String {
    let kms = kms_kept(d, sel);
    let kms = match lower {
        Some(lower) => format!("{kms}\n    AND ({lower}\n      OR {})", key_changes(d)),
        None => kms,
    };
    format!("(({kms})\n    OR {})", trail_changes(d))
}

/// The KMS records of the accounts, regions and key asked for.
pub(crate) fn kms_kept(d: &dyn Dialect, sel: &QueryScope) -> String {
    let mut parts = vec![format!("{} = '{KMS_SOURCE}'", d.field("eventSource"))];
    parts.extend(place(d, sel));
    parts.extend(names_key(d, &sel.keys));
    parts.join("\n    AND ")
}

/// `--account` and `--region` on the record's fields.
fn place(d: &dyn Dialect, sel: &QueryScope) -> Vec<String> {
    let mut out = Vec::new();
    if !sel.accounts.is_empty() {
        let field = d.field("recipientAccountId");
        out.push(format!("{field} {}", in_list(&sel.accounts)));
    }
    if !sel.regions.is_empty() {
        out.push(format!(
            "{} {}",
            d.field("awsRegion"),
            in_list(&sel.regions)
        ));
    }
    out
}

/// The KMS key changes the collector reads at any time.
pub(crate) fn key_changes(d: &dyn Dialect) -> String {
    let names: Vec<String> = LIFECYCLE_EVENTS
        .iter()
        .chain(ALIAS_EVENTS)
        .map(|n| format!("'{n}'"))
        .collect();
    format!("{} IN ({})", d.field("eventName"), names.join(", "))
}

/// The trail changes the table keeps.
pub(crate) fn trail_changes(d: &dyn Dialect) -> String {
    let names: Vec<String> = trail_events().map(|n| format!("'{n}'")).collect();
    format!(
        "({} = '{TRAIL_SOURCE}' AND {} IN ({}))",
        d.field("eventSource"),
        d.field("eventName"),
        names.join(", ")
    )
}

/// `--key` as a condition on the record's text, or `None`: without a key,
/// and when any key is an alias. Calls and `CreateKey`/`PutKeyPolicy` name
/// a key by its ARN or id, never by an alias that points to it; the alias
/// resolves to a key only at analysis time, so an alias narrows nothing.
fn names_key(d: &dyn Dialect, keys: &[String]) -> Option<String> {
    if keys.is_empty() || keys.iter().any(|k| is_alias(k)) {
        return None;
    }
    let text = JSON_FIELDS[..2]
        .iter()
        .chain(&JSON_FIELDS[3..])
        .map(|f| format!("coalesce({}, '')", d.json(f)))
        .collect::<Vec<_>>()
        .join(" || ");
    let any = key_tokens(keys)
        .iter()
        .chain(&["alias/".to_owned()])
        .map(|t| d.contains(&text, &format!("'{}'", quote(t))))
        .collect::<Vec<_>>()
        .join("\n      OR ");
    Some(format!("({any})"))
}

/// An alias name (`alias/NAME`) or alias ARN.
fn is_alias(key: &str) -> bool {
    key.starts_with("alias/") || (key.starts_with("arn:") && key.contains(":alias/"))
}

/// What a `--key` value is found by in a record's text: a key ARN's last
/// part (`key/ID`), else the value itself.
fn key_tokens(keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|k| match k.rsplit_once(':') {
            Some((_, last)) if k.starts_with("arn:") => last.to_owned(),
            _ => k.clone(),
        })
        .collect()
}

/// A value inside a single-quoted SQL string.
pub(crate) fn quote(s: &str) -> String {
    s.replace('\'', "''")
}

/// `IN ('a', 'b')` of quoted values.
pub(crate) fn in_list(values: &[String]) -> String {
    let v: Vec<String> = values.iter().map(|v| format!("'{}'", quote(v))).collect();
    format!("IN ({})", v.join(", "))
}

/// The window in whole seconds as CloudTrail writes times
/// (`2026-11-20T10:00:00`, compared on their first 19 characters, so
/// `Z` and fractions do not matter).
pub(crate) fn window(sel: &QueryScope) -> (Option<String>, Option<String>) {
    let text = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default()
    };
    (sel.since_ms.map(text), sel.until_ms.map(text))
}

/// The condition that `time19` (an expression of the first 19 characters
/// of `eventTime`) is in the window, or `None` without one.
pub(crate) fn in_window(sel: &QueryScope, time19: &str) -> Option<String> {
    let (since, until) = window(sel);
    let mut parts = Vec::new();
    if let Some(s) = since {
        parts.push(format!("{time19} >= '{s}'"));
    }
    if let Some(u) = until {
        parts.push(format!("{time19} <= '{u}'"));
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

/// The UTC days to read, first and last: from the day of `since` to the
/// day after `until` (`until` defaults to now). A `YYYY/MM/DD` folder (and
/// Athena's `timestamp` partition) is the day a file was *delivered*, and a
/// file holds records written any time before it: the last minutes of the
/// `until` day are in the next day's folder (docs/reduced-table.md).
pub(crate) fn days(sel: &QueryScope) -> Option<(NaiveDate, NaiveDate)> {
    let day = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.date_naive());
    let first = day(sel.since_ms?)?;
    let last = last_day(sel).unwrap_or_else(|| Utc::now().date_naive());
    Some((first, last.max(first)))
}

/// The day after `until`'s day: the last folder that can hold a record of
/// the window ([`days`]).
pub(crate) fn last_day(sel: &QueryScope) -> Option<NaiveDate> {
    let until = DateTime::<Utc>::from_timestamp_millis(sel.until_ms?)?.date_naive();
    Some(until.succ_opt().unwrap_or(until))
}

/// The days as `YYYY/MM/DD` path parts, a whole month as `YYYY/MM/*`.
pub(crate) fn day_globs(first: NaiveDate, last: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        let next_month = d
            .with_day(1)
            .and_then(|m| m.checked_add_months(chrono::Months::new(1)));
        match next_month {
            Some(next) if d.day() == 1 && next.pred_opt().is_some_and(|end| end <= last) => {
                out.push(d.format("%Y/%m/*").to_string());
                d = next;
            }
            _ => {
                out.push(d.format("%Y/%m/%d").to_string());
                let Some(next) = d.succ_opt() else { break };
                d = next;
            }
        }
    }
    out
}

/// The comment every query opens with: what it writes and how to read it.
pub(crate) fn header(engine: &str, sel: &QueryScope, then: &str) -> String {
    let mut given = Vec::new();
    let (since, until) = window(sel);
    given.extend(since.map(|s| format!("--since {s}Z")));
    given.extend(until.map(|u| format!("--until {u}Z")));
    given.extend(sel.keys.iter().map(|k| format!("--key {k}")));
    let alias = if sel.keys.iter().any(|k| is_alias(k)) {
        "-- An alias names no record of its key: KMS records are not narrowed by key here.\n"
    } else {
        ""
    };
    let again = if given.is_empty() {
        String::new()
    } else {
        format!(" {}", given.join(" "))
    };
    format!(
        "-- denydiff reduced table, version {VERSION} (docs/reduced-table.md), for {engine}.\n\
         -- One row per KMS record and trail change, and horizon rows.\n\
         {alias}\
         -- Then: {then}\n\
         --   denydiff analyze{again} TABLE\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn regions_accounts_and_table_names_are_checked() {
        for r in ["eu-west-1", "us-gov-east-1", "ap-southeast-5"] {
            assert!(is_region(r), "{r}");
        }
        for r in [
            "eu-west",
            "EU-WEST-1",
            "eu-1",
            "e-west-1",
            "eu--1",
            "eu-west-1;",
        ] {
            assert!(!is_region(r), "{r}");
        }
        let scope = |table: &str| QueryScope {
            table: table.into(),
            ..QueryScope::default()
        };
        assert_eq!(
            check_scope(Engine::Athena, &scope("db.cloudtrail_logs")),
            Ok(())
        );
        assert_eq!(
            check_scope(Engine::Trino, &scope("x; drop")),
            Err(ScopeError::Table("x; drop".into()))
        );
        assert_eq!(
            check_scope(Engine::CloudtrailLake, &scope("EXAMPLE-f852-4e8f")),
            Ok(())
        );
        assert_eq!(
            check_scope(Engine::CloudtrailLake, &scope("a b")),
            Err(ScopeError::EventDataStore("a b".into()))
        );
        let accounts = QueryScope {
            accounts: vec!["11112222333".into()],
            ..scope("t")
        };
        assert_eq!(
            check_scope(Engine::Athena, &accounts),
            Err(ScopeError::Account("11112222333".into()))
        );
        let output = QueryScope {
            output: "s3://b/out".into(),
            ..scope("t")
        };
        assert_eq!(
            check_scope(Engine::Athena, &output),
            Err(ScopeError::SparkOnly("output"))
        );
        assert_eq!(check_scope(Engine::Spark, &output), Ok(()));
    }

    #[test]
    fn whole_months_become_one_glob() {
        assert_eq!(
            day_globs(date("2026-10-30"), date("2026-12-01")),
            ["2026/10/30", "2026/10/31", "2026/11/*", "2026/12/01"]
        );
        assert_eq!(
            day_globs(date("2026-11-10"), date("2026-11-10")),
            ["2026/11/10"]
        );
    }

    #[test]
    fn key_tokens_are_the_last_part_of_an_arn() {
        let keys = [
            "arn:aws:kms:eu-west-1:1:key/abc".to_owned(),
            "alias/x".to_owned(),
            "abc".to_owned(),
        ];
        assert_eq!(key_tokens(&keys), ["key/abc", "alias/x", "abc"]);
    }

    #[test]
    fn every_engine_selects_the_contract_in_order() {
        let sel = QueryScope {
            input: "/t/AWSLogs".into(),
            output: "/t/out".into(),
            table: "t".into(),
            ..QueryScope::default()
        };
        for engine in [
            Engine::Spark,
            Engine::Athena,
            Engine::Trino,
            Engine::CloudtrailLake,
        ] {
            let q = query(engine, &sel);
            let mut at = q.find("\nSELECT").or(q.find("SELECT")).unwrap();
            for c in COLUMNS {
                let found = q[at..].find(c);
                assert!(found.is_some(), "{engine:?}: `{c}` out of order");
                at += found.unwrap_or(0);
            }
        }
    }
}
