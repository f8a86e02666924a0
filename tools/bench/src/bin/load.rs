//! `load`: a bounded load test of ingest through the dev gateway on loopback.
//! At each concurrency level, closed-loop workers POST batches of fresh
//! events to /v1/events until the level's time or event budget is spent:
//! requests/s, events/s, latency percentiles, 5xx and other non-200 answers.
//! After each level the consumer drains the queue, and in the end every
//! accepted event must be stored: the summary's `total_events` (rollups),
//! the event items in the table (scan), and an empty DLQ. Writes
//! target/bench/load.json.
//!
//! Two ways to run it:
//! - `--in-process --endpoint MOTO` (what `make load` does): the dev gateway
//!   (pulse-gateway's `start_dev_stack`, the same `Gateway::serve` and
//!   handlers as the `pulse-gateway` binary) on a loopback port of its own
//!   runtime. Its SQS event source runs only between levels: ingest is
//!   measured alone (it only writes SQS) and every level starts on an empty
//!   queue (moto's SendMessageBatch slows down as its queue grows).
//! - `--url http://127.0.0.1:PORT` against a running gateway (`make dev`):
//!   its consumer drains while the levels run and competes for the emulator.
//!
//! usage: load (--in-process --endpoint URL | --url URL) [--stack-prefix pulse-load]
//!             [--write-key wk_dev_demo] [--read-key rk_dev_demo] [--levels 1,4,16,64]
//!             [--seconds 5] [--batch 20] [--max-events 40000] [--drain-timeout 900]

use pulse_adapters::provision::StackNames;
use pulse_bench::report::num;
use pulse_bench::{args::Args, bench_dir, stats};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const TYPES: [&str; 6] = [
    "page_view",
    "button_clicked",
    "form_submitted",
    "search_performed",
    "tool_call",
    "item_viewed",
];

fn body(batch: usize, seq: usize) -> String {
    let events: Vec<Value> = (0..batch)
        .map(|i| {
            let user = (seq * 7 + i) % 500;
            json!({
                "event_id": uuid::Uuid::now_v7().to_string(),
                "type": TYPES[(seq + i) % TYPES.len()],
                "user_id": format!("load-user-{user}"),
                "session_id": format!("load-session-{}", seq % 1000),
                "properties": {"path": format!("/app/{}", i % 40), "value": i},
                "context": {"user_agent": UA, "page": {"path": "/app", "title": "Pulse load"}},
            })
        })
        .collect();
    json!({ "events": events }).to_string()
}

#[derive(Default)]
struct Sample {
    latency_ms: Vec<f64>,
    ok: usize,
    server_errors: usize,
    other: usize,
    accepted: usize,
    first_error: Option<String>,
}

struct Level {
    concurrency: usize,
    seconds: f64,
    sample: Sample,
}

/// One concurrency level's settings.
struct Plan<'a> {
    client: &'a reqwest::Client,
    url: &'a str,
    key: &'a str,
    batch: usize,
    max_requests: usize,
    duration: Duration,
}

async fn run_level(plan: &Plan<'_>, concurrency: usize, seq_base: usize) -> Level {
    let Plan {
        client,
        url,
        key,
        batch,
        max_requests,
        duration,
    } = *plan;
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = format!("{url}/v1/events");
        let auth = format!("Bearer {key}");
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = Sample::default();
            loop {
                let i = issued.fetch_add(1, Ordering::Relaxed);
                if i >= max_requests || Instant::now() >= deadline {
                    break;
                }
                let payload = body(batch, seq_base + i);
                let t0 = Instant::now();
                let res = client
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(payload)
                    .send()
                    .await;
                let (status, text) = match res {
                    Ok(r) => {
                        let st = r.status().as_u16();
                        (st, r.text().await.unwrap_or_default())
                    }
                    Err(e) => (0, e.to_string()),
                };
                s.latency_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                match status {
                    200 => {
                        s.ok += 1;
                        let v: Value = serde_json::from_str(&text).unwrap_or_default();
                        s.accepted += v["accepted"].as_u64().unwrap_or(0) as usize;
                    }
                    500..=599 => s.server_errors += 1,
                    _ => s.other += 1,
                }
                if status != 200 && s.first_error.is_none() {
                    s.first_error = Some(format!(
                        "{status}: {}",
                        text.chars().take(200).collect::<String>()
                    ));
                }
            }
            s
        }));
    }
    let mut all = Sample::default();
    for t in tasks {
        let s = t.await.expect("worker task");
        all.latency_ms.extend(s.latency_ms);
        all.ok += s.ok;
        all.server_errors += s.server_errors;
        all.other += s.other;
        all.accepted += s.accepted;
        all.first_error = all.first_error.or(s.first_error);
    }
    Level {
        concurrency,
        seconds: started.elapsed().as_secs_f64(),
        sample: all,
    }
}

async fn summary_total(client: &reqwest::Client, url: &str, read_key: &str) -> Result<u64, String> {
    let r = client
        .get(format!("{url}/v1/analytics/summary?days=2"))
        .header("authorization", format!("Bearer {read_key}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let text = r.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("summary answered {status}: {text}"));
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    v["total_events"]
        .as_u64()
        .ok_or_else(|| format!("no total_events in {text}"))
}

/// Event items of `project` in the table, and messages left on the queues.
async fn check_store(
    endpoint: &str,
    prefix: &str,
    project: &str,
) -> Result<(u64, i64, i64), String> {
    let clients = pulse_tests::clients(endpoint).await;
    let names = StackNames::with_prefix(prefix);
    let mut count = 0u64;
    let mut start = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(&names.table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("EV#{project}#")),
            )
            .select(aws_sdk_dynamodb::types::Select::Count)
            .limit(1000)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        count += page.count() as u64;
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    let depth = |name: String| {
        let sqs = clients.sqs.clone();
        async move {
            let url = sqs
                .get_queue_url()
                .queue_name(&name)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?
                .queue_url()
                .unwrap_or_default()
                .to_owned();
            let a = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                )
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                )
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            let attrs = a.attributes().cloned().unwrap_or_default();
            let n = |k: aws_sdk_sqs::types::QueueAttributeName| {
                attrs
                    .get(&k)
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0)
            };
            Ok::<i64, String>(
                n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                    + n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            )
        }
    };
    let queue = depth(names.queue.clone()).await?;
    let dlq = depth(names.dead_letter_queue.clone()).await?;
    Ok((count, queue, dlq))
}

/// The in-process dev gateway: its runtime, its event source (polled only
/// between levels) and its queue.
struct InProcess {
    rt: tokio::runtime::Runtime,
    source: Arc<pulse_gateway::event_source::EventSourceMapping>,
    clients: pulse_adapters::AwsClients,
    queue_url: String,
}

/// The dev stack served on a loopback port from a runtime of its own.
fn start_in_process(
    endpoint: &str,
    prefix: &str,
    write_key: &str,
    read_key: &str,
) -> Result<(InProcess, String), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gateway")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let options = pulse_gateway::DevStackOptions {
        names: StackNames::with_prefix(prefix),
        demo_write_key: write_key.into(),
        demo_read_key: read_key.into(),
        static_root: pulse_bench::repo_root(),
        max_message_bytes: pulse_core::limits::DEFAULT_MESSAGE_BYTES,
        cors: pulse_ingest::Cors::AnyOrigin,
        // As the pulse-gateway binary's default (PULSE_MONITOR_CACHE_SECONDS).
        monitor_cache: Duration::from_secs(2),
    };
    let endpoint = endpoint.to_owned();
    let (stack, clients, listener) = rt.block_on(async move {
        let clients = pulse_tests::clients(&endpoint).await;
        let stack = pulse_gateway::start_dev_stack(&clients, &options).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((stack, clients, listener))
    })?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    rt.spawn(stack.gateway.clone().serve(listener));
    let mut source = stack.event_source;
    // Between levels only: a short long-poll so a drain ends promptly.
    source.wait_seconds = 1;
    Ok((
        InProcess {
            rt,
            source: Arc::new(source),
            clients,
            queue_url: stack.provisioned.queue_url,
        },
        url,
    ))
}

/// Messages on the queue, visible or in flight.
async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<i64, String> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let a = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    let attrs = a.attributes().cloned().unwrap_or_default();
    let n = |k: A| {
        attrs
            .get(&k)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    Ok(n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible))
}

struct Drain {
    stored: u64,
    seconds: f64,
    poll_errors: usize,
    complete: bool,
}

/// Waits until the summary counts `expected` events (and, in process, the
/// queue is empty), running the in-process event source meanwhile.
async fn drain(
    client: &reqwest::Client,
    url: &str,
    read_key: &str,
    expected: u64,
    in_process: Option<&InProcess>,
    timeout: Duration,
) -> Drain {
    let started = Instant::now();
    // Stopped by a flag between polls, never aborted: a long poll dropped
    // mid-request can take a message that then stays invisible for the
    // queue's visibility timeout (180 s).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = in_process.map(|p| {
        let source = p.source.clone();
        let stop = stop.clone();
        p.rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = source.poll_once().await {
                    eprintln!("\ndrain: polling the queue failed ({e}); retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        })
    });
    let mut last = (0u64, Instant::now());
    let mut poll_errors = 0;
    let mut complete = false;
    loop {
        // moto sometimes answers a request under load with an error page; the
        // summary then fails (503): poll again.
        match summary_total(client, url, read_key).await {
            Ok(total) => {
                if total != last.0 {
                    last = (total, Instant::now());
                    eprint!(
                        "\rdrain: {} / {} stored ({:.0} s)   ",
                        num(total as f64, 0),
                        num(expected as f64, 0),
                        started.elapsed().as_secs_f64()
                    );
                }
                if total >= expected {
                    let empty = match in_process {
                        Some(p) => queue_depth(&p.clients.sqs, &p.queue_url)
                            .await
                            .map(|d| d == 0)
                            .unwrap_or(false),
                        None => true,
                    };
                    if empty {
                        complete = true;
                        break;
                    }
                }
            }
            Err(e) => {
                poll_errors += 1;
                if poll_errors == 1 {
                    eprintln!("\ndrain: a summary poll failed ({e}); polling on");
                }
            }
        }
        // Longer than the visibility timeout, so a redelivery can still come.
        if last.1.elapsed() > Duration::from_secs(240) || started.elapsed() > timeout {
            eprintln!("\ndrain: gave up (no progress for 240 s, or over {timeout:?})");
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!();
    if let Some(h) = poller {
        stop.store(true, Ordering::Relaxed);
        let _ = h.await;
    }
    Drain {
        stored: last.0,
        seconds: started.elapsed().as_secs_f64(),
        poll_errors,
        complete,
    }
}

fn main() {
    let args = match Args::from_env(&["in-process"]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let write_key = args.str("write-key").unwrap_or("wk_dev_demo").to_owned();
    let read_key = args.str("read-key").unwrap_or("rk_dev_demo").to_owned();
    let prefix = args.str("stack-prefix").unwrap_or("pulse-load").to_owned();
    let (in_process, url) = if args.has("in-process") {
        let Some(endpoint) = args.str("endpoint") else {
            eprintln!("load: --in-process needs --endpoint (the AWS emulator)");
            std::process::exit(2);
        };
        match start_in_process(endpoint, &prefix, &write_key, &read_key) {
            Ok((p, url)) => (Some(p), url),
            Err(e) => {
                eprintln!("load: the dev stack did not start: {e}");
                std::process::exit(1);
            }
        }
    } else if let Some(url) = args.str("url") {
        (None, url.trim_end_matches('/').to_owned())
    } else {
        eprintln!("load: give --in-process --endpoint URL, or --url of a running dev gateway");
        std::process::exit(2);
    };
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = client_rt.block_on(run(&args, &url, &write_key, &read_key, in_process.as_ref()));
    if let Some(p) = in_process {
        p.rt.shutdown_background();
    }
    if let Err(e) = result {
        eprintln!("load: {e}");
        std::process::exit(1);
    }
}

async fn run(
    args: &Args,
    url: &str,
    write_key: &str,
    read_key: &str,
    in_process: Option<&InProcess>,
) -> Result<(), String> {
    let levels: Vec<usize> = args.list("levels", &[1, 4, 16, 64])?;
    let seconds: f64 = args.get("seconds", 5.0)?;
    let batch: usize = args.get("batch", 20)?;
    let max_events: usize = args.get("max-events", 40_000)?;
    let drain_timeout = Duration::from_secs(args.get("drain-timeout", 900)?);
    let project = args.str("project").unwrap_or("demo").to_owned();
    if levels.is_empty() || batch == 0 {
        return Err("--levels and --batch must not be empty or zero".into());
    }
    let per_level_requests = (max_events / levels.len() / batch).max(1);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let before = summary_total(&client, url, read_key).await?;
    let mode = if in_process.is_some() {
        "the dev gateway in process; its consumer drains between levels, never during one"
    } else {
        "a running gateway; its consumer drains while the levels run"
    };
    println!("load: {mode}");
    println!(
        "load: POST {url}/v1/events, {batch} events per request, levels {levels:?}, up to {seconds} s and {} requests per level",
        num(per_level_requests as f64, 0)
    );
    let plan = Plan {
        client: &client,
        url,
        key: write_key,
        batch,
        max_requests: per_level_requests,
        duration: Duration::from_secs_f64(seconds),
    };
    let header = format!(
        "{:>11} {:>9} {:>8} {:>10} {:>11} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6}",
        "concurrency",
        "requests",
        "seconds",
        "req/s",
        "events/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "5xx",
        "other"
    );
    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut drains = Vec::new();
    let mut expected = before;
    let mut seq = 0;
    for &c in &levels {
        let l = run_level(&plan, c, seq).await;
        seq += per_level_requests;
        let s = &l.sample;
        let n = s.latency_ms.len();
        let p = |q| stats::percentile(&s.latency_ms, q).unwrap_or(f64::NAN);
        let row = format!(
            "{:>11} {:>9} {:>8.2} {:>10.0} {:>11.0} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>5} {:>6}",
            c,
            n,
            l.seconds,
            n as f64 / l.seconds,
            s.accepted as f64 / l.seconds,
            p(50.0),
            p(90.0),
            p(99.0),
            stats::max(&s.latency_ms).unwrap_or(f64::NAN),
            s.server_errors,
            s.other
        );
        println!("{header}\n{row}");
        if let Some(e) = &s.first_error {
            println!("            first error: {e}");
        }
        rows.push(row);
        expected += s.accepted as u64;
        let d = drain(&client, url, read_key, expected, in_process, drain_timeout).await;
        println!(
            "drain after concurrency {c}: {} events in {:.0} s ({:.0} events/s into moto){}",
            num(s.accepted as f64, 0),
            d.seconds,
            s.accepted as f64 / d.seconds.max(0.001),
            if d.complete { "" } else { " — INCOMPLETE" }
        );
        let stop = !d.complete;
        drains.push(d);
        results.push(l);
        if stop {
            break;
        }
    }

    println!();
    println!("{header}");
    for r in &rows {
        println!("{r}");
    }
    let accepted: usize = results.iter().map(|l| l.sample.accepted).sum();
    let server_errors: usize = results.iter().map(|l| l.sample.server_errors).sum();
    let other: usize = results.iter().map(|l| l.sample.other).sum();
    let curve: Vec<(usize, f64)> = results
        .iter()
        .map(|l| (l.concurrency, l.sample.latency_ms.len() as f64 / l.seconds))
        .collect();
    let knee = stats::knee(&curve, 0.15);
    let max_rps = curve.iter().map(|c| c.1).fold(0.0, f64::max);
    println!(
        "knee: concurrency {} (the next level adds < 15 % requests/s); best {:.0} requests/s = {:.0} events/s",
        knee.map(|k| k.to_string()).unwrap_or("-".into()),
        max_rps,
        max_rps * batch as f64
    );
    let stored = drains.last().map(|d| d.stored).unwrap_or(before);
    let stored_new = stored.saturating_sub(before);
    let lost = accepted as i64 - stored_new as i64;
    let drain_s: f64 = drains.iter().map(|d| d.seconds).sum();
    println!(
        "drain: {} events stored in {drain_s:.0} s of draining ({:.0} events/s into moto)",
        num(stored_new as f64, 0),
        stored_new as f64 / drain_s.max(0.001)
    );

    let mut scan = Value::Null;
    if let Some(endpoint) = args.str("endpoint") {
        let prefix = args.str("stack-prefix").unwrap_or("pulse-load");
        let (items, queue, dlq) = check_store(endpoint, prefix, &project).await?;
        println!("check: {items} event items in the table, {queue} messages left on the queue, {dlq} in the DLQ");
        scan = json!({"event_items": items, "queue_messages": queue, "dlq_messages": dlq});
    }
    let items_ok = scan["event_items"]
        .as_u64()
        .is_none_or(|n| n >= stored_new && n.saturating_sub(before) <= accepted as u64);
    let ok = server_errors == 0
        && lost == 0
        && items_ok
        && scan["dlq_messages"].as_i64().unwrap_or(0) == 0;
    println!(
        "result: {} 5xx, {} other non-200, {} accepted, {} lost → {}",
        server_errors,
        other,
        num(accepted as f64, 0),
        lost,
        if ok { "PASS" } else { "FAIL" }
    );

    let doc = json!({
        "generated_at": pulse_bench::rfc3339(pulse_bench::now_secs()),
        "mode": mode,
        "url": url,
        "events_per_request": batch,
        "levels": results.iter().zip(&drains).map(|(l, d)| {
            let s = &l.sample;
            json!({
                "concurrency": l.concurrency,
                "requests": s.latency_ms.len(),
                "seconds": l.seconds,
                "requests_per_s": s.latency_ms.len() as f64 / l.seconds,
                "events_per_s": s.accepted as f64 / l.seconds,
                "p50_ms": stats::percentile(&s.latency_ms, 50.0),
                "p90_ms": stats::percentile(&s.latency_ms, 90.0),
                "p99_ms": stats::percentile(&s.latency_ms, 99.0),
                "max_ms": stats::max(&s.latency_ms),
                "server_errors": s.server_errors,
                "other_non_200": s.other,
                "accepted": s.accepted,
                "first_error": s.first_error,
                "drain_seconds": d.seconds,
                "drain_complete": d.complete,
                "drain_poll_errors": d.poll_errors,
            })
        }).collect::<Vec<_>>(),
        "knee_concurrency": knee,
        "max_requests_per_s": max_rps,
        "accepted_events": accepted,
        "stored_events": stored_new,
        "lost_events": lost,
        "server_errors": server_errors,
        "other_non_200": other,
        "drain_seconds": drain_s,
        "store_check": scan,
        "pass": ok,
    });
    let path = bench_dir().join("load.json");
    std::fs::create_dir_all(bench_dir()).map_err(|e| e.to_string())?;
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("written: {}", path.display());
    if ok {
        Ok(())
    } else {
        Err("5xx answers, lost events or DLQ messages (see above)".into())
    }
}
