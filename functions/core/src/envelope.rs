//! The versioned SQS message body: one project's accepted events, packed so a
//! message stays under the queue's size limit (counted in UTF-8 bytes).

use crate::event::{Event, MAX_DURATION_MS};
use crate::time::{MAX_MS, MIN_MS};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub const ENVELOPE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<'a> {
    pub v: u32,
    #[serde(borrow)]
    pub project_id: Cow<'a, str>,
    /// Copied from the project at ingest so the consumer needs no lookup to
    /// set `expires_at`.
    pub retention_days: u32,
    pub received_at: i64,
    #[serde(borrow)]
    pub events: Vec<Event<'a>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("message body is not a Pulse envelope: {0}")]
    Malformed(String),
    #[error(
        "envelope version {0} is not supported (this consumer reads version {ENVELOPE_VERSION})"
    )]
    UnsupportedVersion(u32),
}

#[derive(Deserialize)]
struct VersionProbe {
    v: u32,
}

/// Decodes a message body. On failure the version is probed so a future
/// format is reported as such rather than as garbage.
pub fn decode(body: &str) -> Result<Envelope<'_>, EnvelopeError> {
    match serde_json::from_str::<Envelope>(body) {
        Ok(env) if env.v == ENVELOPE_VERSION => check_events(&env.events).map(|()| env),
        Ok(env) => Err(EnvelopeError::UnsupportedVersion(env.v)),
        Err(e) => Err(failure(body, e)),
    }
}

/// The ingest only packs events whose timestamp and duration are in range;
/// the consumer's date arithmetic and counters rely on it. An envelope with
/// any other event did not come from the ingest: it is refused whole (and so
/// becomes a poison message of its own instead of failing its neighbours).
fn check_events(events: &[Event<'_>]) -> Result<(), EnvelopeError> {
    for (i, e) in events.iter().enumerate() {
        if !(MIN_MS..=MAX_MS).contains(&e.timestamp) {
            return Err(EnvelopeError::Malformed(format!(
                "event {i}: timestamp {} is outside 1970..=9999",
                e.timestamp
            )));
        }
        if e.duration_ms.is_some_and(|d| d > MAX_DURATION_MS) {
            return Err(EnvelopeError::Malformed(format!(
                "event {i}: duration_ms is over {MAX_DURATION_MS}"
            )));
        }
    }
    Ok(())
}

/// Why a body is not a readable envelope: another version, or garbage.
fn failure(body: &str, e: serde_json::Error) -> EnvelopeError {
    match serde_json::from_str::<VersionProbe>(body) {
        Ok(p) if p.v != ENVELOPE_VERSION => EnvelopeError::UnsupportedVersion(p.v),
        _ => EnvelopeError::Malformed(e.to_string()),
    }
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    v: u32,
    #[serde(borrow)]
    project_id: Cow<'a, str>,
    retention_days: u32,
    received_at: i64,
    #[serde(borrow)]
    events: Vec<&'a serde_json::value::RawValue>,
}

/// Like [`decode`], also returning each event's JSON text as it is in the
/// body, so a consumer can store it without serializing it again.
pub fn decode_with_raw(body: &str) -> Result<(Envelope<'_>, Vec<&str>), EnvelopeError> {
    let raw: RawEnvelope = serde_json::from_str(body).map_err(|e| failure(body, e))?;
    if raw.v != ENVELOPE_VERSION {
        return Err(EnvelopeError::UnsupportedVersion(raw.v));
    }
    let mut events = Vec::with_capacity(raw.events.len());
    let mut texts = Vec::with_capacity(raw.events.len());
    for r in raw.events {
        let text = r.get();
        events
            .push(serde_json::from_str(text).map_err(|e| EnvelopeError::Malformed(e.to_string()))?);
        texts.push(text);
    }
    check_events(&events)?;
    let env = Envelope {
        v: raw.v,
        project_id: raw.project_id,
        retention_days: raw.retention_days,
        received_at: raw.received_at,
        events,
    };
    Ok((env, texts))
}

/// Packs serialized events into envelope bodies of at most `max_bytes`
/// each, in order. The byte layout equals serializing an [`Envelope`], so
/// [`decode`] reads it back.
pub struct EnvelopePacker {
    header: String,
    max_bytes: usize,
    current: String,
    done: Vec<String>,
}

const FOOTER: &str = "]}";

impl EnvelopePacker {
    pub fn new(project_id: &str, retention_days: u32, received_at: i64, max_bytes: usize) -> Self {
        let header = format!(
            "{{\"v\":{ENVELOPE_VERSION},\"project_id\":{},\"retention_days\":{retention_days},\"received_at\":{received_at},\"events\":[",
            serde_json::to_string(project_id).expect("a str serializes")
        );
        Self {
            header,
            max_bytes,
            current: String::new(),
            done: Vec::new(),
        }
    }

    /// Adds one event's JSON; starts a new body when it would not fit.
    pub fn push(&mut self, event_json: &str) {
        if !self.current.is_empty()
            && self.current.len() + 1 + event_json.len() + FOOTER.len() > self.max_bytes
        {
            self.current.push_str(FOOTER);
            self.done.push(std::mem::take(&mut self.current));
        }
        if self.current.is_empty() {
            self.current.reserve(self.max_bytes.min(64 * 1024));
            self.current.push_str(&self.header);
        } else {
            self.current.push(',');
        }
        self.current.push_str(event_json);
    }

    pub fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.current.push_str(FOOTER);
            self.done.push(self.current);
        }
        self.done
    }
}

/// [`EnvelopePacker`] over a slice, for callers that hold the events already.
pub fn pack(
    project_id: &str,
    retention_days: u32,
    received_at: i64,
    events_json: &[String],
    max_bytes: usize,
) -> Vec<String> {
    let mut packer = EnvelopePacker::new(project_id, retention_days, received_at, max_bytes);
    for e in events_json {
        packer.push(e);
    }
    packer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_json(i: usize, pad: usize) -> String {
        format!(
            r#"{{"event_id":"e{i}","type":"t_x","category":"t","action":"x","timestamp":1,"user_id":"ü{}"}}"#,
            "x".repeat(pad)
        )
    }

    #[test]
    fn packs_within_the_byte_limit_and_round_trips() {
        let events: Vec<String> = (0..500).map(|i| event_json(i, 300)).collect();
        let max = 16 * 1024;
        let bodies = pack("proj", 30, 7, &events, max);
        assert!(bodies.len() > 1);
        let mut seen = Vec::new();
        for b in &bodies {
            assert!(b.len() <= max, "{} > {max}", b.len());
            let env = decode(b).unwrap();
            assert_eq!(
                (env.project_id.as_ref(), env.retention_days, env.received_at),
                ("proj", 30, 7)
            );
            seen.extend(env.events.iter().map(|e| e.event_id.to_string()));
        }
        let want: Vec<String> = (0..500).map(|i| format!("e{i}")).collect();
        assert_eq!(seen, want);
        // Greedy: every message but the last could not take its successor's first event.
        for pair in bodies.windows(2) {
            let next_first = decode(&pair[1]).unwrap().events[0].clone();
            let extra = serde_json::to_string(&next_first).unwrap().len() + 1;
            assert!(pair[0].len() + extra > max);
        }
    }

    #[test]
    fn sizes_count_utf8_bytes_not_chars() {
        let events: Vec<String> = (0..50)
            .map(|i| event_json(i, 0).replace("ü", &"ü".repeat(100)))
            .collect();
        for b in pack("p", 1, 1, &events, 4096) {
            assert!(b.len() <= 4096);
        }
    }

    /// Found by the envelope_decoder fuzz target: an event whose timestamp
    /// is out of chrono's range made the consumer's rollup panic (`hour_of`
    /// gave "" and `&hour[..10]` sliced past it), failing the whole batch.
    #[test]
    fn refuses_events_the_consumer_cannot_process() {
        let body = |ts: &str, extra: &str| {
            format!(
                r#"{{"v":1,"project_id":"p","retention_days":1,"received_at":1,"events":[{{"event_id":"a","type":"t","category":"t","timestamp":5}},{{"event_id":"b","type":"t","category":"t","timestamp":{ts}{extra}}}]}}"#
            )
        };
        for bad in [
            body("9223372036854775807", ""),
            body("-1", ""),
            body("253402300800000", ""),
            body("5", r#","duration_ms":18446744073709551615"#),
        ] {
            let e = decode(&bad).unwrap_err();
            assert!(
                matches!(&e, EnvelopeError::Malformed(m) if m.starts_with("event 1: ")),
                "{e}"
            );
            assert_eq!(decode_with_raw(&bad).unwrap_err(), e);
        }
        let max_duration = format!(r#","duration_ms":{MAX_DURATION_MS}"#);
        for good in [body("0", ""), body("253402300799999", &max_duration)] {
            assert_eq!(decode(&good).unwrap().events.len(), 2);
            assert_eq!(decode_with_raw(&good).unwrap().1.len(), 2);
        }
    }

    #[test]
    fn rejects_other_versions_and_garbage() {
        assert_eq!(
            decode(r#"{"v":2,"x":1}"#),
            Err(EnvelopeError::UnsupportedVersion(2))
        );
        assert!(matches!(
            decode("not json"),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(matches!(
            decode(r#"{"v":1,"project_id":"p"}"#),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(pack("p", 1, 1, &[], 1000).is_empty());
        assert_eq!(
            decode_with_raw(r#"{"v":3}"#).unwrap_err(),
            EnvelopeError::UnsupportedVersion(3)
        );
        assert!(matches!(
            decode_with_raw(
                r#"{"v":1,"project_id":"p","retention_days":1,"received_at":1,"events":[{"x":1}]}"#
            ),
            Err(EnvelopeError::Malformed(_))
        ));
        let body = pack(
            "p",
            1,
            1,
            &[r#"{"event_id":"a","type":"t","category":"t","timestamp":5}"#.to_owned()],
            1000,
        )
        .remove(0);
        let (env, raw) = decode_with_raw(&body).unwrap();
        assert_eq!(
            (env.events[0].event_id.as_ref(), raw[0]),
            (
                "a",
                r#"{"event_id":"a","type":"t","category":"t","timestamp":5}"#
            )
        );
    }
}
