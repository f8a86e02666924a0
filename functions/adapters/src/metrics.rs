//! CloudWatch metrics in Embedded Metric Format (EMF): one JSON line per
//! invocation on stdout, which CloudWatch Logs turns into metrics in the
//! `Pulse` namespace with no API call, no extra latency and no IAM permission.
//!
//! ```json
//! {"_aws":{"Timestamp":1795305600000,"CloudWatchMetrics":[{"Namespace":"Pulse",
//!   "Dimensions":[["Function","Stage"]],"Metrics":[{"Name":"EventsAccepted","Unit":"Count"}]}]},
//!  "Function":"ingest","Stage":"prod","EventsAccepted":20,"project_id":"demo"}
//! ```
//!
//! Metrics have the dimensions `Function` and `Stage` only (cheap, bounded
//! cardinality); properties such as `project_id` are log fields, searchable
//! with CloudWatch Logs Insights but not metrics. Lines are printed only in
//! Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), so tests and the dev gateway stay
//! quiet.

use serde_json::{Map, Value};
use std::io::Write;
use std::sync::OnceLock;

/// The CloudWatch namespace of every Pulse metric.
pub const NAMESPACE: &str = "Pulse";

/// The dimension set of every metric.
pub const DIMENSIONS: [&str; 2] = ["Function", "Stage"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// The metrics of one invocation, printed as one EMF line by [`MetricSet::emit`].
#[derive(Debug, Clone)]
pub struct MetricSet {
    function: &'static str,
    stage: String,
    metrics: Vec<(&'static str, Unit, f64)>,
    properties: Vec<(&'static str, Value)>,
}

impl MetricSet {
    /// Metrics of `function` (`ingest`, `consumer`, `query`), in the stage of
    /// `PULSE_STAGE` (set by template.yaml; `local` when absent).
    pub fn new(function: &'static str) -> Self {
        static STAGE: OnceLock<String> = OnceLock::new();
        let stage = STAGE.get_or_init(|| {
            std::env::var("PULSE_STAGE")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "local".into())
        });
        Self::with_stage(function, stage.as_str())
    }

    pub fn with_stage(function: &'static str, stage: impl Into<String>) -> Self {
        Self {
            function,
            stage: stage.into(),
            metrics: Vec::with_capacity(8),
            properties: Vec::new(),
        }
    }

    /// Adds (or replaces) a metric.
    pub fn metric(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.metrics.retain(|(n, _, _)| *n != name);
        self.metrics.push((name, unit, value));
        self
    }

    pub fn count(self, name: &'static str, value: usize) -> Self {
        self.metric(name, Unit::Count, value as f64)
    }

    pub fn millis(self, name: &'static str, elapsed: std::time::Duration) -> Self {
        self.metric(name, Unit::Milliseconds, elapsed.as_secs_f64() * 1000.0)
    }

    /// A log field that is not a metric (e.g. `project_id`, `status`).
    pub fn property(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.properties.retain(|(k, _)| *k != key);
        self.properties.push((key, value.into()));
        self
    }

    /// The EMF document at `timestamp_ms` (epoch milliseconds).
    pub fn to_json(&self, timestamp_ms: i64) -> Value {
        let definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, unit, _)| serde_json::json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [DIMENSIONS],
                    "Metrics": definitions,
                }],
            }),
        );
        // Properties first, so a metric or dimension of the same name wins.
        for (key, value) in &self.properties {
            root.insert((*key).into(), value.clone());
        }
        root.insert("Function".into(), self.function.into());
        root.insert("Stage".into(), self.stage.clone().into());
        for (name, _, value) in &self.metrics {
            root.insert((*name).into(), (*value).into());
        }
        Value::Object(root)
    }

    /// Prints the line on stdout when running in Lambda; does nothing
    /// elsewhere. Never fails the invocation.
    pub fn emit(&self) {
        if enabled() {
            self.write_to(&mut std::io::stdout().lock());
        }
    }

    /// Writes the EMF line (one line, newline-terminated) to `out`.
    pub fn write_to(&self, out: &mut impl Write) {
        let line = self.to_json(now_millis()).to_string();
        let _ = writeln!(out, "{line}");
    }
}

/// True in Lambda, where CloudWatch Logs reads stdout.
pub fn enabled() -> bool {
    emits_for(std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").as_deref())
}

fn emits_for(function_name: Option<&std::ffi::OsStr>) -> bool {
    function_name.is_some_and(|n| !n.is_empty())
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample() -> MetricSet {
        MetricSet::with_stage("ingest", "prod")
            .count("EventsAccepted", 20)
            .count("EventsRejected", 1)
            .millis("Latency", Duration::from_micros(12_500))
            .metric("BodyBytes", Unit::Bytes, 2048.0)
            .property("project_id", "demo")
            .property("status", 200)
    }

    #[test]
    fn document_has_the_emf_shape() {
        let doc = sample().to_json(1_795_305_600_000);
        let aws = &doc["_aws"];
        assert_eq!(aws["Timestamp"], 1_795_305_600_000_i64);
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert_eq!(d["Namespace"], "Pulse");
        assert_eq!(d["Dimensions"], serde_json::json!([["Function", "Stage"]]));
        // Every dimension named in the directive is a top-level string.
        for dim in d["Dimensions"][0].as_array().unwrap() {
            assert!(doc[dim.as_str().unwrap()].is_string(), "{dim}");
        }
        assert_eq!(doc["Function"], "ingest");
        assert_eq!(doc["Stage"], "prod");
        let defs = d["Metrics"].as_array().unwrap();
        let names: Vec<&str> = defs.iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["EventsAccepted", "EventsRejected", "Latency", "BodyBytes"]
        );
        let units: Vec<&str> = defs.iter().map(|m| m["Unit"].as_str().unwrap()).collect();
        assert_eq!(units, ["Count", "Count", "Milliseconds", "Bytes"]);
        // Every declared metric has a numeric top-level value.
        for name in names {
            assert!(doc[name].is_number(), "{name} has no value");
        }
        assert_eq!(doc["EventsAccepted"], 20.0);
        assert_eq!(doc["Latency"], 12.5);
        // Properties are fields, not metrics.
        assert_eq!(doc["project_id"], "demo");
        assert_eq!(doc["status"], 200);
        assert!(!defs.iter().any(|m| m["Name"] == "project_id"));
    }

    #[test]
    fn a_metric_set_twice_is_declared_once_with_the_last_value() {
        let doc = MetricSet::with_stage("consumer", "dev")
            .count("BatchSize", 3)
            .count("BatchSize", 7)
            .to_json(0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(doc["BatchSize"], 7.0);
    }

    #[test]
    fn a_property_cannot_overwrite_a_dimension_or_metric() {
        let doc = MetricSet::with_stage("ingest", "prod")
            .count("Requests", 1)
            .property("Function", "evil")
            .property("Requests", "x")
            .to_json(0);
        assert_eq!(doc["Function"], "ingest");
        assert_eq!(doc["Requests"], 1.0);
    }

    #[test]
    fn writes_exactly_one_json_line() {
        let mut out = Vec::new();
        sample().write_to(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'));
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let doc: Value = serde_json::from_str(text.trim_end()).unwrap();
        let ts = doc["_aws"]["Timestamp"].as_i64().unwrap();
        assert!(ts > 1_700_000_000_000, "timestamp is now in epoch ms: {ts}");
    }

    #[test]
    fn emits_only_in_lambda() {
        assert!(emits_for(Some(std::ffi::OsStr::new("pulse-ingest"))));
        assert!(!emits_for(Some(std::ffi::OsStr::new(""))));
        assert!(!emits_for(None));
    }
}
