//! template.yaml and the local provisioning (`pulse_adapters::provision`)
//! must declare the same table and queues; this test fails when one side
//! changes alone.

use pulse_adapters::provision::{
    event_source_spec, queue_spec, table_spec, EventSourceSpec, IndexSpec, QueueSpec, TableSpec,
};
use pulse_tests::repo_root;
use serde_yaml::Value;

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<&'a Value> {
    template["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
        .values()
        .filter(|r| r["Type"].as_str() == Some(kind))
        .collect()
}

fn pairs(list: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    list.as_sequence()
        .map(|s| s.iter().map(|e| (text(&e[a]), text(&e[b]))).collect())
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn number(v: &Value) -> u32 {
    text(v)
        .parse()
        .unwrap_or_else(|_| panic!("{v:?} is not a number"))
}

fn table_from_template(template: &Value) -> TableSpec {
    let tables = resources_of_type(template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one DynamoDB table");
    let p = &tables[0]["Properties"];
    assert_eq!(
        p["BillingMode"].as_str(),
        Some("PAY_PER_REQUEST"),
        "on-demand billing"
    );
    assert_eq!(
        p["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true),
        "TTL enabled"
    );
    let mut attributes = pairs(&p["AttributeDefinitions"], "AttributeName", "AttributeType");
    attributes.sort();
    let global_indexes = p["GlobalSecondaryIndexes"]
        .as_sequence()
        .map(|ixs| {
            ixs.iter()
                .map(|ix| {
                    let mut included: Vec<String> = ix["Projection"]["NonKeyAttributes"]
                        .as_sequence()
                        .map(|s| s.iter().map(text).collect())
                        .unwrap_or_default();
                    included.sort();
                    IndexSpec {
                        name: text(&ix["IndexName"]),
                        key_schema: pairs(&ix["KeySchema"], "AttributeName", "KeyType"),
                        projection: (text(&ix["Projection"]["ProjectionType"]), included),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    TableSpec {
        key_schema: pairs(&p["KeySchema"], "AttributeName", "KeyType"),
        attributes,
        global_indexes,
        ttl_attribute: text(&p["TimeToLiveSpecification"]["AttributeName"]),
    }
}

fn queue_from_template(template: &Value) -> QueueSpec {
    let queues = resources_of_type(template, "AWS::SQS::Queue");
    let main = queues
        .iter()
        .find(|q| !q["Properties"]["RedrivePolicy"].is_null())
        .expect("a queue with a redrive policy");
    let dlq_ref = &main["Properties"]["RedrivePolicy"]["deadLetterTargetArn"];
    let dlq_name = match dlq_ref {
        Value::Tagged(t) => text(&t.value).split('.').next().unwrap().to_owned(),
        other => panic!("deadLetterTargetArn should be !GetAtt <Queue>.Arn, got {other:?}"),
    };
    let dlq = &template["Resources"][dlq_name.as_str()]["Properties"];
    let p = &main["Properties"];
    QueueSpec {
        visibility_timeout_secs: number(&p["VisibilityTimeout"]),
        message_retention_secs: number(&p["MessageRetentionPeriod"]),
        max_message_bytes: number(&p["MaximumMessageSize"]),
        receive_wait_secs: number(&p["ReceiveMessageWaitTimeSeconds"]),
        dlq_retention_secs: number(&dlq["MessageRetentionPeriod"]),
        max_receive_count: number(&p["RedrivePolicy"]["maxReceiveCount"]),
    }
}

/// The consumer's SQS event (the only `Type: SQS` event in the template).
fn event_source_from_template(template: &Value) -> EventSourceSpec {
    let functions = resources_of_type(template, "AWS::Serverless::Function");
    let events: Vec<&Value> = functions
        .iter()
        .filter_map(|f| f["Properties"]["Events"].as_mapping())
        .flat_map(|m| m.values())
        .filter(|e| e["Type"].as_str() == Some("SQS"))
        .collect();
    assert_eq!(events.len(), 1, "one SQS event source");
    let p = &events[0]["Properties"];
    EventSourceSpec {
        batch_size: number(&p["BatchSize"]),
        batching_window_secs: number(&p["MaximumBatchingWindowInSeconds"]),
        report_batch_item_failures: p["FunctionResponseTypes"].as_sequence().is_some_and(|s| {
            s.iter()
                .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
        }),
    }
}

fn local_table() -> TableSpec {
    let mut spec = table_spec();
    spec.attributes.sort();
    spec
}

fn template_text() -> String {
    std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml exists")
}

#[test]
fn template_and_local_provisioning_declare_the_same_table_and_queues() {
    let template: Value = serde_yaml::from_str(&template_text()).unwrap();
    assert_eq!(table_from_template(&template), local_table());
    assert_eq!(queue_from_template(&template), queue_spec());
    assert_eq!(event_source_from_template(&template), event_source_spec());
}

#[test]
fn the_check_notices_a_change_on_one_side() {
    let original = template_text();
    let ttl_changed = original.replace("AttributeName: expires_at", "AttributeName: ttl");
    assert_ne!(ttl_changed, original);
    let t: Value = serde_yaml::from_str(&ttl_changed).unwrap();
    assert_ne!(table_from_template(&t), local_table());

    let redrive_changed = original.replace("maxReceiveCount: 5", "maxReceiveCount: 3");
    let t: Value = serde_yaml::from_str(&redrive_changed).unwrap();
    assert_ne!(queue_from_template(&t), queue_spec());

    let gsi_changed = original.replace("IndexName: timeline", "IndexName: user-timeline");
    let t: Value = serde_yaml::from_str(&gsi_changed).unwrap();
    assert_ne!(table_from_template(&t), local_table());
    let projection_changed = original.replace("entity_id, expires_at]", "entity_id]");
    let t: Value = serde_yaml::from_str(&projection_changed).unwrap();
    assert_ne!(table_from_template(&t), local_table());

    let batch_changed = original.replace("BatchSize: 100", "BatchSize: 10");
    let t: Value = serde_yaml::from_str(&batch_changed).unwrap();
    assert_ne!(event_source_from_template(&t), event_source_spec());
    let typo = original.replace("[ReportBatchItemFailures]", "[ReportBatchItemFailure]");
    let t: Value = serde_yaml::from_str(&typo).unwrap();
    assert_ne!(event_source_from_template(&t), event_source_spec());

    let key_changed = original.replacen("KeyType: RANGE", "KeyType: HASH", 1);
    let t: Value = serde_yaml::from_str(&key_changed).unwrap();
    assert_ne!(table_from_template(&t), local_table());
}

/// (function logical id, method, path) of every HTTP API route in the template.
fn template_routes(template: &Value) -> Vec<(String, String, String)> {
    let mut routes = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values() {
            if event["Type"].as_str() == Some("HttpApi") {
                routes.push((
                    text(name),
                    text(&event["Properties"]["Method"]),
                    text(&event["Properties"]["Path"]),
                ));
            }
        }
    }
    routes
}

/// Every route the template sends to a function is one that function
/// answers (the dev gateway routes the same way): a route added on one side
/// only fails here.
#[tokio::test]
async fn every_template_route_reaches_a_handler_that_serves_it() {
    let template: Value = serde_yaml::from_str(&template_text()).unwrap();
    let routes = template_routes(&template);
    assert!(routes.len() >= 25, "routes found: {routes:?}");
    let stack = pulse_tests::TestStack::start("routes").await;
    let client = reqwest::Client::new();
    for (function, method, path) in routes {
        // `{user_id}` → a sample value; `/dashboard/{asset}` → a real asset.
        let concrete = path
            .replace("{asset}", "app.js")
            .split('/')
            .map(|seg| if seg.starts_with('{') { "sample" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let m: http::Method = method.parse().unwrap();
        let is_query = pulse_query::QueryHandler::serves(&m, &concrete);
        assert_eq!(
            is_query,
            function == "QueryFunction",
            "{method} {path} goes to {function} in the template"
        );
        let key = if is_query {
            pulse_tests::READ_KEY
        } else {
            pulse_tests::WRITE_KEY
        };
        let res = client
            .request(method.parse().unwrap(), stack.url(&concrete))
            .bearer_auth(key)
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(
            status != 404 || !body.contains("no route"),
            "{method} {path}: the handler has no such route: {body}"
        );
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert!(status < 500, "{method} {path}: {status} {body}");
    }
}
