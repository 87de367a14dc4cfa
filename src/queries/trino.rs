//! Athena and Trino over the CloudTrail table as the Athena user guide
//! creates it ("Create the table for CloudTrail logs in Athena using
//! partition projection": lowercase columns, `useridentity` and `resources`
//! as structs, the JSON fields as strings, partitioned by the day
//! `timestamp`, `yyyy/MM/dd`). The window prunes partitions through
//! `timestamp`; the result is CSV (Athena's result file, or `trino
//! --output-format CSV_HEADER`).
//!
//! Two scans: the kept records, and the latest time of every record in the
//! window (the horizon row). Without the second part (delete it after
//! `UNION ALL` to scan once) only silence verdicts can end earlier.

use super::{Dialect, Engine, Selection, header, in_list, quote, two_scans};

struct Trino;

impl Dialect for Trino {
    fn field(&self, path: &str) -> String {
        path.to_ascii_lowercase()
    }
    fn json(&self, path: &str) -> String {
        if path == "resources" {
            // An array of rows; as JSON, each row is an object of its fields.
            "json_format(CAST(resources AS JSON))".into()
        } else {
            self.field(path)
        }
    }
}

pub(super) fn query(engine: Engine, sel: &Selection) -> String {
    let mut scope = partitions(sel);
    if !sel.accounts.is_empty() {
        scope.push(format!("recipientaccountid {}", in_list(&sel.accounts)));
    }
    if !sel.regions.is_empty() {
        scope.push(format!("awsregion {}", in_list(&sel.regions)));
    }
    let (name, then) = match engine {
        Engine::Athena => (
            "Athena",
            "download the result (`QUERY_ID.csv` in the query result location) and run",
        ),
        _ => (
            "Trino",
            "`trino --output-format CSV_HEADER -f THIS.sql > calls.csv` and run",
        ),
    };
    two_scans(&Trino, sel, &header(name, sel, then), &scope)
}

/// The days read, on the partition column `timestamp` (`yyyy/MM/dd`).
fn partitions(sel: &Selection) -> Vec<String> {
    let day = |ms: i64| {
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
            .map(|t| t.format("%Y/%m/%d").to_string())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    if let Some(s) = sel.since_ms {
        out.push(format!("\"timestamp\" >= '{}'", quote(&day(s))));
    }
    if let Some(u) = sel.until_ms {
        out.push(format!("\"timestamp\" <= '{}'", quote(&day(u))));
    }
    out
}
