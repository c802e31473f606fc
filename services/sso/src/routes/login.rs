//! `GET /v1/sso/login`: starts a login for a tenant's app (spec §6.2 step 1).

use axum::{
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{LoginParams, expand_login_url};
use crate::{
    SsoState,
    cookie::{LIFETIME_SECS, LoginState},
    directory,
    pages::Page,
    state::random_id,
};

#[derive(Debug, Deserialize)]
pub(super) struct LoginQuery {
    tenant: Option<String>,
    app: Option<String>,
}

/// Checks the tenant and app are in force, binds a fresh `state` to the browser, and sends it
/// to the login page.
pub(super) async fn login(State(s): State<SsoState>, Query(q): Query<LoginQuery>) -> Response {
    match start(&s, q).await {
        Ok(response) => response,
        Err(page) => page.into_response(),
    }
}

async fn start(s: &SsoState, q: LoginQuery) -> Result<Response, Page> {
    let tenant_id = q.tenant.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        Page::new(StatusCode::BAD_REQUEST, "the sign-in link is incomplete: the tenant parameter is missing")
    })?;
    let db_down = |e: koofill_store::StoreError| {
        tracing::warn!(error = &e as &dyn std::error::Error, tenant = %tenant_id, "directory not readable");
        Page::new(StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable right now; please try again shortly")
    };
    let tenant = directory::tenant(&s.db, &tenant_id).await.map_err(db_down)?.ok_or_else(|| {
        Page::new(StatusCode::NOT_FOUND, format!("tenant {tenant_id} is not known here, or no longer active"))
    })?;
    let app = match q.app.filter(|a| !a.trim().is_empty()) {
        Some(app_id) => {
            directory::application(&s.db, &tenant_id, &app_id).await.map_err(db_down)?.ok_or_else(|| {
                Page::new(StatusCode::NOT_FOUND, format!("application {app_id} is not active for tenant {tenant_id}"))
            })?
        }
        None => directory::only_application(&s.db, &tenant_id).await.map_err(db_down)?.ok_or_else(|| {
            Page::new(
                StatusCode::NOT_FOUND,
                format!("tenant {tenant_id} has no single active application; name one with app="),
            )
        })?,
    };
    // Refuse a domain the callback could not use before the user signs in at all.
    if let Err(e) = s.oauth.endpoint(&tenant.domain_name, "/api/v1/oauth2/token") {
        tracing::warn!(tenant = %tenant_id, kind = e.kind(), "tenant domainName unusable");
        return Err(Page::new(StatusCode::BAD_GATEWAY, e.to_string()));
    }
    let state = random_id();
    let cookie = LoginState {
        state: state.clone(),
        tenant: tenant_id.clone(),
        app: app.app_id.clone(),
        expires: chrono::Utc::now().timestamp() + LIFETIME_SECS,
    };
    let location = expand_login_url(
        &s.settings.login_url,
        &LoginParams {
            app_id: &app.app_id,
            client_id: &app.client_id,
            redirect_uri: &s.settings.redirect_uri,
            state: &state,
            domain_name: &tenant.domain_name,
        },
    );
    tracing::info!(tenant = %tenant_id, app = %app.app_id, "login started");
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".to_owned())],
        [(header::SET_COOKIE, cookie.set_cookie(&s.settings.cookie_key, s.settings.secure_cookies))],
    )
        .into_response())
}
