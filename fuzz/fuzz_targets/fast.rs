//! The fast path against the general decoder, and denydiff's gunzip against
//! flate2's: on any bytes, `source::fast` must leave the collector exactly as
//! `source::decode` does (books, failures, calls, horizon), and
//! `source::gunzip` must inflate what `MultiGzDecoder` inflates, and fail
//! where it fails.
#![no_main]

use std::io::Read;

use denydiff::source::fast::outcome;
use denydiff::source::gunzip;
use libfuzzer_sys::fuzz_target;

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
