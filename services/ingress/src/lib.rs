//! The thin ingress: what KooGallery sees.
//!
//! It verifies, validates, publishes and answers, and depends on NATS alone (no database):
//!
//! 1. a request arrives on `POST {base}` (basic V2: SaaS, `orderNotify`, License 2.0) or
//!    `POST {base}/produceAPI/v2/{interface}` (Kit);
//! 2. the body is read up to the size limit; the timestamp window and the signature (basic or Kit
//!    key, current then previous) are checked → `000001` on failure;
//! 3. the body is validated by `koofill-model` → `000002` naming the field;
//! 4. `queryInstance` is answered from the `<prefix>_instances` view and `changeInstanceCheck`
//!    by request-reply to provisioning, each after claiming the nonce in the shared
//!    `<prefix>_nonces` bucket; every other activity is published to
//!    `<prefix>.inbound.<family>.<activity>` (a `newInstance` with its instance id as a last
//!    token) on `KOOFILL_INBOUND` as the envelope `koofill-model` builds from the request and its
//!    verified timestamp and nonce (`Envelope::basic_callback` / `kit_callback`: the dedup id as
//!    `id`, the signed timestamp as `requested_at`), under the request's replay key as
//!    `Nats-Msg-Id`, so that the one write stores the callback and claims the nonce (a duplicate
//!    is a replay → `000001`); it is answered only after the PubAck (`000005` if NATS does not
//!    confirm);
//! 5. every answer is HTTP 200 with a `Body-Sign` header over the exact bytes sent.
//!
//! With `koogallery.v1_enabled`, the retired V1 calls (`GET {base}` with `authToken`,
//! `POST {base}/produceAPI/{interface}` with an `authToken` header) are verified with the V1
//! algorithm, rewritten into their V2 twins and take the same path from step 3 (`handlers/v1.rs`).
//!
//! It also serves the license activation proxy for the seller's software ([`license_proxy`]:
//! `/v1/licenses`, bearer token, rate limit, request-reply to the license worker) and usage
//! ingestion ([`usage`]: `POST /v1/usage`, the same bearer token, batches to `KOOFILL_USAGE`).
//!
//! Middleware, from the outside in (requests run top to bottom, responses bottom to top):
//! trace span → `Body-Sign` → panic catcher (a panic still answers a signed `000005`) → body
//! limit (applied while reading, before parsing) → answer deadline (`000005` past it).

mod answer;
pub mod change_check;
mod dispatch;
mod error;
mod handlers;
pub mod license_proxy;
pub mod metrics;
mod state;
pub mod usage;
mod verify;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
};
use koofill_bus::{
    BusError, Publisher,
    topology::{self, TopologyOptions},
    views::{InstanceViews, NonceCache},
};
use koofill_config::Config;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;

pub use error::IngressError;
pub use state::{AppState, ChangeCheckDefault, KeyRing, Settings, Shared};

/// The service name in traces and logs.
pub const SERVICE: &str = "koofill-ingress";

/// Why the ingress could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A required setting is missing or unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// NATS could not be reached or prepared.
    #[error("NATS")]
    Bus(#[from] BusError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("HTTP server")]
    Serve(#[source] std::io::Error),
}

/// A built ingress, bound to its port but not yet serving (so tests can read the port first).
#[derive(Debug)]
pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
    state: AppState,
    topology_options: TopologyOptions,
}

impl Application {
    /// Connects to NATS, ensures the topology, opens the views and binds the listener.
    ///
    /// # Errors
    /// [`StartError`] naming what failed.
    pub async fn build(cfg: &Config) -> Result<Self, StartError> {
        let kg = &cfg.koogallery;
        let basic_keys = KeyRing::new(kg.basic_keys());
        if basic_keys.is_empty() {
            return Err(StartError::Config("koogallery.basic_key is required".into()));
        }
        let kit_keys = KeyRing::new(kg.kit_keys());
        if kit_keys.is_empty() {
            tracing::warn!("koogallery.kit_key is not set: Kit sync callbacks will be answered 000005");
        }
        let ing = &cfg.ingress;
        let settings = Settings {
            prefix: cfg.nats.prefix.clone(),
            window_ms: i64::try_from(kg.max_clock_skew_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            body_limit: ing.body_limit_bytes,
            request_timeout: Duration::from_millis(ing.request_timeout_ms),
            change_check_timeout: Duration::from_millis(ing.change_check_timeout_ms),
            change_check_default: match ing.change_check_default {
                koofill_config::ChangeCheckDefault::Allow => ChangeCheckDefault::Allow,
                koofill_config::ChangeCheckDefault::Reject => ChangeCheckDefault::Reject,
            },
        };
        let bus = koofill_bus::connect(
            &cfg.nats.url,
            &cfg.nats.prefix,
            SERVICE,
            Duration::from_millis(cfg.nats.connect_timeout_ms),
            Duration::from_millis(cfg.nats.request_timeout_ms),
            true,
        )
        .await?;
        let topology_options = TopologyOptions {
            prefix: cfg.nats.prefix.clone(),
            replicas: cfg.nats.replicas,
            clock_skew: Duration::from_secs(kg.max_clock_skew_secs),
        };
        let report = topology::ensure(&bus.js, &topology_options).await?;
        if !report.created.is_empty() {
            tracing::info!(created = ?report.created, "JetStream topology created");
        }
        let state = AppState::new(Shared {
            basic_keys,
            kit_keys,
            publisher: Publisher::new(bus.js.clone(), Duration::from_millis(ing.publish_timeout_ms)),
            nonces: NonceCache::open(&bus.js, &cfg.nats.prefix).await?,
            views: InstanceViews::open(&bus.js, &cfg.nats.prefix).await?,
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::new()),
            license: Arc::new(license_proxy::LicenseApi::new(
                [&cfg.license.api_token, &cfg.license.api_token_previous]
                    .into_iter()
                    .flatten()
                    .map(|t| koofill_config::ExposeSecret::expose_secret(t).as_bytes().to_vec()),
                cfg.license.rate_limit_per_minute,
                cfg.license.rpc_timeout(),
            )),
            usage_tokens: Arc::new(license_proxy::LicenseApi::new(
                [&cfg.metering.api_token, &cfg.metering.api_token_previous]
                    .into_iter()
                    .flatten()
                    .map(|t| koofill_config::ExposeSecret::expose_secret(t).as_bytes().to_vec()),
                cfg.license.rate_limit_per_minute,
                cfg.license.rpc_timeout(),
            )),
            bus,
        });
        let router = router(&state, &ing.base_path, kg.v1_enabled).merge(usage::router(&state, &cfg.metering));
        let listener = tokio::net::TcpListener::bind(ing.listen)
            .await
            .map_err(|source| StartError::Bind { addr: ing.listen, source })?;
        Ok(Self { listener, router, state, topology_options })
    }

    /// The bound address (with the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The shared state (metrics, bus), for tests and the embedding process.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled, then finishes in-flight requests.
    ///
    /// # Errors
    /// [`StartError::Serve`] when the server fails.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), StartError> {
        tracing::info!(addr = ?self.local_addr(), "ingress listening");
        tokio::spawn(topology::keep_ensured(self.state.bus.clone(), self.topology_options, shutdown.clone()));
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(StartError::Serve)
    }
}

/// Builds and serves the ingress until `shutdown`.
///
/// # Errors
/// As [`Application::build`] and [`Application::run_until_stopped`].
pub async fn run(cfg: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    Application::build(&cfg).await?.run_until_stopped(shutdown).await
}

fn router(state: &AppState, base: &str, v1_enabled: bool) -> Router {
    let kit_path = format!("{base}/produceAPI/v2/{{interface}}");
    let mut basic = post(handlers::basic::handle);
    let mut koogallery = Router::new();
    if v1_enabled {
        basic = basic.get(handlers::v1::basic);
        koogallery = koogallery.route(&format!("{base}/produceAPI/{{interface}}"), post(handlers::v1::kit));
    }
    let koogallery = koogallery
        .route(base, basic)
        .route(&kit_path, post(handlers::kit::handle))
        // Innermost first: the deadline wraps the handler, the body limit applies while reading,
        // the panic catcher turns a panic into 000005, and the signer signs whatever comes out.
        .layer(middleware::from_fn_with_state(state.clone(), answer::deadline))
        .layer(DefaultBodyLimit::max(state.settings.body_limit))
        .layer(CatchPanicLayer::custom(answer::panic_answer))
        .layer(middleware::from_fn_with_state(state.clone(), answer::sign_answers));
    // The software's API, outside KooGallery's signing, deadline and Body-Sign layers.
    let licenses = Router::new()
        .route("/v1/licenses/{code}/activate", post(license_proxy::activate))
        .route("/v1/licenses/{code}", get(license_proxy::status))
        .layer(DefaultBodyLimit::max(4096));
    let ops = Router::new()
        .route("/healthz", get(handlers::ops::healthz))
        .route("/readyz", get(handlers::ops::readyz))
        .route("/metrics", get(handlers::ops::metrics));
    Router::new()
        .merge(koogallery)
        .merge(licenses)
        .merge(ops)
        .layer(koofill_telemetry::http::trace_layer())
        .with_state(state.clone())
}
