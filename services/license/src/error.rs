//! Errors of the consumer's handler and of start-up.

use koofill_bus::consumer::{ErrorClass, HandlerError};
use koofill_store::StoreError;

use crate::provisioner::ProvisionerError;

/// Why a callback could not be handled (this time).
#[derive(Debug, thiserror::Error)]
pub enum LicenseError {
    /// The message is not a valid License 2.0 callback: poison.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// Another replica changed the code between our read and our write; the redelivery reads
    /// the new row.
    #[error("license code {0} changed concurrently")]
    Concurrent(String),
    /// The seller's product could not be told.
    #[error("provisioner")]
    Provisioner(#[from] ProvisionerError),
    /// The database failed.
    #[error("store")]
    Store(#[from] StoreError),
    /// An event could not be encoded (a bug: every event encodes).
    #[error("event not encodable")]
    Encode(#[from] serde_json::Error),
}

impl HandlerError for LicenseError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Invalid(_) | Self::Encode(_) => ErrorClass::Permanent,
            Self::Concurrent(_) => ErrorClass::Transient,
            Self::Provisioner(e) if e.is_misconfigured() => ErrorClass::Misconfigured,
            Self::Provisioner(e) if e.is_retryable() => ErrorClass::Transient,
            Self::Provisioner(_) => ErrorClass::Permanent,
            // A unique key refused our insert: another replica wrote the row; read it again.
            Self::Store(e) if e.is_retryable() || e.is_conflict() => ErrorClass::Transient,
            Self::Store(_) => ErrorClass::Permanent,
        }
    }
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A required setting is missing or unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The worker host could not connect, bind or run.
    #[error("worker host")]
    Host(#[from] koofill_worker::HostError),
    /// The open-API client could not be built.
    #[error("open-API client")]
    Marketplace(#[from] koofill_marketplace::MarketplaceError),
}
