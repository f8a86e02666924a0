//! The reliability suite: many events through the real local stack while
//! things go wrong, then every count must still be exact.
//!
//! What runs (all real: the dev gateway with the real ingest and query
//! `lambda_http` handlers over HTTP, moto's SQS and DynamoDB through the real
//! aws-sdk clients, the real consumer behind the gateway's SQS event source):
//!
//! - **Client retries.** Events go in client batches of 1..=`max_batch`
//!   events, each with its own `event_id`; every batch is POSTed
//!   `1 + retries` times (as a client that never saw the response would), the
//!   retries either right away or a few dozen batches later. A POST that
//!   answers anything but 200 is sent again until it does. The clients pause
//!   while more than 400 messages wait on the queue: moto's SQS walks the
//!   whole queue in Python on every receive, delete and attribute call, so
//!   a backlog of thousands slowed a 100,000-event run to ~10 events/s. The
//!   consumer sees the same traffic either way (AWS has no such limit).
//! - **SQS duplicate delivery.** SQS is at-least-once: a message can be
//!   handed out again after it was received and even deleted. An aws-sdk
//!   interceptor on the event source's SQS client ([`Faults`]) makes that
//!   happen to `duplicate_percent` % of the distinct good messages: picked
//!   when first received, each is handed out a second time 0.5–5 s after
//!   the event source deleted it — same `MessageId`, same body, its old
//!   receipt handle — in a later `ReceiveMessage` answer (the receive asks
//!   SQS for fewer messages so the copy fits: batches stay at most 100).
//!   The consumer must recognise a message it already counted (its marker),
//!   while client retries exercise the other path (the same events in
//!   another message). Copies are not handed out while the original may be
//!   in flight: a batch holding one message twice currently makes the
//!   consumer's rollup transaction fail for every message of its unit
//!   ("Transaction request cannot include multiple operations on one
//!   item"; they succeed on redelivery), a consumer issue of its own.
//! - **Consumer kills.** The event source's poll loop
//!   ([`EventSourceMapping::run`]) runs as a tokio task; it is aborted
//!   `kills` times at random points and a new one (with a new consumer
//!   handler, as a cold start) is started. The k-th kill waits until about
//!   k/(kills+1) of the events are written, then a random 0–1.5 s more, so it
//!   lands anywhere: long-polling, gathering a batch, writing events, time
//!   pages, committing rollups, or between the commit and the deletes. The
//!   receive uses a short visibility timeout so what was in flight comes back
//!   quickly. A batch holding a good message already received 3 times is
//!   not killed: two more kills would (rightly) send it to the DLQ after
//!   maxReceiveCount receives, and kills that dense are not the point.
//! - **Poison.** Garbage bodies are sent straight to the queue, mixed into
//!   the traffic; they must fail alone and, after the redrive policy's
//!   maxReceiveCount (5), be exactly what is in the dead-letter queue.
//!
//! Then the checks: events stored, the time index and every rollup the query
//! API serves (summary, daily, top users, timeseries by hour and by day, DAU
//! and sessions per day) equal what is computed here from the unique events
//! sent. Each prints `PASS name` or `FAIL name: detail`, then
//! `N passed, N failed`.

use crate::mix::Rng;
use crate::{drain, TestStack, READ_KEY, WRITE_KEY};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_sqs::config::interceptors::{
    BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextMut,
};
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;
use aws_sdk_sqs::operation::delete_message_batch::{
    DeleteMessageBatchInput, DeleteMessageBatchOutput,
};
use aws_sdk_sqs::operation::receive_message::{ReceiveMessageInput, ReceiveMessageOutput};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use pulse_adapters::{DynamoLive, DynamoReader, DynamoStore};
use pulse_consumer::{ConsumerConfig, ConsumerHandler};
use pulse_core::consume::{
    CommitOutcome, EventRecord, EventStore, PageRef, PutOutcome, StoreError, TimePage,
};
use pulse_core::keys::{event_pk, page_pk, user_key, EVENT_SK};
use pulse_core::rollup::MessageDelta;
use pulse_core::time::{day_of, format_millis, hour_of, now_millis, DAY_MS};
use pulse_gateway::event_source::EventSourceMapping;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PROJECT: &str = "demo";
/// The clients pause while this many messages wait on the queue (see the
/// module docs).
const MAX_BACKLOG: u64 = 400;
/// A batch holding a good message received this many times is not killed.
const MAX_RECEIVES_TO_KILL: u64 = 3;
const HOUR_MS: i64 = 3_600_000;

/// What one run does; [`Config::from_env`] reads the `PULSE_RELIABILITY_*`
/// overrides.
#[derive(Debug, Clone)]
pub struct Config {
    /// Unique events sent.
    pub events: usize,
    /// Extra sends of every client batch.
    pub retries: usize,
    /// Largest client batch (sizes are uniform in 1..=max_batch).
    pub max_batch: usize,
    /// Share of distinct SQS messages delivered a second time.
    pub duplicate_percent: u64,
    /// Consumer tasks killed.
    pub kills: usize,
    /// Garbage messages sent straight to the queue.
    pub poison: usize,
    /// Visibility timeout of the event source's receives, in seconds.
    pub visibility_timeout: i32,
    /// Concurrent HTTP clients.
    pub senders: usize,
    pub seed: u64,
    /// Give up waiting for the queue to drain after this long.
    pub timeout: Duration,
    /// Runs of up to this many events check stored events and the time
    /// index with table scans; larger ones read by key (see `run`).
    pub scan_limit: usize,
}

impl Config {
    /// `PULSE_RELIABILITY_EVENTS` (default `default_events`),
    /// `_RETRIES` (2), `_MAX_BATCH` (40; 10 under 10,000 events), `_DUPLICATE_PERCENT` (30),
    /// `_KILLS` (10), `_POISON` (10 + events / 10,000), `_VISIBILITY` (2 s),
    /// `_SENDERS` (4), `_SEED` (from the clock; printed), `_TIMEOUT` seconds
    /// (300 + events / 20), `_SCAN_LIMIT` (20,000).
    pub fn from_env(default_events: usize) -> Self {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            let v = std::env::var(format!("PULSE_RELIABILITY_{name}")).ok()?;
            Some(
                v.trim()
                    .replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("PULSE_RELIABILITY_{name}={v:?} is not a number")),
            )
        }
        let events = var("EVENTS").unwrap_or(default_events).max(1);
        Config {
            events,
            retries: var("RETRIES").unwrap_or(2),
            // Small runs use small client batches: enough SQS messages that
            // ten kills spread over many consumer batches.
            max_batch: var("MAX_BATCH")
                .unwrap_or(if events < 10_000 { 10usize } else { 40 })
                .max(1),
            duplicate_percent: var("DUPLICATE_PERCENT").unwrap_or(30u64).min(100),
            kills: var("KILLS").unwrap_or(10),
            poison: var("POISON").unwrap_or(10 + events / 10_000),
            visibility_timeout: var("VISIBILITY").unwrap_or(2i32).max(1),
            senders: var("SENDERS").unwrap_or(4usize).max(1),
            seed: var("SEED").unwrap_or_else(|| now_millis() as u64),
            timeout: Duration::from_secs(var("TIMEOUT").unwrap_or(300 + events as u64 / 20)),
            scan_limit: var("SCAN_LIMIT").unwrap_or(20_000),
        }
    }
}

// ---------------------------------------------------------------------------
// Where the consumer is, for the kill report.

const PHASES: [&str; 6] = [
    "long-polling",
    "gathering a batch",
    "writing events",
    "writing time pages",
    "committing rollups",
    "deleting (after the commit)",
];
const POLLING: u8 = 0;
const GATHERING: u8 = 1;
const PUTTING: u8 = 2;
const PAGING: u8 = 3;
const COMMITTING: u8 = 4;
const DELETING: u8 = 5;

/// What the consumer has done, counted by [`ObservedStore`] and [`Faults`].
#[derive(Debug, Default)]
pub struct Probe {
    phase: AtomicU8,
    pub written: AtomicU64,
    pub rewritten_own: AtomicU64,
    pub duplicate_puts: AtomicU64,
    pub put_errors: AtomicU64,
    pub batches: AtomicU64,
    pub deltas_applied: AtomicU64,
    pub deltas_already_applied: AtomicU64,
    pub commit_errors: AtomicU64,
}

impl Probe {
    fn set(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }
    fn phase(&self) -> u8 {
        self.phase.load(Ordering::SeqCst)
    }
    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::SeqCst)
    }
}

/// The real DynamoDB store, passed through unchanged; it only counts
/// outcomes and notes which step of a batch the consumer is in.
pub struct ObservedStore {
    inner: DynamoStore,
    probe: Arc<Probe>,
}

#[async_trait]
impl EventStore for ObservedStore {
    async fn put_events(&self, records: &[EventRecord]) -> Vec<Result<PutOutcome, StoreError>> {
        self.probe.set(PUTTING);
        self.probe.batches.fetch_add(1, Ordering::SeqCst);
        let out = self.inner.put_events(records).await;
        for r in &out {
            let counter = match r {
                Ok(PutOutcome::Written) => &self.probe.written,
                Ok(PutOutcome::AlreadyOurs) => &self.probe.rewritten_own,
                Ok(PutOutcome::Duplicate) => &self.probe.duplicate_puts,
                Err(_) => &self.probe.put_errors,
            };
            counter.fetch_add(1, Ordering::SeqCst);
        }
        out
    }
    async fn put_pages(&self, pages: &[TimePage]) -> Result<(), StoreError> {
        self.probe.set(PAGING);
        self.inner.put_pages(pages).await
    }
    async fn commit(&self, deltas: &[MessageDelta]) -> Vec<Result<CommitOutcome, StoreError>> {
        self.probe.set(COMMITTING);
        let out = self.inner.commit(deltas).await;
        for r in &out {
            let counter = match r {
                Ok(CommitOutcome::Applied) => &self.probe.deltas_applied,
                Ok(CommitOutcome::AlreadyApplied) => &self.probe.deltas_already_applied,
                Err(_) => &self.probe.commit_errors,
            };
            counter.fetch_add(1, Ordering::SeqCst);
        }
        self.probe.set(DELETING);
        out
    }
}

// ---------------------------------------------------------------------------
// SQS duplicate delivery.

/// An aws-sdk interceptor on the event source's SQS client that makes SQS
/// deliver a share of the messages twice (see the module docs).
#[derive(Clone)]
pub struct Faults(Arc<FaultState>);

pub struct FaultState {
    probe: Arc<Probe>,
    percent: u64,
    /// Bodies of the poison messages (never deleted, so never copied).
    poison: HashSet<String>,
    inner: Mutex<FaultInner>,
}

struct FaultInner {
    rng: Rng,
    /// `MaxNumberOfMessages` of the receive in flight (one poller at a time).
    max_messages: usize,
    seen: HashSet<String>,
    /// Message id of every receipt handle handed out (good messages).
    handles: HashMap<String, String>,
    /// Copies to deliver once their message is deleted, by message id.
    held: HashMap<String, Message>,
    /// The DeleteMessageBatch in flight: entry id → receipt handle.
    deleting: HashMap<String, String>,
    /// Copies to hand out, with the earliest time.
    pocket: Vec<(Instant, Message)>,
    copies_planned: u64,
    copies_delivered: u64,
    /// The highest ApproximateReceiveCount of a good message in the batch
    /// being gathered or handled.
    batch_max_receives: u64,
}

/// What [`Faults`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultCounts {
    pub distinct_messages: usize,
    pub copies_planned: u64,
    pub copies_delivered: u64,
    /// Copies whose message is deleted, not handed out yet.
    pub copies_due: usize,
    /// Copies whose message was never deleted.
    pub copies_held: usize,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Faults")
    }
}

impl Faults {
    pub fn new(probe: Arc<Probe>, percent: u64, seed: u64, poison: &[String]) -> Self {
        Faults(Arc::new(FaultState {
            probe,
            percent,
            poison: poison.iter().cloned().collect(),
            inner: Mutex::new(FaultInner {
                rng: Rng::new(seed ^ 0x5eed_d0b1e),
                max_messages: 10,
                seen: HashSet::new(),
                handles: HashMap::new(),
                held: HashMap::new(),
                deleting: HashMap::new(),
                pocket: Vec::new(),
                copies_planned: 0,
                copies_delivered: 0,
                batch_max_receives: 0,
            }),
        }))
    }

    pub fn counts(&self) -> FaultCounts {
        let i = self.0.inner.lock().unwrap();
        FaultCounts {
            distinct_messages: i.seen.len(),
            copies_planned: i.copies_planned,
            copies_delivered: i.copies_delivered,
            copies_due: i.pocket.len(),
            copies_held: i.held.len(),
        }
    }

    /// Distinct messages received so far.
    pub fn distinct_received(&self) -> usize {
        self.0.inner.lock().unwrap().seen.len()
    }

    /// The most times a good message of the current batch has been received.
    pub fn batch_max_receives(&self) -> u64 {
        self.0.inner.lock().unwrap().batch_max_receives
    }

    fn on_receive(&self, out: &mut ReceiveMessageOutput) {
        let mut i = self.0.inner.lock().unwrap();
        let i = &mut *i;
        let now = Instant::now();
        let messages = out.messages.get_or_insert_with(Vec::new);
        if !messages.is_empty() && self.0.probe.phase() == POLLING {
            i.batch_max_receives = 0; // a new batch
        }
        for m in messages.iter() {
            let id = m.message_id().unwrap_or_default().to_owned();
            let first = i.seen.insert(id.clone());
            if self.0.poison.contains(m.body().unwrap_or_default()) {
                continue;
            }
            let receives = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            i.batch_max_receives = i.batch_max_receives.max(receives);
            i.handles.insert(
                m.receipt_handle().unwrap_or_default().to_owned(),
                id.clone(),
            );
            if first && i.rng.below(100) < self.0.percent {
                i.held.insert(id, m.clone());
                i.copies_planned += 1;
            }
        }
        let mut k = 0;
        while k < i.pocket.len() && messages.len() < i.max_messages {
            if i.pocket[k].0 <= now {
                messages.push(i.pocket.swap_remove(k).1);
                i.copies_delivered += 1;
            } else {
                k += 1;
            }
        }
        if !messages.is_empty() {
            self.0.probe.set(GATHERING);
        }
    }

    /// Deleted messages that were picked for a copy: deliver it 0.5–5 s later.
    fn on_deleted(&self, out: &DeleteMessageBatchOutput) {
        let mut i = self.0.inner.lock().unwrap();
        let i = &mut *i;
        let now = Instant::now();
        for entry in out.successful() {
            let Some(handle) = i.deleting.get(entry.id()) else {
                continue;
            };
            let Some(id) = i.handles.get(handle).cloned() else {
                continue;
            };
            if let Some(copy) = i.held.remove(&id) {
                let delay = Duration::from_millis(500 + i.rng.below(4500));
                i.pocket.push((now + delay, copy));
            }
        }
    }
}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "pulse-reliability-faults"
    }

    /// On a receive: notes the batch's size and, when copies are due, asks
    /// SQS for fewer messages so they fit in the answer (a batch never
    /// grows). On a delete: notes which receipt handles it deletes.
    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        if let Some(input) = input.downcast_mut::<ReceiveMessageInput>() {
            let max = input.max_number_of_messages.unwrap_or(1).clamp(1, 10) as usize;
            let mut i = self.0.inner.lock().unwrap();
            i.max_messages = max;
            let now = Instant::now();
            let due = i.pocket.iter().filter(|(t, _)| *t <= now).count();
            let reserved = due.min(max - 1);
            if reserved > 0 {
                input.max_number_of_messages = Some((max - reserved) as i32);
            }
            // A new receive: the previous batch's deletes are done.
            if self.0.probe.phase() == DELETING {
                self.0.probe.set(POLLING);
            }
        } else if let Some(input) = input.downcast_ref::<DeleteMessageBatchInput>() {
            self.0.inner.lock().unwrap().deleting = input
                .entries()
                .iter()
                .map(|e| (e.id().to_owned(), e.receipt_handle().to_owned()))
                .collect();
        }
        Ok(())
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Ok(output)) = context.output_or_error_mut() {
            if let Some(out) = output.downcast_mut::<ReceiveMessageOutput>() {
                self.on_receive(out);
            } else if let Some(out) = output.downcast_ref::<DeleteMessageBatchOutput>() {
                self.on_deleted(out);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The traffic.

const TYPES: &[&str] = &[
    "page_view",
    "button_clicked",
    "form_submitted",
    "search_performed",
    "item_viewed",
    "cart_updated",
    "user_message",
    "tool_call",
    "tool_response",
    "assistant_response",
    "project_created",
    "Order Completed",
];
use crate::mix::UA;
/// 300 identified users and 100 anonymous visitors: top-users (limit 1000)
/// lists them all.
const USERS: u64 = 300;
const ANONYMOUS: u64 = 100;

/// Client batches of unique events over the last three days.
fn generate(cfg: &Config, rng: &mut Rng, now: i64) -> Vec<Vec<Value>> {
    let span = 3 * DAY_MS - 120_000;
    let mut batches = Vec::new();
    let mut n = 0;
    while n < cfg.events {
        let size = (1 + rng.below(cfg.max_batch as u64) as usize).min(cfg.events - n);
        let batch = (n..n + size)
            .map(|i| {
                let who = rng.below(USERS + ANONYMOUS);
                let ty = TYPES[rng.below(TYPES.len() as u64) as usize];
                let mut e = json!({
                    "event_id": uuid::Uuid::now_v7().to_string(),
                    "type": ty,
                    "timestamp": now - 60_000 - rng.below(span as u64) as i64,
                    "session_id": format!("s-{who}-{}", rng.below(3)),
                    "properties": {"i": i, "value": rng.below(1000)},
                });
                if who < USERS {
                    e["user_id"] = format!("user-{who}").into();
                } else {
                    e["anonymous_id"] = format!("anon-{}", who - USERS).into();
                }
                if rng.below(4) == 0 {
                    let failed = rng.below(5) == 0;
                    e["status"] = (if failed { "failed" } else { "success" }).into();
                    e["duration_ms"] = rng.below(3000).into();
                }
                if rng.below(3) == 0 {
                    e["context"] = json!({"user_agent": UA, "page": {"path": "/app"}});
                }
                e
            })
            .collect();
        batches.push(batch);
        n += size;
    }
    batches
}

/// Bodies no consumer can decode, of several kinds.
fn poison_body(i: usize, run: &str) -> String {
    match i % 4 {
        0 => format!("this is not an envelope ({run} #{i})"),
        1 => json!({"v": 1, "project_id": PROJECT, "events": "not a list", "poison": format!("{run}-{i}")}).to_string(),
        2 => json!({"v": 99, "project_id": PROJECT, "retention_days": 30, "received_at": 0, "events": [], "poison": format!("{run}-{i}")}).to_string(),
        _ => {
            // A real-looking envelope cut in half.
            let full = json!({"v": 1, "project_id": PROJECT, "retention_days": 365, "received_at": now_millis(),
                "events": [{"event_id": format!("poison-{run}-{i}"), "type": "page_view", "category": "page", "timestamp": now_millis(), "user_id": "poison"}]})
            .to_string();
            full[..full.len() / 2].to_owned()
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Post { batch: usize },
    Poison(usize),
}

/// Every batch `1 + retries` times (the first in order, each retry right
/// away or up to 30 batches later) with the poison spread through.
fn jobs(cfg: &Config, batches: usize, rng: &mut Rng) -> Vec<Job> {
    let mut keyed: Vec<(u64, u64, Job)> = Vec::new();
    for b in 0..batches {
        let at = b as u64 * 1000;
        keyed.push((at, 0, Job::Post { batch: b }));
        for r in 0..cfg.retries {
            keyed.push((
                at + 500 + rng.below(31) * 1000,
                1 + r as u64,
                Job::Post { batch: b },
            ));
        }
    }
    for p in 0..cfg.poison {
        keyed.push((rng.below(batches as u64 * 1000), 9, Job::Poison(p)));
    }
    keyed.sort_by_key(|(k, n, _)| (*k, *n));
    keyed.into_iter().map(|(_, _, j)| j).collect()
}

#[derive(Debug, Default)]
struct SendStats {
    posts: AtomicU64,
    /// Messages put on the queue: accepted POSTs (one message each at these
    /// sizes) and poison.
    queued: AtomicU64,
    non_200: AtomicU64,
    bad_answers: Mutex<Vec<String>>,
}

async fn post(http: &reqwest::Client, url: &str, body: &str, n: usize, stats: &SendStats) {
    for attempt in 0..20 {
        stats.posts.fetch_add(1, Ordering::SeqCst);
        let res = http
            .post(url)
            .bearer_auth(WRITE_KEY)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await;
        match res {
            Ok(r) if r.status().as_u16() == 200 => {
                stats.queued.fetch_add(1, Ordering::SeqCst);
                let text = r.text().await.unwrap_or_default();
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if v["accepted"].as_u64() != Some(n as u64)
                    || v["rejected"].as_array().map(Vec::len) != Some(0)
                {
                    stats
                        .bad_answers
                        .lock()
                        .unwrap()
                        .push(format!("{n} events sent, answer {text}"));
                }
                return;
            }
            other => {
                stats.non_200.fetch_add(1, Ordering::SeqCst);
                let why = match other {
                    Ok(r) => format!("HTTP {}", r.status()),
                    Err(e) => e.to_string(),
                };
                if attempt == 19 {
                    stats
                        .bad_answers
                        .lock()
                        .unwrap()
                        .push(format!("never accepted after 20 tries: {why}"));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(4))).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// What the counts must be.

#[derive(Debug, Default)]
struct Expected {
    ids: BTreeSet<String>,
    day_events: BTreeMap<String, u64>,
    day_users: BTreeMap<String, BTreeSet<String>>,
    day_sessions: BTreeMap<String, BTreeSet<String>>,
    day_errors: BTreeMap<String, u64>,
    hour_events: BTreeMap<String, u64>,
    types: BTreeMap<String, u64>,
    users: BTreeMap<String, u64>,
    min_ts: i64,
    max_ts: i64,
}

fn expected(batches: &[Vec<Value>]) -> Expected {
    let mut x = Expected {
        min_ts: i64::MAX,
        max_ts: i64::MIN,
        ..Default::default()
    };
    for e in batches.iter().flatten() {
        x.ids.insert(e["event_id"].as_str().unwrap().to_owned());
        let ts = e["timestamp"].as_i64().unwrap();
        x.min_ts = x.min_ts.min(ts);
        x.max_ts = x.max_ts.max(ts);
        let day = day_of(ts);
        let user = user_key(e["user_id"].as_str(), e["anonymous_id"].as_str());
        *x.day_events.entry(day.clone()).or_default() += 1;
        x.day_users
            .entry(day.clone())
            .or_default()
            .insert(user.clone());
        x.day_sessions
            .entry(day.clone())
            .or_default()
            .insert(e["session_id"].as_str().unwrap().to_owned());
        *x.day_errors.entry(day).or_default() += u64::from(e["status"] == "failed");
        *x.hour_events
            .entry(format_millis(ts - ts.rem_euclid(HOUR_MS)))
            .or_default() += 1;
        *x.types
            .entry(e["type"].as_str().unwrap().to_owned())
            .or_default() += 1;
        *x.users.entry(user).or_default() += 1;
    }
    x
}

// ---------------------------------------------------------------------------
// Checks.

#[derive(Debug, Default)]
pub struct Checks {
    pub passed: usize,
    pub failed: Vec<String>,
}

impl Checks {
    pub fn check(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                println!("PASS {name}");
                self.passed += 1;
            }
            Err(detail) => {
                println!("FAIL {name}: {detail}");
                self.failed.push(format!("{name}: {detail}"));
            }
        }
    }
}

fn equal<T: PartialEq + fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Equal maps, or the first few differences.
fn same_map<V: PartialEq + fmt::Debug + Default>(
    got: &BTreeMap<String, V>,
    want: &BTreeMap<String, V>,
) -> Result<(), String> {
    let zero = V::default();
    let keys: BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter_map(|k| {
            let (g, w) = (got.get(k).unwrap_or(&zero), want.get(k).unwrap_or(&zero));
            (g != w).then(|| format!("{k}: got {g:?}, want {w:?}"))
        })
        .collect();
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} differences, e.g. {}",
            diffs.len(),
            diffs[..diffs.len().min(5)].join("; ")
        ))
    }
}

struct Api<'a> {
    stack: &'a TestStack,
    http: reqwest::Client,
}

impl Api<'_> {
    async fn get(&self, path: &str) -> Result<Value, String> {
        let res = self
            .http
            .get(self.stack.url(path))
            .bearer_auth(READ_KEY)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("GET {path}: HTTP {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("GET {path}: {e}"))
    }
}

fn sum_of(rows: &Value, list: &str, field: &str) -> Result<u64, String> {
    rows[list]
        .as_array()
        .ok_or_else(|| format!("no {list} in {rows}"))
        .map(|a| a.iter().filter_map(|r| r[field].as_u64()).sum())
}

/// The pk prefix of the project's time pages (`TP#demo#`).
fn page_pk_prefix() -> String {
    let pk = page_pk(PROJECT, "h", 0);
    pk[..pk.find("#h#").expect("page keys hold the hour") + 1].to_owned()
}

/// Every item whose pk starts with `prefix`, with `pk` and `attribute`.
async fn scan_prefix(
    stack: &TestStack,
    prefix: &str,
    attribute: &str,
) -> Result<Vec<HashMap<String, AttributeValue>>, String> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = stack
            .clients
            .dynamodb
            .scan()
            .table_name(&stack.stack.provisioned.table)
            .filter_expression("begins_with(pk, :p)")
            .projection_expression("pk, #a")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        items.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// The ids of the stored event items (`EV#demo#{id}`).
async fn stored_event_ids(stack: &TestStack) -> Result<Vec<String>, String> {
    let prefix = event_pk(PROJECT, "");
    scan_prefix(stack, &prefix, "sk")
        .await?
        .iter()
        .map(|item| match item.get("pk").and_then(|v| v.as_s().ok()) {
            Some(pk) => Ok(pk[prefix.len()..].to_owned()),
            None => Err("an event item without a string pk".to_owned()),
        })
        .collect()
}

/// The ids among `ids` whose event item exists (BatchGetItem, 100 keys a call).
async fn fetch_stored(stack: &TestStack, ids: &BTreeSet<String>) -> Result<Vec<String>, String> {
    let table = &stack.stack.provisioned.table;
    let ids: Vec<&String> = ids.iter().collect();
    let mut found = Vec::new();
    for chunk in ids.chunks(100) {
        let mut keys: Vec<HashMap<String, AttributeValue>> = chunk
            .iter()
            .map(|id| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(event_pk(PROJECT, id))),
                    ("sk".to_owned(), AttributeValue::S(EVENT_SK.to_owned())),
                ])
            })
            .collect();
        for _attempt in 0..10 {
            if keys.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .projection_expression("pk")
                .build()
                .map_err(|e| e.to_string())?;
            let out = stack
                .clients
                .dynamodb
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
            let prefix = event_pk(PROJECT, "");
            for item in out
                .responses()
                .and_then(|r| r.get(table))
                .into_iter()
                .flatten()
            {
                if let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) {
                    found.push(pk[prefix.len()..].to_owned());
                }
            }
            keys = out
                .unprocessed_keys()
                .and_then(|u| u.get(table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
        }
    }
    Ok(found)
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<(u64, u64), String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    let get = |k: QueueAttributeName| -> u64 {
        out.attributes()
            .and_then(|a| a.get(&k))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

/// Time spent per group of checks.
struct Laps {
    last: Instant,
    laps: Vec<String>,
}

impl Laps {
    fn new() -> Self {
        Laps {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }
    fn mark(&mut self, what: &str) {
        self.laps
            .push(format!("{what} {:.1} s", self.last.elapsed().as_secs_f64()));
        self.last = Instant::now();
    }
    fn report(&self) -> String {
        self.laps.join(", ")
    }
}

// ---------------------------------------------------------------------------
// The run.

/// What a run measured, besides the checks.
#[derive(Debug)]
pub struct Outcome {
    pub checks: Checks,
    pub seconds: f64,
}

pub async fn run(cfg: Config) -> Outcome {
    let started = Instant::now();
    println!("reliability: {cfg:?}");
    let stack = TestStack::start("rel").await;
    let mut rng = Rng::new(cfg.seed);
    let run_id = format!("{:x}", cfg.seed);
    let now = now_millis();
    let batches = Arc::new(generate(&cfg, &mut rng, now));
    let want = expected(&batches);
    let jobs = Arc::new(jobs(&cfg, batches.len(), &mut rng));
    let poison: Vec<String> = (0..cfg.poison).map(|i| poison_body(i, &run_id)).collect();
    let poison = Arc::new(poison);

    // The consumer: the gateway's event source on an SQS client with the
    // duplicate-delivery interceptor, over the real store.
    let probe = Arc::new(Probe::default());
    let faults = Faults::new(probe.clone(), cfg.duplicate_percent, cfg.seed, &poison);
    let sqs = aws_sdk_sqs::Client::from_conf(
        stack
            .clients
            .sqs
            .config()
            .to_builder()
            .interceptor(faults.clone())
            .build(),
    );
    let spec = pulse_adapters::provision::event_source_spec();
    let (batch_size, window_secs) = (spec.batch_size as usize, spec.batching_window_secs);
    let table = stack.stack.provisioned.table.clone();
    let queue_url = stack.stack.provisioned.queue_url.clone();
    let start_consumer = {
        let (probe, sqs, dynamodb) = (probe.clone(), sqs.clone(), stack.clients.dynamodb.clone());
        let (table, queue_url, vt) = (table.clone(), queue_url.clone(), cfg.visibility_timeout);
        move || {
            probe.set(POLLING);
            // As `ConsumerHandler::new` wires it, with the event store observed.
            let config = ConsumerConfig::new(table.clone());
            let handler = ConsumerHandler::from_stores(
                Arc::new(ObservedStore {
                    inner: DynamoStore::new(dynamodb.clone(), &table),
                    probe: probe.clone(),
                }),
                Some(Arc::new(DynamoLive::new(dynamodb.clone(), &table))),
                config.monitor_cache,
            );
            let source = EventSourceMapping {
                sqs: sqs.clone(),
                queue_url: queue_url.clone(),
                batch_size,
                batching_window: Duration::from_secs(window_secs.into()),
                visibility_timeout: Some(vt),
                // Shorter long polls than Lambda's 20 s, so the end of the
                // run is noticed sooner; batches gather the same way.
                wait_seconds: 2,
                handler: Arc::new(handler),
            };
            tokio::spawn(source.run())
        }
    };
    let consumer = Arc::new(Mutex::new(start_consumer()));

    // The killer: the k-th kill once about k/(kills+1) of the events are
    // written, plus a random delay.
    let kills_done = Arc::new(Mutex::new(Vec::<&'static str>::new()));
    let killer = {
        let (probe, consumer, kills_done) = (probe.clone(), consumer.clone(), kills_done.clone());
        let faults = faults.clone();
        let unique = want.ids.len() as f64;
        let mut krng = Rng::new(cfg.seed ^ 0x4b11);
        let kills = cfg.kills;
        let start_consumer = start_consumer.clone();
        tokio::spawn(async move {
            for k in 0..kills {
                let frac =
                    (k as f64 + 0.2 + krng.below(600) as f64 / 1000.0) / (kills as f64 + 1.0);
                let threshold = (unique * frac) as u64;
                while Probe::get(&probe.written) < threshold {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                tokio::time::sleep(Duration::from_millis(krng.below(1500))).await;
                // Not a batch whose good messages were already received 3
                // times: two more kills would send them to the DLQ after 5
                // receives, which is SQS doing its job, not what this checks.
                while faults.batch_max_receives() >= MAX_RECEIVES_TO_KILL {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let phase = PHASES[usize::from(probe.phase()).min(PHASES.len() - 1)];
                let old = {
                    let mut c = consumer.lock().unwrap();
                    c.abort();
                    std::mem::replace(&mut *c, tokio::spawn(async {}))
                };
                let _ = old.await; // dead before the next one starts
                *consumer.lock().unwrap() = start_consumer();
                kills_done.lock().unwrap().push(phase);
            }
        })
    };

    // A line every 30 s while it runs.
    let stats = Arc::new(SendStats::default());
    let progress = {
        let (probe, stats, faults, kills_done) = (
            probe.clone(),
            stats.clone(),
            faults.clone(),
            kills_done.clone(),
        );
        let sqs = stack.clients.sqs.clone();
        let queues = (
            queue_url.clone(),
            stack.stack.provisioned.dead_letter_queue_url.clone(),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let depth = queue_depth(&sqs, &queues.0).await.unwrap_or_default();
                let dlq = queue_depth(&sqs, &queues.1).await.unwrap_or_default();
                println!(
                    "… {:.0} s: {} POSTs, {} events written ({} put / {} commit errors), queue {} visible / {} in flight, DLQ {}, {} copies delivered, {} kills",
                    started.elapsed().as_secs_f64(),
                    Probe::get(&stats.posts),
                    Probe::get(&probe.written),
                    Probe::get(&probe.put_errors),
                    Probe::get(&probe.commit_errors),
                    depth.0,
                    depth.1,
                    dlq.0 + dlq.1,
                    faults.counts().copies_delivered,
                    kills_done.lock().unwrap().len()
                );
            }
        })
    };

    // The clients.
    let send_started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..cfg.senders {
        let (jobs, batches, poison, stats, next) = (
            jobs.clone(),
            batches.clone(),
            poison.clone(),
            stats.clone(),
            next.clone(),
        );
        let url = stack.url("/v1/events");
        let faults = faults.clone();
        let sqs = stack.clients.sqs.clone();
        let queue_url = queue_url.clone();
        senders.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                // Back-pressure: at most MAX_BACKLOG messages not yet received.
                while Probe::get(&stats.queued) > faults.distinct_received() as u64 + MAX_BACKLOG {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(job) = jobs.get(i) else { break };
                match *job {
                    Job::Post { batch } => {
                        let body = json!({"events": batches[batch]}).to_string();
                        post(&http, &url, &body, batches[batch].len(), &stats).await;
                    }
                    Job::Poison(p) => {
                        if let Err(e) = sqs
                            .send_message()
                            .queue_url(&queue_url)
                            .message_body(&poison[p])
                            .send()
                            .await
                            .inspect(|_| {
                                stats.queued.fetch_add(1, Ordering::SeqCst);
                            })
                        {
                            stats.bad_answers.lock().unwrap().push(format!(
                                "poison {p} not sent: {}",
                                aws_sdk_sqs::error::DisplayErrorContext(e)
                            ));
                        }
                    }
                }
            }
        }));
    }
    for s in senders {
        s.await.expect("a sender panicked");
    }
    let send_secs = send_started.elapsed().as_secs_f64();
    println!(
        "sent {} unique events in {} client batches: {} POSTs ({} answered non-200 and were sent again) and {} poison messages in {send_secs:.1} s",
        want.ids.len(),
        batches.len(),
        Probe::get(&stats.posts),
        Probe::get(&stats.non_200),
        cfg.poison
    );

    // Wait for everything to be consumed: kills done, no copy waiting, the
    // queue empty (poison moved to the DLQ).
    let deadline = started + cfg.timeout;
    let mut drained = false;
    while Instant::now() < deadline {
        let waiting = faults.counts().copies_due;
        // GetQueueAttributes walks the queue in moto: only when it may be done.
        if killer.is_finished() && waiting == 0 {
            let depth = queue_depth(&stack.clients.sqs, &queue_url).await;
            if depth == Ok((0, 0)) {
                drained = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    killer.abort();
    progress.abort();
    consumer.lock().unwrap().abort();
    let consume_secs = started.elapsed().as_secs_f64() - send_secs;
    let fc = faults.counts();
    let (planned, delivered, waiting, held) = (
        fc.copies_planned,
        fc.copies_delivered,
        fc.copies_due,
        fc.copies_held,
    );
    // Poison is never deleted, so never copied: the share is of good messages.
    let distinct = fc.distinct_messages.saturating_sub(cfg.poison);
    let kills = kills_done.lock().unwrap().clone();
    let mut by_phase: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &kills {
        *by_phase.entry(p).or_default() += 1;
    }
    println!(
        "consumed in {consume_secs:.1} s more ({:.1} s in all): {} batches; event puts: {} written, {} rewritten by their own message after a kill, {} duplicates refused, {} errors; rollup deltas: {} applied, {} already applied (redeliveries), {} errors",
        started.elapsed().as_secs_f64(),
        Probe::get(&probe.batches),
        Probe::get(&probe.written),
        Probe::get(&probe.rewritten_own),
        Probe::get(&probe.duplicate_puts),
        Probe::get(&probe.put_errors),
        Probe::get(&probe.deltas_applied),
        Probe::get(&probe.deltas_already_applied),
        Probe::get(&probe.commit_errors),
    );
    println!(
        "faults: {distinct} distinct good SQS messages, {delivered} delivered a second time after their deletion ({:.1} %; {planned} planned, {waiting} due but not delivered, {held} whose message was never deleted); {} consumer kills ({by_phase:?}); {} poison messages",
        100.0 * delivered as f64 / distinct.max(1) as f64,
        kills.len(),
        cfg.poison
    );

    // The checks.
    let checks_started = Instant::now();
    let mut lap = Laps::new();
    let mut c = Checks::default();
    let unique = want.ids.len() as u64;
    c.check(
        "the queue drained within the time limit",
        if drained {
            Ok(())
        } else {
            Err(format!("still not drained after {:?}", cfg.timeout))
        },
    );
    c.check(
        "every POST was accepted in full",
        match stats.bad_answers.lock().unwrap().as_slice() {
            [] => Ok(()),
            bad => Err(format!(
                "{} bad answers, e.g. {}",
                bad.len(),
                bad[..bad.len().min(3)].join(" | ")
            )),
        },
    );
    c.check(
        "faults injected: every batch sent 1 + retries times",
        equal(
            "POSTs",
            Probe::get(&stats.posts) - Probe::get(&stats.non_200),
            (batches.len() * (1 + cfg.retries)) as u64,
        ),
    );
    c.check(
        "faults injected: SQS duplicate deliveries",
        if cfg.duplicate_percent == 0
            || (delivered > 0
                && (delivered as f64 / distinct.max(1) as f64 * 100.0
                    - cfg.duplicate_percent as f64)
                    .abs()
                    < 10.0)
        {
            Ok(())
        } else {
            Err(format!(
                "{delivered} of {distinct} messages delivered twice, want about {} %",
                cfg.duplicate_percent
            ))
        },
    );
    c.check(
        "faults injected: consumer kills",
        equal("kills", kills.len(), cfg.kills),
    );

    // Small tables are scanned: exactly the unique events and nothing else.
    // moto's Scan sorts the whole table for every 1 MB page, hopeless at
    // 100,000 events: there every unique event is fetched by key instead
    // (nothing extra can be seen that way; the index and rollups below
    // would count an extra event).
    let scanned = want.ids.len() <= cfg.scan_limit;
    let stored = if scanned {
        stored_event_ids(&stack).await
    } else {
        fetch_stored(&stack, &want.ids).await
    };
    match stored {
        Ok(ids) => {
            let n = ids.len();
            let set: BTreeSet<String> = ids.into_iter().collect();
            c.check(
                if scanned {
                    "events stored == unique events sent (table scan)"
                } else {
                    "events stored == unique events sent (each fetched by key)"
                },
                equal("stored events", n as u64, unique).and_then(|_| {
                    if set == want.ids {
                        Ok(())
                    } else {
                        Err(format!(
                            "{} sent but not stored, {} stored but not sent",
                            want.ids.difference(&set).count(),
                            set.difference(&want.ids).count()
                        ))
                    }
                }),
            );
        }
        Err(e) => c.check("events stored == unique events sent", Err(e)),
    }

    lap.mark("stored events");
    // The project-wide time index (pages of refs by hour) holds every event
    // once: one scan of the pages when the table is small, else the reader
    // the query API uses, hour by hour and shard by shard.
    let pages = if scanned {
        scan_prefix(&stack, &page_pk_prefix(), "refs")
            .await
            .and_then(|items| {
                let mut refs = Vec::new();
                for item in items {
                    let json = item
                        .get("refs")
                        .and_then(|v| v.as_s().ok())
                        .ok_or("a page without refs")?;
                    let page: Vec<PageRef> =
                        serde_json::from_str(json).map_err(|e| format!("a bad page: {e}"))?;
                    refs.extend(page);
                }
                Ok(refs)
            })
    } else {
        let reader = DynamoReader::new(stack.clients.dynamodb.clone(), &table);
        let mut refs = Vec::new();
        let mut t = want.min_ts - want.min_ts.rem_euclid(HOUR_MS);
        let mut failed = None;
        while t <= want.max_ts && failed.is_none() {
            match reader.hour_refs(PROJECT, &hour_of(t)).await {
                Ok(r) => refs.extend(r),
                Err(e) => failed = Some(e.to_string()),
            }
            t += HOUR_MS;
        }
        failed.map_or(Ok(refs), Err)
    };
    let (indexed, index_error): (Vec<String>, Option<String>) = match pages {
        Ok(refs) => (refs.into_iter().map(|r| r.id).collect(), None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let n_indexed = indexed.len();
    let indexed: BTreeSet<String> = indexed.into_iter().collect();
    c.check(
        "time index holds every event once",
        match index_error {
            Some(e) => Err(e),
            None => equal("refs", n_indexed as u64, unique)
                .and_then(|_| equal("the set of ids", indexed == want.ids, true)),
        },
    );

    lap.mark("time index");
    let api = Api {
        stack: &stack,
        http: reqwest::Client::new(),
    };
    let (d0, d1) = (day_of(want.min_ts), day_of(want.max_ts));
    let range = format!("from={d0}&to={d1}");

    match api.get(&format!("/v1/analytics/summary?{range}")).await {
        Ok(s) => {
            c.check(
                "summary total_events == unique events",
                equal("total_events", s["total_events"].as_u64(), Some(unique)),
            );
            let all_users: BTreeSet<&String> = want.users.keys().collect();
            c.check(
                "summary unique_users == computed",
                equal(
                    "unique_users",
                    s["unique_users"].as_u64(),
                    Some(all_users.len() as u64),
                ),
            );
            let by_type: BTreeMap<String, u64> = s["events_by_type"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default();
            c.check(
                "summary events_by_type == computed",
                same_map(&by_type, &want.types),
            );
        }
        Err(e) => c.check("summary", Err(e)),
    }

    lap.mark("summary");
    match api.get(&format!("/v1/analytics/daily?{range}")).await {
        Ok(d) => {
            let rows = d["days"].as_array().cloned().unwrap_or_default();
            let col = |f: &str| -> BTreeMap<String, u64> {
                rows.iter()
                    .map(|r| {
                        (
                            r["date"].as_str().unwrap_or_default().to_owned(),
                            r[f].as_u64().unwrap_or(0),
                        )
                    })
                    .filter(|(_, n)| *n > 0)
                    .collect()
            };
            c.check(
                "daily events sum == unique events",
                equal("sum", sum_of(&d, "days", "events"), Ok(unique)),
            );
            c.check(
                "daily events per day == computed",
                same_map(&col("events"), &want.day_events),
            );
            let dau: BTreeMap<String, u64> = want
                .day_users
                .iter()
                .map(|(d, u)| (d.clone(), u.len() as u64))
                .collect();
            c.check(
                "DAU (daily active_users) exact == computed",
                same_map(&col("active_users"), &dau),
            );
            let sessions: BTreeMap<String, u64> = want
                .day_sessions
                .iter()
                .map(|(d, s)| (d.clone(), s.len() as u64))
                .collect();
            c.check(
                "daily sessions == computed",
                same_map(&col("sessions"), &sessions),
            );
            let errors: BTreeMap<String, u64> = want
                .day_errors
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(d, n)| (d.clone(), *n))
                .collect();
            c.check(
                "daily errors == computed",
                same_map(&col("errors"), &errors),
            );
        }
        Err(e) => c.check("daily", Err(e)),
    }

    lap.mark("daily");
    match api
        .get(&format!("/v1/analytics/top-users?{range}&limit=1000"))
        .await
    {
        Ok(t) => {
            let users: BTreeMap<String, u64> = t["users"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|u| {
                            let key = match (u["user_id"].as_str(), u["anonymous_id"].as_str()) {
                                (Some(id), _) => format!("u:{id}"),
                                (None, Some(a)) => format!("a:{a}"),
                                _ => "?".into(),
                            };
                            (key, u["events"].as_u64().unwrap_or(0))
                        })
                        .collect()
                })
                .unwrap_or_default();
            c.check(
                "top-users sum == unique events",
                equal("sum", sum_of(&t, "users", "events"), Ok(unique)),
            );
            c.check(
                "top-users per user == computed",
                same_map(&users, &want.users),
            );
        }
        Err(e) => c.check("top-users", Err(e)),
    }

    lap.mark("top-users");
    for interval in ["hour", "day"] {
        match api
            .get(&format!(
                "/v1/analytics/timeseries?interval={interval}&{range}"
            ))
            .await
        {
            Ok(ts) => {
                c.check(
                    &format!("timeseries ({interval}) sum == unique events"),
                    equal("sum", sum_of(&ts, "points", "events"), Ok(unique)),
                );
                if interval == "hour" {
                    let points: BTreeMap<String, u64> = ts["points"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|p| {
                                    (
                                        p["t"].as_str().unwrap_or_default().to_owned(),
                                        p["events"].as_u64().unwrap_or(0),
                                    )
                                })
                                .filter(|(_, n)| *n > 0)
                                .collect()
                        })
                        .unwrap_or_default();
                    c.check(
                        "timeseries (hour) per hour == computed",
                        same_map(&points, &want.hour_events),
                    );
                }
            }
            Err(e) => c.check(&format!("timeseries ({interval})"), Err(e)),
        }
    }

    lap.mark("timeseries");
    // A sample of events read back one by one through the API.
    let sample: Vec<&String> = want
        .ids
        .iter()
        .step_by((want.ids.len() / 25).max(1))
        .collect();
    let mut missing = Vec::new();
    for id in &sample {
        match api.get(&format!("/v1/events/{id}")).await {
            Ok(e) if e["event_id"] == id.as_str() => {}
            Ok(e) => missing.push(format!("{id}: {e}")),
            Err(e) => missing.push(e),
        }
    }
    c.check(
        &format!("GET /v1/events/{{id}} finds a sample of {}", sample.len()),
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join(" | "))
        },
    );

    lap.mark("event sample");
    // Only the poison reached the DLQ, and the main queue is empty.
    let mut dlq = drain(
        &stack.clients.sqs,
        &stack.stack.provisioned.dead_letter_queue_url,
    )
    .await;
    dlq.sort();
    let mut want_dlq: Vec<String> = poison.to_vec();
    want_dlq.sort();
    c.check(
        "the DLQ holds exactly the poison messages",
        if dlq == want_dlq {
            Ok(())
        } else {
            let got: HashMap<&str, usize> = dlq.iter().fold(HashMap::new(), |mut m, b| {
                *m.entry(b.as_str()).or_default() += 1;
                m
            });
            let extra: Vec<&&str> = got
                .keys()
                .filter(|b| !poison.iter().any(|p| p == **b))
                .collect();
            Err(format!(
                "{} messages in the DLQ, {} poison sent; not poison: {}; poison missing: {}",
                dlq.len(),
                want_dlq.len(),
                extra.len(),
                want_dlq
                    .iter()
                    .filter(|p| !got.contains_key(p.as_str()))
                    .count()
            ))
        },
    );
    let left = drain(&stack.clients.sqs, &queue_url).await;
    c.check(
        "the event queue is empty",
        equal("messages left", left.len(), 0),
    );

    lap.mark("queues");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "checks took {:.1} s ({}); the whole run {seconds:.1} s",
        checks_started.elapsed().as_secs_f64(),
        lap.report()
    );
    println!("{} passed, {} failed", c.passed, c.failed.len());
    Outcome { checks: c, seconds }
}
