//! The query Lambda: clients and config once per cold start, then the thin
//! handler in `lib.rs` for every request.

use lambda_http::{run, service_fn, Error};
use pulse_adapters::{telemetry, AwsClients};
use pulse_query::{QueryConfig, QueryHandler};
use std::convert::Infallible;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = QueryConfig::from_env()?;
    let clients = AwsClients::from_env().await;
    let handler = Arc::new(QueryHandler::new(&clients, config));
    run(service_fn(move |req| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler.handle(req).await) }
    }))
    .await
}
