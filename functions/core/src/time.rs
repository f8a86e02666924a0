//! Timestamps: RFC 3339 text or epoch milliseconds on the wire, epoch
//! milliseconds (UTC) everywhere inside.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// A timestamp as a client sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum WireTime<'a> {
    Text(Cow<'a, str>),
    Millis(i64),
    /// A number that is not a whole count of milliseconds in range.
    BadNumber,
}

impl<'de: 'a, 'a> Deserialize<'de> for WireTime<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = WireTime<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 string or epoch milliseconds")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(WireTime::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(WireTime::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(WireTime::Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(WireTime::Millis(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(WireTime::BadNumber, WireTime::Millis))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Some clients send 1.7e12; accept whole numbers only.
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(WireTime::Millis(v as i64))
                } else {
                    Ok(WireTime::BadNumber)
                }
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Earliest and latest accepted epoch-ms values (years 1970..=9999) so later
/// arithmetic and formatting cannot overflow.
pub const MIN_MS: i64 = 0;
pub const MAX_MS: i64 = 253_402_300_799_999;

impl WireTime<'_> {
    /// Epoch milliseconds, or a message saying what is wrong.
    pub fn to_millis(&self) -> Result<i64, String> {
        match self {
            WireTime::Millis(ms) if (MIN_MS..=MAX_MS).contains(ms) => Ok(*ms),
            WireTime::Millis(_) | WireTime::BadNumber => {
                Err("must be epoch milliseconds between 1970 and 9999 or an RFC 3339 string".into())
            }
            WireTime::Text(s) => parse_rfc3339_millis(s),
        }
    }
}

pub fn parse_rfc3339_millis(s: &str) -> Result<i64, String> {
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{s:?} is not an RFC 3339 timestamp ({e})"))?;
    let ms = t.timestamp_millis();
    if (MIN_MS..=MAX_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(format!("{s:?} is before 1970"))
    }
}

/// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-22T02:06:41.123Z`.
pub fn format_millis(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Now, in epoch milliseconds.
pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

pub const DAY_MS: i64 = 86_400_000;

thread_local! {
    /// The last hour formatted: events of a batch mostly share their hour,
    /// and formatting dates is the costliest step of aggregating them.
    static LAST_HOUR: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
}

/// UTC hour `YYYY-MM-DDTHH` of an epoch-ms time.
pub fn hour_of(ms: i64) -> String {
    let hour = ms.div_euclid(3_600_000);
    LAST_HOUR.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != hour {
            let text = Utc
                .timestamp_millis_opt(ms)
                .single()
                .map(|t| t.format("%Y-%m-%dT%H").to_string())
                .unwrap_or_default();
            *last = (hour, text);
        }
        last.1.clone()
    })
}

/// UTC day `YYYY-MM-DD` of an epoch-ms time.
pub fn day_of(ms: i64) -> String {
    let mut hour = hour_of(ms);
    hour.truncate(10);
    hour
}

/// Epoch ms of the start of a `YYYY-MM-DD` day.
pub fn day_start_millis(day: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> WireTime<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn accepts_rfc3339_with_offsets_and_epoch_ms() {
        assert_eq!(
            parse("\"2026-11-22T02:06:41.123Z\"").to_millis(),
            Ok(1_795_313_201_123)
        );
        assert_eq!(
            parse("\"2026-11-22T03:06:41.123+01:00\"").to_millis(),
            Ok(1_795_313_201_123)
        );
        assert_eq!(parse("1795313201123").to_millis(), Ok(1_795_313_201_123));
        assert_eq!(
            parse("1.795313201123e12").to_millis(),
            Ok(1_795_313_201_123)
        );
    }

    #[test]
    fn refuses_garbage_and_out_of_range() {
        assert!(parse("\"yesterday\"").to_millis().is_err());
        assert!(parse("-5").to_millis().is_err());
        assert!(parse("1.5").to_millis().is_err());
        assert!(parse("18446744073709551615").to_millis().is_err());
        assert!(serde_json::from_str::<WireTime>("true").is_err());
    }

    #[test]
    fn formats_back_to_rfc3339() {
        assert_eq!(format_millis(1_795_313_201_123), "2026-11-22T02:06:41.123Z");
    }
}
