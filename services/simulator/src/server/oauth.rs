//! KooGallery's OAuth side of the 联营 login (spec §6), served on the simulator's base URL so that
//! a tenant's `domainName` can point at it: the unified login page, authorize, token, userinfo
//! and logout. The rules are in [`crate::oauth`].

use std::collections::BTreeMap;

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use koofill_signing::percent;
use serde::Deserialize;
use serde_json::json;

use super::AppState;

/// The unified login page's stand-in (spec §6.2 step 1).
pub const UNIFIED_LOGIN_PATH: &str = "/unified-login";
/// The authorize endpoint (spec §6.2, aPaaS variant).
pub const AUTHORIZE_PATH: &str = "/api/v1/oauth2/authorize";
/// The token endpoint (spec §6.3).
pub const TOKEN_PATH: &str = "/api/v1/oauth2/token";
/// The userinfo endpoint (spec §6.4).
pub const USERINFO_PATH: &str = "/api/v1/oauth2/userinfo";
/// The logout endpoint (spec §6.5).
pub const LOGOUT_PATH: &str = "/api/v1/logout";

/// A page the browser would show instead of a redirect.
fn page(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.to_owned()).into_response()
}

/// The 302 back to the app: `{redirect_uri}?code=…&tenant=…[&state=…]`.
fn back_to_app(redirect_uri: &str, code: &str, tenant: &str, state: Option<&str>) -> Response {
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut location =
        format!("{redirect_uri}{sep}code={}&tenant={}", percent::encode_rfc3986(code), percent::encode_rfc3986(tenant));
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        location.push_str(&format!("&state={}", percent::encode_rfc3986(state)));
    }
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UnifiedLoginQuery {
    app_id: Option<String>,
    user: Option<String>,
    tenant: Option<String>,
    state: Option<String>,
}

/// `GET /unified-login?appId=…[&user=…][&tenant=…][&state=…]`: `user` (else the first enabled
/// user of the app) signs in at once; 302 to the app's redirect URL.
pub(super) async fn unified_login(State(s): State<AppState>, Query(q): Query<UnifiedLoginQuery>) -> Response {
    let Some(app_id) = q.app_id.filter(|a| !a.is_empty()) else {
        return page(StatusCode::BAD_REQUEST, "appId is required");
    };
    let now = chrono::Utc::now();
    let login = s.market.lock().oauth.unified_login(&app_id, q.tenant.as_deref(), q.user.as_deref(), now);
    match login {
        Ok((redirect, code, tenant)) => back_to_app(&redirect, &code, &tenant, q.state.as_deref()),
        Err(why) => page(StatusCode::FORBIDDEN, &why),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    user: Option<String>,
}

/// `GET /api/v1/oauth2/authorize?response_type=code&client_id&redirect_uri[&state][&user]`.
pub(super) async fn authorize(State(s): State<AppState>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.response_type.as_deref() != Some("code") {
        return page(StatusCode::BAD_REQUEST, "response_type must be code");
    }
    let (Some(client_id), Some(redirect_uri)) = (q.client_id, q.redirect_uri) else {
        return page(StatusCode::BAD_REQUEST, "client_id and redirect_uri are required");
    };
    let now = chrono::Utc::now();
    let login = s.market.lock().oauth.authorize(&client_id, &redirect_uri, q.user.as_deref(), now);
    match login {
        Ok((redirect, code, tenant)) => back_to_app(&redirect, &code, &tenant, q.state.as_deref()),
        // Never redirect to an unverified URL: the error is shown here.
        Err(why) => page(StatusCode::BAD_REQUEST, &why),
    }
}

/// `POST /api/v1/oauth2/token` (form): the authorization code and refresh grants.
pub(super) async fn token(State(s): State<AppState>, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = percent::parse_query(&String::from_utf8_lossy(&body)).into_iter().collect();
    let answer = s.market.lock().oauth.token(&form, chrono::Utc::now());
    match answer {
        Ok(tokens) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(tokens)).into_response(),
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Json(json!({"error": refusal.error, "error_description": refusal.description}))).into_response()
        }
    }
}

/// `GET /api/v1/oauth2/userinfo` with `Authorization: Bearer …`.
pub(super) async fn userinfo(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let user = s.market.lock().oauth.userinfo(token, chrono::Utc::now());
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})),
        )
            .into_response();
    };
    let id =
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{}/{}", user.tenant_id, user.user_name).as_bytes());
    Json(json!({
        "id": id.to_string(),
        "userName": user.user_name,
        "name": user.name,
        "email": user.email.unwrap_or_default(),
        "mobile": user.mobile.unwrap_or_default(),
        "role": user.role,
        "organizationCode": user.org_code,
        "userId": id.simple().to_string(),
        "projectName": user.tenant_id,
        "tenant": user.tenant_id,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct LogoutQuery {
    redirect_url: Option<String>,
}

/// `GET /api/v1/logout[?redirect_url=…]`: 302 to `redirect_url`, else to the login page.
pub(super) async fn logout(Query(q): Query<LogoutQuery>) -> Response {
    let location = q.redirect_url.filter(|r| !r.is_empty()).unwrap_or_else(|| UNIFIED_LOGIN_PATH.to_owned());
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;
    use crate::market::Marketplace;
    use crate::oauth::{SimOAuthClient, SimOAuthUser};
    use std::sync::Arc;

    fn state() -> AppState {
        let market = Marketplace::new();
        market.register_oauth_client(SimOAuthClient {
            client_id: "c1".into(),
            client_secret: "s1".into(),
            tenant_id: "t1".into(),
            app_id: "a1".into(),
            redirect_uri: "https://isv.example/v1/sso/callback".into(),
        });
        market.register_oauth_user(SimOAuthUser::new("t1", "a1", "alice"));
        AppState { market, cfg: Arc::new(SimConfig::default()) }
    }

    fn location(response: &Response) -> String {
        response.headers()[header::LOCATION].to_str().unwrap().to_owned()
    }

    fn query_value(url: &str, name: &str) -> String {
        let query = url.split_once('?').unwrap().1;
        percent::parse_query(query).into_iter().find(|(k, _)| k == name).unwrap().1
    }

    async fn json_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn exchange(s: &AppState, body: String) -> Response {
        token(State(s.clone()), Bytes::from(body)).await
    }

    #[tokio::test]
    async fn a_code_is_redeemed_once_and_the_secret_must_match() {
        let s = state();
        let q = UnifiedLoginQuery { app_id: Some("a1".into()), user: None, tenant: None, state: Some("st".into()) };
        let response = unified_login(State(s.clone()), Query(q)).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let to = location(&response);
        assert!(to.starts_with("https://isv.example/v1/sso/callback?code="), "{to}");
        assert_eq!((query_value(&to, "tenant"), query_value(&to, "state")), ("t1".into(), "st".into()));
        let code = query_value(&to, "code");

        let wrong =
            exchange(&s, format!("grant_type=authorization_code&code={code}&client_id=c1&client_secret=nope")).await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json_of(wrong).await["error"], "invalid_client");

        let body = format!("grant_type=authorization_code&code={code}&client_id=c1&client_secret=s1");
        let ok = exchange(&s, body.clone()).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let tokens = json_of(ok).await;
        assert_eq!(tokens["token_type"], "Bearer");
        assert!(tokens["refresh_token"].as_str().is_some_and(|r| !r.is_empty()));

        let again = exchange(&s, body).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_of(again).await["error"], "invalid_grant");

        let mut headers = HeaderMap::new();
        let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
        headers.insert(header::AUTHORIZATION, bearer.parse().unwrap());
        let info = json_of(userinfo(State(s.clone()), headers).await).await;
        assert_eq!((info["userName"].as_str(), info["tenant"].as_str()), (Some("alice"), Some("t1")));
    }

    #[tokio::test]
    async fn userinfo_without_a_valid_token_is_401_as_the_spec_shows() {
        let s = state();
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer forged".parse().unwrap());
        let response = userinfo(State(s), headers).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = json_of(response).await;
        assert_eq!(body["error"], "unauthorized");
        assert_eq!(body["error_description"], "Full authentication is required to access this resource");
    }

    #[tokio::test]
    async fn authorize_redirects_only_to_the_registered_url() {
        let s = state();
        let query = |redirect: &str| AuthorizeQuery {
            response_type: Some("code".into()),
            client_id: Some("c1".into()),
            redirect_uri: Some(redirect.into()),
            state: Some("x".into()),
            user: Some("alice".into()),
        };
        let refused = authorize(State(s.clone()), Query(query("https://evil.example/cb"))).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.headers().get(header::LOCATION).is_none());
        let ok = authorize(State(s), Query(query("https://isv.example/v1/sso/callback"))).await;
        assert_eq!(query_value(&location(&ok), "state"), "x");
    }

    #[tokio::test]
    async fn clients_and_users_registered_through_the_signed_admin_api_can_sign_in() {
        use crate::{Registry, RemoteSimulator, Simulator};
        let sim = Simulator::start(SimConfig::default().with_access_key("AK", "SK")).await.unwrap();
        let remote = Registry::Remote(RemoteSimulator::new(&sim.base_url(), "AK", "SK").unwrap());
        let client = SimOAuthClient {
            client_id: "c9".into(),
            client_secret: "s9".into(),
            tenant_id: "t9".into(),
            app_id: "a9".into(),
            redirect_uri: "https://isv.example/cb".into(),
        };
        remote.oauth_client(&client).await.unwrap();
        remote.oauth_user(&SimOAuthUser::new("t9", "a9", "zoe")).await.unwrap();
        let forged = Registry::Remote(RemoteSimulator::new(&sim.base_url(), "AK", "wrong").unwrap());
        assert!(forged.oauth_user(&SimOAuthUser::new("t9", "a9", "eve")).await.is_err());

        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let login = http.get(format!("{}{UNIFIED_LOGIN_PATH}?appId=a9", sim.base_url())).send().await.unwrap();
        assert_eq!(login.status(), StatusCode::FOUND);
        let to = login.headers()[header::LOCATION].to_str().unwrap().to_owned();
        assert!(to.starts_with("https://isv.example/cb?code="), "{to}");
        assert_eq!(query_value(&to, "tenant"), "t9");
        let eve = http.get(format!("{}{UNIFIED_LOGIN_PATH}?appId=a9&user=eve", sim.base_url())).send().await.unwrap();
        assert_eq!(eve.status(), StatusCode::FORBIDDEN, "the forged registration was refused");
    }
}
