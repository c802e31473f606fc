//! Wire-level building blocks shared by the callback types: string enumerations, values that arrive either
//! inline or as a JSON string holding them, and numbers that may arrive quoted.
//!
//! Each keeps the form it arrived in, so a parsed request serialises back to an equivalent body.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Number, Value};

/// A string that is not one of an enumeration's wire values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}")]
pub struct UnknownValue {
    /// The enumeration, e.g. `"activity"`.
    pub kind: &'static str,
    /// The start of the value received.
    pub value: String,
}

/// An enumeration written on the wire as fixed strings.
pub(crate) trait WireEnum: Sized + Copy + 'static {
    /// Every value, in documentation order.
    fn all() -> &'static [Self];
    /// The wire text.
    fn wire(self) -> &'static str;

    /// The value whose wire text is `s`.
    fn from_wire(s: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.wire() == s)
    }

    /// The wire texts, for `NotOneOf` messages.
    fn allowed() -> Vec<String> {
        Self::all().iter().map(|v| v.wire().to_owned()).collect()
    }
}

/// Declares a public enumeration with fixed wire strings, with `as_str`, `FromStr`, `Display`, serde as the
/// string and a JSON Schema `enum`.
macro_rules! wire_enum {
    (
        $(#[$doc:meta])*
        $name:ident ($kind:literal) {
            $( $(#[$vdoc:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vdoc])* $variant ),+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl $crate::wire::WireEnum for $name {
            fn all() -> &'static [Self] {
                Self::ALL
            }

            fn wire(self) -> &'static str {
                self.as_str()
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::wire::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <Self as $crate::wire::WireEnum>::from_wire(s).ok_or_else(|| $crate::wire::UnknownValue {
                    kind: $kind,
                    value: s.chars().take(40).collect(),
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'_, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({ "type": "string", "enum": [$($wire),+] })
            }
        }
    };
}
pub(crate) use wire_enum;

/// A value that KooGallery sends either inline (a JSON array or object) or as a JSON string holding it, e.g.
/// `userList` (V1: string, V2: array), `orgInfoList` and `changeInstanceCheck.productInfo`.
///
/// Dereferences to the value. Serialises the way it arrived: an encoded value is written back as the exact
/// string received.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded<T> {
    value: T,
    encoded: Option<String>,
}

impl<T> Embedded<T> {
    /// A value sent inline.
    pub fn inline(value: T) -> Self {
        Self { value, encoded: None }
    }

    /// A value that arrived as the string `raw`, which decoded to `value`.
    pub fn decoded(value: T, raw: String) -> Self {
        Self { value, encoded: Some(raw) }
    }

    /// The value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Unwraps the value.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The string the value arrived in, when it arrived as a string.
    pub fn encoded(&self) -> Option<&str> {
        self.encoded.as_deref()
    }

    /// Converts the value, keeping the string it arrived in.
    pub(crate) fn try_map<U, E>(self, convert: impl FnOnce(T) -> Result<U, E>) -> Result<Embedded<U>, E> {
        Ok(Embedded { value: convert(self.value)?, encoded: self.encoded })
    }
}

impl<T: Serialize> Embedded<T> {
    /// A value to be sent as a JSON string holding it (the V1 form), e.g. by the simulator.
    ///
    /// # Errors
    /// When `value` cannot be serialised (never for the types of this crate).
    pub fn encode(value: T) -> Result<Self, serde_json::Error> {
        let raw = serde_json::to_string(&value)?;
        Ok(Self::decoded(value, raw))
    }
}

impl<T> Deref for Embedded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Serialize> Serialize for Embedded<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.encoded {
            Some(raw) => serializer.serialize_str(raw),
            None => self.value.serialize(serializer),
        }
    }
}

impl<T: JsonSchema> JsonSchema for Embedded<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Embedded_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let inline = generator.subschema_for::<T>();
        json_schema!({
            "anyOf": [
                inline,
                { "type": "string", "description": "the same value, encoded as a JSON string" }
            ]
        })
    }
}

/// A number that may arrive quoted (`50` or `"50"`); it is written back the way it came.
#[derive(Clone, PartialEq, Eq)]
pub struct WireNumber {
    number: Number,
    quoted: bool,
}

impl WireNumber {
    /// A number sent unquoted.
    pub fn new(number: impl Into<Number>) -> Self {
        Self { number: number.into(), quoted: false }
    }

    /// Reads a JSON number or a string holding one; `None` for anything else.
    pub fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => Some(Self { number: n.clone(), quoted: false }),
            Value::String(s) => s.parse::<Number>().ok().map(|number| Self { number, quoted: true }),
            _ => None,
        }
    }

    /// The number.
    pub fn number(&self) -> &Number {
        &self.number
    }

    /// The number as an `i64`, when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.number.as_i64()
    }

    /// The number as an `f64` (lossy for very large values).
    pub fn as_f64(&self) -> Option<f64> {
        self.number.as_f64()
    }

    /// Whether it arrived as a string.
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }
}

impl fmt::Debug for WireNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted { write!(f, "\"{}\"", self.number) } else { write!(f, "{}", self.number) }
    }
}

impl fmt::Display for WireNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.number, f)
    }
}

impl Serialize for WireNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.quoted { serializer.collect_str(&self.number) } else { self.number.serialize(serializer) }
    }
}

impl<'de> Deserialize<'de> for WireNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(&value).ok_or_else(|| serde::de::Error::custom("expected a number or a numeric string"))
    }
}

impl JsonSchema for WireNumber {
    fn schema_name() -> Cow<'static, str> {
        "WireNumber".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "number" },
                { "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wire_numbers_keep_their_form() {
        for v in [json!(50), json!("50"), json!(1.5), json!("1.5")] {
            let n = WireNumber::from_value(&v).unwrap();
            assert_eq!(serde_json::to_value(&n).unwrap(), v);
        }
        assert_eq!(WireNumber::from_value(&json!("50")).unwrap().as_i64(), Some(50));
        assert!(WireNumber::from_value(&json!("fifty")).is_none());
        assert!(WireNumber::from_value(&json!(true)).is_none());
    }

    #[test]
    fn embedded_values_serialise_as_they_came() {
        let inline = Embedded::inline(vec![1, 2]);
        assert_eq!(serde_json::to_value(&inline).unwrap(), json!([1, 2]));
        let encoded = Embedded::encode(vec![1, 2]).unwrap();
        assert_eq!(serde_json::to_value(&encoded).unwrap(), json!("[1,2]"));
        assert_eq!(*encoded, vec![1, 2]);
        let kept = Embedded::decoded(vec![1, 2], "[1, 2 ,]".to_owned());
        assert_eq!(serde_json::to_value(&kept).unwrap(), json!("[1, 2 ,]"));
    }
}
