//! `GET /v1/sso/assertion?assertion=…`: a landing page that shows what an assertion says.
//!
//! It stands in for the seller's product while a deployment is being set up (`koofill dev`
//! points `sso.product_url` here): after a login the browser lands on a page that says whether
//! the assertion verifies (signature, audience, expiry) and for whom. It does not redeem the
//! assertion, so the product can still do that once; the claims it shows are the ones the token
//! itself carries, readable by whoever holds it.

use axum::{
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use crate::{SsoState, pages::Page};

/// The query.
#[derive(Debug, Deserialize)]
pub(crate) struct Params {
    #[serde(default)]
    assertion: String,
}

/// The handler.
pub(crate) async fn landing(State(state): State<SsoState>, Query(params): Query<Params>) -> Response {
    if params.assertion.is_empty() {
        return Page::new(StatusCode::BAD_REQUEST, "no assertion given (?assertion=…)").into_response();
    }
    let verified =
        crate::verify(&params.assertion, &state.public_keys(), state.settings().audience(), chrono::Utc::now());
    let claims = match verified {
        Ok(claims) => claims,
        Err(e) => return Page::new(StatusCode::UNAUTHORIZED, format!("the assertion is refused: {e}")).into_response(),
    };
    let rows = [
        ("user", claims.sub.as_str()),
        ("name", claims.name.as_str()),
        ("role", claims.role.as_str()),
        ("department", claims.org_code.as_str()),
        ("email", claims.email.as_deref().unwrap_or("")),
        ("tenant", claims.tenant.as_str()),
        ("application", claims.app.as_str()),
        ("instance", claims.instance.as_str()),
        ("session", claims.sid.as_str()),
    ];
    let table: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th align=\"left\">{k}</th><td>{}</td></tr>", crate::pages::escape(v)))
        .collect();
    let body = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Signed in</title></head><body>\
         <h1>Signed in</h1><p>The assertion verifies (signature, audience, expiry {}). It has not been \
         redeemed: the product redeems it once with <code>POST /v1/sso/redeem</code>.</p>\
         <table>{table}</table></body></html>\n",
        claims.expires_at().to_rfc3339()
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}
