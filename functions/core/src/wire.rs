//! What clients send, and how it becomes an [`Event`]: parsing with per-field
//! errors, validation against the limits, timestamps with clock-skew
//! correction, category/action derivation, ids and user-agent enrichment.

use crate::error::FieldError;
use crate::event::{derive_category_action, opt_text, Event, Json, Status, MAX_DURATION_MS};
use crate::limits::*;
use crate::time::{WireTime, DAY_MS};
use crate::user_agent::{DeviceType, UserAgentCache};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;

/// One event as a client sends it on `POST /v1/events` (and what the Segment
/// mapping produces).
#[derive(Debug, Default, Deserialize)]
pub struct WireEvent<'a> {
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(rename = "type", default, borrow, deserialize_with = "opt_text")]
    pub event_type: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub category: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub action: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub timestamp: Option<WireTime<'a>>,
    #[serde(default, borrow)]
    pub sent_at: Option<WireTime<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub user_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub anonymous_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub session_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub conversation_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub sequence: Option<u32>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub parent_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub entity_type: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub entity_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub status: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    pub environment: Option<Cow<'a, str>>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default, borrow)]
    pub properties: Option<Json<'a>>,
    #[serde(default, borrow)]
    pub context: Option<Json<'a>>,
}

/// Parses one event object. The error names the offending field.
pub fn parse_wire_event(raw: &str) -> Result<WireEvent<'_>, FieldError> {
    if !raw.starts_with('{') {
        return Err(FieldError::new("", "an event must be a JSON object"));
    }
    serde_json::from_str(raw).map_err(|_| field_error_of(raw))
}

/// Re-parses a failed object with path tracking, which is slower, to say
/// which field was wrong.
fn field_error_of(raw: &str) -> FieldError {
    let de = &mut serde_json::Deserializer::from_str(raw);
    match serde_path_to_error::deserialize::<_, WireEvent>(de) {
        Ok(_) => FieldError::new("", "malformed event"),
        Err(e) => {
            let path = e.path().to_string();
            let field = KNOWN_FIELDS
                .iter()
                .find(|f| path == **f || path.starts_with(&format!("{f}.")))
                .copied()
                .unwrap_or("");
            let inner = e.into_inner().to_string();
            // serde_json appends " at line 1 column 9"; the field name says more.
            let msg = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
            FieldError::new(field, msg)
        }
    }
}

const KNOWN_FIELDS: &[&str] = &[
    "event_id",
    "type",
    "category",
    "action",
    "timestamp",
    "sent_at",
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
    "properties",
    "context",
];

/// The parts of `context` the server reads; everything else is passed through.
#[derive(Deserialize, Default)]
struct ContextProbe<'a> {
    #[serde(default, borrow, deserialize_with = "opt_text")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(rename = "userAgent", default, borrow, deserialize_with = "opt_text")]
    user_agent_camel: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    device_type: Option<Cow<'a, str>>,
}

/// What normalization needs besides the event itself.
pub struct NormalizeContext<'c> {
    /// When the request reached the server (epoch ms).
    pub received_at: i64,
    /// The request-level `sent_at`, used when the event has none.
    pub batch_sent_at: Option<i64>,
    pub retention_days: u32,
    pub user_agents: &'c mut UserAgentCache,
}

fn check_text(field: &'static str, v: &str, max_chars: usize) -> Result<(), FieldError> {
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    // Byte length bounds char count from above: skip the count for short ASCII.
    if v.len() > max_chars && v.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn check_opt(field: &'static str, v: &Option<Cow<'_, str>>, max: usize) -> Result<(), FieldError> {
    v.as_deref().map_or(Ok(()), |s| check_text(field, s, max))
}

/// Largest identifier in UTF-8 bytes. Ids end up in DynamoDB sort keys
/// (`{ts:013}#{event_id}` on the timeline index, `u:{user_id}` in user-day
/// items), which AWS caps at 1,024 bytes: 256 four-byte characters would
/// not fit, and every write of such an event would fail.
pub const MAX_ID_BYTES: usize = 1000;

/// An identifier: text of at most [`MAX_ID_CHARS`] characters and
/// [`MAX_ID_BYTES`] bytes.
fn check_id(field: &'static str, v: &Option<Cow<'_, str>>) -> Result<(), FieldError> {
    check_opt(field, v, MAX_ID_CHARS)?;
    match v {
        Some(s) if s.len() > MAX_ID_BYTES => Err(FieldError::new(
            field,
            format!("must be at most {MAX_ID_BYTES} bytes in UTF-8"),
        )),
        _ => Ok(()),
    }
}

fn check_object(field: &'static str, v: &Option<Json<'_>>) -> Result<(), FieldError> {
    match v {
        Some(j) if !j.is_object() => Err(FieldError::new(field, "must be a JSON object")),
        Some(j) if !may_be_unreadable(j.get()) => Ok(()),
        Some(j) => {
            let mut de = serde_json::Deserializer::from_str(j.get());
            Readable(MAX_JSON_DEPTH).deserialize(&mut de).map_err(|e| {
                let msg = e.to_string();
                FieldError::new(
                    field,
                    msg.split(" at line ").next().unwrap_or(&msg).to_owned(),
                )
            })
        }
        None => Ok(()),
    }
}

/// How deep `properties` and `context` may nest (the object itself is level
/// 1). serde_json refuses documents nested deeper than 128, and a stored
/// event wraps its properties in one more level (more when a reader embeds
/// events in a response): this leaves room for that.
pub const MAX_JSON_DEPTH: usize = 64;

/// Whether raw JSON text may hold what [`Readable`] refuses: an escape (a
/// `\u` may be a lone surrogate), a number with an exponent or over 300
/// digits in all (it may be out of `f64` range), or more than
/// [`MAX_JSON_DEPTH`] brackets. A scan of the bytes is much cheaper than the
/// full parse it saves for typical properties and context.
fn may_be_unreadable(s: &str) -> bool {
    // Counts are upper bounds of the nesting and of the longest number. In
    // fixed chunks without branches, so that it vectorizes; the last byte
    // (`}`) is no suspect.
    const N: usize = 32;
    let b = s.as_bytes();
    let (mut brackets, mut digits, mut suspect) = (0usize, 0usize, false);
    let mut i = 0;
    while i + N < b.len() {
        let (chunk, next): (&[u8; N], &[u8; N]) = (
            b[i..i + N].try_into().expect("N bytes"),
            b[i + 1..i + 1 + N].try_into().expect("N bytes"),
        );
        let (mut br, mut di, mut su) = (0u8, 0u8, 0u8);
        for k in 0..N {
            let c = chunk[k];
            let digit = u8::from(c.wrapping_sub(b'0') < 10);
            br += u8::from((c | 0x20) == b'{');
            di += digit;
            su |= u8::from(c == b'\\') | (digit & u8::from((next[k] | 0x20) == b'e'));
        }
        brackets += usize::from(br);
        digits += usize::from(di);
        suspect |= su != 0;
        i += N;
    }
    for k in i..b.len().saturating_sub(1) {
        let c = b[k];
        let digit = c.is_ascii_digit();
        brackets += usize::from((c | 0x20) == b'{');
        digits += usize::from(digit);
        suspect |= c == b'\\' || (digit && (b[k + 1] | 0x20) == b'e');
    }
    suspect || brackets > MAX_JSON_DEPTH || digits > 300
}

/// Checks that a reader of the stored event can parse a JSON value, with
/// this many levels of nesting allowed (the value itself being the first). Properties and context are kept as raw
/// text, and a raw value is only checked for syntax: it lets through lone
/// UTF-16 surrogate escapes (`"\ud800"`), numbers out of `f64` range
/// (`1e400`) and any nesting, all of which `serde_json::Value` (what the
/// query side parses stored events into) refuses — such an event was stored
/// and counted but never returned. This decodes every string and number as
/// `Value` would, without building a tree.
struct Readable(usize);

impl<'de> DeserializeSeed<'de> for Readable {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Readable {
    /// Entering an array or object: its elements get one level less.
    fn inner<E: serde::de::Error>(&self) -> Result<Readable, E> {
        match self.0 {
            0 => Err(E::custom(format!(
                "must not nest deeper than {MAX_JSON_DEPTH} levels"
            ))),
            left => Ok(Readable(left - 1)),
        }
    }
}

impl<'de> Visitor<'de> for Readable {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while a.next_element_seed(Readable(inner.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while a.next_key_seed(Readable(inner.0))?.is_some() {
            a.next_value_seed(Readable(inner.0))?;
        }
        Ok(())
    }
}

/// Validates and enriches one event. `new_event_id` is called only when the
/// client sent none.
pub fn normalize<'a>(
    w: WireEvent<'a>,
    ctx: &mut NormalizeContext<'_>,
    new_event_id: impl FnOnce() -> String,
) -> Result<Event<'a>, FieldError> {
    let event_type = w
        .event_type
        .ok_or_else(|| FieldError::new("type", "is required"))?;
    check_text("type", &event_type, MAX_TYPE_CHARS)?;
    check_id("event_id", &w.event_id)?;
    check_opt("category", &w.category, MAX_LABEL_CHARS)?;
    check_opt("action", &w.action, MAX_LABEL_CHARS)?;
    check_id("user_id", &w.user_id)?;
    check_id("anonymous_id", &w.anonymous_id)?;
    if w.user_id.is_none() && w.anonymous_id.is_none() {
        return Err(FieldError::new(
            "user_id",
            "user_id or anonymous_id is required",
        ));
    }
    check_id("session_id", &w.session_id)?;
    check_id("conversation_id", &w.conversation_id)?;
    check_id("parent_id", &w.parent_id)?;
    check_id("entity_type", &w.entity_type)?;
    check_id("entity_id", &w.entity_id)?;
    check_opt("environment", &w.environment, MAX_LABEL_CHARS)?;
    let status = match w.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            FieldError::new(
                "status",
                format!("{s:?} is not one of success, failed, in_progress"),
            )
        })?),
    };
    if w.duration_ms.is_some_and(|d| d > MAX_DURATION_MS) {
        return Err(FieldError::new(
            "duration_ms",
            format!("must be at most {MAX_DURATION_MS} (one year)"),
        ));
    }
    check_object("properties", &w.properties)?;
    check_object("context", &w.context)?;

    let timestamp = event_time(&w.timestamp, &w.sent_at, ctx)?;

    let (category, action) = match (w.category, w.action) {
        (Some(c), a) => (c, a),
        (None, a) => match &event_type {
            // Borrow the parts when the type itself borrows from the body.
            Cow::Borrowed(t) => {
                let (c, derived) = derive_category_action(t);
                (Cow::Borrowed(c), a.or(derived.map(Cow::Borrowed)))
            }
            Cow::Owned(t) => {
                let (c, derived) = derive_category_action(t);
                (
                    Cow::Owned(c.to_owned()),
                    a.or_else(|| derived.map(|d| Cow::Owned(d.to_owned()))),
                )
            }
        },
    };

    let mut device_type = None;
    let (mut browser, mut os, mut is_bot) = (None, None, false);
    if let Some(ctx_json) = &w.context {
        let probe: ContextProbe = serde_json::from_str(ctx_json.get())
            .map_err(|e| FieldError::new("context", e.to_string()))?;
        let client_device = match probe.device_type.as_deref() {
            None => None,
            Some(d) => Some(DeviceType::parse(d).ok_or_else(|| {
                FieldError::new(
                    "context",
                    format!("device_type {d:?} is not one of mobile, tablet, desktop"),
                )
            })?),
        };
        if let Some(ua) = probe.user_agent.or(probe.user_agent_camel) {
            let info = ctx.user_agents.get(&ua);
            device_type = Some(info.device_type);
            browser = info.browser.clone().map(Cow::Owned);
            os = info.os.clone().map(Cow::Owned);
            is_bot = info.is_bot;
        }
        // The client knows its own device better than a user-agent guess.
        device_type = client_device.or(device_type);
    }

    Ok(Event {
        event_id: w.event_id.unwrap_or_else(|| Cow::Owned(new_event_id())),
        event_type,
        category,
        action,
        timestamp,
        user_id: w.user_id,
        anonymous_id: w.anonymous_id,
        session_id: w.session_id,
        conversation_id: w.conversation_id,
        sequence: w.sequence,
        parent_id: w.parent_id,
        entity_type: w.entity_type,
        entity_id: w.entity_id,
        status,
        environment: w.environment,
        duration_ms: w.duration_ms,
        properties: w.properties,
        context: w.context,
        device_type,
        browser,
        os,
        is_bot,
    })
}

/// The event's time: the client's timestamp shifted by the client's clock
/// error (`received_at - sent_at`), or the received time when it sent none.
fn event_time(
    timestamp: &Option<WireTime<'_>>,
    sent_at: &Option<WireTime<'_>>,
    ctx: &NormalizeContext<'_>,
) -> Result<i64, FieldError> {
    let Some(ts) = timestamp else {
        return Ok(ctx.received_at);
    };
    let ts = ts
        .to_millis()
        .map_err(|m| FieldError::new("timestamp", m))?;
    let sent_at = match sent_at {
        Some(s) => Some(s.to_millis().map_err(|m| FieldError::new("sent_at", m))?),
        None => ctx.batch_sent_at,
    };
    let corrected = match sent_at {
        Some(sent) => ts.saturating_add(ctx.received_at.saturating_sub(sent)),
        None => ts,
    };
    if corrected > ctx.received_at + MAX_FUTURE_MS {
        return Err(FieldError::new(
            "timestamp",
            "is more than 24 hours in the future (after clock-skew correction)",
        ));
    }
    let oldest = ctx.received_at - i64::from(ctx.retention_days) * DAY_MS;
    if corrected < oldest {
        return Err(FieldError::new(
            "timestamp",
            format!(
                "is older than the project's retention of {} days",
                ctx.retention_days
            ),
        ));
    }
    Ok(corrected)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_313_201_000;

    fn norm(json: &str) -> Result<Event<'static>, FieldError> {
        norm_with(json, None)
    }

    /// Tests build bodies with format!; leaking them keeps the borrows simple.
    fn norm_with(json: &str, batch_sent_at: Option<i64>) -> Result<Event<'static>, FieldError> {
        let json: &'static str = Box::leak(json.to_owned().into_boxed_str());
        let mut cache = UserAgentCache::default();
        let mut ctx = NormalizeContext {
            received_at: NOW,
            batch_sent_at,
            retention_days: 365,
            user_agents: &mut cache,
        };
        let w = parse_wire_event(json)?;
        normalize(w, &mut ctx, || "generated".into())
    }

    #[test]
    fn minimal_event_gets_defaults() {
        let e = norm(r#"{"type":"project_created","user_id":"u1"}"#).unwrap();
        assert_eq!(e.event_id, "generated");
        assert_eq!(e.category, "project");
        assert_eq!(e.action.as_deref(), Some("created"));
        assert_eq!(e.timestamp, NOW);
        assert_eq!(e.device_type, None);
    }

    #[test]
    fn explicit_category_and_action_win() {
        let e = norm(r#"{"type":"x_y","category":"c","action":"a","anonymous_id":"a1"}"#).unwrap();
        assert_eq!((e.category.as_ref(), e.action.as_deref()), ("c", Some("a")));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"user_id":"u"}"#, "type: is required"),
            (
                r#"{"type":"t"}"#,
                "user_id: user_id or anonymous_id is required",
            ),
            (r#"{"type":"","user_id":"u"}"#, "type: must not be empty"),
            (
                r#"{"type":"t","user_id":"u","status":"ok"}"#,
                "status: \"ok\" is not one of success, failed, in_progress",
            ),
            (
                r#"{"type":"t","user_id":"u","properties":[1]}"#,
                "properties: must be a JSON object",
            ),
            (
                r#"{"type":"t","user_id":"u","context":"x"}"#,
                "context: must be a JSON object",
            ),
            (
                r#"{"type":"t","user_id":"u","timestamp":"noon"}"#,
                "timestamp: \"noon\" is not an RFC 3339 timestamp (premature end of input)",
            ),
            (
                r#"{"type":"t","user_id":"u","context":{"device_type":"fridge"}}"#,
                "context: device_type \"fridge\" is not one of mobile, tablet, desktop",
            ),
            (
                r#"{"type":"t\u0007","user_id":"u"}"#,
                "type: must not contain control characters",
            ),
            ("[1]", "an event must be a JSON object"),
        ];
        for (json, want) in cases {
            assert_eq!(norm(json).unwrap_err().to_string(), want, "{json}");
        }
        let seq = norm(r#"{"type":"t","user_id":"u","sequence":"three"}"#).unwrap_err();
        assert_eq!(seq.field, "sequence");
        let dur = norm(r#"{"type":"t","user_id":"u","duration_ms":-1}"#).unwrap_err();
        assert_eq!(dur.field, "duration_ms");
        let long = format!(r#"{{"type":"{}","user_id":"u"}}"#, "é".repeat(201));
        assert_eq!(
            norm(&long).unwrap_err().to_string(),
            "type: must be at most 200 characters"
        );
        let ok = format!(r#"{{"type":"{}","user_id":"u"}}"#, "é".repeat(200));
        assert!(norm(&ok).is_ok());
    }

    #[test]
    fn timestamps_are_corrected_for_client_skew() {
        // Client clock runs 10 minutes fast: it says it sent at NOW+10min.
        let ten_min = 600_000;
        let e = norm(&format!(
            r#"{{"type":"t","user_id":"u","timestamp":{},"sent_at":{}}}"#,
            NOW + ten_min - 5_000,
            NOW + ten_min
        ))
        .unwrap();
        assert_eq!(e.timestamp, NOW - 5_000);
        // Request-level sent_at applies when the event has none.
        let e = norm_with(
            r#"{"type":"t","user_id":"u","timestamp":"2026-11-22T02:00:00Z"}"#,
            Some(NOW - 3_600_000),
        )
        .unwrap();
        assert_eq!(e.timestamp, 1_795_312_800_000 + 3_600_000);
    }

    #[test]
    fn timestamps_outside_the_window_are_refused() {
        let future = norm(&format!(
            r#"{{"type":"t","user_id":"u","timestamp":{}}}"#,
            NOW + 25 * 3_600_000
        ));
        assert_eq!(future.unwrap_err().field, "timestamp");
        let old = norm(&format!(
            r#"{{"type":"t","user_id":"u","timestamp":{}}}"#,
            NOW - 366 * DAY_MS
        ));
        assert!(old.unwrap_err().message.contains("retention of 365 days"));
        assert!(norm(&format!(
            r#"{{"type":"t","user_id":"u","timestamp":{}}}"#,
            NOW - 364 * DAY_MS
        ))
        .is_ok());
    }

    #[test]
    fn user_agent_enrichment_and_client_device_type() {
        let ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        let e = norm(&format!(
            r#"{{"type":"t","user_id":"u","context":{{"user_agent":"{ua}"}}}}"#
        ))
        .unwrap();
        assert_eq!(e.device_type, Some(DeviceType::Mobile));
        assert_eq!(e.os.as_deref(), Some("iPhone"));
        let e = norm(&format!(r#"{{"type":"t","user_id":"u","context":{{"userAgent":"{ua}","device_type":"tablet"}}}}"#)).unwrap();
        assert_eq!(e.device_type, Some(DeviceType::Tablet));
        let bot = norm(r#"{"type":"t","user_id":"u","context":{"user_agent":"Googlebot/2.1 (+http://www.google.com/bot.html)"}}"#).unwrap();
        assert!(bot.is_bot);
    }

    /// Found by the event_parser fuzz target: a lone surrogate escape in
    /// `context` was accepted (raw values are only syntax-checked) and the
    /// stored event could then not be parsed by the query side.
    #[test]
    fn properties_and_context_must_be_readable_json() {
        for (json, want) in [
            (
                r#"{"type":"t","user_id":"u","context":{"ua":"x\ud800y"}}"#,
                "context: unexpected end of hex escape",
            ),
            (
                r#"{"type":"t","user_id":"u","properties":{"\udc00":1}}"#,
                "properties: lone leading surrogate in hex escape",
            ),
            (
                r#"{"type":"t","user_id":"u","properties":{"n":1e400}}"#,
                "properties: number out of range",
            ),
        ] {
            assert_eq!(norm(json).unwrap_err().to_string(), want, "{json}");
        }
        // The object is level 1: 63 arrays in it are 64 levels, 64 are one too many.
        let nested = |n: usize| {
            format!(
                r#"{{"type":"t","user_id":"u","properties":{{"a":{}{}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        for n in [MAX_JSON_DEPTH, 200] {
            assert_eq!(
                norm(&nested(n)).unwrap_err().to_string(),
                "properties: must not nest deeper than 64 levels"
            );
        }
        // What Value reads is accepted, surrogate pairs and 64 levels included,
        // and the stored event (one level more, in a wrapper) stays readable.
        let ok = nested(MAX_JSON_DEPTH - 1).replace(
            r#""a":"#,
            r#""e":"\ud83d\ude00","n":[1e300,-0,{"x":null}],"a":"#,
        );
        let e = norm(&ok).unwrap();
        serde_json::from_str::<serde_json::Value>(e.properties.as_ref().unwrap().get()).unwrap();
        let stored = format!(r#"{{"e":[{}]}}"#, serde_json::to_string(&e).unwrap());
        serde_json::from_str::<serde_json::Value>(&stored).unwrap();
    }

    #[test]
    fn the_prescan_sends_every_suspect_text_to_the_full_parse() {
        for suspect in [
            r#"{"a":"\u0041"}"#,
            r#"{"a":1e400}"#,
            r#"{"a":1E4}"#,
            &format!(r#"{{"a":{}}}"#, "9".repeat(301)),
            &format!(r#"{{"a":{}}}"#, "[".repeat(MAX_JSON_DEPTH)),
        ] {
            assert!(may_be_unreadable(suspect), "{suspect}");
        }
        // Wherever the suspect bytes fall relative to the scan's chunks.
        for at in 2..100 {
            let mut text = format!(r#"{{"a":"{}"}}"#, "x".repeat(120)).into_bytes();
            for suspect in [&b"\\"[..], b"1e", b"7E"] {
                let mut t = text.clone();
                t[at..at + suspect.len()].copy_from_slice(suspect);
                assert!(may_be_unreadable(std::str::from_utf8(&t).unwrap()), "{at}");
            }
            text[at] = b'7';
            assert!(!may_be_unreadable(std::str::from_utf8(&text).unwrap()));
        }
        for plain in [
            r#"{"button":"signup","variant":"b","n":[1.5,-2,{"x":null}]}"#,
            r#"{"user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"}"#,
            &format!(r#"{{"a":{}}}"#, "9".repeat(300)),
        ] {
            assert!(!may_be_unreadable(plain), "{plain}");
        }
    }

    /// Ids go into DynamoDB sort keys (at most 1,024 bytes): 256 characters
    /// of four bytes each used to be accepted and then fail every write.
    #[test]
    fn ids_are_bounded_in_bytes_too() {
        let with = |field: &str, id: &str| {
            let other = if field == "anonymous_id" {
                "user_id"
            } else {
                "anonymous_id"
            };
            norm(&format!(r#"{{"type":"t","{other}":"x","{field}":"{id}"}}"#))
        };
        for field in [
            "event_id",
            "user_id",
            "anonymous_id",
            "session_id",
            "entity_id",
        ] {
            assert_eq!(
                with(field, &"😀".repeat(MAX_ID_CHARS))
                    .unwrap_err()
                    .to_string(),
                format!("{field}: must be at most 1000 bytes in UTF-8")
            );
            assert!(with(field, &"😀".repeat(MAX_ID_BYTES / 4)).is_ok());
            assert!(with(field, &"é".repeat(MAX_ID_CHARS)).is_ok());
        }
        let e = with("event_id", &"😀".repeat(MAX_ID_BYTES / 4)).unwrap();
        assert!(crate::keys::timeline_sk(crate::time::MAX_MS, &e.event_id).len() <= 1024);
    }

    #[test]
    fn duration_is_bounded() {
        let at = |d: u64| {
            norm(&format!(
                r#"{{"type":"t","user_id":"u","duration_ms":{d}}}"#
            ))
        };
        assert_eq!(
            at(MAX_DURATION_MS).unwrap().duration_ms,
            Some(MAX_DURATION_MS)
        );
        assert_eq!(
            at(MAX_DURATION_MS + 1).unwrap_err().to_string(),
            "duration_ms: must be at most 31536000000 (one year)"
        );
        assert_eq!(at(u64::MAX).unwrap_err().field, "duration_ms");
    }

    #[test]
    fn numeric_ids_become_text() {
        let e = norm(r#"{"type":"t","user_id":12345}"#).unwrap();
        assert_eq!(e.user_id.as_deref(), Some("12345"));
    }
}
