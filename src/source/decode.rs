//! Bytes in, CloudTrail records out: the one decoder every source shares.
//!
//! Handles gzip (single or multi-member) and plain bytes, then every shape of
//! `docs/cloudtrail-inputs.md`'s input shapes: a `{"Records":[...]}` envelope, a top-level array,
//! NDJSON, `lookup-events` output (`{"Events":[{"CloudTrailEvent":"..."}]}`),
//! JSON Lines of LookupEvents items, and a single bare record. Digest files
//! are recognised by shape and reported as such. It knows nothing of paths,
//! filters or KMS: that is the caller's business.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::gunzip;
use crate::event::{Event, RawRecord, not_an_object};

/// What one input decoded to.
#[derive(Debug)]
pub enum Decoded {
    /// Records (some possibly invalid), with per-line errors for NDJSON.
    Records(Records),
    /// A CloudTrail digest file: not events.
    Digest,
}

/// The records of one input, in file order.
#[derive(Debug, Default)]
pub struct Records {
    pub shape: Shape,
    pub records: Vec<RawRecord>,
    /// NDJSON lines that were not JSON: (1-based line, reason).
    pub bad_lines: Vec<(usize, String)>,
}

/// The input shapes denydiff recognises.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    #[default]
    Envelope,
    Array,
    Lines,
    LookupEvents,
    Single,
}

/// Why an input could not be decoded at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A gzip stream that is truncated or corrupt.
    #[error("gzip: {0}")]
    Gzip(std::io::Error),
    /// Bytes that are not JSON (or not UTF-8).
    #[error("invalid JSON: {0}")]
    Json(serde_json::Error),
    /// An empty input (or only whitespace).
    #[error("empty input: no JSON at all")]
    Empty,
    /// JSON, but no shape of CloudTrail: the top-level keys are named.
    #[error("not CloudTrail: a JSON object with keys {0}")]
    NotCloudTrail(String),
    /// JSON, but a scalar at the top level.
    #[error("not CloudTrail: the top-level JSON value is {0}")]
    NotAnObject(&'static str),
    /// AWS event notifications, which share CloudTrail's `Records` envelope:
    /// `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}`
    /// (S3, SQS, SNS, `DynamoDB` and Kinesis events as Lambda receives them).
    /// CloudTrail names a service `*.amazonaws.com`, never `aws:*`.
    #[error(
        "not CloudTrail: {count} of {total} records are AWS event notifications (`eventSource` `{event_source}`), not CloudTrail records"
    )]
    EventNotifications {
        event_source: String,
        count: usize,
        total: usize,
    },
}

/// Decompresses `bytes` if gzipped, then decodes the records.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    if gunzip::is_gzip(bytes) {
        gunzip::with_text(bytes, |text| decode_json(text.map_err(DecodeError::Gzip)?))
    } else {
        decode_json(bytes)
    }
}

/// Decodes uncompressed JSON text in any of the shapes.
pub fn decode_json(text: &[u8]) -> Result<Decoded, DecodeError> {
    let decoded = decode_shapes(text)?;
    if let Decoded::Records(r) = &decoded {
        reject_notifications(&r.records)?;
    }
    Ok(decoded)
}

fn decode_shapes(text: &[u8]) -> Result<Decoded, DecodeError> {
    let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<Top>();
    let first = match stream.next() {
        None => return Err(DecodeError::Empty),
        Some(Err(e)) => return Err(DecodeError::Json(e)),
        Some(Ok(top)) => top,
    };
    let rest = &text[stream.byte_offset()..];
    if rest.iter().all(u8::is_ascii_whitespace) {
        return top_to_decoded(first);
    }
    if matches!(first, Top::Object(..)) {
        return Ok(Decoded::Records(decode_lines(text)));
    }
    // Concatenated documents (e.g. one gzip member each): read them all.
    let mut out = top_to_records(first)?;
    for top in stream {
        let more = top_to_records(top.map_err(DecodeError::Json)?)?;
        out.records.extend(more.records);
    }
    Ok(Decoded::Records(out))
}

/// An input holding AWS event notifications is not a CloudTrail log, even
/// where CloudTrail records sit beside them: it is rejected whole and named,
/// never mixed in as records of other services.
fn reject_notifications(records: &[RawRecord]) -> Result<(), DecodeError> {
    let mut sources = records.iter().filter_map(|r| match r {
        RawRecord::Record(ev) => ev.event_source.as_deref().filter(|s| s.starts_with("aws:")),
        RawRecord::Invalid(_) => None,
    });
    let Some(first) = sources.next() else {
        return Ok(());
    };
    Err(DecodeError::EventNotifications {
        event_source: first.to_owned(),
        count: 1 + sources.count(),
        total: records.len(),
    })
}

fn top_to_records(top: Top) -> Result<Records, DecodeError> {
    match top_to_decoded(top)? {
        Decoded::Records(r) => Ok(r),
        Decoded::Digest => Err(DecodeError::NotCloudTrail(
            "a digest among log documents".into(),
        )),
    }
}

fn top_to_decoded(top: Top) -> Result<Decoded, DecodeError> {
    let (shape, records) = match top {
        Top::Records(r) => (Shape::Envelope, r),
        Top::Events(r) => (Shape::LookupEvents, r),
        Top::Array(r) => (Shape::Array, r),
        Top::Digest => return Ok(Decoded::Digest),
        Top::Object(obj) => (Shape::Single, vec![object_to_record(obj)?]),
        Top::Scalar(what) => return Err(DecodeError::NotAnObject(what)),
    };
    Ok(Decoded::Records(Records {
        shape,
        records,
        bad_lines: Vec::new(),
    }))
}

/// NDJSON or JSON Lines of LookupEvents items; a bad line is kept as an error.
fn decode_lines(text: &[u8]) -> Records {
    let mut out = Records {
        shape: Shape::Lines,
        ..Records::default()
    };
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Top>(line) {
            Ok(Top::Object(obj)) => match object_to_record(obj) {
                Ok(r) => out.records.push(r),
                Err(e) => out.bad_lines.push((i + 1, e.to_string())),
            },
            Ok(Top::Scalar(what)) => out.records.push(RawRecord::Invalid(what)),
            Ok(_) => out
                .bad_lines
                .push((i + 1, "a whole log file on one line".into())),
            Err(e) => out.bad_lines.push((i + 1, e.to_string())),
        }
    }
    out
}

/// A lone object: a bare record, or one LookupEvents item.
fn object_to_record(obj: Object) -> Result<RawRecord, DecodeError> {
    if let Some(inner) = obj.cloudtrail_event {
        return Ok(lookup_item(&inner));
    }
    let looks_like_record = ["eventTime", "eventName", "eventSource", "eventVersion"]
        .iter()
        .any(|k| obj.rest.contains_key(*k));
    if !looks_like_record {
        let keys: Vec<_> = obj.rest.keys().take(6).map(|k| format!("`{k}`")).collect();
        return Err(DecodeError::NotCloudTrail(keys.join(", ")));
    }
    let ev = Event::deserialize(serde_json::Value::Object(obj.rest)).map_err(DecodeError::Json)?;
    Ok(RawRecord::Record(Box::new(ev)))
}

/// The record inside a LookupEvents item's `CloudTrailEvent` string.
fn lookup_item(inner: &str) -> RawRecord {
    serde_json::from_str::<RawRecord>(inner).unwrap_or(RawRecord::Invalid(
        "a CloudTrailEvent string that is not JSON",
    ))
}

/// The top-level value of an input, classified while it is parsed.
enum Top {
    Records(Vec<RawRecord>),
    Events(Vec<RawRecord>),
    Array(Vec<RawRecord>),
    Digest,
    Object(Object),
    Scalar(&'static str),
}

/// A top-level object that is neither an envelope nor a digest.
#[derive(Default)]
struct Object {
    cloudtrail_event: Option<String>,
    rest: serde_json::Map<String, serde_json::Value>,
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("CloudTrail JSON")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<RawRecord>()? {
            out.push(item);
        }
        Ok(Top::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut obj = Object::default();
        let mut records: Option<Vec<RawRecord>> = None;
        let mut events: Option<Vec<RawRecord>> = None;
        let mut digest = false;
        while let Some(key) = map.next_key::<String>()? {
            // A repeated `Records` or `Events` key adds its entries: none is
            // dropped unread.
            match key.as_str() {
                "Records" => records
                    .get_or_insert_default()
                    .extend(map.next_value::<Vec<RawRecord>>()?),
                "Events" => events.get_or_insert_default().extend(
                    map.next_value::<Vec<LookupItem>>()?
                        .into_iter()
                        .map(|i| i.0),
                ),
                "digestStartTime" | "logFiles" | "digestPublicKeyFingerprint" => {
                    digest = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "CloudTrailEvent" => match map.next_value::<serde_json::Value>()? {
                    serde_json::Value::String(s) => obj.cloudtrail_event = Some(s),
                    other => {
                        obj.rest.insert(key, other);
                    }
                },
                _ => {
                    let v = map.next_value::<serde_json::Value>()?;
                    obj.rest.insert(key, v);
                }
            }
        }
        Ok(match (records, events) {
            (Some(mut r), Some(e)) => {
                r.extend(e);
                Top::Records(r)
            }
            (Some(r), None) => Top::Records(r),
            (None, Some(e)) => Top::Events(e),
            (None, None) if digest => Top::Digest,
            (None, None) => Top::Object(obj),
        })
    }

    not_an_object!(scalars Top, Top::Scalar);
}

/// One item of `lookup-events` output: only `CloudTrailEvent` is read.
struct LookupItem(RawRecord);

impl<'de> Deserialize<'de> for LookupItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LookupItemVisitor)
    }
}

struct LookupItemVisitor;

impl<'de> Visitor<'de> for LookupItemVisitor {
    type Value = LookupItem;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a LookupEvents item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LookupItem, A::Error> {
        let mut inner = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "CloudTrailEvent" {
                inner = match map.next_value::<serde_json::Value>()? {
                    serde_json::Value::String(s) => Some(s),
                    _ => None,
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(LookupItem(match inner {
            Some(s) => lookup_item(&s),
            None => RawRecord::Invalid("a LookupEvents item without `CloudTrailEvent`"),
        }))
    }

    not_an_object!(LookupItem, |what| LookupItem(RawRecord::Invalid(what)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<RawRecord> {
        match decode(text.as_bytes()) {
            Ok(Decoded::Records(r)) => r.records,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repeated_records_and_events_keys_are_all_read() {
        let item = r#"{"CloudTrailEvent": "{\"eventName\": \"c\"}"}"#;
        let text = format!(
            r#"{{"Records": [{{"eventName": "a"}}], "Events": [{item}], "Records": [{{"eventName": "b"}}]}}"#
        );
        let names: Vec<_> = records(&text)
            .iter()
            .map(|r| match r {
                RawRecord::Record(e) => e.event_name.clone().unwrap(),
                RawRecord::Invalid(what) => panic!("{what}"),
            })
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn event_notifications_are_not_cloudtrail() {
        let s3 = r#"{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"},
                                  {"eventSource": "kms.amazonaws.com"}]}"#;
        let err = decode(s3.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not CloudTrail: 1 of 2 records are AWS event notifications (`eventSource` `aws:s3`), not CloudTrail records"
        );
        let sns = r#"{"EventSource": "aws:sns", "EventVersion": "1.0", "eventName": "x"}"#;
        assert!(matches!(
            decode(sns.as_bytes()),
            Err(DecodeError::EventNotifications { .. })
        ));
        assert_eq!(
            records(r#"{"Records": [{"eventSource": "s3.amazonaws.com"}]}"#).len(),
            1
        );
    }
}
