//! A 联营 sign-in rehearsed end to end (spec §5, §6): the simulator binds an enterprise to a
//! joint-operation instance through the production address (tenantSync with the simulator as the
//! tenant's `domainName`, applicationSync with an RSA-encrypted client secret, authSync), plays
//! KooGallery's unified login and OAuth endpoints for it, and signs a user in through koofill's
//! SSO broker until the product's landing URL carries an assertion, which it then redeems.
//!
//! `koofill dev --demo` runs it; the end-to-end tests use its steps to check refusals.

use std::time::Duration;

use koofill_signing::client_secret::{self, OaepVariant};
use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::bodies::{self, Tenant};
use crate::callback::CallbackSender;
use crate::oauth::{SimOAuthClient, SimOAuthUser};
use crate::server::Simulator;

/// The joint-operation enterprise the rehearsal binds.
#[derive(Debug, Clone)]
pub struct Enterprise {
    /// The instance it is bound to.
    pub instance_id: String,
    /// `tenantId`.
    pub tenant_id: String,
    /// The application (`appId`).
    pub app_id: String,
    /// Its OAuth client.
    pub client_id: String,
    /// The client secret, as KooGallery and the seller's key know it.
    pub client_secret: String,
    /// Users authorised by authSync: `(userName, name, role)`.
    pub users: Vec<(String, String, String)>,
}

impl Enterprise {
    /// An enterprise with fresh ids and two authorised users, `zhangsan01` (admin) and `lisi02`.
    pub fn fresh() -> Self {
        let id = |prefix: &str| format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        Self {
            instance_id: id("sso-instance"),
            tenant_id: id("tenant"),
            app_id: id("app"),
            client_id: id("client"),
            client_secret: id("secret"),
            users: vec![
                ("zhangsan01".to_owned(), "张三".to_owned(), "admin".to_owned()),
                ("lisi02".to_owned(), "李四".to_owned(), "user".to_owned()),
            ],
        }
    }
}

/// Why a rehearsal step did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {why}")]
pub struct SsoError {
    /// The step.
    pub step: &'static str,
    /// What happened: the status and the page or answer, or the transport failure.
    pub why: String,
}

fn fail(step: &'static str, why: impl Into<String>) -> SsoError {
    SsoError { step, why: why.into() }
}

/// Binds `enterprise` through `sender` (the production address, with the Kit key) and registers
/// its OAuth client and users with `simulator`, whose base URL becomes the tenant's
/// `domainName`; `callback_url` is the broker's `/v1/sso/callback` (the app credential's
/// redirect URL).
///
/// # Errors
/// [`SsoError`] when a sync is not answered `000000` or the secret cannot be encrypted.
pub async fn bind(
    sender: &CallbackSender,
    simulator: &Simulator,
    enterprise: &Enterprise,
    public_key_pem: &str,
    callback_url: &str,
) -> Result<(), SsoError> {
    let e = enterprise;
    simulator.register_oauth_client(SimOAuthClient {
        client_id: e.client_id.clone(),
        client_secret: e.client_secret.clone(),
        tenant_id: e.tenant_id.clone(),
        app_id: e.app_id.clone(),
        redirect_uri: callback_url.to_owned(),
    });
    for (user_name, name, role) in &e.users {
        let mut user = SimOAuthUser::new(&e.tenant_id, &e.app_id, user_name);
        user.name = name.clone();
        user.role = role.clone();
        simulator.register_oauth_user(user);
    }
    let tenant = Tenant {
        tenant_id: e.tenant_id.clone(),
        tenant_code: "ssodemo".to_owned(),
        name: "单点登录演示企业".to_owned(),
        domain_name: simulator.base_url(),
    };
    let secret = client_secret::encrypt(public_key_pem, &e.client_secret, OaepVariant::Sha256Mgf1Sha1)
        .map_err(|err| fail("applicationSync", format!("cannot encrypt the client secret: {err}")))?;
    let users: Vec<Value> =
        e.users.iter().map(|(user_name, name, role)| bodies::user(user_name, name, "10000", role)).collect();
    let syncs = [
        ("tenantSync", bodies::tenant_sync(&e.instance_id, "SSODEMO", &tenant, 1, false)),
        (
            "applicationSync",
            bodies::application_sync(&e.instance_id, &e.tenant_id, &e.app_id, &e.client_id, &secret, 1, false),
        ),
        ("authSync", bodies::auth_sync(&e.instance_id, &e.tenant_id, &e.app_id, &users, 1, false)),
    ];
    for (interface, body) in syncs {
        let exchange = sender.send_kit(interface, &body).await;
        if exchange.result_code() != "000000" {
            return Err(fail(if interface == "authSync" { "authSync" } else { "bind" }, exchange.summary()));
        }
    }
    Ok(())
}

/// Signs `user` in: the broker's login → the simulator's unified login → the broker's callback;
/// returns where the browser lands (the product URL with `?assertion=…`).
///
/// # Errors
/// [`SsoError`] naming the step that did not redirect as it should, with the page's text.
pub async fn sign_in(broker_url: &str, tenant_id: &str, app_id: &str, user: &str) -> Result<String, SsoError> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| fail("client", e.to_string()))?;
    let login = http
        .get(format!("{broker_url}/v1/sso/login?tenant={tenant_id}&app={app_id}"))
        .send()
        .await
        .map_err(|e| fail("login", e.to_string()))?;
    let cookie = login
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let page = redirect("login", login).await?;
    let sep = if page.contains('?') { '&' } else { '?' };
    let signed_in =
        http.get(format!("{page}{sep}user={user}")).send().await.map_err(|e| fail("unified login", e.to_string()))?;
    let callback = redirect("unified login", signed_in).await?;
    let landed =
        http.get(&callback).header(header::COOKIE, cookie).send().await.map_err(|e| fail("callback", e.to_string()))?;
    redirect("callback", landed).await
}

async fn redirect(step: &'static str, response: reqwest::Response) -> Result<String, SsoError> {
    if response.status() == StatusCode::FOUND
        && let Some(to) = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok())
    {
        return Ok(to.to_owned());
    }
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    Err(fail(step, format!("{status}: {}", page_text(&text))))
}

/// The message of an HTML page, without its tags.
fn page_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The assertion in a landing URL (`…?assertion=…`).
pub fn assertion_of(landing_url: &str) -> Option<&str> {
    landing_url.split(['?', '&']).find_map(|pair| pair.strip_prefix("assertion="))
}

/// Redeems `assertion` as the product does (`POST /v1/sso/redeem`, bearer `api_token`); the claims.
///
/// # Errors
/// [`SsoError`] with the status and answer when the broker refuses it.
pub async fn redeem(broker_url: &str, api_token: &str, assertion: &str) -> Result<Value, SsoError> {
    let response = reqwest::Client::new()
        .post(format!("{broker_url}/v1/sso/redeem"))
        .bearer_auth(api_token)
        .json(&serde_json::json!({ "assertion": assertion }))
        .send()
        .await
        .map_err(|e| fail("redeem", e.to_string()))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if status == StatusCode::OK { Ok(body) } else { Err(fail("redeem", format!("{status}: {body}"))) }
}

/// What a rehearsal showed.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The enterprise bound.
    pub enterprise: Enterprise,
    /// Where the browser landed: the product URL with the assertion.
    pub landing_url: String,
    /// The claims the redeem returned.
    pub claims: Value,
}

impl std::fmt::Display for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let claim = |name: &str| self.claims.get(name).and_then(Value::as_str).unwrap_or("?").to_owned();
        write!(
            f,
            "single sign-on: {} ({}, {}) of tenant {} signed in to {} through the simulator's unified login; \
             the assertion verified and was redeemed once",
            claim("sub"),
            claim("name"),
            claim("role"),
            claim("tenant"),
            claim("app"),
        )
    }
}

/// The whole rehearsal: bind a fresh enterprise, then sign its first user in (retrying while the
/// syncs are still being applied, up to `patience`) and redeem the assertion.
///
/// # Errors
/// [`SsoError`] from the last attempt when it never went through.
pub async fn rehearse(
    sender: &CallbackSender,
    simulator: &Simulator,
    broker_url: &str,
    api_token: &str,
    public_key_pem: &str,
    patience: Duration,
) -> Result<SignedIn, SsoError> {
    let enterprise = Enterprise::fresh();
    bind(sender, simulator, &enterprise, public_key_pem, &format!("{broker_url}/v1/sso/callback")).await?;
    let user = enterprise.users[0].0.clone();
    let deadline = tokio::time::Instant::now() + patience;
    let landing_url = loop {
        match sign_in(broker_url, &enterprise.tenant_id, &enterprise.app_id, &user).await {
            Ok(url) => break url,
            // The syncs reach the directory through the provisioning worker: not there yet is a
            // 404 (tenant, app) or 403 (user) for a little while.
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "sign-in not possible yet");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let assertion = assertion_of(&landing_url).ok_or_else(|| fail("callback", "the landing URL has no assertion"))?;
    let claims = redeem(broker_url, api_token, assertion).await?;
    Ok(SignedIn { enterprise, landing_url, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_as_text_and_assertions_are_found() {
        assert_eq!(page_text("<html><p>user <b>x</b> is refused</p></html>"), "user x is refused");
        assert_eq!(assertion_of("https://p/sso?x=1&assertion=kfsso1.a.b"), Some("kfsso1.a.b"));
        assert_eq!(assertion_of("https://p/sso"), None);
    }
}
