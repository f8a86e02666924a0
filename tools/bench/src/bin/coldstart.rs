//! `coldstart`: process start → first response of the real function binaries
//! (`target/release/{ingest,consumer,query}`), each started as Lambda starts
//! a `bootstrap`: a clean environment, `AWS_LAMBDA_RUNTIME_API` pointing at a
//! local Runtime API (src/runtime_api.rs) holding one event, and the AWS
//! endpoint at a moto server with the table, queue and a project provisioned.
//!
//! Per function: `--starts` cold starts (median, p90), split into init (spawn →
//! first `GET /next`) and first invocation (`/next` → response posted); peak
//! RSS (VmHWM from /proc after the first response); CPU of a cold process
//! (wait4). Then warm processes
//! that answer `--warm` more events each give CPU and log bytes per warm
//! invocation (for `make cost`). Writes target/bench/coldstart.json.
//!
//! usage: coldstart [--starts 20] [--warm 100] [--bin-dir target/release]
//!                  [--functions ingest,consumer,query]

use pulse_adapters::provision::{self, StackNames};
use pulse_adapters::DynamoProjects;
use pulse_bench::runtime_api::{Outcome, RuntimeApi};
use pulse_bench::{args::Args, bench_dir, repo_root, stats};
use pulse_core::ingest::{parse_body, prepare};
use pulse_core::project::NewProject;
use pulse_core::PayloadFormat;
use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WRITE_KEY: &str = "wk_bench_coldstart";
const READ_KEY: &str = "rk_bench_coldstart";
const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Function {
    Ingest,
    Consumer,
    Query,
}

impl Function {
    fn name(self) -> &'static str {
        match self {
            Function::Ingest => "ingest",
            Function::Consumer => "consumer",
            Function::Query => "query",
        }
    }
    /// MemorySize in template.yaml.
    fn memory_mb(self) -> u32 {
        match self {
            Function::Ingest => 256,
            Function::Consumer => 512,
            Function::Query => 1024,
        }
    }
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "ingest" => Ok(Function::Ingest),
            "consumer" => Ok(Function::Consumer),
            "query" => Ok(Function::Query),
            _ => Err(format!("unknown function {s:?} (ingest, consumer, query)")),
        }
    }
}

struct Env {
    endpoint: String,
    table: String,
    queue_url: String,
    runtime_api: String,
}

fn event_json(i: usize, user: usize) -> Value {
    let ty = ["button_clicked", "page_view", "form_submitted", "tool_call"][i % 4];
    json!({
        "event_id": uuid::Uuid::now_v7().to_string(),
        "type": ty,
        "user_id": format!("user-{user}"),
        "session_id": format!("sess-{user}"),
        "properties": {"button": "signup", "variant": "b", "i": i},
        "context": {"user_agent": UA, "page": {"path": "/pricing", "title": "Pricing"}},
    })
}

fn batch_body(n: usize) -> String {
    let events: Vec<Value> = (0..n).map(|i| event_json(i, i % 7)).collect();
    json!({ "events": events }).to_string()
}

/// What API Gateway (HTTP API, payload 2.0) sends the ingest function.
fn apigw_event(method: &str, path_and_query: &str, key: &str, body: &[u8]) -> Vec<u8> {
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("host", "api.pulse.test".parse().unwrap());
    headers.insert("user-agent", UA.parse().unwrap());
    let method: http::Method = method.parse().unwrap();
    let uri: http::Uri = path_and_query.parse().unwrap();
    pulse_gateway::apigw::event_json(
        &method,
        &uri,
        &headers,
        body,
        "203.0.113.7:443".parse().unwrap(),
    )
    .to_string()
    .into_bytes()
}

/// What the SQS event source sends the consumer: `messages` envelopes of
/// `events` events each, built by the real ingest preparation.
fn sqs_event(messages: usize, events: usize) -> Vec<u8> {
    let project = NewProject::new("demo", "Demo").to_project(0);
    let now = pulse_core::time::now_millis();
    let records: Vec<Value> = (0..messages)
        .map(|m| {
            let body = batch_body(events);
            let parsed = parse_body(PayloadFormat::Native, body.as_bytes()).expect("valid batch");
            let mut prepared = prepare(&parsed, &project, now, 256 * 1024);
            assert!(prepared.rejected.is_empty(), "{:?}", prepared.rejected);
            assert_eq!(prepared.bodies.len(), 1);
            json!({
                "messageId": uuid::Uuid::new_v4().to_string(),
                "receiptHandle": format!("rh-{m}"),
                "body": prepared.bodies.remove(0),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now.to_string(),
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": now.to_string(),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:pulse-events",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records }).to_string().into_bytes()
}

/// The cold-start event of each function (issue 8): a 10-event batch, one
/// envelope message of 10 events, a summary with the read key.
fn cold_event(f: Function) -> Vec<u8> {
    match f {
        Function::Ingest => apigw_event("POST", "/v1/events", WRITE_KEY, batch_body(10).as_bytes()),
        Function::Consumer => sqs_event(1, 10),
        Function::Query => apigw_event("GET", "/v1/analytics/summary", READ_KEY, b""),
    }
}

/// Checks the function's answer; returns the number of events it handled.
fn check(f: Function, o: &Outcome) -> Result<(), String> {
    if o.error {
        return Err(format!(
            "posted an error: {}",
            String::from_utf8_lossy(&o.body)
        ));
    }
    let v: Value = serde_json::from_slice(&o.body).map_err(|e| {
        format!(
            "response is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.body)
        )
    })?;
    match f {
        Function::Ingest | Function::Query => {
            if v["statusCode"] != 200 {
                return Err(format!("status {} body {}", v["statusCode"], v["body"]));
            }
            let body: Value = serde_json::from_str(v["body"].as_str().unwrap_or_default())
                .map_err(|e| format!("body is not JSON: {e}"))?;
            if f == Function::Ingest && body["rejected"].as_array().is_none_or(|r| !r.is_empty()) {
                return Err(format!("events rejected: {body}"));
            }
            if f == Function::Query && body.get("total_events").is_none() {
                return Err(format!("no total_events in {body}"));
            }
        }
        Function::Consumer => {
            if v["batchItemFailures"]
                .as_array()
                .is_none_or(|a| !a.is_empty())
            {
                return Err(format!("batch item failures: {v}"));
            }
        }
    }
    Ok(())
}

struct Process {
    child: Child,
    log: PathBuf,
    log_before: u64,
}

fn spawn(f: Function, bin: &Path, env: &Env, log: &Path) -> Result<Process, String> {
    let log_before = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", env.runtime_api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", f.name()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                &f.memory_mb().to_string(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                &format!("/pulse/bench/{}", f.name()),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]bench"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
            ("_HANDLER", "bootstrap"),
            ("TZ", ":UTC"),
            ("LANG", "en_US.UTF-8"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_SESSION_TOKEN", "test"),
            ("AWS_ENDPOINT_URL", env.endpoint.as_str()),
            ("TABLE_NAME", env.table.as_str()),
            ("QUEUE_URL", env.queue_url.as_str()),
            ("PULSE_STAGE", "bench"),
            (
                "RUST_LOG",
                "info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn",
            ),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    Ok(Process {
        child,
        log: log.to_owned(),
        log_before,
    })
}

struct Exit {
    max_rss_kib: f64,
    cpu_ms: f64,
    log_bytes: f64,
}

/// The process's peak resident set (VmHWM, KiB) from /proc. Not wait4's
/// `ru_maxrss`: Linux folds the spawning parent's memory into it at exec
/// (the child starts on the parent's address space), so it reports the harness.
fn vm_hwm_kib(pid: u32) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Reads the peak RSS, SIGKILLs, then wait4 for the child's CPU time (std's
/// wait would drop the resource usage).
fn kill_and_reap(mut p: Process) -> Exit {
    let hwm = vm_hwm_kib(p.child.id());
    let _ = p.child.kill();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child's pid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = p.child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    Exit {
        max_rss_kib: hwm.unwrap_or(f64::NAN),
        cpu_ms: tv(ru.ru_utime) + tv(ru.ru_stime),
        log_bytes: std::fs::metadata(&p.log)
            .map(|m| m.len().saturating_sub(p.log_before))
            .unwrap_or(0) as f64,
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

struct Start {
    total_ms: f64,
    init_ms: f64,
    first_ms: f64,
    exit: Exit,
    /// Wall time of each warm invocation.
    warm_ms: Vec<f64>,
}

/// One process: the cold event, then `warm` more events built by `warm_event`.
async fn run_process(
    f: Function,
    bin: &Path,
    base: &Env,
    log: &Path,
    warm: usize,
    warm_event: &dyn Fn() -> Vec<u8>,
) -> Result<Start, String> {
    let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let env = Env {
        runtime_api: api.host_port(),
        endpoint: base.endpoint.clone(),
        table: base.table.clone(),
        queue_url: base.queue_url.clone(),
    };
    let first = api.invoke(cold_event(f));
    let t0 = Instant::now();
    let process = spawn(f, bin, &env, log)?;
    let outcome = match tokio::time::timeout(INVOKE_TIMEOUT, first).await {
        Ok(Ok(o)) => o,
        _ => {
            kill_and_reap(process);
            return Err(format!(
                "no response within {INVOKE_TIMEOUT:?}{}; log:\n{}",
                api.init_error()
                    .map(|e| format!(" (init error: {e})"))
                    .unwrap_or_default(),
                log_tail(log)
            ));
        }
    };
    if let Err(e) = check(f, &outcome) {
        kill_and_reap(process);
        return Err(format!("{}: {e}", f.name()));
    }
    let init_at = api.first_next().unwrap_or(outcome.fetched_at);
    let mut warm_ms = Vec::with_capacity(warm);
    for _ in 0..warm {
        let rx = api.invoke(warm_event());
        let o = match tokio::time::timeout(INVOKE_TIMEOUT, rx).await {
            Ok(Ok(o)) => o,
            _ => {
                kill_and_reap(process);
                return Err(format!(
                    "warm invocation timed out; log:\n{}",
                    log_tail(log)
                ));
            }
        };
        if let Err(e) = check(f, &o) {
            kill_and_reap(process);
            return Err(format!("{} (warm): {e}", f.name()));
        }
        warm_ms.push((o.done_at - o.fetched_at).as_secs_f64() * 1000.0);
    }
    // Let the process go back to waiting on /next before it is killed.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let exit = kill_and_reap(process);
    Ok(Start {
        total_ms: (outcome.done_at - t0).as_secs_f64() * 1000.0,
        init_ms: (init_at - t0).as_secs_f64() * 1000.0,
        first_ms: (outcome.done_at - outcome.fetched_at).as_secs_f64() * 1000.0,
        exit,
        warm_ms,
    })
}

fn round(x: Option<f64>, d: i32) -> Value {
    match x {
        Some(v) => {
            let p = 10f64.powi(d);
            json!((v * p).round() / p)
        }
        None => Value::Null,
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("coldstart: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let args = Args::from_env(&[])?;
    let starts: usize = args.get("starts", 20)?;
    let warm: usize = args.get("warm", 100)?;
    let bin_dir = args
        .str("bin-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release"));
    let functions: Vec<Function> = args
        .list::<String>(
            "functions",
            &["ingest".into(), "consumer".into(), "query".into()],
        )?
        .iter()
        .map(|s| Function::parse(s))
        .collect::<Result<_, _>>()?;
    let out_dir = bench_dir();
    let log_dir = out_dir.join("coldstart");
    std::fs::create_dir_all(&log_dir).map_err(|e| e.to_string())?;

    let mut bins = Vec::new();
    for f in &functions {
        let bin = bin_dir.join(f.name());
        let meta = std::fs::metadata(&bin).map_err(|e| {
            format!(
                "{}: {e} (cargo build --release -p pulse-{} first)",
                bin.display(),
                f.name()
            )
        })?;
        bins.push((bin, meta.len()));
        File::create(log_dir.join(format!("{}.log", f.name()))).map_err(|e| e.to_string())?;
    }

    let moto = pulse_tests::Moto::start();
    let clients = pulse_tests::clients(&moto.endpoint()).await;
    let provisioned = provision::provision(
        &clients,
        &StackNames::with_prefix(&pulse_tests::unique_prefix("coldstart")),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut demo = NewProject::new("demo", "Demo");
    demo.write_key = WRITE_KEY.into();
    demo.read_key = READ_KEY.into();
    DynamoProjects::new(clients.dynamodb.clone(), &provisioned.table)
        .ensure(&demo)
        .await
        .map_err(|e| e.to_string())?;
    let env = Env {
        endpoint: moto.endpoint(),
        table: provisioned.table.clone(),
        queue_url: provisioned.queue_url.clone(),
        runtime_api: String::new(),
    };
    eprintln!(
        "coldstart: {starts} starts of {} through a local Runtime API, AWS calls to moto at {}",
        functions
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", "),
        env.endpoint
    );

    // Interleaved, so machine noise spreads over every function alike.
    let mut cold: Vec<Vec<Start>> = functions.iter().map(|_| Vec::new()).collect();
    for i in 0..starts {
        for (k, f) in functions.iter().enumerate() {
            let log = log_dir.join(format!("{}.log", f.name()));
            let s = run_process(*f, &bins[k].0, &env, &log, 0, &|| Vec::new()).await?;
            cold[k].push(s);
        }
        eprint!("\rcoldstart: {}/{starts} starts", i + 1);
    }
    eprintln!();

    let mut report = serde_json::Map::new();
    println!(
        "{:<9} {:>9} {:>8} {:>8} {:>10} {:>11} {:>12} {:>11} {:>12} {:>12} {:>10}",
        "function",
        "median ms",
        "p90 ms",
        "min ms",
        "init ms",
        "1st call ms",
        "warm call ms",
        "peak RSS MiB",
        "cold CPU ms",
        "warm CPU µs",
        "log B/call"
    );
    // Warm runs of the query first: the consumer's warm runs store thousands
    // of events, and moto's queries slow down as its table grows.
    let mut order: Vec<usize> = (0..functions.len()).collect();
    order.sort_by_key(|&k| match functions[k] {
        Function::Query => 0,
        Function::Ingest => 1,
        Function::Consumer => 2,
    });
    let mut rows: Vec<(usize, String)> = Vec::new();
    for k in order {
        let f = &functions[k];
        let c = &cold[k];
        let col = |g: &dyn Fn(&Start) -> f64| c.iter().map(g).collect::<Vec<f64>>();
        let total = col(&|s| s.total_ms);
        let init = col(&|s| s.init_ms);
        let first = col(&|s| s.first_ms);
        let rss = col(&|s| s.exit.max_rss_kib / 1024.0);
        let cpu = col(&|s| s.exit.cpu_ms);
        let logb = col(&|s| s.exit.log_bytes);
        let cold_cpu = stats::median(&cpu).unwrap_or(0.0);
        let cold_log = stats::median(&logb).unwrap_or(0.0);

        // Warm processes: CPU and log bytes per warm invocation, by difference
        // with a cold process. Ingest at two batch sizes for a linear model.
        // (what, events per invocation, messages per SQS event); the first is the cold event.
        let series: Vec<(&str, usize, usize)> = match f {
            Function::Ingest => vec![
                ("10-event request (the cold event)", 10, 0),
                ("1-event request", 1, 0),
                ("100-event request", 100, 0),
            ],
            Function::Consumer => vec![
                ("1 message × 10 events (the cold event)", 10, 1),
                ("10 messages × 20 events", 200, 10),
            ],
            Function::Query => vec![("7-day summary (the cold event)", 1, 0)],
        };
        let mut warm_rows = Vec::new();
        let log = log_dir.join(format!("{}.log", f.name()));
        for &(what, n, messages) in &series {
            let k_warm = match f {
                Function::Consumer => (warm * 10 / n.max(1)).clamp(1, warm.max(1)),
                _ => warm.max(1),
            };
            let make: Box<dyn Fn() -> Vec<u8>> = match f {
                Function::Ingest => Box::new(move || {
                    apigw_event("POST", "/v1/events", WRITE_KEY, batch_body(n).as_bytes())
                }),
                Function::Consumer => Box::new(move || sqs_event(messages, n / messages)),
                Function::Query => Box::new(|| cold_event(Function::Query)),
            };
            let s = run_process(*f, &bins[k].0, &env, &log, k_warm, &*make).await?;
            let cpu_us = (s.exit.cpu_ms - cold_cpu).max(0.0) * 1000.0 / k_warm as f64;
            let log_per = (s.exit.log_bytes - cold_log).max(0.0) / k_warm as f64;
            warm_rows.push(json!({
                "what": what,
                "events_per_invocation": n,
                "invocations": k_warm,
                "cpu_us_per_invocation": (cpu_us * 10.0).round() / 10.0,
                "cpu_us_per_event": (cpu_us / n as f64 * 100.0).round() / 100.0,
                "wall_ms_median": round(stats::median(&s.warm_ms), 3),
                "wall_ms_p90": round(stats::percentile(&s.warm_ms, 90.0), 3),
                "log_bytes_per_invocation": log_per.round(),
                "peak_rss_mib": round(Some(s.exit.max_rss_kib / 1024.0), 1),
            }));
        }
        let warm_wall_first = warm_rows[0]["wall_ms_median"].as_f64().unwrap_or(f64::NAN);
        let warm_cpu_first = warm_rows[0]["cpu_us_per_invocation"]
            .as_f64()
            .unwrap_or(0.0);
        let warm_log_first = warm_rows[0]["log_bytes_per_invocation"]
            .as_f64()
            .unwrap_or(0.0);
        rows.push((k, format!(
            "{:<9} {:>9.1} {:>8.1} {:>8.1} {:>10.1} {:>11.1} {:>12.1} {:>11.1} {:>12.1} {:>12.0} {:>10.0}",
            f.name(),
            stats::median(&total).unwrap_or(f64::NAN),
            stats::percentile(&total, 90.0).unwrap_or(f64::NAN),
            stats::percentile(&total, 0.0).unwrap_or(f64::NAN),
            stats::median(&init).unwrap_or(f64::NAN),
            stats::median(&first).unwrap_or(f64::NAN),
            warm_wall_first,
            stats::median(&rss).unwrap_or(f64::NAN),
            cold_cpu,
            warm_cpu_first,
            warm_log_first,
        )));
        report.insert(
            f.name().into(),
            json!({
                "binary": bins[k].0.display().to_string(),
                "binary_bytes": bins[k].1,
                "memory_mb": f.memory_mb(),
                "starts": c.len(),
                "cold_ms": total.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                "cold_ms_median": round(stats::median(&total), 3),
                "cold_ms_p90": round(stats::percentile(&total, 90.0), 3),
                "cold_ms_min": round(stats::percentile(&total, 0.0), 3),
                "init_ms_median": round(stats::median(&init), 3),
                "first_invocation_ms_median": round(stats::median(&first), 3),
                "warm_invocation_ms_median": round(Some(warm_wall_first), 3),
                "peak_rss_mib_median": round(stats::median(&rss), 2),
                "peak_rss_mib_max": round(stats::max(&rss), 2),
                "cold_process_cpu_ms_median": round(Some(cold_cpu), 3),
                "cold_process_log_bytes_median": cold_log,
                "warm": warm_rows,
            }),
        );
    }
    rows.sort_by_key(|r| r.0);
    for (_, row) in rows {
        println!("{row}");
    }
    println!("(cold = process spawn → first response posted; init = spawn → first GET /next; AWS calls go to moto on loopback over plain HTTP)");
    let doc = json!({
        "generated_at": pulse_bench::rfc3339(pulse_bench::now_secs()),
        "starts": starts,
        "cold_events": {
            "ingest": "API Gateway v2 POST /v1/events, 10 events, write key",
            "consumer": "SQS event, 1 envelope message of 10 events",
            "query": "API Gateway v2 GET /v1/analytics/summary (default 7 days), read key",
        },
        "functions": Value::Object(report),
    });
    let path = out_dir.join("coldstart.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("written: {}", path.display());
    Ok(())
}
