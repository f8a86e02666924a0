//! A realistic event mix for capacity and speed measurements: browser
//! sessions (one user, one session, a few minutes, 5–30 events per request)
//! and server-side batches (100 events across 20 users), passed through the
//! real ingest preparation so envelopes are what production would queue.

use pulse_core::ingest::{parse_body, prepare};
use pulse_core::limits::DEFAULT_MESSAGE_BYTES;
use pulse_core::project::NewProject;
use pulse_core::PayloadFormat;
use serde_json::{json, Value};

/// A desktop Chrome user agent (enrichment runs on every event).
pub const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
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
    "file_uploaded",
];

/// Tiny deterministic generator (xorshift) so runs are comparable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

fn event(rng: &mut Rng, id: String, user: &str, session: &str, ts: i64) -> Value {
    let ty = TYPES[rng.below(TYPES.len() as u64) as usize];
    let mut e = json!({
        "event_id": id,
        "type": ty,
        "timestamp": ts,
        "user_id": user,
        "session_id": session,
        "properties": {"path": format!("/app/{}", rng.below(40)), "value": rng.below(1000)},
        "context": {"user_agent": UA, "page": {"path": "/app", "title": "Pulse demo"}, "locale": "en-GB"},
    });
    if rng.below(4) == 0 {
        e["status"] = (if rng.below(5) == 0 {
            "failed"
        } else {
            "success"
        })
        .into();
        e["duration_ms"] = rng.below(3000).into();
    }
    e
}

/// Envelope bodies for about `events` events, plus `retry_percent` % of the
/// requests sent a second time (client retries: same event ids).
pub fn realistic_messages(events: usize, retry_percent: u64, seed: u64) -> (Vec<String>, usize) {
    let mut rng = Rng::new(seed);
    let project = NewProject::new("bench", "Bench").to_project(0);
    let now = pulse_core::time::now_millis();
    let mut bodies = Vec::new();
    let mut unique = 0;
    let mut n = 0;
    while unique < events {
        let server_batch = rng.below(10) < 3;
        let (count, users) = if server_batch {
            (100, 20)
        } else {
            (5 + rng.below(26) as usize, 1)
        };
        let base = now - 3_600_000 + rng.below(3_000_000) as i64;
        let visitor = format!("user-{}", rng.below(500));
        let evs: Vec<Value> = (0..count)
            .map(|i| {
                let u = if users == 1 {
                    visitor.clone()
                } else {
                    format!("svc-user-{}", rng.below(users))
                };
                event(
                    &mut rng,
                    format!("{seed}-{n}-{i}"),
                    &u,
                    &format!("s-{n}"),
                    base + i as i64 * 4_000,
                )
            })
            .collect();
        n += 1;
        unique += evs.len();
        let body = json!({"events": evs}).to_string();
        let parsed = parse_body(PayloadFormat::Native, body.as_bytes()).expect("valid body");
        let prepared = prepare(&parsed, &project, now, DEFAULT_MESSAGE_BYTES);
        assert!(prepared.rejected.is_empty(), "{:?}", prepared.rejected);
        if rng.below(100) < retry_percent {
            bodies.extend(prepared.bodies.iter().cloned());
        }
        bodies.extend(prepared.bodies);
    }
    (bodies, unique)
}
