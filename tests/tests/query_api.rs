//! The query API end to end: a known scenario is ingested through the ingest
//! handler, drained through the consumer (local event source), and every
//! endpoint's numbers are checked against values computed here from the input.

use pulse_adapters::DynamoProjects;
use pulse_core::project::NewProject;
use pulse_core::time::{day_of, DAY_MS};
use pulse_tests::{TestStack, READ_KEY, WRITE_KEY};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

struct Api<'a> {
    stack: &'a TestStack,
}

impl Api<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, key: &str) -> (u16, Value) {
        self.stack.call(method, path, key).await
    }
    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(reqwest::Method::GET, path, READ_KEY).await;
        assert_eq!(s, 200, "{path}: {v}");
        v
    }
    async fn status(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, READ_KEY).await
    }
    async fn ingest(&self, events: &[Value], key: &str) {
        self.stack.ingest(events, key, 40).await
    }
}

fn ev(id: &str, ty: &str, ts: i64, user: &str, session: &str) -> Value {
    json!({"event_id": id, "type": ty, "timestamp": ts, "user_id": user, "session_id": session})
}

/// The scenario: two earlier days (one with failures), today's conversation
/// of four activities, and 120 events for pagination.
fn scenario(now: i64) -> Vec<Value> {
    let today = now - now.rem_euclid(DAY_MS);
    let d2 = today - 2 * DAY_MS + 10 * 3_600_000;
    let d1 = today - DAY_MS + 11 * 3_600_000;
    let mut v = vec![
        ev("a1", "project_created", d2, "alice", "s-a1"),
        ev("a2", "page_view", d2 + 60_000, "alice", "s-a1"),
        ev("a3", "page_view", d2 + 120_000, "bob", "s-b1"),
        ev("a4", "file_uploaded", d2 + 180_000, "bob", "s-b1"),
    ];
    for (i, status) in ["success", "failed", "failed", "success", "in_progress"]
        .iter()
        .enumerate()
    {
        let mut e = ev(
            &format!("b{i}"),
            "job_run",
            d1 + i as i64 * 60_000,
            "carol",
            "s-c1",
        );
        e["status"] = (*status).into();
        e["duration_ms"] = (100 * (i + 1)).into();
        e["entity_type"] = "job".into();
        e["entity_id"] = format!("job-{}", i % 2).into();
        v.push(e);
    }
    // Today's conversation: user → tool call → tool response, and the answer.
    let t = now - 30 * 60_000;
    let flow = [
        ("c1", "user_message", None, 1),
        ("c2", "tool_call", Some("c1"), 2),
        ("c3", "tool_response", Some("c2"), 3),
        ("c4", "assistant_response", Some("c1"), 4),
    ];
    for (i, (id, ty, parent, seq)) in flow.iter().enumerate() {
        // Stored out of order on purpose: order comes from `sequence`.
        let mut e = ev(id, ty, t + (3 - i as i64) * 1000, "alice", "s-a2");
        e["conversation_id"] = "conv-1".into();
        e["sequence"] = (*seq).into();
        e["status"] = "success".into();
        e["duration_ms"] = (10 * seq).into();
        if let Some(p) = parent {
            e["parent_id"] = (*p).into();
        }
        v.push(e);
    }
    for i in 0..120 {
        v.push(ev(
            &format!("p{i:03}"),
            "item_viewed",
            now - 20 * 60_000 + i * 500,
            "dave",
            "s-d1",
        ));
    }
    v
}

fn count_by(events: &[Value], f: impl Fn(&Value) -> Option<String>) -> Value {
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for e in events {
        if let Some(k) = f(e) {
            *m.entry(k).or_default() += 1;
        }
    }
    json!(m)
}

fn category(t: &str) -> String {
    pulse_core::event::derive_category_action(t).0.to_owned()
}

#[tokio::test]
async fn every_endpoint_matches_the_scenario() {
    let mut stack = TestStack::start("query").await;
    let now = pulse_core::time::now_millis();
    let events = scenario(now);
    let api = Api { stack: &stack };
    api.ingest(&events, WRITE_KEY).await;
    stack.consume_all().await;
    let api = Api { stack: &stack };

    // ── summary, computed independently ──
    let durations: Vec<u64> = events
        .iter()
        .filter_map(|e| e["duration_ms"].as_u64())
        .collect();
    let users: BTreeSet<&str> = events
        .iter()
        .map(|e| e["user_id"].as_str().unwrap())
        .collect();
    let sessions: BTreeSet<(&str, String)> = events
        .iter()
        .map(|e| {
            (
                e["session_id"].as_str().unwrap(),
                day_of(e["timestamp"].as_i64().unwrap()),
            )
        })
        .collect();
    let s = api.get("/v1/analytics/summary?days=7").await;
    assert_eq!(s["total_events"], events.len());
    assert_eq!(s["unique_users"], users.len());
    assert_eq!(s["sessions"], sessions.len());
    assert_eq!(
        s["events_by_type"],
        count_by(&events, |e| e["type"].as_str().map(str::to_owned))
    );
    assert_eq!(
        s["events_by_category"],
        count_by(&events, |e| Some(category(e["type"].as_str().unwrap())))
    );
    assert_eq!(
        s["events_by_status"],
        count_by(&events, |e| e["status"].as_str().map(str::to_owned))
    );
    assert_eq!(s["errors"], 2);
    assert_eq!(s["most_active_day"]["date"], day_of(now));
    assert_eq!(s["most_active_day"]["events"], 124);
    assert_eq!(s["most_common_action"]["action"], "viewed");
    let avg = durations.iter().sum::<u64>() as f64 / durations.len() as f64;
    assert_eq!(
        s["avg_duration_ms"].as_f64().unwrap(),
        (avg * 10.0).round() / 10.0
    );

    // ── daily: one row per day, zero-filled ──
    let daily = api.get("/v1/analytics/daily?days=5").await;
    let rows = daily["days"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let today = day_of(now);
    let d1 = day_of(now - DAY_MS);
    let d2 = day_of(now - 2 * DAY_MS);
    for row in rows {
        let date = row["date"].as_str().unwrap();
        let on_day: Vec<&Value> = events
            .iter()
            .filter(|e| day_of(e["timestamp"].as_i64().unwrap()) == date)
            .collect();
        assert_eq!(row["events"], on_day.len(), "{date}");
        let u: BTreeSet<&str> = on_day
            .iter()
            .map(|e| e["user_id"].as_str().unwrap())
            .collect();
        assert_eq!(row["active_users"], u.len(), "{date}");
        let s: BTreeSet<&str> = on_day
            .iter()
            .map(|e| e["session_id"].as_str().unwrap())
            .collect();
        assert_eq!(row["sessions"], s.len(), "{date}");
        assert_eq!(
            row["errors"],
            on_day.iter().filter(|e| e["status"] == "failed").count(),
            "{date}"
        );
    }
    let by_date: BTreeMap<&str, &Value> = rows
        .iter()
        .map(|r| (r["date"].as_str().unwrap(), r))
        .collect();
    assert_eq!(by_date[d1.as_str()]["errors"], 2);
    assert_eq!(by_date[d1.as_str()]["avg_duration_ms"], 300.0);
    assert_eq!(by_date[d2.as_str()]["events"], 4);
    assert_eq!(by_date[today.as_str()]["events"], 124);
    assert_eq!(rows[0]["events"], 0, "zero-filled");

    // ── top users, time series ──
    let top = api.get("/v1/analytics/top-users?days=7&limit=2").await;
    assert_eq!(
        top["users"],
        json!([{"user_id": "dave", "events": 120}, {"user_id": "alice", "events": 6}])
    );
    let ts = api
        .get("/v1/analytics/timeseries?type=job_run&interval=day&days=3")
        .await;
    assert_eq!(
        ts["points"],
        json!([{"t": d2, "events": 0}, {"t": d1, "events": 5}, {"t": today, "events": 0}])
    );
    let hourly = api
        .get("/v1/analytics/timeseries?interval=hour&days=1")
        .await;
    let total: u64 = hourly["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["events"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 124);

    // ── events: pagination walks every event exactly once ──
    let mut seen = Vec::new();
    let mut path = "/v1/events?limit=25".to_owned();
    let mut last_ts = i64::MAX;
    loop {
        let page = api.get(&path).await;
        for e in page["events"].as_array().unwrap() {
            let ts = e["timestamp"].as_i64().unwrap();
            assert!(ts <= last_ts, "newest first");
            last_ts = ts;
            seen.push(e["event_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/events?limit=25&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), events.len());
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        events.len(),
        "no event twice"
    );
    let first = api.get("/v1/events?limit=25").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    // Change the signature's last digit to a different one.
    let flipped = if cursor.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &cursor[..cursor.len() - 1]);
    let (status, err) = api
        .status(&format!("/v1/events?limit=25&cursor={tampered}"))
        .await;
    assert_eq!(
        (status, err["error"]["parameter"].as_str()),
        (400, Some("cursor"))
    );
    let (status, _) = api
        .status(&format!(
            "/v1/events?limit=25&type=page_view&cursor={cursor}"
        ))
        .await;
    assert_eq!(
        status, 400,
        "a cursor only works for the query that made it"
    );

    // ── filters and timelines ──
    let failed = api.get("/v1/events?status=failed").await;
    let ids: BTreeSet<&str> = failed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BTreeSet::from(["b1", "b2"]));
    let jobs = api.get("/v1/events?entity_type=job&entity_id=job-0").await;
    assert_eq!(jobs["events"].as_array().unwrap().len(), 3);
    let bob = api.get("/v1/users/bob/events").await;
    let ids: Vec<&str> = bob["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["a4", "a3"]);
    let sess = api.get("/v1/sessions/s-d1/events?limit=1000").await;
    assert_eq!(sess["events"].as_array().unwrap().len(), 120);
    let viewed = api.get("/v1/events?type=page_view&category=page").await;
    assert_eq!(viewed["events"].as_array().unwrap().len(), 2);
    let one = api.get("/v1/events/b1").await;
    assert_eq!(
        (one["event_id"].as_str(), one["status"].as_str()),
        (Some("b1"), Some("failed"))
    );
    assert!(one["timestamp_iso"].as_str().unwrap().ends_with('Z'));

    // ── the conversation, in order, with its tree ──
    let conv = api.get("/v1/conversations/conv-1").await;
    let order: Vec<&str> = conv["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        vec![
            "user_message",
            "tool_call",
            "tool_response",
            "assistant_response"
        ]
    );
    assert_eq!(
        conv["tree"],
        json!([{"event_id": "c1", "children": [
            {"event_id": "c2", "children": [{"event_id": "c3", "children": []}]},
            {"event_id": "c4", "children": []}
        ]}])
    );
    assert_eq!(conv["orphans"], json!([]));

    // ── export: every event once, CSV escaping ──
    let res = reqwest::Client::new()
        .get(stack.url("/v1/export?days=7&format=ndjson"))
        .bearer_auth(READ_KEY)
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    let exported: BTreeSet<String> = body
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(exported.len(), events.len());
    assert_eq!(body.lines().count(), events.len());
    let res = reqwest::Client::new()
        .get(stack.url("/v1/export?days=7&format=csv"))
        .bearer_auth(READ_KEY)
        .send()
        .await
        .unwrap();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), events.len() + 1);

    // ── bad input: 400 naming the parameter, never 500 ──
    for (path, param) in [
        ("/v1/events?status=bogus", "status"),
        ("/v1/events?from=2026-11-05&to=2026-11-01", "from"),
        ("/v1/analytics/summary?days=400", "days"),
        ("/v1/events?cursor=nonsense", "cursor"),
        ("/v1/events?limit=0", "limit"),
        ("/v1/events?limit=1001", "limit"),
        ("/v1/events?colour=red", "colour"),
        ("/v1/analytics/timeseries?interval=week", "interval"),
        ("/v1/export?format=xml", "format"),
    ] {
        let (status, err) = api.status(path).await;
        assert_eq!(
            (status, err["error"]["parameter"].as_str()),
            (400, Some(param)),
            "{path}: {err}"
        );
    }
    assert_eq!(api.status("/v1/events/nope").await.0, 404);

    // ── erasure: the user's events and identifiers go, counts stay, idempotent ──
    let before = api.get("/v1/analytics/summary?days=7").await;
    let daily_before = api.get("/v1/analytics/daily?days=7").await;
    let top: Value = api.get("/v1/analytics/top-users?days=7&limit=100").await;
    assert!(top.to_string().contains("\"bob\""), "{top}");
    let (status, out) = api
        .call(reqwest::Method::DELETE, "/v1/users/bob", READ_KEY)
        .await;
    assert_eq!((status, out["erased"].as_u64()), (200, Some(2)));
    let (_, again) = api
        .call(reqwest::Method::DELETE, "/v1/users/bob", READ_KEY)
        .await;
    assert_eq!(again["erased"], 0);
    assert!(api.get("/v1/users/bob/events").await["events"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(api.status("/v1/events/a3").await.0, 404);
    let after = api.get("/v1/analytics/summary?days=7").await;
    assert_eq!(after["total_events"], events.len());
    assert_eq!(
        after["unique_users"], before["unique_users"],
        "past counts stay exact"
    );
    assert_eq!(api.get("/v1/analytics/daily?days=7").await, daily_before);
    let top = api.get("/v1/analytics/top-users?days=7&limit=100").await;
    assert!(
        !top.to_string().contains("bob") && !top.to_string().contains("erased:"),
        "{top}"
    );
    // Nothing in the table names bob any more.
    let mut start = None;
    loop {
        let page = stack
            .clients
            .dynamodb
            .scan()
            .table_name(&stack.stack.provisioned.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let text = format!("{item:?}");
            assert!(
                !text.contains("u:bob") && !text.contains("\\\"bob\\\""),
                "left behind: {text}"
            );
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
}

#[tokio::test]
async fn projects_are_isolated_and_write_keys_cannot_read() {
    let mut stack = TestStack::start("isolation").await;
    let projects = DynamoProjects::new(
        stack.clients.dynamodb.clone(),
        &stack.stack.provisioned.table,
    );
    let mut b = NewProject::new("other", "Other");
    (b.write_key, b.read_key) = ("wk_other".into(), "rk_other".into());
    projects.create(&b).await.unwrap();
    let now = pulse_core::time::now_millis();
    let api = Api { stack: &stack };
    api.ingest(&[ev("mine-1", "a_b", now - 1000, "u1", "s1")], WRITE_KEY)
        .await;
    api.ingest(
        &[
            ev("theirs-1", "secret_event", now - 1000, "u1", "s1"),
            ev("theirs-2", "secret_event", now - 900, "u9", "s9"),
        ],
        "wk_other",
    )
    .await;
    stack.consume_all().await;
    let api = Api { stack: &stack };

    let mine = api.get("/v1/events").await;
    assert_eq!(
        mine["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["mine-1"]
    );
    let summary = api.get("/v1/analytics/summary?days=1").await;
    assert_eq!(
        (
            summary["total_events"].as_u64(),
            summary["unique_users"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(summary["events_by_type"].get("secret_event").is_none());
    assert_eq!(api.status("/v1/events/theirs-1").await.0, 404);
    assert!(api.get("/v1/users/u1/events").await["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["event_id"] == "mine-1"));
    let (_, theirs) = api
        .call(
            reqwest::Method::GET,
            "/v1/analytics/summary?days=1",
            "rk_other",
        )
        .await;
    assert_eq!(theirs["total_events"], 2);

    let (status, err) = api
        .call(reqwest::Method::GET, "/v1/events", WRITE_KEY)
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("write_key_not_allowed"))
    );
    assert_eq!(
        api.call(reqwest::Method::GET, "/v1/events", "rk_nope")
            .await
            .0,
        401
    );
    let res = reqwest::Client::new()
        .get(stack.url("/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

#[tokio::test]
async fn expired_events_are_absent_from_every_endpoint() {
    let mut stack = TestStack::start("expired").await;
    let now = pulse_core::time::now_millis();
    // Queued directly (the ingest refuses events older than the retention):
    // an event whose TTL passed yesterday, beside a live one.
    let mut old = ev("old-1", "tool_call", now - 3 * DAY_MS, "erin", "s-e");
    old["conversation_id"] = "conv-x".into();
    let mut fresh = ev("new-1", "tool_call", now - 60_000, "erin", "s-e");
    fresh["conversation_id"] = "conv-x".into();
    for (e, retention) in [(&old, 2), (&fresh, 2)] {
        let mut e = e.clone();
        let (c, a) = pulse_core::event::derive_category_action("tool_call");
        e["category"] = c.into();
        e["action"] = a.into();
        let body = json!({"v": 1, "project_id": "demo", "retention_days": retention, "received_at": now, "events": [e]}).to_string();
        stack
            .clients
            .sqs
            .send_message()
            .queue_url(&stack.stack.provisioned.queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    stack.consume_all().await;
    let api = Api { stack: &stack };
    let ids = |v: &Value| {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&api.get("/v1/events").await), vec!["new-1"]);
    assert_eq!(ids(&api.get("/v1/users/erin/events").await), vec!["new-1"]);
    assert_eq!(
        ids(&api.get("/v1/sessions/s-e/events").await),
        vec!["new-1"]
    );
    assert_eq!(
        ids(&api.get("/v1/conversations/conv-x").await),
        vec!["new-1"]
    );
    assert_eq!(api.status("/v1/events/old-1").await.0, 404);
    let res = reqwest::Client::new()
        .get(stack.url("/v1/export?days=7"))
        .bearer_auth(READ_KEY)
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(!body.contains("old-1") && body.contains("new-1"));
}

/// Lambda caps a response at 6 MB: a big export comes in parts, each with
/// the cursor of the next, and the parts hold every event exactly once.
#[tokio::test]
async fn a_large_export_comes_in_parts_that_hold_every_event_once() {
    let mut stack = TestStack::start("export-parts").await;
    let blob = "x".repeat(30_000);
    let events: Vec<Value> = (0..120)
        .map(|i| json!({"event_id": format!("big{i:03}"), "type": "blob_saved", "user_id": "u", "properties": {"blob": blob}}))
        .collect();
    stack.ingest(&events, WRITE_KEY, 20).await;
    stack.consume_all().await;

    let mut seen = Vec::new();
    let mut parts = 0;
    let mut url = stack.url("/v1/export?days=1&format=ndjson");
    loop {
        let res = reqwest::Client::new()
            .get(&url)
            .bearer_auth(READ_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let next = res
            .headers()
            .get("x-pulse-next-cursor")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.text().await.unwrap();
        assert!(body.len() < 6_000_000, "a part fits a Lambda response");
        for line in body.lines() {
            let e: Value = serde_json::from_str(line).unwrap();
            seen.push(e["event_id"].as_str().unwrap().to_owned());
        }
        parts += 1;
        match next {
            Some(c) => url = stack.url(&format!("/v1/export?format=ndjson&cursor={c}")),
            None => break,
        }
    }
    assert!(parts >= 2, "3.6 MB of events is more than one part");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (120, 120));
}

/// Found by schemathesis: other methods on query routes are 405 with Allow,
/// and ids longer than anything stored are 400 (DynamoDB keys are bounded).
#[tokio::test]
async fn wrong_methods_and_overlong_ids_are_client_errors() {
    let stack = TestStack::start("bounds").await;
    let api = Api { stack: &stack };
    for (method, path, allow) in [
        ("PUT", "/v1/analytics/daily", "GET"),
        ("PATCH", "/v1/events", "GET, POST"),
        ("GET", "/v1/monitoring/users/u1", "POST, DELETE"),
    ] {
        let res = reqwest::Client::new()
            .request(method.parse().unwrap(), stack.url(path))
            .bearer_auth(READ_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
    }
    let long = "x".repeat(1100);
    for (method, path, parameter) in [
        (
            reqwest::Method::POST,
            format!("/v1/monitoring/users/{long}"),
            "user_id",
        ),
        (
            reqwest::Method::GET,
            format!("/v1/users/{long}/events"),
            "user_id",
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1/users/{long}"),
            "user_id",
        ),
        (
            reqwest::Method::GET,
            format!("/v1/events?user_id={long}"),
            "user_id",
        ),
        (
            reqwest::Method::GET,
            format!("/v1/sessions/{long}/events"),
            "session_id",
        ),
    ] {
        let (status, body) = api.call(method, &path, READ_KEY).await;
        assert_eq!(
            (status, body["error"]["parameter"].as_str()),
            (400, Some(parameter)),
            "{body}"
        );
    }
}
