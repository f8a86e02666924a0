//! The query function's HTTP shell: routes, read-key auth, parameters, and
//! the one mapping of query errors to HTTP. The work is
//! `pulse_core::query::QueryService` over the DynamoDB reader.

mod csv;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use pulse_adapters::{AwsClients, DynamoProjects, DynamoReader};
use pulse_core::ports::CachedDirectory;
use pulse_core::project::{KeyHash, KeyKind};
use pulse_core::query::{
    parse_range, Cursor, EventFilter, EventReader, Params, QueryError, QueryService,
};
use pulse_core::ProjectDirectory;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Read once per cold start.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    pub table_name: String,
    /// Signs pagination cursors (`CURSOR_SECRET`; defaults to a value derived
    /// from the table name, which still detects accidental damage).
    pub cursor_secret: String,
    pub key_cache_ttl: Duration,
}

impl QueryConfig {
    pub fn from_env() -> Result<Self, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let table_name = var("TABLE_NAME").ok_or("TABLE_NAME must be set")?;
        Ok(Self {
            cursor_secret: var("CURSOR_SECRET")
                .unwrap_or_else(|| format!("pulse-cursor:{table_name}")),
            key_cache_ttl: Duration::from_secs(
                var("KEY_CACHE_SECONDS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(60),
            ),
            table_name,
        })
    }
}

pub struct QueryHandler {
    directory: Arc<dyn ProjectDirectory>,
    reader: Arc<dyn EventReader>,
    cursor_secret: Vec<u8>,
}

/// Everything a request can fail with.
#[derive(Debug)]
enum Failure {
    Query(QueryError),
    MissingKey,
    BadKey,
    WriteKeyUsed,
    NotFound(String),
    /// The method used, and the one the route takes.
    Method(Method, &'static str),
}

impl From<QueryError> for Failure {
    fn from(e: QueryError) -> Self {
        Failure::Query(e)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body.to_string()))
        .expect("static parts are valid")
}

/// The one place query failures become HTTP.
fn error_response(f: &Failure) -> Response<Body> {
    let (status, code, message, parameter) = match f {
        Failure::Query(QueryError::BadParameter { parameter, message }) => (
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("{parameter}: {message}"),
            Some(parameter.clone()),
        ),
        Failure::Query(QueryError::NotFound(what)) => (
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
            None,
        ),
        Failure::Query(QueryError::Unavailable(why)) => {
            tracing::warn!(error = %why, "storage unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "storage is unavailable; retry shortly".into(),
                None,
            )
        }
        Failure::MissingKey => (
            StatusCode::UNAUTHORIZED,
            "missing_read_key",
            "send Authorization: Bearer <read key>".into(),
            None,
        ),
        Failure::BadKey => (
            StatusCode::UNAUTHORIZED,
            "invalid_read_key",
            "unknown read key".into(),
            None,
        ),
        Failure::WriteKeyUsed => (
            StatusCode::FORBIDDEN,
            "write_key_not_allowed",
            "a write key cannot read; use the project's read key".into(),
            None,
        ),
        Failure::NotFound(path) => (
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {path}"),
            None,
        ),
        Failure::Method(m, allowed) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{m} is not allowed here; use {allowed}"),
            None,
        ),
    };
    let mut error = json!({"code": code, "message": message});
    if let Some(p) = parameter {
        error["parameter"] = p.into();
    }
    let mut r = json_response(status, &json!({ "error": error }));
    if let Failure::Method(_, allowed) = f {
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allowed));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    r
}

/// `%XX` decoding of one path segment.
fn decode_segment(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const RANGE: &[&str] = &["from", "to", "days"];
const FILTERS: &[&str] = &[
    "type",
    "category",
    "status",
    "user_id",
    "session_id",
    "conversation_id",
    "entity_type",
    "entity_id",
];

fn allowed(groups: &[&[&'static str]]) -> Vec<&'static str> {
    groups.concat()
}

impl QueryHandler {
    pub fn new(clients: &AwsClients, config: QueryConfig) -> Self {
        let directory = CachedDirectory::new(
            DynamoProjects::new(clients.dynamodb.clone(), &config.table_name),
            config.key_cache_ttl,
            Duration::from_secs(5).min(config.key_cache_ttl),
        );
        Self {
            directory: Arc::new(directory),
            reader: Arc::new(DynamoReader::new(
                clients.dynamodb.clone(),
                &config.table_name,
            )),
            cursor_secret: config.cursor_secret.into_bytes(),
        }
    }

    /// Is this a route of the query function (for the dev gateway)?
    pub fn serves(method: &Method, path: &str) -> bool {
        // Preflights go to the ingest function, which answers CORS (in AWS
        // the HTTP API answers them itself).
        (method == Method::GET || method == Method::DELETE)
            && (path.starts_with("/v1/events")
                || path.starts_with("/v1/users/")
                || path.starts_with("/v1/sessions/")
                || path.starts_with("/v1/conversations/")
                || path.starts_with("/v1/analytics/")
                || path == "/v1/export")
    }

    /// Never fails: every outcome is an HTTP response.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let started = Instant::now();
        let path = {
            let raw = req.raw_http_path();
            if raw.is_empty() {
                req.uri().path().to_owned()
            } else {
                raw.to_owned()
            }
        };
        let result = self.route(&req, &path).await;
        let response = match result {
            Ok(r) => r,
            Err(f) => error_response(&f),
        };
        tracing::info!(method = %req.method(), path, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "query");
        response
    }

    async fn project_for(&self, req: &Request) -> Result<pulse_core::Project, Failure> {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(Failure::MissingKey)?;
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(Failure::BadKey)?
            .trim();
        let grant = self
            .directory
            .grant_for_key(&KeyHash::of(key))
            .await
            .map_err(|e| Failure::Query(QueryError::Unavailable(e.0)))?
            .ok_or(Failure::BadKey)?;
        if grant.kind != KeyKind::Read {
            return Err(Failure::WriteKeyUsed);
        }
        Ok(grant.project)
    }

    async fn route(&self, req: &Request, path: &str) -> Result<Response<Body>, Failure> {
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(decode_segment)
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = req.method().clone();
        let known = matches!(
            segs.as_slice(),
            ["v1", "events"]
                | ["v1", "events", _]
                | ["v1", "users", _, "events"]
                | ["v1", "users", _]
                | ["v1", "sessions", _, "events"]
                | ["v1", "conversations", _]
                | [
                    "v1",
                    "analytics",
                    "summary" | "daily" | "top-users" | "timeseries"
                ]
                | ["v1", "export"]
        );
        if !known {
            return Err(Failure::NotFound(path.to_owned()));
        }
        let is_delete = matches!(segs.as_slice(), ["v1", "users", _]);
        if (is_delete && method != Method::DELETE) || (!is_delete && method != Method::GET) {
            return Err(Failure::Method(
                method,
                if is_delete { "DELETE" } else { "GET" },
            ));
        }
        let project = self.project_for(req).await?;
        let pairs: Vec<(String, String)> = req
            .query_string_parameters()
            .iter()
            .flat_map(|(k, _)| {
                req.query_string_parameters()
                    .all(k)
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |v| (k.to_owned(), v.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let service = QueryService {
            reader: self.reader.as_ref(),
            project: &project.id,
        };
        let now = pulse_core::time::now_millis();
        let retention = project.retention_days;
        let body = match segs.as_slice() {
            ["v1", "events", id] => {
                Params::new(pairs, &[])?;
                let event = self
                    .reader
                    .get_event(&project.id, id)
                    .await
                    .map_err(QueryError::from)?
                    .ok_or_else(|| QueryError::NotFound(format!("event {id}")))?;
                pulse_core::query::present(event)
            }
            ["v1", "events"] | ["v1", "users", _, "events"] | ["v1", "sessions", _, "events"] => {
                let p = Params::new(pairs, &allowed(&[RANGE, FILTERS, &["limit", "cursor"]]))?;
                let mut filter = EventFilter::from_params(&p)?;
                match segs.as_slice() {
                    ["v1", "users", u, "events"] => filter.user_id = Some(u.to_string()),
                    ["v1", "sessions", s, "events"] => filter.session_id = Some(s.to_string()),
                    _ => {}
                }
                let limit = p.number("limit", 50, 1, 1000)? as usize;
                let after = p
                    .text("cursor")
                    .map(|c| Cursor::decode(c, &self.cursor_secret, &filter))
                    .transpose()?;
                // Later pages read the window of the first one.
                let range = match &after {
                    Some(c) => c.range,
                    None => parse_range(&p, u64::from(retention), retention, now)?,
                };
                let page = service.events(&filter, range, after, limit).await?;
                let next = page.next.map(|c| c.encode(&self.cursor_secret, &filter));
                json!({"events": page.events, "next_cursor": next})
            }
            ["v1", "conversations", id] => {
                Params::new(pairs, &[])?;
                service.conversation(id).await?
            }
            ["v1", "analytics", "summary"] => {
                let p = Params::new(pairs, &allowed(&[RANGE]))?;
                service.summary(parse_range(&p, 7, retention, now)?).await?
            }
            ["v1", "analytics", "daily"] => {
                let p = Params::new(pairs, &allowed(&[RANGE]))?;
                service.daily(parse_range(&p, 30, retention, now)?).await?
            }
            ["v1", "analytics", "top-users"] => {
                let p = Params::new(pairs, &allowed(&[RANGE, &["limit"]]))?;
                let limit = p.number("limit", 10, 1, 1000)? as usize;
                service
                    .top_users(parse_range(&p, 7, retention, now)?, limit)
                    .await?
            }
            ["v1", "analytics", "timeseries"] => {
                let p = Params::new(pairs, &allowed(&[RANGE, &["type", "interval"]]))?;
                let hourly = match p.text("interval").unwrap_or("day") {
                    "day" => false,
                    "hour" => true,
                    _ => {
                        return Err(QueryError::BadParameter {
                            parameter: "interval".into(),
                            message: "must be hour or day".into(),
                        }
                        .into())
                    }
                };
                let range = parse_range(&p, 7, retention, now)?;
                if hourly && range.to - range.from > 31 * pulse_core::time::DAY_MS {
                    return Err(QueryError::BadParameter {
                        parameter: "interval".into(),
                        message: "hourly series cover at most 31 days".into(),
                    }
                    .into());
                }
                service.timeseries(range, hourly, p.text("type")).await?
            }
            ["v1", "export"] => {
                let p = Params::new(pairs, &allowed(&[RANGE, &["format"]]))?;
                let format = p.text("format").unwrap_or("ndjson");
                if format != "ndjson" && format != "csv" {
                    return Err(QueryError::BadParameter {
                        parameter: "format".into(),
                        message: "must be ndjson or csv".into(),
                    }
                    .into());
                }
                let events = service.export(parse_range(&p, 30, retention, now)?).await?;
                let (content_type, text) = if format == "csv" {
                    ("text/csv; charset=utf-8", csv::events_to_csv(&events))
                } else {
                    (
                        "application/x-ndjson",
                        events
                            .iter()
                            .map(|e| e.to_string() + "\n")
                            .collect::<String>(),
                    )
                };
                return Ok(Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, content_type)
                    .header(
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"pulse-{}.{format}\"", project.id),
                    )
                    .body(Body::Text(text))
                    .expect("static parts are valid"));
            }
            ["v1", "users", user] => {
                Params::new(pairs, &[])?;
                let erased = service.erase_user(user).await?;
                tracing::info!(project_id = %project.id, erased, "user erased");
                json!({"user_id": user, "erased": erased})
            }
            _ => return Err(Failure::NotFound(path.to_owned())),
        };
        Ok(json_response(StatusCode::OK, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(decode_segment("a%40b.com"), "a@b.com");
        assert_eq!(decode_segment("x%2"), "x%2");
        assert_eq!(decode_segment("caf%C3%A9"), "café");
    }

    #[test]
    fn routes_of_this_function() {
        assert!(QueryHandler::serves(&Method::GET, "/v1/events"));
        assert!(QueryHandler::serves(&Method::DELETE, "/v1/users/u1"));
        assert!(!QueryHandler::serves(&Method::POST, "/v1/events"));
        assert!(
            !QueryHandler::serves(&Method::OPTIONS, "/v1/events"),
            "preflights go to ingest"
        );
        let r = error_response(&Failure::Method(Method::PUT, "GET"));
        assert_eq!(
            (r.status().as_u16(), r.headers()["allow"].to_str().unwrap()),
            (405, "GET")
        );
    }
}
