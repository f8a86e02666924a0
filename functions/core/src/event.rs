//! The normalized event: what the ingest puts in envelopes and the consumer
//! stores. Text borrows from the request or message body where it can.

use crate::user_agent::DeviceType;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Success,
    Failed,
    InProgress,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => Status::Success,
            "failed" => Status::Failed,
            "in_progress" => Status::InProgress,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failed => "failed",
            Status::InProgress => "in_progress",
        }
    }
}

/// A JSON object kept as text: properties and context are passed through
/// without being parsed into a tree.
#[derive(Debug, Clone)]
pub enum Json<'a> {
    Borrowed(&'a RawValue),
    Owned(Box<RawValue>),
}

impl Json<'_> {
    pub fn get(&self) -> &str {
        match self {
            Json::Borrowed(r) => r.get(),
            Json::Owned(r) => r.get(),
        }
    }

    pub fn is_object(&self) -> bool {
        self.get().starts_with('{')
    }

    pub fn into_owned(self) -> Json<'static> {
        match self {
            Json::Borrowed(r) => Json::Owned(r.to_owned()),
            Json::Owned(r) => Json::Owned(r),
        }
    }

    pub fn from_value(v: &serde_json::Value) -> Json<'static> {
        Json::Owned(serde_json::value::to_raw_value(v).expect("a Value always serializes"))
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Borrowed(r) => r.serialize(s),
            Json::Owned(r) => r.serialize(s),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(d).map(Json::Borrowed)
    }
}

impl PartialEq for Json<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// Deserializes optional text, borrowing when the JSON string has no escapes.
/// Numbers are accepted and kept as their decimal text, since many services
/// send numeric user ids.
pub(crate) fn opt_text<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    struct V<'a>(std::marker::PhantomData<&'a ()>);
    impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
        type Value = Option<Cow<'a, str>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
    }
    d.deserialize_option(V(std::marker::PhantomData))
}

/// Required text, same rules as [`opt_text`].
pub(crate) fn text<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Cow<'a, str>, D::Error> {
    opt_text(d)?.ok_or_else(|| de::Error::custom("expected a string, found null"))
}

/// Largest `duration_ms`: one year. Durations are summed per day, per hour
/// and over a query's range in `u64`; with this bound no realistic volume of
/// events can overflow those sums.
pub const MAX_DURATION_MS: u64 = 365 * 86_400_000;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A validated, enriched event. Times are epoch milliseconds (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<'a> {
    #[serde(borrow, deserialize_with = "text")]
    pub event_id: Cow<'a, str>,
    #[serde(rename = "type", borrow, deserialize_with = "text")]
    pub event_type: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "text")]
    pub category: Cow<'a, str>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<Cow<'a, str>>,
    pub timestamp: i64,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub anonymous_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u32>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_id: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_type: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Json<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub context: Option<Json<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<DeviceType>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub browser: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub os: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_bot: bool,
}

/// `type` split at its first `_` or space: `project_created` → (`project`, `created`),
/// `Order Completed` → (`Order`, `Completed`); a type without one is its own category.
pub fn derive_category_action(event_type: &str) -> (&str, Option<&str>) {
    match event_type.find(['_', ' ']) {
        Some(i) if i > 0 && i + 1 < event_type.len() => {
            (&event_type[..i], Some(&event_type[i + 1..]))
        }
        _ => (event_type, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_and_action_from_type() {
        assert_eq!(
            derive_category_action("project_created"),
            ("project", Some("created"))
        );
        assert_eq!(
            derive_category_action("Order Completed"),
            ("Order", Some("Completed"))
        );
        assert_eq!(
            derive_category_action("tool_call_started"),
            ("tool", Some("call_started"))
        );
        assert_eq!(derive_category_action("identify"), ("identify", None));
        assert_eq!(derive_category_action("_x"), ("_x", None));
        assert_eq!(derive_category_action("x_"), ("x_", None));
    }

    #[test]
    fn event_round_trips_through_json_and_borrows() {
        let json = r#"{"event_id":"e1","type":"a_b","category":"a","action":"b","timestamp":5,"user_id":42,"properties":{"k":[1,2]},"status":"failed"}"#;
        let e: Event = serde_json::from_str(json).unwrap();
        assert!(matches!(e.event_id, Cow::Borrowed(_)));
        assert_eq!(e.user_id.as_deref(), Some("42"));
        assert_eq!(e.status, Some(Status::Failed));
        assert_eq!(e.properties.as_ref().unwrap().get(), r#"{"k":[1,2]}"#);
        let back = serde_json::to_string(&e).unwrap();
        let again: Event = serde_json::from_str(&back).unwrap();
        assert_eq!(e, again);
    }
}
