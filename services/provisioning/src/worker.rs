//! Start-up and the running worker: three consumers, the outbox relay and the change-check
//! responder, sharing one [`Deps`].

use std::{sync::Arc, time::Duration};

use koofill_bus::{
    Bus, BusError, Publisher,
    consumer::{Consumer, ConsumerPolicy, ConsumerSpec, Handler},
    names, rpc,
    topology::{self, TopologyOptions},
    views::InstanceViews,
};
use koofill_config::{ChangeCheckDefault, Config, ExposeSecret, ProvisionerKind};
use koofill_marketplace::{MarketplaceClient, MarketplaceConfig};
use koofill_model::Family;
use koofill_signing::{
    client_secret::ClientSecretKey,
    field_crypto::{EncryptType, FieldCipher},
    webhook::WebhookSecret,
};
use koofill_store::StoreOptions;
use sea_orm::DatabaseConnection;
use tokio::{sync::Notify, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    StartError,
    change_check::{self, ChangeCheckRequest},
    context::Deps,
    handlers::{KIT, KitHandler, ORDER, OrderHandler, SAAS, SaasHandler},
    locks::KeyedLocks,
    provisioner::{
        AnyProvisioner, Provisioners, TemplateProvisioner, WebhookOptions, WebhookProvisioner, change_check_budget,
    },
    relay::Relay,
};

/// The client name the worker connects to NATS with.
pub const SERVICE: &str = "koofill-provisioning";

/// Options that are not configuration keys.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Update consumers whose deployed settings differ from the configuration instead of
    /// refusing to start (`--reconcile-bus`).
    pub reconcile_bus: bool,
    /// Retry settings of the webhook provisioner (the timeouts come from
    /// `provisioner.timeout_ms` and `ingress.change_check_timeout_ms`); defaults when `None`.
    pub webhook: Option<WebhookOptions>,
}

/// The provisioning worker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    deps: Arc<Deps>,
    bus: Bus,
    saas: Consumer<SaasHandler>,
    order: Consumer<OrderHandler>,
    kit: Consumer<KitHandler>,
    relay: Relay,
    grace: Duration,
    change_check_default_allow: bool,
}

/// The delivery budget. `consumer.max_deliver` gave way to `consumer.retry_horizon_secs`, which
/// this runner cannot apply yet (it counts deliveries, not time since the message was stored), so
/// provisioning keeps the runner's default budget of deliveries meanwhile.
fn max_deliver() -> i64 {
    ConsumerPolicy::default().max_deliver
}

fn policy(cfg: &Config) -> ConsumerPolicy {
    let c = &cfg.consumer;
    ConsumerPolicy {
        max_deliver: max_deliver(),
        ack_wait: c.ack_wait(),
        nak_base: c.nak_base_delay(),
        nak_max: c.nak_max_delay(),
        concurrency: c.concurrency,
        max_ack_pending: c.max_ack_pending,
    }
}

impl Worker {
    /// Builds the worker with default [`BuildOptions`].
    ///
    /// # Errors
    /// As [`Worker::build_with`].
    pub async fn build(cfg: &Config) -> Result<Self, StartError> {
        Self::build_with(cfg, BuildOptions::default()).await
    }

    /// Connects to NATS (ensuring the topology) and the database (applying migrations), and
    /// creates or checks the three durable consumers.
    ///
    /// # Errors
    /// [`StartError::Config`] for a missing basic key or AK/SK or an unusable RSA key or webhook
    /// secret; [`StartError::Bus`], [`StartError::Store`], [`StartError::Marketplace`] otherwise.
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

        let bus = koofill_bus::connect(
            &cfg.nats.url,
            &cfg.nats.prefix,
            SERVICE,
            cfg.nats.connect_timeout(),
            cfg.nats.request_timeout(),
            true,
        )
        .await?;
        let prefix = cfg.nats.prefix.clone();
        topology::ensure(
            &bus.js,
            &TopologyOptions { prefix: prefix.clone(), replicas: cfg.nats.replicas, clock_skew: kg.max_clock_skew() },
        )
        .await?;
        let views = InstanceViews::open(&bus.js, &prefix).await?;

        let db = koofill_store::connect_with(
            &cfg.database.url,
            &StoreOptions { max_connections: cfg.database.max_connections, ..StoreOptions::default() },
        )
        .await?;
        koofill_store::migrate(&db).await?;

        let mut market = MarketplaceConfig::new(kg.api_base.clone(), ak.clone(), sk.expose_secret().to_owned());
        market.fallback_base = Some(kg.api_fallback_base.clone());
        let marketplace = MarketplaceClient::new(market)?;

        let p = &cfg.provisioner;
        let template = TemplateProvisioner::new(p.front_end_url_template.clone(), p.admin_url_template.clone());
        let configured = match p.kind {
            ProvisionerKind::Template => AnyProvisioner::Template(template.clone()),
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
            db: db.clone(),
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
            prefix: prefix.clone(),
            max_deliver: max_deliver(),
            relay_wake: Arc::new(Notify::new()),
            locks: KeyedLocks::default(),
        });

        let publish_timeout = cfg.nats.request_timeout();
        let spec = |durable: &str, family: Family| ConsumerSpec {
            stream: names::stream(&prefix, names::INBOUND),
            durable: durable.to_owned(),
            filter_subject: names::inbound_family(&prefix, family),
            policy: policy(cfg),
        };
        let reconcile = options.reconcile_bus;
        let saas = Consumer::ensure(
            &bus.js,
            &prefix,
            spec(SAAS, Family::Saas),
            SaasHandler { deps: Arc::clone(&deps) },
            reconcile,
            publish_timeout,
        )
        .await?;
        let order = Consumer::ensure(
            &bus.js,
            &prefix,
            spec(ORDER, Family::Order),
            OrderHandler { deps: Arc::clone(&deps) },
            reconcile,
            publish_timeout,
        )
        .await?;
        let kit = Consumer::ensure(
            &bus.js,
            &prefix,
            spec(KIT, Family::Kit),
            KitHandler { deps: Arc::clone(&deps) },
            reconcile,
            publish_timeout,
        )
        .await?;
        let relay = Relay::new(db, Publisher::new(bus.js.clone(), publish_timeout), Arc::clone(&deps.relay_wake));
        Ok(Self {
            deps,
            bus,
            saas,
            order,
            kit,
            relay,
            grace: cfg.shutdown.grace(),
            change_check_default_allow: cfg.ingress.change_check_default == ChangeCheckDefault::Allow,
        })
    }

    /// Runs the consumers, the relay and the change-check responder until `shutdown`, then lets
    /// in-flight messages finish within `shutdown.grace_secs` and publishes what is left in the
    /// outbox.
    ///
    /// # Errors
    /// [`StartError::Bus`] when a consumer vanished or the responder could not subscribe.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), StartError> {
        let mut tasks: JoinSet<Result<(), BusError>> = JoinSet::new();
        spawn_consumer(&mut tasks, self.saas.clone(), shutdown.clone(), self.grace);
        spawn_consumer(&mut tasks, self.order.clone(), shutdown.clone(), self.grace);
        spawn_consumer(&mut tasks, self.kit.clone(), shutdown.clone(), self.grace);
        let responder = self.serve_change_check(shutdown.clone());
        tasks.spawn(responder);
        let relay = self.relay.clone();
        let relay_stop = CancellationToken::new();
        let relay_task = tokio::spawn({
            let stop = relay_stop.clone();
            async move { relay.run(stop).await }
        });
        tracing::info!("provisioning worker running");
        let mut outcome = Ok(());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = &e as &dyn std::error::Error, "worker task failed");
                    shutdown.cancel();
                    outcome = Err(StartError::Bus(e));
                }
                Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "worker task panicked"),
            }
        }
        // The consumers have drained: now the relay's last round.
        relay_stop.cancel();
        let _ = relay_task.await;
        outcome
    }

    /// The change-check responder as a future (part of [`Worker::run`]).
    pub fn serve_change_check(
        &self,
        shutdown: CancellationToken,
    ) -> impl std::future::Future<Output = Result<(), BusError>> + Send + 'static {
        let deps = Arc::clone(&self.deps);
        let default_allow = self.change_check_default_allow;
        let client = self.bus.client.clone();
        let subject = names::rpc_change_check(&self.deps.prefix);
        async move {
            rpc::serve_json(
                client,
                subject,
                "provisioning".to_owned(),
                move |request: ChangeCheckRequest| {
                    let deps = Arc::clone(&deps);
                    async move { change_check::decide(&deps, request, default_allow).await }
                },
                shutdown,
            )
            .await
        }
    }

    /// Handles everything available on the three consumers now, then publishes the outbox;
    /// returns how many messages were handled. For tests and one-shot tools.
    ///
    /// # Errors
    /// [`BusError`] when fetching fails.
    pub async fn drain(&self) -> Result<usize, BusError> {
        let mut handled = self.saas.drain_until_empty().await?;
        handled += self.order.drain_until_empty().await?;
        handled += self.kit.drain_until_empty().await?;
        if let Err(e) = self.relay.flush().await {
            tracing::warn!(error = &e as &dyn std::error::Error, "outbox not published");
        }
        Ok(handled)
    }

    /// The outbox relay.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.deps.db
    }

    /// The NATS connection.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }
}

fn spawn_consumer<H: Handler>(
    tasks: &mut JoinSet<Result<(), BusError>>,
    consumer: Consumer<H>,
    shutdown: CancellationToken,
    grace: Duration,
) {
    tasks.spawn(async move { consumer.run(shutdown, grace).await });
}

/// Builds and runs the worker until `shutdown` (what `koofill dev` and the service binary call).
///
/// # Errors
/// As [`Worker::build`] and [`Worker::run`].
pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    Worker::build(&cfg).await?.run(shutdown).await
}
