//! The ingest use case: parse a request body, authenticate its key, validate
//! and enrich each event on its own, pack the accepted ones into envelopes
//! and put them on the queue. A bad event is rejected alone; the queue gets
//! all accepted events or the request fails as a whole (safe to retry:
//! event ids dedupe downstream).

use crate::envelope::EnvelopePacker;
use crate::error::{FieldError, IngestError};
use crate::event::opt_text;
use crate::limits::{DEFAULT_MESSAGE_BYTES, MAX_BODY_BYTES, MAX_EVENT_BYTES};
use crate::ports::{EventQueue, ProjectDirectory, QueueError};
use crate::project::{KeyHash, KeyKind, Project};
use crate::segment::{self, SegmentCall};
use crate::time::WireTime;
use crate::user_agent::UserAgentCache;
use crate::wire::{self, NormalizeContext};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::Arc;

/// Which body grammar the route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// `POST /v1/events`: one event, `{"events": [...]}` or a JSON array.
    Native,
    /// `POST /v1/batch`: `{"batch": [...]}`, each message with its `type`.
    SegmentBatch,
    /// `POST /v1/track`, `/v1/identify`, ...: one Segment message.
    Segment(SegmentCall),
}

pub struct IngestRequest<'a> {
    pub format: PayloadFormat,
    /// The body, already gzip-decoded.
    pub body: &'a [u8],
    /// A key from `Authorization` (Bearer, or Basic user name).
    pub header_key: Option<&'a str>,
    /// The browser's `Origin`, checked against the project's allowed origins.
    pub origin: Option<&'a str>,
    pub received_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub event_id: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub project_id: String,
    pub accepted: usize,
    pub rejected: Vec<Rejection>,
    /// Queue messages sent.
    pub messages: usize,
}

/// The pure part of a request: accepted events packed into envelope bodies.
#[derive(Debug)]
pub struct Prepared {
    pub accepted: usize,
    pub rejected: Vec<Rejection>,
    pub bodies: Vec<String>,
}

/// A body split into its raw events and the request-level fields.
pub struct ParsedBody<'a> {
    pub write_key: Option<Cow<'a, str>>,
    pub sent_at: Option<i64>,
    pub items: Vec<&'a RawValue>,
    pub format: PayloadFormat,
}

#[derive(Deserialize)]
struct NativeTop<'a> {
    #[serde(borrow, default)]
    events: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    sent_at: Option<WireTime<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    write_key: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentTop<'a> {
    #[serde(borrow, default)]
    batch: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    sent_at: Option<WireTime<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    write_key: Option<Cow<'a, str>>,
}

fn json_error(e: serde_json::Error) -> IngestError {
    IngestError::Malformed(format!("body is not valid JSON: {e}"))
}

fn batch_sent_at(t: Option<WireTime<'_>>) -> Result<Option<i64>, IngestError> {
    t.map(|t| t.to_millis())
        .transpose()
        .map_err(|m| IngestError::Malformed(format!("sent_at: {m}")))
}

/// Splits a body into raw events; a body that is not JSON is refused whole.
pub fn parse_body(format: PayloadFormat, body: &[u8]) -> Result<ParsedBody<'_>, IngestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(IngestError::TooLarge {
            size: body.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| IngestError::Malformed(format!("body is not UTF-8: {e}")))?;
    let trimmed = text.trim_start();
    match format {
        PayloadFormat::Native if trimmed.starts_with('[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(json_error)?;
            Ok(ParsedBody {
                write_key: None,
                sent_at: None,
                items,
                format,
            })
        }
        _ if !trimmed.starts_with('{') => Err(IngestError::Malformed(
            "body must be a JSON object (or, on /v1/events, an array of events)".into(),
        )),
        PayloadFormat::Native => {
            let top: NativeTop = serde_json::from_str(text).map_err(json_error)?;
            let sent_at = batch_sent_at(top.sent_at)?;
            let items = match top.events {
                Some(events) => events,
                None => vec![serde_json::from_str::<&RawValue>(text).map_err(json_error)?],
            };
            Ok(ParsedBody {
                write_key: top.write_key,
                sent_at,
                items,
                format,
            })
        }
        PayloadFormat::SegmentBatch => {
            let top: SegmentTop = serde_json::from_str(text).map_err(json_error)?;
            let items = top
                .batch
                .ok_or_else(|| IngestError::Malformed("batch: is required on /v1/batch".into()))?;
            Ok(ParsedBody {
                write_key: top.write_key,
                sent_at: batch_sent_at(top.sent_at)?,
                items,
                format,
            })
        }
        PayloadFormat::Segment(_) => {
            let top: SegmentTop = serde_json::from_str(text).map_err(json_error)?;
            let item = serde_json::from_str::<&RawValue>(text).map_err(json_error)?;
            // A single call's sentAt is read per message by the mapping.
            Ok(ParsedBody {
                write_key: top.write_key,
                sent_at: None,
                items: vec![item],
                format,
            })
        }
    }
}

#[derive(Deserialize)]
struct IdProbe<'a> {
    #[serde(default, borrow, deserialize_with = "opt_text")]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "messageId", default, borrow, deserialize_with = "opt_text")]
    message_id: Option<Cow<'a, str>>,
}

/// The client's id of an event that could not be parsed, if it is readable.
fn probe_event_id(raw: &str) -> Option<String> {
    let p: IdProbe = serde_json::from_str(raw).ok()?;
    p.event_id.or(p.message_id).map(Cow::into_owned)
}

/// Validates, enriches and packs. Pure and synchronous: this is what the
/// ingest benchmark measures.
pub fn prepare(
    parsed: &ParsedBody<'_>,
    project: &Project,
    received_at: i64,
    max_message_bytes: usize,
) -> Prepared {
    let mut user_agents = UserAgentCache::default();
    let mut ctx = NormalizeContext {
        received_at,
        batch_sent_at: parsed.sent_at,
        retention_days: project.retention_days,
        user_agents: &mut user_agents,
    };
    let mut rejected = Vec::new();
    let mut packer = EnvelopePacker::new(
        &project.id,
        project.retention_days,
        received_at,
        max_message_bytes,
    );
    // One buffer reused for every event's JSON: no allocation per event.
    let mut scratch = Vec::with_capacity(1024);
    let mut accepted = 0;
    for (index, raw) in parsed.items.iter().enumerate() {
        let raw = raw.get();
        let result = if raw.len() > MAX_EVENT_BYTES {
            Err(FieldError::new(
                "",
                format!(
                    "event is {} bytes; the limit is {MAX_EVENT_BYTES} bytes",
                    raw.len()
                ),
            ))
        } else {
            let wire = match parsed.format {
                PayloadFormat::Native => wire::parse_wire_event(raw),
                PayloadFormat::SegmentBatch => segment::to_wire_event(raw, None),
                PayloadFormat::Segment(call) => segment::to_wire_event(raw, Some(call)),
            };
            wire.and_then(|w| wire::normalize(w, &mut ctx, || uuid::Uuid::now_v7().to_string()))
        };
        match result {
            Ok(event) => {
                scratch.clear();
                serde_json::to_writer(&mut scratch, &event).expect("events serialize");
                packer.push(std::str::from_utf8(&scratch).expect("serde_json writes UTF-8"));
                accepted += 1;
            }
            Err(error) => rejected.push(Rejection {
                index,
                event_id: probe_event_id(raw),
                error: error.to_string(),
            }),
        }
    }
    Prepared {
        accepted,
        rejected,
        bodies: packer.finish(),
    }
}

/// How long clients should wait before retrying when the queue fails.
pub const RETRY_AFTER_SECS: u32 = 5;

pub struct Ingestor {
    directory: Arc<dyn ProjectDirectory>,
    queue: Arc<dyn EventQueue>,
    max_message_bytes: usize,
}

impl Ingestor {
    pub fn new(directory: Arc<dyn ProjectDirectory>, queue: Arc<dyn EventQueue>) -> Self {
        Self {
            directory,
            queue,
            max_message_bytes: DEFAULT_MESSAGE_BYTES,
        }
    }

    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    pub async fn ingest(&self, req: IngestRequest<'_>) -> Result<IngestOutcome, IngestError> {
        let parsed = parse_body(req.format, req.body)?;
        let key = req
            .header_key
            .filter(|k| !k.is_empty())
            .or(parsed.write_key.as_deref().filter(|k| !k.is_empty()))
            .ok_or(IngestError::MissingKey)?;
        let grant = self
            .directory
            .grant_for_key(&KeyHash::of(key))
            .await
            .map_err(|_| IngestError::DirectoryUnavailable {
                retry_after_secs: RETRY_AFTER_SECS,
            })?
            .ok_or(IngestError::BadKey)?;
        if grant.kind != KeyKind::Write {
            return Err(IngestError::ReadKeyUsed);
        }
        if let Some(origin) = req.origin {
            if !grant.project.origin_allowed(origin) {
                return Err(IngestError::OriginNotAllowed(origin.to_owned()));
            }
        }
        let prepared = prepare(
            &parsed,
            &grant.project,
            req.received_at,
            self.max_message_bytes,
        );
        let messages = prepared.bodies.len();
        if messages > 0 {
            self.queue
                .send_all(prepared.bodies)
                .await
                .map_err(|e| match e {
                    QueueError::Throttled(_) => IngestError::Throttled {
                        retry_after_secs: RETRY_AFTER_SECS,
                    },
                    QueueError::Unavailable(_) => IngestError::QueueUnavailable {
                        retry_after_secs: RETRY_AFTER_SECS,
                    },
                })?;
        }
        Ok(IngestOutcome {
            project_id: grant.project.id,
            accepted: prepared.accepted,
            rejected: prepared.rejected,
            messages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::decode;
    use crate::ports::DirectoryError;
    use crate::project::{KeyGrant, NewProject};
    use async_trait::async_trait;
    use std::sync::Mutex;

    struct OneProject(NewProject);

    #[async_trait]
    impl ProjectDirectory for OneProject {
        async fn grant_for_key(&self, key: &KeyHash) -> Result<Option<KeyGrant>, DirectoryError> {
            let project = self.0.to_project(0);
            Ok(if *key == project.write_key_hash {
                Some(KeyGrant {
                    project,
                    kind: KeyKind::Write,
                })
            } else if *key == project.read_key_hash {
                Some(KeyGrant {
                    project,
                    kind: KeyKind::Read,
                })
            } else {
                None
            })
        }
    }

    #[derive(Default)]
    struct MemoryQueue {
        bodies: Mutex<Vec<String>>,
        fail: Option<QueueError>,
    }

    #[async_trait]
    impl EventQueue for MemoryQueue {
        async fn send_all(&self, bodies: Vec<String>) -> Result<(), QueueError> {
            if let Some(e) = &self.fail {
                return Err(e.clone());
            }
            self.bodies.lock().unwrap().extend(bodies);
            Ok(())
        }
    }

    fn setup(fail: Option<QueueError>) -> (Ingestor, Arc<MemoryQueue>, NewProject) {
        let mut p = NewProject::new("demo", "Demo");
        p.allowed_origins = vec!["https://app.test".into()];
        let queue = Arc::new(MemoryQueue {
            fail,
            ..Default::default()
        });
        let ing = Ingestor::new(Arc::new(OneProject(p.clone())), queue.clone());
        (ing, queue, p)
    }

    fn req<'a>(format: PayloadFormat, body: &'a str, key: Option<&'a str>) -> IngestRequest<'a> {
        IngestRequest {
            format,
            body: body.as_bytes(),
            header_key: key,
            origin: None,
            received_at: crate::time::now_millis(),
        }
    }

    fn queued_ids(q: &MemoryQueue) -> Vec<String> {
        q.bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| {
                decode(b)
                    .unwrap()
                    .events
                    .into_iter()
                    .map(|e| e.event_id.into_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn bad_neighbour_is_rejected_alone() {
        let (ing, queue, p) = setup(None);
        let body = r#"{"events":[{"event_id":"a","type":"x","user_id":"u"},{"event_id":"b","type":"x"},"junk",{"event_id":"c","type":"x","anonymous_id":"z"}]}"#;
        let out = ing
            .ingest(req(PayloadFormat::Native, body, Some(&p.write_key)))
            .await
            .unwrap();
        assert_eq!(out.accepted, 2);
        assert_eq!(
            out.rejected,
            vec![
                Rejection {
                    index: 1,
                    event_id: Some("b".into()),
                    error: "user_id: user_id or anonymous_id is required".into()
                },
                Rejection {
                    index: 2,
                    event_id: None,
                    error: "an event must be a JSON object".into()
                },
            ]
        );
        assert_eq!(queued_ids(&queue), vec!["a", "c"]);
    }

    #[tokio::test]
    async fn keys_from_header_or_body_and_their_errors() {
        let (ing, _, p) = setup(None);
        let body_key = format!(
            r#"{{"write_key":"{}","events":[{{"type":"x","user_id":"u"}}]}}"#,
            p.write_key
        );
        assert_eq!(
            ing.ingest(req(PayloadFormat::Native, &body_key, None))
                .await
                .unwrap()
                .accepted,
            1
        );
        let single = r#"{"type":"x","user_id":"u"}"#;
        assert_eq!(
            ing.ingest(req(PayloadFormat::Native, single, None)).await,
            Err(IngestError::MissingKey)
        );
        assert_eq!(
            ing.ingest(req(PayloadFormat::Native, single, Some("wk_bad")))
                .await,
            Err(IngestError::BadKey)
        );
        assert_eq!(
            ing.ingest(req(PayloadFormat::Native, single, Some(&p.read_key)))
                .await,
            Err(IngestError::ReadKeyUsed)
        );
        let mut r = req(PayloadFormat::Native, single, Some(&p.write_key));
        r.origin = Some("https://evil.test");
        assert!(matches!(
            ing.ingest(r).await,
            Err(IngestError::OriginNotAllowed(_))
        ));
    }

    #[tokio::test]
    async fn malformed_bodies_are_refused_whole() {
        let (ing, queue, p) = setup(None);
        for body in [
            "{not json",
            "42",
            r#"{"events":[{"type":"x","user_id":"u"}"#,
            r#"{"events":[],"sent_at":"later"}"#,
        ] {
            assert!(
                matches!(
                    ing.ingest(req(PayloadFormat::Native, body, Some(&p.write_key)))
                        .await,
                    Err(IngestError::Malformed(_))
                ),
                "{body}"
            );
        }
        assert!(queue.bodies.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn queue_failure_fails_the_request() {
        let (ing, _, p) = setup(Some(QueueError::Unavailable("down".into())));
        let r = ing
            .ingest(req(
                PayloadFormat::Native,
                r#"{"type":"x","user_id":"u"}"#,
                Some(&p.write_key),
            ))
            .await;
        assert_eq!(
            r,
            Err(IngestError::QueueUnavailable {
                retry_after_secs: RETRY_AFTER_SECS
            })
        );
        let (ing, _, p) = setup(Some(QueueError::Throttled("slow".into())));
        let r = ing
            .ingest(req(
                PayloadFormat::Native,
                r#"[{"type":"x","user_id":"u"}]"#,
                Some(&p.write_key),
            ))
            .await;
        assert!(matches!(r, Err(IngestError::Throttled { .. })));
    }

    #[tokio::test]
    async fn oversized_event_is_rejected_alone() {
        let (ing, queue, p) = setup(None);
        let big = format!(
            r#"{{"type":"x","user_id":"u","properties":{{"s":"{}"}}}}"#,
            "x".repeat(MAX_EVENT_BYTES)
        );
        let body = format!(r#"{{"events":[{big},{{"event_id":"ok","type":"x","user_id":"u"}}]}}"#);
        let out = ing
            .ingest(req(PayloadFormat::Native, &body, Some(&p.write_key)))
            .await
            .unwrap();
        assert_eq!(out.accepted, 1);
        assert_eq!(out.rejected[0].index, 0);
        assert!(out.rejected[0].error.contains("limit is 32768"));
        assert_eq!(queued_ids(&queue), vec!["ok"]);
        let huge = "x".repeat(MAX_BODY_BYTES + 1);
        assert!(matches!(
            ing.ingest(req(PayloadFormat::Native, &huge, Some(&p.write_key)))
                .await,
            Err(IngestError::TooLarge { .. })
        ));
    }

    #[tokio::test]
    async fn segment_batch_and_single_calls() {
        let (ing, queue, p) = setup(None);
        let batch = format!(
            r#"{{"writeKey":"{}","sentAt":"2026-11-22T02:00:00Z","batch":[{{"type":"track","event":"Signed Up","messageId":"m1","userId":"u"}},{{"type":"nope","messageId":"m2","userId":"u"}}]}}"#,
            p.write_key
        );
        let out = ing
            .ingest(req(PayloadFormat::SegmentBatch, &batch, None))
            .await
            .unwrap();
        assert_eq!((out.accepted, out.rejected.len()), (1, 1));
        assert_eq!(out.rejected[0].event_id.as_deref(), Some("m2"));
        let one = r#"{"messageId":"m3","userId":"u","traits":{"a":1}}"#;
        let out = ing
            .ingest(req(
                PayloadFormat::Segment(SegmentCall::Identify),
                one,
                Some(&p.write_key),
            ))
            .await
            .unwrap();
        assert_eq!(out.accepted, 1);
        assert_eq!(queued_ids(&queue), vec!["m1", "m3"]);
        assert!(matches!(
            ing.ingest(req(
                PayloadFormat::SegmentBatch,
                r#"{"x":1}"#,
                Some(&p.write_key)
            ))
            .await,
            Err(IngestError::Malformed(_))
        ));
    }
}
