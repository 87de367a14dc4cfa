//! The fast path for the common case: a (gzipped) `{"Records":[...]}` file of
//! which only a few records are KMS calls.
//!
//! Each record is first held as a borrowed slice of the input
//! (`&RawValue`, no copy), then read for three fields only (`eventID`,
//! `eventTime`, `eventSource`, borrowed, without allocating); only KMS and
//! CloudTrail-configuration records, and any record the light read cannot
//! take, are parsed in full with the tolerant model of `event`. Anything
//! that is not a plain envelope (other shapes, duplicate keys, event
//! notifications, invalid JSON) falls back to the general decoder, so the
//! result is always the one `decode` would give: this module only makes it
//! cheaper.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::decode::{DecodeError, Decoded, decode_json};
use crate::call::parse_time;
use crate::collect::DedupKey;
use crate::event::{Event, not_an_object};

/// One record of a file, as little of it as the collector needs.
#[derive(Debug)]
pub enum Item {
    /// A record that is neither KMS nor CloudTrail configuration: counted,
    /// deduplicated and used for the horizon only.
    Light {
        id: Option<DedupKey>,
        time_ms: Option<i64>,
    },
    /// A record the analysis reads (or one the light read could not take).
    Full(Box<Event>),
    /// Not a JSON object.
    Invalid(&'static str),
}

/// What one input decoded to on the fast path.
#[derive(Debug)]
pub enum Fast {
    Items(Vec<Item>),
    /// The general decoder's result, for everything else.
    General(Result<Decoded, DecodeError>),
}

/// `{"Records": [...]}` whose records are read in one pass by [`Record`].
struct Envelope(Vec<Item>);

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut records = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Records" && records.is_none() {
                records = Some(map.next_value::<Vec<Record>>()?);
            } else {
                // Another key (or `Records` twice): not the plain envelope.
                return Err(de::Error::custom("not a plain envelope"));
            }
        }
        let records = records.ok_or_else(|| de::Error::custom("no Records"))?;
        Ok(Envelope(records.into_iter().map(|r| r.0).collect()))
    }
}

/// One record, read in a single pass: `eventID`, `eventTime` and
/// `eventSource` borrowed; other fields skipped once the source is known
/// to be of no interest, else kept as borrowed raw JSON so that a wanted
/// record is then built from them without reading the input again.
struct Record(Item);

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut id: Option<Cow<'de, str>> = None;
        let mut time: Option<Cow<'de, str>> = None;
        let mut source: Option<Option<Cow<'de, str>>> = None;
        let mut kept: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let needed = matches!(
                key.as_ref(),
                "eventID" | "eventTime" | "eventSource" | "EventSource"
            );
            let skip = source
                .as_ref()
                .is_some_and(|s| !s.as_deref().is_some_and(wanted));
            if skip && !needed {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let raw: &'de RawValue = map.next_value()?;
            match key.as_ref() {
                "eventID" => id = Some(text(raw).ok_or_else(|| de::Error::custom("eventID"))?),
                "eventTime" => {
                    time = Some(text(raw).ok_or_else(|| de::Error::custom("eventTime"))?);
                }
                "eventSource" | "EventSource" if source.is_none() => {
                    source = Some(Some(
                        text(raw).ok_or_else(|| de::Error::custom("eventSource"))?,
                    ));
                }
                _ => {}
            }
            kept.push((key, raw));
        }
        let source = source.flatten();
        if source.as_deref().is_some_and(|s| s.starts_with("aws:")) {
            return Err(de::Error::custom("an event notification"));
        }
        if !source.as_deref().is_some_and(wanted) {
            return Ok(Record(Item::Light {
                id: id.as_deref().map(DedupKey::of),
                time_ms: time.as_deref().and_then(parse_time),
            }));
        }
        let pairs = kept.into_iter().map(|(k, v)| (k.into_owned(), v));
        let de = de::value::MapDeserializer::<_, serde_json::Error>::new(pairs);
        Event::deserialize(de)
            .map(|ev| Record(Item::Full(Box::new(ev))))
            .map_err(de::Error::custom)
    }

    not_an_object!(Record, |what| Record(Item::Invalid(what)));
}

/// A JSON string's text, borrowed when it has no escapes; `None` if the
/// value is not a string (the record then takes the general path).
fn text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        return serde_json::from_str::<String>(s).ok().map(Cow::Owned);
    }
    Some(Cow::Borrowed(inner))
}

/// Sources whose records the analysis reads in full.
fn wanted(source: &str) -> bool {
    source == "kms.amazonaws.com" || source == "cloudtrail.amazonaws.com"
}

/// Decompresses `bytes` if gzipped and decodes them, cheaply when it can.
pub fn decode(bytes: &[u8]) -> Fast {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(8).min(64 << 20));
        if let Err(e) = MultiGzDecoder::new(bytes).read_to_end(&mut out) {
            return Fast::General(Err(DecodeError::Gzip(e)));
        }
        decode_text(&out)
    } else {
        decode_text(bytes)
    }
}

/// The fast path on uncompressed text, or the general decoder.
pub fn decode_text(text: &[u8]) -> Fast {
    match items(text) {
        Some(items) => Fast::Items(items),
        None => Fast::General(decode_json(text)),
    }
}

fn items(text: &[u8]) -> Option<Vec<Item>> {
    serde_json::from_slice::<Envelope>(text).ok().map(|e| e.0)
}
