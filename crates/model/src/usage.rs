//! Pay-per-use usage as producers send it (`POST /v1/usage`, or published directly to
//! `<prefix>.usage.<partition>`), and the exact decimal it is counted in.
//!
//! A batch is `{"events": [{"instance_id", "usage_value", "event_id", "occurred_at"}, ...]}`:
//! - `instance_id`: the on-demand instance (as newInstance answered it), 1–64 characters;
//! - `usage_value`: a decimal > 0 with at most [`MAX_EVENT_DECIMALS`] decimal places and at most
//!   [`MAX_INTEGER_DIGITS`] integer digits, as a string (`"1.25"`, exact) or a JSON number (read
//!   through its shortest decimal form; strings are recommended);
//! - `event_id`: the producer's unique ID of the event, 1–128 characters; the same
//!   `(instance_id, event_id)` is counted once, whenever and however often it arrives;
//! - `occurred_at`: RFC 3339; not more than [`MAX_FUTURE_SECS`] ahead of the receiver's clock and
//!   not older than [`MAX_AGE_DAYS`] days (KooGallery takes no record older than that, spec §8.3).
//!
//! Values are added exactly as [`Quantity`] (fixed point, 8 decimals, no floating point) and only
//! rounded, to 4 decimals, when a window's record is built for KooGallery ([`Quantity::round_for_push`]).

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Decimal places an event's `usage_value` may have.
pub const MAX_EVENT_DECIMALS: u32 = 8;
/// Integer digits an event's `usage_value` may have.
pub const MAX_INTEGER_DIGITS: usize = 12;
/// Decimal places of a pushed `usage_value` (spec §8.3).
pub const PUSH_DECIMALS: u32 = 4;
/// Oldest `occurred_at` accepted, in days (KooGallery's 21-day limit on `begin_time`).
pub const MAX_AGE_DAYS: i64 = 21;
/// How far `occurred_at` may be ahead of the receiver's clock (clock skew), in seconds.
pub const MAX_FUTURE_SECS: i64 = 300;
/// Longest `instance_id` (spec §8.3: String(64)).
pub const MAX_INSTANCE_ID_CHARS: usize = 64;
/// Longest `event_id`.
pub const MAX_EVENT_ID_CHARS: usize = 128;

const SCALE: i128 = 100_000_000; // 10^MAX_EVENT_DECIMALS

/// An exact non-negative decimal with 8 decimal places, stored as an integer count of 10⁻⁸.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i128);

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity(0);

    /// Parses plain decimal text (`"12"`, `"0.125"`): digits, an optional fraction of at most
    /// [`MAX_EVENT_DECIMALS`] digits, no sign, no exponent.
    ///
    /// # Errors
    /// What is wrong with the text, for a message naming the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (int, frac) = match text.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if text.starts_with('-') {
            return Err("must be greater than zero".into());
        }
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return Err(format!("{text:?} is not a plain decimal number"));
        }
        let frac = frac.unwrap_or("");
        if frac.len() > MAX_EVENT_DECIMALS as usize {
            return Err(format!("{text:?} has more than {MAX_EVENT_DECIMALS} decimal places"));
        }
        let int = int.trim_start_matches('0');
        if int.len() > MAX_INTEGER_DIGITS {
            return Err(format!("{text:?} has more than {MAX_INTEGER_DIGITS} integer digits"));
        }
        let whole: i128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| format!("{text:?} is too large"))? };
        let mut fraction: i128 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| format!("{text:?}"))? };
        for _ in frac.len()..MAX_EVENT_DECIMALS as usize {
            fraction *= 10;
        }
        Ok(Self(whole * SCALE + fraction))
    }

    /// The sum; `None` on overflow (far beyond any real window: 10²⁹ units).
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.0.checked_add(other.0).map(Quantity)
    }

    /// Whether it is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The value KooGallery is sent: rounded to [`PUSH_DECIMALS`] places, half away from zero
    /// (`0.00005` → `0.0001`, `0.00004999` → `0.0000`), as plain text without trailing zeros
    /// (`"12.5"`, `"3"`). A result of zero is never pushed.
    pub fn round_for_push(self) -> Quantity {
        let step: i128 = 10_i128.pow(MAX_EVENT_DECIMALS - PUSH_DECIMALS);
        let rounded = (self.0 + step / 2) / step * step;
        Quantity(rounded)
    }

    /// The text with its trailing fractional zeros removed (`"12.5"`, `"3"`).
    pub fn to_plain(self) -> String {
        let whole = self.0 / SCALE;
        let fraction = self.0 % SCALE;
        if fraction == 0 {
            return whole.to_string();
        }
        let text = format!("{whole}.{fraction:08}");
        text.trim_end_matches('0').to_owned()
    }
}

impl fmt::Display for Quantity {
    /// Always 8 decimal places (`"12.50000000"`): the form stored in the database.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:08}", self.0 / SCALE, self.0 % SCALE)
    }
}

/// A batch of usage events, the payload on `<prefix>.usage.<partition>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageBatch {
    /// The events, in any order; each is counted once per `(instance_id, event_id)`.
    pub events: Vec<UsageEvent>,
}

/// One usage event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UsageEvent {
    /// The on-demand instance, as newInstance answered it (1–64 characters).
    pub instance_id: String,
    /// A decimal > 0 with at most 8 decimal places: a string (exact, recommended) or a JSON number.
    #[serde(deserialize_with = "string_or_number")]
    #[schemars(with = "UsageValueSchema")]
    pub usage_value: String,
    /// The producer's unique ID of the event (1–128 characters); repeats are counted once.
    pub event_id: String,
    /// When the usage happened (RFC 3339); at most 5 minutes ahead, at most 21 days old.
    pub occurred_at: DateTime<Utc>,
}

/// The schema of `usage_value`: a decimal string or a number.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
enum UsageValueSchema {
    /// Plain decimal text, e.g. `"12.5"`.
    Text(String),
    /// A JSON number.
    Number(f64),
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("usage_value must be a string or a number, got {other}"))),
    }
}

/// One problem with one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EventProblem {
    /// The event's position in `events`, from 0.
    pub index: usize,
    /// The field at fault, e.g. `usage_value` (`events` for an event that is not an object).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for EventProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "events[{}].{}: {}", self.index, self.field, self.message)
    }
}

impl UsageEvent {
    /// The value as an exact quantity, checked as the batch rules say.
    ///
    /// # Errors
    /// What is wrong with `usage_value`.
    pub fn quantity(&self) -> Result<Quantity, String> {
        check_value(&self.usage_value)?;
        Quantity::parse(&self.usage_value)
    }

    /// Checks every field against the batch rules at `now`; returns every problem found.
    pub fn problems(&self, index: usize, now: DateTime<Utc>) -> Vec<EventProblem> {
        let checks = [
            ("instance_id", check_id(&self.instance_id, MAX_INSTANCE_ID_CHARS)),
            ("usage_value", check_value(&self.usage_value)),
            ("event_id", check_id(&self.event_id, MAX_EVENT_ID_CHARS)),
            ("occurred_at", check_time(self.occurred_at, now)),
        ];
        checks
            .into_iter()
            .filter_map(|(field, r)| r.err().map(|message| EventProblem { index, field: field.into(), message }))
            .collect()
    }

    /// Reads the event at `index` of a received batch, naming every field at fault: missing,
    /// of the wrong JSON type, unknown, or breaking the rules at `now`.
    ///
    /// # Errors
    /// Every problem of this event.
    pub fn from_json(index: usize, value: &Value, now: DateTime<Utc>) -> Result<UsageEvent, Vec<EventProblem>> {
        let problem = |field: &str, message: &str| EventProblem { index, field: field.into(), message: message.into() };
        let Some(object) = value.as_object() else {
            return Err(vec![problem("events", "must be an object")]);
        };
        let mut problems = Vec::new();
        for key in object.keys() {
            if !FIELDS.contains(&key.as_str()) {
                problems.push(problem(key, "is not a known field"));
            }
        }
        let mut text = |field: &str, numbers: bool| match object.get(field) {
            None | Some(Value::Null) => {
                problems.push(problem(field, "is required"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) if numbers => Some(n.to_string()),
            Some(_) => {
                problems
                    .push(problem(field, if numbers { "must be a string or a number" } else { "must be a string" }));
                None
            }
        };
        let (instance_id, usage_value, event_id, occurred_at) = (
            text("instance_id", false),
            text("usage_value", true),
            text("event_id", false),
            text("occurred_at", false),
        );
        let occurred_at = occurred_at.and_then(|s| match DateTime::parse_from_rfc3339(&s) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                problems.push(problem("occurred_at", "must be an RFC 3339 time, e.g. 2025-01-31T13:25:00Z"));
                None
            }
        });
        let field_checks = [
            ("instance_id", instance_id.as_deref().map(|id| check_id(id, MAX_INSTANCE_ID_CHARS))),
            ("usage_value", usage_value.as_deref().map(check_value)),
            ("event_id", event_id.as_deref().map(|id| check_id(id, MAX_EVENT_ID_CHARS))),
            ("occurred_at", occurred_at.map(|at| check_time(at, now))),
        ];
        for (field, check) in field_checks {
            if let Some(Err(message)) = check {
                problems.push(EventProblem { index, field: field.into(), message });
            }
        }
        problems.sort_by_key(|p| FIELDS.iter().position(|f| *f == p.field).unwrap_or(FIELDS.len()));
        match (instance_id, usage_value, event_id, occurred_at) {
            (Some(instance_id), Some(usage_value), Some(event_id), Some(occurred_at)) if problems.is_empty() => {
                Ok(UsageEvent { instance_id, usage_value, event_id, occurred_at })
            }
            _ => Err(problems),
        }
    }
}

/// The fields of an event, in the order problems are reported.
const FIELDS: [&str; 4] = ["instance_id", "usage_value", "event_id", "occurred_at"];

fn check_value(text: &str) -> Result<(), String> {
    if Quantity::parse(text)?.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(())
}

fn check_time(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    if at > now + Duration::seconds(MAX_FUTURE_SECS) {
        return Err(format!("is more than {MAX_FUTURE_SECS} seconds in the future"));
    }
    if at < now - Duration::days(MAX_AGE_DAYS) {
        return Err(format!("is more than {MAX_AGE_DAYS} days old"));
    }
    Ok(())
}

fn check_id(id: &str, max: usize) -> Result<(), String> {
    if id.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if id.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if id.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    #[test]
    fn quantities_add_exactly() {
        let mut sum = Quantity::ZERO;
        for _ in 0..10 {
            sum = sum.checked_add(q("0.1")).unwrap();
        }
        assert_eq!(sum, q("1"));
        assert_eq!(q("12.5").to_string(), "12.50000000");
        assert_eq!(q("12.50").to_plain(), "12.5");
        assert_eq!(q("007").to_plain(), "7");
    }

    #[test]
    fn rounding_is_half_away_from_zero_at_four_places() {
        assert_eq!(q("0.00005").round_for_push().to_plain(), "0.0001");
        assert_eq!(q("0.00004999").round_for_push(), Quantity::ZERO);
        assert_eq!(q("1.23456789").round_for_push().to_plain(), "1.2346");
        assert_eq!(q("2.99995").round_for_push().to_plain(), "3");
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in ["-1", "1e3", "1.", ".5", "", "1.123456789", "1234567890123"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_name_the_field_and_index() {
        let now = Utc::now();
        let err = UsageEvent::from_json(3, &json!({"instance_id": 5, "usage_value": "-2", "occurred_at": "x"}), now)
            .unwrap_err();
        let fields: Vec<_> = err.iter().map(|p| (p.index, p.field.as_str())).collect();
        assert_eq!(fields, [(3, "instance_id"), (3, "usage_value"), (3, "event_id"), (3, "occurred_at")]);
        let err = UsageEvent::from_json(
            0,
            &json!({"instance_id": "i", "usage_value": 1.5, "event_id": "e", "occurred_at": (now - Duration::days(22)).to_rfc3339()}),
            now,
        )
        .unwrap_err();
        assert_eq!(err[0].field, "occurred_at");
        let ok = UsageEvent::from_json(
            0,
            &json!({"instance_id": "i", "usage_value": 1.5, "event_id": "e", "occurred_at": now.to_rfc3339()}),
            now,
        )
        .unwrap();
        assert_eq!(ok.usage_value, "1.5");
    }
}
