//! Any bytes as a `POST /v1/events` body through the ingest's parse, validate,
//! enrich and pack path; the invariants are in `pulse_fuzz::check_body`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulse_core::ingest::PayloadFormat;

fuzz_target!(|data: &[u8]| {
    pulse_fuzz::check_body(PayloadFormat::Native, data);
});
