//! HTTP request → API Gateway HTTP API (payload format 2.0) event →
//! `lambda_http::Request`, through lambda_http's own deserializer: the handler
//! sees exactly what it sees in AWS.

use base64::Engine;
use lambda_http::http::{HeaderMap, Method, Uri};
use lambda_http::Request;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

/// Builds the payload-v2 event API Gateway would send for this request.
pub fn event_json(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    peer: SocketAddr,
) -> Value {
    let mut header_map = Map::new();
    let mut cookies = Vec::new();
    for name in headers.keys() {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if name == lambda_http::http::header::COOKIE {
            cookies.extend(values.iter().flat_map(|v| v.split("; ")).map(str::to_owned));
            continue;
        }
        // Payload v2 joins repeated headers with commas and lowercases names.
        header_map.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    let raw_query = uri.query().unwrap_or_default();
    let mut query = Map::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match query.get_mut(k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(v);
            }
            _ => {
                query.insert(k.to_owned(), Value::String(v.to_owned()));
            }
        }
    }
    // Text bodies arrive as text; anything else (gzip) base64-encoded.
    let encoded = headers.contains_key(lambda_http::http::header::CONTENT_ENCODING);
    let (body_value, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) if !encoded => (Value::String(text.to_owned()), false),
        _ => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    let now = chrono::Utc::now();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "pulse-dev",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(host),
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": headers.get("user-agent").and_then(|h| h.to_str().ok()).unwrap_or_default(),
            },
            "requestId": uuid::Uuid::now_v7().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body_value,
        "isBase64Encoded": is_base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    event
}

/// The `lambda_http::Request` a Lambda behind API Gateway would receive.
pub fn lambda_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    peer: SocketAddr,
) -> Result<Request, String> {
    let event = event_json(method, uri, headers, body, peer);
    lambda_http::request::from_str(&event.to_string())
        .map_err(|e| format!("bad API Gateway event: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::{Body, RequestExt};

    #[test]
    fn converts_like_api_gateway_v2() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "text/plain".parse().unwrap());
        headers.append("x-multi", "a".parse().unwrap());
        headers.append("x-multi", "b".parse().unwrap());
        headers.insert("cookie", "a=1; b=2".parse().unwrap());
        let uri: Uri = "/v1/events?x=1&x=2&y=".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let req = lambda_request(&Method::POST, &uri, &headers, b"{\"a\":1}", peer).unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.raw_http_path(), "/v1/events");
        assert_eq!(req.headers()["x-multi"], "a,b");
        assert_eq!(req.headers()["cookie"], "a=1; b=2");
        assert_eq!(req.query_string_parameters().all("x"), Some(vec!["1", "2"]));
        assert!(matches!(req.body(), Body::Text(t) if t == "{\"a\":1}"));

        headers.insert("content-encoding", "gzip".parse().unwrap());
        let req = lambda_request(&Method::POST, &uri, &headers, &[0x1f, 0x8b, 0xff], peer).unwrap();
        assert!(matches!(req.body(), Body::Binary(b) if b == &[0x1f, 0x8b, 0xff]));
    }
}
