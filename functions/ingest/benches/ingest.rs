//! Ingest benchmarks (issue targets: ≥ 1,000,000 events/s on one core for
//! validate + enrich + pack of 300-byte events; < 2 ms handler time for a
//! 100-event request, AWS calls excluded).

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lambda_http::{Body, Request};
use pulse_core::ingest::{parse_body, prepare};
use pulse_core::limits::DEFAULT_MESSAGE_BYTES;
use pulse_core::project::{KeyGrant, KeyHash, KeyKind, NewProject};
use pulse_core::{DirectoryError, EventQueue, PayloadFormat, ProjectDirectory, QueueError};
use pulse_ingest::{Cors, IngestHandler};
use std::hint::black_box;
use std::sync::Arc;

const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A typical tracker event of about 300 bytes.
fn event(i: usize) -> String {
    format!(
        r#"{{"event_id":"0193a6c2-7b1e-7c3d-9e4f-{i:012}","type":"button_clicked","user_id":"user-{}","session_id":"sess-8f2c41","timestamp":"2026-11-22T02:00:00.000Z","properties":{{"button":"signup","variant":"b"}},"context":{{"user_agent":"{UA}"}}}}"#,
        i % 50
    )
}

fn batch(n: usize) -> String {
    let events: Vec<String> = (0..n).map(event).collect();
    format!(
        r#"{{"sent_at":"2026-11-22T02:00:01.000Z","events":[{}]}}"#,
        events.join(",")
    )
}

struct StaticDirectory(KeyGrant);

#[async_trait]
impl ProjectDirectory for StaticDirectory {
    async fn grant_for_key(&self, _: &KeyHash) -> Result<Option<KeyGrant>, DirectoryError> {
        Ok(Some(self.0.clone()))
    }
}

struct DiscardQueue;

#[async_trait]
impl EventQueue for DiscardQueue {
    async fn send_all(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        black_box(bodies);
        Ok(())
    }
}

fn benches(c: &mut Criterion) {
    let project = NewProject::new("bench", "Bench").to_project(0);
    let received_at = pulse_core::time::parse_rfc3339_millis("2026-11-22T02:00:02Z").unwrap();
    println!("event size: {} bytes", event(1).len());

    let body = batch(1000);
    let mut g = c.benchmark_group("ingest_core");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("validate_enrich_pack_1000_events", |b| {
        b.iter(|| {
            let parsed = parse_body(PayloadFormat::Native, body.as_bytes()).unwrap();
            let prepared = prepare(&parsed, &project, received_at, DEFAULT_MESSAGE_BYTES);
            assert_eq!(prepared.accepted, 1000);
            black_box(prepared.bodies)
        })
    });
    g.finish();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = IngestHandler::from_ports(
        Arc::new(StaticDirectory(KeyGrant {
            project: project.clone(),
            kind: KeyKind::Write,
        })),
        Arc::new(DiscardQueue),
        DEFAULT_MESSAGE_BYTES,
        Cors::AnyOrigin,
    );
    let body100 = batch(100);
    let mut g = c.benchmark_group("ingest_handler");
    g.throughput(Throughput::Elements(100));
    g.bench_function("request_100_events_no_aws", |b| {
        b.iter_batched(
            || -> Request {
                lambda_http::http::Request::builder()
                    .method("POST")
                    .uri("https://api.test/v1/events")
                    .header("authorization", "Bearer wk_x")
                    .header("content-type", "application/json")
                    .body(Body::Text(body100.clone()))
                    .unwrap()
            },
            |req| {
                let res = rt.block_on(handler.handle(req));
                assert_eq!(res.status(), 200);
                res
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(ingest, benches);
criterion_main!(ingest);
