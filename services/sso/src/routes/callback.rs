//! `GET /v1/sso/callback`: KooGallery's redirect after a login (spec §6.2 steps 2–4): the code is
//! redeemed with the tenant's Kit client, the user looked up, checked against the directory, and
//! sent to the product with a fresh assertion.
//!
//! Logs name the tenant, app and user and the kind of a failure, never the code, the secret or a
//! token.

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use koofill_store::{StoreError, entities::sso_sessions};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::with_query;
use crate::{
    SsoState,
    cookie::{LoginState, clear_cookie},
    directory,
    oauth::OAuthError,
    pages::Page,
    sessions,
    state::{Standing, random_id},
};

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    tenant: Option<String>,
    state: Option<String>,
    app: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery").field("tenant", &self.tenant).field("app", &self.app).finish_non_exhaustive()
    }
}

/// A failed login: the page, and the outcome it is counted as.
struct Failure(Page, &'static str);

impl Failure {
    fn new(status: StatusCode, outcome: &'static str, message: impl Into<String>) -> Self {
        Self(Page::new(status, message), outcome)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = &e as &dyn std::error::Error, "sso store failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "error",
            "sign-in is unavailable right now; please try again shortly",
        )
    }
}

fn oauth_failure(e: &OAuthError, step: &str, tenant: &str, app: &str) -> Failure {
    tracing::warn!(tenant, app, step, kind = e.kind(), "KooGallery OAuth call failed");
    let (status, outcome) = match e {
        OAuthError::Refused { error, .. } if error == "invalid_grant" => (StatusCode::BAD_REQUEST, "oauth_refused"),
        OAuthError::Refused { .. } | OAuthError::Domain(_) => (StatusCode::BAD_GATEWAY, "oauth_refused"),
        OAuthError::Unreachable("timeout") => (StatusCode::GATEWAY_TIMEOUT, "oauth_unavailable"),
        _ => (StatusCode::BAD_GATEWAY, "oauth_unavailable"),
    };
    Failure::new(status, outcome, e.explain())
}

/// Finishes the login; every answer clears the state cookie, which served its one login.
pub(super) async fn callback(
    State(s): State<SsoState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let mut response = match finish(&s, &headers, q).await {
        Ok(response) => {
            s.metrics.login("success");
            response
        }
        Err(Failure(page, outcome)) => {
            s.metrics.login(outcome);
            page.into_response()
        }
    };
    response.headers_mut().append(header::SET_COOKIE, clear_cookie());
    response
}

async fn finish(s: &SsoState, headers: &HeaderMap, q: CallbackQuery) -> Result<Response, Failure> {
    let now = Utc::now();
    let (Some(code), Some(tenant_id)) = (q.code.filter(|c| !c.is_empty()), q.tenant.filter(|t| !t.trim().is_empty()))
    else {
        return Err(Failure::new(StatusCode::BAD_REQUEST, "bad_state", "the sign-in answer lacks its code or tenant"));
    };
    let cookie =
        LoginState::from_request(headers, &s.settings.cookie_key, now.timestamp()).filter(|c| c.tenant == tenant_id);
    if let Some(state) = &q.state {
        let matches = cookie.as_ref().is_some_and(|c| bool::from(c.state.as_bytes().ct_eq(state.as_bytes())));
        if !matches {
            tracing::warn!(tenant = %tenant_id, "login state does not match the browser's cookie");
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "bad_state",
                "this sign-in was not started in this browser, or took too long; please start it again",
            ));
        }
    }
    let tenant = directory::tenant(&s.db, &tenant_id).await?.ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            format!("tenant {tenant_id} is not known here, or no longer active"),
        )
    })?;
    let app = match q.app.filter(|a| !a.is_empty()).or_else(|| cookie.map(|c| c.app)) {
        Some(app_id) => directory::application(&s.db, &tenant_id, &app_id).await?.ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                "unknown_app",
                format!("application {app_id} is not active for tenant {tenant_id}"),
            )
        })?,
        None => directory::only_application(&s.db, &tenant_id).await?.ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                "unknown_app",
                format!("tenant {tenant_id} has no single active application to sign in to"),
            )
        })?,
    };
    let app_id = app.app_id.as_str();
    let secret = app
        .client_secret_enc
        .as_deref()
        .map(|sealed| s.settings.client_secrets.open(sealed))
        .transpose()
        .map_err(|e| {
            tracing::error!(error = &e as &dyn std::error::Error, tenant = %tenant_id, app = app_id, "client secret not opened");
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "error",
                "koofill cannot open the application's stored client secret; have KooGallery sync the application again",
            )
        })?
        .unwrap_or_default();
    let domain = tenant.domain_name.as_str();
    let tokens = s
        .oauth
        .exchange_code(domain, &app.client_id, &secret, &code, &s.settings.redirect_uri)
        .await
        .map_err(|e| oauth_failure(&e, "token", &tenant_id, app_id))?;
    let info = s
        .oauth
        .userinfo(domain, &tokens.access_token)
        .await
        .map_err(|e| oauth_failure(&e, "userinfo", &tenant_id, app_id))?;
    let user_name = info.user_name.as_str();
    if info.tenant.as_deref().is_some_and(|t| !t.is_empty() && t != tenant_id) {
        tracing::warn!(tenant = %tenant_id, app = app_id, user = user_name, "userinfo names another tenant");
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "user_refused",
            format!("user {user_name} belongs to another enterprise than tenant {tenant_id}"),
        ));
    }
    let user = match s.standing(&tenant_id, app_id, user_name).await? {
        Standing::Authorised(user) => user,
        Standing::Refused(why) => {
            tracing::info!(tenant = %tenant_id, app = app_id, user = user_name, "login refused by the directory");
            return Err(Failure::new(StatusCode::FORBIDDEN, "user_refused", why));
        }
    };
    let (access, refresh, token_expires_at) = s.seal(&tokens, now)?;
    let sid = random_id();
    let (assertion, jti, assertion_expires_at) = s.issue(&user, &sid, now);
    sessions::create(
        &s.db,
        sso_sessions::Model {
            id: sid.clone(),
            tenant_id: tenant_id.clone(),
            app_id: app_id.to_owned(),
            instance_id: user.instance_id.clone(),
            user_name: user_name.to_owned(),
            access_token_enc: access,
            refresh_token_enc: refresh,
            token_expires_at,
            assertion_jti: jti,
            assertion_expires_at,
            redeemed_at: None,
            created_at: now,
            ended_at: None,
        },
    )
    .await?;
    tracing::info!(tenant = %tenant_id, app = app_id, user = user_name, session = %sid, "login succeeded");
    let location = with_query(&s.settings.product_url, "assertion", &assertion);
    Ok((StatusCode::FOUND, [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".to_owned())])
        .into_response())
}
