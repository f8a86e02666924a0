//! `pulse-bench`: the measuring tools behind `make bench`, `make load` and
//! `make cost`. The pure parts (statistics, parsing other tools' output, the
//! report table, the cost arithmetic) live here with unit tests; the binaries
//! in `src/bin` do the I/O.
//!
//! | binary         | what it measures                                                      |
//! |----------------|-----------------------------------------------------------------------|
//! | `coldstart`    | process start → first response through a local Lambda Runtime API     |
//! | `footprint`    | stored bytes and their lifetime per event, SQS bytes per event, RCU   |
//! | `bench-report` | every result of `make bench` in one table + `target/bench/report.json` |
//! | `load`         | ingest through the dev gateway at rising concurrency, then losses     |
//! | `cost`         | the bill per million events at AWS list prices                        |

pub mod args;
pub mod cost;
pub mod criterion;
pub mod footprint;
pub mod parse;
pub mod report;
#[cfg(feature = "harness")]
pub mod runtime_api;
pub mod stats;

use std::path::PathBuf;

/// The repository root (tools/bench/../..).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// Where every tool writes its results: `target/bench` (or `PULSE_BENCH_DIR`).
pub fn bench_dir() -> PathBuf {
    std::env::var_os("PULSE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/bench"))
}

/// Seconds since the Unix epoch, for the `generated_at` stamps.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (UTC; no chrono needed).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_305_600), "2026-11-22T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }
}
