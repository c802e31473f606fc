//! Reading validated fields out of a JSON object, with errors that carry the field's JSON path.
//!
//! The callback types parse through this rather than through serde derives: KooGallery's bodies need
//! "missing" told apart from "empty", maximum lengths in characters, values that may be strings or numbers,
//! and messages that name the exact field.

use serde_json::{Map, Value};

use crate::lenient_json;
use crate::time::{CompactTime, Utc8Time};
use crate::validation::{Problem, ValidationError};
use crate::wire::{Embedded, WireEnum};

/// The shape named in messages about KooGallery compact times.
pub(crate) const TIME_SHAPE: &str = "yyyyMMddHHmmss or yyyyMMddHHmmssSSS";

/// Parses a body as JSON.
///
/// # Errors
/// `BadJson` for malformed JSON.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, ValidationError> {
    serde_json::from_slice(body).map_err(|e| ValidationError::body(Problem::BadJson(e.to_string())))
}

/// The fields of one JSON object, at a path within the body.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// The object `value`, found at `path` (empty for the body).
    pub(crate) fn of(value: &'a Value, path: &str) -> Result<Self, ValidationError> {
        match value {
            Value::Object(map) => Ok(Self { map, prefix: path.to_owned() }),
            _ => Err(ValidationError::new(path, Problem::WrongType { expected: "a JSON object" })),
        }
    }

    /// The JSON path of `name` in this object.
    pub(crate) fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_owned() } else { format!("{}.{name}", self.prefix) }
    }

    fn error(&self, name: &str, problem: Problem) -> ValidationError {
        ValidationError::new(self.path(name), problem)
    }

    /// The field, treating `null` as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// Whether the field is present and not `null`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The field, or `Missing`.
    pub(crate) fn required(&self, name: &str) -> Result<&'a Value, ValidationError> {
        self.get(name).ok_or_else(|| self.error(name, Problem::Missing))
    }

    /// A string field if present (possibly empty), checked against `max` characters.
    pub(crate) fn optional_str(&self, name: &str, max: usize) -> Result<Option<&'a str>, ValidationError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        let Value::String(s) = value else {
            return Err(self.error(name, Problem::WrongType { expected: "a string" }));
        };
        if s.chars().count() > max {
            return Err(self.error(name, Problem::TooLong { max }));
        }
        Ok(Some(s))
    }

    /// A mandatory string field that may be empty.
    pub(crate) fn str_or_empty(&self, name: &str, max: usize) -> Result<&'a str, ValidationError> {
        self.optional_str(name, max)?.ok_or_else(|| self.error(name, Problem::Missing))
    }

    /// A mandatory, non-empty string field.
    pub(crate) fn str(&self, name: &str, max: usize) -> Result<&'a str, ValidationError> {
        let s = self.str_or_empty(name, max)?;
        if s.is_empty() {
            return Err(self.error(name, Problem::Empty));
        }
        Ok(s)
    }

    /// A mandatory string field without a length limit (e.g. the RSA-encrypted `clientSecret`).
    pub(crate) fn str_unbounded(&self, name: &str) -> Result<&'a str, ValidationError> {
        self.str(name, usize::MAX)
    }

    /// A mandatory enumeration field.
    pub(crate) fn choice<E: WireEnum>(&self, name: &str) -> Result<E, ValidationError> {
        let s = self.str(name, 64)?;
        self.parse_choice(name, s)
    }

    /// An optional enumeration field.
    pub(crate) fn optional_choice<E: WireEnum>(&self, name: &str) -> Result<Option<E>, ValidationError> {
        match self.optional_str(name, 64)? {
            None => Ok(None),
            Some(s) => self.parse_choice(name, s).map(Some),
        }
    }

    fn parse_choice<E: WireEnum>(&self, name: &str, s: &str) -> Result<E, ValidationError> {
        E::from_wire(s).ok_or_else(|| self.error(name, Problem::NotOneOf { allowed: E::allowed() }))
    }

    /// A mandatory UTC compact time (14 or 17 digits).
    pub(crate) fn compact_time(&self, name: &str) -> Result<CompactTime, ValidationError> {
        let s = self.str(name, 20)?;
        CompactTime::parse(s).map_err(|_| self.bad_time(name))
    }

    /// A mandatory UTC+8 Kit time (17 digits, 14 accepted).
    pub(crate) fn utc8_time(&self, name: &str) -> Result<Utc8Time, ValidationError> {
        let s = self.str(name, 20)?;
        Utc8Time::parse(s).map_err(|_| self.bad_time(name))
    }

    fn bad_time(&self, name: &str) -> ValidationError {
        self.error(name, Problem::BadFormat { what: "time", expected: TIME_SHAPE })
    }

    /// An integer that may arrive as a JSON number or a string of digits (Kit `flag`, `testFlag`,
    /// `employeeType`).
    pub(crate) fn optional_integer(&self, name: &str) -> Result<Option<i64>, ValidationError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => return Err(self.error(name, Problem::WrongType { expected: "an integer" })),
        };
        parsed.map(Some).ok_or_else(|| self.error(name, Problem::BadFormat { what: "integer", expected: "digits" }))
    }

    /// A mandatory integer, as [`Fields::optional_integer`].
    pub(crate) fn integer(&self, name: &str) -> Result<i64, ValidationError> {
        self.optional_integer(name)?.ok_or_else(|| self.error(name, Problem::Missing))
    }

    /// A mandatory integer that must be one of `allowed`.
    pub(crate) fn integer_in(&self, name: &str, allowed: &[i64]) -> Result<i64, ValidationError> {
        let v = self.integer(name)?;
        if allowed.contains(&v) {
            Ok(v)
        } else {
            let allowed = allowed.iter().map(i64::to_string).collect();
            Err(self.error(name, Problem::NotOneOf { allowed }))
        }
    }

    /// A mandatory field that holds JSON either inline or as a string (strict JSON first, then the lenient
    /// reader), returning the decoded value and the string it came in.
    pub(crate) fn embedded(&self, name: &str) -> Result<Embedded<Value>, ValidationError> {
        match self.required(name)? {
            Value::String(raw) if raw.is_empty() => Err(self.error(name, Problem::Empty)),
            Value::String(raw) => {
                let value = match serde_json::from_str::<Value>(raw) {
                    Ok(value) => value,
                    Err(_) => {
                        lenient_json::parse(raw).map_err(|e| self.error(name, Problem::BadJson(e.to_string())))?
                    }
                };
                Ok(Embedded::decoded(value, raw.clone()))
            }
            inline => Ok(Embedded::inline(inline.clone())),
        }
    }

    /// The elements of an array field's decoded value, with the path of each, e.g. `userList[2]`.
    pub(crate) fn elements<'v>(
        &self,
        name: &str,
        value: &'v Value,
    ) -> Result<Vec<(String, &'v Value)>, ValidationError> {
        let Value::Array(items) = value else {
            return Err(self.error(name, Problem::WrongType { expected: "an array" }));
        };
        let base = self.path(name);
        Ok(items.iter().enumerate().map(|(i, v)| (format!("{base}[{i}]"), v)).collect())
    }

    /// The fields not in `known`, kept so unknown additions survive a round trip.
    pub(crate) fn rest(&self, known: &[&str]) -> Map<String, Value> {
        self.map.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}
