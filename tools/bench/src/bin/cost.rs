//! `cost`: the bill per million events at AWS list prices (us-east-1, arm64),
//! from the figures `make bench` measured (target/bench/report.json,
//! `cost_inputs`) or, where missing, documented defaults (printed as such).
//! Goal ≤ $1.6 per million events; when missed, the same arithmetic prices the
//! changes that would cut the bill and says which reach the goal.
//!
//! usage: cost [--report target/bench/report.json] [--events-per-request 20]
//!             [--event-bytes N] [--retention-days 365] [--messages-per-batch 10]
//!             [--ingest-io-ms 8] [--consumer-io-ms 60] [--summaries-per-million 100]
//!             [--log-retention-days 30] [--goal 1.6]

use pulse_bench::cost::{bill, designs, Assumptions, Bill, Inputs, Measured, ALL_PRICES};
use pulse_bench::report::num;
use pulse_bench::{args::Args, bench_dir};
use serde_json::json;
use std::path::PathBuf;

fn usd(x: f64) -> String {
    if x >= 0.01 {
        format!("${x:.3}")
    } else {
        format!("${x:.5}")
    }
}

fn print_bill(b: &Bill) {
    println!(
        "  {:<11} {:<88} {:>16} {:<9} {:>9}",
        "service", "item", "quantity", "unit", "USD"
    );
    for l in &b.lines {
        let q = if l.quantity >= 100.0 {
            num(l.quantity, 0)
        } else {
            format!("{:.3}", l.quantity)
        };
        println!(
            "  {:<11} {:<88} {:>16} {:<9} {:>9}",
            l.service,
            l.item,
            q,
            l.unit,
            usd(l.usd)
        );
    }
    println!(
        "  {:<11} {:<88} {:>16} {:<9} {:>9}",
        "",
        "total",
        "",
        "",
        usd(b.total_usd)
    );
}

fn main() {
    if let Err(e) = run() {
        eprintln!("cost: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args = Args::from_env(&[])?;
    let report_path = args
        .str("report")
        .map(PathBuf::from)
        .unwrap_or_else(|| bench_dir().join("report.json"));
    let (measured, origin) = match std::fs::read_to_string(&report_path) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", report_path.display()))?;
            let m: Measured = serde_json::from_value(v["cost_inputs"].clone()).unwrap_or_default();
            let when = v["generated_at"].as_str().unwrap_or("?").to_owned();
            (m, format!("report.json of {when}"))
        }
        Err(_) => {
            println!(
                "note: {} not found (run `make bench`); every input below is a documented default",
                report_path.display()
            );
            (Measured::default(), "no report".to_owned())
        }
    };
    let inputs = Inputs::from_measured(&measured, &origin);
    let d = Assumptions::default();
    let a = Assumptions {
        events_per_request: args.get("events-per-request", d.events_per_request)?,
        event_bytes: args
            .str("event-bytes")
            .map(str::parse)
            .transpose()
            .map_err(|_| "--event-bytes: not a number")?,
        retention_days: args.get("retention-days", d.retention_days)?,
        messages_per_batch: args.get("messages-per-batch", d.messages_per_batch)?,
        ingest_io_ms: args.get("ingest-io-ms", d.ingest_io_ms)?,
        consumer_io_ms: args.get("consumer-io-ms", d.consumer_io_ms)?,
        summaries_per_million: args.get("summaries-per-million", d.summaries_per_million)?,
        log_retention_days: args.get("log-retention-days", d.log_retention_days)?,
        goal_usd: args.get("goal", d.goal_usd)?,
        ..d
    };

    println!(
        "Pulse: the bill per 1,000,000 events, AWS list prices, us-east-1, arm64 (no free tiers)"
    );
    println!();
    println!("inputs (measured, or a default where it says so)");
    let show = |name: &str, s: &pulse_bench::cost::Sourced, unit: &str| {
        println!(
            "  {name:<34} {:>12} {unit:<10} {}",
            format!("{:.4}", s.value),
            s.source
        );
    };
    show("WRU per event", &inputs.wru_per_event, "WRU");
    show(
        "  of which event item + timeline GSI",
        &inputs.wru_event_item,
        "WRU",
    );
    show("  of which timeline GSI", &inputs.wru_timeline, "WRU");
    show("SQS bytes per event", &inputs.event_bytes, "B");
    show("gzip ratio of envelopes", &inputs.gzip_ratio, "");
    show(
        "ingest CPU per request, fixed",
        &inputs.ingest_cpu_fixed_ms,
        "ms",
    );
    show(
        "ingest CPU per event",
        &inputs.ingest_cpu_per_event_ms,
        "ms",
    );
    show(
        "consumer CPU per event",
        &inputs.consumer_cpu_per_event_ms,
        "ms",
    );
    show(
        "ingest log bytes per invocation",
        &inputs.ingest_log_bytes,
        "B",
    );
    show(
        "consumer log bytes per invocation",
        &inputs.consumer_log_bytes,
        "B",
    );
    show("RCU per 30-day summary", &inputs.summary_rcu, "RCU");
    println!(
        "  {:<34} {:>12} {:<10} {}",
        "stored bytes per event (table+GSI)",
        format!("{:.0}", inputs.footprint.bytes_per_event()),
        "B",
        inputs.footprint_source
    );
    let defaulted = inputs.defaulted();
    if !defaulted.is_empty() {
        println!(
            "  defaults used for: {}",
            defaulted
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!();
    println!("assumptions (flags)");
    println!(
        "  --events-per-request {}   --event-bytes {}   --retention-days {}   --messages-per-batch {}",
        a.events_per_request,
        a.event_bytes.map(|b| b.to_string()).unwrap_or("(measured)".into()),
        a.retention_days,
        a.messages_per_batch
    );
    println!(
        "  --ingest-io-ms {}   --consumer-io-ms {}   --summaries-per-million {}   --log-retention-days {}   memory: ingest {} MB, consumer {} MB (template.yaml)",
        a.ingest_io_ms, a.consumer_io_ms, a.summaries_per_million, a.log_retention_days, a.ingest_memory_mb, a.consumer_memory_mb
    );
    println!();

    let all: Vec<Bill> = designs(a.retention_days)
        .iter()
        .map(|d| bill(&inputs, &a, d))
        .collect();
    let built = &all[0];
    println!("{}", built.design.name);
    print_bill(built);
    let verdict = if built.meets_goal { "met" } else { "NOT met" };
    println!(
        "  goal ≤ ${:.2} per million events: {verdict} ({})",
        a.goal_usd,
        usd(built.total_usd)
    );
    let storage: f64 = built
        .lines
        .iter()
        .filter(|l| l.unit == "GB-month" && l.service == "DynamoDB")
        .map(|l| l.usd)
        .sum();
    let writes: f64 = built
        .lines
        .iter()
        .filter(|l| l.unit == "WRU")
        .map(|l| l.usd)
        .sum();
    println!(
        "  DynamoDB writes {} ({:.0} %), DynamoDB storage + PITR over the events' life {} ({:.0} %); at a steady 1 M events a month the table holds {:.1} GB (table + GSI) once full",
        usd(writes),
        writes / built.total_usd * 100.0,
        usd(storage),
        storage / built.total_usd * 100.0,
        // At a steady rate of R events a month the table holds R × (GB-months per event).
        built
            .lines
            .iter()
            .find(|l| l.service == "DynamoDB" && l.item.starts_with("storage"))
            .map(|l| l.quantity)
            .unwrap_or(0.0)
    );
    println!();

    println!("changes priced the same way");
    println!("  {:<84} {:>9}  goal", "design", "USD/M");
    for b in &all {
        println!(
            "  {:<84} {:>9}  {}",
            b.design.name,
            usd(b.total_usd),
            if b.meets_goal { "met" } else { "-" }
        );
    }
    if !built.meets_goal {
        let mut reaching: Vec<&Bill> = all[1..].iter().filter(|b| b.meets_goal).collect();
        reaching.sort_by(|x, y| x.total_usd.total_cmp(&y.total_usd));
        println!();
        if reaching.is_empty() {
            let cheapest = all
                .iter()
                .min_by(|x, y| x.total_usd.total_cmp(&y.total_usd))
                .expect("at least the built design");
            println!(
                "none of these changes reaches ≤ ${:.2}; the cheapest is {} at {}",
                a.goal_usd,
                cheapest.design.name,
                usd(cheapest.total_usd)
            );
        } else {
            println!(
                "what reaches ≤ ${:.2} per million events (cheapest first):",
                a.goal_usd
            );
            for b in reaching {
                println!("  {} → {}", b.design.name, usd(b.total_usd));
                println!("      trade-off: {}", b.design.tradeoff);
            }
        }
    }
    println!();
    println!("prices (list, us-east-1)");
    for p in ALL_PRICES {
        let shown = if p.per == "GB-s" {
            format!("${:.10} per GB-s", p.usd)
        } else if p.usd < 0.001 {
            format!("${:.3} per million {}s", p.usd * 1e6, p.per)
        } else {
            format!("${} per {}", p.usd, p.per)
        };
        println!(
            "  {:<38} {}  [{} as of {}]",
            shown, p.what, p.source, p.as_of
        );
    }

    let doc = json!({
        "generated_at": pulse_bench::rfc3339(pulse_bench::now_secs()),
        "inputs": inputs,
        "assumptions": a,
        "bills": all,
        "prices": ALL_PRICES,
    });
    let path = bench_dir().join("cost.json");
    std::fs::create_dir_all(bench_dir()).map_err(|e| e.to_string())?;
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!();
    println!("written: {}", path.display());
    Ok(())
}
