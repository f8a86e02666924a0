//! The consumer against moto through the real aws-sdk-dynamodb client:
//! duplicates and redeliveries are stored and counted once, a crash midway
//! loses and doubles nothing, poison messages fail alone.

use async_trait::async_trait;
use pulse_adapters::provision::{self, StackNames};
use pulse_adapters::write_meter::WriteMeter;
use pulse_adapters::{AwsClients, DynamoReader, DynamoStore};
use pulse_core::consume::{
    CommitOutcome, Consumer, EventRecord, EventStore, PutOutcome, QueueMessage, StoreError,
    TimePage,
};
use pulse_core::query::EventReader;
use pulse_core::rollup::MessageDelta;
use pulse_core::time::{day_of, hour_of, DAY_MS};
use pulse_tests::{clients, unique_prefix, Moto};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PROJECT: &str = "proj";

struct Env {
    _moto: Moto,
    clients: AwsClients,
    table: String,
}

async fn env(label: &str) -> Env {
    pulse_adapters::telemetry::init_terminal();
    let moto = Moto::start();
    let clients = clients(&moto.endpoint()).await;
    let names = StackNames::with_prefix(&unique_prefix(label));
    let p = provision::provision(&clients, &names).await.unwrap();
    Env {
        _moto: moto,
        clients,
        table: p.table,
    }
}

const TYPES: &[&str] = &[
    "user_message",
    "tool_call",
    "tool_response",
    "assistant_response",
    "page_view",
    "Order Completed",
];

/// A deterministic, varied event: users, sessions, conversations, statuses,
/// durations and three days.
fn event(i: usize, base: i64) -> Value {
    let mut e = json!({
        "event_id": format!("evt-{i:05}"),
        "type": TYPES[i % TYPES.len()],
        "timestamp": base + (i as i64 % 3) * DAY_MS + (i as i64 * 37_000) % (20 * 3_600_000),
        "user_id": format!("user-{}", i % 13),
        "session_id": format!("sess-{}", i % 29),
        "properties": {"i": i},
    });
    let (c, a) = pulse_core::event::derive_category_action(TYPES[i % TYPES.len()]);
    e["category"] = c.into();
    if let Some(a) = a {
        e["action"] = a.into();
    }
    if i.is_multiple_of(4) {
        e["status"] = (if i.is_multiple_of(8) {
            "failed"
        } else {
            "success"
        })
        .into();
    }
    if i.is_multiple_of(3) {
        e["duration_ms"] = ((i * 7) % 1000).into();
    }
    if i.is_multiple_of(5) {
        e["conversation_id"] = format!("conv-{}", i % 11).into();
        e["sequence"] = (i % 4).into();
    }
    e
}

fn envelope(events: &[Value], retention_days: u32) -> String {
    json!({"v": 1, "project_id": PROJECT, "retention_days": retention_days, "received_at": pulse_core::time::now_millis(), "events": events}).to_string()
}

fn base_time() -> i64 {
    // Three days ending yesterday, at midnight UTC.
    let now = pulse_core::time::now_millis();
    now - now % DAY_MS - 3 * DAY_MS
}

/// What the rollups must say, computed from the unique events alone.
#[derive(Default, Debug)]
struct Expected {
    days: BTreeMap<String, BTreeMap<String, u64>>,
    users: BTreeMap<String, BTreeSet<String>>,
    sessions: BTreeMap<String, BTreeSet<String>>,
    user_day_events: BTreeMap<String, BTreeMap<String, u64>>,
    hours: BTreeMap<String, BTreeMap<String, u64>>,
}

fn expected(events: &[Value]) -> Expected {
    let mut x = Expected::default();
    for e in events {
        let ts = e["timestamp"].as_i64().unwrap();
        let day = day_of(ts);
        let hour = hour_of(ts);
        let d = x.days.entry(day.clone()).or_default();
        let mut add = |k: String, n: u64| *d.entry(k).or_default() += n;
        add("events".into(), 1);
        add(format!("t:{}", e["type"].as_str().unwrap()), 1);
        add(format!("c:{}", e["category"].as_str().unwrap()), 1);
        if let Some(a) = e["action"].as_str() {
            add(format!("a:{a}"), 1);
        }
        if let Some(s) = e["status"].as_str() {
            add(format!("s:{s}"), 1);
            if s == "failed" {
                add("errors".into(), 1);
            }
        }
        if let Some(ms) = e["duration_ms"].as_u64() {
            add("dur_sum".into(), ms);
            add("dur_n".into(), 1);
        }
        add(format!("h:{}", &hour[11..]), 1);
        let user = format!("u:{}", e["user_id"].as_str().unwrap());
        x.users.entry(day.clone()).or_default().insert(user.clone());
        x.sessions
            .entry(day.clone())
            .or_default()
            .insert(e["session_id"].as_str().unwrap().to_owned());
        *x.user_day_events
            .entry(day.clone())
            .or_default()
            .entry(user)
            .or_default() += 1;
        let h = x.hours.entry(hour).or_default();
        *h.entry("events".into()).or_default() += 1;
        *h.entry(format!("t:{}", e["type"].as_str().unwrap()))
            .or_default() += 1;
    }
    for (day, users) in &x.users {
        x.days
            .get_mut(day)
            .unwrap()
            .insert("users".into(), users.len() as u64);
    }
    for (day, sessions) in &x.sessions {
        x.days
            .get_mut(day)
            .unwrap()
            .insert("sessions".into(), sessions.len() as u64);
    }
    x
}

async fn stored_event_ids(env: &Env) -> Vec<String> {
    let mut ids = Vec::new();
    let mut start = None;
    loop {
        let page = env
            .clients
            .dynamodb
            .scan()
            .table_name(&env.table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("EV#{PROJECT}#")),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        ids.extend(page.items().iter().map(|i| {
            i["pk"]
                .as_s()
                .unwrap()
                .rsplit('#')
                .next()
                .unwrap()
                .to_owned()
        }));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return ids;
        }
    }
}

/// Checks events, pages and every rollup against the unique input.
async fn assert_exact(env: &Env, unique: &[Value]) {
    let want = expected(unique);
    let mut ids = stored_event_ids(env).await;
    ids.sort();
    let mut want_ids: Vec<String> = unique
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    want_ids.sort();
    assert_eq!(ids, want_ids, "every unique event stored exactly once");

    let reader = DynamoReader::new(env.clients.dynamodb.clone(), &env.table);
    let days: Vec<&String> = want.days.keys().collect();
    let got = reader
        .day_rollups(PROJECT, days[0], days[days.len() - 1])
        .await
        .unwrap();
    assert_eq!(got, want.days, "day rollups");
    let got_hours = reader
        .hour_rollups(PROJECT, days[0], days[days.len() - 1])
        .await
        .unwrap();
    assert_eq!(got_hours, want.hours, "hour rollups");
    for (day, users) in &want.user_day_events {
        assert_eq!(
            &reader.user_days(PROJECT, day).await.unwrap(),
            users,
            "user-day counts on {day}"
        );
    }
    let mut paged = Vec::new();
    for hour in want.hours.keys() {
        paged.extend(
            reader
                .hour_refs(PROJECT, hour)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id),
        );
    }
    paged.sort();
    assert_eq!(paged, want_ids, "every event in the time index once");
}

fn messages(bodies: &[String], prefix: &str) -> Vec<QueueMessage> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, b)| QueueMessage {
            message_id: format!("{prefix}-{i}"),
            body: b.clone(),
        })
        .collect()
}

#[tokio::test]
async fn duplicates_and_redeliveries_are_counted_once() {
    let env = env("exactly-once").await;
    let base = base_time();
    let unique: Vec<Value> = (0..1000).map(|i| event(i, base)).collect();
    // 1,000 events in messages of 50; 10 % re-sent in five other messages (a
    // client retry); every message then delivered twice (SQS redelivery).
    let mut bodies: Vec<String> = unique.chunks(50).map(|c| envelope(c, 30)).collect();
    let resent: Vec<Value> = unique.iter().step_by(10).cloned().collect();
    assert_eq!(resent.len(), 100);
    bodies.extend(resent.chunks(20).map(|c| envelope(c, 30)));
    let msgs = messages(&bodies, "m");
    let meter = Arc::new(WriteMeter::new());
    let store =
        DynamoStore::new(env.clients.dynamodb.clone(), &env.table).with_meter(meter.clone());
    let consumer = Consumer::new(Arc::new(store));

    // First delivery in batches of 10, then everything again in reverse order.
    let mut stored = 0;
    let mut duplicates = 0;
    for batch in msgs.chunks(10) {
        let r = consumer.process(batch).await;
        assert!(r.failed.is_empty(), "{r:?}");
        stored += r.events_stored;
        duplicates += r.duplicates;
    }
    assert_eq!((stored, duplicates), (1000, 100));
    let capacity = meter.report(&env.clients.dynamodb, &env.table).await;
    println!(
        "capacity for 1,000 events (+100 duplicates): {} write requests, {:.0} WRU = {:.2} WRU per stored event",
        capacity.write_requests,
        capacity.wru,
        capacity.wru / 1000.0
    );
    let reversed: Vec<QueueMessage> = msgs.iter().rev().cloned().collect();
    for batch in reversed.chunks(7) {
        let r = consumer.process(batch).await;
        assert!(r.failed.is_empty(), "{r:?}");
        assert_eq!(
            r.events_stored + r.duplicates,
            batch
                .iter()
                .map(|m| pulse_core::envelope::decode(&m.body).unwrap().events.len())
                .sum::<usize>()
        );
    }
    assert_exact(&env, &unique).await;
}

/// Wraps the real store and stops dead (never returns) at a chosen point,
/// as a consumer killed there would.
struct CrashingStore {
    inner: DynamoStore,
    /// Event puts allowed before the crash; usize::MAX for none.
    puts_before_crash: usize,
    crash_in: &'static str,
    puts: AtomicUsize,
    crashed: tokio::sync::Notify,
}

impl CrashingStore {
    async fn die(&self) -> ! {
        self.crashed.notify_one();
        std::future::pending::<()>().await;
        unreachable!()
    }
}

#[async_trait]
impl EventStore for CrashingStore {
    async fn put_events(&self, records: &[EventRecord]) -> Vec<Result<PutOutcome, StoreError>> {
        if self.crash_in == "puts" {
            let allowed = self.puts_before_crash.min(records.len());
            self.inner.put_events(&records[..allowed]).await;
            self.puts.fetch_add(allowed, Ordering::SeqCst);
            self.die().await
        }
        self.inner.put_events(records).await
    }
    async fn put_pages(&self, pages: &[TimePage]) -> Result<(), StoreError> {
        if self.crash_in == "pages" {
            self.inner.put_pages(&pages[..pages.len() / 2]).await?;
            self.die().await
        }
        self.inner.put_pages(pages).await
    }
    async fn commit(&self, deltas: &[MessageDelta]) -> Vec<Result<CommitOutcome, StoreError>> {
        let out = self.inner.commit(deltas).await;
        if self.crash_in == "after-commit" {
            // Committed, but SQS never hears of it: the batch comes back.
            self.die().await
        }
        out
    }
}

#[tokio::test]
async fn a_consumer_killed_midway_loses_and_doubles_nothing() {
    for (round, crash_in) in ["puts", "pages", "after-commit"].into_iter().enumerate() {
        let env = env(&format!("crash{round}")).await;
        let base = base_time();
        let unique: Vec<Value> = (0..300).map(|i| event(i + round * 1000, base)).collect();
        let bodies: Vec<String> = unique.chunks(30).map(|c| envelope(c, 30)).collect();
        let msgs = messages(&bodies, &format!("crash{round}"));
        let crashing = Arc::new(CrashingStore {
            inner: DynamoStore::new(env.clients.dynamodb.clone(), &env.table),
            puts_before_crash: 137,
            crash_in,
            puts: AtomicUsize::new(0),
            crashed: tokio::sync::Notify::new(),
        });
        let consumer = Consumer::new(crashing.clone());
        let task = tokio::spawn({
            let msgs = msgs.clone();
            async move { consumer.process(&msgs).await }
        });
        tokio::time::timeout(Duration::from_secs(60), crashing.crashed.notified())
            .await
            .expect("the crash point is reached");
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());

        // SQS redelivers the whole batch to a fresh consumer.
        let consumer = Consumer::new(Arc::new(DynamoStore::new(
            env.clients.dynamodb.clone(),
            &env.table,
        )));
        let r = consumer.process(&msgs).await;
        assert!(r.failed.is_empty(), "{crash_in}: {r:?}");
        assert_eq!(
            r.events_stored, 300,
            "{crash_in}: earlier writes are recognised as this batch's own"
        );
        assert_eq!(
            r.already_applied,
            if crash_in == "after-commit" { 10 } else { 0 },
            "{crash_in}"
        );
        assert_exact(&env, &unique).await;
    }
}

#[tokio::test]
async fn a_poison_message_fails_alone() {
    let env = env("poison").await;
    let base = base_time();
    let unique: Vec<Value> = (0..90).map(|i| event(i, base)).collect();
    let mut bodies: Vec<String> = unique.chunks(10).map(|c| envelope(c, 30)).collect();
    bodies.insert(
        4,
        "{\"v\":1,\"project_id\":\"proj\",\"events\":\"not a list\"}".into(),
    );
    let msgs = messages(&bodies, "p");
    let consumer = Consumer::new(Arc::new(DynamoStore::new(
        env.clients.dynamodb.clone(),
        &env.table,
    )));
    let r = consumer.process(&msgs).await;
    assert_eq!(r.failed, vec!["p-4".to_owned()]);
    assert_eq!((r.events_stored, r.poison), (90, 1));
    assert_exact(&env, &unique).await;
}

#[tokio::test]
async fn expired_events_are_never_returned() {
    let env = env("ttl").await;
    let now = pulse_core::time::now_millis();
    let old = json!({"event_id": "old", "type": "a_b", "category": "a", "action": "b", "timestamp": now - 3 * DAY_MS, "user_id": "u", "session_id": "s"});
    let fresh = json!({"event_id": "fresh", "type": "a_b", "category": "a", "action": "b", "timestamp": now - 1000, "user_id": "u", "session_id": "s"});
    // Retention of 2 days: "old" expired a day ago; moto never deletes it.
    let msgs = messages(&[envelope(&[old.clone(), fresh], 2)], "ttl");
    let consumer = Consumer::new(Arc::new(DynamoStore::new(
        env.clients.dynamodb.clone(),
        &env.table,
    )));
    assert!(consumer.process(&msgs).await.failed.is_empty());
    assert_eq!(
        stored_event_ids(&env).await.len(),
        2,
        "both items are in the table"
    );

    let reader = DynamoReader::new(env.clients.dynamodb.clone(), &env.table);
    assert!(reader.get_event(PROJECT, "old").await.unwrap().is_none());
    assert_eq!(
        reader.get_event(PROJECT, "fresh").await.unwrap().unwrap()["event_id"],
        "fresh"
    );
    let all_time = pulse_core::query::TimeRange {
        from: 0,
        to: now + DAY_MS,
    };
    let timeline: Vec<String> = EventReader::timeline(&reader, PROJECT, "u:u", all_time, None, 50)
        .await
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(timeline, vec!["fresh"]);
    assert!(reader
        .get_events(PROJECT, &["old".into(), "fresh".into()])
        .await
        .unwrap()
        .iter()
        .all(|e| e["event_id"] != "old"));
    let old_hour = hour_of(old["timestamp"].as_i64().unwrap());
    assert!(reader
        .hour_refs(PROJECT, &old_hour)
        .await
        .unwrap()
        .is_empty());
}
