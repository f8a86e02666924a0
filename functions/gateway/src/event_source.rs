//! A local SQS event source mapping: long-polls the queue, gathers a batch
//! (batch size or batching window, whichever first), hands it to the consumer
//! handler as the Lambda SQS event JSON, deletes what succeeded and leaves the
//! reported failures to come back after the visibility timeout — so SQS's
//! redrive policy moves a message that keeps failing to the DLQ.

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use pulse_consumer::ConsumerHandler;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct EventSourceMapping {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    /// Overrides the queue's visibility timeout on receive (tests use a short
    /// one to reach the redrive count quickly); `None` keeps the queue's.
    pub visibility_timeout: Option<i32>,
    /// Long-poll wait per receive, in seconds (20 is SQS's maximum).
    pub wait_seconds: i32,
    pub handler: Arc<ConsumerHandler>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollOutcome {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

impl EventSourceMapping {
    /// Polls forever (until the task is dropped).
    pub async fn run(self) {
        loop {
            match self.poll_once().await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "event source: polling failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Receives one batch, invokes the handler once, deletes the successes.
    pub async fn poll_once(&self) -> Result<PollOutcome, String> {
        let mut messages = Vec::new();
        let started = Instant::now();
        while messages.len() < self.batch_size {
            let waited = started.elapsed();
            // Long-poll until the first message; then gather only within the window.
            let wait = if messages.is_empty() {
                self.wait_seconds
            } else if waited >= self.batching_window {
                break;
            } else {
                0
            };
            let mut req = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages((self.batch_size - messages.len()).min(10) as i32)
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::All);
            if let Some(v) = self.visibility_timeout {
                req = req.visibility_timeout(v);
            }
            // A long poll outlives the clients' 5 s attempt timeout. Cut
            // short, the abandoned poll still takes messages on the server
            // side and hides them for the visibility timeout.
            let long_poll = aws_sdk_sqs::config::Builder::default().timeout_config(
                aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(wait.max(0) as u64 + 10))
                    .operation_timeout(Duration::from_secs(wait.max(0) as u64 + 20))
                    .build(),
            );
            let out = req
                .customize()
                .config_override(long_poll)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            let got = out.messages().to_vec();
            if got.is_empty() {
                if messages.is_empty() {
                    return Ok(PollOutcome::default());
                }
                if started.elapsed() >= self.batching_window {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            messages.extend(got);
        }

        let records: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, serde_json::Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:local:000000000000:pulse-events",
                    "awsRegion": "local",
                })
            })
            .collect();
        let event: SqsEvent = serde_json::from_value(json!({ "Records": records }))
            .map_err(|e| format!("bad SQS event: {e}"))?;
        let response = self.handler.handle(event).await;
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();

        let done: Vec<_> = messages
            .iter()
            .filter(|m| !failed.contains(m.message_id().unwrap_or_default()))
            .collect();
        let mut deleted = 0;
        for chunk in done.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .expect("id and handle are set")
                })
                .collect();
            let out = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            deleted += out.successful().len();
        }
        Ok(PollOutcome {
            received: messages.len(),
            deleted,
            failed: failed.len(),
        })
    }
}
