//! The fast path against the general decoder, and denydiff's gunzip against
//! flate2's: on any bytes, `source::fast` must leave the collector exactly as
//! `source::decode` does (books, failures, calls, horizon), and
//! `source::gunzip` must inflate what `MultiGzDecoder` inflates, and fail
//! where it fails.
#![no_main]

use std::io::Read;

use denydiff::collect::{Collector, Filters};
use denydiff::source::decode::decode_json;
use denydiff::source::fast::{Fast, decode_text};
use denydiff::source::gunzip;
use libfuzzer_sys::fuzz_target;

fn outcome(text: &[u8], fast: bool) -> String {
    let mut c = Collector::new(Filters::default());
    match (fast, decode_text(text)) {
        (true, Fast::Items(items)) => c.add_items("input", items),
        (true, Fast::General(result)) => c.add("input", result),
        (false, _) => c.add("input", decode_json(text)),
    }
    let c = c.finish();
    format!(
        "{:?} {:?} {:?} {:?} {:?}",
        c.inputs, c.failures, c.calls, c.trail_changes, c.horizon_ms
    )
}

fuzz_target!(|data: &[u8]| {
    if gunzip::is_gzip(data) {
        let mut expected = Vec::new();
        let theirs = flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut expected)
            .map(|_| expected);
        let ours = gunzip::with_text(data, |t| t.map(<[u8]>::to_vec));
        match (ours, theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("gunzip {:?} vs flate2 {:?}", a.map(|v| v.len()), b.map(|v| v.len())),
        }
        return;
    }
    assert_eq!(outcome(data, true), outcome(data, false));
});
