//! The simulator's own registration API, so that a scenario run in one process can make its orders,
//! instances and license codes known to a simulator running in another (`koofill dev`). Signed
//! like the open APIs, so that only the seller holding the AK/SK can change what the marketplace
//! answers.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use koofill_model::order::OrderInfo;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{AppState, api_error, auth};
use crate::license::SimLicense;
use crate::market::{InstanceStatus, SimInstance};
use crate::oauth::{SimOAuthClient, SimOAuthUser};

fn accept<T: DeserializeOwned>(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    store: impl FnOnce(T) -> bool,
) -> Response {
    if let Err(refusal) = auth::authenticate(&state.cfg, method, uri, headers, body, chrono::Utc::now()) {
        return refusal.into_response();
    }
    let Ok(value) = serde_json::from_slice::<T>(body) else {
        return api_error(StatusCode::BAD_REQUEST, "MKT.0101", "Invalid parameter");
    };
    if store(value) {
        Json(json!({"error_code": "MKT.0000", "error_msg": "success"})).into_response()
    } else {
        api_error(StatusCode::INTERNAL_SERVER_ERROR, "MKT.9001", "Instance ID not found.")
    }
}

/// `POST /sim/v1/orders` with an `OrderInfo`.
pub(super) async fn orders(State(s): State<AppState>, m: Method, u: Uri, h: HeaderMap, body: Bytes) -> Response {
    accept(&s, &m, &u, &h, &body, |order: OrderInfo| {
        s.market.register_order(order);
        true
    })
}

/// `POST /sim/v1/instances` with a [`SimInstance`].
pub(super) async fn instances(State(s): State<AppState>, m: Method, u: Uri, h: HeaderMap, body: Bytes) -> Response {
    accept(&s, &m, &u, &h, &body, |instance: SimInstance| {
        s.market.register_instance(instance);
        true
    })
}

/// `POST /sim/v1/instances/{id}/status` with an [`InstanceStatus`] (`"Frozen"`, …).
pub(super) async fn instance_status(
    State(s): State<AppState>,
    Path(id): Path<String>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    accept(&s, &m, &u, &h, &body, |status: InstanceStatus| s.market.set_instance_status(&id, status))
}

/// `POST /sim/v1/licenses` with a [`SimLicense`].
pub(super) async fn licenses(State(s): State<AppState>, m: Method, u: Uri, h: HeaderMap, body: Bytes) -> Response {
    accept(&s, &m, &u, &h, &body, |license: SimLicense| {
        s.market.register_license(license);
        true
    })
}

/// `POST /sim/v1/oauth/clients` with a [`SimOAuthClient`].
pub(super) async fn oauth_clients(State(s): State<AppState>, m: Method, u: Uri, h: HeaderMap, body: Bytes) -> Response {
    accept(&s, &m, &u, &h, &body, |client: SimOAuthClient| {
        s.market.register_oauth_client(client);
        true
    })
}

/// `POST /sim/v1/oauth/users` with a [`SimOAuthUser`].
pub(super) async fn oauth_users(State(s): State<AppState>, m: Method, u: Uri, h: HeaderMap, body: Bytes) -> Response {
    accept(&s, &m, &u, &h, &body, |user: SimOAuthUser| {
        s.market.register_oauth_user(user);
        true
    })
}

/// `GET /sim/v1/usage-records[?instance_id=…]`: the usage records received, in order of arrival,
/// with their results, so that a scenario in another process can check what the seller pushed.
pub(super) async fn usage_records(State(s): State<AppState>, m: Method, u: Uri, h: HeaderMap) -> Response {
    if let Err(refusal) = auth::authenticate(&s.cfg, &m, &u, &h, b"", chrono::Utc::now()) {
        return refusal.into_response();
    }
    let wanted = u.query().and_then(|q| {
        let url = reqwest::Url::parse(&format!("http://sim/?{q}")).ok()?;
        url.query_pairs().find(|(k, _)| k == "instance_id").map(|(_, v)| v.into_owned())
    });
    Json(s.market.usage_views(wanted.as_deref())).into_response()
}
