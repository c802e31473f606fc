//! The broker's HTTP routes:
//!
//! | Method, path | Who calls | What |
//! |---|---|---|
//! | `GET /v1/sso/login?tenant=T[&app=A]` | the buyer's browser | sets the state cookie, 302 to KooGallery's login page |
//! | `GET /v1/sso/callback?code=…&tenant=T[&state=…][&app=A]` | KooGallery (302) | code → token → userinfo → directory check → session, 302 to `sso.product_url?assertion=…` |
//! | `POST /v1/sso/redeem` `{"assertion"}` | the product (bearer `sso.api_token`) | consumes the assertion once; 200 claims, 409 used, 401 expired or forged |
//! | `POST /v1/sso/refresh` `{"session"}` | the product (bearer) | refresh grant, re-check the user; `{"assertion","expires_in","session"}` or 403 |
//! | `GET /v1/sso/logout?session=S[&redirect_url=…]` | the buyer's browser | ends the session, 302 to KooGallery's logout |
//! | `GET /v1/sso/assertion?assertion=…` | the buyer's browser | a page showing whether an assertion verifies and for whom, without redeeming it: the product's stand-in while setting up |

mod api;
mod callback;
mod landing;
mod login;
mod logout;

use axum::{
    Router,
    routing::{get, post},
};
use koofill_signing::percent;

use crate::SsoState;

/// The routes, ready to serve on their own or merged into another server.
pub fn router(state: SsoState) -> Router {
    Router::new()
        .route("/v1/sso/login", get(login::login))
        .route("/v1/sso/callback", get(callback::callback))
        .route("/v1/sso/redeem", post(api::redeem))
        .route("/v1/sso/refresh", post(api::refresh))
        .route("/v1/sso/logout", get(logout::logout))
        .route("/v1/sso/assertion", get(landing::landing))
        .with_state(state)
}

/// Values of the login URL template's placeholders.
#[derive(Debug)]
pub(crate) struct LoginParams<'a> {
    pub app_id: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub domain_name: &'a str,
}

/// Expands the `sso.login_url` template. A placeholder after the first `?` or `#` is a query
/// value and is percent-encoded; one before it (`{domain_name}` as the base) is inserted as is.
pub(crate) fn expand_login_url(template: &str, p: &LoginParams<'_>) -> String {
    let domain = p.domain_name.trim_end_matches('/');
    let values = [
        ("{app_id}", p.app_id),
        ("{client_id}", p.client_id),
        ("{redirect_uri}", p.redirect_uri),
        ("{state}", p.state),
        ("{domain_name}", domain),
    ];
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    let mut in_query = false;
    while let Some(open) = rest.find('{') {
        let (before, from) = rest.split_at(open);
        in_query |= before.contains(['?', '#']);
        out.push_str(before);
        match values.iter().find(|(name, _)| from.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(&if in_query { percent::encode_rfc3986(value) } else { (*value).to_owned() });
                rest = &from[name.len()..];
            }
            None => {
                out.push('{');
                rest = &from[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `url` with `name=value` appended to its query.
pub(crate) fn with_query(url: &str, name: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{name}={}", percent::encode_rfc3986(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_placeholders_encoding_query_values() {
        let p = LoginParams {
            app_id: "a 1",
            client_id: "c&1",
            redirect_uri: "https://sso.example.com/v1/sso/callback",
            state: "s",
            domain_name: "https://t.example.com/",
        };
        assert_eq!(
            expand_login_url(koofill_config::DEFAULT_LOGIN_URL, &p),
            "https://macroverse.huaweicloud.com/unified-login/#/portal-login?ind=UNOP&appId=a%201"
        );
        assert_eq!(
            expand_login_url(
                "{domain_name}/api/v1/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={redirect_uri}&state={state}&x={unknown}",
                &p
            ),
            "https://t.example.com/api/v1/oauth2/authorize?response_type=code&client_id=c%261\
             &redirect_uri=https%3A%2F%2Fsso.example.com%2Fv1%2Fsso%2Fcallback&state=s&x={unknown}"
        );
        assert_eq!(with_query("https://p/sso", "assertion", "a.b"), "https://p/sso?assertion=a.b");
        assert_eq!(with_query("https://p/sso?x=1", "assertion", "a"), "https://p/sso?x=1&assertion=a");
    }
}
