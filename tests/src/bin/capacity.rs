//! `pulse-capacity`: write requests and WRU per stored event for a realistic
//! mix, computed by DynamoDB's rules from the requests the consumer makes
//! (moto's ReturnConsumedCapacity is a placeholder), and events/s against
//! moto (indicative only: moto, not Pulse, is the bottleneck).
//!
//! usage: pulse-capacity [events] (default 5000)

use pulse_adapters::provision::{self, StackNames};
use pulse_adapters::write_meter::WriteMeter;
use pulse_adapters::{DynamoLive, DynamoStore};
use pulse_core::consume::{Consumer, QueueMessage};
use pulse_tests::{clients, mix, unique_prefix, Moto};
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    pulse_adapters::telemetry::init_terminal();
    let moto = Moto::start();
    let clients = clients(&moto.endpoint()).await;
    let table = provision::provision(
        &clients,
        &StackNames::with_prefix(&unique_prefix("capacity")),
    )
    .await
    .unwrap()
    .table;
    let (bodies, unique) = mix::realistic_messages(events, 5, 42);
    let messages: Vec<QueueMessage> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| QueueMessage {
            message_id: format!("m{i}"),
            body,
        })
        .collect();
    let meter = Arc::new(WriteMeter::new());
    // As deployed: with the live index (no user is monitored).
    let consumer = Consumer::new(Arc::new(
        DynamoStore::new(clients.dynamodb.clone(), &table).with_meter(meter.clone()),
    ))
    .with_live(
        Arc::new(DynamoLive::new(clients.dynamodb.clone(), &table).with_meter(meter.clone())),
        std::time::Duration::from_secs(10),
    );
    let started = Instant::now();
    let mut stored = 0;
    // Lambda hands the consumer up to BatchSize (100) messages at a time.
    for batch in messages.chunks(100) {
        let r = consumer.process(batch).await;
        assert!(r.failed.is_empty(), "{r:?}");
        stored += r.events_stored;
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(stored, unique);
    let c = meter.report(&clients.dynamodb, &table).await;
    println!(
        "consumer capacity, realistic mix ({} messages, {stored} events, 5 % of requests retried):",
        messages.len()
    );
    println!(
        "  write requests per 1,000 events  {:.0}",
        c.write_requests as f64 * 1000.0 / stored as f64
    );
    println!(
        "  WRU per 1,000 events             {:.0}",
        c.wru * 1000.0 / stored as f64
    );
    println!(
        "  WRU per stored event             {:.2}   (goal ≤ 2.5)",
        c.wru / stored as f64
    );
    for (kind, w) in &c.by_kind {
        println!("    {kind:<14} {:.3} WRU/event", w / stored as f64);
    }
    println!(
        "  events/s against moto            {:.0}   (indicative; moto bounds it)",
        stored as f64 / secs
    );
    println!(
        "{{\"consumer_wru_per_event\":{:.3},\"consumer_write_requests_per_1000\":{:.1},\"consumer_events_per_s_moto\":{:.0}}}",
        c.wru / stored as f64,
        c.write_requests as f64 * 1000.0 / stored as f64,
        stored as f64 / secs
    );
}
