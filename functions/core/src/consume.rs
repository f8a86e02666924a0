//! The consumer use case: queue messages (envelopes) → stored events, time
//! pages and rollups, exactly once.
//!
//! Why exactly once:
//! 1. An event item is keyed by (project, event_id) and put only if absent.
//!    The put records the message that wrote it (`owner`). A message *owns*
//!    the events it wrote, including those it wrote in an earlier attempt that
//!    crashed (the failed put returns the old item: same owner). Events owned
//!    by another message are duplicates (a client retry, a re-sent batch) and
//!    this message neither pages nor counts them.
//! 2. A message's rollup delta is computed only from the events it owns, so
//!    every attempt computes the same delta.
//! 3. The store applies a delta in one transaction together with a marker
//!    item for the message, put only if absent. A redelivered message whose
//!    marker exists is already counted and its transaction is skipped.
//!    Daily active users and sessions are memberships written in the same
//!    transaction, created only if absent, so each counts once.
//! 4. Time pages are keyed by the message and rewritten identically.

use crate::envelope::{self, Envelope};
use crate::event::Event;
use crate::keys::{self, user_key};
use crate::live::{self, DebugRecord, LiveStore, MonitorCache};
use crate::rollup::MessageDelta;
use crate::time::{hour_of, DAY_MS};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// One SQS message as the consumer sees it.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub message_id: String,
    pub body: String,
}

/// An event ready to be written.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub project_id: Arc<str>,
    pub event_id: String,
    pub user_key: String,
    pub timestamp: i64,
    pub received_at: i64,
    /// Epoch seconds: DynamoDB TTL.
    pub expires_at: i64,
    /// The message that writes it.
    pub owner: Arc<str>,
    /// The normalized event as JSON (with `received_at`).
    pub json: String,
    pub event_type: String,
    pub category: String,
    pub status: Option<&'static str>,
    pub session_id: Option<String>,
    pub conversation_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written now.
    Written,
    /// Already written by this same message in an earlier attempt.
    AlreadyOurs,
    /// Written by another message: a duplicate delivery of the event.
    Duplicate,
}

impl PutOutcome {
    pub fn owned(self) -> bool {
        !matches!(self, PutOutcome::Duplicate)
    }
}

/// A page of the project-wide time index: the events one message owns in
/// one hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimePage {
    #[serde(skip)]
    pub pk: String,
    #[serde(skip)]
    pub sk: String,
    #[serde(skip)]
    pub expires_at: i64,
    #[serde(skip)]
    pub retention_days: u32,
    pub refs: Vec<PageRef>,
}

/// One event in a time page: enough to sort, filter by the common fields
/// and fetch the event.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PageRef {
    pub ts: i64,
    pub id: String,
    pub t: String,
    pub c: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub s: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Applied,
    /// The marker was there: an earlier attempt already applied it.
    AlreadyApplied,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("store error: {0}")]
pub struct StoreError(pub String);

/// Where events and rollups go. The DynamoDB adapter implements it.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Puts each event only if absent; one outcome per record, in order.
    async fn put_events(&self, records: &[EventRecord]) -> Vec<Result<PutOutcome, StoreError>>;
    /// Writes time pages (idempotent: same key, same content).
    async fn put_pages(&self, pages: &[TimePage]) -> Result<(), StoreError>;
    /// Applies each delta exactly once (see the module docs); one outcome
    /// per delta, in order.
    async fn commit(&self, deltas: &[MessageDelta]) -> Vec<Result<CommitOutcome, StoreError>>;
}

/// What happened to a batch, for the SQS partial-batch response and metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// Message ids to report in `batchItemFailures`.
    pub failed: Vec<String>,
    pub messages: usize,
    pub events_stored: usize,
    pub duplicates: usize,
    pub already_applied: usize,
    pub poison: usize,
    /// Monitored users' events copied to their debug partition.
    pub debug_recorded: usize,
    /// Live index or debug writes that failed (best effort).
    pub live_failures: usize,
}

/// Largest page in bytes of refs JSON (≈ 100 B per ref).
const MAX_PAGE_BYTES: usize = 48 * 1024;

pub struct Consumer {
    store: Arc<dyn EventStore>,
    /// The live index and monitored users' debug records, when wired.
    live: Option<MonitorCache>,
}

struct Decoded<'a> {
    message: &'a QueueMessage,
    envelope: Envelope<'a>,
    /// Each event's JSON as it is in the body (stored as is).
    raw: Vec<&'a str>,
}

impl Consumer {
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self { store, live: None }
    }

    /// Also writes the live index and monitored users' events; monitors are
    /// re-read at most once per `monitor_ttl`.
    pub fn with_live(mut self, live: Arc<dyn LiveStore>, monitor_ttl: Duration) -> Self {
        self.live = Some(MonitorCache::new(live, monitor_ttl));
        self
    }

    /// Processes a batch. Never fails as a whole: every problem is a failed
    /// message id in the report, so one poison message never fails its
    /// neighbours.
    pub async fn process(&self, messages: &[QueueMessage]) -> BatchReport {
        let mut report = BatchReport {
            messages: messages.len(),
            ..Default::default()
        };
        let mut decoded = Vec::new();
        for m in messages {
            match envelope::decode_with_raw(&m.body) {
                Ok((envelope, raw)) => decoded.push(Decoded {
                    message: m,
                    envelope,
                    raw,
                }),
                Err(e) => {
                    tracing::error!(message_id = %m.message_id, error = %e, "poison message: cannot decode");
                    report.poison += 1;
                    report.failed.push(m.message_id.clone());
                }
            }
        }

        // Events of the whole batch in one go, so the store can write them
        // concurrently; each message keeps the span of its records.
        let mut records: Vec<EventRecord> = Vec::new();
        let mut spans: Vec<(std::ops::Range<usize>, Vec<usize>)> =
            Vec::with_capacity(decoded.len());
        for d in &decoded {
            let start = records.len();
            let indexes = push_records(&mut records, d.message, &d.envelope, &d.raw);
            spans.push((start..records.len(), indexes));
        }
        let outcomes = self.store.put_events(&records).await;

        let now = crate::time::now_millis();
        let mut monitors = HashMap::new();
        if let Some(cache) = &self.live {
            for d in &decoded {
                let project = d.envelope.project_id.as_ref();
                if !monitors.contains_key(project) {
                    monitors.insert(project.to_owned(), cache.monitors(project, now).await);
                }
            }
        }
        let mut debug: Vec<DebugRecord> = Vec::new();
        let mut deltas = Vec::new();
        let mut delta_owner = Vec::new();
        let mut delta_ids: Vec<Vec<String>> = Vec::new();
        for (d, (span, indexes)) in decoded.iter().zip(spans) {
            let mut owned = Vec::new();
            let mut failed = None;
            for (r, i) in span.zip(indexes) {
                let event = &d.envelope.events[i];
                match outcomes
                    .get(r)
                    .cloned()
                    .unwrap_or_else(|| Err(StoreError("missing outcome".into())))
                {
                    Ok(PutOutcome::Duplicate) => report.duplicates += 1,
                    Ok(_) => owned.push((&records[r], event)),
                    Err(e) => failed = Some(e),
                }
            }
            if let Some(e) = failed {
                tracing::warn!(message_id = %d.message.message_id, error = %e, "event writes failed; message will be retried");
                report.failed.push(d.message.message_id.clone());
                continue;
            }
            let pages = pages_of(&d.message.message_id, d.envelope.retention_days, &owned);
            if let Err(e) = self.store.put_pages(&pages).await {
                tracing::warn!(message_id = %d.message.message_id, error = %e, "time pages failed; message will be retried");
                report.failed.push(d.message.message_id.clone());
                continue;
            }
            report.events_stored += owned.len();
            if let Some(list) = monitors.get(d.envelope.project_id.as_ref()) {
                for (rec, event) in &owned {
                    if let Some(m) = live::monitor_for(
                        list,
                        event.user_id.as_deref(),
                        event.anonymous_id.as_deref(),
                        now,
                    ) {
                        debug.push(DebugRecord {
                            project_id: rec.project_id.to_string(),
                            user_id: m.user_id.clone(),
                            received_at: rec.received_at,
                            event_id: rec.event_id.clone(),
                            json: rec.json.clone(),
                            expires_at: m.until_ms / 1000,
                        });
                    }
                }
            }
            let mut delta = MessageDelta::new(
                d.message.message_id.clone(),
                d.envelope.project_id.to_string(),
                d.envelope.retention_days,
            );
            for (rec, event) in &owned {
                delta.add(event, &rec.user_key);
            }
            if owned.is_empty() {
                continue; // nothing of its own to count (all duplicates)
            }
            deltas.push(delta);
            delta_owner.push(d.message.message_id.clone());
            if self.live.is_some() {
                delta_ids.push(owned.iter().map(|(r, _)| r.event_id.clone()).collect());
            }
        }

        let mut live_entries = Vec::new();
        let written_ms = crate::time::now_millis();
        let results = self.store.commit(&deltas).await;
        for (i, (result, id)) in results.into_iter().zip(delta_owner).enumerate() {
            match result {
                Ok(CommitOutcome::Applied) => {
                    // Only the attempt that applied the rollups lists the
                    // events live, so a redelivery never shows them twice.
                    if let Some(ids) = delta_ids.get(i) {
                        live_entries.extend(live::live_entries_of(
                            &deltas[i].project_id,
                            &id,
                            written_ms,
                            ids,
                        ));
                    }
                }
                Ok(CommitOutcome::AlreadyApplied) => report.already_applied += 1,
                Err(e) => {
                    tracing::warn!(message_id = %id, error = %e, "rollup commit failed; message will be retried");
                    report.failed.push(id);
                }
            }
        }
        if let Some(cache) = &self.live {
            self.write_live(cache.store().as_ref(), &live_entries, &debug, &mut report)
                .await;
        }
        report
    }

    /// Best effort: the events and rollups are already safe, so a failure
    /// here is logged and counted, never a failed message.
    async fn write_live(
        &self,
        store: &dyn LiveStore,
        entries: &[live::LiveEntry],
        debug: &[DebugRecord],
        report: &mut BatchReport,
    ) {
        if !entries.is_empty() {
            if let Err(e) = store.put_live(entries).await {
                tracing::warn!(error = %e, "live index write failed");
                report.live_failures += 1;
            }
        }
        if !debug.is_empty() {
            match store.put_debug(debug).await {
                Ok(()) => report.debug_recorded += debug.len(),
                Err(e) => {
                    tracing::warn!(error = %e, "monitored events write failed");
                    report.live_failures += 1;
                }
            }
        }
    }
}

/// Appends records for a message's events and returns each one's index in
/// the envelope. An id repeated inside one message is kept once: its second
/// put would look like this message's own earlier attempt and count twice.
fn push_records(
    out: &mut Vec<EventRecord>,
    message: &QueueMessage,
    env: &Envelope<'_>,
    raw: &[&str],
) -> Vec<usize> {
    let mut seen = std::collections::HashSet::with_capacity(env.events.len());
    let mut indexes = Vec::with_capacity(env.events.len());
    let project_id: Arc<str> = Arc::from(env.project_id.as_ref());
    let owner: Arc<str> = Arc::from(message.message_id.as_str());
    for (i, e) in env.events.iter().enumerate() {
        if !seen.insert(e.event_id.as_ref()) {
            continue;
        }
        let expires_ms = e
            .timestamp
            .saturating_add(i64::from(env.retention_days) * DAY_MS);
        out.push(EventRecord {
            project_id: project_id.clone(),
            event_id: e.event_id.to_string(),
            user_key: user_key(e.user_id.as_deref(), e.anonymous_id.as_deref()),
            timestamp: e.timestamp,
            received_at: env.received_at,
            expires_at: expires_ms / 1000,
            owner: owner.clone(),
            json: stored_json(raw[i], env.received_at),
            event_type: e.event_type.to_string(),
            category: e.category.to_string(),
            status: e.status.map(|s| s.as_str()),
            session_id: e.session_id.as_deref().map(str::to_owned),
            conversation_id: e.conversation_id.as_deref().map(str::to_owned),
            entity_type: e.entity_type.as_deref().map(str::to_owned),
            entity_id: e.entity_id.as_deref().map(str::to_owned),
        });
        indexes.push(i);
    }
    indexes
}

/// The event as stored: its JSON from the envelope plus `received_at`.
fn stored_json(raw_event: &str, received_at: i64) -> String {
    use std::fmt::Write;
    let body = raw_event.strip_suffix('}').unwrap_or(raw_event);
    let mut json = String::with_capacity(body.len() + 32);
    json.push_str(body);
    let _ = write!(json, ",\"received_at\":{received_at}}}");
    json
}

/// Pages per (hour, shard) of the message's owned events, split by size.
/// Deterministic for a given message, so a retry rewrites the same pages.
fn pages_of(
    message_id: &str,
    retention_days: u32,
    owned: &[(&EventRecord, &Event<'_>)],
) -> Vec<TimePage> {
    let mut by_hour: BTreeMap<(Arc<str>, String), Vec<&EventRecord>> = BTreeMap::new();
    for (rec, _) in owned {
        by_hour
            .entry((rec.project_id.clone(), hour_of(rec.timestamp)))
            .or_default()
            .push(rec);
    }
    let shard = keys::shard_of(message_id, keys::PAGE_SHARDS);
    let mut pages = Vec::new();
    for ((project, hour), recs) in by_hour {
        let mut part = 0;
        let mut page = TimePage {
            pk: keys::page_pk(&project, &hour, shard),
            sk: String::new(),
            expires_at: 0,
            retention_days,
            refs: vec![],
        };
        let mut bytes = 0;
        for rec in recs {
            let r = PageRef {
                ts: rec.timestamp,
                id: rec.event_id.clone(),
                t: rec.event_type.clone(),
                c: rec.category.clone(),
                s: rec.status.map(str::to_owned),
            };
            let size = 40 + r.id.len() + r.t.len() + r.c.len();
            if bytes + size > MAX_PAGE_BYTES && !page.refs.is_empty() {
                page.sk = format!("{message_id}#{part}");
                pages.push(page.clone());
                part += 1;
                page.refs.clear();
                page.expires_at = 0;
                bytes = 0;
            }
            bytes += size;
            page.expires_at = page.expires_at.max(rec.expires_at);
            page.refs.push(r);
        }
        page.sk = format!("{message_id}#{part}");
        pages.push(page);
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An in-memory store with the same semantics as the DynamoDB one.
    #[derive(Default)]
    struct MemoryStore {
        events: Mutex<HashMap<String, String>>,
        pages: Mutex<HashMap<(String, String), usize>>,
        markers: Mutex<Vec<String>>,
        totals: Mutex<u64>,
    }

    #[async_trait]
    impl EventStore for MemoryStore {
        async fn put_events(&self, records: &[EventRecord]) -> Vec<Result<PutOutcome, StoreError>> {
            let mut events = self.events.lock().unwrap();
            records
                .iter()
                .map(|r| {
                    let key = format!("{}#{}", r.project_id, r.event_id);
                    Ok(match events.get(&key) {
                        None => {
                            events.insert(key, r.owner.to_string());
                            PutOutcome::Written
                        }
                        Some(owner) if **owner == *r.owner => PutOutcome::AlreadyOurs,
                        Some(_) => PutOutcome::Duplicate,
                    })
                })
                .collect()
        }
        async fn put_pages(&self, pages: &[TimePage]) -> Result<(), StoreError> {
            let mut p = self.pages.lock().unwrap();
            for page in pages {
                p.insert((page.pk.clone(), page.sk.clone()), page.refs.len());
            }
            Ok(())
        }
        async fn commit(&self, deltas: &[MessageDelta]) -> Vec<Result<CommitOutcome, StoreError>> {
            let mut markers = self.markers.lock().unwrap();
            deltas
                .iter()
                .map(|d| {
                    if markers.contains(&d.marker) {
                        return Ok(CommitOutcome::AlreadyApplied);
                    }
                    markers.push(d.marker.clone());
                    *self.totals.lock().unwrap() +=
                        d.days.values().map(|c| c["events"]).sum::<u64>();
                    Ok(CommitOutcome::Applied)
                })
                .collect()
        }
    }

    fn envelope(ids: &[&str]) -> String {
        let events: Vec<String> = ids
            .iter()
            .map(|id| format!(r#"{{"event_id":"{id}","type":"a_b","category":"a","action":"b","timestamp":1795305600000,"user_id":"u","session_id":"s"}}"#))
            .collect();
        format!(
            r#"{{"v":1,"project_id":"p","retention_days":30,"received_at":1795305600000,"events":[{}]}}"#,
            events.join(",")
        )
    }

    fn msg(id: &str, body: String) -> QueueMessage {
        QueueMessage {
            message_id: id.into(),
            body,
        }
    }

    #[tokio::test]
    async fn redelivery_and_cross_message_duplicates_count_once() {
        let store = Arc::new(MemoryStore::default());
        let consumer = Consumer::new(store.clone());
        let batch = vec![
            msg("m1", envelope(&["e1", "e2", "e1"])),
            msg("m2", envelope(&["e2", "e3"])),
            msg("bad", "{oops".into()),
        ];
        let first = consumer.process(&batch).await;
        assert_eq!(first.failed, vec!["bad"]);
        assert_eq!(
            (first.events_stored, first.duplicates, first.poison),
            (3, 1, 1)
        );
        let again = consumer.process(&batch).await;
        assert_eq!(again.already_applied, 2);
        assert_eq!(*store.totals.lock().unwrap(), 3);
        assert_eq!(store.events.lock().unwrap().len(), 3);
        // Pages are keyed by message: rewriting them adds none.
        assert_eq!(store.pages.lock().unwrap().len(), 2);
    }

    #[test]
    fn stored_json_carries_received_at_and_stays_valid() {
        let env = envelope(&["x"]);
        let (_, raw) = envelope::decode_with_raw(&env).unwrap();
        let v: serde_json::Value = serde_json::from_str(&stored_json(raw[0], 42)).unwrap();
        assert_eq!(v["received_at"], 42);
        assert_eq!(v["event_id"], "x");
    }
}
