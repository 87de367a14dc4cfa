//! CloudTrail Lake over an event data store (its id in `FROM`, "CloudTrail
//! Lake SQL constraints"). Lake's schema differs from the log files: the
//! JSON fields are maps (`requestParameters`, `responseElements`,
//! `additionalEventData`), written back as JSON text here, and `eventTime`
//! is a timestamp, written back in CloudTrail's spelling. Lake prunes on
//! `eventTime`, here whole days as the other engines read them; the result
//! is CSV (the query results file).
//!
//! Two scans, as for Athena: the kept records, and the horizon row.

use super::{Bounds, Dialect, QueryScope, days, header, two_scans};

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

pub(super) fn query(sel: &QueryScope) -> String {
    // Whole days, as the other engines read them: the analysis cuts exactly.
    // Lake's `eventTime` is the record's own time, not a delivery day, so the
    // day of `until` is the last one needed.
    let day = |d: chrono::NaiveDate| format!("timestamp '{d} 00:00:00'");
    let until = sel
        .until_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|u| u.date_naive());
    let bounds = Bounds {
        lower: days(sel).map(|(first, _)| format!("eventTime >= {}", day(first))),
        upper: until.map(|u| format!("eventTime < {}", day(u.succ_opt().unwrap_or(u)))),
    };
    let head = header(
        "CloudTrail Lake",
        sel,
        "`aws cloudtrail start-query --query-statement file://THIS.sql`, save the results as CSV and run",
    );
    two_scans(&Lake, sel, &head, &bounds)
}
