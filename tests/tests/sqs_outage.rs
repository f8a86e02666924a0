//! SQS down → 503 with Retry-After and nothing accepted; once it is back, the
//! client's retry of the same batch is accepted and arrives once.

use pulse_adapters::provision;
use pulse_adapters::DynamoProjects;
use pulse_core::project::NewProject;
use pulse_tests::{events_of, Moto, TestStack, READ_KEY, WRITE_KEY};
use serde_json::json;

#[tokio::test]
async fn queue_outage_answers_503_and_the_retry_succeeds() {
    let mut stack = TestStack::start_on(Moto::start_owned(), "outage").await;
    let batch = json!({"events": (0..20).map(|i| json!({"event_id": format!("retry-{i}"), "type": "t", "user_id": "u"})).collect::<Vec<_>>()}).to_string();
    let url = stack.url("/v1/events");
    let send = |body: String| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(WRITE_KEY)
                .body(body)
                .send()
                .await
                .expect("the gateway answers")
        }
    };
    // Warm the key cache, as a live function would be.
    assert_eq!(
        send(json!({"type": "t", "user_id": "u"}).to_string())
            .await
            .status()
            .as_u16(),
        200
    );
    stack.drain_queue().await;

    stack.moto.stop();
    let res = send(batch.clone()).await;
    assert_eq!(res.status().as_u16(), 503);
    let retry_after: u32 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert!(
        ["queue_unavailable", "directory_unavailable"]
            .contains(&body["error"]["code"].as_str().unwrap()),
        "{body}"
    );

    // The emulator comes back empty; provision it again as `make dev` would.
    stack.moto.restart();
    let provisioned = provision::provision(&stack.clients, &stack.options.names)
        .await
        .unwrap();
    assert_eq!(provisioned.queue_url, stack.stack.provisioned.queue_url);
    let mut demo = NewProject::new("demo", "Demo");
    (demo.write_key, demo.read_key) = (WRITE_KEY.into(), READ_KEY.into());
    DynamoProjects::new(stack.clients.dynamodb.clone(), &provisioned.table)
        .ensure(&demo)
        .await
        .unwrap();

    let res = send(batch).await;
    assert_eq!(res.status().as_u16(), 200);
    let out: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(out["accepted"], 20);
    let mut ids: Vec<String> = events_of(&stack.drain_queue().await)
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("retry-{i}")).collect();
    want.sort();
    assert_eq!(ids, want);
}
