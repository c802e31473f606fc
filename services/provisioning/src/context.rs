//! What every handler shares: the database, the view, the open-API client, the provisioners,
//! the ciphers, and the relay's wake-up.

use std::{collections::BTreeMap, sync::Arc};

use async_nats::HeaderMap;
use chrono::Utc;
use koofill_bus::{names, views::InstanceViews};
use koofill_marketplace::MarketplaceClient;
use koofill_model::{DomainEvent, Envelope};
use koofill_signing::{client_secret::ClientSecretKey, field_crypto::FieldCipher};
use koofill_store::{SecretBox, outbox::NewEvent};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::{ProvisioningError, locks::KeyedLocks, provisioner::Provisioners};

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
    /// The name prefix.
    pub prefix: String,
    /// Deliveries before a message is dead-lettered (to know the last attempt).
    pub max_deliver: i64,
    /// Wakes the outbox relay after a commit.
    pub relay_wake: Arc<Notify>,
    /// Per-instance serialisation.
    pub locks: KeyedLocks,
}

impl Deps {
    /// An outbox row for `event`, id `{source id}:{step}`, with the current trace context.
    ///
    /// # Errors
    /// [`ProvisioningError::Invalid`] if the event cannot be encoded (it always can).
    pub fn event(&self, id: String, test: bool, event: DomainEvent) -> Result<NewEvent, ProvisioningError> {
        let subject = names::event(&self.prefix, event.subject_suffix());
        let envelope = Envelope::event(id.clone(), SOURCE, Utc::now(), test, event);
        let payload =
            serde_json::to_string(&envelope).map_err(|e| ProvisioningError::Invalid(format!("event: {e}")))?;
        let mut map = HeaderMap::new();
        koofill_telemetry::nats::inject(&mut map);
        let mut headers = BTreeMap::new();
        for (name, values) in map.iter() {
            if let Some(v) = values.first() {
                headers.insert(name.to_string(), v.as_str().to_owned());
            }
        }
        Ok(NewEvent { id, subject, payload, headers })
    }

    /// Tells the relay there is something to publish.
    pub fn wake_relay(&self) {
        self.relay_wake.notify_one();
    }
}
