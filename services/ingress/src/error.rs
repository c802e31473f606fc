//! The ingress's one error type, and the one place that turns it into a KooGallery answer.

use koofill_bus::BusError;
use koofill_model::{ResultCode, ValidationError};
use koofill_signing::SignatureError;

/// Why a callback was not answered with success.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    /// A signature parameter other than the signature itself is absent (`timestamp`, `nonce`).
    #[error("{0} is missing")]
    MissingParameter(&'static str),
    /// The signature, key or timestamp did not verify.
    #[error("authentication failed: {0}")]
    Signature(#[source] SignatureError),
    /// The nonce was used before within the window.
    #[error("authentication failed: nonce was already used")]
    ReplayedNonce,
    /// The body failed validation.
    #[error("{}", .0.result_msg())]
    Invalid(#[source] ValidationError),
    /// The body is larger than the configured limit.
    #[error("body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// The body could not be read.
    #[error("body could not be read")]
    BodyUnreadable,
    /// The path names no Kit interface.
    #[error("\"{0}\" is not a supported Kit interface")]
    UnknownKitInterface(String),
    /// The instance is not known.
    #[error("instance {0} does not exist")]
    UnknownInstance(String),
    /// The key needed to verify this kind of call is not configured.
    #[error("the {0} key is not configured")]
    KeyNotConfigured(&'static str),
    /// JetStream or the KV views could not be reached.
    #[error("message bus unavailable")]
    Bus(#[source] BusError),
    /// The answer could not be produced within the request timeout.
    #[error("request timed out")]
    Timeout,
}

impl IngressError {
    /// The result code KooGallery gets.
    pub fn result_code(&self) -> ResultCode {
        match self {
            Self::Signature(_) | Self::ReplayedNonce => ResultCode::AuthFailed,
            Self::MissingParameter(_)
            | Self::Invalid(_)
            | Self::BodyTooLarge(_)
            | Self::BodyUnreadable
            | Self::UnknownKitInterface(_) => ResultCode::InvalidParam,
            Self::UnknownInstance(_) => ResultCode::InstanceNotFound,
            Self::KeyNotConfigured(_) | Self::Bus(_) | Self::Timeout => ResultCode::InternalError,
        }
    }

    /// The `resultMsg`: precise for the caller's mistakes, generic for our own faults (internals
    /// never reach the body).
    pub fn result_msg(&self) -> String {
        match self.result_code() {
            ResultCode::InternalError => ResultCode::InternalError.default_message().to_owned(),
            ResultCode::AuthFailed => ResultCode::AuthFailed.default_message().to_owned(),
            _ => self.to_string(),
        }
    }

    /// The rejection reason recorded in metrics (bounded set).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingParameter(_) => "missing_parameter",
            Self::Signature(SignatureError::TimestampStale { .. }) => "stale_timestamp",
            Self::Signature(SignatureError::TimestampFuture { .. }) => "future_timestamp",
            Self::Signature(SignatureError::TimestampNotNumeric(_)) => "bad_timestamp",
            Self::Signature(_) => "bad_signature",
            Self::ReplayedNonce => "replayed_nonce",
            Self::Invalid(e) if matches!(e.problem, koofill_model::Problem::UnknownActivity(_)) => "unknown_activity",
            Self::Invalid(e) if matches!(e.problem, koofill_model::Problem::BadJson(_)) => "malformed_json",
            Self::Invalid(_) => "invalid_field",
            Self::BodyTooLarge(_) => "body_too_large",
            Self::BodyUnreadable => "body_unreadable",
            Self::UnknownKitInterface(_) => "unknown_interface",
            Self::UnknownInstance(_) => "unknown_instance",
            Self::KeyNotConfigured(_) => "key_not_configured",
            Self::Bus(_) => "bus_unavailable",
            Self::Timeout => "timeout",
        }
    }

    /// Whether this is our fault (logged at error) rather than the caller's (logged at debug).
    pub fn is_internal(&self) -> bool {
        self.result_code() == ResultCode::InternalError
    }
}
