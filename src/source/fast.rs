//! The fast path for the common case: a (gzipped) `{"Records":[...]}` file of
//! which only a few records are KMS calls.
//!
//! The file is checked and split into records by [`scan`], which reads
//! two fields of each (`eventTime` and `eventSource`) without allocating.
//! Only KMS and CloudTrail-configuration records, and any record the scan
//! flags as odd, are then parsed in full with the tolerant model of
//! `event`, from their own bytes. Anything that is not a plain envelope
//! (other shapes, event notifications, invalid JSON) falls back to the
//! general decoder, so the result is always the one `decode` would give:
//! this module only makes it cheaper.

use super::decode::{DecodeError, Decoded, decode_json};
use super::gunzip;
use super::scan::{self, Fields};
use crate::call::{is_analysed_source, parse_time_bytes};
use crate::event::{Event, RawRecord};

/// One record of a file, as little of it as the collector needs.
#[derive(Debug)]
pub enum Item {
    /// A record that is neither KMS nor CloudTrail configuration: counted
    /// and used for the horizon only.
    Light { time_ms: Option<i64> },
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

/// Decompresses `bytes` if gzipped and decodes them, cheaply when it can.
pub fn decode(bytes: &[u8]) -> Fast {
    if gunzip::is_gzip(bytes) {
        gunzip::with_text(bytes, |text| match text {
            Ok(text) => decode_text(text),
            Err(e) => Fast::General(Err(DecodeError::Gzip(e))),
        })
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
    // serde_json checks UTF-8 in what it parses (keys, known fields) but
    // not in what it skips: one check of the whole text is simpler and
    // never less strict.
    simdutf8::basic::from_utf8(text).ok()?;
    let mut items = Vec::new();
    let mut general = false;
    scan::scan(text, |fields, raw| {
        if general {
            return;
        }
        if let Some(time_ms) = light(&fields) {
            items.push(Item::Light { time_ms });
            return;
        }
        match serde_json::from_slice::<RawRecord>(raw) {
            Ok(RawRecord::Record(ev)) if is_notification(&ev) => general = true,
            Ok(RawRecord::Record(ev)) => items.push(Item::Full(ev)),
            Ok(RawRecord::Invalid(what)) => items.push(Item::Invalid(what)),
            Err(_) => general = true,
        }
    })
    .ok()?;
    (!general).then_some(items)
}

/// A record that is only counted: its `eventTime`, if the scan's reading
/// is all the collector needs.
#[allow(clippy::option_option)]
fn light(f: &Fields<'_>) -> Option<Option<i64>> {
    let source = f.source?;
    if f.odd || is_analysed_source(source) || source.starts_with(b"aws:") {
        return None;
    }
    Some(f.time.and_then(parse_time_bytes))
}

/// AWS event notifications share the envelope; the general decoder
/// rejects the file that holds them, by name.
fn is_notification(ev: &Event) -> bool {
    ev.event_source
        .as_deref()
        .is_some_and(|s| s.starts_with("aws:"))
}

/// What the collector holds after reading `text` on the fast path (`fast`)
/// or with the general decoder, as text. The two must be equal on any
/// input: the `props` tests below and the `fast` fuzz target check it.
#[doc(hidden)]
pub fn outcome(text: &[u8], fast: bool) -> String {
    let mut c = crate::collect::Collector::new(crate::collect::Filters::default());
    match (fast, decode_text(text)) {
        (true, Fast::Items(items)) => c.add_items("input", items),
        (true, Fast::General(result)) => c.add("input", result),
        (false, _) => c.add("input", decode_json(text)),
    }
    let c = c.finish();
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        c.inputs, c.failures, c.calls, c.lifecycle, c.trail_changes, c.horizon_ms, c.per_file
    )
}

#[cfg(test)]
mod props {
    //! The fast path against the general decoder: on generated envelopes,
    //! whole or damaged by one byte, both must leave the collector with the
    //! same books, failures, calls and horizon.

    use proptest::prelude::*;

    use super::outcome;

    /// Top-level keys, including the spellings the scan must not take at
    /// face value.
    const KEYS: &[&str] = &[
        "eventTime",
        "eventSource",
        "EventSource",
        "eventID",
        "eventName",
        "requestParameters",
        "event\\u0053ource",
        "event\\u0054ime",
    ];

    const STRINGS: &[&str] = &[
        "kms.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "s3.amazonaws.com",
        "aws:s3",
        "kms\\u002eamazonaws.com",
        "2026-11-20T10:00:00Z",
        "2026-11-21T00:00:00Z",
        "not a time",
        "Decrypt",
        "PutKeyPolicy",
        "11111111-2222-4333-8444-555555555555",
        "é\\n\\\"",
        "",
    ];

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(STRINGS).prop_map(|s| format!("\"{s}\"")),
            prop::sample::select(&["0", "-1.5e3", "true", "false", "null", "{}", "[]"][..])
                .prop_map(str::to_owned),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        scalar().prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..3).prop_map(|m| {
                    let members: Vec<String> =
                        m.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                    format!("{{{}}}", members.join(", "))
                }),
            ]
        })
    }

    /// A top-level value: mostly a string, as CloudTrail's fields are.
    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(STRINGS).prop_map(|s| format!("\"{s}\"")),
            1 => value(),
        ]
    }

    fn record() -> impl Strategy<Value = String> {
        prop_oneof![
            9 => prop::collection::vec((prop::sample::select(KEYS), field()), 0..6).prop_map(|m| {
                let members: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
            1 => scalar(),
        ]
    }

    fn envelope() -> impl Strategy<Value = Vec<u8>> {
        (prop::collection::vec(record(), 0..5), any::<bool>()).prop_map(|(records, pretty)| {
            let sep = if pretty { ",\n  " } else { "," };
            format!("{{\"Records\":[{}]}}", records.join(sep)).into_bytes()
        })
    }

    /// One byte replaced by a character that matters to JSON, or the text
    /// cut short.
    fn damaged() -> impl Strategy<Value = Vec<u8>> {
        (
            envelope(),
            any::<prop::sample::Index>(),
            prop::sample::select(&b"\"\\{}[],:x0 \x01\xff"[..]),
            any::<bool>(),
        )
            .prop_map(|(mut text, at, byte, cut)| {
                if !text.is_empty() {
                    let i = at.index(text.len());
                    if cut {
                        text.truncate(i);
                    } else {
                        text[i] = byte;
                    }
                }
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(768))]

        #[test]
        fn fast_equals_general_on_envelopes(text in envelope()) {
            prop_assert_eq!(outcome(&text, true), outcome(&text, false));
        }

        #[test]
        fn fast_equals_general_on_damaged_envelopes(text in damaged()) {
            prop_assert_eq!(outcome(&text, true), outcome(&text, false));
        }
    }
}
