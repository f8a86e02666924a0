//! [`EventQueue`] on SQS: envelope bodies grouped into SendMessageBatch calls
//! (≤ 10 entries and ≤ 1 MiB per call), retrying only the entries SQS lists
//! as failed.

use async_trait::async_trait;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use pulse_core::{EventQueue, QueueError};
use std::ops::Range;
use std::time::Duration;

pub const MAX_BATCH_ENTRIES: usize = 10;
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Attempts for entries SQS reports as failed inside an otherwise good call.
const ENTRY_ATTEMPTS: u32 = 4;

pub struct SqsEventQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsEventQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Sends one call's bodies; on partial failure resends only the failed ones.
    async fn send_call(&self, bodies: &[String]) -> Result<(), QueueError> {
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        for attempt in 0..ENTRY_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i])
                        .build()
                        .expect("id and body are set")
                })
                .collect::<Vec<_>>();
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(classify)?;
            let failed = out.failed();
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(f) = failed.iter().find(|f| f.sender_fault()) {
                // Our request was wrong (e.g. a body SQS refuses): retrying cannot help.
                return Err(QueueError::Unavailable(format!(
                    "SQS refused a message: {} {}",
                    f.code(),
                    f.message().unwrap_or_default()
                )));
            }
            tracing::warn!(
                failed = failed.len(),
                attempt,
                "SendMessageBatch entries failed; retrying them"
            );
            pending = failed.iter().filter_map(|f| f.id().parse().ok()).collect();
        }
        Err(QueueError::Unavailable(format!(
            "{} messages still failing after {ENTRY_ATTEMPTS} attempts",
            pending.len()
        )))
    }
}

fn classify<
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
>(
    e: SdkError<E, R>,
) -> QueueError {
    let code = e.code().unwrap_or_default().to_owned();
    let text = format!("{}", aws_sdk_sqs::error::DisplayErrorContext(&e));
    if matches!(
        code.as_str(),
        "ThrottlingException" | "RequestThrottled" | "KmsThrottled" | "KMS.ThrottlingException"
    ) {
        QueueError::Throttled(text)
    } else {
        QueueError::Unavailable(text)
    }
}

/// Splits bodies into consecutive groups that each fit one SendMessageBatch.
/// Every body is assumed to be at most [`MAX_BATCH_BYTES`] on its own.
pub fn batch_ranges(bodies: &[String]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, b) in bodies.iter().enumerate() {
        let full = i - start == MAX_BATCH_ENTRIES || bytes + b.len() > MAX_BATCH_BYTES;
        if i > start && full {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += b.len();
    }
    if start < bodies.len() {
        out.push(start..bodies.len());
    }
    out
}

#[async_trait]
impl EventQueue for SqsEventQueue {
    async fn send_all(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        for range in batch_ranges(&bodies) {
            self.send_call(&bodies[range]).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(bodies: &[String]) -> Vec<(usize, usize)> {
        batch_ranges(bodies)
            .into_iter()
            .map(|r| (r.len(), bodies[r].iter().map(String::len).sum()))
            .collect()
    }

    #[test]
    fn at_most_ten_entries_and_one_mib_per_call() {
        let small: Vec<String> = (0..25).map(|_| "x".repeat(1000)).collect();
        assert_eq!(sizes(&small), vec![(10, 10_000), (10, 10_000), (5, 5_000)]);
        let big: Vec<String> = (0..9).map(|_| "y".repeat(256 * 1024)).collect();
        assert_eq!(
            sizes(&big).iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![4, 4, 1]
        );
        let odd: Vec<String> = vec!["z".repeat(600_000), "z".repeat(600_000), "z".repeat(10)];
        assert_eq!(sizes(&odd), vec![(1, 600_000), (2, 600_010)]);
        assert!(batch_ranges(&[]).is_empty());
        for (_, bytes) in sizes(&big) {
            assert!(bytes <= MAX_BATCH_BYTES);
        }
    }
}
