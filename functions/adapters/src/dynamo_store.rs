//! [`EventStore`] on DynamoDB: conditional event puts, time pages with
//! BatchWriteItem, and rollups applied in TransactWriteItems under a marker
//! per message (see `pulse_core::consume` for why that is exactly once).

use crate::write_meter::WriteMeter;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, Put, PutRequest,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use pulse_core::consume::{
    CommitOutcome, EventRecord, EventStore, PutOutcome, StoreError, TimePage,
};
use pulse_core::keys::{self, GSI1_PK, GSI1_SK, PK, SK, TTL_ATTRIBUTE};
use pulse_core::rollup::{counter, rollup_expires_at, MessageDelta, MARKER_TTL_SECS};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub type Item = HashMap<String, AttributeValue>;

/// Event puts in flight at once per batch.
const PUT_CONCURRENCY: usize = 32;
/// Entries (counters and memberships) per part before trying smaller parts.
const MAX_ENTRIES_PER_PART: usize = 90;
const MAX_ITEMS_PER_TRANSACTION: usize = 100;
const COMMIT_ATTEMPTS: u32 = 10;

#[derive(Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    meter: Option<Arc<WriteMeter>>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn err<E: std::error::Error + 'static>(e: E) -> StoreError {
    StoreError(DisplayErrorContext(e).to_string())
}

/// Exponential backoff with jitter: 25 ms · 2^attempt, capped at 2 s.
async fn backoff(attempt: u32) {
    let base = 25u64 << attempt.min(6);
    let jitter = rand_jitter(base);
    tokio::time::sleep(Duration::from_millis(base.min(2000) / 2 + jitter.min(1000))).await;
}

fn rand_jitter(max: u64) -> u64 {
    use std::time::SystemTime;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) % max.max(1)
}

pub fn event_item(r: &EventRecord) -> Item {
    let mut item = HashMap::from([
        (PK.to_owned(), s(keys::event_pk(&r.project_id, &r.event_id))),
        (SK.to_owned(), s(keys::EVENT_SK)),
        (
            GSI1_PK.to_owned(),
            s(keys::timeline_pk(&r.project_id, &r.user_key)),
        ),
        (
            GSI1_SK.to_owned(),
            s(keys::timeline_sk(r.timestamp, &r.event_id)),
        ),
        ("e".to_owned(), s(&r.json)),
        ("ts".to_owned(), n(r.timestamp)),
        ("owner".to_owned(), s(r.owner.as_ref())),
        ("type".to_owned(), s(&r.event_type)),
        ("category".to_owned(), s(&r.category)),
        (TTL_ATTRIBUTE.to_owned(), n(r.expires_at)),
    ]);
    let optional = [
        ("status", r.status.map(str::to_owned)),
        ("session_id", r.session_id.clone()),
        ("conversation_id", r.conversation_id.clone()),
        ("entity_type", r.entity_type.clone()),
        ("entity_id", r.entity_id.clone()),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            item.insert(name.to_owned(), s(v));
        }
    }
    item
}

/// Attributes the `timeline` index projects besides its keys (filters and TTL).
pub const TIMELINE_PROJECTION: &[&str] = &[
    "ts",
    "type",
    "category",
    "status",
    "session_id",
    "conversation_id",
    "entity_type",
    "entity_id",
    TTL_ATTRIBUTE,
];

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            meter: None,
        }
    }

    /// Records every write for capacity accounting (benchmarks and tests).
    pub fn with_meter(mut self, meter: Arc<WriteMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn put_event(&self, r: &EventRecord) -> Result<PutOutcome, StoreError> {
        let item = event_item(r);
        if let Some(m) = &self.meter {
            m.record_put(&item, true);
        }
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(_) => return Ok(PutOutcome::Written),
                Err(SdkError::ServiceError(e)) => match e.err() {
                    PutItemError::ConditionalCheckFailedException(c) => {
                        let owner = c
                            .item()
                            .and_then(|i| i.get("owner"))
                            .and_then(|v| v.as_s().ok());
                        return Ok(if owner.map(String::as_str) == Some(r.owner.as_ref()) {
                            PutOutcome::AlreadyOurs
                        } else {
                            PutOutcome::Duplicate
                        });
                    }
                    other if is_throttle(other.code()) && attempt < 6 => {
                        attempt += 1;
                        backoff(attempt).await;
                    }
                    _ => return Err(err(SdkError::ServiceError(e))),
                },
                Err(e) => return Err(err(e)),
            }
        }
    }
}

fn is_throttle(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
        )
    )
}

/// Writes every request with BatchWriteItem (25 per call), resending what
/// DynamoDB hands back as `UnprocessedItems` with backoff. `send` makes one
/// call and returns the unprocessed requests; tests inject their own.
pub async fn write_all<F, Fut>(
    requests: Vec<WriteRequest>,
    max_attempts: u32,
    mut send: F,
) -> Result<(), StoreError>
where
    F: FnMut(Vec<WriteRequest>) -> Fut,
    Fut: Future<Output = Result<Vec<WriteRequest>, StoreError>>,
{
    let mut pending = requests;
    let mut attempt = 0;
    while !pending.is_empty() {
        let rest = pending.split_off(pending.len().min(25));
        let unprocessed = send(pending).await?;
        if unprocessed.is_empty() {
            attempt = 0;
        } else {
            attempt += 1;
            if attempt > max_attempts {
                return Err(StoreError(format!(
                    "{} writes still unprocessed after {max_attempts} attempts",
                    unprocessed.len()
                )));
            }
            backoff(attempt).await;
        }
        pending = unprocessed.into_iter().chain(rest).collect();
    }
    Ok(())
}

fn key_text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// BatchGetItem over any number of (pk, sk) keys: 100 per call, resending
/// `UnprocessedKeys` with backoff. Returns the items found, in no order.
pub async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: &[(String, String)],
    consistent: bool,
) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(100) {
        let mut pending: Vec<Item> = chunk
            .iter()
            .map(|(pk, sk)| HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))]))
            .collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(consistent)
                .build()
                .map_err(err)?;
            let out = client
                .batch_get_item()
                .request_items(table, ka)
                .send()
                .await
                .map_err(err)?;
            found.extend(
                out.responses()
                    .and_then(|r| r.get(table))
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            pending = out
                .unprocessed_keys()
                .and_then(|u| u.get(table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
            if !pending.is_empty() {
                attempt += 1;
                backoff(attempt).await;
            }
        }
    }
    Ok(found)
}

/// A BatchWriteItem put of `item`.
pub fn put_request(item: Item) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("item set"),
        )
        .build()
}

/// A BatchWriteItem delete of the item keyed (`pk`, `sk`).
pub fn delete_request(pk: AttributeValue, sk: AttributeValue) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .set_key(Some(HashMap::from([
                    (PK.to_owned(), pk),
                    (SK.to_owned(), sk),
                ])))
                .build()
                .expect("key set"),
        )
        .build()
}

/// BatchWriteItem over any number of requests (see [`write_all`]).
pub async fn batch_write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    requests: Vec<WriteRequest>,
    meter: Option<&WriteMeter>,
) -> Result<(), StoreError> {
    write_all(requests, 12, |batch| async move {
        if let Some(m) = meter {
            m.record_request();
        }
        let out = client
            .batch_write_item()
            .request_items(table, batch)
            .send()
            .await
            .map_err(err)?;
        Ok(out
            .unprocessed_items()
            .and_then(|u| u.get(table))
            .cloned()
            .unwrap_or_default())
    })
    .await
}

/// One transaction's worth of deltas (whole deltas or parts of one).
struct Unit {
    /// (index into the caller's deltas, the part)
    parts: Vec<(usize, MessageDelta)>,
}

fn rollup_shard(marker: &str) -> u32 {
    keys::shard_of(marker, keys::ROLLUP_SHARDS)
}

/// (project, shard, day or hour) → (counters, retention days).
type CounterItems = BTreeMap<(String, u32, String), (BTreeMap<String, u64>, u32)>;

#[derive(Default)]
struct Membership {
    user_days: BTreeMap<(String, String, String), (u64, u32)>, // (project, day, user) → (events, retention)
    sessions: BTreeMap<(String, String), (pulse_core::rollup::SessionDelta, u32)>,
    conversations: BTreeMap<(String, String), (pulse_core::rollup::ConversationDelta, u32)>,
}

fn user_day_key(project: &str, day: &str, user: &str) -> (String, String) {
    (
        keys::user_day_pk(project, day, keys::shard_of(user, keys::USER_DAY_SHARDS)),
        user.to_owned(),
    )
}

impl DynamoStore {
    /// Reads the current membership items of a unit (consistent reads).
    async fn read_items(
        &self,
        keys_wanted: &BTreeSet<(String, String)>,
    ) -> Result<HashMap<(String, String), Item>, StoreError> {
        let keys: Vec<(String, String)> = keys_wanted.iter().cloned().collect();
        let items = batch_get(&self.client, &self.table, &keys, true).await?;
        Ok(items
            .into_iter()
            .map(|item| ((key_text(&item, PK), key_text(&item, SK)), item))
            .collect())
    }

    /// Builds and runs one unit's transaction. `Ok(markers already applied)`
    /// when the transaction was cancelled only because of them; `Ok(empty)`
    /// when it committed.
    async fn try_commit(&self, unit: &Unit) -> Result<Result<(), CommitRetry>, StoreError> {
        let now_secs = pulse_core::time::now_millis() / 1000;
        let mut members = Membership::default();
        // (project, shard, day) → counters; same for hours.
        let mut days: CounterItems = BTreeMap::new();
        let mut hours: CounterItems = BTreeMap::new();
        let shard = rollup_shard(&unit.parts[0].1.marker);
        for (_, d) in &unit.parts {
            for (day, counters) in &d.days {
                let e = days
                    .entry((d.project_id.clone(), shard, day.clone()))
                    .or_insert_with(|| (BTreeMap::new(), d.retention_days));
                for (k, v) in counters {
                    *e.0.entry(k.clone()).or_default() += v;
                }
            }
            for (hour, counters) in &d.hours {
                let e = hours
                    .entry((d.project_id.clone(), shard, hour.clone()))
                    .or_insert_with(|| (BTreeMap::new(), d.retention_days));
                for (k, v) in counters {
                    *e.0.entry(k.clone()).or_default() += v;
                }
            }
            for ((day, user), count) in &d.user_days {
                let e = members
                    .user_days
                    .entry((d.project_id.clone(), day.clone(), user.clone()))
                    .or_insert((0, d.retention_days));
                e.0 += count;
            }
            for (sid, sd) in &d.sessions {
                let e = members
                    .sessions
                    .entry((d.project_id.clone(), sid.clone()))
                    .or_insert_with(|| (sd.clone(), d.retention_days));
                e.0.first_ts = e.0.first_ts.min(sd.first_ts);
                e.0.last_ts = e.0.last_ts.max(sd.last_ts);
                e.0.days.extend(sd.days.iter().cloned());
            }
            for (cid, cd) in &d.conversations {
                let e = members
                    .conversations
                    .entry((d.project_id.clone(), cid.clone()))
                    .or_insert_with(|| (cd.clone(), d.retention_days));
                e.0.first_ts = e.0.first_ts.min(cd.first_ts);
                e.0.last_ts = e.0.last_ts.max(cd.last_ts);
                e.0.user_keys.extend(cd.user_keys.iter().cloned());
            }
        }

        let mut wanted = BTreeSet::new();
        for (p, day, user) in members.user_days.keys() {
            wanted.insert(user_day_key(p, day, user));
        }
        for (p, sid) in members.sessions.keys() {
            wanted.insert((keys::session_pk(p, sid), keys::SESSION_SK.to_owned()));
        }
        for (p, cid) in members.conversations.keys() {
            wanted.insert((
                keys::conversation_pk(p, cid),
                keys::CONVERSATION_SK.to_owned(),
            ));
        }
        let current = self.read_items(&wanted).await?;

        let mut items: Vec<TransactWriteItem> = Vec::new();
        // Marker i is items[i]: the cancellation reasons are read by index.
        for (_, d) in &unit.parts {
            let marker = Put::builder()
                .table_name(&self.table)
                .item(PK, s(keys::marker_pk(&d.marker)))
                .item(SK, s("M"))
                .item(TTL_ATTRIBUTE, n(now_secs + MARKER_TTL_SECS))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(err)?;
            items.push(TransactWriteItem::builder().put(marker).build());
        }

        for ((p, day, user), (count, retention)) in &members.user_days {
            let (pk, sk) = user_day_key(p, day, user);
            let ttl = rollup_expires_at(day, *retention);
            if current.contains_key(&(pk.clone(), sk.clone())) {
                items.push(update(
                    &self.table,
                    &pk,
                    &sk,
                    "ADD events :n",
                    None,
                    vec![(":n", n(count))],
                    vec![],
                )?);
            } else {
                let put = Put::builder()
                    .table_name(&self.table)
                    .item(PK, s(&pk))
                    .item(SK, s(&sk))
                    .item("events", n(count))
                    .item(TTL_ATTRIBUTE, n(ttl))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(err)?;
                items.push(TransactWriteItem::builder().put(put).build());
                let d = days
                    .entry((p.clone(), shard, day.clone()))
                    .or_insert_with(|| (BTreeMap::new(), *retention));
                *d.0.entry(counter::USERS.into()).or_default() += 1;
            }
        }

        for ((p, sid), (sd, retention)) in &members.sessions {
            let pk = keys::session_pk(p, sid);
            let ttl = sd
                .days
                .iter()
                .next_back()
                .map(|d| rollup_expires_at(d, *retention))
                .unwrap_or(0);
            let new_days: Vec<String>;
            match current.get(&(pk.clone(), keys::SESSION_SK.to_owned())) {
                None => {
                    new_days = sd.days.iter().cloned().collect();
                    let put = Put::builder()
                        .table_name(&self.table)
                        .item(PK, s(&pk))
                        .item(SK, s(keys::SESSION_SK))
                        .item("user_key", s(&sd.user_key))
                        .item("first_ts", n(sd.first_ts))
                        .item("last_ts", n(sd.last_ts))
                        .item("days", AttributeValue::Ss(new_days.clone()))
                        .item("v", n(1))
                        .item(TTL_ATTRIBUTE, n(ttl))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(err)?;
                    items.push(TransactWriteItem::builder().put(put).build());
                }
                Some(item) => {
                    let v = num(item, "v");
                    let had: BTreeSet<String> = item
                        .get("days")
                        .and_then(|d| d.as_ss().ok())
                        .map(|d| d.iter().cloned().collect())
                        .unwrap_or_default();
                    new_days = sd.days.difference(&had).cloned().collect();
                    let first = sd.first_ts.min(num(item, "first_ts"));
                    let last = sd.last_ts.max(num(item, "last_ts"));
                    let mut values = vec![
                        (":f", n(first)),
                        (":l", n(last)),
                        (":v0", n(v)),
                        (":v1", n(v + 1)),
                        (":e", n(ttl.max(num(item, TTL_ATTRIBUTE)))),
                    ];
                    let mut expr =
                        "SET first_ts = :f, last_ts = :l, v = :v1, expires_at = :e".to_owned();
                    if !new_days.is_empty() {
                        expr.push_str(" ADD days :d");
                        values.push((":d", AttributeValue::Ss(new_days.clone())));
                    }
                    items.push(update(
                        &self.table,
                        &pk,
                        keys::SESSION_SK,
                        &expr,
                        Some("v = :v0"),
                        values,
                        vec![],
                    )?);
                }
            }
            for day in new_days {
                let d = days
                    .entry((p.clone(), shard, day))
                    .or_insert_with(|| (BTreeMap::new(), *retention));
                *d.0.entry(counter::SESSIONS.into()).or_default() += 1;
            }
        }

        for ((p, cid), (cd, retention)) in &members.conversations {
            let pk = keys::conversation_pk(p, cid);
            let ttl = rollup_expires_at(&pulse_core::time::day_of(cd.last_ts), *retention);
            let users = AttributeValue::Ss(cd.user_keys.iter().cloned().collect());
            match current.get(&(pk.clone(), keys::CONVERSATION_SK.to_owned())) {
                None => {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .item(PK, s(&pk))
                        .item(SK, s(keys::CONVERSATION_SK))
                        .item("users", users)
                        .item("first_ts", n(cd.first_ts))
                        .item("last_ts", n(cd.last_ts))
                        .item("v", n(1))
                        .item(TTL_ATTRIBUTE, n(ttl))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(err)?;
                    items.push(TransactWriteItem::builder().put(put).build());
                }
                Some(item) => {
                    let v = num(item, "v");
                    let values = vec![
                        (":f", n(cd.first_ts.min(num(item, "first_ts")))),
                        (":l", n(cd.last_ts.max(num(item, "last_ts")))),
                        (":v0", n(v)),
                        (":v1", n(v + 1)),
                        (":u", users),
                        (":e", n(ttl.max(num(item, TTL_ATTRIBUTE)))),
                    ];
                    items.push(update(
                        &self.table,
                        &pk,
                        keys::CONVERSATION_SK,
                        "SET first_ts = :f, last_ts = :l, v = :v1, expires_at = :e ADD #users :u",
                        Some("v = :v0"),
                        values,
                        vec![("#users", "users")],
                    )?);
                }
            }
        }

        for ((p, shard, day), (counters, retention)) in &days {
            items.push(counter_update(
                &self.table,
                &keys::day_rollup_pk(p, *shard),
                day,
                counters,
                rollup_expires_at(day, *retention),
            )?);
        }
        for ((p, shard, hour), (counters, retention)) in &hours {
            items.push(counter_update(
                &self.table,
                &keys::hour_rollup_pk(p, *shard),
                hour,
                counters,
                rollup_expires_at(&hour[..10], *retention),
            )?);
        }

        if items.len() > MAX_ITEMS_PER_TRANSACTION {
            return Err(StoreError(format!(
                "a unit needs {} transaction items (limit {MAX_ITEMS_PER_TRANSACTION})",
                items.len()
            )));
        }
        if let Some(m) = &self.meter {
            m.record_transaction(&items);
        }
        let count = items.len();
        let started = std::time::Instant::now();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        tracing::debug!(
            items = count,
            elapsed_ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "TransactWriteItems"
        );
        match result {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(e)) => {
                let code = e.err().code().map(str::to_owned);
                match e.into_err() {
                    TransactWriteItemsError::TransactionCanceledException(t) => {
                        let mut applied = Vec::new();
                        let mut other = None;
                        for (i, reason) in t.cancellation_reasons().iter().enumerate() {
                            match reason.code() {
                                Some("ConditionalCheckFailed") if i < unit.parts.len() => {
                                    applied.push(i)
                                }
                                Some("None") | None => {}
                                Some(c) => other = Some(c.to_owned()),
                            }
                        }
                        if !applied.is_empty() {
                            Ok(Err(CommitRetry::AlreadyApplied(applied)))
                        } else {
                            Ok(Err(CommitRetry::Conflict(
                                other.unwrap_or_else(|| "cancelled".into()),
                            )))
                        }
                    }
                    TransactWriteItemsError::TransactionInProgressException(_) => {
                        Ok(Err(CommitRetry::Conflict("TransactionInProgress".into())))
                    }
                    other
                        if is_throttle(code.as_deref())
                            || code.as_deref() == Some("TransactionInProgressException") =>
                    {
                        Ok(Err(CommitRetry::Conflict(other.to_string())))
                    }
                    other => Err(StoreError(format!(
                        "TransactWriteItems failed: {}",
                        DisplayErrorContext(other)
                    ))),
                }
            }
            Err(e) => Err(err(e)),
        }
    }
}

enum CommitRetry {
    /// These parts' markers exist: drop them (already counted) and retry the rest.
    AlreadyApplied(Vec<usize>),
    /// A race or throttle: read again and retry after a backoff.
    Conflict(String),
}

fn num(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn update(
    table: &str,
    pk: &str,
    sk: &str,
    expr: &str,
    condition: Option<&str>,
    values: Vec<(&str, AttributeValue)>,
    names: Vec<(&str, &str)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut u = Update::builder()
        .table_name(table)
        .key(PK, s(pk))
        .key(SK, s(sk))
        .update_expression(expr)
        .set_condition_expression(condition.map(str::to_owned));
    for (k, v) in values {
        u = u.expression_attribute_values(k, v);
    }
    for (k, v) in names {
        u = u.expression_attribute_names(k, v);
    }
    Ok(TransactWriteItem::builder()
        .update(u.build().map_err(err)?)
        .build())
}

/// `ADD` every counter of a day or hour item (names go through placeholders:
/// types may contain any character).
fn counter_update(
    table: &str,
    pk: &str,
    sk: &str,
    counters: &BTreeMap<String, u64>,
    ttl: i64,
) -> Result<TransactWriteItem, StoreError> {
    let mut u = Update::builder()
        .table_name(table)
        .key(PK, s(pk))
        .key(SK, s(sk));
    let mut adds = Vec::new();
    for (i, (name, value)) in counters.iter().enumerate() {
        u = u
            .expression_attribute_names(format!("#c{i}"), name)
            .expression_attribute_values(format!(":c{i}"), n(value));
        adds.push(format!("#c{i} :c{i}"));
    }
    let expr = format!("SET expires_at = :ttl ADD {}", adds.join(", "));
    u = u
        .update_expression(expr)
        .expression_attribute_values(":ttl", n(ttl));
    Ok(TransactWriteItem::builder()
        .update(u.build().map_err(err)?)
        .build())
}

/// Groups parts into units that fit one transaction each: a delta too big
/// for one is split (deterministically) until every part fits.
fn units_of(deltas: &[MessageDelta]) -> Vec<Unit> {
    let budget = MAX_ITEMS_PER_TRANSACTION;
    let mut units: Vec<Unit> = Vec::new();
    let mut cost = 0;
    for (i, d) in deltas.iter().enumerate() {
        let mut max = MAX_ENTRIES_PER_PART;
        let parts = loop {
            let parts = d.clone().split(max);
            if max == 1 || parts.iter().all(|p| p.item_count() < budget) {
                break parts;
            }
            max /= 2;
        };
        for part in parts {
            let c = 1 + part.item_count();
            if units.is_empty() || cost + c > budget {
                units.push(Unit { parts: Vec::new() });
                cost = 0;
            }
            cost += c;
            units.last_mut().expect("just pushed").parts.push((i, part));
        }
    }
    units
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn put_events(&self, records: &[EventRecord]) -> Vec<Result<PutOutcome, StoreError>> {
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(PUT_CONCURRENCY) {
            let mut set = tokio::task::JoinSet::new();
            for (i, r) in chunk.iter().enumerate() {
                let store = self.clone();
                let r = r.clone();
                set.spawn(async move { (i, store.put_event(&r).await) });
            }
            let mut results: Vec<Option<Result<PutOutcome, StoreError>>> = vec![None; chunk.len()];
            while let Some(joined) = set.join_next().await {
                match joined {
                    Ok((i, r)) => results[i] = Some(r),
                    Err(e) => tracing::error!(error = %e, "event put task failed"),
                }
            }
            out.extend(
                results
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err(StoreError("put task failed".into())))),
            );
        }
        out
    }

    async fn put_pages(&self, pages: &[TimePage]) -> Result<(), StoreError> {
        let requests: Vec<WriteRequest> = pages
            .iter()
            .map(|p| {
                let item = HashMap::from([
                    (PK.to_owned(), s(&p.pk)),
                    (SK.to_owned(), s(&p.sk)),
                    (
                        "refs".to_owned(),
                        s(serde_json::to_string(&p.refs).expect("refs serialize")),
                    ),
                    ("n".to_owned(), n(p.refs.len())),
                    ("retention_days".to_owned(), n(p.retention_days)),
                    (TTL_ATTRIBUTE.to_owned(), n(p.expires_at)),
                ]);
                if let Some(m) = &self.meter {
                    m.record_put(&item, false);
                }
                put_request(item)
            })
            .collect();
        batch_write(&self.client, &self.table, requests, self.meter.as_deref()).await
    }

    async fn commit(&self, deltas: &[MessageDelta]) -> Vec<Result<CommitOutcome, StoreError>> {
        // Per delta: did any part apply now, did every part finish, errors.
        let mut applied = vec![false; deltas.len()];
        let mut failed: Vec<Option<StoreError>> = vec![None; deltas.len()];
        for mut unit in units_of(deltas) {
            let mut attempt = 0;
            while !unit.parts.is_empty() {
                match self.try_commit(&unit).await {
                    Ok(Ok(())) => {
                        for (i, _) in &unit.parts {
                            applied[*i] = true;
                        }
                        break;
                    }
                    Ok(Err(CommitRetry::AlreadyApplied(idx))) => {
                        let mut k = 0;
                        unit.parts.retain(|_| {
                            k += 1;
                            !idx.contains(&(k - 1))
                        });
                    }
                    Ok(Err(CommitRetry::Conflict(why))) => {
                        attempt += 1;
                        if attempt >= COMMIT_ATTEMPTS {
                            for (i, _) in &unit.parts {
                                failed[*i] = Some(StoreError(format!(
                                    "gave up after {attempt} conflicts: {why}"
                                )));
                            }
                            break;
                        }
                        tracing::debug!(attempt, why, "transaction conflict; retrying");
                        backoff(attempt).await;
                    }
                    Err(e) => {
                        for (i, _) in &unit.parts {
                            failed[*i] = Some(e.clone());
                        }
                        break;
                    }
                }
            }
        }
        (0..deltas.len())
            .map(|i| match failed[i].take() {
                Some(e) => Err(e),
                None if applied[i] => Ok(CommitOutcome::Applied),
                None => Ok(CommitOutcome::AlreadyApplied),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn request(i: usize) -> WriteRequest {
        put_request(HashMap::from([
            (PK.to_owned(), s(format!("k{i}"))),
            (SK.to_owned(), s("x")),
        ]))
    }

    fn key_of(r: &WriteRequest) -> String {
        r.put_request().unwrap().item()[PK].as_s().unwrap().clone()
    }

    /// DynamoDB may hand back any part of a batch as UnprocessedItems (moto
    /// never does), so this injects it: every call returns its last 7 items.
    #[tokio::test]
    async fn unprocessed_items_are_resent_until_written() {
        let written = Mutex::new(Vec::new());
        let calls = Mutex::new(0);
        let requests: Vec<WriteRequest> = (0..60).map(request).collect();
        write_all(requests, 12, |batch| {
            *calls.lock().unwrap() += 1;
            assert!(batch.len() <= 25);
            let keep = batch.len().saturating_sub(7).max(1);
            let (done, back) = batch.split_at(keep.min(batch.len()));
            written.lock().unwrap().extend(done.iter().map(key_of));
            let back = back.to_vec();
            async move { Ok(back) }
        })
        .await
        .unwrap();
        let mut got = written.into_inner().unwrap();
        got.sort();
        let mut want: Vec<String> = (0..60).map(|i| format!("k{i}")).collect();
        want.sort();
        assert_eq!(got, want, "every request written exactly once");
        assert!(
            *calls.lock().unwrap() > 3,
            "unprocessed items took extra calls"
        );
    }

    #[tokio::test]
    async fn persistent_unprocessed_items_become_an_error() {
        let r = write_all(vec![request(1)], 3, |batch| async move { Ok(batch) }).await;
        assert!(r.is_err());
    }
}
