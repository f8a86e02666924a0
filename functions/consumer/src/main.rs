//! The consumer Lambda: SQS event source with ReportBatchItemFailures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use pulse_adapters::{telemetry, AwsClients};
use pulse_consumer::{ConsumerConfig, ConsumerHandler};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = ConsumerConfig::from_env()?;
    let clients = AwsClients::from_env().await;
    let handler = Arc::new(ConsumerHandler::new(&clients, &config));
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let handler = handler.clone();
        async move { Ok::<SqsBatchResponse, Error>(handler.handle(event.payload).await) }
    }))
    .await
}
