//! The supervision worker's errors, classified for the consumer runner and rendered by the admin API.

use koofill_bus::consumer::{ErrorClass, HandlerError};
use koofill_store::StoreError;

use crate::state::InvalidTransition;

/// Why a supervision operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisionError {
    /// The database failed.
    #[error("database")]
    Store(#[from] StoreError),
    /// An event could not be encoded (a bug).
    #[error("event not encoded")]
    Encode(#[from] serde_json::Error),
    /// No case matches the reference.
    #[error("no supervision case {0}")]
    NotFound(String),
    /// The case's state does not allow the action.
    #[error(transparent)]
    Invalid(#[from] InvalidTransition),
    /// An input field is unusable.
    #[error("invalid `{field}`: {reason}")]
    Input {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Someone else changed the case between our read and our write.
    #[error("case {0} changed meanwhile; try again")]
    Concurrent(i64),
    /// A stored value is not one this version knows.
    #[error("stored value not understood: {0}")]
    Corrupt(String),
    /// An event names an order line provisioning has not recorded (yet).
    #[error("order {order_id} line {order_line_id} is not recorded yet")]
    NotRecorded {
        /// The order.
        order_id: String,
        /// The order line.
        order_line_id: String,
    },
    /// An event's data does not have the fields its type promises.
    #[error("event {event_type} not understood: {reason}")]
    Event {
        /// The event type.
        event_type: String,
        /// What is missing.
        reason: String,
    },
}

impl SupervisionError {
    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Concurrent(_) | Self::NotRecorded { .. } => true,
            _ => false,
        }
    }
}

impl HandlerError for SupervisionError {
    fn class(&self) -> ErrorClass {
        if self.is_retryable() { ErrorClass::Transient } else { ErrorClass::Permanent }
    }
}
