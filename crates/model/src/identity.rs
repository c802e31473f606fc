//! The identity of one KooGallery request: its signed `timestamp` and `nonce` (basic: URL query,
//! spec §2.1; Kit: `x-timestamp` / `x-nonce` headers, spec §2.2).
//!
//! Business keys ([`BasicRequest::dedup_id`](crate::BasicRequest::dedup_id)) make a request sent
//! again carry the same id; they cannot tell apart two requests that legitimately carry the same
//! fields, such as FREEZE, UNFREEZE, FREEZE within one second. The request identity can, and the
//! ids that need it are qualified with it ([`BasicRequest::message_id`](crate::BasicRequest::message_id),
//! [`KitRequest::message_id`](crate::KitRequest::message_id)):
//!
//! - every KooGallery request, retries included, is signed anew: its timestamp must fall within
//!   60 s of our clock while KooGallery retries minutes to hours apart (spec §4.1), and the nonce is
//!   a fresh random string that verifiers cache to refuse replays (spec §2.1 recommendation 5). So
//!   two requests, even a retry and its original, never share an identity;
//! - the ingress claims each nonce before publishing and answers a replayed one `000001`, so one
//!   identity is published only by our own publish retries, which reuse the same envelope and so
//!   the same id: JetStream's deduplication still drops them.

use chrono::{DateTime, Utc};

use crate::time::TimeError;

/// Longest `timestamp` accepted (as `koofill_signing::timestamp::parse_millis`): more digits than
/// any date the signature window allows, and still inside `i64`.
const TIMESTAMP_MAX_DIGITS: usize = 18;

/// A `timestamp` of at most this many digits is seconds: some spec pages say seconds although
/// every example is 13-digit milliseconds (spec §2.1 recommendation 4).
const SECONDS_MAX_DIGITS: usize = 10;

const TIMESTAMP_SHAPE: &str = "Unix milliseconds (or seconds, up to 10 digits)";

/// The verified `timestamp` and `nonce` of one request, as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestIdentity {
    timestamp: String,
    nonce: String,
}

impl RequestIdentity {
    /// The identity of a request whose signature (over this timestamp and nonce) has been verified.
    pub fn new(timestamp: impl Into<String>, nonce: impl Into<String>) -> Self {
        Self { timestamp: timestamp.into(), nonce: nonce.into() }
    }

    /// The `timestamp` / `x-timestamp` as received.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The `nonce` / `x-nonce` as received.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// When KooGallery signed the request ([`parse_request_timestamp`]); `None` only for a
    /// timestamp that verification would have refused.
    pub fn requested_at(&self) -> Option<DateTime<Utc>> {
        parse_request_timestamp(&self.timestamp).ok()
    }

    /// `{key}:{timestamp}:{nonce}`: a business key made unique to this request.
    pub(crate) fn qualify(&self, key: String) -> String {
        format!("{key}:{}:{}", self.timestamp, self.nonce)
    }
}

/// Parses a request `timestamp` / `x-timestamp`: Unix milliseconds, or seconds when it has at most
/// 10 digits; surrounding whitespace is ignored. The same rule as the signature check's window
/// (`koofill_signing::timestamp::parse_millis`), so the time read here is the one verified.
///
/// # Errors
/// [`TimeError::WrongLength`] when empty or longer than 18 digits, [`TimeError::NotDigits`] for
/// anything but ASCII digits, [`TimeError::OutOfRange`] past chrono's range.
pub fn parse_request_timestamp(raw: &str) -> Result<DateTime<Utc>, TimeError> {
    let digits = raw.trim();
    if digits.is_empty() || digits.len() > TIMESTAMP_MAX_DIGITS {
        return Err(TimeError::WrongLength { expected: TIMESTAMP_SHAPE, len: digits.chars().count() });
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeError::NotDigits { expected: TIMESTAMP_SHAPE });
    }
    let n: i64 = digits.parse().map_err(|_| TimeError::NotDigits { expected: TIMESTAMP_SHAPE })?;
    let millis = if digits.len() <= SECONDS_MAX_DIGITS { n.saturating_mul(1000) } else { n };
    DateTime::from_timestamp_millis(millis).ok_or(TimeError::OutOfRange)
}
