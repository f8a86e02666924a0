//! Replays every committed fuzz input (crashes found by `make fuzz`, and the
//! seeds) through the same invariant checks the fuzz targets run: the
//! harness is `fuzz/src/lib.rs`, included here as a module.
//!
//! To keep a new crash: copy it from `target/fuzz/artifacts/<target>/` to
//! `tests/fuzz_inputs/<target>/crash-<what>.json`.

#[path = "../../../fuzz/src/lib.rs"]
mod harness;

use pulse_core::envelope::EnvelopeError;
use pulse_core::ingest::PayloadFormat;
use pulse_core::segment::SegmentCall;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_inputs")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).expect("readable input");
            (p, data)
        })
        .collect()
}

/// Runs `check` on each input, naming the file of a failure.
fn replay(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let all = inputs(target);
    let mut failed = Vec::new();
    for (path, data) in &all {
        if std::panic::catch_unwind(|| check(data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} inputs fail: {failed:#?}");
    all.len()
}

#[test]
fn event_parser_inputs() {
    replay("event_parser", |data| {
        harness::check_body(PayloadFormat::Native, data);
    });
}

#[test]
fn segment_mapping_inputs() {
    replay("segment_mapping", |data| {
        for format in harness::SEGMENT_FORMATS {
            harness::check_body(format, data);
        }
    });
}

#[test]
fn envelope_decoder_inputs() {
    replay("envelope_decoder", |data| {
        harness::check_sqs_body(data);
        harness::check_pack(data);
    });
}

fn input(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz_inputs")
            .join(target)
            .join(name),
    )
    .unwrap_or_else(|e| panic!("{target}/{name}: {e}"))
}

fn outcome(format: PayloadFormat, target: &str, name: &str) -> (usize, usize) {
    let o = harness::check_body(format, &input(target, name))
        .unwrap_or_else(|| panic!("{target}/{name} is refused whole"));
    (o.items, o.accepted)
}

/// The seeds and regressions exercise what they are named for: accepted and
/// rejected events on every route, so a harness that silently refused
/// everything (or a fix that refused too much) would fail here.
#[test]
fn inputs_exercise_what_they_are_named_for() {
    let native = |name| outcome(PayloadFormat::Native, "event_parser", name);
    assert_eq!(native("seed-batch.json"), (2, 2));
    assert_eq!(native("seed-array.json"), (2, 2));
    let (items, accepted) = native("seed-mixed.json");
    assert_eq!(items, 11);
    assert!(accepted >= 1 && accepted < items);
    // Found by the fuzzer: a lone surrogate escape in `context`; refused now.
    assert_eq!(native("crash-lone-surrogate-in-context.json"), (2, 0));
    // Refused: 1e400, nesting past 128 and a lone surrogate; a pair is fine.
    assert_eq!(native("regress-unreadable-properties.json"), (4, 1));
    // Ids whose DynamoDB keys would pass 1,024 bytes are refused.
    assert_eq!(native("regress-id-key-bytes.json"), (5, 1));
    // Durations over a year are refused; two of a year each are summed.
    assert_eq!(native("regress-duration-sum-overflow.json"), (4, 2));

    let segment = |format, name| outcome(format, "segment_mapping", name);
    assert_eq!(
        segment(PayloadFormat::SegmentBatch, "seed-batch.json"),
        (8, 6)
    );
    for call in [SegmentCall::Track, SegmentCall::Identify, SegmentCall::Page] {
        assert_eq!(
            segment(PayloadFormat::Segment(call), "seed-single.json"),
            (1, 1)
        );
    }
    assert_eq!(
        segment(
            PayloadFormat::Segment(SegmentCall::Track),
            "regress-unreadable-context.json"
        ),
        (1, 0)
    );

    let envelope = |name| {
        let body = String::from_utf8(input("envelope_decoder", name)).expect("UTF-8");
        pulse_core::envelope::decode(&body).map(|e| e.events.len())
    };
    assert_eq!(envelope("seed-envelope.json"), Ok(3));
    assert_eq!(
        envelope("seed-version2.json"),
        Err(EnvelopeError::UnsupportedVersion(2))
    );
    // Out of range for the consumer: refused whole (poison, alone).
    for name in [
        "crash-timestamp-out-of-range.json",
        "regress-duration-sum-overflow.json",
    ] {
        assert!(
            matches!(envelope(name), Err(EnvelopeError::Malformed(_))),
            "{name}"
        );
    }
}
