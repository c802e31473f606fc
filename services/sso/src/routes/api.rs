//! The product's server-to-server calls: `POST /v1/sso/redeem` and `POST /v1/sso/refresh`, both
//! with `Authorization: Bearer <sso.api_token>` (or the previous token during a rotation),
//! compared in constant time. Answers are JSON; errors are `{"error": "…"}`.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use koofill_config::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::{
    SsoState,
    assertion::{self, AssertionError},
    directory,
    oauth::OAuthError,
    sessions::{self, Redeemed, Renewal},
    state::Standing,
};

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn store_down(e: &koofill_store::StoreError) -> Response {
    tracing::warn!(error = e as &dyn std::error::Error, "sso store failed");
    error(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable; try again")
}

/// `None` when the bearer token is one of the configured API tokens; the 401 otherwise.
fn unauthorised(s: &SsoState, headers: &HeaderMap) -> Option<Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes);
    let accepted = presented.is_some_and(|p| {
        // Every configured token is compared, so the time taken does not tell which one matched.
        s.settings.api_tokens.iter().fold(false, |ok, t| ok | bool::from(t.expose_secret().as_bytes().ct_eq(p)))
    });
    if accepted {
        return None;
    }
    let mut response = error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(response)
}

#[derive(Debug, Deserialize)]
pub(super) struct RedeemBody {
    assertion: String,
}

/// Verifies an assertion and consumes its `jti`: 200 with the claims the first time, 409 after.
pub(super) async fn redeem(
    State(s): State<SsoState>,
    headers: HeaderMap,
    body: Result<Json<RedeemBody>, JsonRejection>,
) -> Response {
    if let Some(refusal) = unauthorised(&s, &headers) {
        return refusal;
    }
    let Ok(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "expected a JSON body {\"assertion\": \"kfsso1.…\"}");
    };
    let now = Utc::now();
    let claims = match assertion::verify(&body.assertion, &s.public_keys(), &s.settings.audience, now) {
        Ok(claims) => claims,
        Err(AssertionError::Expired(_)) => return error(StatusCode::UNAUTHORIZED, "assertion expired"),
        Err(e) => return error(StatusCode::UNAUTHORIZED, format!("assertion refused: {e}")),
    };
    match sessions::redeem(&s.db, &claims.sid, &claims.jti, now).await {
        Ok(Redeemed::Now) => {
            tracing::info!(tenant = %claims.tenant, app = %claims.app, user = %claims.sub, session = %claims.sid, "assertion redeemed");
            Json(claims).into_response()
        }
        Ok(Redeemed::AlreadyUsed) => error(StatusCode::CONFLICT, "assertion already used"),
        Ok(Redeemed::Void) => {
            error(StatusCode::UNAUTHORIZED, "assertion is no longer valid (session ended or refreshed)")
        }
        Err(e) => store_down(&e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RefreshBody {
    session: String,
}

/// Renews a session's KooGallery tokens and hands out a new assertion, if the user is still
/// authorised; a user the directory no longer authorises ends the session (403).
pub(super) async fn refresh(
    State(s): State<SsoState>,
    headers: HeaderMap,
    body: Result<Json<RefreshBody>, JsonRejection>,
) -> Response {
    if let Some(refusal) = unauthorised(&s, &headers) {
        return refusal;
    }
    let Ok(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "expected a JSON body {\"session\": \"…\"}");
    };
    match renew(&s, &body.session).await {
        Ok(response) | Err(response) => response,
    }
}

async fn renew(s: &SsoState, sid: &str) -> Result<Response, Response> {
    let now = Utc::now();
    let session = sessions::find(&s.db, sid)
        .await
        .map_err(|e| store_down(&e))?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such session"))?;
    if session.ended_at.is_some() {
        return Err(error(StatusCode::GONE, "session ended; sign in again"));
    }
    let (tenant_id, app_id, user_name) =
        (session.tenant_id.as_str(), session.app_id.as_str(), session.user_name.as_str());
    let end = |why: String| async move {
        if let Err(e) = sessions::end(&s.db, sid, now).await {
            return store_down(&e);
        }
        tracing::info!(tenant = tenant_id, app = app_id, user = user_name, "session ended on refresh");
        error(StatusCode::FORBIDDEN, why)
    };
    let user = match s.standing(tenant_id, app_id, user_name).await.map_err(|e| store_down(&e))? {
        Standing::Authorised(user) => user,
        Standing::Refused(why) => return Err(end(why).await),
    };
    let tenant = directory::tenant(&s.db, tenant_id).await.map_err(|e| store_down(&e))?;
    let app = directory::application(&s.db, tenant_id, app_id).await.map_err(|e| store_down(&e))?;
    let (Some(tenant), Some(app)) = (tenant, app) else {
        return Err(end(format!("tenant {tenant_id} or its application {app_id} is no longer active")).await);
    };
    let Some(refresh_enc) = session.refresh_token_enc.as_deref() else {
        return Err(error(StatusCode::CONFLICT, "KooGallery issued no refresh token for this session; sign in again"));
    };
    let opened = |what: &str| {
        tracing::error!(tenant = tenant_id, app = app_id, what, "stored secret not opened");
        error(StatusCode::INTERNAL_SERVER_ERROR, format!("koofill cannot open the stored {what}"))
    };
    let refresh_token = s.settings.tokens.open(refresh_enc).map_err(|_| opened("refresh token"))?;
    let secret = app.client_secret_enc.as_deref().unwrap_or_default();
    let secret = s.settings.client_secrets.open(secret).map_err(|_| opened("client secret"))?;
    let tokens = match s.oauth.refresh(&tenant.domain_name, &app.client_id, &secret, &refresh_token).await {
        Ok(tokens) => tokens,
        Err(e @ OAuthError::Refused { .. }) => {
            tracing::warn!(tenant = tenant_id, app = app_id, kind = e.kind(), "refresh refused by KooGallery");
            let _ = sessions::end(&s.db, sid, now).await;
            return Err(error(StatusCode::UNAUTHORIZED, format!("{e}; sign in again")));
        }
        Err(e) => {
            tracing::warn!(tenant = tenant_id, app = app_id, kind = e.kind(), "refresh failed");
            let status = if e.kind() == "timeout" { StatusCode::GATEWAY_TIMEOUT } else { StatusCode::BAD_GATEWAY };
            return Err(error(status, e.to_string()));
        }
    };
    let (access, new_refresh, token_expires_at) = s.seal(&tokens, now).map_err(|e| store_down(&e))?;
    // A server that does not rotate refresh tokens keeps the old one valid.
    let refresh_token_enc = new_refresh.or_else(|| session.refresh_token_enc.clone());
    let (assertion, jti, assertion_expires_at) = s.issue(&user, sid, now);
    let renewal = Renewal { access_token_enc: access, refresh_token_enc, token_expires_at, jti, assertion_expires_at };
    if !sessions::renew(&s.db, sid, renewal).await.map_err(|e| store_down(&e))? {
        return Err(error(StatusCode::GONE, "session ended; sign in again"));
    }
    tracing::info!(tenant = tenant_id, app = app_id, user = user_name, "session refreshed");
    Ok(Json(json!({ "assertion": assertion, "expires_in": s.settings.ttl_secs, "session": sid })).into_response())
}
