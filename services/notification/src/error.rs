//! Errors of the event handler and of start-up.

use koofill_bus::consumer::{ErrorClass, HandlerError};
use koofill_store::StoreError;

/// Why an event could not be turned into deliveries (this time).
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// The database failed.
    #[error("store")]
    Store(#[from] StoreError),
    /// The event's data could not be stored (a bug: JSON values always encode).
    #[error("event data not encodable")]
    Encode(#[source] serde_json::Error),
}

impl HandlerError for NotificationError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Store(e) if e.is_retryable() => ErrorClass::Transient,
            Self::Store(_) | Self::Encode(_) => ErrorClass::Permanent,
        }
    }
}

impl From<sea_orm::DbErr> for NotificationError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.into())
    }
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A channel or rule cannot be used as configured.
    #[error("configuration: {0}")]
    Config(String),
    /// The worker host could not connect, bind or run.
    #[error("worker host")]
    Host(#[from] koofill_worker::HostError),
}
