//! HTTP details of the ingest function: the error → status mapping (the only
//! one), JSON bodies, gzip decoding with a size cap, and CORS.

use flate2::read::GzDecoder;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use pulse_core::limits::MAX_BODY_BYTES;
use pulse_core::IngestError;
use std::io::Read;

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(value.to_string()))
        .expect("static parts are valid")
}

/// Everything a request can fail with: the domain's errors plus routing.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    Ingest(IngestError),
    NotFound(String),
    MethodNotAllowed(Method),
}

impl From<IngestError> for Failure {
    fn from(e: IngestError) -> Self {
        Failure::Ingest(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Ingest(e) => e.fmt(f),
            Failure::NotFound(path) => write!(f, "no route for {path}"),
            Failure::MethodNotAllowed(m) => write!(f, "{m} is not allowed here; use POST"),
        }
    }
}

/// Every failure as `{"error": {"code", "message"}}` with its status: the one
/// place errors become HTTP.
pub fn error_response(failure: &Failure) -> Response<Body> {
    let (status, code, retry_after) = match failure {
        Failure::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
        Failure::MethodNotAllowed(_) => {
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None)
        }
        Failure::Ingest(e) => match e {
            IngestError::Malformed(_) => (StatusCode::BAD_REQUEST, "invalid_body", None),
            IngestError::MissingKey => (StatusCode::UNAUTHORIZED, "missing_write_key", None),
            IngestError::BadKey => (StatusCode::UNAUTHORIZED, "invalid_write_key", None),
            IngestError::ReadKeyUsed => (StatusCode::FORBIDDEN, "read_key_not_allowed", None),
            IngestError::OriginNotAllowed(_) => (StatusCode::FORBIDDEN, "origin_not_allowed", None),
            IngestError::TooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None)
            }
            IngestError::UnsupportedEncoding(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_encoding",
                None,
            ),
            IngestError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                None,
            ),
            IngestError::Throttled { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                Some(*retry_after_secs),
            ),
            IngestError::QueueUnavailable { retry_after_secs } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                Some(*retry_after_secs),
            ),
            IngestError::DirectoryUnavailable { retry_after_secs } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "directory_unavailable",
                Some(*retry_after_secs),
            ),
        },
    };
    let body = serde_json::json!({ "error": { "code": code, "message": failure.to_string() } });
    let mut response = json(status, &body);
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Failure::MethodNotAllowed(_) = failure {
        // RFC 9110: a 405 lists the methods the resource supports.
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    }
    response
}

/// The request body as bytes, gzip-decoded when `Content-Encoding: gzip`,
/// refused past the body limit (checked while decoding, so a small gzip
/// bomb cannot expand in memory).
pub fn decoded_body(req: &Request) -> Result<Vec<u8>, IngestError> {
    let raw: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => {
            if raw.len() > MAX_BODY_BYTES {
                return Err(IngestError::TooLarge {
                    size: raw.len(),
                    limit: MAX_BODY_BYTES,
                });
            }
            Ok(raw.to_vec())
        }
        Some("gzip") => {
            let mut out = Vec::with_capacity(raw.len() * 4);
            GzDecoder::new(raw)
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    IngestError::UnsupportedEncoding(format!("body is not valid gzip: {e}"))
                })?;
            if out.len() > MAX_BODY_BYTES {
                return Err(IngestError::TooLarge {
                    size: out.len(),
                    limit: MAX_BODY_BYTES,
                });
            }
            Ok(out)
        }
        Some(other) => Err(IngestError::UnsupportedEncoding(format!(
            "Content-Encoding {other:?} is not supported; use gzip or none"
        ))),
    }
}

/// Which browser origins may call the API at all (per-project lists are
/// checked by the domain on top of this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    AnyOrigin,
    Origins(Vec<String>),
}

impl Cors {
    pub fn parse(s: &str) -> Self {
        let list: Vec<String> = s
            .split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if list.is_empty() || list.iter().any(|o| o == "*") {
            Cors::AnyOrigin
        } else {
            Cors::Origins(list)
        }
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            Cors::AnyOrigin => true,
            Cors::Origins(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }

    /// Echoes an allowed origin (not `*`: sendBeacon sends credentials).
    pub fn decorate(&self, mut response: Response<Body>, origin: Option<&str>) -> Response<Body> {
        let h = response.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            if let Ok(v) = HeaderValue::from_str(origin) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
                h.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("Retry-After"),
                );
            }
        }
        response
    }

    pub fn preflight(&self, origin: Option<&str>) -> Response<Body> {
        match origin {
            Some(o) if self.allows(o) => {
                let mut r = Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .header(header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS")
                    .header(header::ACCESS_CONTROL_ALLOW_HEADERS, "Authorization, Content-Type, Content-Encoding")
                    .header(header::ACCESS_CONTROL_MAX_AGE, "86400")
                    .body(Body::Empty)
                    .expect("static parts are valid");
                r = self.decorate(r, Some(o));
                r
            }
            Some(o) => self.decorate(
                json(
                    StatusCode::FORBIDDEN,
                    &serde_json::json!({"error": {"code": "origin_not_allowed", "message": format!("origin {o} is not allowed")}}),
                ),
                None,
            ),
            None => Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).expect("static parts are valid"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let r = error_response(&Failure::MethodNotAllowed(Method::GET));
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "POST, OPTIONS");
        let r = error_response(&Failure::NotFound("/v1/nope".into()));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.headers().get(header::ALLOW).is_none());
    }
}
