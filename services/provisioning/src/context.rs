//! What every handler shares: the database, the view, the open-API client, the provisioners,
//! the ciphers, and the relay's wake-up.

use koofill_bus::views::InstanceViews;
use koofill_marketplace::MarketplaceClient;
use koofill_model::DomainEvent;
use koofill_signing::{client_secret::ClientSecretKey, field_crypto::FieldCipher};
use koofill_store::{OutboxSignal, SecretBox, StoreError, UnitOfWork, outbox::NewEvent};
use koofill_worker::EventFactory;
use sea_orm::DatabaseConnection;

use koofill_worker::KeyedLocks;

use crate::{ProvisioningError, provisioner::Provisioners};

/// The `source` of every event the worker emits.
pub const SOURCE: &str = "provisioning";

/// Shared by the handlers; cheap to clone behind an `Arc`.
#[derive(Debug)]
pub struct Deps {
    /// The database.
    pub db: DatabaseConnection,
    /// The instance view the ingress answers queryInstance from.
    pub views: InstanceViews,
    /// Query order.
    pub marketplace: MarketplaceClient,
    /// The ISV's product (and the debug stand-in).
    pub provisioners: Provisioners,
    /// Encrypts appInfo credentials in KooGallery's format with the basic key.
    pub cipher: FieldCipher,
    /// Decrypts the Kit `clientSecret` (`koogallery.client_secret_private_key`).
    pub client_secret_key: Option<ClientSecretKey>,
    /// Seals client secrets at rest (key derived from the same private key).
    pub secret_box: Option<SecretBox>,
    /// Builds the outbox rows of the events the worker emits.
    pub events: EventFactory,
    /// Wakes the outbox relay after a commit.
    pub outbox: OutboxSignal,
    /// Per-instance serialisation.
    pub locks: KeyedLocks,
}

impl Deps {
    /// An outbox row for `event`, id `{source id}:{step}`, with the current trace context.
    ///
    /// # Errors
    /// [`ProvisioningError::Encode`] if the event cannot be encoded (it always can).
    pub fn event(&self, id: String, test: bool, event: DomainEvent) -> Result<NewEvent, ProvisioningError> {
        self.events.event(id, test, event).map_err(ProvisioningError::Encode)
    }

    /// Opens the unit of work of `(consumer, message_id)`: a transaction with the inbox row
    /// claimed; `None` when the message was processed before.
    ///
    /// # Errors
    /// [`ProvisioningError::Store`].
    pub async fn unit(&self, consumer: &str, message_id: &str) -> Result<Option<UnitOfWork>, ProvisioningError> {
        Ok(UnitOfWork::begin(&self.db, &self.outbox, consumer, message_id).await?)
    }

    /// Records a message handled with no effect.
    ///
    /// # Errors
    /// [`ProvisioningError::Store`].
    pub async fn no_effect(&self, consumer: &str, message_id: &str) -> Result<(), ProvisioningError> {
        koofill_store::record_no_effect(&self.db, consumer, message_id).await.map_err(|e: StoreError| e.into())
    }
}
