//! Errors of the worker's handlers and of start-up. The consumer runner retries or dead-letters a
//! message by [`ProvisioningError::is_retryable`].

use koofill_bus::{
    BusError,
    consumer::{ErrorClass, HandlerError},
};
use koofill_marketplace::MarketplaceError;
use koofill_model::{InstanceId, ValidationError};
use koofill_store::StoreError;

use crate::provisioner::ProvisionerError;

/// Why a message could not be handled (this time).
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// NATS (publish, KV view) failed.
    #[error("bus")]
    Bus(#[from] BusError),
    /// Another replica changed the instance between our read and our write; the redelivery
    /// reads the new state.
    #[error("instance {0} changed concurrently")]
    Concurrent(InstanceId),
    /// Another handler (another replica) wrote the same Kit natural key between our read and our
    /// insert; the redelivery reads the row it wrote.
    #[error("directory entry {0} written concurrently")]
    Contended(String),
    /// An event could not be encoded (a bug: every event type encodes).
    #[error("event not encodable")]
    Encode(#[source] serde_json::Error),
    /// The message is not a valid callback (cannot be decoded or re-validated): poison.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// Query order failed.
    #[error("query order")]
    Marketplace(#[from] MarketplaceError),
    /// A lifecycle call arrived before the instance's create was processed; retried with a
    /// delay until the create is done (bounded by `consumer.retry_horizon_secs`).
    #[error("instance {0} is not provisioned yet")]
    NotYetCreated(InstanceId),
    /// The ISV's provisioner failed or answered something unusable.
    #[error("provisioner")]
    Provisioner(#[from] ProvisionerError),
    /// A Kit secret could not be handled (no private key configured, undecryptable value).
    #[error("client secret: {0}")]
    Secret(String),
    /// The database failed.
    #[error("store")]
    Store(#[from] StoreError),
}

impl From<ValidationError> for ProvisioningError {
    fn from(e: ValidationError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl ProvisioningError {
    /// How the runner treats it: outages are transient, a credential the seller's side refused
    /// is a misconfiguration (both retried for `consumer.retry_horizon_secs`), invalid data is
    /// permanent.
    pub fn class(&self) -> ErrorClass {
        let transient = |retryable: bool| if retryable { ErrorClass::Transient } else { ErrorClass::Permanent };
        match self {
            Self::Bus(e) => transient(e.is_retryable()),
            Self::Concurrent(_) | Self::Contended(_) | Self::NotYetCreated(_) => ErrorClass::Transient,
            Self::Encode(_) | Self::Invalid(_) | Self::Secret(_) => ErrorClass::Permanent,
            Self::Marketplace(e) if e.is_misconfigured() => ErrorClass::Misconfigured,
            Self::Marketplace(e) => transient(e.is_retryable()),
            Self::Provisioner(e) if e.is_misconfigured() => ErrorClass::Misconfigured,
            Self::Provisioner(e) => transient(e.is_retryable()),
            Self::Store(e) => transient(e.is_retryable()),
        }
    }

    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }
}

impl HandlerError for ProvisioningError {
    fn class(&self) -> ErrorClass {
        ProvisioningError::class(self)
    }
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A required setting is missing or unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// NATS could not be reached or the instance view not opened.
    #[error("bus")]
    Bus(#[from] BusError),
    /// The worker host could not connect, bind or run.
    #[error("worker host")]
    Host(#[from] koofill_worker::HostError),
    /// The query-order client could not be built.
    #[error("open-API client")]
    Marketplace(#[from] MarketplaceError),
}

/// `error: cause: cause…`, for records and messages meant for operators.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
