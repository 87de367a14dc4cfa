//! Bytes -> one `RawRecord` -> `kms_call`: a record never fails on types,
//! and building its call row never panics.
#![no_main]

use denydiff::call::{Interner, kms_call};
use denydiff::event::RawRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<RawRecord>(data) else {
        return;
    };
    if let RawRecord::Record(ev) = raw {
        let call = kms_call(&ev, &mut Interner::default());
        let id = call.event_id.as_ref().map(ToString::to_string);
        assert_eq!(id.as_deref(), ev.event_id.as_deref());
        assert_eq!(call.error_code.as_deref(), ev.error_code.as_deref());
        let _ = (ev.request(), ev.response(), ev.invoked_by());
    }
});
