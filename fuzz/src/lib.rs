//! The invariants the fuzz targets check. `functions/core/tests/fuzz_regressions.rs`
//! includes this very file (`#[path]`), so every saved input is replayed by
//! `cargo test` through exactly the checks the fuzzer ran. It depends on
//! nothing but `pulse-core`'s own dependencies for that reason.
//!
//! - [`check_body`]: a request body through `parse_body` + `prepare`, the pure
//!   part of the ingest handler, then the envelopes it packed decoded again
//!   and processed by the consumer (with an in-memory store).
//! - [`check_sqs_body`]: a queue message body through the envelope decoders
//!   and the consumer (with an in-memory store).
//! - [`check_pack`]: events built from the bytes, unconstrained by validation,
//!   packed with `EnvelopePacker` and decoded back.

use async_trait::async_trait;
use pulse_core::consume::{
    BatchReport, CommitOutcome, Consumer, EventRecord, EventStore, PutOutcome, QueueMessage,
    StoreError, TimePage,
};
use pulse_core::envelope::{self, Envelope, EnvelopeError, EnvelopePacker};
use pulse_core::event::{Event, Json, Status, MAX_DURATION_MS};
use pulse_core::ingest::{parse_body, prepare, PayloadFormat};
use pulse_core::keys;
use pulse_core::limits::{
    DEFAULT_MESSAGE_BYTES, MAX_BODY_BYTES, MAX_EVENT_BYTES, MAX_FUTURE_MS, MAX_ID_CHARS,
    MAX_LABEL_CHARS, MAX_TYPE_CHARS,
};
use pulse_core::rollup::MessageDelta;
use pulse_core::segment::{self, SegmentCall};
use pulse_core::time::{DAY_MS, MAX_MS, MIN_MS};
use pulse_core::user_agent::{DeviceType, UserAgentCache};
use pulse_core::wire::{self, NormalizeContext};
use pulse_core::{IngestError, KeyHash, Project};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The request's received time in every check: 2026-11-22T02:06:41Z.
pub const RECEIVED_AT: i64 = 1_795_313_201_000;
pub const RETENTION_DAYS: u32 = 365;
pub const PROJECT_ID: &str = "fuzz-project";

/// How much the server may add to an event: a generated id, category and
/// action derived from a 200-character type (≤ 800 bytes each), the
/// timestamp, device type, browser, OS and bot flag, and the Segment renames.
/// The 32 KiB limit applies to the client's bytes.
pub const MAX_ENRICHMENT_BYTES: usize = 2048;

/// The routes of the Segment mapping: `/v1/batch` and the six single calls.
pub const SEGMENT_FORMATS: [PayloadFormat; 7] = [
    PayloadFormat::SegmentBatch,
    PayloadFormat::Segment(SegmentCall::Track),
    PayloadFormat::Segment(SegmentCall::Identify),
    PayloadFormat::Segment(SegmentCall::Page),
    PayloadFormat::Segment(SegmentCall::Screen),
    PayloadFormat::Segment(SegmentCall::Group),
    PayloadFormat::Segment(SegmentCall::Alias),
];

pub fn project() -> Project {
    Project {
        id: PROJECT_ID.into(),
        name: "Fuzz".into(),
        retention_days: RETENTION_DAYS,
        allowed_origins: vec![],
        write_key_hash: KeyHash::of("wk_fuzz"),
        read_key_hash: KeyHash::of("rk_fuzz"),
        created_at: 0,
    }
}

/// What one body gave: `None` when it was refused whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyOutcome {
    pub items: usize,
    pub accepted: usize,
}

/// A request body through the ingest's parse and prepare, with every
/// invariant asserted (a failed assertion is a crash for the fuzzer).
pub fn check_body(format: PayloadFormat, body: &[u8]) -> Option<BodyOutcome> {
    let parsed = match parse_body(format, body) {
        Ok(p) => p,
        Err(IngestError::Malformed(m)) => {
            assert!(!m.is_empty(), "a refusal says why");
            return None;
        }
        Err(IngestError::TooLarge { size, limit }) => {
            assert_eq!((size, limit), (body.len(), MAX_BODY_BYTES));
            assert!(size > limit);
            return None;
        }
        Err(e) => panic!("parse_body refused a body with {e:?}: only Malformed or TooLarge fit"),
    };
    assert!(body.len() <= MAX_BODY_BYTES);
    let project = project();
    let prepared = prepare(&parsed, &project, RECEIVED_AT, DEFAULT_MESSAGE_BYTES);
    let n = parsed.items.len();
    assert_eq!(
        prepared.accepted + prepared.rejected.len(),
        n,
        "every event is accepted or rejected, once"
    );
    for pair in prepared.rejected.windows(2) {
        assert!(
            pair[0].index < pair[1].index,
            "rejections are in input order"
        );
    }
    let rejected: HashSet<usize> = prepared.rejected.iter().map(|r| r.index).collect();
    assert!(rejected.iter().all(|&i| i < n));
    let accepted_items: Vec<usize> = (0..n).filter(|i| !rejected.contains(i)).collect();
    assert_eq!(prepared.bodies.is_empty(), prepared.accepted == 0);

    // The queue bodies decode back to the accepted events, in order.
    let mut events: Vec<Event<'_>> = Vec::with_capacity(prepared.accepted);
    for message in &prepared.bodies {
        assert!(
            message.len() <= DEFAULT_MESSAGE_BYTES,
            "a queue message of {} bytes is over the limit",
            message.len()
        );
        let env = envelope::decode(message).expect("an envelope made by the ingest decodes");
        assert_eq!(
            (env.project_id.as_ref(), env.retention_days, env.received_at),
            (PROJECT_ID, RETENTION_DAYS, RECEIVED_AT)
        );
        assert!(!env.events.is_empty(), "no empty messages");
        let (env2, raws) = envelope::decode_with_raw(message).expect("decode_with_raw agrees");
        assert_eq!(env, env2);
        for (e, raw) in env.events.iter().zip(&raws) {
            assert_eq!(
                &serde_json::to_string(e).expect("events serialize"),
                raw,
                "an event serializes to the bytes it was decoded from"
            );
        }
        events.extend(env.events);
    }
    assert_eq!(events.len(), prepared.accepted);

    // Each accepted event is what normalizing its item gives (with the
    // server's id when the client sent none), and satisfies the contract.
    let mut user_agents = UserAgentCache::default();
    let mut ctx = NormalizeContext {
        received_at: RECEIVED_AT,
        batch_sent_at: parsed.sent_at,
        retention_days: RETENTION_DAYS,
        user_agents: &mut user_agents,
    };
    for (event, &i) in events.iter().zip(&accepted_items) {
        let raw = parsed.items[i].get();
        assert!(
            raw.len() <= MAX_EVENT_BYTES,
            "an oversized event was accepted"
        );
        let mut generated = false;
        let mut expected = to_wire(format, raw)
            .and_then(|w| {
                wire::normalize(w, &mut ctx, || {
                    generated = true;
                    String::new()
                })
            })
            .unwrap_or_else(|e| panic!("item {i} was accepted, now rejected: {e}"));
        if generated {
            let id = uuid::Uuid::parse_str(&event.event_id).expect("a server id is a UUID");
            assert_eq!(id.get_version_num(), 7, "server ids are UUIDv7");
            expected.event_id = event.event_id.clone();
        }
        assert_eq!(
            *event, expected,
            "item {i} round-trips through its envelope"
        );
        check_event(event, raw.len());
    }
    // ... and each rejected one is rejected again, for the same reason.
    for r in &prepared.rejected {
        let raw = parsed.items[r.index].get();
        if raw.len() > MAX_EVENT_BYTES {
            assert!(r.error.contains("limit is"), "{}", r.error);
            continue;
        }
        let again = to_wire(format, raw).and_then(|w| wire::normalize(w, &mut ctx, String::new));
        match again {
            Ok(_) => panic!("item {} was rejected ({}), now accepted", r.index, r.error),
            Err(e) => assert_eq!(e.to_string(), r.error),
        }
    }
    // The consumer stores each distinct event of the request once.
    let distinct = events
        .iter()
        .map(|e| &e.event_id)
        .collect::<HashSet<_>>()
        .len();
    let messages: Vec<QueueMessage> = prepared
        .bodies
        .iter()
        .enumerate()
        .map(|(i, body)| QueueMessage {
            message_id: format!("m-{i}"),
            body: body.clone(),
        })
        .collect();
    let (report, stored) = consume(&messages);
    assert_eq!((report.poison, report.failed.len()), (0, 0), "{report:?}");
    assert_eq!((report.events_stored, stored), (distinct, distinct));
    Some(BodyOutcome {
        items: n,
        accepted: prepared.accepted,
    })
}

fn to_wire(
    format: PayloadFormat,
    raw: &str,
) -> Result<wire::WireEvent<'_>, pulse_core::FieldError> {
    match format {
        PayloadFormat::Native => wire::parse_wire_event(raw),
        PayloadFormat::SegmentBatch => segment::to_wire_event(raw, None),
        PayloadFormat::Segment(call) => segment::to_wire_event(raw, Some(call)),
    }
}

fn check_text(field: &str, v: &str, max_chars: usize) {
    assert!(!v.is_empty(), "{field} is empty");
    assert!(v.chars().count() <= max_chars, "{field} is too long");
    assert!(
        !v.chars().any(char::is_control),
        "{field} has a control character"
    );
}

fn check_opt(field: &str, v: &Option<Cow<'_, str>>, max_chars: usize) {
    if let Some(v) = v {
        check_text(field, v, max_chars);
    }
}

/// The contract of an accepted event (SPEC.md, event fields and limits).
pub fn check_event(e: &Event<'_>, raw_len: usize) {
    let oldest = RECEIVED_AT - i64::from(RETENTION_DAYS) * DAY_MS;
    assert!(
        (oldest..=RECEIVED_AT + MAX_FUTURE_MS).contains(&e.timestamp),
        "timestamp {} is outside the window",
        e.timestamp
    );
    check_text("type", &e.event_type, MAX_TYPE_CHARS);
    check_text("category", &e.category, MAX_LABEL_CHARS);
    check_opt("action", &e.action, MAX_LABEL_CHARS);
    check_text("event_id", &e.event_id, MAX_ID_CHARS);
    assert!(e.user_id.is_some() || e.anonymous_id.is_some());
    for (field, v) in [
        ("user_id", &e.user_id),
        ("anonymous_id", &e.anonymous_id),
        ("session_id", &e.session_id),
        ("conversation_id", &e.conversation_id),
        ("parent_id", &e.parent_id),
        ("entity_type", &e.entity_type),
        ("entity_id", &e.entity_id),
    ] {
        check_opt(field, v, MAX_ID_CHARS);
    }
    check_opt("environment", &e.environment, MAX_LABEL_CHARS);
    for (field, j) in [("properties", &e.properties), ("context", &e.context)] {
        if let Some(j) = j {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(j.get())
                .unwrap_or_else(|err| panic!("{field} is not a JSON object: {err}"));
        }
    }
    if e.is_bot {
        assert!(
            e.device_type.is_some(),
            "a bot's user agent gave a device type"
        );
    }
    // DynamoDB caps partition keys at 2,048 bytes and sort keys at 1,024:
    // every key the consumer builds from an accepted event must fit.
    let user_key = keys::user_key(e.user_id.as_deref(), e.anonymous_id.as_deref());
    for sort_key in [
        keys::timeline_sk(e.timestamp, &e.event_id),
        format!("{RECEIVED_AT:013}#{}", e.event_id), // monitored events
        user_key.clone(),                            // user-day items
        e.user_id.as_deref().unwrap_or_default().to_owned(), // monitors
    ] {
        assert!(
            sort_key.len() <= 1024,
            "a sort key of {} bytes",
            sort_key.len()
        );
    }
    let mut partition_keys = vec![
        keys::event_pk(PROJECT_ID, &e.event_id),
        keys::timeline_pk(PROJECT_ID, &user_key),
    ];
    partition_keys.extend(
        e.session_id
            .as_deref()
            .map(|s| keys::session_pk(PROJECT_ID, s)),
    );
    partition_keys.extend(
        e.conversation_id
            .as_deref()
            .map(|c| keys::conversation_pk(PROJECT_ID, c)),
    );
    for pk in partition_keys {
        assert!(pk.len() <= 2048, "a partition key of {} bytes", pk.len());
    }
    let json = serde_json::to_string(e).expect("events serialize");
    // Readers parse stored events with serde_json, sometimes inside a wrapper.
    serde_json::from_str::<serde_json::Value>(&format!(r#"{{"items":[{{"e":{json}}}]}}"#))
        .unwrap_or_else(|err| panic!("a reader cannot parse the event: {err}"));
    let size = json.len();
    assert!(
        size <= raw_len + MAX_ENRICHMENT_BYTES,
        "a {raw_len}-byte event became {size} bytes"
    );
}

/// What a poll of a future that never waits gives: these stores never do.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1000 {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("the consumer waited on something other than the store");
}

/// An in-memory store with the conditional-put semantics of the DynamoDB one,
/// checking what the consumer asks it to write.
#[derive(Default)]
struct MemoryStore {
    owners: Mutex<HashMap<(String, String), String>>,
    stored: Mutex<usize>,
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn put_events(&self, records: &[EventRecord]) -> Vec<Result<PutOutcome, StoreError>> {
        let mut owners = self.owners.lock().expect("not poisoned");
        records
            .iter()
            .map(|r| {
                let stored: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&r.json).expect("a stored event is a JSON object");
                assert_eq!(stored.get("received_at"), Some(&r.received_at.into()));
                let key = (r.project_id.to_string(), r.event_id.clone());
                Ok(match owners.get(&key) {
                    None => {
                        owners.insert(key, r.owner.to_string());
                        *self.stored.lock().expect("not poisoned") += 1;
                        PutOutcome::Written
                    }
                    Some(o) if **o == *r.owner => PutOutcome::AlreadyOurs,
                    Some(_) => PutOutcome::Duplicate,
                })
            })
            .collect()
    }

    async fn put_pages(&self, pages: &[TimePage]) -> Result<(), StoreError> {
        for p in pages {
            assert!(!p.refs.is_empty(), "no empty time pages");
            assert!(!p.pk.is_empty() && !p.sk.is_empty());
        }
        Ok(())
    }

    async fn commit(&self, deltas: &[MessageDelta]) -> Vec<Result<CommitOutcome, StoreError>> {
        deltas
            .iter()
            .map(|d| {
                for part in d.clone().split(25) {
                    assert!(part.item_count() > 0 || d.item_count() == 0);
                }
                Ok(CommitOutcome::Applied)
            })
            .collect()
    }
}

fn consume(messages: &[QueueMessage]) -> (BatchReport, usize) {
    let store = Arc::new(MemoryStore::default());
    let report = block_on(Consumer::new(store.clone()).process(messages));
    let stored = *store.stored.lock().expect("not poisoned");
    (report, stored)
}

fn error_kind(e: &EnvelopeError) -> Option<u32> {
    match e {
        EnvelopeError::Malformed(_) => None,
        EnvelopeError::UnsupportedVersion(v) => Some(*v),
    }
}

/// A queue message body as the consumer gets it from SQS: the two decoders
/// agree, and the consumer stores each distinct event of a good envelope
/// once and reports a bad one as poison, alone.
pub fn check_sqs_body(data: &[u8]) {
    // SQS message bodies are text.
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let plain = envelope::decode(body);
    let with_raw = envelope::decode_with_raw(body);
    let distinct = match (&plain, &with_raw) {
        (Ok(a), Ok((b, raws))) => {
            assert_eq!(a, b, "decode and decode_with_raw agree");
            assert_eq!(raws.len(), a.events.len());
            for (e, raw) in a.events.iter().zip(raws) {
                let again: Event = serde_json::from_str(raw).expect("raw text is the event");
                assert_eq!(&again, e);
            }
            Some(
                a.events
                    .iter()
                    .map(|e| &e.event_id)
                    .collect::<HashSet<_>>()
                    .len(),
            )
        }
        (Err(a), Err(b)) => {
            assert_eq!(error_kind(a), error_kind(b), "{a} / {b}");
            None
        }
        (a, b) => panic!("decode gave {a:?} but decode_with_raw gave {b:?}"),
    };
    let messages = [QueueMessage {
        message_id: "m-1".into(),
        body: body.to_owned(),
    }];
    let (report, stored) = consume(&messages);
    assert_eq!(report.messages, 1);
    match distinct {
        None => {
            assert_eq!(
                (report.poison, report.failed.as_slice()),
                (1, &["m-1".to_owned()][..])
            );
            assert_eq!(stored, 0);
        }
        Some(n) => {
            assert_eq!(report.poison, 0);
            assert!(report.failed.is_empty(), "{report:?}");
            assert_eq!((report.events_stored, stored), (n, n));
        }
    }
}

/// Reads values from fuzz bytes; zeros when they run out.
pub struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes(data)
    }

    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        for b in &mut out {
            *b = self.u8();
        }
        out
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    pub fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// Text of up to `max` characters mixing ASCII (controls, quotes and
    /// backslashes included) with multi-byte characters that JSON escaping
    /// and byte counting get wrong most often.
    pub fn text(&mut self, max: usize) -> String {
        const WIDE: [char; 8] = [
            'é',
            '€',
            '😀',
            '\u{2028}',
            '\u{feff}',
            '\u{10ffff}',
            '\u{7f}',
            '\u{85}',
        ];
        let len = usize::from(self.u8()) % (max + 1);
        (0..len)
            .map(|_| match self.u8() {
                b @ 0..=0x7f => char::from(b),
                b => WIDE[usize::from(b & 7)],
            })
            .collect()
    }

    pub fn opt_text(&mut self, max: usize) -> Option<Cow<'static, str>> {
        self.bool().then(|| Cow::Owned(self.text(max)))
    }

    /// A timestamp: mostly a plausible one, sometimes any i64.
    pub fn timestamp(&mut self) -> i64 {
        match self.u8() % 4 {
            0 => self.i64(),
            _ => RECEIVED_AT + i64::from(self.u32() as i32) * 1000,
        }
    }

    fn object(&mut self) -> Option<Json<'static>> {
        self.bool().then(|| {
            let mut m = serde_json::Map::new();
            for _ in 0..self.u8() % 4 {
                let k = self.text(8);
                let v = match self.u8() % 4 {
                    0 => serde_json::Value::from(self.text(16)),
                    1 => serde_json::Value::from(self.i64()),
                    2 => serde_json::Value::from(f64::from(self.u32()) / 7.0),
                    _ => serde_json::json!([null, self.bool(), {"n": self.u16()}]),
                };
                m.insert(k, v);
            }
            Json::from_value(&serde_json::Value::Object(m))
        })
    }

    /// An event with any field values: the packer and decoders must carry
    /// whatever an envelope holds, validated or not.
    pub fn event(&mut self) -> Event<'static> {
        Event {
            event_id: Cow::Owned(self.text(40)),
            event_type: Cow::Owned(self.text(40)),
            category: Cow::Owned(self.text(20)),
            action: self.opt_text(20),
            timestamp: self.timestamp(),
            user_id: self.opt_text(40),
            anonymous_id: self.opt_text(40),
            session_id: self.opt_text(20),
            conversation_id: self.opt_text(20),
            sequence: self.bool().then(|| self.u32()),
            parent_id: self.opt_text(20),
            entity_type: self.opt_text(10),
            entity_id: self.opt_text(20),
            status: match self.u8() % 4 {
                0 => Some(Status::Success),
                1 => Some(Status::Failed),
                2 => Some(Status::InProgress),
                _ => None,
            },
            environment: self.opt_text(10),
            duration_ms: self.bool().then(|| self.u64()),
            properties: self.object(),
            context: self.object(),
            device_type: match self.u8() % 6 {
                0 => Some(DeviceType::Mobile),
                1 => Some(DeviceType::Tablet),
                2 => Some(DeviceType::Desktop),
                3 => Some(DeviceType::Bot),
                4 => Some(DeviceType::Other),
                _ => None,
            },
            browser: self.opt_text(10),
            os: self.opt_text(10),
            is_bot: self.bool(),
        }
    }
}

/// Whether the consumer can process an event (what the ingest guarantees):
/// envelopes holding any other event are refused whole by the decoders.
pub fn consumable(e: &Event<'_>) -> bool {
    (MIN_MS..=MAX_MS).contains(&e.timestamp) && e.duration_ms.is_none_or(|d| d <= MAX_DURATION_MS)
}

/// Structured round trip: events made from the bytes, packed by
/// `EnvelopePacker` under a size limit made from the bytes, are laid out
/// exactly as serializing an `Envelope` of them, decode back to the same
/// events in the same order (or, if one is out of the consumer's range, the
/// message is refused as malformed), each message within the limit unless it
/// holds one event too large for any, and greedily filled.
pub fn check_pack(data: &[u8]) {
    let mut b = Bytes::new(data);
    let project_id = b.text(30);
    let retention_days = b.u32();
    let received_at = b.i64();
    let max_bytes = 64 + usize::from(b.u16()) % 8192;
    let n = usize::from(b.u8() % 48);
    let events: Vec<Event<'static>> = (0..n).map(|_| b.event()).collect();
    let jsons: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("events serialize"))
        .collect();
    let mut packer = EnvelopePacker::new(&project_id, retention_days, received_at, max_bytes);
    for j in &jsons {
        packer.push(j);
    }
    let bodies = packer.finish();
    assert_eq!(bodies.is_empty(), events.is_empty());

    let mut next = 0;
    let mut firsts = Vec::new();
    let mut good = HashSet::new();
    let mut bad_bodies = 0;
    for body in &bodies {
        let value: serde_json::Value = serde_json::from_str(body).expect("a packed body is JSON");
        let k = value["events"].as_array().expect("an events array").len();
        assert!(k > 0, "no empty messages");
        assert!(next + k <= events.len(), "more events out than in");
        let slice = &events[next..next + k];
        let layout = Envelope {
            v: envelope::ENVELOPE_VERSION,
            project_id: Cow::Borrowed(&project_id),
            retention_days,
            received_at,
            events: slice.to_vec(),
        };
        assert_eq!(
            body,
            &serde_json::to_string(&layout).expect("envelopes serialize"),
            "a packed body is the serialized envelope"
        );
        assert!(
            body.len() <= max_bytes || k == 1,
            "{} bytes with {k} events over a limit of {max_bytes}",
            body.len()
        );
        if slice.iter().all(consumable) {
            let (env, raws) = envelope::decode_with_raw(body)
                .unwrap_or_else(|e| panic!("a packed envelope does not decode: {e}\n{body}"));
            assert_eq!(envelope::decode(body).as_ref(), Ok(&env));
            assert_eq!(env, layout, "events {next}.. round-trip");
            for (i, raw) in raws.iter().enumerate() {
                assert_eq!(*raw, jsons[next + i], "event {} keeps its bytes", next + i);
            }
            good.extend(slice.iter().map(|e| e.event_id.clone()));
        } else {
            bad_bodies += 1;
            assert!(matches!(
                envelope::decode(body),
                Err(EnvelopeError::Malformed(_))
            ));
            assert!(matches!(
                envelope::decode_with_raw(body),
                Err(EnvelopeError::Malformed(_))
            ));
        }
        firsts.push(next);
        next += k;
    }
    assert_eq!(next, events.len(), "every event is packed once");
    // Greedy: no message could have taken the next message's first event.
    for (body, &first) in bodies.iter().zip(firsts.iter().skip(1)) {
        assert!(body.len() + 1 + jsons[first].len() > max_bytes);
    }

    // The consumer stores each distinct event id of the good messages once,
    // and reports each refused message alone.
    let messages: Vec<QueueMessage> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| QueueMessage {
            message_id: format!("m-{i}"),
            body,
        })
        .collect();
    let (report, stored) = consume(&messages);
    assert_eq!(
        (report.poison, report.failed.len()),
        (bad_bodies, bad_bodies),
        "{report:?}"
    );
    assert_eq!((report.events_stored, stored), (good.len(), good.len()));
}
