//! The reduced table (`docs/reduced-table.md`): one row per CloudTrail
//! record the analysis keeps, flat string columns, as Spark, Athena, Trino
//! or CloudTrail Lake write it (`denydiff sql`) and `analyze --export-calls`
//! writes it. Rows turn back into [`Event`]s for the one collector path raw
//! records take, so the analysis of a table is the analysis of its records.
//!
//! This module owns the contract (columns, version, which records are kept)
//! and the conversions between a row and an [`Event`], and writes a table
//! through polars. Reading one is `source::table_file`'s business.

use std::path::Path;

use anyhow::Context;
use polars::prelude::{Column, DataFrame, PolarsResult};
use polars_io::SerWriter;
use polars_io::prelude::{CsvWriter, ParquetWriter};
use serde_json::value::RawValue;

use crate::call;
use crate::event::{Event, Identity, Issuer, Resource, SessionContext};

/// The contract's version, the value of every row's first column.
pub const VERSION: &str = "1";

/// The columns, in order, each with the CloudTrail field it comes from (its
/// JSON path), but the contract's own first two. Every one is a string
/// (UTF-8, nullable).
pub const FIELDS: [(&str, Option<&str>); 26] = [
    ("denydiff_table_version", None),
    ("row_kind", None),
    ("event_time", Some("eventTime")),
    ("event_id", Some("eventID")),
    ("event_source", Some("eventSource")),
    ("event_name", Some("eventName")),
    ("aws_region", Some("awsRegion")),
    ("recipient_account_id", Some("recipientAccountId")),
    ("identity_type", Some("userIdentity.type")),
    ("identity_arn", Some("userIdentity.arn")),
    ("identity_account_id", Some("userIdentity.accountId")),
    ("identity_principal_id", Some("userIdentity.principalId")),
    ("identity_invoked_by", Some("userIdentity.invokedBy")),
    ("identity_user_name", Some("userIdentity.userName")),
    (
        "issuer_type",
        Some("userIdentity.sessionContext.sessionIssuer.type"),
    ),
    (
        "issuer_arn",
        Some("userIdentity.sessionContext.sessionIssuer.arn"),
    ),
    (
        "issuer_account_id",
        Some("userIdentity.sessionContext.sessionIssuer.accountId"),
    ),
    ("source_ip_address", Some("sourceIPAddress")),
    ("vpc_endpoint_id", Some("vpcEndpointId")),
    ("error_code", Some("errorCode")),
    ("error_message", Some("errorMessage")),
    ("request_parameters", Some("requestParameters")),
    ("response_elements", Some("responseElements")),
    ("additional_event_data", Some("additionalEventData")),
    ("resources", Some("resources")),
    ("event_version", Some("eventVersion")),
];

/// The column names of [`FIELDS`], in order.
pub const COLUMNS: [&str; FIELDS.len()] = {
    let mut out = [""; FIELDS.len()];
    let mut i = 0;
    while i < FIELDS.len() {
        out[i] = FIELDS[i].0;
        i += 1;
    }
    out
};

/// The position of `column` in [`COLUMNS`]; a compile error in a `const`
/// block when there is none.
const fn index(column: &str) -> usize {
    let mut i = 0;
    while i < COLUMNS.len() {
        let (a, b) = (COLUMNS[i].as_bytes(), column.as_bytes());
        let mut same = a.len() == b.len();
        let mut j = 0;
        while same && j < a.len() {
            same = a[j] == b[j];
            j += 1;
        }
        if same {
            return i;
        }
        i += 1;
    }
    panic!("no such column")
}

/// What a row stands for (`row_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A kept CloudTrail record.
    Record,
    /// The latest `eventTime` of every record read, kept or not, in
    /// `event_time`: how far the trail reaches (`collect::Collected::horizon_ms`).
    Horizon,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Record => "record",
            RowKind::Horizon => "horizon",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "record" => Some(RowKind::Record),
            "horizon" => Some(RowKind::Horizon),
            _ => None,
        }
    }
}

/// Whether a record belongs in the table: every KMS record, and the trail
/// changes of `call::trail_events`. (Every other record only moves the
/// horizon.)
pub fn keeps(ev: &Event) -> bool {
    if call::is_kms(ev) {
        return true;
    }
    ev.event_source.as_deref() == Some(call::TRAIL_SOURCE)
        && ev
            .event_name
            .as_deref()
            .is_some_and(|n| call::trail_events().any(|t| t == n))
}

/// One row: a cell per column of [`COLUMNS`], in order.
pub type Row = [Option<String>; COLUMNS.len()];

/// The row of a kept record.
pub fn row_of(ev: &Event) -> Row {
    let id = ev.user_identity.as_ref();
    let issuer = id
        .and_then(|i| i.session_context.as_ref())
        .and_then(|s| s.session_issuer.as_ref());
    let raw = |r: &Option<Box<RawValue>>| r.as_ref().map(|r| r.get().to_owned());
    let resources = (!ev.resources.is_empty()).then(|| resources_json(&ev.resources));
    [
        Some(VERSION.to_owned()),
        Some(RowKind::Record.as_str().to_owned()),
        ev.event_time.clone(),
        ev.event_id.clone(),
        ev.event_source.clone(),
        ev.event_name.clone(),
        ev.aws_region.clone(),
        ev.recipient_account_id.clone(),
        id.and_then(|i| i.kind.clone()),
        id.and_then(|i| i.arn.clone()),
        id.and_then(|i| i.account_id.clone()),
        id.and_then(|i| i.principal_id.clone()),
        id.and_then(|i| i.invoked_by.clone()),
        id.and_then(|i| i.user_name.clone()),
        issuer.and_then(|i| i.kind.clone()),
        issuer.and_then(|i| i.arn.clone()),
        issuer.and_then(|i| i.account_id.clone()),
        ev.source_ip_address.clone(),
        ev.vpc_endpoint_id.clone(),
        ev.error_code.clone(),
        ev.error_message.clone(),
        raw(&ev.request_parameters),
        raw(&ev.response_elements),
        raw(&ev.additional_event_data),
        resources,
        ev.event_version.clone(),
    ]
}

/// The horizon row: `event_time` only.
pub fn horizon_row(time_ms: i64) -> Row {
    let mut row: Row = Default::default();
    row[0] = Some(VERSION.to_owned());
    row[1] = Some(RowKind::Horizon.as_str().to_owned());
    row[2] = Some(call::fmt_time(time_ms));
    row
}

/// `resources` as CloudTrail logs it: `[{"ARN", "accountId", "type"}]`.
fn resources_json(resources: &[Resource]) -> String {
    let list: Vec<serde_json::Value> = resources
        .iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            for (k, v) in [
                ("ARN", &r.arn),
                ("ARNPrefix", &r.arn_prefix),
                ("accountId", &r.account_id),
                ("type", &r.kind),
            ] {
                if let Some(v) = v {
                    o.insert(k.to_owned(), v.clone().into());
                }
            }
            o.into()
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// Why a row cannot be a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// `denydiff_table_version` is not [`VERSION`].
    #[error(
        "`denydiff_table_version` is `{0}`; this denydiff reads version `{VERSION}`\nhint: produce the table again with this denydiff's `sql` or `--export-calls`"
    )]
    Version(String),
    /// `row_kind` is neither `record` nor `horizon`.
    #[error("`row_kind` is `{0}`, not `record` or `horizon`")]
    Kind(String),
    /// `resources` is not a JSON array.
    #[error("`resources` is not a JSON array")]
    Resources,
}

/// A row as the event it stands for: a record, or the horizon (an event
/// with a time and nothing else, which the collector counts as a record of
/// another service). Cells are borrowed in [`COLUMNS`] order.
pub fn event_of(cells: &[Option<&str>; COLUMNS.len()]) -> Result<Event, RowError> {
    // An empty cell is null: Trino's CSV quotes every cell and writes null
    // as `""`, and CloudTrail never logs an empty string in these fields.
    let cells = &cells.map(|c| c.filter(|s| !s.is_empty()));
    let cell = |i: usize| cells[i];
    let text = |i: usize| cell(i).map(str::to_owned);
    let version = cell(const { index("denydiff_table_version") }).unwrap_or("");
    if version != VERSION {
        return Err(RowError::Version(version.to_owned()));
    }
    let row_kind = cell(const { index("row_kind") }).unwrap_or("");
    match RowKind::parse(row_kind) {
        Some(RowKind::Record) => {}
        Some(RowKind::Horizon) => {
            return Ok(Event {
                event_time: text(const { index("event_time") }),
                ..Event::default()
            });
        }
        None => return Err(RowError::Kind(row_kind.to_owned())),
    }
    let [kind, arn, account] = [
        const { index("issuer_type") },
        const { index("issuer_arn") },
        const { index("issuer_account_id") },
    ];
    let issuer = [kind, arn, account]
        .iter()
        .any(|i| cell(*i).is_some())
        .then(|| SessionContext {
            session_issuer: Some(Issuer {
                kind: text(kind),
                arn: text(arn),
                account_id: text(account),
            }),
        });
    let identity = (const { index("identity_type") }..=account)
        .any(|i| cell(i).is_some())
        .then(|| Identity {
            kind: text(const { index("identity_type") }),
            arn: text(const { index("identity_arn") }),
            account_id: text(const { index("identity_account_id") }),
            principal_id: text(const { index("identity_principal_id") }),
            invoked_by: text(const { index("identity_invoked_by") }),
            user_name: text(const { index("identity_user_name") }),
            session_context: issuer,
        });
    let json = |i: usize| cell(i).map(raw_json);
    Ok(Event {
        event_version: text(const { index("event_version") }),
        event_time: text(const { index("event_time") }),
        event_id: text(const { index("event_id") }),
        event_source: text(const { index("event_source") }),
        event_name: text(const { index("event_name") }),
        aws_region: text(const { index("aws_region") }),
        recipient_account_id: text(const { index("recipient_account_id") }),
        user_identity: identity,
        source_ip_address: text(const { index("source_ip_address") }),
        vpc_endpoint_id: text(const { index("vpc_endpoint_id") }),
        error_code: text(const { index("error_code") }),
        error_message: text(const { index("error_message") }),
        request_parameters: json(const { index("request_parameters") }),
        response_elements: json(const { index("response_elements") }),
        additional_event_data: json(const { index("additional_event_data") }),
        resources: cell(const { index("resources") })
            .map(resources_of)
            .transpose()?
            .unwrap_or_default(),
        ..Event::default()
    })
}

/// A JSON column's text as the raw value it was logged as. An engine that
/// reads a JSON string value into a string column (Spark does) gives the
/// string's content, which need not be JSON: it is a JSON string again.
fn raw_json(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap_or_else(|_| {
        let quoted = serde_json::Value::String(text.to_owned()).to_string();
        RawValue::from_string(quoted).expect("a JSON string is JSON")
    })
}

/// `resources` from its JSON text: field names in any case, as Athena's
/// lowercase struct fields (`arn`, `accountid`) or CloudTrail's (`ARN`).
fn resources_of(text: &str) -> Result<Vec<Resource>, RowError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| RowError::Resources)?;
    let serde_json::Value::Array(list) = v else {
        return Err(RowError::Resources);
    };
    let field = |o: &serde_json::Map<String, serde_json::Value>, name: &str| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned)
    };
    Ok(list
        .iter()
        .filter_map(serde_json::Value::as_object)
        .map(|o| Resource {
            arn: field(o, "arn"),
            arn_prefix: field(o, "arnprefix"),
            kind: field(o, "type"),
            account_id: field(o, "accountid"),
        })
        .collect())
}

/// The format of a table file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Csv,
}

impl TableFormat {
    /// `.parquet` or `.csv` (any case); anything else is not a table name.
    pub fn of_name(name: &str) -> Option<Self> {
        let ext = Path::new(name).extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("parquet") {
            Some(TableFormat::Parquet)
        } else if ext.eq_ignore_ascii_case("csv") {
            Some(TableFormat::Csv)
        } else {
            None
        }
    }

    /// The format an export path names; an error for any other name.
    pub fn of_path(path: &Path) -> anyhow::Result<Self> {
        Self::of_name(&path.to_string_lossy()).ok_or_else(|| {
            anyhow::anyhow!(
                "`{}` is neither `.parquet` nor `.csv`\nhint: name the export `calls.parquet` or `calls.csv`",
                path.display()
            )
        })
    }
}

/// The rows as a polars frame, every column a string.
pub fn table_frame(rows: &[Row]) -> PolarsResult<DataFrame> {
    let columns = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let cells: Vec<Option<&str>> = rows.iter().map(|r| r[i].as_deref()).collect();
            Column::new((*name).into(), cells)
        })
        .collect();
    DataFrame::new_infer_height(columns)
}

/// Writes the rows, then the horizon row if any, to `path` (Parquet or CSV
/// by its name).
pub fn write(path: &Path, rows: &[Row], horizon_ms: Option<i64>) -> anyhow::Result<()> {
    let format = TableFormat::of_path(path)?;
    let mut df = table_frame(rows).context("building the table")?;
    if let Some(t) = horizon_ms {
        df.vstack_mut(&table_frame(&[horizon_row(t)])?)?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating `{}`", path.display()))?;
    let written = match format {
        TableFormat::Parquet => ParquetWriter::new(file).finish(&mut df).map(drop),
        TableFormat::Csv => CsvWriter::new(file).include_header(true).finish(&mut df),
    };
    written.with_context(|| format!("writing `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_record as ev;

    fn round_trip(e: &Event) -> Event {
        let row = row_of(e);
        let cells: [Option<&str>; COLUMNS.len()] = std::array::from_fn(|i| row[i].as_deref());
        event_of(&cells).unwrap()
    }

    #[test]
    fn a_record_survives_its_row() {
        let e = ev(
            r#"{"eventVersion": "1.08", "eventTime": "2026-11-20T10:00:00Z",
            "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "eventID": "e1",
            "awsRegion": "eu-west-1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/r/s",
              "accountId": "1", "principalId": "P:s", "invokedBy": "backup.amazonaws.com",
              "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::1:role/r", "accountId": "1"}}},
            "errorCode": "AccessDenied", "errorMessage": "no",
            "requestParameters": {"encryptionContext": {"a": "b"}}, "responseElements": null,
            "additionalEventData": "plain text",
            "resources": [{"ARN": "arn:aws:kms:eu-west-1:1:key/k", "type": "AWS::KMS::Key", "accountId": "1"}]}"#,
        );
        let back = round_trip(&e);
        assert_eq!(format!("{e:?}"), format!("{back:?}"));
        assert!(keeps(&e));
    }

    #[test]
    fn a_string_cell_that_is_not_json_stays_a_json_string() {
        assert_eq!(raw_json("plain").get(), r#""plain""#);
        assert_eq!(raw_json(r#"{"a":1}"#).get(), r#"{"a":1}"#);
    }

    #[test]
    fn lowercase_resource_fields_are_read() {
        let r = resources_of(r#"[{"arn": "a", "accountid": "1", "type": "t"}, 5]"#).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].arn.as_deref(), Some("a"));
        assert_eq!(r[0].account_id.as_deref(), Some("1"));
        assert_eq!(resources_of("{}").unwrap_err(), RowError::Resources);
    }

    #[test]
    fn horizon_rows_and_versions() {
        let h = horizon_row(0);
        let cells: [Option<&str>; COLUMNS.len()] = std::array::from_fn(|i| h[i].as_deref());
        let e = event_of(&cells).unwrap();
        assert_eq!(e.event_time.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert!(e.event_source.is_none());
        let mut bad = cells;
        bad[0] = Some("2");
        assert_eq!(event_of(&bad).unwrap_err(), RowError::Version("2".into()));
    }

    #[test]
    fn only_kms_and_trail_changes_are_kept() {
        let trail =
            ev(r#"{"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging"}"#);
        let lookup =
            ev(r#"{"eventSource": "cloudtrail.amazonaws.com", "eventName": "LookupEvents"}"#);
        let s3 = ev(r#"{"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}"#);
        assert_eq!(
            [keeps(&trail), keeps(&lookup), keeps(&s3)],
            [true, false, false]
        );
    }
}
