//! In-process cost of a consumer invocation without I/O: decoding a batch of
//! 10 messages × 100 events, keying the records, building time pages and
//! aggregating rollup deltas (issue target < 1 ms). The store accepts
//! everything instantly.

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pulse_core::consume::{
    CommitOutcome, Consumer, EventRecord, EventStore, PutOutcome, QueueMessage, StoreError,
    TimePage,
};
use pulse_core::ingest::{parse_body, prepare};
use pulse_core::project::NewProject;
use pulse_core::rollup::MessageDelta;
use pulse_core::PayloadFormat;
use std::hint::black_box;
use std::sync::Arc;

struct InstantStore;

#[async_trait]
impl EventStore for InstantStore {
    async fn put_events(&self, records: &[EventRecord]) -> Vec<Result<PutOutcome, StoreError>> {
        records.iter().map(|_| Ok(PutOutcome::Written)).collect()
    }
    async fn put_pages(&self, pages: &[TimePage]) -> Result<(), StoreError> {
        black_box(pages);
        Ok(())
    }
    async fn commit(&self, deltas: &[MessageDelta]) -> Vec<Result<CommitOutcome, StoreError>> {
        deltas.iter().map(|_| Ok(CommitOutcome::Applied)).collect()
    }
}

fn message(n: usize) -> String {
    let events: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"event_id":"0193a6c2-7b1e-7c3d-9e4f-{n:06}{i:06}","type":"button_clicked","user_id":"user-{}","session_id":"sess-{n}","timestamp":"2026-11-22T02:00:{:02}.000Z","properties":{{"button":"signup"}},"context":{{"user_agent":"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"}}}}"#,
                n % 7,
                i % 60
            )
        })
        .collect();
    let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
    let project = NewProject::new("bench", "Bench").to_project(0);
    let parsed = parse_body(PayloadFormat::Native, body.as_bytes()).unwrap();
    let received = pulse_core::time::parse_rfc3339_millis("2026-11-22T02:01:00Z").unwrap();
    let mut bodies = prepare(&parsed, &project, received, 1024 * 1024).bodies;
    assert_eq!(bodies.len(), 1);
    bodies.remove(0)
}

fn benches(c: &mut Criterion) {
    let batch: Vec<QueueMessage> = (0..10)
        .map(|n| QueueMessage {
            message_id: format!("m{n}"),
            body: message(n),
        })
        .collect();
    let consumer = Consumer::new(Arc::new(InstantStore));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("consumer");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("batch_10_messages_x_100_events_no_io", |b| {
        b.iter(|| {
            let report = rt.block_on(consumer.process(black_box(&batch)));
            assert_eq!(report.events_stored, 1000);
            report
        })
    });
    g.finish();
}

criterion_group!(consume, benches);
criterion_main!(consume);
