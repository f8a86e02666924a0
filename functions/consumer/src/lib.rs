//! The consumer's Lambda shell: SQS event in, partial batch response out.
//! The work is `pulse_core::consume::Consumer` over the DynamoDB store.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use pulse_adapters::metrics::MetricSet;
use pulse_adapters::{AwsClients, DynamoLive, DynamoStore};
use pulse_core::consume::{Consumer, EventStore, QueueMessage};
use pulse_core::live::LiveStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Read once per cold start.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub table_name: String,
    /// How long the list of monitored users is cached (`MONITOR_CACHE_SECONDS`,
    /// default 10): monitoring turned on takes effect within this time.
    pub monitor_cache: Duration,
}

impl ConsumerConfig {
    pub fn new(table_name: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            monitor_cache: Duration::from_secs(10),
        }
    }

    pub fn from_env() -> Result<Self, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut config = Self::new(var("TABLE_NAME").ok_or("TABLE_NAME must be set")?);
        if let Some(secs) = var("MONITOR_CACHE_SECONDS") {
            let secs: f64 = secs
                .parse()
                .map_err(|_| "MONITOR_CACHE_SECONDS must be a number of seconds")?;
            config.monitor_cache = Duration::from_secs_f64(secs.max(0.0));
        }
        Ok(config)
    }
}

pub struct ConsumerHandler {
    consumer: Consumer,
}

impl ConsumerHandler {
    pub fn new(clients: &AwsClients, config: &ConsumerConfig) -> Self {
        let live = DynamoLive::new(clients.dynamodb.clone(), &config.table_name);
        Self::from_stores(
            Arc::new(DynamoStore::new(
                clients.dynamodb.clone(),
                &config.table_name,
            )),
            Some(Arc::new(live)),
            config.monitor_cache,
        )
    }

    /// `live`: the live index and monitoring store (None turns both off).
    pub fn from_stores(
        store: Arc<dyn EventStore>,
        live: Option<Arc<dyn LiveStore>>,
        monitor_cache: Duration,
    ) -> Self {
        let consumer = Consumer::new(store);
        Self {
            consumer: match live {
                Some(live) => consumer.with_live(live, monitor_cache),
                None => consumer,
            },
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
            monitored = report.debug_recorded,
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
            .count("MonitoredEvents", report.debug_recorded)
            .count("LiveIndexFailures", report.live_failures)
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
