//! The real `segment-analytics-python` library (PyPI), pointed at the dev
//! gateway with the demo write key, delivers its calls as Pulse events.

use pulse_tests::{events_of, repo_root, venv_bin, TestStack, WRITE_KEY};
use serde_json::Value;
use std::collections::HashMap;

#[tokio::test]
async fn segment_python_library_calls_arrive_as_pulse_events() {
    let stack = TestStack::start("segment").await;
    let script = repo_root().join("tests/python/segment_client.py");
    let out = tokio::process::Command::new(venv_bin("python"))
        .arg(&script)
        .arg(&stack.base_url)
        .arg(WRITE_KEY)
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "segment client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_slice(out.stdout.trim_ascii()).expect("the script prints JSON");
    assert_eq!(
        report["errors"],
        serde_json::json!([]),
        "the library reported delivery errors"
    );

    let events = events_of(&stack.drain_queue().await);
    let by_id: HashMap<&str, &Value> = events
        .iter()
        .map(|e| (e["event_id"].as_str().unwrap(), e))
        .collect();
    assert_eq!(events.len(), 5, "{events:#?}");
    let sent = &report["sent"];
    let get = |call: &str| by_id[sent[call].as_str().unwrap()];

    let track = get("track");
    assert_eq!(track["type"], "Order Completed");
    assert_eq!(
        (track["category"].as_str(), track["action"].as_str()),
        (Some("Order"), Some("Completed"))
    );
    assert_eq!(track["user_id"], "user-42");
    assert_eq!(track["properties"]["total"], 19.99);
    assert_eq!(track["context"]["library"]["name"], "analytics-python");

    let identify = get("identify");
    assert_eq!(identify["type"], "identify");
    assert_eq!(identify["properties"]["plan"], "pro");

    let page = get("page");
    assert_eq!(
        (page["type"].as_str(), page["entity_id"].as_str()),
        (Some("page_view"), Some("Getting started"))
    );
    assert_eq!(get("group")["entity_id"], "acme");
    assert_eq!(get("alias")["properties"]["previous_id"], "anon-7");
    // The library stamps its own clock; the server's correction keeps it near now.
    let now = pulse_core::time::now_millis();
    assert!((track["timestamp"].as_i64().unwrap() - now).abs() < 60_000);
}
