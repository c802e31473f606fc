//! The simulated open APIs (spec §8) as an axum app, and the [`Simulator`] handle that runs it.
//!
//! | Method, path | What |
//! |---|---|
//! | `GET /api/mkp-openapi-public/global/v1/order/query` | 查询订单 (APIG-signed) |
//! | `POST /api/mkp-openapi-public/global/v1/isv/usage-data` | 按需使用量推送(新) (`signature`/`ts`/`nonce` headers, basic key) |
//! | `POST /api/mkp-openapi-public/global/v1/license/activate` | 激活授权码 (APIG-signed) |
//! | `POST /api/mkp-openapi-public/global/v1/license/heartbeat` | 查询授权码 / heartbeat (APIG-signed) |
//! | `GET /unified-login?appId=…[&user=…][&tenant=…][&state=…]` | the unified login page (spec §6.2): `user` (else the app's first enabled user) signs in; 302 to the app's redirect URL with `code` and `tenant` |
//! | `GET /api/v1/oauth2/authorize?response_type=code&client_id&redirect_uri[&state][&user]` | the authorize endpoint (spec §6.2); 302 with `code`, `tenant`, `state` |
//! | `POST /api/v1/oauth2/token` | the token endpoint (spec §6.3, form): authorization code (single use, 5 minutes) and refresh grants; `invalid_client` / `invalid_grant` errors |
//! | `GET /api/v1/oauth2/userinfo` | userinfo (spec §6.4, Bearer); 401 `unauthorized` without a valid token |
//! | `GET /api/v1/logout?redirect_url=…` | logout (spec §6.5); 302 |
//! | `POST /sim/v1/orders`, `/sim/v1/instances`, `/sim/v1/instances/{id}/status`, `/sim/v1/licenses`, `/sim/v1/oauth/clients`, `/sim/v1/oauth/users` | the simulator's own registration API, for scenario runs in another process (APIG-signed) |
//! | `GET /healthz` | liveness |
//!
//! Every request, whatever its path, is recorded with its verdict ([`Marketplace::requests`]).

mod admin;
mod auth;
mod license_api;
mod oauth;
mod query_order;
mod usage_api;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use koofill_model::QueryOrderResponse;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::SimError;
use crate::config::{BODY_LIMIT, SimConfig};
use crate::license::SimLicense;
use crate::market::{Marketplace, RecordedRequest, SimInstance, Verdict};
use crate::orders::{MOCK_PERIOD_YEAR_NEW_RESPONSE, mock_orders};
use crate::usage_rules::UsageRecordResult;

/// Path of 查询订单 (query order, spec §8.2).
pub const QUERY_ORDER_PATH: &str = "/api/mkp-openapi-public/global/v1/order/query";
/// Path of 按需使用量推送(新) (usage push, spec §8.3).
pub const USAGE_PATH: &str = "/api/mkp-openapi-public/global/v1/isv/usage-data";
/// Path of 激活授权码 v1 (license activation, spec §7.3).
pub const LICENSE_ACTIVATE_PATH: &str = "/api/mkp-openapi-public/global/v1/license/activate";
/// Path of the license heartbeat v1 (spec §7.3).
pub const LICENSE_HEARTBEAT_PATH: &str = "/api/mkp-openapi-public/global/v1/license/heartbeat";
/// Registers an order (body: the query-order `OrderInfo`).
pub const ADMIN_ORDERS_PATH: &str = "/sim/v1/orders";
/// Registers an instance (body: [`SimInstance`]).
pub const ADMIN_INSTANCES_PATH: &str = "/sim/v1/instances";
/// Issues a license code (body: [`SimLicense`]).
pub const ADMIN_LICENSES_PATH: &str = "/sim/v1/licenses";
/// Registers a tenant's OAuth client of an app (body: [`crate::SimOAuthClient`]).
pub const ADMIN_OAUTH_CLIENTS_PATH: &str = "/sim/v1/oauth/clients";
/// Lets a user sign in to an app (body: [`crate::SimOAuthUser`]).
pub const ADMIN_OAUTH_USERS_PATH: &str = "/sim/v1/oauth/users";
/// Lists the usage records received (`GET`, optional `?instance_id=`), as
/// [`crate::usage_rules::UsageRecordView`]s.
pub const ADMIN_USAGE_RECORDS_PATH: &str = "/sim/v1/usage-records";
pub use oauth::{AUTHORIZE_PATH, LOGOUT_PATH, TOKEN_PATH, UNIFIED_LOGIN_PATH, USERINFO_PATH};

#[derive(Debug, Clone)]
struct AppState {
    market: Marketplace,
    cfg: Arc<SimConfig>,
}

/// A running fake KooGallery. Dropping it stops the server.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    market: Marketplace,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Binds `cfg.listen`, loads the mock orders (unless turned off) and serves until dropped or
    /// [`Simulator::shutdown`].
    ///
    /// # Errors
    /// [`SimError::Bind`] when the address cannot be bound.
    pub async fn start(cfg: SimConfig) -> Result<Self, SimError> {
        let market = Marketplace::new();
        if cfg.mock_orders {
            if let Ok(mock) = serde_json::from_str::<QueryOrderResponse>(MOCK_PERIOD_YEAR_NEW_RESPONSE)
                && let Some(order) = mock.order_info
            {
                market.register_order(order);
            }
            mock_orders().into_iter().for_each(|order| market.register_order(order));
        }
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| SimError::Bind { addr: cfg.listen, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind { addr: cfg.listen, source })?;
        let state = AppState { market: market.clone(), cfg: Arc::new(cfg) };
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router(state)).with_graceful_shutdown(stop.cancelled_owned()).await;
            if let Err(e) = served {
                tracing::error!(error = &e as &dyn std::error::Error, "simulator server stopped");
            }
        });
        tracing::info!(%addr, "KooGallery simulator listening");
        Ok(Self { addr, market, shutdown, task: Some(task) })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give koofill as `koogallery.api_base`, e.g. `http://127.0.0.1:40123`
    /// (loopback when bound to every interface).
    pub fn base_url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() { Ipv4Addr::LOCALHOST.into() } else { self.addr.ip() };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The shared state, for scenario runs and inspection.
    pub fn marketplace(&self) -> &Marketplace {
        &self.market
    }

    /// Makes an order known to query order.
    pub fn register_order(&self, order: koofill_model::order::OrderInfo) {
        self.market.register_order(order);
    }

    /// Makes an instance known to the usage push.
    pub fn register_instance(&self, instance: SimInstance) {
        self.market.register_instance(instance);
    }

    /// Issues a license code.
    pub fn register_license(&self, license: SimLicense) {
        self.market.register_license(license);
    }

    /// Registers a tenant's OAuth client of an app, with the app credential's redirect URL.
    pub fn register_oauth_client(&self, client: crate::SimOAuthClient) {
        self.market.register_oauth_client(client);
    }

    /// Lets a user sign in to an app of a tenant.
    pub fn register_oauth_user(&self, user: crate::SimOAuthUser) {
        self.market.register_oauth_user(user);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.market.requests()
    }

    /// Every usage record received so far, with its result.
    pub fn usage_records(&self) -> Vec<UsageRecordResult> {
        self.market.usage_records()
    }

    /// Stops the server and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route(QUERY_ORDER_PATH, get(query_order::handle))
        .route(USAGE_PATH, post(usage_api::handle))
        .route(LICENSE_ACTIVATE_PATH, post(license_api::activate))
        .route(LICENSE_HEARTBEAT_PATH, post(license_api::heartbeat))
        .route(ADMIN_ORDERS_PATH, post(admin::orders))
        .route(ADMIN_INSTANCES_PATH, post(admin::instances))
        .route(&format!("{ADMIN_INSTANCES_PATH}/{{id}}/status"), post(admin::instance_status))
        .route(ADMIN_LICENSES_PATH, post(admin::licenses))
        .route(ADMIN_OAUTH_CLIENTS_PATH, post(admin::oauth_clients))
        .route(ADMIN_OAUTH_USERS_PATH, post(admin::oauth_users))
        .route(ADMIN_USAGE_RECORDS_PATH, get(admin::usage_records))
        .route(oauth::UNIFIED_LOGIN_PATH, get(oauth::unified_login))
        .route(oauth::AUTHORIZE_PATH, get(oauth::authorize))
        .route(oauth::TOKEN_PATH, post(oauth::token))
        .route(oauth::USERINFO_PATH, get(oauth::userinfo))
        .route(oauth::LOGOUT_PATH, get(oauth::logout))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        // The recorder reads the body itself (up to the limit), so it sits outside the limit layer.
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// The gateway's answer for a path that is no API.
async fn not_found() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "APIGW.0101",
        "The API does not exist or has not been published in the environment",
    )
}

/// An `{error_code, error_msg}` answer, the open APIs' error shape.
fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error_code": code, "error_msg": message }))).into_response()
}

/// Records the request (body, headers with `Authorization` redacted) and the verdict.
async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return api_error(StatusCode::PAYLOAD_TOO_LARGE, "MKT.0101", "Invalid parameter");
    };
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = if name == header::AUTHORIZATION {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect();
    let (method, path, query) =
        (parts.method.to_string(), parts.uri.path().to_owned(), parts.uri.query().unwrap_or_default().to_owned());
    let response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    let (parts, body) = response.into_parts();
    // Our own answers are small JSON documents; the limit only guards against a runaway body.
    let answer = axum::body::to_bytes(body, BODY_LIMIT).await.unwrap_or_default();
    let code = serde_json::from_slice::<Value>(&answer)
        .ok()
        .and_then(|v| v.get("error_code").or_else(|| v.get("resultCode")).and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    state.market.record_request(RecordedRequest {
        at: chrono::Utc::now(),
        method,
        path,
        query,
        headers,
        body: bytes.to_vec(),
        verdict: Verdict { status: parts.status.as_u16(), code },
    });
    Response::from_parts(parts, Body::from(answer))
}
