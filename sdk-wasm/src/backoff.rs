//! Retry policy: which answers are retried and how long to wait.

pub const FIRST_DELAY_MS: u64 = 500;
pub const MAX_DELAY_MS: u64 = 60_000;
pub const MAX_RETRY_AFTER_MS: u64 = 300_000;

/// What to do with a request after the server (or the network) answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: accepted (minus the per-event `rejected` list).
    Delivered,
    /// Network error (status 0), 408, 429, 5xx: keep the events and try again.
    Retry,
    /// Any other status: retrying cannot help; drop the events and report.
    Drop,
}

pub fn classify(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        0 | 408 | 429 | 500..=599 => Outcome::Retry,
        _ => Outcome::Drop,
    }
}

/// Delay before retry number `attempt` (0 for the first retry): exponential
/// from 0.5 s to 60 s with "equal jitter" (half fixed, half random, so that
/// tabs and devices that failed together spread out), and never less than the
/// server's Retry-After, itself capped at 300 s.
pub fn delay_ms(attempt: u32, random: u16, retry_after_ms: Option<u64>) -> u64 {
    let base = (FIRST_DELAY_MS << attempt.min(16)).min(MAX_DELAY_MS);
    let jittered = base / 2 + base / 2 * u64::from(random) / 65_535;
    match retry_after_ms {
        Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER_MS)),
        None => jittered,
    }
}

/// Retry-After in delta-seconds form (`"120"`); HTTP dates are parsed by the caller.
pub fn retry_after_seconds_ms(value: &str) -> Option<u64> {
    crate::json::parse_uint(crate::json::trim_ascii(value)).map(|s| s.saturating_mul(1000))
}
