//! CloudTrail Lake over an event data store (its id in `FROM`, "CloudTrail
//! Lake SQL constraints"). Lake's schema differs from the log files: the
//! JSON fields are maps (`requestParameters`, `responseElements`,
//! `additionalEventData`), written back as JSON text here, and `eventTime`
//! is a timestamp, written back in CloudTrail's spelling. Lake prunes on
//! `eventTime`, here whole days as the other engines read them; the result
//! is CSV (the query results file).
//!
//! Two scans, as for Athena: the kept records, and the horizon row.

use super::{Dialect, Selection, header, in_list, two_scans};

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
    // Whole days, as the other engines read them: the analysis cuts exactly.
    let mut scope = Vec::new();
    if let Some((first, last)) = super::days(sel) {
        scope.push(format!("eventTime >= timestamp '{first} 00:00:00'"));
        if sel.until_ms.is_some() {
            scope.push(format!(
                "eventTime < timestamp '{}'",
                last.succ_opt().unwrap_or(last)
            ));
        }
    } else if let Some(u) = sel
        .until_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
    {
        let next = u.date_naive().succ_opt().unwrap_or(u.date_naive());
        scope.push(format!("eventTime < timestamp '{next}'"));
    }
    if !sel.accounts.is_empty() {
        scope.push(format!("recipientAccountId {}", in_list(&sel.accounts)));
    }
    if !sel.regions.is_empty() {
        scope.push(format!("awsRegion {}", in_list(&sel.regions)));
    }
    let head = header(
        "CloudTrail Lake",
        sel,
        "`aws cloudtrail start-query --query-statement file://THIS.sql`, save the results as CSV and run",
    );
    two_scans(&Lake, sel, &head, &scope)
}
