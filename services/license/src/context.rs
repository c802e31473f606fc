//! What the consumer and the proxy share.

use std::time::Duration;

use koofill_marketplace::MarketplaceClient;
use koofill_store::OutboxSignal;
use koofill_worker::EventFactory;
use sea_orm::DatabaseConnection;

use koofill_worker::KeyedLocks;

use crate::{provisioner::LicenseProvisioner, token::TokenSigner};

/// The `source` of every event the worker emits.
pub const SOURCE: &str = "license";

/// Shared by the handler and the responders; behind an `Arc`.
#[derive(Debug)]
pub struct Deps {
    /// The database.
    pub db: DatabaseConnection,
    /// Wakes the outbox relay after a commit.
    pub outbox: OutboxSignal,
    /// Builds the outbox rows of events.
    pub events: EventFactory,
    /// The seller's product.
    pub provisioner: LicenseProvisioner,
    /// KooGallery's license (and query order) APIs.
    pub marketplace: MarketplaceClient,
    /// Signs status tokens.
    pub signer: TokenSigner,
    /// `license.check_interval_secs`.
    pub check_interval: Duration,
    /// `license.token_ttl_secs`.
    pub token_ttl: Duration,
    /// Per-code serialisation.
    pub locks: KeyedLocks,
}
