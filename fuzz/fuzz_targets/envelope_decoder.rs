//! Any bytes as an SQS message body through the envelope decoders and the
//! consumer (`pulse_fuzz::check_sqs_body`), and the same bytes read as events
//! packed with `EnvelopePacker` and decoded back (`pulse_fuzz::check_pack`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pulse_fuzz::check_sqs_body(data);
    pulse_fuzz::check_pack(data);
});
