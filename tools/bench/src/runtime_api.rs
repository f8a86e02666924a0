//! A local AWS Lambda Runtime API (2018-06-01): enough of it for a real
//! `bootstrap` binary (lambda_runtime / lambda_http) to start, take events
//! and post responses, so its cold start can be timed from the outside.
//!
//! - `GET  /2018-06-01/runtime/invocation/next` waits for the next queued
//!   event and answers it with the `Lambda-Runtime-*` headers;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../error`
//!   complete that invocation (the time is recorded on arrival);
//! - `POST /2018-06-01/runtime/init/error` records an init failure.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};

/// How one invocation went, with the times seen by the API.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When the function fetched the event (`GET .../next` answered).
    pub fetched_at: Instant,
    /// When its response (or error) arrived.
    pub done_at: Instant,
    pub body: Bytes,
    /// Posted to `.../error` instead of `.../response`.
    pub error: bool,
}

struct Pending {
    request_id: String,
    payload: Bytes,
    done: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<VecDeque<Pending>>,
    notify: Notify,
    in_flight: Mutex<HashMap<String, (Instant, oneshot::Sender<Outcome>)>>,
    first_next: Mutex<Option<Instant>>,
    init_error: Mutex<Option<String>>,
}

/// One API server on a loopback port; one per function process, so a killed
/// process can never take the next process's event.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Resp = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::default());
        let for_server = inner.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let inner = for_server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let inner = inner.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&inner, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            inner,
            server,
        })
    }

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one event; the receiver resolves when the function answers it.
    pub fn invoke(&self, payload: impl Into<Bytes>) -> oneshot::Receiver<Outcome> {
        let (done, rx) = oneshot::channel();
        self.inner.queue.lock().unwrap().push_back(Pending {
            request_id: uuid::Uuid::new_v4().to_string(),
            payload: payload.into(),
            done,
        });
        self.inner.notify.notify_one();
        rx
    }

    /// When the function first asked for an event: its init is over.
    pub fn first_next(&self) -> Option<Instant> {
        *self.inner.first_next.lock().unwrap()
    }

    pub fn init_error(&self) -> Option<String> {
        self.inner.init_error.lock().unwrap().clone()
    }
}

async fn handle(inner: &Inner, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return reply(StatusCode::NOT_FOUND, "unknown path");
    };
    match (method, rest) {
        (Method::GET, "invocation/next") => next(inner).await,
        (Method::POST, "init/error") => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            *inner.init_error.lock().unwrap() = Some(
                body.map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default(),
            );
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (Method::POST, rest) => {
            let Some((id, kind)) = rest
                .strip_prefix("invocation/")
                .and_then(|r| r.rsplit_once('/'))
            else {
                return reply(StatusCode::NOT_FOUND, "unknown path");
            };
            if kind != "response" && kind != "error" {
                return reply(StatusCode::NOT_FOUND, "unknown path");
            }
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let done_at = Instant::now();
            match inner.in_flight.lock().unwrap().remove(id) {
                Some((fetched_at, tx)) => {
                    let _ = tx.send(Outcome {
                        fetched_at,
                        done_at,
                        body,
                        error: kind == "error",
                    });
                    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                }
                None => reply(StatusCode::BAD_REQUEST, "unknown request id"),
            }
        }
        _ => reply(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

async fn next(inner: &Inner) -> Resp {
    {
        let mut first = inner.first_next.lock().unwrap();
        first.get_or_insert_with(Instant::now);
    }
    let pending = loop {
        let notified = inner.notify.notified();
        if let Some(p) = inner.queue.lock().unwrap().pop_front() {
            break p;
        }
        notified.await;
    };
    let fetched_at = Instant::now();
    inner
        .in_flight
        .lock()
        .unwrap()
        .insert(pending.request_id.clone(), (fetched_at, pending.done));
    let deadline_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64 + 30_000)
        .unwrap_or(0);
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &pending.request_id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:000000000000:function:pulse-bench",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        )
        .body(Full::new(pending.payload))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn http(addr: SocketAddr, request: String) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // Read until the body of a Content-Length response is complete.
        loop {
            let n = s.read(&mut buf).await.unwrap();
            out.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&out).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    return text;
                }
            }
            if n == 0 {
                return text;
            }
        }
    }

    #[tokio::test]
    async fn serves_an_event_and_records_the_response() {
        let api = RuntimeApi::start().await.unwrap();
        let done = api.invoke(r#"{"hello":1}"#);
        let res = http(
            api.addr,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n".into(),
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 200"), "{res}");
        assert!(res.ends_with(r#"{"hello":1}"#));
        assert!(api.first_next().is_some());
        let id = res
            .lines()
            .find_map(|l| l.strip_prefix("lambda-runtime-aws-request-id: "))
            .unwrap()
            .trim()
            .to_owned();
        let posted = http(
            api.addr,
            format!("POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n\"ok\""),
        )
        .await;
        assert!(posted.starts_with("HTTP/1.1 202"), "{posted}");
        let outcome = done.await.unwrap();
        assert_eq!(&outcome.body[..], b"\"ok\"");
        assert!(!outcome.error);
        assert!(outcome.done_at >= outcome.fetched_at);
        // A second answer for the same id is refused.
        let again = http(
            api.addr,
            format!("POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{{}}"),
        )
        .await;
        assert!(again.starts_with("HTTP/1.1 400"), "{again}");
    }

    #[tokio::test]
    async fn next_waits_for_an_event_and_init_errors_are_kept() {
        let api = RuntimeApi::start().await.unwrap();
        let addr = api.addr;
        let waiting = tokio::spawn(http(
            addr,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n".into(),
        ));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "next must wait for an event");
        let _done = api.invoke("{}");
        let res = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert!(res.contains("lambda-runtime-deadline-ms"));
        let r = http(
            addr,
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nboom".into(),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 202"));
        assert_eq!(api.init_error().as_deref(), Some("boom"));
    }
}
