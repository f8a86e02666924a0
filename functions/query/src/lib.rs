//! The query function's HTTP shell: routes, read-key auth, parameters, and
//! the one mapping of query errors to HTTP. The work is
//! `pulse_core::query::QueryService` over the DynamoDB reader.

mod csv;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use pulse_adapters::metrics::MetricSet;
use pulse_adapters::{AwsClients, DynamoLive, DynamoProjects, DynamoReader};
use pulse_core::live::{self, LiveCursor, LiveStore, Monitor};
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
    live: Arc<dyn LiveStore>,
    cursor_secret: Vec<u8>,
}

/// The dashboard: static files built into the binary, so it ships with the
/// function. (path under /dashboard, content type, body)
const DASHBOARD: &[(&str, &str, &str)] = &[
    (
        "",
        "text/html; charset=utf-8",
        include_str!("../dashboard/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../dashboard/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../dashboard/app.css"),
    ),
];

/// JSON bytes of events per export response (see `export_part`).
const EXPORT_PART_BYTES: usize = 2_500_000;

/// The page only talks to its own origin.
const DASHBOARD_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

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
            live: Arc::new(DynamoLive::new(
                clients.dynamodb.clone(),
                &config.table_name,
            )),
            cursor_secret: config.cursor_secret.into_bytes(),
        }
    }

    /// Is this a route of the query function (for the dev gateway)?
    pub fn serves(method: &Method, path: &str) -> bool {
        // Preflights go to the ingest function, which answers CORS (in AWS
        // the HTTP API answers them itself), and so does POST /v1/events.
        // Any other method on a query path is ours, to answer 405 + Allow.
        let monitoring = path == "/v1/monitoring" || path.starts_with("/v1/monitoring/");
        method != Method::OPTIONS
            && !(method == Method::POST && path == "/v1/events")
            && (path.starts_with("/v1/events")
                || path.starts_with("/v1/users/")
                || path.starts_with("/v1/sessions/")
                || path.starts_with("/v1/conversations/")
                || path.starts_with("/v1/analytics/")
                || path == "/v1/export"
                || path == "/v1/live"
                || monitoring
                || path == "/dashboard"
                || path.starts_with("/dashboard/"))
    }

    /// One part of an export, newest first: whole pages of events until the
    /// part holds [`EXPORT_PART_BYTES`] of JSON, and the cursor of the next
    /// part when there is more. Lambda responses are capped at 6 MB; CSV of
    /// the same events is at most about twice the JSON (doubled quotes).
    async fn export_part(
        &self,
        service: &QueryService<'_>,
        range: pulse_core::query::TimeRange,
        mut after: Option<Cursor>,
    ) -> Result<(Vec<Value>, Option<Cursor>), QueryError> {
        let filter = EventFilter::default();
        let mut events = Vec::new();
        let mut bytes = 0;
        loop {
            let page = service.events(&filter, range, after.clone(), 200).await?;
            for e in page.events {
                let size = e.to_string().len() + 1;
                if !events.is_empty() && bytes + size > EXPORT_PART_BYTES {
                    let last: &Value = events.last().expect("not empty");
                    let next = Cursor {
                        ts: last["timestamp"].as_i64().unwrap_or(0),
                        id: last["event_id"].as_str().unwrap_or_default().to_owned(),
                        range,
                    };
                    return Ok((events, Some(next)));
                }
                bytes += size;
                events.push(e);
            }
            match page.next {
                Some(c) => after = Some(c),
                None => return Ok((events, None)),
            }
        }
    }

    /// `GET /dashboard` and its assets; no key needed (the page asks for one).
    fn dashboard(method: &Method, path: &str) -> Option<Response<Body>> {
        let asset = path.strip_prefix("/dashboard")?;
        let asset = asset.strip_prefix('/').unwrap_or(asset);
        let (_, content_type, body) = DASHBOARD.iter().find(|(name, _, _)| *name == asset)?;
        if method != Method::GET {
            return Some(error_response(&Failure::Method(method.clone(), "GET")));
        }
        Some(
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, *content_type)
                .header(header::CACHE_CONTROL, "no-cache")
                .header(header::CONTENT_SECURITY_POLICY, DASHBOARD_CSP)
                .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
                .body(Body::Text((*body).to_owned()))
                .expect("static parts are valid"),
        )
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
        if let Some(page) = Self::dashboard(req.method(), &path) {
            return page;
        }
        let result = self.route(&req, &path).await;
        let response = match result {
            Ok(r) => r,
            Err(f) => error_response(&f),
        };
        let status = response.status().as_u16();
        tracing::info!(method = %req.method(), path, status, elapsed_us = started.elapsed().as_micros() as u64, "query");
        MetricSet::new("query")
            .count("Requests", 1)
            .count("ClientErrors", usize::from((400..500).contains(&status)))
            .count("ServerErrors", usize::from(status >= 500))
            .millis("Latency", started.elapsed())
            .property("Route", route_name(&path))
            .emit();
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
                | ["v1", "live"]
                | ["v1", "monitoring", "users"]
                | ["v1", "monitoring", "users", _]
                | ["v1", "monitoring", "users", _, "events"]
        );
        if !known {
            return Err(Failure::NotFound(path.to_owned()));
        }
        let allowed_methods = match segs.as_slice() {
            ["v1", "events"] => "GET, POST",
            ["v1", "users", _] => "DELETE",
            ["v1", "monitoring", "users", _] => "POST, DELETE",
            _ => "GET",
        };
        if !allowed_methods.split(", ").any(|m| m == method.as_str()) {
            return Err(Failure::Method(method, allowed_methods));
        }
        let id = match segs.as_slice() {
            ["v1", "events", id] => Some(("event_id", id)),
            ["v1", "users", id]
            | ["v1", "users", id, "events"]
            | ["v1", "monitoring", "users", id]
            | ["v1", "monitoring", "users", id, "events"] => Some(("user_id", id)),
            ["v1", "sessions", id, _] => Some(("session_id", id)),
            ["v1", "conversations", id] => Some(("conversation_id", id)),
            _ => None,
        };
        if let Some((parameter, id)) = id {
            pulse_core::query::check_id(parameter, id)?;
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
                let p = Params::new(pairs, &allowed(&[RANGE, &["format", "cursor"]]))?;
                let format = p.text("format").unwrap_or("ndjson");
                if format != "ndjson" && format != "csv" {
                    return Err(QueryError::BadParameter {
                        parameter: "format".into(),
                        message: "must be ndjson or csv".into(),
                    }
                    .into());
                }
                let filter = EventFilter::default();
                let after = p
                    .text("cursor")
                    .map(|c| Cursor::decode(c, &self.cursor_secret, &filter))
                    .transpose()?;
                let range = match &after {
                    Some(c) => c.range,
                    None => parse_range(&p, 30, retention, now)?,
                };
                let (events, next) = self.export_part(&service, range, after).await?;
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
                let mut response = Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, content_type)
                    .header(
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"pulse-{}.{format}\"", project.id),
                    )
                    .header("x-pulse-event-count", events.len());
                if let Some(next) = next {
                    let cursor = next.encode(&self.cursor_secret, &filter);
                    response = response.header("x-pulse-next-cursor", &cursor).header(
                        header::LINK,
                        format!("</v1/export?format={format}&cursor={cursor}>; rel=\"next\""),
                    );
                }
                return Ok(response
                    .body(Body::Text(text))
                    .expect("static parts are valid"));
            }
            ["v1", "users", user] => {
                Params::new(pairs, &[])?;
                let erased = service.erase_user(user).await?;
                self.live
                    .erase_user(&project.id, user)
                    .await
                    .map_err(QueryError::from)?;
                tracing::info!(project_id = %project.id, erased, "user erased");
                json!({"user_id": user, "erased": erased})
            }
            ["v1", "live"] => {
                let p = Params::new(pairs, &["since", "limit", "type"])?;
                let limit = p.number("limit", 100, 1, 500)? as usize;
                let since = p
                    .text("since")
                    .map(|c| LiveCursor::decode(c, "since"))
                    .transpose()?;
                let found = live::live_ids(self.live.as_ref(), &project.id, since, limit, now)
                    .await
                    .map_err(QueryError::from)?;
                let events: Vec<Value> = self
                    .reader
                    .get_events(&project.id, &found.ids)
                    .await
                    .map_err(QueryError::from)?
                    .into_iter()
                    .filter(|e| p.text("type").is_none_or(|t| e["type"] == t))
                    .map(pulse_core::query::present)
                    .collect();
                json!({"events": events, "next_cursor": found.next.encode(), "more": found.more})
            }
            ["v1", "monitoring", "users"] => {
                Params::new(pairs, &[])?;
                let users: Vec<Value> = self
                    .live
                    .monitors(&project.id, now)
                    .await
                    .map_err(QueryError::from)?
                    .iter()
                    .map(monitor_json)
                    .collect();
                json!({ "users": users })
            }
            ["v1", "monitoring", "users", user] if method == Method::POST => {
                let p = Params::new(pairs, &["ttl_hours"])?;
                let hours = live::parse_ttl_hours(p.text("ttl_hours"))?;
                let monitor = Monitor {
                    user_id: user.to_string(),
                    since_ms: now,
                    until_ms: now + (hours * 3_600_000.0).round() as i64,
                };
                self.live
                    .start_monitor(&project.id, &monitor)
                    .await
                    .map_err(QueryError::from)?;
                tracing::info!(project_id = %project.id, user_id = %user, hours, "monitoring started");
                let mut body = monitor_json(&monitor);
                body["monitoring"] = true.into();
                body["ttl_hours"] = hours.into();
                body
            }
            ["v1", "monitoring", "users", user] => {
                Params::new(pairs, &[])?;
                let removed = self
                    .live
                    .stop_monitor(&project.id, user)
                    .await
                    .map_err(QueryError::from)?;
                tracing::info!(project_id = %project.id, user_id = %user, removed, "monitoring stopped");
                json!({"user_id": user, "monitoring": false, "removed": removed})
            }
            ["v1", "monitoring", "users", user, "events"] => {
                let p = Params::new(pairs, &["since", "limit"])?;
                let limit = p.number("limit", 200, 1, 500)? as usize;
                let since = p
                    .text("since")
                    .map(|c| LiveCursor::decode(c, "since"))
                    .transpose()?;
                let found = self
                    .live
                    .debug_events(
                        &project.id,
                        user,
                        since.as_ref().map(|c| c.sort_key.as_str()),
                        limit,
                        now,
                    )
                    .await
                    .map_err(QueryError::from)?;
                let next = found
                    .last()
                    .map(|(key, _)| key.clone())
                    .or(since.map(|c| c.sort_key))
                    .map(|sort_key| LiveCursor { sort_key, skip: 0 }.encode());
                let monitor = self
                    .live
                    .monitors(&project.id, now)
                    .await
                    .map_err(QueryError::from)?
                    .into_iter()
                    .find(|m| m.user_id == *user);
                json!({
                    "user_id": user,
                    "monitoring": monitor.is_some(),
                    "until": monitor.map(|m| pulse_core::time::format_millis(m.until_ms)),
                    "events": found.into_iter().map(|(_, e)| pulse_core::query::present(e)).collect::<Vec<_>>(),
                    "next_cursor": next,
                })
            }
            _ => return Err(Failure::NotFound(path.to_owned())),
        };
        Ok(json_response(StatusCode::OK, &body))
    }
}

fn monitor_json(m: &Monitor) -> Value {
    json!({
        "user_id": m.user_id,
        "since": pulse_core::time::format_millis(m.since_ms),
        "until": pulse_core::time::format_millis(m.until_ms),
        "until_ms": m.until_ms,
    })
}

/// A route's name for metrics: the path with ids left out.
fn route_name(path: &str) -> String {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["v1", "events", _] => "/v1/events/{id}".into(),
        ["v1", kind @ ("users" | "sessions" | "conversations"), _, rest @ ..] => {
            format!(
                "/v1/{kind}/{{id}}{}",
                rest.iter().map(|r| format!("/{r}")).collect::<String>()
            )
        }
        ["v1", "monitoring", "users", _, rest @ ..] => format!(
            "/v1/monitoring/users/{{id}}{}",
            rest.iter().map(|r| format!("/{r}")).collect::<String>()
        ),
        _ => path.to_owned(),
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
