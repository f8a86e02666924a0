//! Rollup deltas: what one queue message adds to the daily and hourly
//! counters, the user-day and session memberships and the conversation
//! index. Pure: the same owned events always give the same delta, which is
//! what lets a store apply it exactly once under the message's marker.

use crate::event::{Event, Status};
use crate::time::hour_of;
use std::collections::{BTreeMap, BTreeSet};

/// Counter names inside a day item (`events`, `errors`, `dur_sum`, `dur_n`,
/// and one per type `t:`, category `c:`, action `a:`, status `s:` and hour `h:`).
pub mod counter {
    pub const EVENTS: &str = "events";
    pub const ERRORS: &str = "errors";
    pub const DURATION_SUM: &str = "dur_sum";
    pub const DURATION_COUNT: &str = "dur_n";
    /// Set by the store when a user-day or session-day is new.
    pub const USERS: &str = "users";
    pub const SESSIONS: &str = "sessions";
    pub const TYPE: &str = "t:";
    pub const CATEGORY: &str = "c:";
    pub const ACTION: &str = "a:";
    pub const STATUS: &str = "s:";
    pub const HOUR: &str = "h:";
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDelta {
    pub user_key: String,
    pub first_ts: i64,
    pub last_ts: i64,
    pub days: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationDelta {
    pub user_keys: BTreeSet<String>,
    pub first_ts: i64,
    pub last_ts: i64,
}

/// Everything one message (or one part of it) contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageDelta {
    /// Unique per message part; the store writes it with the deltas.
    pub marker: String,
    pub project_id: String,
    pub retention_days: u32,
    /// day → counter → amount
    pub days: BTreeMap<String, BTreeMap<String, u64>>,
    /// hour → counter (`events`, `t:{type}`) → amount
    pub hours: BTreeMap<String, BTreeMap<String, u64>>,
    /// (day, user key) → events
    pub user_days: BTreeMap<(String, String), u64>,
    pub sessions: BTreeMap<String, SessionDelta>,
    pub conversations: BTreeMap<String, ConversationDelta>,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
    match map.get_mut(key) {
        // Durations are capped per event (MAX_DURATION_MS); saturating keeps
        // a pathological message from panicking in debug builds all the same.
        Some(v) => *v = v.saturating_add(by),
        None => {
            map.insert(key.to_owned(), by);
        }
    }
}

/// `prefix` + `name` in a reused buffer: no allocation when the counter exists.
fn bump_named(
    map: &mut BTreeMap<String, u64>,
    buf: &mut String,
    prefix: &str,
    name: &str,
    by: u64,
) {
    buf.clear();
    buf.push_str(prefix);
    buf.push_str(name);
    bump(map, buf, by);
}

impl MessageDelta {
    pub fn new(
        marker: impl Into<String>,
        project_id: impl Into<String>,
        retention_days: u32,
    ) -> Self {
        Self {
            marker: marker.into(),
            project_id: project_id.into(),
            retention_days,
            ..Default::default()
        }
    }

    /// Adds one stored event.
    pub fn add(&mut self, e: &Event<'_>, user_key: &str) {
        use counter::*;
        let hour = hour_of(e.timestamp);
        let day = &hour[..10];
        let mut buf = String::with_capacity(64);
        let d = match self.days.get_mut(day) {
            Some(d) => d,
            None => self.days.entry(day.to_owned()).or_default(),
        };
        bump(d, EVENTS, 1);
        bump_named(d, &mut buf, TYPE, &e.event_type, 1);
        bump_named(d, &mut buf, CATEGORY, &e.category, 1);
        if let Some(a) = &e.action {
            bump_named(d, &mut buf, ACTION, a, 1);
        }
        if let Some(s) = e.status {
            bump_named(d, &mut buf, STATUS, s.as_str(), 1);
            if s == Status::Failed {
                bump(d, ERRORS, 1);
            }
        }
        if let Some(ms) = e.duration_ms {
            bump(d, DURATION_SUM, ms);
            bump(d, DURATION_COUNT, 1);
        }
        bump_named(d, &mut buf, HOUR, &hour[11..], 1);
        let h = match self.hours.get_mut(&hour) {
            Some(h) => h,
            None => self.hours.entry(hour.clone()).or_default(),
        };
        bump(h, EVENTS, 1);
        bump_named(h, &mut buf, TYPE, &e.event_type, 1);
        // Most messages hold one user's events: check the largest key (often
        // the only one) before building an owned key to look up.
        match self.user_days.iter_mut().next_back() {
            Some(((d, u), n)) if d == day && u == user_key => *n += 1,
            _ => {
                *self
                    .user_days
                    .entry((day.to_owned(), user_key.to_owned()))
                    .or_default() += 1
            }
        }
        if let Some(sid) = &e.session_id {
            let s = match self.sessions.get_mut(sid.as_ref()) {
                Some(s) => s,
                None => self
                    .sessions
                    .entry(sid.to_string())
                    .or_insert_with(|| SessionDelta {
                        user_key: user_key.to_owned(),
                        first_ts: e.timestamp,
                        last_ts: e.timestamp,
                        days: BTreeSet::new(),
                    }),
            };
            s.first_ts = s.first_ts.min(e.timestamp);
            s.last_ts = s.last_ts.max(e.timestamp);
            if !s.days.contains(day) {
                s.days.insert(day.to_owned());
            }
        }
        if let Some(cid) = &e.conversation_id {
            let c = self
                .conversations
                .entry(cid.to_string())
                .or_insert_with(|| ConversationDelta {
                    user_keys: BTreeSet::new(),
                    first_ts: e.timestamp,
                    last_ts: e.timestamp,
                });
            c.user_keys.insert(user_key.to_owned());
            c.first_ts = c.first_ts.min(e.timestamp);
            c.last_ts = c.last_ts.max(e.timestamp);
        }
    }

    /// Items this delta writes besides its marker: day and hour counters,
    /// memberships, and the day items that new memberships bump.
    pub fn item_count(&self) -> usize {
        let mut days: BTreeSet<&str> = self.days.keys().map(String::as_str).collect();
        days.extend(self.user_days.keys().map(|(d, _)| d.as_str()));
        days.extend(
            self.sessions
                .values()
                .flat_map(|s| s.days.iter().map(String::as_str)),
        );
        days.len()
            + self.hours.len()
            + self.user_days.len()
            + self.sessions.len()
            + self.conversations.len()
    }

    /// Splits a delta into parts of at most `max` entries (day counters, hour
    /// counters and memberships), each with its own marker (`{marker}#0`, `#1`,
    /// ...). Deterministic: the same delta always splits the same way, so a
    /// redelivered message finds the same markers.
    pub fn split(self, max: usize) -> Vec<MessageDelta> {
        let max = max.max(1);
        let entries = self.days.len()
            + self.hours.len()
            + self.user_days.len()
            + self.sessions.len()
            + self.conversations.len();
        if entries <= max {
            return vec![self];
        }
        let blank = |n: usize| MessageDelta {
            marker: format!("{}#{n}", self.marker),
            project_id: self.project_id.clone(),
            retention_days: self.retention_days,
            ..Default::default()
        };
        let mut parts = vec![blank(0)];
        let mut used = 0;
        let mut next = |parts: &mut Vec<MessageDelta>| {
            if used == max {
                let n = parts.len();
                parts.push(blank(n));
                used = 0;
            }
            used += 1;
            parts.len() - 1
        };
        for (k, v) in self.days {
            let i = next(&mut parts);
            parts[i].days.insert(k, v);
        }
        for (k, v) in self.hours {
            let i = next(&mut parts);
            parts[i].hours.insert(k, v);
        }
        for (k, v) in self.user_days {
            let i = next(&mut parts);
            parts[i].user_days.insert(k, v);
        }
        for (k, v) in self.sessions {
            let i = next(&mut parts);
            parts[i].sessions.insert(k, v);
        }
        for (k, v) in self.conversations {
            let i = next(&mut parts);
            parts[i].conversations.insert(k, v);
        }
        parts
    }
}

/// Rollups outlive the events they count by a year.
pub const ROLLUP_EXTRA_DAYS: i64 = 365;
/// Message markers outlive SQS's longest retention (14 days).
pub const MARKER_TTL_SECS: i64 = 15 * 86_400;

/// TTL (epoch seconds) of a rollup for `day`.
pub fn rollup_expires_at(day: &str, retention_days: u32) -> i64 {
    let start = crate::time::day_start_millis(day).unwrap_or(0) / 1000;
    start + (i64::from(retention_days) + ROLLUP_EXTRA_DAYS) * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn ev(
        ty: &str,
        ts: i64,
        user: &str,
        session: Option<&str>,
        status: Option<Status>,
        dur: Option<u64>,
    ) -> Event<'static> {
        let (c, a) = crate::event::derive_category_action(ty);
        Event {
            event_id: Cow::Owned(format!("{ty}{ts}")),
            event_type: Cow::Owned(ty.into()),
            category: Cow::Owned(c.into()),
            action: a.map(|a| Cow::Owned(a.into())),
            timestamp: ts,
            user_id: Some(Cow::Owned(user.into())),
            anonymous_id: None,
            session_id: session.map(|s| Cow::Owned(s.into())),
            conversation_id: None,
            sequence: None,
            parent_id: None,
            entity_type: None,
            entity_id: None,
            status,
            environment: None,
            duration_ms: dur,
            properties: None,
            context: None,
            device_type: None,
            browser: None,
            os: None,
            is_bot: false,
        }
    }

    const DAY1: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z

    #[test]
    fn counts_by_every_dimension() {
        let mut d = MessageDelta::new("m", "p", 30);
        d.add(
            &ev(
                "tool_call",
                DAY1 + 3_600_000,
                "u1",
                Some("s1"),
                Some(Status::Failed),
                Some(100),
            ),
            "u:u1",
        );
        d.add(
            &ev(
                "tool_call",
                DAY1 + 3_700_000,
                "u1",
                Some("s1"),
                Some(Status::Success),
                Some(50),
            ),
            "u:u1",
        );
        d.add(
            &ev("page_view", DAY1 + 86_400_000, "u2", Some("s1"), None, None),
            "u:u2",
        );
        let day = &d.days["2026-11-22"];
        assert_eq!(day["events"], 2);
        assert_eq!(day["t:tool_call"], 2);
        assert_eq!(day["c:tool"], 2);
        assert_eq!(day["a:call"], 2);
        assert_eq!(day["s:failed"], 1);
        assert_eq!(day["s:success"], 1);
        assert_eq!(day["errors"], 1);
        assert_eq!((day["dur_sum"], day["dur_n"]), (150, 2));
        assert_eq!(day["h:01"], 2);
        assert_eq!(d.days["2026-11-23"]["events"], 1);
        assert_eq!(d.hours["2026-11-22T01"]["t:tool_call"], 2);
        assert_eq!(
            d.user_days[&("2026-11-22".to_owned(), "u:u1".to_owned())],
            2
        );
        let s = &d.sessions["s1"];
        assert_eq!(
            (s.first_ts, s.last_ts),
            (DAY1 + 3_600_000, DAY1 + 86_400_000)
        );
        assert_eq!(s.days.len(), 2);
    }

    #[test]
    fn split_is_deterministic_and_loses_nothing() {
        let mut d = MessageDelta::new("m", "p", 30);
        for i in 0..25 {
            d.add(
                &ev(
                    "x_y",
                    DAY1 + i,
                    &format!("u{i}"),
                    Some(&format!("s{i}")),
                    None,
                    None,
                ),
                &format!("u:u{i}"),
            );
        }
        // 1 day + 1 hour + 25 user-days + 25 sessions = 52 entries.
        let parts = d.clone().split(10);
        assert_eq!(parts.len(), 6);
        assert_eq!(parts, d.clone().split(10));
        assert_eq!(
            parts
                .iter()
                .map(|p| p.user_days.len() + p.sessions.len())
                .sum::<usize>(),
            50
        );
        assert!(parts.iter().all(|p| p.days.len()
            + p.hours.len()
            + p.user_days.len()
            + p.sessions.len()
            <= 10));
        assert_eq!(parts[0].days, d.days);
        assert_eq!(parts[0].hours, d.hours);
        let markers: BTreeSet<_> = parts.iter().map(|p| p.marker.clone()).collect();
        assert_eq!(markers.len(), 6);
        assert_eq!(d.clone().split(100), vec![d]);
    }
}
