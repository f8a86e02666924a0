//! The consumer's Lambda shell: SQS event in, partial batch response out.
//! The work is `pulse_core::consume::Consumer` over the DynamoDB store.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use pulse_adapters::metrics::MetricSet;
use pulse_adapters::{AwsClients, DynamoStore};
use pulse_core::consume::{Consumer, EventStore, QueueMessage};
use std::sync::Arc;
use std::time::Instant;

/// Read once per cold start.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub table_name: String,
}

impl ConsumerConfig {
    pub fn from_env() -> Result<Self, String> {
        let table_name = std::env::var("TABLE_NAME")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or("TABLE_NAME must be set")?;
        Ok(Self { table_name })
    }
}

pub struct ConsumerHandler {
    consumer: Consumer,
}

impl ConsumerHandler {
    pub fn new(clients: &AwsClients, config: &ConsumerConfig) -> Self {
        Self::from_store(Arc::new(DynamoStore::new(
            clients.dynamodb.clone(),
            &config.table_name,
        )))
    }

    pub fn from_store(store: Arc<dyn EventStore>) -> Self {
        Self {
            consumer: Consumer::new(store),
        }
    }

    /// Never fails: messages that could not be handled are listed in
    /// `batchItemFailures` (ReportBatchItemFailures), so SQS redelivers only
    /// them and, after the redrive count, moves them to the DLQ.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let started = Instant::now();
        let mut response = SqsBatchResponse::default();
        let mut messages = Vec::with_capacity(event.records.len());
        for record in event.records {
            match (record.message_id, record.body) {
                (Some(message_id), Some(body)) => messages.push(QueueMessage { message_id, body }),
                (Some(message_id), None) => {
                    tracing::error!(%message_id, "message without a body");
                    response.batch_item_failures.push(failure(message_id));
                }
                // Without an id nothing can be reported; SQS will redeliver it.
                (None, _) => tracing::error!("message without a message id"),
            }
        }
        let report = self.consumer.process(&messages).await;
        tracing::info!(
            messages = report.messages,
            events_stored = report.events_stored,
            duplicates = report.duplicates,
            already_applied = report.already_applied,
            poison = report.poison,
            failed = report.failed.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "batch consumed"
        );
        response
            .batch_item_failures
            .extend(report.failed.into_iter().map(failure));
        MetricSet::new("consumer")
            .count("BatchSize", report.messages)
            .count("EventsStored", report.events_stored)
            .count("DuplicateEvents", report.duplicates)
            .count("AlreadyApplied", report.already_applied)
            .count("PoisonMessages", report.poison)
            .count("FailedMessages", response.batch_item_failures.len())
            .millis("Latency", started.elapsed())
            .emit();
        response
    }
}

fn failure(id: String) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id;
    f
}
