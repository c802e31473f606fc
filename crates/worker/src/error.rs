//! Why a worker could not start or stopped.

use koofill_bus::BusError;
use koofill_store::StoreError;

/// Errors of the worker host.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// NATS could not be reached, the topology not ensured, or a consumer not bound.
    #[error("bus")]
    Bus(#[from] BusError),
    /// The database could not be reached or migrated.
    #[error("database")]
    Store(#[from] StoreError),
    /// The health and metrics listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured `worker.listen`.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The health and metrics server failed.
    #[error("health and metrics server")]
    Serve(#[source] std::io::Error),
}
