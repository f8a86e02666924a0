//! The live tail and per-user monitoring.
//!
//! - **Live index.** After a message's rollups are applied (once per
//!   message, so a redelivery adds nothing), the consumer writes one small
//!   item listing the ids of the events it stored, keyed by the minute and
//!   millisecond it wrote them. `GET /v1/live` reads the minutes after its
//!   cursor and fetches those events. Readers stop [`SETTLE_MS`] short of
//!   now, so an item stamped just before a slow write still lands before
//!   any reader passes its stamp.
//! - **Monitoring.** An operator turns monitoring on for one user for N
//!   hours. While it lasts, the consumer copies that user's events with
//!   every property into a debug partition whose items expire with the
//!   window. Monitoring itself is an item with a TTL: it ends by itself.
//!
//! Both are debugging aids. They are written best effort after the events
//! and rollups: a failure is logged and never fails the message.

use crate::consume::StoreError;
use crate::query::QueryError;
use crate::time::DAY_MS;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How far back the live tail reaches.
pub const LIVE_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Readers do not look at the last second: writes stamped in it may still be
/// in flight.
pub const SETTLE_MS: i64 = 1000;
/// Live index items are deleted by TTL a day after they are written.
pub const LIVE_ITEM_TTL_MS: i64 = DAY_MS;
/// Ids per live index item (≈ 37 B each keeps an item far below 400 KB).
pub const MAX_IDS_PER_ENTRY: usize = 1000;
/// The longest monitoring window.
pub const MAX_MONITOR_HOURS: f64 = 168.0;

/// A user under monitoring, until `until_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    pub user_id: String,
    pub since_ms: i64,
    pub until_ms: i64,
}

/// The ids of the events one message stored, as the live index keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEntry {
    pub project_id: String,
    pub written_ms: i64,
    pub message_id: String,
    pub part: usize,
    pub ids: Vec<String>,
}

impl LiveEntry {
    /// Sort key: written time first, so a range read is a time range.
    pub fn sort_key(&self) -> String {
        format!("{:013}#{}#{}", self.written_ms, self.message_id, self.part)
    }
}

/// A monitored user's event, with every property, kept until the window ends.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugRecord {
    pub project_id: String,
    pub user_id: String,
    pub received_at: i64,
    pub event_id: String,
    /// The stored event JSON.
    pub json: String,
    /// Epoch seconds: the end of the monitoring window.
    pub expires_at: i64,
}

impl DebugRecord {
    /// Received time first; the same event always gets the same key, so a
    /// redelivered message rewrites rather than repeats it.
    pub fn sort_key(&self) -> String {
        format!("{:013}#{}", self.received_at, self.event_id)
    }
}

/// Where live items, debug records and monitors live. The DynamoDB adapter
/// implements it.
#[async_trait]
pub trait LiveStore: Send + Sync {
    /// Active monitors of a project (window not over at `now_ms`).
    async fn monitors(&self, project: &str, now_ms: i64) -> Result<Vec<Monitor>, StoreError>;
    /// Starts or replaces a user's monitoring window.
    async fn start_monitor(&self, project: &str, monitor: &Monitor) -> Result<(), StoreError>;
    /// Ends a user's monitoring; was there one?
    async fn stop_monitor(&self, project: &str, user_id: &str) -> Result<bool, StoreError>;
    /// Right to be forgotten: the user's monitor and recorded events go.
    async fn erase_user(&self, project: &str, user_id: &str) -> Result<(), StoreError>;
    async fn put_live(&self, entries: &[LiveEntry]) -> Result<(), StoreError>;
    async fn put_debug(&self, records: &[DebugRecord]) -> Result<(), StoreError>;
    /// Live items of one minute (`YYYY-MM-DDTHH:MM`) with sort keys in
    /// (`after`, `upto`], ascending or newest first, at most `limit`.
    async fn live_entries(
        &self,
        project: &str,
        minute: &str,
        after: &str,
        upto: &str,
        newest_first: bool,
        limit: usize,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError>;
    /// A user's debug events (sort key, stored JSON) after `after`,
    /// ascending, or the latest `limit` when `after` is `None`; expired ones
    /// are left out.
    async fn debug_events(
        &self,
        project: &str,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
        now_ms: i64,
    ) -> Result<Vec<(String, Value)>, StoreError>;
}

/// The consumer's view of monitors: one read per project per `ttl`, because
/// every batch asks.
pub struct MonitorCache {
    store: Arc<dyn LiveStore>,
    ttl: Duration,
    entries: Mutex<HashMap<String, Fetched>>,
}

/// A project's monitors and when they were read.
type Fetched = (Instant, Arc<Vec<Monitor>>);

impl MonitorCache {
    pub fn new(store: Arc<dyn LiveStore>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Arc<dyn LiveStore> {
        &self.store
    }

    /// Monitors of a project, from the cache when fresh. A failed read
    /// counts as none (monitoring is best effort) and is retried next batch.
    pub async fn monitors(&self, project: &str, now_ms: i64) -> Arc<Vec<Monitor>> {
        if let Some((at, list)) = self.entries.lock().expect("not poisoned").get(project) {
            if at.elapsed() < self.ttl {
                return list.clone();
            }
        }
        match self.store.monitors(project, now_ms).await {
            Ok(list) => {
                let list = Arc::new(list);
                self.entries
                    .lock()
                    .expect("not poisoned")
                    .insert(project.to_owned(), (Instant::now(), list.clone()));
                list
            }
            Err(e) => {
                tracing::warn!(project_id = project, error = %e, "cannot read monitors");
                Arc::new(Vec::new())
            }
        }
    }
}

/// The monitor matching an event's user at `now_ms`, if any.
pub fn monitor_for<'m>(
    monitors: &'m [Monitor],
    user_id: Option<&str>,
    anonymous_id: Option<&str>,
    now_ms: i64,
) -> Option<&'m Monitor> {
    monitors.iter().find(|m| {
        m.until_ms > now_ms
            && (Some(m.user_id.as_str()) == user_id || Some(m.user_id.as_str()) == anonymous_id)
    })
}

/// Live index items for one message's stored events, split so none is big.
pub fn live_entries_of(
    project_id: &str,
    message_id: &str,
    written_ms: i64,
    ids: &[String],
) -> Vec<LiveEntry> {
    ids.chunks(MAX_IDS_PER_ENTRY)
        .enumerate()
        .map(|(part, chunk)| LiveEntry {
            project_id: project_id.to_owned(),
            written_ms,
            message_id: message_id.to_owned(),
            part,
            ids: chunk.to_vec(),
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM` (UTC) of a time: the live index partition.
pub fn minute_of(ms: i64) -> String {
    let hour = crate::time::hour_of(ms);
    format!("{hour}:{:02}", (ms.rem_euclid(3_600_000)) / 60_000)
}

/// Where a live reader stands: after this sort key, with `skip` ids of the
/// item at that key already returned when it was cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCursor {
    pub sort_key: String,
    pub skip: usize,
}

impl LiveCursor {
    /// A cursor that lies after every item written up to `ms`.
    pub fn after_millis(ms: i64) -> Self {
        // '~' sorts after every character a message id uses.
        Self {
            sort_key: format!("{ms:013}#~"),
            skip: 0,
        }
    }

    fn millis(&self) -> i64 {
        self.sort_key
            .get(..13)
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", hex::encode(self.sort_key.as_bytes()), self.skip)
    }

    pub fn decode(text: &str, parameter: &str) -> Result<Self, QueryError> {
        let invalid = || QueryError::BadParameter {
            parameter: parameter.into(),
            message: "is not a cursor this endpoint returned".into(),
        };
        let (key, skip) = text.split_once('.').ok_or_else(invalid)?;
        let sort_key = hex::decode(key)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|k| k.len() >= 13 && k.as_bytes()[..13].iter().all(u8::is_ascii_digit))
            .ok_or_else(invalid)?;
        let skip = skip.parse().map_err(|_| invalid())?;
        Ok(Self { sort_key, skip })
    }
}

/// What one live read found: event ids in the order they were stored, and
/// where the next read starts.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveIds {
    pub ids: Vec<String>,
    pub next: LiveCursor,
    pub more: bool,
}

/// Reads the live index: the ids stored after `since` (or the latest
/// `limit` when there is no cursor), oldest first.
pub async fn live_ids(
    store: &dyn LiveStore,
    project: &str,
    since: Option<LiveCursor>,
    limit: usize,
    now_ms: i64,
) -> Result<LiveIds, StoreError> {
    let upto_ms = now_ms - SETTLE_MS;
    let upto = LiveCursor::after_millis(upto_ms).sort_key;
    let floor = LiveCursor {
        sort_key: format!("{:013}", now_ms - LIVE_WINDOW_MS),
        skip: 0,
    };
    let minutes = |from_ms: i64| {
        let mut out = Vec::new();
        let mut m = from_ms - from_ms.rem_euclid(60_000);
        while m <= upto_ms {
            out.push(minute_of(m));
            m += 60_000;
        }
        out
    };
    match since {
        None => {
            // Newest first until `limit` ids, then turned around.
            let mut found: Vec<(String, Vec<String>)> = Vec::new();
            let mut count = 0;
            for minute in minutes(now_ms - LIVE_WINDOW_MS).iter().rev() {
                if count >= limit {
                    break;
                }
                for entry in store
                    .live_entries(project, minute, &floor.sort_key, &upto, true, limit)
                    .await?
                {
                    if count >= limit {
                        break;
                    }
                    count += entry.1.len();
                    found.push(entry);
                }
            }
            found.reverse();
            let mut ids: Vec<String> = found.into_iter().flat_map(|(_, ids)| ids).collect();
            if ids.len() > limit {
                ids.drain(..ids.len() - limit);
            }
            Ok(LiveIds {
                ids,
                next: LiveCursor::after_millis(upto_ms),
                more: false,
            })
        }
        Some(cursor) => {
            let cursor = if cursor.millis() < now_ms - LIVE_WINDOW_MS {
                floor
            } else {
                cursor
            };
            let mut ids = Vec::new();
            let mut next = cursor.clone();
            for minute in minutes(cursor.millis()) {
                // The item the cursor stands in is read again for its rest.
                let after = if cursor.skip > 0 {
                    let mut k = cursor.sort_key.clone();
                    k.pop();
                    k
                } else {
                    cursor.sort_key.clone()
                };
                for (key, entry_ids) in store
                    .live_entries(project, &minute, &after, &upto, false, limit + 1)
                    .await?
                {
                    let skip = if key == cursor.sort_key {
                        cursor.skip
                    } else if key <= cursor.sort_key {
                        continue;
                    } else {
                        0
                    };
                    let rest = entry_ids.len().saturating_sub(skip);
                    let room = limit - ids.len();
                    if rest > room {
                        ids.extend(entry_ids.into_iter().skip(skip).take(room));
                        return Ok(LiveIds {
                            ids,
                            next: LiveCursor {
                                sort_key: key,
                                skip: skip + room,
                            },
                            more: true,
                        });
                    }
                    ids.extend(entry_ids.into_iter().skip(skip));
                    next = LiveCursor {
                        sort_key: key,
                        skip: 0,
                    };
                    if ids.len() == limit {
                        return Ok(LiveIds {
                            ids,
                            next,
                            more: true,
                        });
                    }
                }
            }
            let settled = LiveCursor::after_millis(upto_ms);
            Ok(LiveIds {
                ids,
                next: if settled.sort_key > next.sort_key {
                    settled
                } else {
                    next
                },
                more: false,
            })
        }
    }
}

/// Parses `ttl_hours`: a number above 0 and at most 168.
pub fn parse_ttl_hours(text: Option<&str>) -> Result<f64, QueryError> {
    let bad = |m: &str| QueryError::BadParameter {
        parameter: "ttl_hours".into(),
        message: m.into(),
    };
    let Some(text) = text else {
        return Ok(24.0);
    };
    let hours: f64 = text
        .trim()
        .parse()
        .map_err(|_| bad("must be a number of hours"))?;
    if !hours.is_finite() || hours <= 0.0 || hours > MAX_MONITOR_HOURS {
        return Err(bad("must be above 0 and at most 168"));
    }
    Ok(hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live items only; the other methods are not used by `live_ids`.
    #[derive(Default)]
    struct Entries(Mutex<Vec<(String, String, Vec<String>)>>);

    #[async_trait]
    impl LiveStore for Entries {
        async fn monitors(&self, _: &str, _: i64) -> Result<Vec<Monitor>, StoreError> {
            Ok(vec![])
        }
        async fn start_monitor(&self, _: &str, _: &Monitor) -> Result<(), StoreError> {
            Ok(())
        }
        async fn stop_monitor(&self, _: &str, _: &str) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn erase_user(&self, _: &str, _: &str) -> Result<(), StoreError> {
            Ok(())
        }
        async fn put_live(&self, entries: &[LiveEntry]) -> Result<(), StoreError> {
            let mut all = self.0.lock().unwrap();
            for e in entries {
                all.push((minute_of(e.written_ms), e.sort_key(), e.ids.clone()));
            }
            Ok(())
        }
        async fn put_debug(&self, _: &[DebugRecord]) -> Result<(), StoreError> {
            Ok(())
        }
        async fn live_entries(
            &self,
            _: &str,
            minute: &str,
            after: &str,
            upto: &str,
            newest_first: bool,
            limit: usize,
        ) -> Result<Vec<(String, Vec<String>)>, StoreError> {
            let mut v: Vec<(String, Vec<String>)> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|(m, k, _)| m == minute && k.as_str() > after && k.as_str() <= upto)
                .map(|(_, k, ids)| (k.clone(), ids.clone()))
                .collect();
            v.sort();
            if newest_first {
                v.reverse();
            }
            v.truncate(limit);
            Ok(v)
        }
        async fn debug_events(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
            _: usize,
            _: i64,
        ) -> Result<Vec<(String, Value)>, StoreError> {
            Ok(vec![])
        }
    }

    fn ids(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    const T0: i64 = 1_795_305_600_000;

    #[tokio::test]
    async fn walks_every_id_once_across_minutes_and_cut_items() {
        let store = Entries::default();
        // Three messages over two minutes, then one past the settle line.
        for (ms, msg, n) in [
            (T0 + 10_000, "m1", 5),
            (T0 + 59_999, "m2", 7),
            (T0 + 61_000, "m3", 3),
        ] {
            store
                .put_live(&live_entries_of("p", msg, ms, &ids(msg, n)))
                .await
                .unwrap();
        }
        let now = T0 + 62_500; // m3 settled (written ≥ 1 s ago)
        let mut cursor = Some(LiveCursor::after_millis(T0));
        let mut seen = Vec::new();
        for _ in 0..10 {
            let page = live_ids(&store, "p", cursor.clone(), 4, now).await.unwrap();
            assert!(page.ids.len() <= 4);
            seen.extend(page.ids);
            cursor = Some(page.next);
            if !page.more {
                break;
            }
        }
        let mut want = ids("m1", 5);
        want.extend(ids("m2", 7));
        want.extend(ids("m3", 3));
        assert_eq!(seen, want, "every id once, in stored order");
        // A later write is found from the final cursor, nothing repeats.
        store
            .put_live(&live_entries_of("p", "m4", T0 + 63_000, &ids("m4", 2)))
            .await
            .unwrap();
        let page = live_ids(&store, "p", cursor, 100, T0 + 70_000)
            .await
            .unwrap();
        assert_eq!(page.ids, ids("m4", 2));
    }

    #[tokio::test]
    async fn without_cursor_gives_the_latest_and_skips_unsettled() {
        let store = Entries::default();
        store
            .put_live(&live_entries_of("p", "old", T0, &ids("o", 3)))
            .await
            .unwrap();
        store
            .put_live(&live_entries_of("p", "new", T0 + 120_000, &ids("n", 3)))
            .await
            .unwrap();
        store
            .put_live(&live_entries_of("p", "fresh", T0 + 120_600, &ids("f", 1)))
            .await
            .unwrap();
        let page = live_ids(&store, "p", None, 4, T0 + 121_000).await.unwrap();
        assert_eq!(page.ids, ["o2", "n0", "n1", "n2"], "latest 4, oldest first");
        // The unsettled write comes with the next poll.
        let next = live_ids(&store, "p", Some(page.next), 10, T0 + 125_000)
            .await
            .unwrap();
        assert_eq!(next.ids, ["f0"]);
        // Items older than the window are not read.
        let late = live_ids(&store, "p", None, 10, T0 + LIVE_WINDOW_MS + 60_000)
            .await
            .unwrap();
        assert!(!late.ids.contains(&"o0".to_string()));
    }

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = LiveCursor {
            sort_key: "1795305600000#m#0".into(),
            skip: 3,
        };
        assert_eq!(LiveCursor::decode(&c.encode(), "since").unwrap(), c);
        for junk in [
            "",
            "zz.1",
            "61.1",
            &format!("{}.x", hex::encode("1795305600000#a")),
        ] {
            assert!(LiveCursor::decode(junk, "since").is_err(), "{junk}");
        }
    }

    #[test]
    fn ttl_hours_bounds() {
        assert_eq!(parse_ttl_hours(None).unwrap(), 24.0);
        assert_eq!(parse_ttl_hours(Some("0.5")).unwrap(), 0.5);
        for bad in ["0", "-1", "169", "NaN", "inf", "x"] {
            assert!(parse_ttl_hours(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn monitor_matches_user_or_anonymous_id_while_active() {
        let m = vec![Monitor {
            user_id: "a".into(),
            since_ms: 0,
            until_ms: 100,
        }];
        assert!(monitor_for(&m, Some("a"), None, 50).is_some());
        assert!(monitor_for(&m, None, Some("a"), 50).is_some());
        assert!(monitor_for(&m, Some("b"), None, 50).is_none());
        assert!(monitor_for(&m, Some("a"), None, 100).is_none(), "expired");
    }

    #[test]
    fn minutes_are_utc() {
        assert_eq!(minute_of(T0 + 61_000), "2026-11-22T00:01");
    }
}
