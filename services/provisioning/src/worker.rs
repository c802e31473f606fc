//! The provisioning worker's registration on the worker host: three consumers and the
//! change-check responder, sharing one [`Deps`].

use std::sync::Arc;

use koofill_bus::{Bus, BusError, names, views::InstanceViews};
use koofill_config::{ChangeCheckDefault, Config, ExposeSecret, ProvisionerKind};
use koofill_marketplace::{MarketplaceClient, MarketplaceConfig};
use koofill_model::Family;
use koofill_signing::{
    client_secret::ClientSecretKey,
    field_crypto::{EncryptType, FieldCipher},
    webhook::WebhookSecret,
};
use koofill_worker::{Host, HostBuilder, HostOptions, KeyedLocks, Relay, Source};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::{
    StartError,
    change_check::{self, ChangeCheckRequest},
    context::{Deps, SOURCE},
    handlers::{KIT, KitHandler, ORDER, OrderHandler, SAAS, SaasHandler},
    provisioner::{
        AnyProvisioner, Provisioners, TemplateProvisioner, WebhookOptions, WebhookProvisioner, change_check_budget,
    },
};

/// The client name the worker connects to NATS with.
pub const SERVICE: &str = "koofill-provisioning";

/// Options that are not configuration keys.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Update consumers whose deployed settings differ from the configuration instead of
    /// refusing to start (`--reconcile-bus`).
    pub reconcile_bus: bool,
    /// Wait up to this long for NATS and the database (`--wait-for`).
    pub wait_for: Option<std::time::Duration>,
    /// Retry settings of the webhook provisioner (the timeouts come from
    /// `provisioner.timeout_ms` and `ingress.change_check_timeout_ms`); defaults when `None`.
    pub webhook: Option<WebhookOptions>,
}

/// The provisioning worker: its registration on a [`Host`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    host: Host,
}

impl Worker {
    /// Builds the worker with default [`BuildOptions`].
    ///
    /// # Errors
    /// As [`Worker::build_with`].
    pub async fn build(cfg: &Config) -> Result<Self, StartError> {
        Self::build_with(cfg, BuildOptions::default()).await
    }

    /// Connects the host (NATS with the topology, the database with migrations), then registers
    /// the three durable consumers and the change-check responder.
    ///
    /// # Errors
    /// [`StartError::Config`] for a missing basic key or AK/SK or an unusable RSA key or webhook
    /// secret; [`StartError::Host`] and [`StartError::Marketplace`] otherwise.
    pub async fn build_with(cfg: &Config, options: BuildOptions) -> Result<Self, StartError> {
        let kg = &cfg.koogallery;
        let basic_key = kg
            .basic_key
            .as_ref()
            .ok_or_else(|| StartError::Config("koogallery.basic_key is required (appInfo encryption)".into()))?;
        if EncryptType::from_wire(&kg.encrypt_type) != Some(EncryptType::Aes256) {
            // The ingress answers queryInstance with encryptType "1"; the credentials must match.
            tracing::warn!(configured = %kg.encrypt_type, "appInfo credentials are encrypted with AES-256 (encryptType 1)");
        }
        let cipher = FieldCipher::new(basic_key.expose_secret().as_bytes(), EncryptType::Aes256);
        let (Some(ak), Some(sk)) = (&kg.access_key_id, &kg.secret_access_key) else {
            return Err(StartError::Config(
                "koogallery.access_key_id and koogallery.secret_access_key are required (query order)".into(),
            ));
        };
        let (client_secret_key, secret_box) = match &kg.client_secret_private_key {
            Some(pem) => {
                let key = ClientSecretKey::from_text(pem.expose_secret()).map_err(|e| {
                    StartError::Config(format!("koogallery.client_secret_private_key is not a usable RSA key: {e}"))
                })?;
                // The sealing key is derived from the private key (its DER, not the PEM text):
                // whoever can read the stored secrets could decrypt KooGallery's clientSecret
                // anyway. Replacing the key makes the stored secrets unreadable (see
                // `client_secret`).
                let sealer = crate::client_secret::sealer(pem.expose_secret()).map_err(|e| {
                    StartError::Config(format!("koogallery.client_secret_private_key is not a usable RSA key: {e}"))
                })?;
                (Some(key), Some(sealer))
            }
            None => {
                tracing::warn!("koogallery.client_secret_private_key is not set: applicationSync cannot be stored");
                (None, None)
            }
        };
        let p = &cfg.provisioner;
        let webhook_secret = match p.kind {
            ProvisionerKind::Template => None,
            ProvisionerKind::Webhook => Some(
                p.webhook_secret
                    .as_ref()
                    .ok_or_else(|| StartError::Config("provisioner.webhook_secret".into()))
                    .and_then(|s| {
                        WebhookSecret::parse(s.expose_secret())
                            .map_err(|e| StartError::Config(format!("provisioner.webhook_secret: {e}")))
                    })?,
            ),
        };

        let host_options = HostOptions { reconcile_bus: options.reconcile_bus, wait_for: options.wait_for };
        let mut host = HostBuilder::connect(cfg, SERVICE, host_options).await?;
        let prefix = cfg.nats.prefix.clone();
        let views = InstanceViews::open(&host.bus().js, &prefix).await?;
        let db = host.db().clone();

        let mut market = MarketplaceConfig::new(kg.api_base.clone(), ak.clone(), sk.expose_secret().to_owned());
        market.fallback_base = Some(kg.api_fallback_base.clone());
        let marketplace = MarketplaceClient::new(market)?;

        let template = TemplateProvisioner::new(p.front_end_url_template.clone(), p.admin_url_template.clone());
        let configured = match webhook_secret {
            None => AnyProvisioner::Template(template.clone()),
            Some(secret) => {
                let url = p.webhook_url.clone().ok_or_else(|| StartError::Config("provisioner.webhook_url".into()))?;
                let webhook = WebhookOptions {
                    timeout: p.timeout(),
                    change_check_timeout: change_check_budget(cfg.ingress.change_check_timeout()),
                    ..options.webhook.clone().unwrap_or_default()
                };
                let provisioner = WebhookProvisioner::new(url, secret, webhook, Some(db.clone()))
                    .map_err(|e| StartError::Config(format!("webhook client: {e}")))?;
                AnyProvisioner::Webhook(provisioner)
            }
        };

        let deps = Arc::new(Deps {
            db,
            views,
            marketplace,
            provisioners: Provisioners {
                configured,
                debug: template,
                provision_debug_orders: p.provision_debug_orders,
            },
            cipher,
            client_secret_key,
            secret_box,
            events: host.events(SOURCE),
            outbox: host.outbox().clone(),
            locks: KeyedLocks::default(),
        });

        host.consumer(SAAS, Source::Inbound(Family::Saas), SaasHandler { deps: Arc::clone(&deps) }).await?;
        host.consumer(ORDER, Source::Inbound(Family::Order), OrderHandler { deps: Arc::clone(&deps) }).await?;
        host.consumer(KIT, Source::Inbound(Family::Kit), KitHandler { deps: Arc::clone(&deps) }).await?;
        let default_allow = cfg.ingress.change_check_default == ChangeCheckDefault::Allow;
        let answering = Arc::clone(&deps);
        host.responder(names::rpc_change_check(&prefix), "provisioning", move |request: ChangeCheckRequest| {
            let deps = Arc::clone(&answering);
            async move { change_check::decide(&deps, request, default_allow).await }
        });
        Ok(Self { host: host.build()? })
    }

    /// Runs the consumers, the relay, the change-check responder and `/healthz`, `/readyz`,
    /// `/metrics` until `shutdown`, then lets in-flight messages finish within
    /// `shutdown.grace_secs` and publishes what is left in the outbox.
    ///
    /// # Errors
    /// [`StartError::Host`] when a consumer or the responder failed.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StartError> {
        Ok(self.host.run(shutdown).await?)
    }

    /// Handles everything available on the three consumers now, then publishes the outbox;
    /// returns how many messages were handled. For tests and one-shot tools.
    ///
    /// # Errors
    /// [`BusError`] when fetching fails.
    pub async fn drain(&self) -> Result<usize, BusError> {
        self.host.drain().await
    }

    /// Serves only the change-check responder until `shutdown` (for tests that settle messages
    /// with [`Worker::drain`]).
    ///
    /// # Errors
    /// [`BusError`] when the responder cannot subscribe.
    pub async fn serve_change_check(&self, shutdown: CancellationToken) -> Result<(), BusError> {
        self.host.serve_responders(shutdown).await
    }

    /// The worker host (health, metrics, relay).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The outbox relay.
    pub fn relay(&self) -> &Relay {
        self.host.relay()
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        self.host.db()
    }

    /// The NATS connection.
    pub fn bus(&self) -> &Bus {
        self.host.bus()
    }
}

/// Builds and runs the worker until `shutdown` (what `koofill serve provisioning` and
/// `koofill dev` call).
///
/// # Errors
/// As [`Worker::build`] and [`Worker::run`].
pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    Worker::build(&cfg).await?.run(shutdown).await
}
