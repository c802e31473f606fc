//! KooGallery's compact time formats.
//!
//! | Format | Where | Zone |
//! |---|---|---|
//! | `yyyyMMddHHmmss` (14 digits) | `expireTime`, query-order `createTime`/`expireTime` | UTC |
//! | `yyyyMMddHHmmssSSS` (17 digits) | `expireTime` in the spec's own refreshInstance example, V1 `timeStamp` | UTC |
//! | `yyyyMMddHHmmssSSS` | Kit `timeStamp`, `currentSyncTime` | UTC+8 (Beijing) |
//! | `yyyyMMdd'T'HHmmss'Z'` | open APIs, usage push | UTC |
//!
//! Documented 14-digit fields are parsed leniently as 14 or 17 digits (spec §1.5), and so are the Kit ones.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Beijing time, the zone of the Kit `timeStamp` (东8区).
const UTC8_SECONDS: i32 = 8 * 3600;

/// What a compact time string was rejected for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// A character that is not an ASCII digit where a digit belongs.
    #[error("expected only digits in {expected}")]
    NotDigits {
        /// The accepted shape.
        expected: &'static str,
    },
    /// Digits that do not name a real date or time of day (month 13, February 30, hour 24, second 60).
    #[error("not a real date and time")]
    OutOfRange,
    /// Not 14 or 17 characters (or, for the open-API form, not 16).
    #[error("expected {expected}, got {len} characters")]
    WrongLength {
        /// The accepted shape.
        expected: &'static str,
        /// How many characters arrived.
        len: usize,
    },
}

/// How many digits a compact time carried, so it can be written back the way it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 14 digits, `yyyyMMddHHmmss`.
    Seconds,
    /// 17 digits, `yyyyMMddHHmmssSSS`.
    Millis,
}

const COMPACT: &str = "14 digits (yyyyMMddHHmmss) or 17 digits (yyyyMMddHHmmssSSS)";
const OPEN_API: &str = "yyyyMMdd'T'HHmmss'Z' (16 characters)";

fn digits(s: &str, expected: &'static str) -> Result<u32, TimeError> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeError::NotDigits { expected });
    }
    s.parse().map_err(|_| TimeError::NotDigits { expected })
}

/// Parses 14 or 17 digits as a naive (zone-less) date-time.
fn parse_naive(s: &str) -> Result<(NaiveDateTime, Precision), TimeError> {
    let precision = match s.len() {
        14 => Precision::Seconds,
        17 => Precision::Millis,
        _ => return Err(TimeError::WrongLength { expected: COMPACT, len: s.chars().count() }),
    };
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeError::NotDigits { expected: COMPACT });
    }
    // All ASCII digits, so byte slicing is on character boundaries.
    let millis = if precision == Precision::Millis { digits(&s[14..17], COMPACT)? } else { 0 };
    let naive = date_time(&s[0..8], &s[8..14], millis, COMPACT)?;
    Ok((naive, precision))
}

fn date_time(ymd: &str, hms: &str, millis: u32, expected: &'static str) -> Result<NaiveDateTime, TimeError> {
    let year = digits(&ymd[0..4], expected)?;
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).map_err(|_| TimeError::OutOfRange)?,
        digits(&ymd[4..6], expected)?,
        digits(&ymd[6..8], expected)?,
    )
    .ok_or(TimeError::OutOfRange)?;
    date.and_hms_milli_opt(
        digits(&hms[0..2], expected)?,
        digits(&hms[2..4], expected)?,
        digits(&hms[4..6], expected)?,
        millis,
    )
    .ok_or(TimeError::OutOfRange)
}

/// Parses a KooGallery compact time in UTC: 14 digits `yyyyMMddHHmmss` or 17 digits `yyyyMMddHHmmssSSS`.
///
/// # Errors
/// [`TimeError`] for any other length, a non-digit, or digits that are not a real date and time.
pub fn parse_compact(s: &str) -> Result<DateTime<Utc>, TimeError> {
    parse_naive(s).map(|(naive, _)| naive.and_utc())
}

/// Parses a Kit `timeStamp` / `currentSyncTime`: 14 or 17 digits in UTC+8 (Beijing time).
///
/// # Errors
/// As [`parse_compact`].
pub fn parse_utc8(s: &str) -> Result<DateTime<Utc>, TimeError> {
    parse_naive(s).and_then(|(naive, _)| from_utc8(naive))
}

fn utc8() -> FixedOffset {
    FixedOffset::east_opt(UTC8_SECONDS).expect("8 h is inside FixedOffset's ±24 h range")
}

fn from_utc8(naive: NaiveDateTime) -> Result<DateTime<Utc>, TimeError> {
    utc8().from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc)).ok_or(TimeError::OutOfRange)
}

/// Formats as 14 digits, `yyyyMMddHHmmss` (UTC).
pub fn format_compact14(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%S").to_string()
}

/// Formats as 17 digits, `yyyyMMddHHmmssSSS` (UTC).
pub fn format_compact17(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%S%3f").to_string()
}

/// Formats as the open-API time `yyyyMMdd'T'HHmmss'Z'` (UTC), e.g. `20220809T091000Z`.
pub fn format_open_api(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Parses the open-API time `yyyyMMdd'T'HHmmss'Z'`.
///
/// # Errors
/// [`TimeError`] when the shape is not exactly 8 digits, `T`, 6 digits, `Z`, or the date is not real.
pub fn parse_open_api(s: &str) -> Result<DateTime<Utc>, TimeError> {
    let bytes = s.as_bytes();
    if bytes.len() != 16 {
        return Err(TimeError::WrongLength { expected: OPEN_API, len: s.chars().count() });
    }
    let shape_ok = bytes.iter().enumerate().all(|(i, b)| match i {
        8 => *b == b'T',
        15 => *b == b'Z',
        _ => b.is_ascii_digit(),
    });
    if !shape_ok {
        return Err(TimeError::NotDigits { expected: OPEN_API });
    }
    // All 16 bytes are ASCII, so these slices fall on character boundaries.
    date_time(&s[0..8], &s[9..15], 0, OPEN_API).map(|n| n.and_utc())
}

macro_rules! compact_time_type {
    ($(#[$doc:meta])* $name:ident, $parse:path, $to_wire:expr, $description:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name {
            at: DateTime<Utc>,
            precision: Precision,
        }

        impl $name {
            /// Wraps an instant, to be written with the given number of digits.
            pub fn new(at: DateTime<Utc>, precision: Precision) -> Self {
                Self { at: truncate(at, precision), precision }
            }

            /// Parses the wire text.
            ///
            /// # Errors
            /// [`TimeError`] as described on the parse function of this module.
            pub fn parse(s: &str) -> Result<Self, TimeError> {
                let (naive, precision) = parse_naive(s)?;
                Ok(Self { at: $parse(naive)?, precision })
            }

            /// The instant, in UTC.
            pub fn at(&self) -> DateTime<Utc> {
                self.at
            }

            /// Whether it arrived with 14 or 17 digits.
            pub fn precision(&self) -> Precision {
                self.precision
            }
        }

        impl fmt::Display for $name {
            /// The wire form, with as many digits as it arrived with.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let to_wire: fn(&$name) -> String = $to_wire;
                f.write_str(&to_wire(self))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self}, {})", stringify!($name), self.at.to_rfc3339())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = Cow::<str>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": "^[0-9]{14}([0-9]{3})?$",
                    "description": $description,
                })
            }
        }
    };
}

/// `at` cut to what the wire format carries, so that a value compares equal to itself after a round trip.
fn truncate(at: DateTime<Utc>, precision: Precision) -> DateTime<Utc> {
    let cut = match precision {
        Precision::Millis => DateTime::from_timestamp_millis(at.timestamp_millis()),
        Precision::Seconds => DateTime::from_timestamp(at.timestamp(), 0),
    };
    cut.unwrap_or(at)
}

fn utc_naive(naive: NaiveDateTime) -> Result<DateTime<Utc>, TimeError> {
    Ok(naive.and_utc())
}

fn wire(at: DateTime<Utc>, precision: Precision) -> String {
    match precision {
        Precision::Seconds => format_compact14(at),
        Precision::Millis => format_compact17(at),
    }
}

compact_time_type!(
    /// A UTC compact time (`expireTime`, query-order times) that remembers whether it had 14 or 17 digits.
    CompactTime,
    utc_naive,
    |t| wire(t.at, t.precision),
    "UTC time, yyyyMMddHHmmss or yyyyMMddHHmmssSSS"
);

compact_time_type!(
    /// A Kit time in UTC+8 (`timeStamp`, `currentSyncTime`) that remembers whether it had 14 or 17 digits.
    Utc8Time,
    from_utc8,
    |t| wire(t.at.with_timezone(&utc8()).naive_local().and_utc(), t.precision),
    "UTC+8 (Beijing) time, yyyyMMddHHmmssSSS (14 digits accepted)"
);

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Timelike};

    use super::*;

    #[test]
    fn parses_14_and_17_digits_as_utc() {
        let t = parse_compact("20221124023618").unwrap();
        assert_eq!(t.to_rfc3339(), "2022-11-24T02:36:18+00:00");
        let t = parse_compact("20221124023618256").unwrap();
        assert_eq!(t.timestamp_subsec_millis(), 256);
        assert_eq!(t.second(), 18);
    }

    #[test]
    fn kit_times_are_utc8() {
        let t = parse_utc8("20220413093539534").unwrap();
        assert_eq!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "2022-04-13T01:35:39.534Z");
        let back = Utc8Time::parse("20220413093539534").unwrap();
        assert_eq!(back.to_string(), "20220413093539534");
        assert_eq!(back.at(), t);
    }

    #[test]
    fn rejects_wrong_lengths() {
        for s in ["2022112402361", "202211240236182", "2022112402361825", "", "202211240236182560"] {
            assert!(
                matches!(parse_compact(s), Err(TimeError::WrongLength { .. })),
                "{s:?} should be rejected for its length"
            );
        }
    }

    #[test]
    fn rejects_non_digits() {
        for s in ["2022112402361a", "2022-11-24T0236", "+0221124023618", " 0221124023618", "２022112402361"] {
            assert!(parse_compact(s).is_err(), "{s:?} should be rejected");
        }
        assert_eq!(parse_compact("2022112402361a"), Err(TimeError::NotDigits { expected: COMPACT }));
    }

    #[test]
    fn rejects_impossible_dates_and_times() {
        for s in ["20221324023618", "20220230023618", "20221100023618", "20221124243618", "20221124026018"] {
            assert_eq!(parse_compact(s), Err(TimeError::OutOfRange), "{s:?}");
        }
        assert_eq!(parse_compact("20240229000000").map(|t| t.day0()), Ok(28));
    }

    #[test]
    fn formats() {
        let t = parse_compact("20220809091000123").unwrap();
        assert_eq!(format_compact14(t), "20220809091000");
        assert_eq!(format_compact17(t), "20220809091000123");
        assert_eq!(format_open_api(t), "20220809T091000Z");
        assert_eq!(parse_open_api("20220809T091000Z").unwrap(), parse_compact("20220809091000").unwrap());
        for bad in ["20220809091000Z", "20220809T091000", "2022080xT091000Z", "20221309T091000Z", "20220809t091000z"] {
            assert!(parse_open_api(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn compact_time_keeps_its_precision() {
        for s in ["20221124023618", "20221124023618256"] {
            let t = CompactTime::parse(s).unwrap();
            assert_eq!(t.to_string(), s);
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(s));
        }
        let t = CompactTime::new(parse_compact("20221124023618256").unwrap(), Precision::Seconds);
        assert_eq!(t.to_string(), "20221124023618");
    }
}
