//! `bench-report`: every result of `make bench` in one table (figure |
//! measured | goal | met?) and in target/bench/report.json, which `make cost`
//! reads. Sources, all under target/:
//!
//! - criterion/**/new/estimates.json (ingest, consumer, query benches)
//! - bench/summary.log (the summary bench's request-count line)
//! - bench/capacity.log (pulse-tests `capacity`: WRU, write requests)
//! - bench/coldstart.json, bench/footprint.json (this crate)
//! - bench/sdk.json (sdk-wasm/bench/bench.mjs)
//! - bench/load.json (`make load`, when it has been run)
//!
//! A missing source leaves its figures "not measured" instead of failing.
//! Exit status 0 even when goals are missed: the table is the verdict.

use pulse_bench::cost::{linear_cpu, Measured};
use pulse_bench::footprint::Footprint;
use pulse_bench::report::{render_table, tally, Figure, Goal};
use pulse_bench::{args::Args, bench_dir, criterion, parse, repo_root};
use serde_json::{json, Value};
use std::path::Path;

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|_| format!("{} missing", short(path)))
}

fn short(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read_json(path: &Path) -> Result<Value, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{}: {e}", short(path)))
}

fn mtime(path: &Path) -> Option<String> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(pulse_bench::rfc3339(secs))
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "loadavg": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

fn main() {
    let args = match Args::from_env(&[]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-report: {e}");
            std::process::exit(2);
        }
    };
    let dir = args.str("dir").map(Into::into).unwrap_or_else(bench_dir);
    let crit = args
        .str("criterion-dir")
        .map(Into::into)
        .unwrap_or_else(|| repo_root().join("target/criterion"));
    let mut figs: Vec<Figure> = Vec::new();
    let mut measured = Measured::default();

    // ── ingest (criterion) ──
    let ingest_core = criterion::read(&crit, "ingest_core/validate_enrich_pack_1000_events");
    figs.push(
        Figure::new(
            "ingest.events_per_s_per_core",
            "ingest: validate+enrich+pack, events/s on one core",
            ingest_core
                .as_ref()
                .map(|e| 1000.0 / (e.typical_ns * 1e-9))
                .map_err(Clone::clone),
            "events/s",
            0,
            Goal::AtLeast(1_000_000.0),
            "criterion ingest_core",
        )
        .note("352-byte events (functions/ingest/benches/ingest.rs), 1,000 per iteration"),
    );
    let ingest_req = criterion::read(&crit, "ingest_handler/request_100_events_no_aws");
    figs.push(Figure::new(
        "ingest.request_100_events_ms",
        "ingest: 100-event request, handler without AWS",
        ingest_req.map(|e| e.typical_ns / 1e6),
        "ms",
        3,
        Goal::Below(2.0),
        "criterion ingest_handler",
    ));

    // ── consumer ──
    let consume = criterion::read(&crit, "consumer/batch_10_messages_x_100_events_no_io");
    figs.push(Figure::new(
        "consumer.batch_10x100_ms",
        "consumer: 10 × 100-event batch in process, no I/O",
        consume.map(|e| e.typical_ns / 1e6),
        "ms",
        3,
        Goal::Below(1.0),
        "criterion consumer",
    ));
    let capacity = read(&dir.join("capacity.log")).and_then(|t| parse::capacity(&t));
    let cap = |f: fn(&parse::Capacity) -> f64| capacity.as_ref().map(f).map_err(Clone::clone);
    figs.push(Figure::new(
        "consumer.write_requests_per_1000",
        "consumer: DynamoDB write requests per 1,000 events",
        cap(|c| c.write_requests_per_1000),
        "",
        0,
        Goal::Report,
        "capacity",
    ));
    figs.push(
        Figure::new(
            "consumer.wru_per_1000",
            "consumer: WRU per 1,000 events (GSI + rollups)",
            cap(|c| c.wru_per_event * 1000.0),
            "WRU",
            0,
            Goal::AtMost(2500.0),
            "capacity",
        )
        .note("realistic mix, 5 % client retries; by DynamoDB's sizing rules (moto's figures are placeholders)"),
    );
    figs.push(
        Figure::new(
            "consumer.events_per_s_moto",
            "consumer: events/s stored into moto",
            cap(|c| c.events_per_s_moto),
            "events/s",
            0,
            Goal::Report,
            "capacity",
        )
        .note("indicative only: moto (one Python process) bounds it"),
    );
    if let Ok(c) = &capacity {
        measured.wru_per_event = Some(c.wru_per_event);
        let ev: f64 = ["EV", "EV:timeline"]
            .iter()
            .filter_map(|k| c.wru_by_kind.get(*k))
            .sum();
        measured.wru_event_item = (ev > 0.0).then_some(ev);
        measured.wru_timeline = c.wru_by_kind.get("EV:timeline").copied();
    }

    // ── query ──
    let summary = read(&dir.join("summary.log")).and_then(|t| parse::summary_requests(&t));
    let mut f = Figure::new(
        "query.summary_30d_requests",
        "query: DynamoDB requests for a 30-day summary",
        summary
            .as_ref()
            .map(|(n, _)| f64::from(*n))
            .map_err(Clone::clone),
        "",
        0,
        Goal::AtMost(40.0),
        "summary bench",
    );
    if let Ok((_, no_scan)) = &summary {
        f = f.note(if *no_scan {
            "no scan (as the bench reports)"
        } else {
            "the bench does not say 'no scan'"
        });
        if !no_scan {
            f.met = Some(false);
        }
    }
    figs.push(f);
    let footprint = read_json(&dir.join("footprint.json"));
    let fp_num = |path: &[&str]| -> Result<f64, String> {
        let v = footprint.as_ref().map_err(Clone::clone)?;
        let mut cur = v;
        for p in path {
            cur = cur
                .get(*p)
                .ok_or_else(|| format!("footprint.json has no {}", path.join(".")))?;
        }
        cur.as_f64()
            .ok_or_else(|| format!("footprint.json {} is not a number", path.join(".")))
    };
    figs.push(
        Figure::new(
            "query.summary_30d_rcu",
            "query: RCU for a 30-day summary",
            fp_num(&["summary_30d", "rcu"]),
            "RCU",
            1,
            Goal::Report,
            "footprint",
        )
        .note("1,000 daily users; eventually consistent Queries sized from the measured day-rollup and user-day items"),
    );
    figs.push(Figure::new(
        "query.summary_30d_in_process_ms",
        "query: 30-day summary built in process",
        criterion::read(&crit, "summary_30_days_from_rollups_in_process")
            .map(|e| e.typical_ns / 1e6),
        "ms",
        3,
        Goal::Report,
        "criterion summary",
    ));

    // ── cold start ──
    let cold = read_json(&dir.join("coldstart.json"));
    for name in ["ingest", "consumer", "query"] {
        let get = |k: &str| -> Result<f64, String> {
            let c = cold.as_ref().map_err(Clone::clone)?;
            c["functions"][name][k]
                .as_f64()
                .ok_or_else(|| format!("coldstart.json has no {name}.{k}"))
        };
        let mut f = Figure::new(
            &format!("coldstart.{name}.median_ms"),
            &format!("cold start {name}: spawn → first response, median"),
            get("cold_ms_median"),
            "ms",
            1,
            Goal::Below(20.0),
            "coldstart",
        );
        if let (Ok(p90), Ok(init), Ok(first)) = (
            get("cold_ms_p90"),
            get("init_ms_median"),
            get("first_invocation_ms_median"),
        ) {
            let n = get("starts").unwrap_or(0.0);
            let warm = get("warm_invocation_ms_median")
                .map(|w| format!(" (the same event warm: {w:.1} ms)"))
                .unwrap_or_default();
            f = f.note(format!(
                "{n} starts; p90 {p90:.1} ms; init (spawn → first /next) {init:.1} ms + first invocation {first:.1} ms{warm}; AWS calls go to moto on loopback, plain HTTP"
            ));
        }
        figs.push(f);
        figs.push(Figure::new(
            &format!("coldstart.{name}.peak_rss_mib"),
            &format!("peak RSS {name} (after its first event)"),
            get("peak_rss_mib_median"),
            "MiB",
            1,
            Goal::Report,
            "coldstart",
        ));
    }
    if let Ok(c) = &cold {
        let warm = |f: &str| {
            c["functions"][f]["warm"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        let ingest = warm("ingest");
        let point = |r: &Value| {
            Some((
                r["events_per_invocation"].as_f64()?,
                r["cpu_us_per_invocation"].as_f64()?,
            ))
        };
        // The smallest and the largest request give the fixed and per-event CPU.
        let mut pts: Vec<(f64, f64)> = ingest.iter().filter_map(point).collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let (Some(lo), Some(hi)) = (pts.first(), pts.last()) {
            if let Some((fixed, per)) = linear_cpu(lo.0, lo.1, hi.0, hi.1) {
                measured.ingest_cpu_fixed_ms = Some(fixed);
                measured.ingest_cpu_per_event_ms = Some(per);
            }
        }
        let logs = |rows: &[Value]| {
            pulse_bench::stats::mean(
                &rows
                    .iter()
                    .filter_map(|r| r["log_bytes_per_invocation"].as_f64())
                    .collect::<Vec<_>>(),
            )
        };
        measured.ingest_log_bytes = logs(&ingest);
        let consumer = warm("consumer");
        // The biggest batch: per-invocation overhead spread as in production.
        measured.consumer_cpu_per_event_ms = consumer
            .iter()
            .max_by(|a, b| {
                let n = |r: &Value| r["events_per_invocation"].as_f64().unwrap_or(0.0);
                n(a).total_cmp(&n(b))
            })
            .and_then(|r| r["cpu_us_per_event"].as_f64())
            .map(|us| us / 1000.0);
        measured.consumer_log_bytes = logs(&consumer);
    }

    // ── tracker ──
    let sdk = read(&dir.join("sdk.json")).and_then(|t| parse::sdk(&t));
    let pulse = sdk.as_ref().map_err(Clone::clone).and_then(|s| {
        s.trackers
            .get("pulse")
            .cloned()
            .ok_or("sdk.json has no pulse result".into())
    });
    figs.push(
        Figure::new(
            "tracker.gzip_kb",
            "tracker: wasm + glue, gzip -9",
            pulse
                .as_ref()
                .map(|p| p.gzip_bytes / 1024.0)
                .map_err(Clone::clone),
            "KB",
            1,
            Goal::AtMost(17.0),
            "sdk bench",
        )
        .note("smaller than every peer is the aim; peers' sizes are in target/bench/sdk.json"),
    );
    figs.push(Figure::new(
        "tracker.track_us",
        "tracker: track() median, µs per call",
        pulse.as_ref().map(|p| p.track_us).map_err(Clone::clone),
        "µs",
        2,
        Goal::Report,
        "sdk bench",
    ));
    let ratio_to = |peer: &str| -> Result<(f64, f64), String> {
        let s = sdk.as_ref().map_err(Clone::clone)?;
        let p = pulse.as_ref().map_err(Clone::clone)?;
        let q = s
            .trackers
            .get(peer)
            .ok_or_else(|| format!("{peer} not in this sdk run (BENCH_TRACKERS)"))?;
        Ok((p.track_us / q.track_us, q.track_us))
    };
    let posthog = ratio_to("posthog");
    let mut f = Figure::new(
        "tracker.track_vs_posthog",
        "tracker: track() ÷ posthog-js capture(), same run",
        posthog.as_ref().map(|r| r.0).map_err(Clone::clone),
        "×",
        3,
        Goal::AtMost(0.5),
        "sdk bench",
    );
    if let Ok((_, us)) = &posthog {
        f = f.note(format!("posthog-js {us:.1} µs per call in the same run"));
    }
    figs.push(f);
    let fastest = sdk.as_ref().ok().and_then(|s| {
        s.trackers
            .iter()
            .filter(|(n, _)| *n != "pulse")
            .min_by(|a, b| a.1.track_us.total_cmp(&b.1.track_us))
            .map(|(n, _)| n.clone())
    });
    let mut f = Figure::new(
        "tracker.track_vs_fastest_peer",
        "tracker: track() ÷ the fastest peer, same run",
        match &fastest {
            Some(n) => ratio_to(n).map(|r| r.0),
            None => Err(sdk
                .as_ref()
                .err()
                .cloned()
                .unwrap_or("no peer in the run".into())),
        },
        "×",
        3,
        Goal::AtMost(0.5),
        "sdk bench",
    );
    if let Some(n) = &fastest {
        f = f.note(format!("fastest peer: {n}"));
    }
    figs.push(f);
    let once = sdk.as_ref().map_err(Clone::clone).and_then(|s| {
        s.pulse_exactly_once
            .map(|ok| (ok, s.runs, s.calls_per_run))
            .ok_or("no pulse result".into())
    });
    figs.push(
        Figure::new(
            "tracker.burst_exactly_once",
            "tracker: 10,000-call burst delivered exactly once",
            once.as_ref()
                .map(|(ok, ..)| if *ok { 1.0 } else { 0.0 })
                .map_err(Clone::clone),
            "",
            0,
            Goal::AtLeast(1.0),
            "sdk bench",
        )
        .shown_as(match &once {
            Ok((true, runs, calls)) => format!(
                "all {runs} runs × {} calls",
                pulse_bench::report::num(*calls as f64, 0)
            ),
            Ok((false, runs, _)) => format!("NOT in every one of {runs} runs"),
            Err(_) => String::new(),
        }),
    );

    // ── storage (for make cost) ──
    figs.push(
        Figure::new(
            "storage.bytes_per_event",
            "storage: bytes kept per event (table + GSI)",
            fp_num(&["stored_bytes_per_event"]),
            "B",
            0,
            Goal::Report,
            "footprint",
        )
        .note(
            "with DynamoDB's 100 B per-item overhead; see make cost for what it costs at 365 days",
        ),
    );
    if let Ok(v) = &footprint {
        measured.footprint = serde_json::from_value::<Footprint>(v["footprint"].clone()).ok();
        measured.event_bytes = v["sqs"]["bytes_per_event"].as_f64();
        measured.gzip_ratio = v["gzip_ratio"].as_f64();
        measured.summary_rcu = v["summary_30d"]["rcu"].as_f64();
    }

    // ── load (when make load has run) ──
    let load_path = dir.join("load.json");
    if let Ok(load) = read_json(&load_path) {
        let when = load["generated_at"].as_str().unwrap_or("?").to_owned();
        let num = |k: &str| {
            load[k]
                .as_f64()
                .ok_or_else(|| format!("load.json has no {k}"))
        };
        figs.push(
            Figure::new(
                "load.max_requests_per_s",
                "load: ingest requests/s through the dev gateway, best level",
                num("max_requests_per_s"),
                "req/s",
                0,
                Goal::Report,
                "make load",
            )
            .note({
                let knee = load["knee_concurrency"].as_u64();
                let at = load["levels"].as_array().and_then(|ls| {
                    ls.iter().find(|l| l["concurrency"].as_u64() == knee)
                });
                let lat = at
                    .map(|l| {
                        format!(
                            " (p50 {:.1} ms, p99 {:.1} ms there)",
                            l["p50_ms"].as_f64().unwrap_or(f64::NAN),
                            l["p99_ms"].as_f64().unwrap_or(f64::NAN)
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "from make load at {when}, {} events per request; knee at concurrency {}{lat}; moto's SQS bounds it",
                    load["events_per_request"],
                    knee.map(|k| k.to_string()).unwrap_or("-".into())
                )
            }),
        );
        figs.push(Figure::new(
            "load.server_errors",
            "load: 5xx answers",
            num("server_errors"),
            "",
            0,
            Goal::AtMost(0.0),
            "make load",
        ));
        figs.push(Figure::new(
            "load.lost_events",
            "load: events accepted but not stored",
            num("lost_events"),
            "",
            0,
            Goal::AtMost(0.0),
            "make load",
        ));
    }

    println!("{}", render_table(&figs));
    let (met, missed, unknown) = tally(&figs);
    println!("\ngoals: {met} met, {missed} missed, {unknown} not measured");

    let sources: Vec<Value> = [
        crit.join("ingest_core/validate_enrich_pack_1000_events/new/estimates.json"),
        crit.join("consumer/batch_10_messages_x_100_events_no_io/new/estimates.json"),
        crit.join("summary_30_days_from_rollups_in_process/new/estimates.json"),
        dir.join("summary.log"),
        dir.join("capacity.log"),
        dir.join("coldstart.json"),
        dir.join("footprint.json"),
        dir.join("sdk.json"),
        load_path,
    ]
    .iter()
    .map(|p| json!({"path": short(p), "modified": mtime(p)}))
    .collect();
    // infra/bench.sh's log of when each step ran and the load average then.
    let steps: Vec<String> = std::fs::read_to_string(dir.join("steps.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let doc = json!({
        "generated_at": pulse_bench::rfc3339(pulse_bench::now_secs()),
        "machine": machine(),
        "steps": steps,
        "goals": {"met": met, "missed": missed, "not_measured": unknown},
        "figures": figs,
        "cost_inputs": measured,
        "sources": sources,
    });
    let path = dir.join("report.json");
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()))
    {
        eprintln!("bench-report: {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("written: {}", short(&path));
}
