//! The license worker's registration on the worker host: the `license` consumer and the two
//! proxy responders, sharing one [`Deps`].

use std::{sync::Arc, time::Duration};

use koofill_bus::{BusError, names};
use koofill_config::{Config, ExposeSecret, ProvisionerKind};
use koofill_marketplace::{MarketplaceClient, MarketplaceConfig};
use koofill_model::{Family, license_rpc::LicenseProxyRequest};
use koofill_signing::webhook::WebhookSecret;
use koofill_worker::{Host, HostBuilder, HostOptions, KeyedLocks, Source};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::{
    StartError,
    consumer::{LICENSE, LicenseHandler},
    context::{Deps, SOURCE},
    provisioner::{LicenseProvisioner, WebhookOptions},
    proxy,
    token::{TokenSigner, parse_signing_key},
};

/// The client name the worker connects to NATS with.
pub const SERVICE: &str = "koofill-license";

/// Timeout of one license open-API call: the software waits on it through the ingress
/// (`license.rpc_timeout_ms`, 10 s by default), so one attempt per host, primary then fallback.
const KOOGALLERY_TIMEOUT: Duration = Duration::from_secs(4);

/// Options that are not configuration keys.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Update a consumer whose deployed settings differ instead of refusing to start.
    pub reconcile_bus: bool,
    /// Wait up to this long for NATS and the database.
    pub wait_for: Option<Duration>,
    /// Retry settings of the webhook provisioner (the timeout comes from `provisioner.timeout_ms`).
    pub webhook: Option<WebhookOptions>,
}

/// The license worker. Cheap to clone.
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
    /// the `license` consumer and the `activate` / `status` responders.
    ///
    /// # Errors
    /// [`StartError::Config`] naming a missing or unusable key (`license.signing_key`, the AK/SK,
    /// the webhook settings); [`StartError::Host`] otherwise.
    pub async fn build_with(cfg: &Config, options: BuildOptions) -> Result<Self, StartError> {
        let lic = &cfg.license;
        let key = lic.signing_key.as_ref().ok_or_else(|| {
            StartError::Config("license.signing_key is required (`koofill license keygen` writes one)".into())
        })?;
        let key = parse_signing_key(key.expose_secret())
            .map_err(|e| StartError::Config(format!("license.signing_key: {e}")))?;
        let signer = TokenSigner::new(key, lic.signing_key_id.clone());
        let kg = &cfg.koogallery;
        let (Some(ak), Some(sk)) = (&kg.access_key_id, &kg.secret_access_key) else {
            return Err(StartError::Config(
                "koogallery.access_key_id and koogallery.secret_access_key are required (license activate / heartbeat)"
                    .into(),
            ));
        };
        let mut market = MarketplaceConfig::new(kg.api_base.clone(), ak.clone(), sk.expose_secret().to_owned());
        market.fallback_base = Some(kg.api_fallback_base.clone());
        market.timeout = KOOGALLERY_TIMEOUT;
        market.attempts = 1;
        let marketplace = MarketplaceClient::new(market)?;

        let host_options = HostOptions { reconcile_bus: options.reconcile_bus, wait_for: options.wait_for };
        let mut host = HostBuilder::connect(cfg, SERVICE, host_options).await?;
        let db: DatabaseConnection = host.db().clone();
        let p = &cfg.provisioner;
        let provisioner = match p.kind {
            ProvisionerKind::Template => LicenseProvisioner::template(db.clone()),
            ProvisionerKind::Webhook => {
                let url = p.webhook_url.clone().ok_or_else(|| StartError::Config("provisioner.webhook_url".into()))?;
                let secret = p
                    .webhook_secret
                    .as_ref()
                    .ok_or_else(|| StartError::Config("provisioner.webhook_secret".into()))
                    .and_then(|s| {
                        WebhookSecret::parse(s.expose_secret())
                            .map_err(|e| StartError::Config(format!("provisioner.webhook_secret: {e}")))
                    })?;
                let webhook = WebhookOptions { timeout: p.timeout(), ..options.webhook.clone().unwrap_or_default() };
                LicenseProvisioner::webhook(db.clone(), url, secret, webhook, p.provision_debug_orders)
                    .map_err(|e| StartError::Config(format!("webhook client: {e}")))?
            }
        };
        tracing::info!(kid = signer.kid(), "license status tokens are signed with this key id");
        let deps = Arc::new(Deps {
            db,
            outbox: host.outbox().clone(),
            events: host.events(SOURCE),
            provisioner,
            marketplace,
            signer,
            check_interval: lic.check_interval(),
            token_ttl: lic.token_ttl(),
            locks: KeyedLocks::default(),
        });
        host.consumer(LICENSE, Source::Inbound(Family::License), LicenseHandler { deps: Arc::clone(&deps) }).await?;
        let prefix = &cfg.nats.prefix;
        let activating = Arc::clone(&deps);
        host.responder(names::rpc_license(prefix, names::LICENSE_ACTIVATE), LICENSE, move |r: LicenseProxyRequest| {
            let deps = Arc::clone(&activating);
            async move { proxy::activate(&deps, r).await }
        });
        let answering = Arc::clone(&deps);
        host.responder(names::rpc_license(prefix, names::LICENSE_STATUS), LICENSE, move |r: LicenseProxyRequest| {
            let deps = Arc::clone(&answering);
            async move { proxy::status(&deps, r).await }
        });
        Ok(Self { host: host.build()? })
    }

    /// Runs the consumer, the responders, the relay and `/healthz`, `/readyz`, `/metrics` until
    /// `shutdown`.
    ///
    /// # Errors
    /// [`StartError::Host`] when a consumer or responder failed.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StartError> {
        Ok(self.host.run(shutdown).await?)
    }

    /// Handles everything available now, then publishes the outbox; returns how many messages
    /// were handled. For tests and one-shot tools.
    ///
    /// # Errors
    /// [`BusError`] when fetching fails.
    pub async fn drain(&self) -> Result<usize, BusError> {
        self.host.drain().await
    }

    /// Serves only the responders until `shutdown` (for tests that settle messages with
    /// [`Worker::drain`]).
    ///
    /// # Errors
    /// [`BusError`] when a responder cannot subscribe.
    pub async fn serve_proxy(&self, shutdown: CancellationToken) -> Result<(), BusError> {
        self.host.serve_responders(shutdown).await
    }

    /// The worker host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        self.host.db()
    }
}

/// Builds and runs the worker until `shutdown` (what `koofill serve license` and `koofill dev`
/// call).
///
/// # Errors
/// As [`Worker::build`] and [`Worker::run`].
pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    Worker::build(&cfg).await?.run(shutdown).await
}
