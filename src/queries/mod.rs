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
//! latest `eventTime` inside the window. `--key` keeps a superset (records
//! that name the key or any alias) that `analyze --key` narrows exactly.
//! This module writes text only; it reads nothing.

mod lake;
mod spark;
mod trino;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::reduced_table::{COLUMNS, TRAIL_EVENTS, VERSION};

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
pub struct Selection {
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

/// The query text for `engine`.
pub fn query(engine: Engine, sel: &Selection) -> String {
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

/// The CloudTrail field each column of the contract comes from, in order
/// (the first two columns are constants).
const SOURCES: [&str; COLUMNS.len() - 2] = [
    "eventTime",
    "eventID",
    "eventSource",
    "eventName",
    "awsRegion",
    "recipientAccountId",
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.accountId",
    "userIdentity.principalId",
    "userIdentity.invokedBy",
    "userIdentity.userName",
    "userIdentity.sessionContext.sessionIssuer.type",
    "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.sessionContext.sessionIssuer.accountId",
    "sourceIPAddress",
    "vpcEndpointId",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
    "eventVersion",
];

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
        ("'record'".to_owned(), COLUMNS[1]),
    ];
    for (path, column) in SOURCES.iter().zip(&COLUMNS[2..]) {
        let expr = if *path == "eventTime" {
            d.event_time()
        } else if JSON_FIELDS.contains(path) {
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
        ("'horizon'".to_owned(), COLUMNS[1]),
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

/// A query in two scans (Athena, Trino, Lake): the kept records of
/// `scope`, then the horizon row, the latest `time` (an expression of the
/// RFC 3339 text) of the records of `scope` inside the window.
pub(crate) fn two_scans(d: &dyn Dialect, sel: &Selection, head: &str, scope: &[String]) -> String {
    let time = d.event_time();
    let mut records = scope.to_vec();
    records.push(kept(d, &sel.keys));
    let mut horizon = scope.to_vec();
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
HAVING max({time}) IS NOT NULL
",
        records_list = select_list(&record_columns(d)),
        horizon_list = select_list(&horizon_columns(d, &format!("max({time})"))),
        table = sel.table,
        records_where = records.join("\n  AND "),
    )
}

/// The records the table keeps (`reduced_table::keeps`), and `--key`.
pub(crate) fn kept(d: &dyn Dialect, keys: &[String]) -> String {
    let names = TRAIL_EVENTS
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let (source, name) = (d.field("eventSource"), d.field("eventName"));
    let kms = format!("{source} = 'kms.amazonaws.com'");
    let kms = match key_tokens(keys) {
        tokens if tokens.is_empty() => kms,
        tokens => {
            let text = JSON_FIELDS[..2]
                .iter()
                .chain(&JSON_FIELDS[3..])
                .map(|f| format!("coalesce({}, '')", d.json(f)))
                .collect::<Vec<_>>()
                .join(" || ");
            let any = tokens
                .iter()
                .chain(&["alias/".to_owned()])
                .map(|t| d.contains(&text, &format!("'{}'", quote(t))))
                .collect::<Vec<_>>()
                .join("\n      OR ");
            format!("({kms}\n    AND ({any}))")
        }
    };
    format!("({kms}\n    OR ({source} = 'cloudtrail.amazonaws.com' AND {name} IN ({names})))")
}

/// What a `--key` value is found by in a record's text: a key ARN's or
/// alias ARN's last part (`key/ID`, `alias/NAME`), else the value itself.
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
pub(crate) fn window(sel: &Selection) -> (Option<String>, Option<String>) {
    let text = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default()
    };
    (sel.since_ms.map(text), sel.until_ms.map(text))
}

/// The condition that `time19` (an expression of the first 19 characters
/// of `eventTime`) is in the window, or `None` without one.
pub(crate) fn in_window(sel: &Selection, time19: &str) -> Option<String> {
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

/// The UTC days the window touches, first and last (`until` defaults to now).
pub(crate) fn days(sel: &Selection) -> Option<(NaiveDate, NaiveDate)> {
    let day = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.date_naive());
    let first = day(sel.since_ms?)?;
    let last = sel
        .until_ms
        .and_then(day)
        .unwrap_or_else(|| Utc::now().date_naive());
    Some((first, last.max(first)))
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
pub(crate) fn header(engine: &str, sel: &Selection, then: &str) -> String {
    let mut given = Vec::new();
    let (since, until) = window(sel);
    given.extend(since.map(|s| format!("--since {s}Z")));
    given.extend(until.map(|u| format!("--until {u}Z")));
    given.extend(sel.keys.iter().map(|k| format!("--key {k}")));
    let again = if given.is_empty() {
        String::new()
    } else {
        format!(" {}", given.join(" "))
    };
    format!(
        "-- denydiff reduced table, version {VERSION} (docs/reduced-table.md), for {engine}.\n\
         -- One row per KMS record and trail change, and horizon rows.\n\
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
        let sel = Selection {
            input: "/t/AWSLogs".into(),
            output: "/t/out".into(),
            table: "t".into(),
            ..Selection::default()
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
