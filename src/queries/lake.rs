//! CloudTrail Lake over an event data store (its id in `FROM`, "CloudTrail
//! Lake SQL constraints"). Lake's schema differs from the log files: the
//! JSON fields are maps (`requestParameters`, `responseElements`,
//! `additionalEventData`), written back as JSON text here, and `eventTime`
//! is a timestamp, written back in CloudTrail's spelling. Lake prunes on
//! `eventTime`; the result is CSV (the query results file).
//!
//! Two scans, as for Athena: the kept records, and the horizon row.

use super::{
    Dialect, Selection, header, horizon_columns, in_list, kept, record_columns, select_list, window,
};

struct Lake;

impl Dialect for Lake {
    fn field(&self, path: &str) -> String {
        path.to_owned()
    }
    fn event_time(&self) -> String {
        "format_datetime(eventTime, 'yyyy-MM-dd''T''HH:mm:ss''Z''')".into()
    }
    fn json(&self, path: &str) -> String {
        format!("json_format(CAST({path} AS JSON))")
    }
}

pub(super) fn query(sel: &Selection) -> String {
    let d = Lake;
    let mut scope = Vec::new();
    let (since, until) = window(sel);
    scope.extend(since.map(|s| format!("eventTime >= timestamp '{}'", s.replace('T', " "))));
    scope.extend(until.map(|u| format!("eventTime <= timestamp '{}.999'", u.replace('T', " "))));
    if !sel.accounts.is_empty() {
        scope.push(format!("recipientAccountId {}", in_list(&sel.accounts)));
    }
    if !sel.regions.is_empty() {
        scope.push(format!("awsRegion {}", in_list(&sel.regions)));
    }
    let mut records = scope.clone();
    records.push(kept(&d, &sel.keys));
    let horizon_time = format!("max({})", d.event_time());
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
HAVING max(eventTime) IS NOT NULL
",
        head = header(
            "CloudTrail Lake",
            sel,
            "`aws cloudtrail start-query --query-statement file://THIS.sql`, save the results as CSV and run"
        ),
        records_list = select_list(&record_columns(&d)),
        horizon_list = select_list(&horizon_columns(&d, &horizon_time)),
        table = sel.table,
        records_where = records.join("\n  AND "),
        horizon_where = if scope.is_empty() {
            String::new()
        } else {
            format!("\nWHERE {}", scope.join("\n  AND "))
        },
    )
}
