//! What remote items become: records for the collector (`analyze`), or
//! lines of gzipped NDJSON (`fetch`). Both go through the shared decoder.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::decode::{DecodeError, Decoded, Records, Shape, decode};
use super::remote::{Item, Payload};
use crate::collect::Collector;
use crate::event::RawRecord;

/// Hands one item to the collector, counted like a local file.
pub fn collect(item: Item, out: &mut Collector) {
    match item.payload {
        Payload::Object(bytes) => match super::fast::decode_text(&bytes) {
            super::fast::Fast::Items(items) => out.add_items(&item.source, items),
            super::fast::Fast::General(result) => out.add(&item.source, result),
        },
        Payload::Page { events, .. } => {
            out.add(&item.source, Ok(Decoded::Records(lookup_records(events))));
        }
        Payload::Skipped => out.skipped(),
        Payload::Failed(reason) => out.failed(&item.source, reason),
    }
}

/// A LookupEvents page's `CloudTrailEvent` strings as records.
pub fn lookup_records(events: Vec<Option<String>>) -> Records {
    let records = events
        .into_iter()
        .map(|e| match e {
            Some(text) => serde_json::from_str::<RawRecord>(&text).unwrap_or(RawRecord::Invalid(
                "a CloudTrailEvent string that is not JSON",
            )),
            None => RawRecord::Invalid("a LookupEvents item without `CloudTrailEvent`"),
        })
        .collect();
    Records {
        shape: Shape::LookupEvents,
        records,
        bad_lines: Vec::new(),
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// The records of an item as single-line JSON texts, for NDJSON output;
/// `Ok(None)` for an item to skip (a digest).
pub fn lines(payload: &Payload) -> Result<Option<Vec<String>>, String> {
    match payload {
        Payload::Page { events, .. } => {
            Ok(Some(events.iter().flatten().map(|e| one_line(e)).collect()))
        }
        Payload::Object(bytes) => object_lines(bytes),
        Payload::Skipped | Payload::Failed(_) => Ok(None),
    }
}

fn object_lines(bytes: &[u8]) -> Result<Option<Vec<String>>, String> {
    if let Ok(env) = serde_json::from_slice::<Envelope<'_>>(bytes) {
        return Ok(Some(
            env.records.iter().map(|r| one_line(r.get())).collect(),
        ));
    }
    match decode(bytes) {
        Ok(Decoded::Digest) => Ok(None),
        Ok(Decoded::Records(_)) => Err("not a CloudTrail log file (`{\"Records\": [...]}`)".into()),
        Err(e) => Err(DecodeError::to_string(&e)),
    }
}

/// A record's JSON text on one line (CloudTrail's own is compact already).
fn one_line(text: &str) -> String {
    if !text.contains('\n') {
        return text.to_owned();
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map_or_else(|_| text.replace('\n', " "), |v| v.to_string())
}
