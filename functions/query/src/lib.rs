//! The query function's HTTP shell (work in progress: routes land with the
//! query API issue).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use pulse_adapters::AwsClients;

#[derive(Debug, Clone)]
pub struct QueryConfig {
    pub table_name: String,
}

impl QueryConfig {
    pub fn from_env() -> Result<Self, String> {
        let table_name = std::env::var("TABLE_NAME").ok().filter(|v| !v.is_empty()).ok_or("TABLE_NAME must be set")?;
        Ok(Self { table_name })
    }
}

pub struct QueryHandler {
    _config: QueryConfig,
}

impl QueryHandler {
    pub fn new(_clients: &AwsClients, config: QueryConfig) -> Self {
        Self { _config: config }
    }

    pub async fn handle(&self, _req: Request) -> Response<Body> {
        Response::builder()
            .status(StatusCode::NOT_IMPLEMENTED)
            .header("content-type", "application/json")
            .body(Body::Text(r#"{"error":{"code":"not_implemented","message":"the query API is not built yet"}}"#.into()))
            .expect("static parts are valid")
    }
}
