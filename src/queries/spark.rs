//! Spark SQL over the raw S3 export (`AWSLogs/...` gzipped JSON), runnable
//! with `spark-sql -f`: a view over the log files with an explicit schema
//! (the JSON fields declared `STRING` keep their raw JSON text: Spark's JSON
//! reader writes a nested value into a string field as its text), pruned to
//! the accounts, regions and days asked for; then, per file, its kept
//! records and its horizon, written as Parquet.
//!
//! One pass over the pruned files: each file is one row (`multiLine`), so a
//! file's kept records (`filter`) and its latest time in the window
//! (`array_max`) come from the same read. That gives one horizon row per
//! file, of which the analysis keeps the latest. When the path is pruned
//! (a window, accounts, regions), a second view reads the whole tree for
//! the key and trail changes, which the analysis reads whatever the window
//! and wherever the trail was changed (`kept`).

use super::{
    Dialect, QueryScope, day_globs, days, header, horizon_columns, kept, key_changes, kms_kept,
    last_day, quote, record_columns, trail_changes,
};

struct Spark;

impl Dialect for Spark {
    fn field(&self, path: &str) -> String {
        format!("r.{path}")
    }
    fn contains(&self, text: &str, token: &str) -> String {
        format!("instr({text}, {token}) > 0")
    }
    fn string_type(&self) -> &'static str {
        "STRING"
    }
}

/// The fields read, as Spark's schema of one record.
const RECORD_SCHEMA: &str = "eventVersion: STRING, eventTime: STRING, eventID: STRING,
    eventSource: STRING, eventName: STRING, awsRegion: STRING, recipientAccountId: STRING,
    userIdentity: STRUCT<type: STRING, arn: STRING, accountId: STRING, principalId: STRING,
      invokedBy: STRING, userName: STRING,
      sessionContext: STRUCT<sessionIssuer: STRUCT<type: STRING, arn: STRING, accountId: STRING>>>,
    sourceIPAddress: STRING, vpcEndpointId: STRING, errorCode: STRING, errorMessage: STRING,
    requestParameters: STRING, responseElements: STRING, additionalEventData: STRING,
    resources: STRING";

pub(super) fn query(sel: &QueryScope) -> String {
    let d = Spark;
    let record = named_struct(&record_columns(&d));
    let in_window = super::in_window(sel, "substr(r.eventTime, 1, 19)").unwrap_or("true".into());
    let horizon = named_struct(&horizon_columns(&d, "t"));
    let calls = kms_kept(&d, sel);
    // The pruned read keeps the calls; the key and trail changes come from
    // the whole tree, unless the pruned read is the whole tree.
    let wide = sel.since_ms.is_some() || !sel.accounts.is_empty() || !sel.regions.is_empty();
    let (calls, changes_view, changes) = if wide {
        let mut changes = format!(
            "(({calls}\n    AND {})\n    OR {})",
            key_changes(&d),
            trail_changes(&d)
        );
        if let Some(last) = last_day(sel) {
            changes = format!("{changes}\n    AND substr(r.eventTime, 1, 10) <= '{last}'");
        }
        let view = format!(
            "CREATE OR REPLACE TEMPORARY VIEW denydiff_changes (Records ARRAY<STRUCT<
    {RECORD_SCHEMA}>>)
USING json
OPTIONS (path '{path}', multiLine 'true', mode 'FAILFAST');

",
            path = quote(&glob(&QueryScope {
                since_ms: None,
                accounts: Vec::new(),
                regions: Vec::new(),
                ..sel.clone()
            })),
        );
        let select = format!(
            "
UNION ALL
SELECT inline(transform(filter(Records, r -> {changes}), r -> {record}))
FROM denydiff_changes",
            changes = changes.replace('\n', "\n    "),
        );
        (
            format!("{calls}\n    AND NOT {}", key_changes(&d)),
            view,
            select,
        )
    } else {
        (kept(&d, sel, None), String::new(), String::new())
    };
    format!(
        "{head}\
CREATE OR REPLACE TEMPORARY VIEW denydiff_raw (Records ARRAY<STRUCT<
    {RECORD_SCHEMA}>>)
USING json
OPTIONS (path '{path}', multiLine 'true', mode 'FAILFAST');

{changes_view}\
INSERT OVERWRITE DIRECTORY '{output}' USING parquet
SELECT inline(concat(
  transform(filter(Records, r -> {calls}), r -> {record}),
  transform(
    filter(array(array_max(transform(filter(Records, r -> {in_window}), r -> r.eventTime))),
      t -> t IS NOT NULL),
    t -> {horizon})))
FROM denydiff_raw{changes};
",
        head = header(
            "Spark SQL",
            sel,
            "copy the Parquet parts here (or read them where they are) and run"
        ),
        path = quote(&glob(sel)),
        output = quote(&sel.output),
        calls = calls.replace('\n', "\n    "),
    )
}

/// `named_struct('column', expr, ...)`.
fn named_struct(columns: &[(String, &str)]) -> String {
    let fields: Vec<String> = columns.iter().map(|(e, c)| format!("'{c}', {e}")).collect();
    format!("named_struct(\n      {})", fields.join(",\n      "))
}

/// The log files to read: `INPUT/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz`,
/// each part a `{a,b}` choice when given.
fn glob(sel: &QueryScope) -> String {
    let choice = |v: &[String], all: &str| match v {
        [] => all.to_owned(),
        [one] => one.clone(),
        many => format!("{{{}}}", many.join(",")),
    };
    let day_part = days(sel).map_or_else(
        || "*/*/*".to_owned(),
        |(a, b)| choice(&day_globs(a, b), "*/*/*"),
    );
    format!(
        "{}/{}/CloudTrail/{}/{}/*.json.gz",
        sel.input.trim_end_matches('/'),
        choice(&sel.accounts, "*"),
        choice(&sel.regions, "*"),
        day_part
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_prunes_accounts_regions_and_days() {
        let day = |d: &str| {
            chrono::DateTime::parse_from_rfc3339(d)
                .unwrap()
                .timestamp_millis()
        };
        let sel = QueryScope {
            input: "s3://b/AWSLogs/".into(),
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            since_ms: Some(day("2026-11-10T05:00:00Z")),
            until_ms: Some(day("2026-11-11T23:59:59Z")),
            ..QueryScope::default()
        };
        assert_eq!(
            glob(&sel),
            "s3://b/AWSLogs/111122223333/CloudTrail/{eu-west-1,us-east-1}/{2026/11/10,2026/11/11,2026/11/12}/*.json.gz"
        );
        let q = query(&sel);
        assert!(
            q.contains("substr(r.eventTime, 1, 19) >= '2026-11-10T05:00:00'"),
            "{q}"
        );
    }
}
