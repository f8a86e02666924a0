//! Creates the table and queues for the local stack and the tests, with the
//! definitions template.yaml declares (tests/tests/template_drift.rs fails if
//! the two differ). Idempotent; uses waiters, since LocalStack and AWS are not
//! ACTIVE at once as moto is.

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use pulse_core::keys::{GSI1_PK, GSI1_SK, PK, SK, TIMELINE_INDEX, TTL_ATTRIBUTE};
use std::time::Duration;

/// The table's shape, as both this module and template.yaml must declare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// (attribute, HASH|RANGE)
    pub key_schema: Vec<(String, String)>,
    /// (attribute, S|N|B) for every key attribute of the table and its indexes.
    pub attributes: Vec<(String, String)>,
    pub global_indexes: Vec<IndexSpec>,
    pub ttl_attribute: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    /// KEYS_ONLY, INCLUDE or ALL, with the included attributes (sorted).
    pub projection: (String, Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub visibility_timeout_secs: u32,
    pub message_retention_secs: u32,
    pub max_message_bytes: u32,
    pub receive_wait_secs: u32,
    pub dlq_retention_secs: u32,
    pub max_receive_count: u32,
}

pub fn table_spec() -> TableSpec {
    TableSpec {
        key_schema: vec![(PK.into(), "HASH".into()), (SK.into(), "RANGE".into())],
        attributes: vec![
            (PK.into(), "S".into()),
            (SK.into(), "S".into()),
            (GSI1_PK.into(), "S".into()),
            (GSI1_SK.into(), "S".into()),
        ],
        // Only event items carry gsi1pk, so the index holds events alone; it
        // projects what timeline filters read (the event body stays in the table).
        global_indexes: vec![IndexSpec {
            name: TIMELINE_INDEX.into(),
            key_schema: vec![
                (GSI1_PK.into(), "HASH".into()),
                (GSI1_SK.into(), "RANGE".into()),
            ],
            projection: ("INCLUDE".into(), {
                let mut attrs: Vec<String> = crate::dynamo_store::TIMELINE_PROJECTION
                    .iter()
                    .map(|a| a.to_string())
                    .collect();
                attrs.sort();
                attrs
            }),
        }],
        ttl_attribute: TTL_ATTRIBUTE.into(),
    }
}

/// The consumer's timeout is 30 s; SQS visibility must be ≥ 6× that (AWS's
/// guidance for Lambda event sources).
pub fn queue_spec() -> QueueSpec {
    QueueSpec {
        visibility_timeout_secs: 180,
        message_retention_secs: 4 * 86_400,
        max_message_bytes: 1_048_576,
        receive_wait_secs: 20,
        dlq_retention_secs: 14 * 86_400,
        max_receive_count: 5,
    }
}

#[derive(Debug, Clone)]
pub struct StackNames {
    pub table: String,
    pub queue: String,
    pub dead_letter_queue: String,
}

impl StackNames {
    /// Names from a prefix: `{prefix}-events`, `{prefix}-events-queue`, `{prefix}-events-dlq`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            table: format!("{prefix}-events"),
            queue: format!("{prefix}-events-queue"),
            dead_letter_queue: format!("{prefix}-events-dlq"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub table: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
}

#[derive(Debug, thiserror::Error)]
#[error("provisioning failed: {0}")]
pub struct ProvisionError(String);

fn perr<E: std::error::Error + 'static>(e: E) -> ProvisionError {
    ProvisionError(DisplayErrorContext(e).to_string())
}

pub async fn provision(
    clients: &crate::AwsClients,
    names: &StackNames,
) -> Result<Provisioned, ProvisionError> {
    create_table(&clients.dynamodb, &names.table, &table_spec()).await?;
    let (queue_url, dead_letter_queue_url) =
        create_queues(&clients.sqs, names, &queue_spec()).await?;
    Ok(Provisioned {
        table: names.table.clone(),
        queue_url,
        dead_letter_queue_url,
    })
}

fn key_type(t: &str) -> KeyType {
    if t == "HASH" {
        KeyType::Hash
    } else {
        KeyType::Range
    }
}

fn key_schema(keys: &[(String, String)]) -> Vec<KeySchemaElement> {
    keys.iter()
        .map(|(a, t)| {
            KeySchemaElement::builder()
                .attribute_name(a)
                .key_type(key_type(t))
                .build()
                .expect("complete")
        })
        .collect()
}

async fn create_table(
    db: &aws_sdk_dynamodb::Client,
    name: &str,
    spec: &TableSpec,
) -> Result<(), ProvisionError> {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, Projection, ProjectionType};
    let mut req = db
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (a, t) in &spec.attributes {
        let t = match t.as_str() {
            "N" => ScalarAttributeType::N,
            "B" => ScalarAttributeType::B,
            _ => ScalarAttributeType::S,
        };
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a)
                .attribute_type(t)
                .build()
                .expect("complete"),
        );
    }
    req = req.set_key_schema(Some(key_schema(&spec.key_schema)));
    for ix in &spec.global_indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(ix.projection.0.as_str()))
            .set_non_key_attributes((!ix.projection.1.is_empty()).then(|| ix.projection.1.clone()))
            .build();
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&ix.name)
                .set_key_schema(Some(key_schema(&ix.key_schema)))
                .projection(projection)
                .build()
                .expect("complete"),
        );
    }
    match req.send().await {
        Ok(_) => tracing::info!(table = name, "created table"),
        Err(e) if e.code() == Some("ResourceInUseException") => {
            tracing::info!(table = name, "table exists")
        }
        Err(e) => return Err(perr(e)),
    }
    db.wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(120))
        .await
        .map_err(|e| ProvisionError(format!("table {name} did not become ACTIVE: {e}")))?;
    let ttl = db
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(perr)?;
    let enabled = ttl
        .time_to_live_description()
        .is_some_and(|d| d.attribute_name() == Some(spec.ttl_attribute.as_str()));
    if !enabled {
        db.update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(&spec.ttl_attribute)
                    .build()
                    .expect("complete"),
            )
            .send()
            .await
            .map_err(perr)?;
    }
    Ok(())
}

async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    names: &StackNames,
    spec: &QueueSpec,
) -> Result<(String, String), ProvisionError> {
    let dlq = sqs
        .create_queue()
        .queue_name(&names.dead_letter_queue)
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            spec.dlq_retention_secs.to_string(),
        )
        .send()
        .await
        .map_err(perr)?;
    let dlq_url = dlq.queue_url().unwrap_or_default().to_owned();
    // Never build an ARN by hand: moto, LocalStack and AWS format them differently.
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(perr)?;
    let dlq_arn = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| ProvisionError("the DLQ has no QueueArn".into()))?;
    let redrive = format!(
        r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":{}}}"#,
        spec.max_receive_count
    );
    let main = sqs
        .create_queue()
        .queue_name(&names.queue)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            spec.visibility_timeout_secs.to_string(),
        )
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            spec.message_retention_secs.to_string(),
        )
        .attributes(
            QueueAttributeName::MaximumMessageSize,
            spec.max_message_bytes.to_string(),
        )
        .attributes(
            QueueAttributeName::ReceiveMessageWaitTimeSeconds,
            spec.receive_wait_secs.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(perr)?;
    let url = main.queue_url().unwrap_or_default().to_owned();
    tracing::info!(queue = %url, dlq = %dlq_url, "queues ready");
    Ok((url, dlq_url))
}

/// The consumer's SQS event source, as template.yaml declares it
/// (`BatchSize`, `MaximumBatchingWindowInSeconds`); the dev gateway polls
/// with the same settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceSpec {
    pub batch_size: u32,
    pub batching_window_secs: u32,
    pub report_batch_item_failures: bool,
}

pub fn event_source_spec() -> EventSourceSpec {
    EventSourceSpec {
        batch_size: 100,
        batching_window_secs: 1,
        report_batch_item_failures: true,
    }
}
