//! `footprint`: what a realistic mix of events costs to queue and to keep.
//! Runs the capacity tool's realistic mix (pulse-tests `mix`, 5 % client
//! retries) through the real consumer into a moto table, then scans the table:
//! bytes per event by item kind (table and timeline GSI, with DynamoDB's 100
//! bytes of item overhead) and each kind's lifetime from its TTL; SQS bytes
//! per event and 64 KB chunks per message; how well the envelopes gzip (for an
//! S3 archive); and the read units of a 30-day summary built from the
//! measured rollup and user-day item sizes (1,000 daily users, as the summary
//! bench). Writes target/bench/footprint.json.
//!
//! usage: footprint [--events 5000] [--daily-users 1000]

use aws_sdk_dynamodb::types::AttributeValue;
use flate2::write::GzEncoder;
use pulse_adapters::dynamo_store::{Item, TIMELINE_PROJECTION};
use pulse_adapters::provision::{self, StackNames};
use pulse_adapters::write_meter::item_size;
use pulse_adapters::DynamoStore;
use pulse_bench::footprint::{summary_rcu, Footprint, ItemFacts};
use pulse_bench::{args::Args, bench_dir, stats};
use pulse_core::consume::{Consumer, QueueMessage};
use pulse_core::keys::{GSI1_PK, GSI1_SK, PK, ROLLUP_SHARDS, SK, TTL_ATTRIBUTE, USER_DAY_SHARDS};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("footprint: {e}");
        std::process::exit(1);
    }
}

fn kind_of(item: &Item) -> String {
    item.get(PK)
        .and_then(|v| v.as_s().ok())
        .map(|pk| pk.split('#').next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// The timeline GSI entry: keys plus the projected attributes (as write_meter sizes it).
fn gsi_size(item: &Item) -> Option<usize> {
    item.contains_key(GSI1_PK).then(|| {
        let projected: Item = item
            .iter()
            .filter(|(k, _)| {
                [PK, SK, GSI1_PK, GSI1_SK].contains(&k.as_str())
                    || TIMELINE_PROJECTION.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        item_size(&projected)
    })
}

async fn run() -> Result<(), String> {
    let args = Args::from_env(&[])?;
    let events: usize = args.get("events", 5000)?;
    let daily_users: u32 = args.get("daily-users", 1000)?;

    let moto = pulse_tests::Moto::start();
    let clients = pulse_tests::clients(&moto.endpoint()).await;
    let table = provision::provision(
        &clients,
        &StackNames::with_prefix(&pulse_tests::unique_prefix("footprint")),
    )
    .await
    .map_err(|e| e.to_string())?
    .table;
    let (bodies, unique) = pulse_tests::mix::realistic_messages(events, 5, 42);

    // Queue side: bytes per event, chunks per message, gzip.
    let mut queued_events = 0usize;
    let mut message_bytes = Vec::new();
    for b in &bodies {
        let env = pulse_core::envelope::decode(b).map_err(|e| e.to_string())?;
        queued_events += env.events.len();
        message_bytes.push(b.len() as f64);
    }
    let total_bytes: f64 = message_bytes.iter().sum();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    for b in &bodies {
        gz.write_all(b.as_bytes()).map_err(|e| e.to_string())?;
        gz.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    let gz_bytes = gz.finish().map_err(|e| e.to_string())?.len() as f64;
    let chunks: Vec<f64> = message_bytes
        .iter()
        .map(|b| (b / 65_536.0).ceil().max(1.0))
        .collect();

    // Store side: the real consumer, as Lambda would call it (100 messages per batch).
    let messages: Vec<QueueMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| QueueMessage {
            message_id: format!("m{i}"),
            body: body.clone(),
        })
        .collect();
    let consumer = Consumer::new(Arc::new(DynamoStore::new(clients.dynamodb.clone(), &table)));
    eprintln!(
        "footprint: storing {} messages ({unique} unique events) through the consumer into moto",
        messages.len()
    );
    let started = std::time::Instant::now();
    let mut stored = 0;
    for batch in messages.chunks(100) {
        let r = consumer.process(batch).await;
        if !r.failed.is_empty() {
            return Err(format!("consumer failures: {:?}", r.failed));
        }
        stored += r.events_stored;
    }
    eprintln!(
        "footprint: stored in {:.1} s; scanning the table",
        started.elapsed().as_secs_f64()
    );
    if stored != unique {
        return Err(format!("stored {stored} events, expected {unique}"));
    }

    let now = pulse_bench::now_secs() as f64;
    let mut items = Vec::new();
    let mut by_kind_sizes: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut start: Option<Item> = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(&table)
            // Small pages: moto answers a full 1 MB page slowly.
            .limit(250)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        for item in page.items() {
            let kind = kind_of(item);
            let size = item_size(item);
            by_kind_sizes
                .entry(kind.clone())
                .or_default()
                .push(size as f64);
            let lifetime_days = item
                .get(TTL_ATTRIBUTE)
                .and_then(|v| match v {
                    AttributeValue::N(n) => n.parse::<f64>().ok(),
                    _ => None,
                })
                .map(|t| (t - now) / 86_400.0);
            items.push(ItemFacts {
                kind,
                bytes: size,
                gsi_bytes: gsi_size(item),
                lifetime_days,
            });
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    let retention = pulse_core::project::NewProject::new("x", "x").retention_days;
    let fp = Footprint::from_items(&items, unique as u64, retention);
    let avg = |k: &str| stats::mean(by_kind_sizes.get(k).map(Vec::as_slice).unwrap_or(&[]));
    let rd = avg("RD").unwrap_or(0.0);
    let ud = avg("UD").unwrap_or(0.0);
    let rcu = summary_rcu(30, ROLLUP_SHARDS, rd, USER_DAY_SHARDS, daily_users, ud);
    let gb_months_year = fp.gb_months_per_event(retention, false, 3650.0);

    println!(
        "footprint of a realistic mix: {unique} events stored ({} messages, {} with client retries)",
        messages.len(),
        queued_events
    );
    println!(
        "  {:<10} {:>7} {:>12} {:>12} {:>10}",
        "kind", "items", "table B/ev", "GSI B/ev", "life days"
    );
    for (k, f) in &fp.kinds {
        println!(
            "  {:<10} {:>7} {:>12.1} {:>12.1} {:>10}",
            k,
            f.items,
            f.table_bytes_per_event,
            f.gsi_bytes_per_event,
            f.lifetime_days
                .map(|d| format!("{d:.0}"))
                .unwrap_or("never".into())
        );
    }
    println!(
        "  stored bytes per event      {:.0} (with 100 B item overhead; held {retention} days, rollups a year more)",
        fp.bytes_per_event()
    );
    println!(
        "  GB-months per million events over their life  {:.2}",
        gb_months_year * 1e6
    );
    println!(
        "  SQS bytes per event {:.0}; message {:.0} B median, {:.2} chunks of 64 KB on average; gzip {:.1} %",
        total_bytes / queued_events as f64,
        stats::median(&message_bytes).unwrap_or(0.0),
        stats::mean(&chunks).unwrap_or(0.0),
        gz_bytes / total_bytes * 100.0
    );
    println!(
        "  30-day summary, {daily_users} daily users: {:.1} RCU (day rollup item {rd:.0} B, user-day item {ud:.0} B)",
        rcu
    );

    let doc = json!({
        "generated_at": pulse_bench::rfc3339(pulse_bench::now_secs()),
        "events": unique,
        "messages": messages.len(),
        "queued_events": queued_events,
        "retention_days": retention,
        "footprint": fp,
        "stored_bytes_per_event": fp.bytes_per_event(),
        "gb_months_per_million_events": gb_months_year * 1e6,
        "sqs": {
            "bytes_per_event": total_bytes / queued_events as f64,
            "message_bytes_median": stats::median(&message_bytes),
            "events_per_message": queued_events as f64 / messages.len() as f64,
            "chunks_per_message": stats::mean(&chunks),
        },
        "gzip_ratio": gz_bytes / total_bytes,
        "summary_30d": {
            "daily_users": daily_users,
            "day_rollup_item_bytes": rd,
            "user_day_item_bytes": ud,
            "rcu": rcu,
        },
    });
    let path = bench_dir().join("footprint.json");
    std::fs::create_dir_all(bench_dir()).map_err(|e| e.to_string())?;
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("written: {}", path.display());
    Ok(())
}
