//! The metering worker's errors, classified for the consumer runner.

use koofill_bus::consumer::{ErrorClass, HandlerError};
use koofill_marketplace::MarketplaceError;
use koofill_store::StoreError;

/// Why handling a usage batch, an instance event or a push round failed.
#[derive(Debug, thiserror::Error)]
pub enum MeteringError {
    /// The database.
    #[error("database")]
    Store(#[from] StoreError),
    /// Another handler changed the same window first; the unit is retried.
    #[error("window {0} changed concurrently")]
    Contended(String),
    /// A stored value is not what metering writes (a decimal or a state).
    #[error("stored value unreadable: {0}")]
    Corrupt(String),
    /// A window's total would overflow (beyond 10²⁹ units).
    #[error("the total of window {0} overflows")]
    Overflow(String),
    /// An event could not be encoded (it always can).
    #[error("event not encoded")]
    Encode(#[from] serde_json::Error),
    /// The usage push.
    #[error("usage push")]
    Push(#[from] MarketplaceError),
}

impl HandlerError for MeteringError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Store(e) if e.is_retryable() || e.is_conflict() => ErrorClass::Transient,
            Self::Contended(_) => ErrorClass::Transient,
            Self::Push(e) if e.is_misconfigured() => ErrorClass::Misconfigured,
            Self::Push(e) if e.is_retryable() => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration key is missing or unusable; names it.
    #[error("configuration: {0}")]
    Config(String),
    /// The worker host (NATS, database, consumers, HTTP).
    #[error(transparent)]
    Host(#[from] koofill_worker::HostError),
    /// The usage-push client.
    #[error("usage-push client")]
    Marketplace(#[from] MarketplaceError),
}
