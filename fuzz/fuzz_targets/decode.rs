//! Bytes -> `decode` -> `Collector`: no panic, and the books balance.
#![no_main]

use denydiff::collect::{Collector, Filters, Inputs};
use denydiff::source::decode::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = decode(data);
    let failed = decoded.is_err();
    let mut c = Collector::new(Filters::default());
    c.add("fuzz", decoded);
    let out = c.finish();
    let i: &Inputs = &out.inputs;
    assert_eq!(
        i.records,
        i.records_invalid + i.duplicates_dropped + i.non_kms + i.outside_filters + i.kms_calls,
        "{i:?}"
    );
    assert_eq!(i.kms_calls, out.calls.len() as u64);
    assert_eq!(i.files_read + i.files_skipped + i.files_failed, 1, "{i:?}");
    if failed {
        assert_eq!((i.files_failed, i.records), (1, 0), "{i:?}");
        assert_eq!(out.failures.len(), 1);
    }
    // Every record that is not one is named in a failure.
    if i.records_invalid > 0 {
        assert!(!out.failures.is_empty(), "{i:?}");
    }
});
