//! Bytes -> one `RawRecord` -> `kms_call`: a record never fails on types,
//! and building its call row never panics.
#![no_main]

use denydiff::call::{caller, kms_call};
use denydiff::event::RawRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<RawRecord>(data) else {
        return;
    };
    if let RawRecord::Record(ev) = raw {
        let call = kms_call(&ev);
        assert_eq!(call.caller, caller(&ev));
        assert_eq!(call.event_id, ev.event_id);
        let _ = (ev.request(), ev.response(), ev.invoked_by());
    }
});
