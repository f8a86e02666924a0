//! The reliability suite (see `pulse_tests::reliability`): events through
//! the real local stack with client retries, SQS duplicate deliveries,
//! consumer kills and poison messages; every count must stay exact.
//!
//! `cargo test` runs a bounded subset (1,000 events);
//! `make reliability` runs 100,000 (`PULSE_RELIABILITY_EVENTS`).

use pulse_tests::reliability::{run, Config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_stay_exact_under_retries_duplicates_kills_and_poison() {
    if std::env::var_os("RUST_LOG").is_some() {
        pulse_adapters::telemetry::init_terminal();
    }
    let outcome = run(Config::from_env(1_000)).await;
    assert!(
        outcome.checks.failed.is_empty(),
        "{} checks failed:\n{}",
        outcome.checks.failed.len(),
        outcome.checks.failed.join("\n")
    );
}
