//! The ingest path end to end: HTTP → dev gateway → the real lambda_http
//! handler → SQS on moto, read back through the real aws-sdk-sqs client.

use flate2::write::GzEncoder;
use pulse_tests::{events_of, TestStack, WRITE_KEY};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;

fn event(i: usize) -> Value {
    json!({
        "event_id": format!("00000000-0000-7000-8000-{i:012}"),
        "type": "project_created",
        "user_id": format!("user-{}", i % 7),
        "session_id": "s-1",
        "properties": {"i": i, "note": "ü and \"quotes\""},
        "context": {"user_agent": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"}
    })
}

async fn post(
    stack: &TestStack,
    path: &str,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new().post(stack.url(path)).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request completes");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

const BEARER: (&str, &str) = ("authorization", "Bearer wk_test_demo");
const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn hundred_valid_events_and_one_invalid_reach_the_queue() {
    let stack = TestStack::start("ingest100").await;
    let mut events: Vec<Value> = (0..100).map(event).collect();
    events.insert(57, json!({"event_id": "bad-one", "type": "no_user"}));
    let body = json!({"events": events, "sent_at": pulse_core::time::format_millis(pulse_core::time::now_millis())});
    let (status, _, out) = post(&stack, "/v1/events", body.to_string(), &[BEARER, JSON]).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["accepted"], 100);
    assert_eq!(
        out["rejected"],
        json!([{"index": 57, "event_id": "bad-one", "error": "user_id: user_id or anonymous_id is required"}])
    );

    let queued = events_of(&stack.drain_queue().await);
    assert_eq!(queued.len(), 100);
    let ids: BTreeSet<String> = queued
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = (0..100)
        .map(|i| format!("00000000-0000-7000-8000-{i:012}"))
        .collect();
    assert_eq!(ids, want);
    for e in &queued {
        assert_eq!(e["project_id"], "demo");
        assert_eq!(
            (e["category"].as_str(), e["action"].as_str()),
            (Some("project"), Some("created"))
        );
        assert_eq!(e["device_type"], "tablet");
        assert_eq!(e["properties"]["note"], "ü and \"quotes\"");
    }
}

#[tokio::test]
async fn errors_are_json_with_the_right_status() {
    let stack = TestStack::start("errors").await;
    let one = json!({"type": "t", "user_id": "u"}).to_string();

    let (s, _, out) = post(&stack, "/v1/events", "{garbage", &[BEARER, JSON]).await;
    assert_eq!(
        (s, out["error"]["code"].as_str()),
        (400, Some("invalid_body"))
    );
    assert!(out["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));

    let (s, _, out) = post(
        &stack,
        "/v1/events",
        one.clone(),
        &[("authorization", "Bearer wk_wrong"), JSON],
    )
    .await;
    assert_eq!(
        (s, out["error"]["code"].as_str()),
        (401, Some("invalid_write_key"))
    );
    let (s, _, out) = post(&stack, "/v1/events", one.clone(), &[JSON]).await;
    assert_eq!(
        (s, out["error"]["code"].as_str()),
        (401, Some("missing_write_key"))
    );
    let (s, _, out) = post(
        &stack,
        "/v1/events",
        one.clone(),
        &[("authorization", "Bearer rk_test_demo"), JSON],
    )
    .await;
    assert_eq!(
        (s, out["error"]["code"].as_str()),
        (403, Some("read_key_not_allowed"))
    );

    let two_mib = format!(r#"{{"events":[],"pad":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let (s, _, out) = post(&stack, "/v1/events", two_mib, &[BEARER, JSON]).await;
    assert_eq!(
        (s, out["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );

    // A gzip body that expands past 1 MiB is refused after decoding.
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(format!(r#"{{"events":[],"pad":"{}"}}"#, "x".repeat(1_100_000)).as_bytes())
        .unwrap();
    let (s, _, _) = post(
        &stack,
        "/v1/events",
        gz.finish().unwrap(),
        &[BEARER, ("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(s, 413);

    let (s, _, out) = post(
        &stack,
        "/v1/events",
        one.clone(),
        &[BEARER, ("content-encoding", "br")],
    )
    .await;
    assert_eq!(
        (s, out["error"]["code"].as_str()),
        (415, Some("unsupported_encoding"))
    );
    let (s, _, out) = post(
        &stack,
        "/v1/events",
        one.clone(),
        &[BEARER, ("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(
        (s, out["error"]["code"].as_str()),
        (415, Some("unsupported_encoding"))
    );
    let (s, _, out) = post(
        &stack,
        "/v1/events",
        one.clone(),
        &[BEARER, ("content-type", "application/xml")],
    )
    .await;
    assert_eq!(
        (s, out["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (s, _, out) = post(&stack, "/v1/nothing", one.clone(), &[BEARER]).await;
    assert_eq!((s, out["error"]["code"].as_str()), (404, Some("not_found")));
    let res = reqwest::Client::new()
        .put(stack.url("/v1/events"))
        .body(one.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);

    assert!(
        stack.drain_queue().await.is_empty(),
        "nothing may be queued by failed requests"
    );
}

#[tokio::test]
async fn gzip_text_plain_basic_auth_body_key_and_preflight() {
    let stack = TestStack::start("encodings").await;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(
        json!({"events": [{"event_id": "gz", "type": "t", "user_id": "u"}]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let (s, _, out) = post(
        &stack,
        "/v1/events",
        gz.finish().unwrap(),
        &[BEARER, JSON, ("content-encoding", "gzip")],
    )
    .await;
    assert_eq!((s, out["accepted"].as_u64()), (200, Some(1)), "{out}");

    // What sendBeacon sends: text/plain, key in the body, no auth header.
    let beacon = json!({"write_key": WRITE_KEY, "events": [{"event_id": "beacon", "type": "t", "anonymous_id": "a"}]});
    let (s, headers, out) = post(
        &stack,
        "/v1/events",
        beacon.to_string(),
        &[
            ("content-type", "text/plain;charset=UTF-8"),
            ("origin", "https://app.test"),
        ],
    )
    .await;
    assert_eq!((s, out["accepted"].as_u64()), (200, Some(1)), "{out}");
    assert_eq!(headers["access-control-allow-origin"], "https://app.test");

    // HTTP Basic with the key as user name, as Segment libraries send it.
    let basic = ("authorization", "Basic d2tfdGVzdF9kZW1vOg=="); // base64("wk_test_demo:")
    let (s, _, out) = post(
        &stack,
        "/v1/events",
        json!({"event_id": "basic", "type": "t", "user_id": "u"}).to_string(),
        &[basic],
    )
    .await;
    assert_eq!((s, out["accepted"].as_u64()), (200, Some(1)), "{out}");

    let res = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, stack.url("/v1/events"))
        .header("origin", "https://app.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.test"
    );
    assert!(res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("Authorization"));
    assert!(res.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    let ids: BTreeSet<String> = events_of(&stack.drain_queue().await)
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["gz".to_owned(), "beacon".to_owned(), "basic".to_owned()])
    );
}

#[tokio::test]
async fn a_one_mib_body_is_packed_into_several_messages_and_all_arrive() {
    let stack = TestStack::start("packing").await;
    let mut events = Vec::new();
    let mut size = 0;
    let mut i = 0;
    while size < 1_000_000 {
        let e = json!({"event_id": format!("e{i}"), "type": "bulk_load", "user_id": "u", "properties": {"pad": "p".repeat(300)}});
        size += e.to_string().len() + 1;
        events.push(e);
        i += 1;
    }
    let body = json!({"events": events}).to_string();
    assert!(body.len() <= 1024 * 1024);
    let (s, _, out) = post(&stack, "/v1/events", body, &[BEARER, JSON]).await;
    assert_eq!(
        (s, out["accepted"].as_u64()),
        (200, Some(i as u64)),
        "{out}"
    );
    let bodies = stack.drain_queue().await;
    assert!(
        bodies.len() >= 4,
        "1 MB of events needs several 256 KiB messages, got {}",
        bodies.len()
    );
    assert!(bodies.iter().all(|b| b.len() <= 256 * 1024));
    let ids: Vec<String> = events_of(&bodies)
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), i);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), i);
}
