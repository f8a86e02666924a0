//! Reading what the other benchmark tools print, without changing them.

use serde_json::Value;
use std::collections::BTreeMap;

/// What `cargo run -p pulse-tests --bin capacity` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub wru_per_event: f64,
    pub write_requests_per_1000: f64,
    pub events_per_s_moto: f64,
    /// WRU per stored event by item kind (`EV`, `EV:timeline`, `TP`, ...).
    pub wru_by_kind: BTreeMap<String, f64>,
    /// Events stored in the run, when the header line says so.
    pub events: Option<u64>,
}

/// Parses the capacity tool's output: its final JSON line for the totals and
/// the `    KIND   0.123 WRU/event` lines for the breakdown.
pub fn capacity(output: &str) -> Result<Capacity, String> {
    let json = output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('{') && l.contains("consumer_wru_per_event"))
        .ok_or("no {\"consumer_wru_per_event\":...} line in the capacity output")?;
    let v: Value = serde_json::from_str(json).map_err(|e| format!("capacity JSON line: {e}"))?;
    let num = |k: &str| {
        v.get(k)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("capacity JSON line has no number {k}"))
    };
    let mut wru_by_kind = BTreeMap::new();
    for line in output.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [kind, value, "WRU/event"] = parts.as_slice() {
            if let Ok(x) = value.parse::<f64>() {
                wru_by_kind.insert((*kind).to_owned(), x);
            }
        }
    }
    let events = output.lines().find_map(|l| {
        let rest = l.split_once("messages, ")?.1;
        rest.split_whitespace().next()?.parse().ok()
    });
    Ok(Capacity {
        wru_per_event: num("consumer_wru_per_event")?,
        write_requests_per_1000: num("consumer_write_requests_per_1000")?,
        events_per_s_moto: num("consumer_events_per_s_moto")?,
        wru_by_kind,
        events,
    })
}

/// The summary bench's line `30-day summary: 34 DynamoDB requests (...), no scan; ...`:
/// the request count and whether it says "no scan".
pub fn summary_requests(output: &str) -> Result<(u32, bool), String> {
    let line = output
        .lines()
        .find(|l| l.contains("30-day summary:") && l.contains("DynamoDB requests"))
        .ok_or("no '30-day summary: N DynamoDB requests' line in the summary bench output")?;
    let after = line.split_once("30-day summary:").expect("checked").1;
    let n = after
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("cannot read the request count in {line:?}"))?;
    Ok((n, line.contains("no scan")))
}

/// The tracker benchmark's `target/bench/sdk.json` (sdk-wasm/bench/bench.mjs).
#[derive(Debug, Clone, PartialEq)]
pub struct Sdk {
    pub calls_per_run: u64,
    pub runs: u64,
    /// tracker → (gzip -9 bytes, track() µs median, all-in µs/event median)
    pub trackers: BTreeMap<String, TrackerResult>,
    /// Every run delivered every call exactly once (Pulse only).
    pub pulse_exactly_once: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrackerResult {
    pub gzip_bytes: f64,
    pub track_us: f64,
    pub all_in_us: Option<f64>,
    pub received_per_run: Vec<u64>,
}

pub fn sdk(json: &str) -> Result<Sdk, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("sdk.json: {e}"))?;
    let results = v
        .get("results")
        .and_then(Value::as_object)
        .ok_or("sdk.json has no results")?;
    let mut trackers = BTreeMap::new();
    for (name, r) in results {
        let f = |k: &str| r.get(k).and_then(Value::as_f64);
        trackers.insert(
            name.clone(),
            TrackerResult {
                gzip_bytes: f("bundle_gzip9_bytes")
                    .ok_or_else(|| format!("sdk.json: {name} has no bundle_gzip9_bytes"))?,
                track_us: f("track_us_median")
                    .ok_or_else(|| format!("sdk.json: {name} has no track_us_median"))?,
                all_in_us: f("all_in_main_thread_us_per_event_median"),
                received_per_run: r
                    .get("events_received_per_run")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default(),
            },
        );
    }
    let calls_per_run = v.get("calls_per_run").and_then(Value::as_u64).unwrap_or(0);
    let pulse_exactly_once = results.get("pulse").map(|p| {
        let unique: Vec<u64> = p
            .get("unique_events_per_run")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let received = &trackers["pulse"].received_per_run;
        !unique.is_empty()
            && unique.len() == received.len()
            && unique
                .iter()
                .zip(received)
                .all(|(u, r)| *u == calls_per_run && *r == calls_per_run)
    });
    Ok(Sdk {
        calls_per_run,
        runs: v.get("runs").and_then(Value::as_u64).unwrap_or(0),
        trackers,
        pulse_exactly_once,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPACITY: &str = "\
consumer capacity, realistic mix (344 messages, 5009 events, 5 % of requests retried):
  write requests per 1,000 events  1073
  WRU per 1,000 events             2421
  WRU per stored event             2.42   (goal ≤ 2.5)
    EV             1.050 WRU/event
    EV:timeline    1.050 WRU/event
    TP             0.080 WRU/event
  events/s against moto            312   (indicative; moto bounds it)
{\"consumer_wru_per_event\":2.421,\"consumer_write_requests_per_1000\":1073.2,\"consumer_events_per_s_moto\":312}
";

    #[test]
    fn reads_the_capacity_tool() {
        let c = capacity(CAPACITY).unwrap();
        assert_eq!(c.wru_per_event, 2.421);
        assert_eq!(c.write_requests_per_1000, 1073.2);
        assert_eq!(c.events_per_s_moto, 312.0);
        assert_eq!(c.wru_by_kind.len(), 3);
        assert_eq!(c.wru_by_kind["EV:timeline"], 1.05);
        assert_eq!(c.events, Some(5009));
        // Logs before it (tracing lines) do not confuse it.
        let noisy = format!("2026-11-22T05:00:00Z INFO started {{\"x\":1}}\n{CAPACITY}");
        assert_eq!(capacity(&noisy).unwrap().wru_per_event, 2.421);
    }

    #[test]
    fn capacity_without_its_json_line_is_an_error() {
        let text = CAPACITY.lines().take(4).collect::<Vec<_>>().join("\n");
        assert!(capacity(&text)
            .unwrap_err()
            .contains("consumer_wru_per_event"));
    }

    #[test]
    fn reads_the_summary_bench_line() {
        let out = "Benchmarking ...\n30-day summary: 34 DynamoDB requests (day rollups: 4 shard queries; unique users: 30 day partitions), no scan; first day 2026-10-24\nsummary_30_days time: [1.2 ms 1.3 ms 1.4 ms]\n";
        assert_eq!(summary_requests(out).unwrap(), (34, true));
        assert!(summary_requests("nothing here").is_err());
        assert_eq!(
            summary_requests("30-day summary: 41 DynamoDB requests, with a scan").unwrap(),
            (41, false)
        );
    }

    #[test]
    fn reads_sdk_json() {
        let json = r#"{"calls_per_run": 3, "runs": 2, "results": {
            "pulse": {"bundle_gzip9_bytes": 21324, "track_us_median": 4.7, "all_in_main_thread_us_per_event_median": 30.8,
                      "events_received_per_run": [3, 3], "unique_events_per_run": [3, 3]},
            "posthog": {"bundle_gzip9_bytes": 126000, "track_us_median": 380.0, "events_received_per_run": [3, 2]}}}"#;
        let s = sdk(json).unwrap();
        assert_eq!(s.trackers["pulse"].gzip_bytes, 21324.0);
        assert_eq!(s.trackers["posthog"].track_us, 380.0);
        assert_eq!(s.trackers["posthog"].all_in_us, None);
        assert_eq!(s.pulse_exactly_once, Some(true));
        let lost = json.replace(
            "\"unique_events_per_run\": [3, 3]",
            "\"unique_events_per_run\": [3, 2]",
        );
        assert_eq!(sdk(&lost).unwrap().pulse_exactly_once, Some(false));
    }
}
