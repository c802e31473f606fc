//! `GET /v1/sso/logout`: ends the session here, then sends the browser to KooGallery's logout
//! (spec §6.5) so the login state there is cleared too.

use axum::{
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use serde::Deserialize;

use super::with_query;
use crate::{SsoState, directory, pages::Page, sessions};

#[derive(Debug, Deserialize)]
pub(super) struct LogoutQuery {
    session: Option<String>,
    redirect_url: Option<String>,
}

/// Ends the session and redirects to `{domainName}/api/v1/logout[?redirect_url=…]`.
pub(super) async fn logout(State(s): State<SsoState>, Query(q): Query<LogoutQuery>) -> Response {
    let unavailable = |e: koofill_store::StoreError| {
        tracing::warn!(error = &e as &dyn std::error::Error, "sso store failed");
        Page::new(StatusCode::SERVICE_UNAVAILABLE, "sign-out is unavailable right now; please try again shortly")
            .into_response()
    };
    let Some(sid) = q.session.filter(|s| !s.is_empty()) else {
        return Page::new(StatusCode::BAD_REQUEST, "the sign-out link lacks its session parameter").into_response();
    };
    let session = match sessions::find(&s.db, &sid).await {
        Ok(Some(session)) => session,
        Ok(None) => return Page::new(StatusCode::NOT_FOUND, "no such session").into_response(),
        Err(e) => return unavailable(e),
    };
    if let Err(e) = sessions::end(&s.db, &sid, Utc::now()).await {
        return unavailable(e);
    }
    tracing::info!(tenant = %session.tenant_id, app = %session.app_id, user = %session.user_name, "logged out");
    let tenant = match directory::tenant(&s.db, &session.tenant_id).await {
        Ok(tenant) => tenant,
        Err(e) => return unavailable(e),
    };
    let logout = tenant.and_then(|t| s.oauth.endpoint(&t.domain_name, "/api/v1/logout").ok());
    let location = match (logout, q.redirect_url.filter(|r| !r.is_empty())) {
        (Some(url), Some(back)) => with_query(url.as_str(), "redirect_url", &back),
        (Some(url), None) => url.to_string(),
        // The tenant is gone: nothing to clear at KooGallery. No redirect to `redirect_url`
        // either: only KooGallery's logout may send the browser to a URL a link chose.
        (None, _) => return Page::new(StatusCode::OK, "you are signed out").into_response(),
    };
    (StatusCode::FOUND, [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".to_owned())]).into_response()
}
