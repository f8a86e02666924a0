//! The local dev gateway: one process that serves the Lambda handlers over
//! HTTP as API Gateway would (see [`apigw`]), serves the tracker's demo page,
//! and (with the consumer) polls SQS as an event source mapping would.

pub mod apigw;
pub mod event_source;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lambda_http::Body as LambdaBody;
use pulse_adapters::provision::{self, Provisioned, StackNames};
use pulse_adapters::{AwsClients, DynamoProjects};
use pulse_consumer::{ConsumerConfig, ConsumerHandler};
use pulse_core::project::{NewProject, Project};
use pulse_ingest::{Cors, IngestConfig, IngestHandler};
use pulse_query::{QueryConfig, QueryHandler};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// API Gateway refuses bodies over 10 MB before the Lambda sees them.
const MAX_GATEWAY_BODY: usize = 10 * 1024 * 1024;

pub struct Gateway {
    ingest: IngestHandler,
    query: QueryHandler,
    static_root: PathBuf,
}

type HttpResponse = Response<Full<Bytes>>;

impl Gateway {
    pub fn new(ingest: IngestHandler, query: QueryHandler, static_root: PathBuf) -> Self {
        Self {
            ingest,
            query,
            static_root,
        }
    }

    /// Accepts connections until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let gateway = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, std::convert::Infallible>(gateway.route(req, peer).await) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
    }

    async fn route(&self, req: hyper::Request<Incoming>, peer: SocketAddr) -> HttpResponse {
        let path = req.uri().path().to_owned();
        match (req.method(), path.as_str()) {
            (&Method::GET, "/health") => {
                text(StatusCode::OK, "application/json", r#"{"status":"ok"}"#)
            }
            (&Method::GET, "/demo") => redirect("/demo/"),
            (&Method::GET, p) if p.starts_with("/demo/") => {
                self.static_file(
                    &self.static_root.join("sdk-wasm/demo"),
                    &p["/demo/".len()..],
                )
                .await
            }
            (&Method::GET, p) if p.starts_with("/sdk/") => {
                self.static_file(&self.static_root.join("sdk-wasm/pkg"), &p["/sdk/".len()..])
                    .await
            }
            _ => self.invoke(req, peer).await,
        }
    }

    /// Runs the request through the Lambda handler, converting both ways.
    async fn invoke(&self, req: hyper::Request<Incoming>, peer: SocketAddr) -> HttpResponse {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_GATEWAY_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "application/json",
                    r#"{"message":"Request Entity Too Large"}"#,
                )
            }
        };
        let request =
            match apigw::lambda_request(&parts.method, &parts.uri, &parts.headers, &body, peer) {
                Ok(r) => r,
                Err(e) => return text(StatusCode::BAD_REQUEST, "text/plain", &e),
            };
        // API Gateway routes by method and path to one of the functions.
        let response = if QueryHandler::serves(request.method(), request.uri().path()) {
            self.query.handle(request).await
        } else {
            self.ingest.handle(request).await
        };
        let (parts, body) = response.into_parts();
        let bytes = match body {
            LambdaBody::Text(t) => Bytes::from(t),
            LambdaBody::Binary(b) => Bytes::from(b),
            _ => Bytes::new(),
        };
        Response::from_parts(parts, Full::new(bytes))
    }

    async fn static_file(&self, dir: &Path, rel: &str) -> HttpResponse {
        let rel = if rel.is_empty() { "index.html" } else { rel };
        if rel
            .split('/')
            .any(|seg| seg == ".." || seg.starts_with('.'))
        {
            return text(StatusCode::NOT_FOUND, "text/plain", "not found");
        }
        match tokio::fs::read(dir.join(rel)).await {
            Ok(bytes) => Response::builder()
                .status(StatusCode::OK)
                .header("content-type", content_type(rel))
                .header("cache-control", "no-cache")
                .body(Full::new(Bytes::from(bytes)))
                .expect("static parts are valid"),
            Err(_) => text(
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found (is the tracker built? run `make sdk`)",
            ),
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "ts" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

fn text(status: StatusCode, content_type: &str, body: &str) -> HttpResponse {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("static parts are valid")
}

fn redirect(to: &str) -> HttpResponse {
    Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header("location", to)
        .body(Full::new(Bytes::new()))
        .expect("static parts are valid")
}

/// What `make dev` (and the end-to-end tests) start.
#[derive(Debug, Clone)]
pub struct DevStackOptions {
    pub names: StackNames,
    pub demo_write_key: String,
    pub demo_read_key: String,
    pub static_root: PathBuf,
    pub max_message_bytes: usize,
    pub cors: Cors,
    /// How long the consumer caches monitored users (short in dev, so
    /// monitoring turned on shows up at once).
    pub monitor_cache: Duration,
}

pub struct DevStack {
    pub provisioned: Provisioned,
    pub demo: Project,
    pub gateway: Arc<Gateway>,
    /// Poll it with `run()` (as `make dev` does) or `poll_once()` (tests).
    pub event_source: event_source::EventSourceMapping,
}

/// Provisions the table and queues, makes sure the `demo` project exists with
/// the given keys, and wires the handlers exactly as the Lambdas do.
pub async fn start_dev_stack(
    clients: &AwsClients,
    opts: &DevStackOptions,
) -> Result<DevStack, String> {
    let provisioned = provision::provision(clients, &opts.names)
        .await
        .map_err(|e| e.to_string())?;
    let projects = DynamoProjects::new(clients.dynamodb.clone(), &provisioned.table);
    let mut demo = NewProject::new("demo", "Demo");
    demo.write_key = opts.demo_write_key.clone();
    demo.read_key = opts.demo_read_key.clone();
    let demo = projects.ensure(&demo).await.map_err(|e| e.to_string())?;
    let ingest = IngestHandler::new(
        clients,
        IngestConfig {
            table_name: provisioned.table.clone(),
            queue_url: provisioned.queue_url.clone(),
            max_message_bytes: opts.max_message_bytes,
            cors: opts.cors.clone(),
            // Short, so `pulse-admin rotate-keys` shows up quickly in dev.
            key_cache_ttl: Duration::from_secs(5),
        },
    );
    let query = QueryHandler::new(
        clients,
        QueryConfig {
            table_name: provisioned.table.clone(),
            cursor_secret: format!("pulse-dev-cursor:{}", provisioned.table),
            key_cache_ttl: Duration::from_secs(5),
        },
    );
    let gateway = Arc::new(Gateway::new(ingest, query, opts.static_root.clone()));
    let consumer = ConsumerHandler::new(
        clients,
        &ConsumerConfig {
            monitor_cache: opts.monitor_cache,
            ..ConsumerConfig::new(provisioned.table.clone())
        },
    );
    let spec = provision::event_source_spec();
    let event_source = event_source::EventSourceMapping {
        sqs: clients.sqs.clone(),
        queue_url: provisioned.queue_url.clone(),
        batch_size: spec.batch_size as usize,
        batching_window: Duration::from_secs(spec.batching_window_secs.into()),
        visibility_timeout: None,
        wait_seconds: 20,
        handler: Arc::new(consumer),
    };
    Ok(DevStack {
        provisioned,
        demo,
        gateway,
        event_source,
    })
}
