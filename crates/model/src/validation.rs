//! Why a callback body was rejected, worded for the `resultMsg` of a `000002` answer.

use std::fmt;

use crate::result_code::ResultCode;

/// The longest `resultMsg` KooGallery accepts (String(255)).
pub const RESULT_MSG_MAX_CHARS: usize = 255;

/// The longest part of an unsupported `activity` that is repeated back in a message; enough to recognise a
/// typo, short enough that a hostile body cannot fill the answer.
const ECHO_MAX_CHARS: usize = 40;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The field has the right type but not the expected shape.
    BadFormat {
        /// What kind of value it should be, e.g. `"time"`.
        what: &'static str,
        /// The accepted shape, e.g. `"yyyyMMddHHmmss or yyyyMMddHHmmssSSS"`.
        expected: &'static str,
    },
    /// The body (or a field holding encoded JSON) is not valid JSON; the parser's description, which carries
    /// positions but never values.
    BadJson(String),
    /// The field is present but an empty string.
    Empty,
    /// The field is absent (or `null`).
    Missing,
    /// The field is not one of an enumeration's values.
    NotOneOf {
        /// The accepted values, in the order they are listed in the message.
        allowed: Vec<String>,
    },
    /// The field has more characters than the spec allows.
    TooLong {
        /// The maximum number of characters.
        max: usize,
    },
    /// A list holds more items than the spec allows.
    TooMany {
        /// The maximum number of items.
        max: usize,
    },
    /// The `activity` is not one koofill handles; holds the start of the value received.
    UnknownActivity(String),
    /// The field has the wrong JSON type, e.g. a number where a string belongs.
    WrongType {
        /// What was expected, e.g. `"a string"`.
        expected: &'static str,
    },
}

/// A rejected callback body: which field, and what is wrong with it.
///
/// `Display` gives the message that becomes the `resultMsg` of a `000002` answer, e.g.
/// `orderId is longer than 64 characters`. Messages never contain field values, except the start of an
/// unknown `activity`; in particular no value of `clientSecret` can appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// JSON path of the field, e.g. `userList[2].userName`; empty for the body as a whole.
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl ValidationError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, problem: Problem) -> Self {
        Self { field: field.into(), problem }
    }

    /// An error about the body as a whole.
    pub fn body(problem: Problem) -> Self {
        Self::new(String::new(), problem)
    }

    /// The result code to answer with: always `000002`.
    pub fn result_code(&self) -> ResultCode {
        ResultCode::InvalidParam
    }

    /// The message cut to [`RESULT_MSG_MAX_CHARS`], ready for `resultMsg`.
    pub fn result_msg(&self) -> String {
        truncate_chars(&self.to_string(), RESULT_MSG_MAX_CHARS)
    }

    fn subject(&self) -> &str {
        if self.field.is_empty() { "body" } else { &self.field }
    }
}

/// `text` cut to at most `max` characters.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.subject();
        match &self.problem {
            Problem::Missing => write!(f, "{field} is missing"),
            Problem::Empty => write!(f, "{field} is empty"),
            Problem::TooLong { max } => write!(f, "{field} is longer than {max} characters"),
            Problem::TooMany { max } => write!(f, "{field} has more than {max} items"),
            Problem::NotOneOf { allowed } => write!(f, "{field} must be one of {}", allowed.join(", ")),
            Problem::WrongType { expected } => write!(f, "{field} must be {expected}"),
            Problem::BadFormat { what, expected } => {
                write!(f, "{field} is not a valid {what} (expected {expected})")
            }
            Problem::BadJson(detail) => write!(f, "{field} is not valid JSON: {detail}"),
            Problem::UnknownActivity(activity) => {
                let shown = truncate_chars(activity, ECHO_MAX_CHARS);
                // Debug formatting quotes and escapes control characters.
                write!(f, "activity {shown:?} is not supported")
            }
        }
    }
}

impl std::error::Error for ValidationError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(field: &str, problem: Problem) -> String {
        ValidationError::new(field, problem).to_string()
    }

    #[test]
    fn messages_name_the_field() {
        assert_eq!(msg("orderId", Problem::Missing), "orderId is missing");
        assert_eq!(msg("orderId", Problem::Empty), "orderId is empty");
        assert_eq!(msg("orderId", Problem::TooLong { max: 64 }), "orderId is longer than 64 characters");
        assert_eq!(
            msg("status", Problem::NotOneOf { allowed: vec!["FREEZE".into(), "UNFREEZE".into()] }),
            "status must be one of FREEZE, UNFREEZE"
        );
        assert_eq!(
            msg("expireTime", Problem::BadFormat { what: "time", expected: "yyyyMMddHHmmss or yyyyMMddHHmmssSSS" }),
            "expireTime is not a valid time (expected yyyyMMddHHmmss or yyyyMMddHHmmssSSS)"
        );
        assert_eq!(msg("", Problem::UnknownActivity("foo".into())), "activity \"foo\" is not supported");
        assert_eq!(msg("", Problem::BadJson("EOF at line 1".into())), "body is not valid JSON: EOF at line 1");
        assert_eq!(msg("instanceId", Problem::TooMany { max: 100 }), "instanceId has more than 100 items");
        assert_eq!(msg("userList[2].userName", Problem::Missing), "userList[2].userName is missing");
    }

    #[test]
    fn long_activities_and_messages_are_cut() {
        let long = "x".repeat(1000);
        let text = msg("", Problem::UnknownActivity(long.clone()));
        assert!(text.len() < 80, "{text}");
        let e = ValidationError::body(Problem::BadJson(long));
        assert_eq!(e.result_msg().chars().count(), RESULT_MSG_MAX_CHARS);
        assert_eq!(e.result_code(), ResultCode::InvalidParam);
    }
}
