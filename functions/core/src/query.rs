//! The query use case: parameters (validated, each error naming its
//! parameter), tamper-checked cursors, the conversation tree, and analytics
//! computed from rollups. Storage is reached through [`EventReader`].

use crate::consume::{PageRef, StoreError};
use crate::event::Status;
use crate::keys::user_key;
use crate::limits::MAX_ID_CHARS;
use crate::rollup::counter;
use crate::time::{day_of, day_start_millis, format_millis, hour_of, parse_rfc3339_millis, DAY_MS};
use async_trait::async_trait;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("{parameter}: {message}")]
    BadParameter { parameter: String, message: String },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for QueryError {
    fn from(e: StoreError) -> Self {
        QueryError::Unavailable(e.0)
    }
}

fn bad(parameter: &str, message: impl Into<String>) -> QueryError {
    QueryError::BadParameter {
        parameter: parameter.into(),
        message: message.into(),
    }
}

/// An id or label given to a query: no stored value is longer than
/// [`MAX_ID_CHARS`] characters, and DynamoDB keys are bounded too.
pub fn check_id(parameter: &str, value: &str) -> Result<(), QueryError> {
    if value.chars().count() > MAX_ID_CHARS {
        return Err(bad(
            parameter,
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Query-string parameters, each used at most once; unknown names are errors.
pub struct Params {
    values: HashMap<String, String>,
}

impl Params {
    /// `allowed` lists the names this endpoint understands.
    pub fn new(pairs: Vec<(String, String)>, allowed: &[&str]) -> Result<Self, QueryError> {
        let mut values = HashMap::new();
        for (k, v) in pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(bad(
                    &k,
                    format!(
                        "unknown parameter; this endpoint takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if values.insert(k.clone(), v).is_some() {
                return Err(bad(&k, "given more than once"));
            }
        }
        Ok(Self { values })
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn number(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, QueryError> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| bad(name, format!("must be a whole number from {min} to {max}"))),
        }
    }
}

/// A closed time range in epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: i64,
    pub to: i64,
}

impl TimeRange {
    pub fn days(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut t = self.from - self.from.rem_euclid(DAY_MS);
        while t <= self.to {
            out.push(day_of(t));
            t += DAY_MS;
        }
        out
    }
}

fn parse_instant(name: &str, v: &str, end_of_day: bool) -> Result<i64, QueryError> {
    if v.len() == 10 {
        let start = day_start_millis(v)
            .ok_or_else(|| bad(name, "must be a date (YYYY-MM-DD) or an RFC 3339 time"))?;
        return Ok(if end_of_day {
            start + DAY_MS - 1
        } else {
            start
        });
    }
    parse_rfc3339_millis(v)
        .map_err(|_| bad(name, "must be a date (YYYY-MM-DD) or an RFC 3339 time"))
}

/// `from`/`to` (dates or RFC 3339) or `days` (counting today), bounded by
/// the project's retention.
pub fn parse_range(
    p: &Params,
    default_days: u64,
    retention_days: u32,
    now: i64,
) -> Result<TimeRange, QueryError> {
    let today = now - now.rem_euclid(DAY_MS);
    let days_given = p.text("days").is_some();
    if days_given && (p.text("from").is_some() || p.text("to").is_some()) {
        return Err(bad("days", "give either days or from/to, not both"));
    }
    let retention = u64::from(retention_days);
    let range = if p.text("from").is_some() || p.text("to").is_some() {
        let to = match p.text("to") {
            Some(v) => parse_instant("to", v, true)?,
            None => now,
        };
        let from = match p.text("from") {
            Some(v) => parse_instant("from", v, false)?,
            None => to - (default_days as i64) * DAY_MS + 1,
        };
        if from > to {
            return Err(bad("from", "must not be after to"));
        }
        TimeRange { from, to }
    } else {
        let days = p.number("days", default_days, 1, u64::MAX)?;
        if days > retention {
            return Err(bad(
                "days",
                format!("must be at most the project's retention ({retention_days} days)"),
            ));
        }
        TimeRange {
            from: today - (days as i64 - 1) * DAY_MS,
            to: now,
        }
    };
    if range.to - range.from > (retention as i64 + 1) * DAY_MS {
        return Err(bad(
            "from",
            format!("the range exceeds the project's retention ({retention_days} days)"),
        ));
    }
    Ok(range)
}

/// Filters of `GET /v1/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub category: Option<String>,
    pub status: Option<Status>,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub conversation_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
}

impl EventFilter {
    pub fn from_params(p: &Params) -> Result<Self, QueryError> {
        let status = match p.text("status") {
            None => None,
            Some(s) => Some(
                Status::parse(s)
                    .ok_or_else(|| bad("status", "must be success, failed or in_progress"))?,
            ),
        };
        let t = |n: &str| -> Result<Option<String>, QueryError> {
            p.text(n)
                .map(|v| check_id(n, v).map(|()| v.to_owned()))
                .transpose()
        };
        Ok(Self {
            event_type: t("type")?,
            category: t("category")?,
            status,
            user_id: t("user_id")?,
            session_id: t("session_id")?,
            conversation_id: t("conversation_id")?,
            entity_type: t("entity_type")?,
            entity_id: t("entity_id")?,
        })
    }

    /// Does a stored event (JSON) match every filter?
    pub fn matches(&self, e: &Value) -> bool {
        let eq = |field: &str, want: &Option<String>| {
            want.as_deref().is_none_or(|w| e[field].as_str() == Some(w))
        };
        eq("type", &self.event_type)
            && eq("category", &self.category)
            && self
                .status
                .is_none_or(|s| e["status"].as_str() == Some(s.as_str()))
            && eq("user_id", &self.user_id)
            && eq("session_id", &self.session_id)
            && eq("conversation_id", &self.conversation_id)
            && eq("entity_type", &self.entity_type)
            && eq("entity_id", &self.entity_id)
    }

    /// Can a time-index ref still match (the fields a ref carries)?
    pub fn may_match(&self, r: &PageRef) -> bool {
        self.event_type.as_deref().is_none_or(|t| r.t == t)
            && self.category.as_deref().is_none_or(|c| r.c == c)
            && self
                .status
                .is_none_or(|s| r.s.as_deref() == Some(s.as_str()))
    }

    fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// Position after the last event of a page — (timestamp, event id), newest
/// first — and the window of the query that made it, so later pages read the
/// same window even when it was given as `days`. Signed, and bound to the
/// filters it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub ts: i64,
    pub id: String,
    pub range: TimeRange,
}

fn mac(secret: &[u8], msg: &str) -> String {
    // HMAC-SHA256 (RFC 2104).
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |b: u8| key.iter().map(|k| k ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg.as_bytes())
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(&outer[..16])
}

impl Cursor {
    pub fn encode(&self, secret: &[u8], filter: &EventFilter) -> String {
        let body = format!(
            "{}.{}.{}.{}",
            self.ts,
            hex::encode(self.id.as_bytes()),
            self.range.from,
            self.range.to
        );
        let sig = mac(secret, &format!("{body}|{}", filter.fingerprint()));
        format!("{body}.{sig}")
    }

    pub fn decode(text: &str, secret: &[u8], filter: &EventFilter) -> Result<Self, QueryError> {
        let invalid = || {
            bad(
                "cursor",
                "is not a cursor this query returned (malformed, altered or for other filters)",
            )
        };
        let parts: Vec<&str> = text.split('.').collect();
        let [ts, id, from, to, sig] = parts.as_slice() else {
            return Err(invalid());
        };
        let body = format!("{ts}.{id}.{from}.{to}");
        if mac(secret, &format!("{body}|{}", filter.fingerprint())) != *sig {
            return Err(invalid());
        }
        let id = hex::decode(id)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(invalid)?;
        let num = |v: &str| v.parse::<i64>().map_err(|_| invalid());
        Ok(Cursor {
            ts: num(ts)?,
            id,
            range: TimeRange {
                from: num(from)?,
                to: num(to)?,
            },
        })
    }

    /// Is (ts, id) strictly after this cursor in newest-first order?
    pub fn before(&self, ts: i64, id: &str) -> bool {
        (ts, id) < (self.ts, self.id.as_str())
    }
}

/// Where events and rollups are read. The DynamoDB reader implements it.
#[async_trait]
pub trait EventReader: Send + Sync {
    async fn get_event(&self, project: &str, event_id: &str) -> Result<Option<Value>, StoreError>;
    async fn get_events(&self, project: &str, ids: &[String]) -> Result<Vec<Value>, StoreError>;
    /// A user's events in `range`, newest first, strictly before `before`
    /// (ts, id) when given, at most `limit` index entries read.
    async fn timeline(
        &self,
        project: &str,
        user_key: &str,
        range: TimeRange,
        before: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError>;
    async fn hour_refs(&self, project: &str, hour: &str) -> Result<Vec<PageRef>, StoreError>;
    async fn day_rollups(
        &self,
        project: &str,
        from_day: &str,
        to_day: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError>;
    async fn hour_rollups(
        &self,
        project: &str,
        from_day: &str,
        to_day: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError>;
    async fn user_days(
        &self,
        project: &str,
        day: &str,
    ) -> Result<BTreeMap<String, u64>, StoreError>;
    /// (user key, first ts, last ts) of a session.
    async fn session(
        &self,
        project: &str,
        session_id: &str,
    ) -> Result<Option<(String, i64, i64)>, StoreError>;
    /// (user keys, first ts, last ts) of a conversation.
    async fn conversation(
        &self,
        project: &str,
        conversation_id: &str,
    ) -> Result<Option<(Vec<String>, i64, i64)>, StoreError>;
    /// Deletes these events; returns how many existed.
    async fn delete_events(&self, project: &str, ids: &[String]) -> Result<usize, StoreError>;
    /// Removes a user key from the memberships that name it: its user-day
    /// items become anonymous ones ([`ERASED_PREFIX`], same counts, so past
    /// daily active users stay exact), its sessions are deleted and it leaves
    /// its conversations.
    async fn erase_memberships(
        &self,
        project: &str,
        user_key: &str,
        days: &[String],
        sessions: &[String],
        conversations: &[String],
    ) -> Result<(), StoreError>;
}

/// Concurrent day reads of a range (a year is 365 requests).
const USER_DAY_READS: usize = 16;

/// User-day keys of erased users: still counted, never listed.
pub const ERASED_PREFIX: &str = "erased:";

/// A page of events and the cursor for the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub events: Vec<Value>,
    pub next: Option<Cursor>,
}

fn ts_id(e: &Value) -> (i64, String) {
    (
        e["timestamp"].as_i64().unwrap_or(0),
        e["event_id"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Renders a stored event for the API: RFC 3339 times beside the ms values.
pub fn present(mut e: Value) -> Value {
    for (field, text) in [
        ("timestamp", "timestamp_iso"),
        ("received_at", "received_at_iso"),
    ] {
        if let Some(ms) = e[field].as_i64() {
            e[text] = Value::String(format_millis(ms));
        }
    }
    e
}

pub struct QueryService<'r> {
    pub reader: &'r dyn EventReader,
    pub project: &'r str,
}

impl QueryService<'_> {
    /// `GET /v1/events` and the timelines: newest first, `limit` per page.
    pub async fn events(
        &self,
        filter: &EventFilter,
        range: TimeRange,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, QueryError> {
        let mut out: Vec<Value> = Vec::new();
        if let Some(user) = &filter.user_id {
            self.read_timelines(
                &[user_key(Some(user), None)],
                filter,
                range,
                after.as_ref(),
                limit,
                &mut out,
            )
            .await?;
        } else if let Some(sid) = &filter.session_id {
            if let Some((user, first, last)) = self.reader.session(self.project, sid).await? {
                let r = TimeRange {
                    from: range.from.max(first),
                    to: range.to.min(last),
                };
                if r.from <= r.to {
                    self.read_timelines(&[user], filter, r, after.as_ref(), limit, &mut out)
                        .await?;
                }
            }
        } else if let Some(cid) = &filter.conversation_id {
            if let Some((users, first, last)) = self.reader.conversation(self.project, cid).await? {
                let r = TimeRange {
                    from: range.from.max(first),
                    to: range.to.min(last),
                };
                if r.from <= r.to {
                    self.read_timelines(&users, filter, r, after.as_ref(), limit, &mut out)
                        .await?;
                }
            }
        } else {
            self.read_time_index(filter, range, after.as_ref(), limit, &mut out)
                .await?;
        }
        let next = (out.len() > limit).then(|| {
            out.truncate(limit);
            let (ts, id) = ts_id(out.last().expect("limit ≥ 1"));
            Cursor { ts, id, range }
        });
        Ok(Page {
            events: out.into_iter().map(present).collect(),
            next,
        })
    }

    /// Merges the newest-first timelines of some users; collects limit + 1.
    async fn read_timelines(
        &self,
        users: &[String],
        filter: &EventFilter,
        range: TimeRange,
        after: Option<&Cursor>,
        limit: usize,
        out: &mut Vec<Value>,
    ) -> Result<(), QueryError> {
        for user in users {
            let mut before = after.cloned();
            let mut collected = 0;
            loop {
                let batch = self
                    .reader
                    .timeline(self.project, user, range, before.as_ref(), (limit + 1) * 2)
                    .await?;
                let exhausted = batch.len() < (limit + 1) * 2;
                for e in batch {
                    let (ts, id) = ts_id(&e);
                    before = Some(Cursor { ts, id, range });
                    if filter.matches(&e) {
                        out.push(e);
                        collected += 1;
                    }
                }
                if exhausted || collected > limit {
                    break;
                }
            }
        }
        out.sort_by_key(|e| std::cmp::Reverse(ts_id(e)));
        out.truncate(limit + 1);
        Ok(())
    }

    /// Walks the hours that have events (from the day rollups), newest
    /// first, through the time pages.
    async fn read_time_index(
        &self,
        filter: &EventFilter,
        range: TimeRange,
        after: Option<&Cursor>,
        limit: usize,
        out: &mut Vec<Value>,
    ) -> Result<(), QueryError> {
        let days = self
            .reader
            .day_rollups(self.project, &day_of(range.from), &day_of(range.to))
            .await?;
        let mut hours: Vec<String> = days
            .iter()
            .flat_map(|(day, c)| {
                c.keys().filter_map(move |k| {
                    k.strip_prefix(counter::HOUR).map(|h| format!("{day}T{h}"))
                })
            })
            .filter(|h| *h >= hour_of(range.from) && *h <= hour_of(range.to))
            .collect();
        hours.sort();
        hours.reverse();
        if let Some(c) = after {
            let start = hour_of(c.ts);
            hours.retain(|h| *h <= start);
        }
        for hour in hours {
            let refs: Vec<PageRef> = self
                .reader
                .hour_refs(self.project, &hour)
                .await?
                .into_iter()
                .filter(|r| r.ts >= range.from && r.ts <= range.to)
                .filter(|r| after.is_none_or(|c| c.before(r.ts, &r.id)))
                .filter(|r| filter.may_match(r))
                .collect();
            for chunk in refs.chunks(100) {
                let ids: Vec<String> = chunk.iter().map(|r| r.id.clone()).collect();
                let events = self.reader.get_events(self.project, &ids).await?;
                out.extend(events.into_iter().filter(|e| filter.matches(e)));
                if out.len() > limit {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// `GET /v1/conversations/{id}`: ordered by sequence then time, with the
    /// parent/child tree.
    pub async fn conversation(&self, conversation_id: &str) -> Result<Value, QueryError> {
        let Some((users, first, last)) = self
            .reader
            .conversation(self.project, conversation_id)
            .await?
        else {
            return Err(QueryError::NotFound(format!(
                "conversation {conversation_id}"
            )));
        };
        let filter = EventFilter {
            conversation_id: Some(conversation_id.to_owned()),
            ..Default::default()
        };
        let mut events = Vec::new();
        self.read_timelines(
            &users,
            &filter,
            TimeRange {
                from: first,
                to: last,
            },
            None,
            10_000,
            &mut events,
        )
        .await?;
        events.sort_by(|a, b| {
            let key = |e: &Value| (e["sequence"].as_u64().unwrap_or(u64::MAX), ts_id(e));
            key(a).cmp(&key(b))
        });
        let (tree, orphans) = build_tree(&events);
        Ok(json!({
            "conversation_id": conversation_id,
            "events": events.into_iter().map(present).collect::<Vec<_>>(),
            "tree": tree,
            "orphans": orphans,
        }))
    }

    /// The user-day sets of every day in the range: one request per day,
    /// [`USER_DAY_READS`] at a time.
    async fn user_days(&self, range: TimeRange) -> Result<Vec<BTreeMap<String, u64>>, QueryError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let days = range.days();
        // Collected first: a lazy `map` closure in the stream makes the
        // handler's future fail the `Send` check.
        let reads: Vec<_> = days
            .iter()
            .map(|day| self.reader.user_days(self.project, day))
            .collect();
        Ok(stream::iter(reads)
            .buffered(USER_DAY_READS)
            .try_collect()
            .await?)
    }

    pub async fn summary(&self, range: TimeRange) -> Result<Value, QueryError> {
        let days = self
            .reader
            .day_rollups(self.project, &day_of(range.from), &day_of(range.to))
            .await?;
        let mut users = HashSet::new();
        for day in self.user_days(range).await? {
            users.extend(day.into_keys());
        }
        Ok(summarize(&days, users.len() as u64, range))
    }

    pub async fn daily(&self, range: TimeRange) -> Result<Value, QueryError> {
        let days = self
            .reader
            .day_rollups(self.project, &day_of(range.from), &day_of(range.to))
            .await?;
        let rows: Vec<Value> = range
            .days()
            .iter()
            .map(|d| {
                let empty = BTreeMap::new();
                let c = days.get(d).unwrap_or(&empty);
                let get = |k: &str| c.get(k).copied().unwrap_or(0);
                json!({
                    "date": d,
                    "events": get(counter::EVENTS),
                    "active_users": get(counter::USERS),
                    "sessions": get(counter::SESSIONS),
                    "errors": get(counter::ERRORS),
                    "avg_duration_ms": avg(get(counter::DURATION_SUM), get(counter::DURATION_COUNT)),
                })
            })
            .collect();
        Ok(json!({ "days": rows }))
    }

    pub async fn top_users(&self, range: TimeRange, limit: usize) -> Result<Value, QueryError> {
        let mut totals: HashMap<String, u64> = HashMap::new();
        for day in self.user_days(range).await? {
            for (user, n) in day {
                if !user.starts_with(ERASED_PREFIX) {
                    *totals.entry(user).or_default() += n;
                }
            }
        }
        let mut users: Vec<(String, u64)> = totals.into_iter().collect();
        users.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        users.truncate(limit);
        let list: Vec<Value> = users
            .into_iter()
            .map(|(key, n)| {
                let (kind, id) = key.split_once(':').unwrap_or(("u", &key));
                if kind == "a" {
                    json!({"anonymous_id": id, "events": n})
                } else {
                    json!({"user_id": id, "events": n})
                }
            })
            .collect();
        Ok(json!({ "users": list }))
    }

    pub async fn timeseries(
        &self,
        range: TimeRange,
        hourly: bool,
        event_type: Option<&str>,
    ) -> Result<Value, QueryError> {
        let key = event_type.map_or(counter::EVENTS.to_owned(), |t| {
            format!("{}{t}", counter::TYPE)
        });
        let (from_day, to_day) = (day_of(range.from), day_of(range.to));
        let points: Vec<Value> = if hourly {
            let hours = self
                .reader
                .hour_rollups(self.project, &from_day, &to_day)
                .await?;
            let mut t = range.from - range.from.rem_euclid(3_600_000);
            let mut out = Vec::new();
            while t <= range.to {
                let h = hour_of(t);
                let n = hours
                    .get(&h)
                    .and_then(|c| c.get(&key))
                    .copied()
                    .unwrap_or(0);
                out.push(json!({"t": format_millis(t), "events": n}));
                t += 3_600_000;
            }
            out
        } else {
            let days = self
                .reader
                .day_rollups(self.project, &from_day, &to_day)
                .await?;
            range
                .days()
                .iter()
                .map(|d| json!({"t": d, "events": days.get(d).and_then(|c| c.get(&key)).copied().unwrap_or(0)}))
                .collect()
        };
        Ok(json!({"interval": if hourly { "hour" } else { "day" }, "points": points}))
    }

    /// Erases a user's events and those of the anonymous ids their
    /// `identify` events linked. Rollups keep their counts.
    pub async fn erase_user(&self, user_id: &str) -> Result<usize, QueryError> {
        let everything = TimeRange {
            from: 0,
            to: i64::MAX / 2,
        };
        let mut keys = vec![user_key(Some(user_id), None)];
        let mut erased = 0;
        let mut i = 0;
        while i < keys.len() {
            let mut events = Vec::new();
            self.read_timelines(
                &keys[i..=i],
                &EventFilter::default(),
                everything,
                None,
                usize::MAX / 4,
                &mut events,
            )
            .await?;
            for e in &events {
                if e["type"] == "identify" || e["type"] == "alias" {
                    if let Some(anon) = e["anonymous_id"].as_str() {
                        let k = user_key(None, Some(anon));
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                }
            }
            let ids: Vec<String> = events.iter().map(|e| ts_id(e).1).collect();
            erased += self.reader.delete_events(self.project, &ids).await?;
            let set = |field: &str| -> Vec<String> {
                events
                    .iter()
                    .filter_map(|e| e[field].as_str().map(str::to_owned))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            };
            let days: Vec<String> = events
                .iter()
                .map(|e| day_of(ts_id(e).0))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            self.reader
                .erase_memberships(
                    self.project,
                    &keys[i],
                    &days,
                    &set("session_id"),
                    &set("conversation_id"),
                )
                .await?;
            i += 1;
        }
        Ok(erased)
    }
}

fn avg(sum: u64, n: u64) -> Value {
    if n == 0 {
        Value::Null
    } else {
        json!(((sum as f64 / n as f64) * 10.0).round() / 10.0)
    }
}

/// The summary from day rollups (unique users computed by the caller, since
/// they cannot be summed over days).
pub fn summarize(
    days: &BTreeMap<String, BTreeMap<String, u64>>,
    unique_users: u64,
    range: TimeRange,
) -> Value {
    let mut total: BTreeMap<&str, u64> = [
        counter::EVENTS,
        counter::SESSIONS,
        counter::ERRORS,
        counter::DURATION_SUM,
        counter::DURATION_COUNT,
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect();
    let by = |prefix: &str| -> Map<String, Value> {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for c in days.values() {
            for (k, v) in c {
                if let Some(name) = k.strip_prefix(prefix) {
                    *m.entry(name.to_owned()).or_default() += v;
                }
            }
        }
        m.into_iter().map(|(k, v)| (k, json!(v))).collect()
    };
    let (by_category, by_type, by_status, by_action) = (
        by(counter::CATEGORY),
        by(counter::TYPE),
        by(counter::STATUS),
        by(counter::ACTION),
    );
    for c in days.values() {
        for (k, sum) in total.iter_mut() {
            *sum += c.get(*k).copied().unwrap_or(0);
        }
    }
    let most_active_day = days
        .iter()
        .map(|(d, c)| (c.get(counter::EVENTS).copied().unwrap_or(0), d))
        .filter(|(n, _)| *n > 0)
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(n, d)| json!({"date": d, "events": n}));
    let most_common_action = by_action
        .iter()
        .max_by(|a, b| a.1.as_u64().cmp(&b.1.as_u64()).then_with(|| b.0.cmp(a.0)))
        .map(|(a, n)| json!({"action": a, "events": n}));
    json!({
        "from": format_millis(range.from),
        "to": format_millis(range.to),
        "total_events": total[counter::EVENTS],
        "unique_users": unique_users,
        "sessions": total[counter::SESSIONS],
        "errors": total[counter::ERRORS],
        "events_by_category": by_category,
        "events_by_type": by_type,
        "events_by_status": by_status,
        "most_active_day": most_active_day,
        "most_common_action": most_common_action,
        "avg_duration_ms": avg(total[counter::DURATION_SUM], total[counter::DURATION_COUNT]),
    })
}

/// Builds the parent/child forest from `parent_id`. Events whose parent is
/// not in the conversation are orphans (listed, and roots of their own
/// subtrees). A cycle cannot loop: each event is placed once.
pub fn build_tree(events: &[Value]) -> (Vec<Value>, Vec<String>) {
    let ids: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut roots = Vec::new();
    let mut orphans = Vec::new();
    for e in events {
        let Some(id) = e["event_id"].as_str() else {
            continue;
        };
        match e["parent_id"].as_str() {
            Some(p) if ids.contains(p) && p != id => children.entry(p).or_default().push(id),
            Some(_) => {
                orphans.push(id.to_owned());
                roots.push(id);
            }
            None => roots.push(id),
        }
    }
    let mut placed: HashSet<&str> = HashSet::new();
    fn node<'a>(
        id: &'a str,
        children: &BTreeMap<&'a str, Vec<&'a str>>,
        placed: &mut HashSet<&'a str>,
    ) -> Value {
        placed.insert(id);
        let mut kids = Vec::new();
        for k in children.get(id).map(Vec::as_slice).unwrap_or_default() {
            // Checked at each step: a deeper child may already have placed it.
            if !placed.contains(k) {
                kids.push(node(k, children, placed));
            }
        }
        json!({"event_id": id, "children": kids})
    }
    let mut tree: Vec<Value> = roots
        .iter()
        .map(|r| node(r, &children, &mut placed))
        .collect();
    // Members of a pure cycle have no root: list them from their first member.
    for e in events {
        if let Some(id) = e["event_id"].as_str() {
            if !placed.contains(id) {
                orphans.push(id.to_owned());
                tree.push(node(id, &children, &mut placed));
            }
        }
    }
    (tree, orphans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            &["from", "to", "days", "limit", "status", "type", "cursor"],
        )
        .unwrap()
    }

    const NOW: i64 = 1_795_313_201_000; // 2026-11-22T02:06:41Z

    #[test]
    fn ranges_and_their_errors() {
        let r = parse_range(&params(&[("days", "7")]), 7, 365, NOW).unwrap();
        assert_eq!(r.days().len(), 7);
        assert_eq!(r.days().last().unwrap(), "2026-11-22");
        let r = parse_range(
            &params(&[("from", "2026-11-01"), ("to", "2026-11-03")]),
            7,
            365,
            NOW,
        )
        .unwrap();
        assert_eq!(r.days(), vec!["2026-11-01", "2026-11-02", "2026-11-03"]);
        let err = |p: &[(&str, &str)]| match parse_range(&params(p), 7, 30, NOW).unwrap_err() {
            QueryError::BadParameter { parameter, .. } => parameter,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(&[("from", "2026-11-05"), ("to", "2026-11-03")]), "from");
        assert_eq!(err(&[("days", "31")]), "days");
        assert_eq!(err(&[("days", "0")]), "days");
        assert_eq!(err(&[("from", "yesterday")]), "from");
        assert_eq!(err(&[("days", "3"), ("from", "2026-11-01")]), "days");
        assert!(matches!(
            Params::new(vec![("bogus".into(), "1".into())], &["days"]),
            Err(QueryError::BadParameter { .. })
        ));
    }

    #[test]
    fn cursors_are_tamper_checked_and_bound_to_their_query() {
        let f = EventFilter::default();
        let c = Cursor {
            ts: 5,
            id: "e#1".into(),
            range: TimeRange { from: 0, to: 10 },
        };
        let text = c.encode(b"secret", &f);
        assert_eq!(Cursor::decode(&text, b"secret", &f).unwrap(), c);
        let tampered = text.replacen('5', "6", 1);
        assert!(Cursor::decode(&tampered, b"secret", &f).is_err());
        assert!(Cursor::decode(&text, b"other", &f).is_err());
        let other = EventFilter {
            event_type: Some("x".into()),
            ..Default::default()
        };
        assert!(Cursor::decode(&text, b"secret", &other).is_err());
        assert!(Cursor::decode("garbage", b"secret", &f).is_err());
    }

    #[test]
    fn tree_with_orphans_and_cycles() {
        let e = |id: &str, parent: Option<&str>| json!({"event_id": id, "parent_id": parent});
        let events = vec![
            e("a", None),
            e("b", Some("a")),
            e("c", Some("b")),
            e("d", Some("zz")),
            e("x", Some("y")),
            e("y", Some("x")),
        ];
        let (tree, orphans) = build_tree(&events);
        assert_eq!(
            tree[0],
            json!({"event_id": "a", "children": [{"event_id": "b", "children": [{"event_id": "c", "children": []}]}]})
        );
        assert_eq!(tree[1], json!({"event_id": "d", "children": []}));
        assert_eq!(orphans, vec!["d", "x"]);
        assert_eq!(tree.len(), 3, "the x/y cycle appears once");
    }

    #[test]
    fn summary_from_rollups() {
        let mut days = BTreeMap::new();
        days.insert(
            "2026-11-20".to_owned(),
            BTreeMap::from([
                ("events".to_owned(), 3),
                ("t:a_b".to_owned(), 3),
                ("a:b".to_owned(), 3),
                ("dur_sum".to_owned(), 30),
                ("dur_n".to_owned(), 2),
            ]),
        );
        days.insert(
            "2026-11-21".to_owned(),
            BTreeMap::from([
                ("events".to_owned(), 5),
                ("t:c_d".to_owned(), 5),
                ("a:d".to_owned(), 5),
                ("errors".to_owned(), 1),
                ("s:failed".to_owned(), 1),
            ]),
        );
        let s = summarize(&days, 4, TimeRange { from: 0, to: 1 });
        assert_eq!(s["total_events"], 8);
        assert_eq!(s["unique_users"], 4);
        assert_eq!(s["events_by_type"], json!({"a_b": 3, "c_d": 5}));
        assert_eq!(
            s["most_active_day"],
            json!({"date": "2026-11-21", "events": 5})
        );
        assert_eq!(s["most_common_action"], json!({"action": "d", "events": 5}));
        assert_eq!(s["avg_duration_ms"], 15.0);
        assert_eq!(s["events_by_status"], json!({"failed": 1}));
    }

    #[test]
    fn summary_of_a_project_without_events_is_zero_not_a_panic() {
        let s = summarize(&BTreeMap::new(), 0, TimeRange { from: 0, to: 1 });
        assert_eq!(
            (
                s["total_events"].clone(),
                s["sessions"].clone(),
                s["errors"].clone()
            ),
            (json!(0), json!(0), json!(0))
        );
        assert_eq!(s["most_active_day"], Value::Null);
    }
}
