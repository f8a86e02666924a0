//! The dev gateway's SQS event source: events posted to the ingest arrive in
//! DynamoDB through the real consumer handler; a malformed message in a
//! batch of 10 fails alone and, after the redrive count, sits in the DLQ.

use pulse_adapters::DynamoReader;
use pulse_tests::{drain, TestStack, WRITE_KEY};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn malformed_message_reaches_the_dlq_and_its_neighbours_are_stored() {
    let mut stack = TestStack::start("dlq").await;
    // 9 good messages through the ingest (one request each), 1 poison one.
    for i in 0..9 {
        let events: Vec<_> = (0..5).map(|j| json!({"event_id": format!("e{i}-{j}"), "type": "item_viewed", "user_id": format!("u{i}")})).collect();
        let res = reqwest::Client::new()
            .post(stack.url("/v1/events"))
            .bearer_auth(WRITE_KEY)
            .body(json!({"events": events}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }
    let queue = stack.stack.provisioned.queue_url.clone();
    stack
        .clients
        .sqs
        .send_message()
        .queue_url(&queue)
        .message_body("this is not an envelope")
        .send()
        .await
        .unwrap();

    // A short visibility timeout so redeliveries come quickly.
    stack.stack.event_source.visibility_timeout = Some(1);
    stack.stack.event_source.wait_seconds = 0;
    let first = stack.stack.event_source.poll_once().await.unwrap();
    assert_eq!((first.received, first.deleted, first.failed), (10, 9, 1));

    let reader = DynamoReader::new(
        stack.clients.dynamodb.clone(),
        &stack.stack.provisioned.table,
    );
    for i in 0..9 {
        for j in 0..5 {
            assert!(
                reader
                    .get_event("demo", &format!("e{i}-{j}"))
                    .await
                    .unwrap()
                    .is_some(),
                "e{i}-{j} stored"
            );
        }
    }

    // Redeliveries fail again until SQS's redrive policy (maxReceiveCount 5) moves it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let dlq = stack.stack.provisioned.dead_letter_queue_url.clone();
    let mut in_dlq = Vec::new();
    while in_dlq.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = stack.stack.event_source.poll_once().await.unwrap();
        assert_eq!(r.deleted, 0, "only the poison message is left");
        in_dlq = drain(&stack.clients.sqs, &dlq).await;
    }
    assert_eq!(in_dlq, vec!["this is not an envelope".to_owned()]);
    assert!(
        drain(&stack.clients.sqs, &queue).await.is_empty(),
        "the main queue is empty"
    );
}

/// `make dev` long-polls for 20 s, longer than the clients' 5 s attempt
/// timeout. An event sent while the gateway has been idle for a while must
/// still be stored within seconds (an abandoned poll would hide it for the
/// 180 s visibility timeout).
#[tokio::test]
async fn an_event_sent_after_an_idle_spell_is_stored_promptly() {
    let stack = TestStack::start("idle").await;
    let source = &stack.stack.event_source;
    let mapping = pulse_gateway::event_source::EventSourceMapping {
        sqs: source.sqs.clone(),
        queue_url: source.queue_url.clone(),
        batch_size: source.batch_size,
        batching_window: source.batching_window,
        visibility_timeout: None,
        wait_seconds: 20,
        handler: source.handler.clone(),
    };
    assert_eq!(
        source.wait_seconds, 20,
        "the dev stack long-polls as Lambda does"
    );
    let polling = tokio::spawn(mapping.run());
    tokio::time::sleep(Duration::from_secs(8)).await;
    let res = reqwest::Client::new()
        .post(stack.url("/v1/events"))
        .bearer_auth(WRITE_KEY)
        .body(json!({"event_id": "late-1", "type": "item_viewed", "user_id": "u"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let reader = DynamoReader::new(
        stack.clients.dynamodb.clone(),
        &stack.stack.provisioned.table,
    );
    let sent = Instant::now();
    while reader.get_event("demo", "late-1").await.unwrap().is_none() {
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "not stored within 10 s of being sent"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    polling.abort();
}
