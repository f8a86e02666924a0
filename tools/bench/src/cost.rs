//! The bill per million events at AWS list prices (us-east-1, arm64), from
//! measured figures and stated assumptions. Pure arithmetic: `bin/cost.rs`
//! gathers the inputs and prints.
//!
//! Prices are list prices without free tiers or savings plans. Each carries
//! its source page and the date it is known to hold.

use crate::footprint::{Footprint, KindFootprint, GB};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Price {
    pub what: &'static str,
    pub usd: f64,
    pub per: &'static str,
    pub source: &'static str,
    pub as_of: &'static str,
}

/// When these list prices were written down here. They are AWS's published
/// us-east-1 prices as known on that date (DynamoDB's since its 2024-11-01
/// on-demand cut); the pricing pages could not be opened from the machine
/// this was written on, so check the source page before relying on a figure.
const AS_OF: &str = "2026-11-22";

pub const HTTP_API_REQUEST: Price = Price {
    what: "API Gateway HTTP API request (first 300 M/month; metered per 512 KB)",
    usd: 1.00 / 1e6,
    per: "request",
    source: "https://aws.amazon.com/api-gateway/pricing/",
    as_of: AS_OF,
};
pub const LAMBDA_REQUEST: Price = Price {
    what: "Lambda request",
    usd: 0.20 / 1e6,
    per: "request",
    source: "https://aws.amazon.com/lambda/pricing/",
    as_of: AS_OF,
};
pub const LAMBDA_ARM_GB_S: Price = Price {
    what: "Lambda duration, arm64 (first 7.5 B GB-s/month; billed per 1 ms)",
    usd: 0.000_013_333_4,
    per: "GB-s",
    source: "https://aws.amazon.com/lambda/pricing/",
    as_of: AS_OF,
};
pub const SQS_REQUEST: Price = Price {
    what: "SQS standard request (each 64 KB chunk of a payload is one request)",
    usd: 0.40 / 1e6,
    per: "request",
    source: "https://aws.amazon.com/sqs/pricing/",
    as_of: AS_OF,
};
pub const DDB_WRU: Price = Price {
    what: "DynamoDB on-demand write request unit, Standard table class (since 2024-11-01)",
    usd: 0.625 / 1e6,
    per: "WRU",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: AS_OF,
};
pub const DDB_RRU: Price = Price {
    what: "DynamoDB on-demand read request unit, Standard table class (since 2024-11-01)",
    usd: 0.125 / 1e6,
    per: "RRU",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: AS_OF,
};
pub const DDB_STORAGE: Price = Price {
    what: "DynamoDB storage, Standard table class (first 25 GB free, ignored here)",
    usd: 0.25,
    per: "GB-month",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: AS_OF,
};
pub const DDB_IA_WRU: Price = Price {
    what: "DynamoDB on-demand write request unit, Standard-IA table class (1.25x Standard)",
    usd: 0.781_25 / 1e6,
    per: "WRU",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: AS_OF,
};
pub const DDB_IA_RRU: Price = Price {
    what: "DynamoDB on-demand read request unit, Standard-IA table class (1.25x Standard)",
    usd: 0.156_25 / 1e6,
    per: "RRU",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: AS_OF,
};
pub const DDB_IA_STORAGE: Price = Price {
    what: "DynamoDB storage, Standard-IA table class",
    usd: 0.10,
    per: "GB-month",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: AS_OF,
};
pub const DDB_PITR: Price = Price {
    what: "DynamoDB continuous backups (PITR; table size, GSIs excluded; template.yaml enables it)",
    usd: 0.20,
    per: "GB-month",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: AS_OF,
};
pub const LOGS_INGEST: Price = Price {
    what: "CloudWatch Logs ingestion, Standard class (Lambda logs: first 10 TB tier)",
    usd: 0.50,
    per: "GB",
    source: "https://aws.amazon.com/cloudwatch/pricing/",
    as_of: AS_OF,
};
pub const LOGS_STORAGE: Price = Price {
    what: "CloudWatch Logs archival storage",
    usd: 0.03,
    per: "GB-month",
    source: "https://aws.amazon.com/cloudwatch/pricing/",
    as_of: AS_OF,
};
pub const S3_STORAGE: Price = Price {
    what: "S3 Standard storage (first 50 TB/month)",
    usd: 0.023,
    per: "GB-month",
    source: "https://aws.amazon.com/s3/pricing/",
    as_of: AS_OF,
};
pub const S3_PUT: Price = Price {
    what: "S3 PUT request",
    usd: 0.005 / 1000.0,
    per: "request",
    source: "https://aws.amazon.com/s3/pricing/",
    as_of: AS_OF,
};
pub const FIREHOSE_GB: Price = Price {
    what:
        "Amazon Data Firehose Direct PUT ingestion (first 500 TB/month; records rounded up to 5 KB)",
    usd: 0.029,
    per: "GB",
    source: "https://aws.amazon.com/firehose/pricing/",
    as_of: AS_OF,
};

pub const ALL_PRICES: [Price; 16] = [
    HTTP_API_REQUEST,
    LAMBDA_REQUEST,
    LAMBDA_ARM_GB_S,
    SQS_REQUEST,
    DDB_WRU,
    DDB_RRU,
    DDB_STORAGE,
    DDB_IA_WRU,
    DDB_IA_RRU,
    DDB_IA_STORAGE,
    DDB_PITR,
    LOGS_INGEST,
    LOGS_STORAGE,
    S3_STORAGE,
    S3_PUT,
    FIREHOSE_GB,
];

pub const KIB: f64 = 1024.0;
/// SQS bills every started 64 KB of a request's payload as one request.
pub const SQS_CHUNK: f64 = 64.0 * KIB;
/// API Gateway meters HTTP API requests in 512 KB increments.
pub const HTTP_API_CHUNK: f64 = 512.0 * KIB;
/// The ingest packs events into messages of at most this (template.yaml MaxMessageBytes).
pub const SQS_MESSAGE_BYTES: f64 = 256.0 * KIB;
/// Firehose rounds each record up to 5 KB.
pub const FIREHOSE_RECORD_MIN: f64 = 5.0 * KIB;
/// Firehose's default S3 buffer: one object per 5 MB (compressed size is smaller still).
pub const FIREHOSE_OBJECT_BYTES: f64 = 5.0 * 1_000_000.0;

/// A measured (or defaulted) number and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Sourced {
    pub value: f64,
    pub source: String,
}

impl Sourced {
    pub fn measured(value: f64, source: impl Into<String>) -> Self {
        Sourced {
            value,
            source: source.into(),
        }
    }
    pub fn default(value: f64, why: &str) -> Self {
        Sourced {
            value,
            source: format!("default: {why}"),
        }
    }
    pub fn is_default(&self) -> bool {
        self.source.starts_with("default")
    }
}

/// What the benchmarks measured (or the documented defaults).
#[derive(Debug, Clone, Serialize)]
pub struct Inputs {
    /// WRU per stored event, all items and the GSI included (capacity tool).
    pub wru_per_event: Sourced,
    /// Of which the event item and its timeline GSI entry.
    pub wru_event_item: Sourced,
    /// Of which the timeline GSI entry alone.
    pub wru_timeline: Sourced,
    /// Envelope (SQS) bytes per event.
    pub event_bytes: Sourced,
    /// gzip size / raw size of envelope text (what an S3 archive stores).
    pub gzip_ratio: Sourced,
    /// Ingest CPU per request: fixed part (ms) and per event (ms).
    pub ingest_cpu_fixed_ms: Sourced,
    pub ingest_cpu_per_event_ms: Sourced,
    /// Consumer CPU per event (ms), warm.
    pub consumer_cpu_per_event_ms: Sourced,
    /// Bytes each invocation writes to its log (EMF metrics included).
    pub ingest_log_bytes: Sourced,
    pub consumer_log_bytes: Sourced,
    /// RCU of one 30-day summary (1,000 daily users).
    pub summary_rcu: Sourced,
    /// Stored bytes and lifetimes per event, by item kind.
    pub footprint: Footprint,
    pub footprint_source: String,
}

/// The measured figures `make bench` leaves in target/bench/report.json
/// (`cost_inputs`); `None` where a step did not run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub wru_per_event: Option<f64>,
    pub wru_event_item: Option<f64>,
    pub wru_timeline: Option<f64>,
    pub event_bytes: Option<f64>,
    pub gzip_ratio: Option<f64>,
    pub ingest_cpu_fixed_ms: Option<f64>,
    pub ingest_cpu_per_event_ms: Option<f64>,
    pub consumer_cpu_per_event_ms: Option<f64>,
    pub ingest_log_bytes: Option<f64>,
    pub consumer_log_bytes: Option<f64>,
    pub summary_rcu: Option<f64>,
    pub footprint: Option<Footprint>,
}

/// Defaults when a figure was not measured: the values `make bench` measured
/// on the development machine on 2026-11-22 (2 cores, moto server).
pub mod defaults {
    pub const WRU_PER_EVENT: f64 = 2.451;
    pub const WRU_EVENT_ITEM: f64 = 2.098;
    pub const WRU_TIMELINE: f64 = 1.049;
    pub const EVENT_BYTES: f64 = 469.3;
    pub const GZIP_RATIO: f64 = 0.0375;
    pub const INGEST_CPU_FIXED_MS: f64 = 1.309;
    pub const INGEST_CPU_PER_EVENT_MS: f64 = 0.0044;
    pub const CONSUMER_CPU_PER_EVENT_MS: f64 = 0.406;
    pub const INGEST_LOG_BYTES: f64 = 956.0;
    pub const CONSUMER_LOG_BYTES: f64 = 1084.0;
    pub const SUMMARY_RCU: f64 = 235.0;
    /// (kind, table bytes per event, GSI bytes per event, lifetime days) of the realistic mix.
    pub const FOOTPRINT: [(&str, f64, f64, f64); 7] = [
        ("EV", 752.9, 249.4, 365.0),
        ("TP", 76.3, 0.0, 365.0),
        ("SES", 4.3, 0.0, 730.0),
        ("MSG", 2.8, 0.0, 15.0),
        ("UD", 2.7, 0.0, 730.0),
        ("RH", 0.6, 0.0, 730.0),
        ("RD", 0.5, 0.0, 730.0),
    ];
}

impl Inputs {
    /// The measured figures where present, else the documented defaults
    /// (each `Sourced` says which).
    pub fn from_measured(m: &Measured, origin: &str) -> Inputs {
        let pick = |v: Option<f64>, default: f64, what: &str| match v {
            Some(x) if x.is_finite() => {
                Sourced::measured(x, format!("measured: {origin} ({what})"))
            }
            _ => Sourced::default(
                default,
                &format!("{what} not measured; value measured 2026-11-22"),
            ),
        };
        let (footprint, footprint_source) = match &m.footprint {
            Some(f) => (f.clone(), format!("measured: {origin} (footprint)")),
            None => (
                Footprint {
                    events: 1,
                    retention_days: 365,
                    kinds: defaults::FOOTPRINT
                        .iter()
                        .map(|(k, t, g, d)| {
                            (
                                (*k).to_owned(),
                                KindFootprint {
                                    items: 0,
                                    table_bytes_per_event: *t,
                                    gsi_bytes_per_event: *g,
                                    lifetime_days: Some(*d),
                                },
                            )
                        })
                        .collect(),
                },
                "default: footprint not measured; values measured 2026-11-22".to_owned(),
            ),
        };
        Inputs {
            wru_per_event: pick(m.wru_per_event, defaults::WRU_PER_EVENT, "capacity"),
            wru_event_item: pick(
                m.wru_event_item,
                defaults::WRU_EVENT_ITEM,
                "capacity, EV + EV:timeline",
            ),
            wru_timeline: pick(
                m.wru_timeline,
                defaults::WRU_TIMELINE,
                "capacity, EV:timeline",
            ),
            event_bytes: pick(
                m.event_bytes,
                defaults::EVENT_BYTES,
                "footprint, SQS bytes per event",
            ),
            gzip_ratio: pick(
                m.gzip_ratio,
                defaults::GZIP_RATIO,
                "footprint, gzip of envelopes",
            ),
            ingest_cpu_fixed_ms: pick(
                m.ingest_cpu_fixed_ms,
                defaults::INGEST_CPU_FIXED_MS,
                "coldstart warm ingest, fixed CPU per request",
            ),
            ingest_cpu_per_event_ms: pick(
                m.ingest_cpu_per_event_ms,
                defaults::INGEST_CPU_PER_EVENT_MS,
                "coldstart warm ingest, CPU per event",
            ),
            consumer_cpu_per_event_ms: pick(
                m.consumer_cpu_per_event_ms,
                defaults::CONSUMER_CPU_PER_EVENT_MS,
                "coldstart warm consumer, CPU per event",
            ),
            ingest_log_bytes: pick(
                m.ingest_log_bytes,
                defaults::INGEST_LOG_BYTES,
                "coldstart warm ingest, log bytes per invocation",
            ),
            consumer_log_bytes: pick(
                m.consumer_log_bytes,
                defaults::CONSUMER_LOG_BYTES,
                "coldstart warm consumer, log bytes per invocation",
            ),
            summary_rcu: pick(
                m.summary_rcu,
                defaults::SUMMARY_RCU,
                "footprint, 30-day summary RCU",
            ),
            footprint,
            footprint_source,
        }
    }

    /// The inputs that fell back to defaults.
    pub fn defaulted(&self) -> Vec<(&'static str, &Sourced)> {
        [
            ("wru_per_event", &self.wru_per_event),
            ("wru_event_item", &self.wru_event_item),
            ("wru_timeline", &self.wru_timeline),
            ("event_bytes", &self.event_bytes),
            ("gzip_ratio", &self.gzip_ratio),
            ("ingest_cpu_fixed_ms", &self.ingest_cpu_fixed_ms),
            ("ingest_cpu_per_event_ms", &self.ingest_cpu_per_event_ms),
            ("consumer_cpu_per_event_ms", &self.consumer_cpu_per_event_ms),
            ("ingest_log_bytes", &self.ingest_log_bytes),
            ("consumer_log_bytes", &self.consumer_log_bytes),
            ("summary_rcu", &self.summary_rcu),
        ]
        .into_iter()
        .filter(|(_, s)| s.is_default())
        .collect()
    }
}

/// A linear CPU model `fixed + per_event × n` from two warm measurements
/// (µs per invocation at `n1` and `n2` events) → (fixed ms, per-event ms).
pub fn linear_cpu(n1: f64, us1: f64, n2: f64, us2: f64) -> Option<(f64, f64)> {
    if n1 == n2 {
        return None;
    }
    let per = ((us2 - us1) / (n2 - n1)).max(0.0);
    let fixed = (us1 - per * n1).max(0.0);
    Some((fixed / 1000.0, per / 1000.0))
}

/// Assumptions a user changes with flags.
#[derive(Debug, Clone, Serialize)]
pub struct Assumptions {
    pub events_per_request: f64,
    /// Overrides the measured envelope bytes per event when set.
    pub event_bytes: Option<f64>,
    pub retention_days: u32,
    /// Messages per consumer invocation (BatchSize 100, 1 s window: fewer at low traffic).
    pub messages_per_batch: f64,
    /// Time an ingest invocation waits on AWS (SendMessageBatch; key lookups are cached).
    pub ingest_io_ms: f64,
    /// Time a consumer invocation waits on DynamoDB (puts, pages, one transaction).
    pub consumer_io_ms: f64,
    pub ingest_memory_mb: f64,
    pub consumer_memory_mb: f64,
    /// 30-day summaries read per million events ingested (dashboards).
    pub summaries_per_million: f64,
    pub log_retention_days: f64,
    /// One HTTP API access-log line (template.yaml's JSON format).
    pub access_log_bytes: f64,
    /// START / END / REPORT lines Lambda writes per invocation.
    pub platform_log_bytes: f64,
    /// The price goal per million events.
    pub goal_usd: f64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            events_per_request: 20.0,
            event_bytes: None,
            retention_days: 365,
            messages_per_batch: 10.0,
            ingest_io_ms: 8.0,
            consumer_io_ms: 60.0,
            ingest_memory_mb: 256.0,
            consumer_memory_mb: 512.0,
            summaries_per_million: 100.0,
            log_retention_days: 30.0,
            access_log_bytes: 480.0,
            platform_log_bytes: 300.0,
            goal_usd: 1.6,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TableClass {
    Standard,
    StandardIa,
}

/// A storage design to price: the one built, or a change that would cut the bill.
#[derive(Debug, Clone, Serialize)]
pub struct Design {
    pub name: String,
    /// What the change costs in features.
    pub tradeoff: String,
    /// Event retention in DynamoDB (rollups keep a year more).
    pub dynamo_retention_days: u32,
    pub table_class: TableClass,
    /// Raw event items (and their timeline GSI entries) in DynamoDB.
    pub events_in_dynamodb: bool,
    /// The `timeline` GSI over event items.
    pub timeline_gsi: bool,
    /// Raw events also archived to S3 (Firehose, gzip) for this many days.
    pub s3_archive_days: Option<u32>,
    pub pitr: bool,
}

impl Design {
    pub fn as_built(retention_days: u32) -> Self {
        Design {
            name: format!("as built ({retention_days}-day retention in DynamoDB, PITR on)"),
            tradeoff: String::new(),
            dynamo_retention_days: retention_days,
            table_class: TableClass::Standard,
            events_in_dynamodb: true,
            timeline_gsi: true,
            s3_archive_days: None,
            pitr: true,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub service: &'static str,
    pub item: String,
    pub quantity: f64,
    pub unit: &'static str,
    pub usd: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bill {
    pub design: Design,
    pub lines: Vec<Line>,
    pub total_usd: f64,
    pub meets_goal: bool,
}

/// SQS requests (64 KB chunks) per ingest request, and the messages it makes.
/// Messages pack events up to 256 KiB; a SendMessageBatch takes ≤ 10 of them.
pub fn sqs_send(events_per_request: f64, event_bytes: f64) -> (f64, f64) {
    let payload = events_per_request * event_bytes;
    let messages = (payload / SQS_MESSAGE_BYTES).ceil().max(1.0);
    let calls = (messages / 10.0).ceil();
    // Each call carries its share of the payload; every started 64 KB is a request.
    let per_call = payload / calls;
    let chunks = calls * (per_call / SQS_CHUNK).ceil().max(1.0);
    (chunks, messages)
}

/// SQS requests to receive and delete `messages` of `message_bytes` each,
/// 10 per ReceiveMessage and per DeleteMessageBatch (the event source mapping).
pub fn sqs_receive_delete(messages: f64, message_bytes: f64) -> f64 {
    let receives = messages / 10.0;
    let chunks_per_receive = ((10.0 * message_bytes.min(SQS_MESSAGE_BYTES)) / SQS_CHUNK)
        .ceil()
        .max(1.0);
    receives * chunks_per_receive + messages / 10.0
}

/// Lambda gives a function CPU in proportion to its memory: one vCPU at
/// 1,769 MB (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html),
/// so CPU work measured on a full core takes 1769 / memory times as long.
pub const LAMBDA_MB_PER_VCPU: f64 = 1769.0;

/// Wall time of `cpu_ms` of work on a function of `memory_mb`.
pub fn lambda_cpu_wall_ms(cpu_ms: f64, memory_mb: f64) -> f64 {
    cpu_ms / (memory_mb / LAMBDA_MB_PER_VCPU).min(1.0)
}

/// Lambda bills duration per 1 ms, rounded up, per invocation.
pub fn billed_ms(ms: f64) -> f64 {
    ms.ceil().max(1.0)
}

/// WRU of the event item when events are `new_bytes` instead of `measured_bytes`:
/// the item costs one WRU per started KB (its size is the event plus keys).
pub fn event_item_wru(measured_wru: f64, measured_item_bytes: f64, new_item_bytes: f64) -> f64 {
    let before = (measured_item_bytes / 1024.0).ceil().max(1.0);
    let after = (new_item_bytes / 1024.0).ceil().max(1.0);
    measured_wru * after / before
}

pub fn bill(inputs: &Inputs, a: &Assumptions, d: &Design) -> Bill {
    const M: f64 = 1e6;
    let epr = a.events_per_request.max(1.0);
    let event_bytes = a.event_bytes.unwrap_or(inputs.event_bytes.value);
    let size_factor = event_bytes / inputs.event_bytes.value.max(1.0);
    let mut lines = Vec::new();
    let mut push = |service, item: String, quantity: f64, unit, usd: f64| {
        lines.push(Line {
            service,
            item,
            quantity,
            unit,
            usd,
        })
    };

    // HTTP API
    let requests = M / epr;
    let api_units = requests * ((epr * event_bytes) / HTTP_API_CHUNK).ceil().max(1.0);
    push(
        "API Gateway",
        format!("HTTP API requests ({epr} events each)"),
        api_units,
        "requests",
        api_units * HTTP_API_REQUEST.usd,
    );

    // Ingest Lambda
    push(
        "Lambda",
        "ingest invocations".into(),
        requests,
        "requests",
        requests * LAMBDA_REQUEST.usd,
    );
    let ingest_ms = billed_ms(
        lambda_cpu_wall_ms(
            inputs.ingest_cpu_fixed_ms.value
                + inputs.ingest_cpu_per_event_ms.value * epr * size_factor,
            a.ingest_memory_mb,
        ) + a.ingest_io_ms,
    );
    let ingest_gbs = requests * a.ingest_memory_mb / 1024.0 * ingest_ms / 1000.0;
    push(
        "Lambda",
        format!(
            "ingest duration ({ingest_ms} ms billed × {} MB, arm64)",
            a.ingest_memory_mb
        ),
        ingest_gbs,
        "GB-s",
        ingest_gbs * LAMBDA_ARM_GB_S.usd,
    );

    // SQS
    let (send_chunks, messages_per_request) = sqs_send(epr, event_bytes);
    let messages = requests * messages_per_request;
    let message_bytes = epr * event_bytes / messages_per_request;
    let sqs_requests = requests * send_chunks + sqs_receive_delete(messages, message_bytes);
    push(
        "SQS",
        format!(
            "send + receive + delete ({} B per message, 64 KB chunks)",
            message_bytes.round()
        ),
        sqs_requests,
        "requests",
        sqs_requests * SQS_REQUEST.usd,
    );

    // Consumer Lambda
    let batches = messages / a.messages_per_batch.max(1.0);
    let events_per_batch = M / batches;
    push(
        "Lambda",
        format!(
            "consumer invocations ({} messages each)",
            a.messages_per_batch
        ),
        batches,
        "requests",
        batches * LAMBDA_REQUEST.usd,
    );
    let consumer_ms = billed_ms(
        lambda_cpu_wall_ms(
            inputs.consumer_cpu_per_event_ms.value * events_per_batch * size_factor,
            a.consumer_memory_mb,
        ) + a.consumer_io_ms,
    );
    let consumer_gbs = batches * a.consumer_memory_mb / 1024.0 * consumer_ms / 1000.0;
    push(
        "Lambda",
        format!(
            "consumer duration ({consumer_ms} ms billed × {} MB, arm64)",
            a.consumer_memory_mb
        ),
        consumer_gbs,
        "GB-s",
        consumer_gbs * LAMBDA_ARM_GB_S.usd,
    );

    // DynamoDB writes: the event item scales with the event's size (per
    // started KB); its GSI entry projects fixed attributes and does not.
    let ev_measured = inputs.wru_event_item.value;
    let gsi_measured = inputs.wru_timeline.value.min(ev_measured);
    let ev_item_bytes = inputs.footprint.bytes_of(&["EV"], true);
    let ev_wru = if d.events_in_dynamodb {
        event_item_wru(
            ev_measured - gsi_measured,
            ev_item_bytes,
            ev_item_bytes * size_factor,
        ) + if d.timeline_gsi { gsi_measured } else { 0.0 }
    } else {
        0.0
    };
    let wru_per_event = inputs.wru_per_event.value - ev_measured + ev_wru;
    let (wru_price, rru_price, storage_price) = match d.table_class {
        TableClass::Standard => (DDB_WRU, DDB_RRU, DDB_STORAGE),
        TableClass::StandardIa => (DDB_IA_WRU, DDB_IA_RRU, DDB_IA_STORAGE),
    };
    let wru = wru_per_event * M;
    push(
        "DynamoDB",
        format!("writes ({wru_per_event:.2} WRU per event)"),
        wru,
        "WRU",
        wru * wru_price.usd,
    );
    let rru = a.summaries_per_million * inputs.summary_rcu.value;
    push(
        "DynamoDB",
        format!(
            "reads ({} 30-day summaries × {} RRU)",
            a.summaries_per_million, inputs.summary_rcu.value
        ),
        rru,
        "RRU",
        rru * rru_price.usd,
    );

    // DynamoDB storage over the items' lives
    let mut fp = inputs.footprint.clone();
    if !d.events_in_dynamodb {
        fp = fp.without(&["EV"]);
    }
    if let Some(ev) = fp.kinds.get_mut("EV") {
        ev.table_bytes_per_event *= size_factor;
        if !d.timeline_gsi {
            ev.gsi_bytes_per_event = 0.0;
        }
    }
    // Kinds without a TTL (none today) would stay forever: count 10 years.
    let forever = 3650.0;
    let gb_months = fp.gb_months_per_event(d.dynamo_retention_days, false, forever) * M;
    push(
        "DynamoDB",
        format!(
            "storage ({:.0} B per event incl. GSI, held {} days; rollups a year more)",
            fp.bytes_per_event(),
            d.dynamo_retention_days
        ),
        gb_months,
        "GB-month",
        gb_months * storage_price.usd,
    );
    if d.pitr {
        let table_gb_months = fp.gb_months_per_event(d.dynamo_retention_days, true, forever) * M;
        push(
            "DynamoDB",
            "point-in-time recovery (table size)".into(),
            table_gb_months,
            "GB-month",
            table_gb_months * DDB_PITR.usd,
        );
    }

    // S3 archive through Firehose
    if let Some(days) = d.s3_archive_days {
        let raw_gb = M * event_bytes / GB;
        let record_bytes = message_bytes.max(FIREHOSE_RECORD_MIN);
        let firehose_gb = messages * record_bytes / GB;
        push(
            "Firehose",
            "raw events to S3 (one record per SQS message)".into(),
            firehose_gb,
            "GB",
            firehose_gb * FIREHOSE_GB.usd,
        );
        let gz_gb = raw_gb * inputs.gzip_ratio.value;
        let s3_gb_months = gz_gb * f64::from(days) / crate::footprint::DAYS_PER_MONTH;
        push(
            "S3",
            format!(
                "archive storage (gzip {:.0} %, {days} days)",
                inputs.gzip_ratio.value * 100.0
            ),
            s3_gb_months,
            "GB-month",
            s3_gb_months * S3_STORAGE.usd,
        );
        let puts = (gz_gb * GB / FIREHOSE_OBJECT_BYTES).ceil();
        push(
            "S3",
            "archive PUTs".into(),
            puts,
            "requests",
            puts * S3_PUT.usd,
        );
    }

    // CloudWatch Logs
    let log_bytes = requests * (inputs.ingest_log_bytes.value + a.platform_log_bytes)
        + batches * (inputs.consumer_log_bytes.value + a.platform_log_bytes)
        + requests * a.access_log_bytes;
    let log_gb = log_bytes / GB;
    push(
        "CloudWatch",
        "logs ingested (functions with EMF metrics, Lambda platform lines, API access log)".into(),
        log_gb,
        "GB",
        log_gb * LOGS_INGEST.usd,
    );
    let log_gb_months = log_gb * a.log_retention_days / crate::footprint::DAYS_PER_MONTH;
    push(
        "CloudWatch",
        format!("logs stored {} days", a.log_retention_days),
        log_gb_months,
        "GB-month",
        log_gb_months * LOGS_STORAGE.usd,
    );

    let total_usd = lines.iter().map(|l| l.usd).sum();
    Bill {
        design: d.clone(),
        lines,
        total_usd,
        meets_goal: total_usd <= a.goal_usd,
    }
}

/// The built design and the changes that would cut its bill, priced the same way.
pub fn designs(retention_days: u32) -> Vec<Design> {
    let built = Design::as_built(retention_days);
    let short = 30;
    let archive = Some(retention_days);
    vec![
        built.clone(),
        Design {
            name: "no point-in-time recovery".into(),
            tradeoff: "no restore of the table to a point in time".into(),
            pitr: false,
            ..built.clone()
        },
        Design {
            name: "Standard-IA table class".into(),
            tradeoff: "writes and reads cost 25 % more".into(),
            table_class: TableClass::StandardIa,
            ..built.clone()
        },
        Design {
            name: "no timeline GSI (user timelines from another key design)".into(),
            tradeoff: "user timelines need another path (e.g. user-keyed time pages)".into(),
            timeline_gsi: false,
            ..built.clone()
        },
        Design {
            name: format!("{short}-day event retention in DynamoDB + S3 archive for {retention_days} days"),
            tradeoff: format!(
                "events older than {short} days only in S3 (Athena), not in the query API; analytics rollups keep their full range"
            ),
            dynamo_retention_days: short,
            s3_archive_days: archive,
            ..built.clone()
        },
        Design {
            name: format!("{short}-day retention + S3 archive, no timeline GSI, no PITR"),
            tradeoff: "the three changes above together".into(),
            dynamo_retention_days: short,
            s3_archive_days: archive,
            timeline_gsi: false,
            pitr: false,
            ..built.clone()
        },
        Design {
            name: "raw events in S3 only (DynamoDB keeps rollups, time pages, sessions)".into(),
            tradeoff: "event lists, timelines and export read S3 (Athena or object scans) instead of DynamoDB; analytics unchanged".into(),
            events_in_dynamodb: false,
            s3_archive_days: archive,
            ..built.clone()
        },
        Design {
            name: "raw events in S3 only, no PITR".into(),
            tradeoff: "as above, and no point-in-time restore".into(),
            events_in_dynamodb: false,
            s3_archive_days: archive,
            pitr: false,
            ..built
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::footprint::{ItemFacts, DAYS_PER_MONTH};

    fn inputs() -> Inputs {
        // One event: a 924-byte event item (1 KB with overhead) and a 924-byte GSI entry,
        // both kept exactly one year (365.25 days); nothing else.
        let items = vec![ItemFacts {
            kind: "EV".into(),
            bytes: 924,
            gsi_bytes: Some(924),
            lifetime_days: Some(365.25),
        }];
        let m = |v| Sourced::measured(v, "test");
        Inputs {
            wru_per_event: m(2.5),
            wru_event_item: m(2.0),
            wru_timeline: m(1.0),
            event_bytes: m(500.0),
            gzip_ratio: m(0.1),
            ingest_cpu_fixed_ms: m(0.2),
            ingest_cpu_per_event_ms: m(0.01),
            consumer_cpu_per_event_ms: m(0.05),
            ingest_log_bytes: m(700.0),
            consumer_log_bytes: m(900.0),
            summary_rcu: m(100.0),
            footprint: Footprint::from_items(&items, 1, 365),
            footprint_source: "test".into(),
        }
    }

    fn line<'a>(b: &'a Bill, service: &str, item_starts: &str) -> &'a Line {
        b.lines
            .iter()
            .find(|l| l.service == service && l.item.starts_with(item_starts))
            .unwrap_or_else(|| panic!("no {service} {item_starts} line in {:#?}", b.lines))
    }

    #[test]
    fn measured_inputs_override_defaults_and_say_so() {
        let none = Inputs::from_measured(&Measured::default(), "report.json");
        assert_eq!(none.wru_per_event.value, defaults::WRU_PER_EVENT);
        assert_eq!(none.defaulted().len(), 11);
        assert!(none.footprint_source.starts_with("default"));
        assert_eq!(none.footprint.kinds["EV"].table_bytes_per_event, 752.9);
        let m = Measured {
            wru_per_event: Some(2.0),
            footprint: Some(inputs().footprint),
            ..Measured::default()
        };
        let some = Inputs::from_measured(&m, "report.json");
        assert_eq!(some.wru_per_event.value, 2.0);
        assert!(some.wru_per_event.source.contains("report.json"));
        assert_eq!(some.defaulted().len(), 10);
        assert!(some.footprint_source.starts_with("measured"));
        // A round trip through JSON keeps everything.
        let back: Measured = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn fits_a_linear_cpu_model() {
        // 300 µs for 1 event, 1,290 µs for 100 events: 10 µs per event, 290 µs fixed.
        let (fixed, per) = linear_cpu(1.0, 300.0, 100.0, 1290.0).unwrap();
        assert!((fixed - 0.29).abs() < 1e-12 && (per - 0.01).abs() < 1e-12);
        assert_eq!(linear_cpu(5.0, 1.0, 5.0, 2.0), None);
        // Noise that makes the bigger batch cheaper never gives a negative cost.
        assert_eq!(linear_cpu(1.0, 300.0, 100.0, 200.0).unwrap().1, 0.0);
    }

    #[test]
    fn cpu_scales_with_lambda_memory() {
        assert_eq!(lambda_cpu_wall_ms(1.0, 1769.0), 1.0);
        assert_eq!(
            lambda_cpu_wall_ms(1.0, 3538.0),
            1.0,
            "one thread gains nothing past one vCPU"
        );
        assert!((lambda_cpu_wall_ms(1.0, 512.0) - 1769.0 / 512.0).abs() < 1e-12);
    }

    #[test]
    fn sqs_counts_64kb_chunks() {
        // 20 events × 500 B = 10 KB: one message, one call, one chunk.
        assert_eq!(sqs_send(20.0, 500.0), (1.0, 1.0));
        // 100 events × 1 KiB = 100 KiB: one message, two 64 KB chunks.
        assert_eq!(sqs_send(100.0, 1024.0), (2.0, 1.0));
        // 1,000 × 1 KiB = 1000 KiB: four 250 KiB messages in one call → 16 chunks.
        assert_eq!(sqs_send(1000.0, 1024.0), (16.0, 4.0));
        // 10 messages of 10 KB: one receive of 100 KB (2 chunks) + one delete.
        assert_eq!(sqs_receive_delete(10.0, 10_000.0), 3.0);
    }

    #[test]
    fn the_bill_adds_up_by_hand() {
        let a = Assumptions::default();
        let b = bill(&inputs(), &a, &Design::as_built(365));
        // 50,000 requests of 20 events.
        assert!((line(&b, "API Gateway", "HTTP API").usd - 0.05).abs() < 1e-12);
        assert!((line(&b, "Lambda", "ingest invocations").usd - 0.01).abs() < 1e-12);
        // (0.2 + 0.01 × 20) ms of CPU at 256/1769 of a vCPU = 2.76 ms, + 8 ms
        // waiting = 10.76 → 11 ms billed × 0.25 GB × 50,000.
        let gbs = line(&b, "Lambda", "ingest duration").quantity;
        assert!((gbs - 50_000.0 * 0.25 * 0.011).abs() < 1e-9, "{gbs}");
        // SQS: 50,000 sends + 5,000 receives (10 × 10 KB = 1 chunk... 100 KB = 2 chunks) + 5,000 deletes.
        let sqs = line(&b, "SQS", "send").quantity;
        assert_eq!(sqs, 50_000.0 + 5_000.0 * 2.0 + 5_000.0);
        // 2.5 WRU × 1 M × $0.625/M.
        assert!((line(&b, "DynamoDB", "writes").usd - 1.5625).abs() < 1e-12);
        // 100 summaries × 100 RRU.
        assert_eq!(line(&b, "DynamoDB", "reads").quantity, 10_000.0);
        // 1 KiB + 1 KiB per event for 12 months = 24 KiB-months per event.
        let st = line(&b, "DynamoDB", "storage");
        assert!((st.quantity - 1e6 * 24.0 * 1024.0 / GB).abs() < 1e-6);
        assert!((st.usd - st.quantity * 0.25).abs() < 1e-12);
        let pitr = line(&b, "DynamoDB", "point-in-time");
        assert!(
            (pitr.quantity * 2.0 - st.quantity).abs() < 1e-6,
            "PITR ignores the GSI"
        );
        let sum: f64 = b.lines.iter().map(|l| l.usd).sum();
        assert!((b.total_usd - sum).abs() < 1e-12);
        assert_eq!(b.meets_goal, b.total_usd <= 1.6);
    }

    #[test]
    fn fewer_events_per_request_cost_more_requests() {
        let one = Assumptions {
            events_per_request: 1.0,
            ..Assumptions::default()
        };
        let b = bill(&inputs(), &one, &Design::as_built(365));
        assert!((line(&b, "API Gateway", "HTTP API").usd - 1.0).abs() < 1e-12);
        let twenty = bill(&inputs(), &Assumptions::default(), &Design::as_built(365));
        assert!(b.total_usd > twenty.total_usd + 0.9);
    }

    #[test]
    fn bigger_events_cost_more_wru_per_started_kb() {
        assert_eq!(event_item_wru(1.05, 900.0, 900.0), 1.05);
        assert_eq!(event_item_wru(1.05, 900.0, 1500.0), 2.1);
        let big = Assumptions {
            event_bytes: Some(1000.0), // twice the measured 500: the 1 KiB item becomes 2 KiB
            ..Assumptions::default()
        };
        let b = bill(&inputs(), &big, &Design::as_built(365));
        // 2.5 − 2.0 + item 1.0 × 2 (1 KiB → 2 KiB) + GSI 1.0 (fixed projection).
        assert!(line(&b, "DynamoDB", "writes").item.contains("3.50 WRU"));
    }

    #[test]
    fn designs_change_what_they_say() {
        let i = inputs();
        let a = Assumptions::default();
        let all: Vec<Bill> = designs(365).iter().map(|d| bill(&i, &a, d)).collect();
        let built = &all[0];
        let no_pitr = &all[1];
        assert!(no_pitr
            .lines
            .iter()
            .all(|l| !l.item.contains("point-in-time")));
        let ia = &all[2];
        assert!(line(ia, "DynamoDB", "writes").usd > line(built, "DynamoDB", "writes").usd);
        assert!(line(ia, "DynamoDB", "storage").usd < line(built, "DynamoDB", "storage").usd);
        let no_gsi = &all[3];
        assert!(line(no_gsi, "DynamoDB", "writes").item.contains("1.50 WRU"));
        let st = line(no_gsi, "DynamoDB", "storage").quantity;
        assert!((st * 2.0 - line(built, "DynamoDB", "storage").quantity).abs() < 1e-6);
        let short = &all[4];
        let st = line(short, "DynamoDB", "storage").quantity;
        let expect = 1e6 * 2.0 * 1024.0 / GB * (30.25 / DAYS_PER_MONTH);
        assert!((st - expect).abs() < 1e-6, "{st} vs {expect}");
        // 1 M × 500 B × 10 % kept 365 days in S3.
        let s3 = line(short, "S3", "archive storage").quantity;
        assert!((s3 - 1e6 * 500.0 * 0.1 / GB * 365.0 / DAYS_PER_MONTH).abs() < 1e-9);
        let s3_only = &all[6];
        assert!(line(s3_only, "DynamoDB", "writes")
            .item
            .contains("0.50 WRU"));
        assert_eq!(line(s3_only, "DynamoDB", "storage").quantity, 0.0);
    }
}
