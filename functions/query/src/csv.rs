//! CSV export (RFC 4180): fields with a comma, quote or line break are
//! quoted, quotes doubled; nested JSON goes into one quoted field.

use serde_json::Value;

pub const COLUMNS: &[&str] = &[
    "event_id",
    "timestamp_iso",
    "type",
    "category",
    "action",
    "user_id",
    "anonymous_id",
    "session_id",
    "conversation_id",
    "sequence",
    "parent_id",
    "entity_type",
    "entity_id",
    "status",
    "environment",
    "duration_ms",
    "device_type",
    "browser",
    "os",
    "properties",
    "context",
];

fn field(v: &Value) -> String {
    let text = match v {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub fn events_to_csv(events: &[Value]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for e in events {
        let row: Vec<String> = COLUMNS.iter().map(|c| field(&e[*c])).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_commas_quotes_and_newlines() {
        let e = json!({"event_id": "e1", "type": "a,b", "user_id": "say \"hi\"", "session_id": "two\nlines", "properties": {"x": 1}});
        let csv = events_to_csv(&[e]);
        let row = csv.lines().nth(1).unwrap();
        assert!(row.starts_with("e1,,\"a,b\","));
        assert!(csv.contains("\"say \"\"hi\"\"\""));
        assert!(
            csv.contains(",\"two\nlines\","),
            "a line break inside a field is quoted"
        );
        assert!(
            csv.contains("\"{\"\"x\"\":1}\""),
            "JSON in one quoted field"
        );
    }
}
