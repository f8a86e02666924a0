//! Session rules: a session ends after 30 minutes without events or 24 hours
//! after it started, whichever comes first. Shared by all tabs through storage.
use crate::json::Append;
use alloc::borrow::ToOwned;
use alloc::string::String;

pub const IDLE_MS: u64 = 30 * 60 * 1000;
pub const MAX_AGE_MS: u64 = 24 * 60 * 60 * 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub started_ms: u64,
    pub last_ms: u64,
}

impl Session {
    pub fn new(id: String, now_ms: u64) -> Self {
        Session {
            id,
            started_ms: now_ms,
            last_ms: now_ms,
        }
    }

    pub fn expired(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_ms) > IDLE_MS
            || now_ms.saturating_sub(self.started_ms) >= MAX_AGE_MS
    }

    /// `id|started|last`, the form kept in localStorage.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(self.id.len() + 30);
        s.append(&self.id);
        s.push('|');
        crate::json::push_uint(&mut s, self.started_ms, 1);
        s.push('|');
        crate::json::push_uint(&mut s, self.last_ms, 1);
        s
    }

    pub fn decode(s: &str) -> Option<Session> {
        let mut parts = crate::json::fields(s, b'|');
        let id = parts.next().filter(|id| !id.is_empty())?;
        let started_ms = crate::json::parse_uint(parts.next()?)?;
        let last_ms = crate::json::parse_uint(parts.next()?)?;
        Some(Session {
            id: id.to_owned(),
            started_ms,
            last_ms,
        })
    }

    /// Picks the session an event at `now_ms` belongs to, given this tab's copy
    /// and the copy another tab may have stored: a live stored session wins
    /// (another tab may have started it), an expired one is replaced by a new
    /// one made by `new_id`.
    pub fn resolve(
        mine: Option<&Session>,
        stored: Option<Session>,
        now_ms: u64,
        new_id: impl FnOnce() -> String,
    ) -> Session {
        let newest = match (mine, stored) {
            (Some(m), Some(s)) => Some(if s.last_ms >= m.last_ms { s } else { m.clone() }),
            (Some(m), None) => Some(m.clone()),
            (None, s) => s,
        };
        match newest {
            Some(mut s) if !s.expired(now_ms) => {
                s.last_ms = s.last_ms.max(now_ms);
                s
            }
            _ => Session::new(new_id(), now_ms),
        }
    }
}
