//! Any bytes as a Segment body on each Segment route (`/v1/batch`, `/v1/track`,
//! `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/group`, `/v1/alias`) through
//! the mapping and the ingest path; invariants in `pulse_fuzz::check_body`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in pulse_fuzz::SEGMENT_FORMATS {
        pulse_fuzz::check_body(format, data);
    }
});
