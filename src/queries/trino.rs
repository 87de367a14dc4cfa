//! Athena and Trino over the CloudTrail table as the Athena user guide
//! creates it ("Create the table for CloudTrail logs in Athena using
//! partition projection": lowercase columns, `useridentity` and `resources`
//! as structs, the JSON fields as strings, partitioned by the day
//! `timestamp`, `yyyy/MM/dd`). The window prunes partitions through
//! `timestamp` (key and trail changes only from above); the result is CSV (Athena's result file, or `trino
//! --output-format CSV_HEADER`).
//!
//! Two scans: the kept records, and the latest time of every record in the
//! window (the horizon row). Without the second part (delete it after
//! `UNION ALL` to scan once) only silence verdicts can end earlier.

use super::{Bounds, Dialect, Engine, QueryScope, days, header, last_day, two_scans};

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

pub(super) fn query(engine: Engine, sel: &QueryScope) -> String {
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
    two_scans(&Trino, sel, &header(name, sel, then), &partitions(sel))
}

/// The days read, on the partition column `timestamp` (`yyyy/MM/dd`, the
/// delivery day): from `since`'s day to the day after `until`'s.
fn partitions(sel: &QueryScope) -> Bounds {
    let day =
        |op: &str, d: chrono::NaiveDate| format!("\"timestamp\" {op} '{}'", d.format("%Y/%m/%d"));
    Bounds {
        lower: days(sel).map(|(first, _)| day(">=", first)),
        upper: last_day(sel).map(|last| day("<=", last)),
    }
}
