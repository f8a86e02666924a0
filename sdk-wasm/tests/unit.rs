//! Unit tests for the pure logic, run in headless Chromium by
//! wasm-bindgen-test (see scripts/test.sh).
use pulse_tracker::backoff::{classify, delay_ms, retry_after_seconds_ms, Outcome};
use pulse_tracker::ids::{Fill, RandomPool, UuidV7};
use pulse_tracker::json;
use pulse_tracker::queue::{write_body, Batch, Limits, Queue, QueuedEvent, MAX_REQUEST_BYTES};
use pulse_tracker::session::{Session, IDLE_MS, MAX_AGE_MS};
use pulse_tracker::time::push_rfc3339;
use std::rc::Rc;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

struct Counting;

impl Fill for Counting {
    fn fill(buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
    }
}

fn ctx() -> Rc<String> {
    Rc::new(String::from("{\"page\":{\"url\":\"https://x.test/\"}}"))
}

fn ev(n: usize, context: &Rc<String>) -> QueuedEvent {
    let mut head = String::from("{\"event_id\":\"e");
    json::push_uint(&mut head, n as u64, 1);
    head.push('"');
    QueuedEvent::new(head, Some(context.clone()))
}

fn queue(batch_events: usize, max_events: usize) -> Queue {
    Queue::new(
        Limits {
            batch_events,
            max_events,
            ..Limits::default()
        },
        "pulse:q:test:".into(),
    )
}

fn parse(body: &str) -> js_sys::Object {
    js_sys::JSON::parse(body).expect("valid JSON").into()
}

fn event_ids(body: &str) -> Vec<String> {
    let events = js_sys::Reflect::get(&parse(body), &"events".into()).unwrap();
    js_sys::Array::from(&events)
        .iter()
        .map(|e| {
            js_sys::Reflect::get(&e, &"event_id".into())
                .unwrap()
                .as_string()
                .unwrap()
        })
        .collect()
}

// ---- JSON, time, ids ---------------------------------------------------------

#[wasm_bindgen_test]
fn json_strings_round_trip_through_the_browser_parser() {
    let tricky = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} é 日本 🎉 \u{2028}";
    let mut out = String::new();
    json::push_str(&mut out, tricky);
    let parsed = js_sys::JSON::parse(&out).unwrap().as_string().unwrap();
    assert_eq!(parsed, tricky);
}

#[wasm_bindgen_test]
fn integers_and_padding() {
    let mut s = String::new();
    json::push_uint(&mut s, 0, 1);
    s.push(' ');
    json::push_uint(&mut s, 7, 3);
    s.push(' ');
    json::push_uint(&mut s, u64::MAX, 1);
    assert_eq!(s, "0 007 18446744073709551615");
    assert_eq!(json::parse_uint("120"), Some(120));
    assert_eq!(json::parse_uint("-1"), None);
    assert_eq!(json::parse_uint(""), None);
}

#[wasm_bindgen_test]
fn rfc3339_matches_the_browser_for_many_instants() {
    let instants = [
        0u64,
        951_782_400_000,
        1_709_164_800_123,
        1_767_225_599_999,
        4_102_444_800_000,
    ];
    for ms in instants
        .into_iter()
        .chain((0..200).map(|i| i * 86_400_000 * 97 + i * 3_600_123))
    {
        let mut s = String::new();
        push_rfc3339(&mut s, ms);
        let expected = js_sys::Date::new(&(ms as f64).into()).to_iso_string();
        assert_eq!(s, String::from(expected), "at {ms}");
    }
}

#[wasm_bindgen_test]
fn uuid_v7_has_version_variant_time_and_order() {
    let mut pool = RandomPool::<Counting>::new();
    let mut gen = UuidV7::new();
    let now = 1_767_225_600_000u64;
    let ids: Vec<String> = (0..5000)
        .map(|i| gen.string(now + i / 1000, &mut pool))
        .collect();
    for id in &ids {
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "7");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
    }
    let ts_hex: String = ids[0][..8].to_string() + &ids[0][9..13];
    assert_eq!(u64::from_str_radix(&ts_hex, 16).unwrap(), now);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        sorted, ids,
        "ids made later sort later, even within one millisecond"
    );
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
}

// ---- queue and batching -------------------------------------------------------

#[wasm_bindgen_test]
fn batches_close_on_count() {
    let c = ctx();
    let mut q = queue(3, 100);
    assert!(!q.push(ev(1, &c)));
    assert!(!q.push(ev(2, &c)));
    assert!(q.push(ev(3, &c)), "third event closes the batch");
    assert!(!q.push(ev(4, &c)));
    assert_eq!(q.batches.len(), 2);
    assert!(q.batches[0].closed && !q.batches[1].closed);
    let keys = q.take_request(MAX_REQUEST_BYTES);
    assert_eq!(keys.len(), 1, "the open batch is not sent");
    assert_eq!(
        q.take_request(MAX_REQUEST_BYTES),
        Vec::<u32>::new(),
        "nothing else is ready"
    );
    assert!(q.close_open());
    assert_eq!(q.take_request(MAX_REQUEST_BYTES).len(), 1);
}

#[wasm_bindgen_test]
fn batches_close_on_bytes_and_requests_stay_under_60_kb() {
    let c = ctx();
    let mut q = queue(10_000, 10_000);
    let pad = "x".repeat(1000);
    for i in 0..300 {
        let mut e = ev(i, &c);
        e.head.push_str(",\"properties\":{\"pad\":\"");
        e.head.push_str(&pad);
        e.head.push_str("\"}");
        q.push(e);
    }
    q.close_open();
    assert!(q.batches.len() >= 5);
    let mut sent = 0;
    loop {
        let keys = q.take_request(MAX_REQUEST_BYTES);
        if keys.is_empty() {
            break;
        }
        let body = write_body(q.events_of(&keys), 0, "wk_test");
        assert!(
            body.len() <= MAX_REQUEST_BYTES,
            "body of {} bytes",
            body.len()
        );
        sent += event_ids(&body).len();
        q.complete(&keys);
    }
    assert_eq!(sent, 300);
    assert!(q.is_empty());
}

#[wasm_bindgen_test]
fn backlog_requests_merge_whole_batches_in_order() {
    let c = ctx();
    let mut q = queue(2, 100);
    for i in 0..10 {
        q.push(ev(i, &c));
    }
    let keys = q.take_request(MAX_REQUEST_BYTES);
    assert_eq!(
        keys.len(),
        5,
        "small batches waiting together go in one request"
    );
    let body = write_body(q.events_of(&keys), 0, "wk");
    let expected: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
    assert_eq!(event_ids(&body), expected);
}

#[wasm_bindgen_test]
fn full_queue_drops_oldest_and_counts_them_but_never_what_is_in_flight() {
    let c = ctx();
    let mut q = queue(2, 5);
    for i in 0..4 {
        q.push(ev(i, &c));
    }
    let in_flight = q.take_request(MAX_REQUEST_BYTES); // e0..e3
    assert_eq!(in_flight.len(), 2);
    for i in 4..9 {
        q.push(ev(i, &c));
    }
    assert_eq!(q.len(), 5);
    assert_eq!(q.dropped, 4, "e4..e7 dropped, e0..e3 are being sent");
    let ids: Vec<&str> = q
        .batches
        .iter()
        .flat_map(|b| b.events.iter())
        .map(|e| &e.head[13..])
        .collect();
    assert_eq!(ids, ["e0\"", "e1\"", "e2\"", "e3\"", "e8\""]);
}

#[wasm_bindgen_test]
fn byte_bound_drops_oldest() {
    let c = ctx();
    let mut q = Queue::new(
        Limits {
            batch_events: 100,
            max_events: 1000,
            max_bytes: 200,
            ..Limits::default()
        },
        "p:".into(),
    );
    for i in 0..50 {
        q.push(ev(i, &c));
    }
    assert!(q.bytes() <= 200);
    assert_eq!(q.len() as u64 + q.dropped, 50);
}

#[wasm_bindgen_test]
fn retry_keeps_events_and_completion_lists_stored_keys_for_removal() {
    let c = ctx();
    let mut q = queue(2, 100);
    for i in 0..4 {
        q.push(ev(i, &c));
    }
    for b in q.batches.iter_mut() {
        b.stored = true;
    }
    let keys = q.take_request(MAX_REQUEST_BYTES);
    q.release(&keys);
    assert_eq!(q.len(), 4);
    assert_eq!(
        q.take_request(MAX_REQUEST_BYTES),
        keys,
        "a released request is taken again"
    );
    q.complete(&keys);
    assert!(q.is_empty());
    assert_eq!(
        q.removed_keys,
        vec!["pulse:q:test:1".to_string(), "pulse:q:test:2".to_string()]
    );
}

#[wasm_bindgen_test]
fn partial_completion_keeps_the_rest() {
    let c = ctx();
    let mut q = queue(3, 100);
    for i in 0..6 {
        q.push(ev(i, &c));
    }
    let keys = q.take_request(MAX_REQUEST_BYTES);
    q.complete_some(&keys, &[true, true, true, true, false, true]);
    assert_eq!(q.len(), 1);
    assert_eq!(q.batches.len(), 1);
    assert!(!q.batches[0].in_flight && q.batches[0].dirty);
}

#[wasm_bindgen_test]
fn stored_batches_round_trip_with_shared_context() {
    let c1 = ctx();
    let c2: Rc<String> = Rc::new(String::from("{\"page\":{\"url\":\"https://x.test/b\"}}"));
    let mut q = queue(10, 100);
    q.push(ev(1, &c1));
    q.push(ev(2, &c1));
    q.push(ev(3, &c2));
    q.push(QueuedEvent::new(
        "{\"event_id\":\"e4\",\"context\":{}}".into(),
        None,
    ));
    let text = q.batches[0].serialize();
    assert_eq!(
        text.matches("\nc").count() + usize::from(text.starts_with('c')),
        2,
        "one context line per change"
    );
    let events = Batch::deserialize(&text);
    let before = write_body(q.batches[0].events.iter(), 5, "wk");
    let after = write_body(events.iter(), 5, "wk");
    assert_eq!(before, after);
    parse(&after);
}

#[wasm_bindgen_test]
fn body_has_sent_at_and_write_key() {
    let c = ctx();
    let body = write_body([ev(1, &c)].iter(), 1_767_225_600_000, "wk_\"x");
    let o = parse(&body);
    let get = |k: &str| {
        js_sys::Reflect::get(&o, &k.into())
            .unwrap()
            .as_string()
            .unwrap()
    };
    assert_eq!(get("sent_at"), "2026-01-01T00:00:00.000Z");
    assert_eq!(get("write_key"), "wk_\"x");
}

// ---- session -------------------------------------------------------------------

#[wasm_bindgen_test]
fn session_idle_timeout_and_hard_cut() {
    let t0 = 1_000_000_000u64;
    let s = Session::new("s1".into(), t0);
    assert!(!s.expired(t0 + IDLE_MS));
    assert!(s.expired(t0 + IDLE_MS + 1));
    let mut active = s.clone();
    let mut now = t0;
    while now + 20 * 60 * 1000 < t0 + MAX_AGE_MS {
        now += 20 * 60 * 1000; // an event every 20 minutes keeps it alive...
        active = Session::resolve(Some(&active), None, now, || "new".into());
        assert_eq!(active.id, "s1");
    }
    let next = Session::resolve(Some(&active), None, t0 + MAX_AGE_MS, || "s2".into());
    assert_eq!(next.id, "s2", "...but not past 24 hours");
    assert_eq!(next.started_ms, t0 + MAX_AGE_MS);
}

#[wasm_bindgen_test]
fn session_is_shared_through_storage_between_tabs() {
    let t0 = 5_000_000u64;
    let mine = Session::new("old".into(), t0);
    // Another tab started a newer session: this tab joins it.
    let theirs = Session {
        id: "theirs".into(),
        started_ms: t0 + IDLE_MS + 10,
        last_ms: t0 + IDLE_MS + 20,
    };
    let now = t0 + IDLE_MS + 30;
    let r = Session::resolve(Some(&mine), Some(theirs.clone()), now, || "fresh".into());
    assert_eq!(r.id, "theirs");
    assert_eq!(r.last_ms, now);
    // Stored form round-trips; junk is ignored.
    assert_eq!(Session::decode(&theirs.encode()), Some(theirs));
    assert_eq!(Session::decode("x|1"), None);
    assert_eq!(Session::decode("|1|2"), None);
    // A new tab with nothing stored starts one.
    assert_eq!(
        Session::resolve(None, None, now, || "fresh".into()).id,
        "fresh"
    );
}

// ---- backoff -------------------------------------------------------------------

#[wasm_bindgen_test]
fn which_answers_are_retried() {
    for s in [0, 408, 429, 500, 502, 503, 599] {
        assert_eq!(classify(s), Outcome::Retry, "{s}");
    }
    for s in [400, 401, 403, 404, 413, 415, 422] {
        assert_eq!(classify(s), Outcome::Drop, "{s}");
    }
    assert_eq!(classify(200), Outcome::Delivered);
    assert_eq!(classify(202), Outcome::Delivered);
}

#[wasm_bindgen_test]
fn backoff_grows_from_half_a_second_to_a_minute_with_jitter() {
    assert_eq!(delay_ms(0, 0, None), 250);
    assert_eq!(delay_ms(0, u16::MAX, None), 500);
    assert_eq!(delay_ms(1, u16::MAX, None), 1000);
    assert_eq!(delay_ms(5, u16::MAX, None), 16_000);
    for attempt in 7..40 {
        let d = delay_ms(attempt, u16::MAX, None);
        assert_eq!(d, 60_000, "capped at 60 s");
        assert!(delay_ms(attempt, 0, None) >= 30_000);
    }
    let spread: std::collections::BTreeSet<u64> =
        (0..50).map(|r| delay_ms(3, r * 1300, None)).collect();
    assert!(spread.len() > 40, "jitter spreads retries");
}

#[wasm_bindgen_test]
fn retry_after_is_honoured_up_to_five_minutes() {
    assert_eq!(retry_after_seconds_ms(" 120 "), Some(120_000));
    assert_eq!(
        retry_after_seconds_ms("Wed, 21 Oct 2015 07:28:00 GMT"),
        None
    );
    assert_eq!(delay_ms(0, 0, Some(120_000)), 120_000);
    assert_eq!(delay_ms(0, 0, Some(3_600_000)), 300_000);
    assert_eq!(
        delay_ms(10, u16::MAX, Some(1000)),
        60_000,
        "never shorter than the backoff"
    );
}
