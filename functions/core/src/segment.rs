//! Segment compatibility: Segment spec calls (`track`, `identify`, `page`,
//! `screen`, `group`, `alias`) become Pulse wire events, so Segment libraries
//! work by pointing their host at Pulse.
//!
//! Mapping: `messageId` → `event_id`, `userId` → `user_id`, `anonymousId` →
//! `anonymous_id`, `timestamp`/`sentAt` as in the native format, `context`
//! kept (its `userAgent` is read for enrichment), and per call:
//!
//! | call     | `type`          | properties        | entity                  |
//! |----------|-----------------|-------------------|-------------------------|
//! | track    | `event`         | `properties`      |                         |
//! | identify | `identify`      | `traits`          |                         |
//! | page     | `page_view`     | `properties`      | `page` / `name`         |
//! | screen   | `screen_view`   | `properties`      | `screen` / `name`       |
//! | group    | `group`         | `traits`          | `group` / `groupId`     |
//! | alias    | `alias`         | `{"previous_id"}` |                         |

use crate::error::FieldError;
use crate::event::{opt_text, Json};
use crate::time::WireTime;
use crate::wire::WireEvent;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentCall {
    Track,
    Identify,
    Page,
    Screen,
    Group,
    Alias,
}

impl SegmentCall {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "track" => SegmentCall::Track,
            "identify" => SegmentCall::Identify,
            "page" => SegmentCall::Page,
            "screen" => SegmentCall::Screen,
            "group" => SegmentCall::Group,
            "alias" => SegmentCall::Alias,
            _ => return None,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentMessage<'a> {
    #[serde(rename = "type", default, borrow, deserialize_with = "opt_text")]
    call: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    message_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    user_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    anonymous_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    event: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    group_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    previous_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    properties: Option<Json<'a>>,
    #[serde(default, borrow)]
    traits: Option<Json<'a>>,
    #[serde(default, borrow)]
    context: Option<Json<'a>>,
    #[serde(default, borrow)]
    timestamp: Option<WireTime<'a>>,
    #[serde(default, borrow)]
    sent_at: Option<WireTime<'a>>,
}

/// Maps one Segment message. `route_call` is the call implied by the route
/// (`/v1/track`, ...); on `/v1/batch` each message names its own `type`.
pub fn to_wire_event(
    raw: &str,
    route_call: Option<SegmentCall>,
) -> Result<WireEvent<'_>, FieldError> {
    if !raw.starts_with('{') {
        return Err(FieldError::new(
            "",
            "a Segment message must be a JSON object",
        ));
    }
    let m: SegmentMessage = serde_json::from_str(raw).map_err(|e| {
        let msg = e.to_string();
        FieldError::new("", msg.split(" at line ").next().unwrap_or(&msg).to_owned())
    })?;
    let call = match (route_call, m.call.as_deref()) {
        (Some(c), _) => c,
        (None, Some(t)) => SegmentCall::parse(t).ok_or_else(|| {
            FieldError::new(
                "type",
                format!(
                    "{t:?} is not a Segment call (track, identify, page, screen, group, alias)"
                ),
            )
        })?,
        (None, None) => return Err(FieldError::new("type", "is required on /v1/batch messages")),
    };
    let mut w = WireEvent {
        event_id: m.message_id,
        user_id: m.user_id,
        anonymous_id: m.anonymous_id,
        timestamp: m.timestamp,
        sent_at: m.sent_at,
        context: m.context,
        properties: m.properties,
        ..WireEvent::default()
    };
    match call {
        SegmentCall::Track => {
            w.event_type = Some(
                m.event
                    .ok_or_else(|| FieldError::new("event", "is required for track"))?,
            );
        }
        SegmentCall::Identify => {
            w.event_type = Some(Cow::Borrowed("identify"));
            w.properties = m.traits;
        }
        SegmentCall::Page | SegmentCall::Screen => {
            let (t, entity) = if call == SegmentCall::Page {
                ("page_view", "page")
            } else {
                ("screen_view", "screen")
            };
            w.event_type = Some(Cow::Borrowed(t));
            if m.name.is_some() {
                w.entity_type = Some(Cow::Borrowed(entity));
                w.entity_id = m.name;
            }
        }
        SegmentCall::Group => {
            w.event_type = Some(Cow::Borrowed("group"));
            w.properties = m.traits;
            w.entity_type = Some(Cow::Borrowed("group"));
            w.entity_id = Some(
                m.group_id
                    .ok_or_else(|| FieldError::new("groupId", "is required for group"))?,
            );
        }
        SegmentCall::Alias => {
            w.event_type = Some(Cow::Borrowed("alias"));
            let previous = m
                .previous_id
                .ok_or_else(|| FieldError::new("previousId", "is required for alias"))?;
            w.properties = Some(Json::from_value(
                &serde_json::json!({ "previous_id": previous }),
            ));
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_maps_names_and_keeps_properties_and_context() {
        let raw = r#"{"type":"track","event":"Order Completed","messageId":"m-1","userId":"u1","anonymousId":"a1","properties":{"total":9.5},"context":{"userAgent":"x","library":{"name":"analytics-python"}},"timestamp":"2026-11-22T01:00:00Z","integrations":{}}"#;
        let w = to_wire_event(raw, None).unwrap();
        assert_eq!(w.event_type.as_deref(), Some("Order Completed"));
        assert_eq!(w.event_id.as_deref(), Some("m-1"));
        assert_eq!(w.user_id.as_deref(), Some("u1"));
        assert_eq!(w.anonymous_id.as_deref(), Some("a1"));
        assert_eq!(w.properties.unwrap().get(), r#"{"total":9.5}"#);
        assert!(w.context.unwrap().get().contains("analytics-python"));
        assert!(w.timestamp.is_some());
    }

    #[test]
    fn each_call_maps_to_its_type() {
        let id = to_wire_event(
            r#"{"userId":"u","traits":{"plan":"pro"}}"#,
            Some(SegmentCall::Identify),
        )
        .unwrap();
        assert_eq!(id.event_type.as_deref(), Some("identify"));
        assert_eq!(id.properties.unwrap().get(), r#"{"plan":"pro"}"#);
        let page =
            to_wire_event(r#"{"type":"page","name":"Home","anonymousId":"a"}"#, None).unwrap();
        assert_eq!(
            (page.event_type.as_deref(), page.entity_id.as_deref()),
            (Some("page_view"), Some("Home"))
        );
        let screen =
            to_wire_event(r#"{"type":"screen","name":"Cart","userId":"u"}"#, None).unwrap();
        assert_eq!(screen.event_type.as_deref(), Some("screen_view"));
        let group = to_wire_event(
            r#"{"type":"group","groupId":"g1","userId":"u","traits":{"n":1}}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            (group.entity_type.as_deref(), group.entity_id.as_deref()),
            (Some("group"), Some("g1"))
        );
        let alias =
            to_wire_event(r#"{"type":"alias","previousId":"a9","userId":"u"}"#, None).unwrap();
        assert_eq!(alias.properties.unwrap().get(), r#"{"previous_id":"a9"}"#);
    }

    #[test]
    fn bad_messages_say_why() {
        assert_eq!(
            to_wire_event(r#"{"type":"track","userId":"u"}"#, None)
                .unwrap_err()
                .to_string(),
            "event: is required for track"
        );
        assert_eq!(
            to_wire_event(r#"{"type":"boom","userId":"u"}"#, None)
                .unwrap_err()
                .field,
            "type"
        );
        assert_eq!(
            to_wire_event(r#"{"userId":"u"}"#, None).unwrap_err().field,
            "type"
        );
        assert_eq!(
            to_wire_event(r#"{"type":"alias","userId":"u"}"#, None)
                .unwrap_err()
                .field,
            "previousId"
        );
        assert!(to_wire_event("7", None).is_err());
    }
}
