//! The live tail and per-user monitoring end to end: events go through the
//! ingest handler, SQS (moto) and the consumer (local event source); the
//! query handler serves `/v1/live` and `/v1/monitoring/...`.

use pulse_adapters::{DynamoLive, DynamoStore};
use pulse_core::consume::{Consumer, QueueMessage};
use pulse_core::time::now_millis;
use pulse_tests::{TestStack, READ_KEY, WRITE_KEY};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn get(stack: &TestStack, path: &str) -> Value {
    let (status, body) = stack.call(reqwest::Method::GET, path, READ_KEY).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn ingest(stack: &TestStack, events: &[Value]) {
    stack.ingest(events, WRITE_KEY, events.len()).await
}

fn ev(id: &str, user: &str, n: u32) -> Value {
    json!({
        "event_id": id,
        "type": "task_done",
        "user_id": user,
        "properties": {"step": n, "detail": {"note": format!("n{n}")}},
    })
}

fn ids(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Live reads skip the last second (writes may be in flight).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1_100)).await;
}

#[tokio::test]
async fn live_tail_lists_each_stored_event_once_in_order() {
    let mut stack = TestStack::start("live").await;
    let first: Vec<Value> = (0..5).map(|i| ev(&format!("l{i}"), "u1", i)).collect();
    ingest(&stack, &first).await;
    stack.consume_all().await;
    settle().await;

    let tail = get(&stack, "/v1/live").await;
    assert_eq!(ids(&tail), ["l0", "l1", "l2", "l3", "l4"], "{tail}");
    assert_eq!(tail["events"][0]["properties"]["step"], 0);
    let cursor = tail["next_cursor"].as_str().unwrap().to_owned();

    // Nothing new: an empty page.
    let empty = get(&stack, &format!("/v1/live?since={cursor}")).await;
    assert_eq!(ids(&empty), Vec::<String>::new());

    // A client retry of old events plus new ones: only the new ones appear.
    let mut second = first[..2].to_vec();
    second.extend((5..8).map(|i| ev(&format!("l{i}"), "u2", i)));
    ingest(&stack, &second).await;
    stack.consume_all().await;
    settle().await;
    let next = get(
        &stack,
        &format!(
            "/v1/live?since={}&limit=2",
            empty["next_cursor"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(ids(&next), ["l5", "l6"]);
    assert_eq!(next["more"], true);
    let rest = get(
        &stack,
        &format!("/v1/live?since={}", next["next_cursor"].as_str().unwrap()),
    )
    .await;
    assert_eq!(ids(&rest), ["l7"]);
    assert_eq!(rest["more"], false);

    // The type filter, and bad parameters.
    let filtered = get(&stack, "/v1/live?type=nope").await;
    assert!(filtered["events"].as_array().unwrap().is_empty());
    let (status, body) = stack
        .call(reqwest::Method::GET, "/v1/live?since=garbage", READ_KEY)
        .await;
    assert_eq!(
        (status, body["error"]["parameter"].clone()),
        (400, json!("since"))
    );
}

#[tokio::test]
async fn a_redelivered_message_is_listed_live_once() {
    let stack = TestStack::start("live-redeliver").await;
    let table = stack.stack.provisioned.table.clone();
    let db = stack.clients.dynamodb.clone();
    let consumer = Consumer::new(Arc::new(DynamoStore::new(db.clone(), &table)))
        .with_live(Arc::new(DynamoLive::new(db, &table)), Duration::ZERO);
    ingest(&stack, &[ev("r1", "u1", 1), ev("r2", "u1", 2)]).await;
    let bodies = stack.drain_queue().await;
    let messages: Vec<QueueMessage> = bodies
        .into_iter()
        .map(|body| QueueMessage {
            message_id: "m-1".into(),
            body,
        })
        .collect();
    let first = consumer.process(&messages).await;
    let again = consumer.process(&messages).await; // SQS redelivery
    assert_eq!((first.events_stored, again.already_applied), (2, 1));
    settle().await;
    assert_eq!(ids(&get(&stack, "/v1/live").await), ["r1", "r2"]);
}

#[tokio::test]
async fn monitoring_records_only_the_monitored_user_until_it_expires() {
    let mut stack = TestStack::start("monitor").await;
    // 6 seconds of monitoring for alice.
    let (status, started) = stack
        .call(
            reqwest::Method::POST,
            "/v1/monitoring/users/alice?ttl_hours=0.0016667",
            READ_KEY,
        )
        .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["monitoring"], true);
    let until = started["until_ms"].as_i64().unwrap();
    assert!((until - now_millis() - 6_000).abs() < 2_000, "{started}");
    let listed = get(&stack, "/v1/monitoring/users").await;
    assert_eq!(listed["users"][0]["user_id"], "alice", "{listed}");

    ingest(
        &stack,
        &[
            ev("a1", "alice", 1),
            ev("b1", "bob", 1),
            ev("a2", "alice", 2),
        ],
    )
    .await;
    stack.consume_all().await;
    let alice = get(&stack, "/v1/monitoring/users/alice/events").await;
    assert_eq!(ids(&alice), ["a1", "a2"], "{alice}");
    assert_eq!(alice["monitoring"], true);
    assert_eq!(
        alice["events"][1]["properties"]["detail"]["note"], "n2",
        "full properties"
    );
    let bob = get(&stack, "/v1/monitoring/users/bob/events").await;
    assert_eq!(ids(&bob), Vec::<String>::new());
    assert_eq!(bob["monitoring"], false);
    // The cursor gives only what comes after it.
    let cursor = alice["next_cursor"].as_str().unwrap();
    let after = get(
        &stack,
        &format!("/v1/monitoring/users/alice/events?since={cursor}"),
    )
    .await;
    assert!(after["events"].as_array().unwrap().is_empty(), "{after}");

    // After the window: nothing more is recorded, and the monitor is gone.
    let wait = (until - now_millis() + 500).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    ingest(&stack, &[ev("a3", "alice", 3)]).await;
    stack.consume_all().await;
    let recorded = stack
        .clients
        .dynamodb
        .scan()
        .table_name(&stack.stack.provisioned.table)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S("DBG#".into()),
        )
        .send()
        .await
        .unwrap();
    let sks: Vec<String> = recorded
        .items()
        .iter()
        .map(|i| i["sk"].as_s().unwrap().clone())
        .collect();
    assert_eq!(sks.len(), 2, "only a1 and a2 were recorded: {sks:?}");
    assert!(sks.iter().all(|k| !k.ends_with("#a3")));
    let listed = get(&stack, "/v1/monitoring/users").await;
    assert!(listed["users"].as_array().unwrap().is_empty(), "{listed}");
    let expired = get(&stack, "/v1/monitoring/users/alice/events").await;
    assert!(
        expired["events"].as_array().unwrap().is_empty(),
        "expired records are never returned: {expired}"
    );
    // a3 was still stored as a normal event.
    assert_eq!(get(&stack, "/v1/events/a3").await["event_id"], "a3");

    // Stop, bad ttl, wrong method.
    let (_, stopped) = stack
        .call(
            reqwest::Method::DELETE,
            "/v1/monitoring/users/alice",
            READ_KEY,
        )
        .await;
    assert_eq!(stopped["removed"], false, "it had expired already");
    let (status, body) = stack
        .call(
            reqwest::Method::POST,
            "/v1/monitoring/users/bob?ttl_hours=500",
            READ_KEY,
        )
        .await;
    assert_eq!(
        (status, body["error"]["parameter"].clone()),
        (400, json!("ttl_hours"))
    );
    let (status, _) = stack
        .call(reqwest::Method::POST, "/v1/monitoring/users/bob", READ_KEY)
        .await;
    assert_eq!(status, 200);
    let (_, stopped) = stack
        .call(
            reqwest::Method::DELETE,
            "/v1/monitoring/users/bob",
            READ_KEY,
        )
        .await;
    assert_eq!(stopped["removed"], true);
    let (status, body) = stack
        .call(reqwest::Method::DELETE, "/v1/monitoring/users", READ_KEY)
        .await;
    assert_eq!(status, 405, "{body}");
}

#[tokio::test]
async fn dashboard_is_served_without_a_key() {
    let stack = TestStack::start("dashboard").await;
    let res = reqwest::get(stack.url("/dashboard")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("app.js"));
    let js = reqwest::get(stack.url("/dashboard/app.js")).await.unwrap();
    assert_eq!(js.status(), 200);
    let missing = reqwest::get(stack.url("/dashboard/nope.js")).await.unwrap();
    assert_eq!(missing.status(), 404);
}
