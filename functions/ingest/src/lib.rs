//! The ingest function's HTTP shell: routes, auth headers, body decoding,
//! CORS, and the one mapping of domain errors to HTTP responses. Everything
//! else happens in `pulse_core::Ingestor`.

mod http;

use base64::Engine;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use pulse_adapters::metrics::MetricSet;
use pulse_adapters::{AwsClients, DynamoProjects, SqsEventQueue};
use pulse_core::limits::{DEFAULT_MESSAGE_BYTES, MAX_MESSAGE_BYTES};
use pulse_core::ports::CachedDirectory;
use pulse_core::segment::SegmentCall;
use pulse_core::{
    EventQueue, IngestError, IngestRequest, Ingestor, PayloadFormat, ProjectDirectory,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::http::{Cors, Failure};

/// Read once per cold start from the environment.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub table_name: String,
    pub queue_url: String,
    /// Largest SQS message the ingest packs, in UTF-8 bytes (64 KiB..=1 MiB).
    pub max_message_bytes: usize,
    pub cors: Cors,
    pub key_cache_ttl: Duration,
}

impl IngestConfig {
    /// `TABLE_NAME`, `QUEUE_URL` (required); `MAX_MESSAGE_BYTES` (default
    /// 262144), `CORS_ALLOWED_ORIGINS` (comma list or `*`, default `*`),
    /// `KEY_CACHE_SECONDS` (default 60).
    pub fn from_env() -> Result<Self, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let required = |k: &str| var(k).ok_or_else(|| format!("{k} must be set"));
        let number = |k: &str, default: u64| -> Result<u64, String> {
            var(k).map_or(Ok(default), |v| {
                v.parse().map_err(|_| format!("{k}={v:?} is not a number"))
            })
        };
        let max_message_bytes = number("MAX_MESSAGE_BYTES", DEFAULT_MESSAGE_BYTES as u64)? as usize;
        if !(64 * 1024..=MAX_MESSAGE_BYTES).contains(&max_message_bytes) {
            return Err(format!(
                "MAX_MESSAGE_BYTES must be between 65536 and {MAX_MESSAGE_BYTES}"
            ));
        }
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
            max_message_bytes,
            cors: Cors::parse(&var("CORS_ALLOWED_ORIGINS").unwrap_or_else(|| "*".into())),
            key_cache_ttl: Duration::from_secs(number("KEY_CACHE_SECONDS", 60)?),
        })
    }
}

pub struct IngestHandler {
    ingestor: Ingestor,
    cors: Cors,
}

impl IngestHandler {
    /// Wires the SQS queue and the cached DynamoDB project directory.
    pub fn new(clients: &AwsClients, config: IngestConfig) -> Self {
        let directory = CachedDirectory::new(
            DynamoProjects::new(clients.dynamodb.clone(), &config.table_name),
            config.key_cache_ttl,
            Duration::from_secs(5).min(config.key_cache_ttl),
        );
        let queue = SqsEventQueue::new(clients.sqs.clone(), &config.queue_url);
        Self::from_ports(
            Arc::new(directory),
            Arc::new(queue),
            config.max_message_bytes,
            config.cors,
        )
    }

    pub fn from_ports(
        directory: Arc<dyn ProjectDirectory>,
        queue: Arc<dyn EventQueue>,
        max_message_bytes: usize,
        cors: Cors,
    ) -> Self {
        Self {
            ingestor: Ingestor::new(directory, queue).with_max_message_bytes(max_message_bytes),
            cors,
        }
    }

    /// Never fails: every outcome is an HTTP response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let started = Instant::now();
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if req.method() == Method::OPTIONS {
            return self.cors.preflight(origin.as_deref());
        }
        let mut metrics = MetricSet::new("ingest");
        let response = match self.ingest(&req, origin.as_deref()).await {
            Ok(out) => {
                tracing::info!(
                    project_id = %out.project_id,
                    accepted = out.accepted,
                    rejected = out.rejected.len(),
                    messages = out.messages,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "ingested"
                );
                metrics = metrics
                    .count("EventsAccepted", out.accepted)
                    .count("EventsRejected", out.rejected.len())
                    .count("BatchSize", out.accepted + out.rejected.len())
                    .count("QueueMessages", out.messages)
                    .property("project_id", out.project_id.as_str());
                http::json(
                    StatusCode::OK,
                    &serde_json::json!({ "accepted": out.accepted, "rejected": out.rejected }),
                )
            }
            Err(e) => {
                let response = http::error_response(&e);
                if response.status().is_server_error()
                    || response.status() == StatusCode::TOO_MANY_REQUESTS
                {
                    tracing::warn!(status = response.status().as_u16(), error = %e, "ingest failed");
                } else {
                    tracing::info!(status = response.status().as_u16(), error = %e, "ingest refused");
                }
                response
            }
        };
        let status = response.status();
        metrics
            .count("Requests", 1)
            .count("Http4xx", status.is_client_error() as usize)
            .count("Http5xx", status.is_server_error() as usize)
            .millis("Latency", started.elapsed())
            .property("status", status.as_u16())
            .emit();
        self.cors.decorate(response, origin.as_deref())
    }

    async fn ingest(
        &self,
        req: &Request,
        origin: Option<&str>,
    ) -> Result<pulse_core::IngestOutcome, Failure> {
        let format = route(req.method(), request_path(req))?;
        check_content_type(req)?;
        let body = http::decoded_body(req)?;
        let header_key = auth_key(req)?;
        self.ingestor
            .ingest(IngestRequest {
                format,
                body: &body,
                header_key: header_key.as_deref(),
                origin,
                received_at: pulse_core::time::now_millis(),
            })
            .await
            .map_err(Failure::from)
    }
}

/// The path as the client sent it: API Gateway's raw path (without a stage
/// prefix), or the URI's path for requests built elsewhere.
fn request_path(req: &Request) -> &str {
    let raw = req.raw_http_path();
    if raw.is_empty() {
        req.uri().path()
    } else {
        raw
    }
}

/// Which grammar a route speaks. Unknown routes and methods are errors the
/// HTTP layer renders as 404/405.
fn route(method: &Method, path: &str) -> Result<PayloadFormat, Failure> {
    let path = path.trim_end_matches('/');
    let format = match path {
        "/v1/events" => PayloadFormat::Native,
        // Segment libraries post to /v1/batch; /v1/import is its older name.
        "/v1/batch" | "/v1/import" => PayloadFormat::SegmentBatch,
        _ => match path.strip_prefix("/v1/").and_then(SegmentCall::parse) {
            Some(call) => PayloadFormat::Segment(call),
            None => return Err(Failure::NotFound(path.to_owned())),
        },
    };
    if method != Method::POST {
        return Err(Failure::MethodNotAllowed(method.clone()));
    }
    Ok(format)
}

/// JSON, or `text/plain` (what sendBeacon can send without a preflight). The
/// body is parsed as JSON whatever the type says, so `curl -d` (form type)
/// works too; only types that cannot carry a JSON document are refused.
fn check_content_type(req: &Request) -> Result<(), IngestError> {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
    let mime = ct.split(';').next().unwrap_or_default().trim();
    if matches!(
        mime,
        "application/json" | "text/plain" | "application/x-www-form-urlencoded" | ""
    ) || mime.ends_with("+json")
    {
        Ok(())
    } else {
        Err(IngestError::UnsupportedMediaType(format!(
            "Content-Type {mime:?} is not accepted; send application/json or text/plain"
        )))
    }
}

/// The key from `Authorization: Bearer <key>` or `Basic base64(<key>:)`
/// (how Segment libraries send their write key).
fn auth_key(req: &Request) -> Result<Option<String>, IngestError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| IngestError::BadKey)?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Some(rest.trim().to_owned()))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| IngestError::BadKey)?;
        let text = String::from_utf8(decoded).map_err(|_| IngestError::BadKey)?;
        Ok(Some(text.split(':').next().unwrap_or_default().to_owned()))
    } else {
        Err(IngestError::BadKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("https://x.test{path}"));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::Empty).unwrap()
    }

    #[test]
    fn routes() {
        assert_eq!(
            route(&Method::POST, "/v1/events"),
            Ok(PayloadFormat::Native)
        );
        assert_eq!(
            route(&Method::POST, "/v1/batch/"),
            Ok(PayloadFormat::SegmentBatch)
        );
        assert_eq!(
            route(&Method::POST, "/v1/identify"),
            Ok(PayloadFormat::Segment(SegmentCall::Identify))
        );
        assert!(route(&Method::POST, "/v1/nope").is_err());
        assert!(route(&Method::GET, "/v1/events").is_err());
    }

    #[test]
    fn auth_header_forms() {
        let bearer = request(Method::POST, "/", &[("authorization", "Bearer wk_a")]);
        assert_eq!(auth_key(&bearer), Ok(Some("wk_a".into())));
        // base64("wk_b:") as Segment libraries send it.
        let basic = request(Method::POST, "/", &[("authorization", "Basic d2tfYjo=")]);
        assert_eq!(auth_key(&basic), Ok(Some("wk_b".into())));
        let junk = request(Method::POST, "/", &[("authorization", "Digest x")]);
        assert_eq!(auth_key(&junk), Err(IngestError::BadKey));
        assert_eq!(auth_key(&request(Method::POST, "/", &[])), Ok(None));
    }

    #[test]
    fn content_types() {
        for ok in [
            "application/json",
            "text/plain;charset=UTF-8",
            "application/vnd.x+json",
        ] {
            assert!(
                check_content_type(&request(Method::POST, "/", &[("content-type", ok)])).is_ok(),
                "{ok}"
            );
        }
        assert!(check_content_type(&request(
            Method::POST,
            "/",
            &[("content-type", "application/x-www-form-urlencoded")]
        ))
        .is_ok());
        let xml = request(Method::POST, "/", &[("content-type", "application/xml")]);
        assert!(matches!(
            check_content_type(&xml),
            Err(IngestError::UnsupportedMediaType(_))
        ));
    }
}
