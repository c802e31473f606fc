//! The back channel to the tenant's OAuth endpoints (spec §6.3–§6.5): token (authorization code
//! and refresh grants) and userinfo, on the tenant's `domainName`.
//!
//! Nothing secret leaves this module in an error: KooGallery's `error_description` is scrubbed of
//! the code, the client secret and the tokens sent (some OAuth servers quote the code they refused)
//! and shortened, and transport errors are reduced to their kind.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

/// Why a call to the tenant's OAuth endpoints failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The tenant's `domainName` is not a usable base URL (or not https while
    /// `sso.allow_insecure_domains` is off).
    #[error("the tenant's domainName {0:?} is not a usable https:// URL")]
    Domain(String),
    /// KooGallery answered 4xx with an OAuth error.
    #[error("KooGallery refused ({error}): {description}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// `error`: `invalid_grant`, `invalid_client`, `unauthorized`, …
        error: String,
        /// `error_description`, scrubbed.
        description: String,
    },
    /// KooGallery answered something else than the documented JSON (5xx, HTML, …).
    #[error("KooGallery answered HTTP {0} without an OAuth answer")]
    Unexpected(u16),
    /// KooGallery could not be reached, or did not answer in time.
    #[error("KooGallery could not be reached ({0})")]
    Unreachable(&'static str),
}

impl OAuthError {
    /// A short label for logs and metrics (never a secret).
    pub fn kind(&self) -> &str {
        match self {
            Self::Domain(_) => "bad_domain",
            Self::Refused { error, .. } => error,
            Self::Unexpected(_) => "unexpected_answer",
            Self::Unreachable(kind) => kind,
        }
    }

    /// What a person should read on the error page.
    pub fn explain(&self) -> String {
        match self {
            Self::Refused { error, description, .. } if error == "invalid_client" || error == "unauthorized_client" => {
                format!(
                    "KooGallery refused the client credentials ({error}): {description}. The application's client \
                     secret stored by koofill does not match KooGallery's; have KooGallery sync the application again."
                )
            }
            Self::Refused { error, description, .. } if error == "invalid_grant" => {
                format!("the login code was already used or expired ({error}): {description}. Please sign in again.")
            }
            other => other.to_string(),
        }
    }
}

/// Tokens KooGallery issued.
#[derive(Clone, Deserialize)]
pub(crate) struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds; some servers send it as a string.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub expires_in: Option<i64>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

fn lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        I(i64),
        S(String),
    }
    Ok(match Option::<Num>::deserialize(d)? {
        Some(Num::I(n)) => Some(n),
        Some(Num::S(s)) => s.trim().parse().ok(),
        None => None,
    })
}

/// The user as userinfo describes them (spec §6.4; all strings).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserInfo {
    pub user_name: String,
    /// 企业的domainId: the tenantId of the sync interfaces.
    #[serde(default)]
    pub tenant: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A client of one tenant's OAuth endpoints.
#[derive(Debug, Clone)]
pub(crate) struct OAuthClient {
    http: reqwest::Client,
    allow_insecure: bool,
}

/// Longest `error_description` shown.
const DESCRIPTION_MAX: usize = 200;

fn scrub(description: &str, secrets: &[&str]) -> String {
    let mut text = description.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret, "[redacted]");
    }
    let text: String = text.chars().filter(|c| !c.is_control()).take(DESCRIPTION_MAX).collect();
    if text.trim().is_empty() { "no description".to_owned() } else { text }
}

impl OAuthClient {
    pub(crate) fn new(timeout: Duration, allow_insecure: bool) -> Self {
        // No redirects: a token endpoint that redirects is misconfigured, and following it would
        // take the form elsewhere.
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { http, allow_insecure }
    }

    /// `{domain}{path}`, once the domain is checked.
    pub(crate) fn endpoint(&self, domain: &str, path: &str) -> Result<Url, OAuthError> {
        let base = domain.trim().trim_end_matches('/');
        let url = Url::parse(&format!("{base}{path}")).map_err(|_| OAuthError::Domain(domain.to_owned()))?;
        let scheme_ok = url.scheme() == "https" || (self.allow_insecure && url.scheme() == "http");
        if !scheme_ok || url.host_str().is_none_or(str::is_empty) {
            return Err(OAuthError::Domain(domain.to_owned()));
        }
        Ok(url)
    }

    /// Redeems a login `code` (authorization code grant).
    pub(crate) async fn exchange_code(
        &self,
        domain: &str,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, OAuthError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("redirect_uri", redirect_uri),
        ];
        self.token(domain, &form, &[code, client_secret]).await
    }

    /// Renews the tokens with a refresh token (refresh grant).
    pub(crate) async fn refresh(
        &self,
        domain: &str,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> Result<Tokens, OAuthError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ];
        self.token(domain, &form, &[refresh_token, client_secret]).await
    }

    async fn token(&self, domain: &str, form: &[(&str, &str)], secrets: &[&str]) -> Result<Tokens, OAuthError> {
        let url = self.endpoint(domain, "/api/v1/oauth2/token")?;
        let response = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(transport)?;
        let tokens: Tokens = answer(response, secrets).await?;
        if tokens.access_token.is_empty() {
            return Err(OAuthError::Unexpected(200));
        }
        Ok(tokens)
    }

    /// The user the access token belongs to.
    pub(crate) async fn userinfo(&self, domain: &str, access_token: &str) -> Result<UserInfo, OAuthError> {
        let url = self.endpoint(domain, "/api/v1/oauth2/userinfo")?;
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(transport)?;
        answer(response, &[access_token]).await
    }
}

fn transport(e: reqwest::Error) -> OAuthError {
    // The error's text may quote the URL; only its kind is kept.
    OAuthError::Unreachable(if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    })
}

async fn answer<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    secrets: &[&str],
) -> Result<T, OAuthError> {
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|_| OAuthError::Unexpected(status.as_u16()));
    }
    match serde_json::from_slice::<OAuthErrorBody>(&body) {
        Ok(e) if status.is_client_error() => Err(OAuthError::Refused {
            status: status.as_u16(),
            error: scrub(&e.error, secrets),
            description: scrub(e.error_description.as_deref().unwrap_or_default(), secrets),
        }),
        _ => Err(OAuthError::Unexpected(status.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_secrets_and_domains_are_checked() {
        assert_eq!(scrub("Invalid authorization code: z2Dabc", &["z2Dabc"]), "Invalid authorization code: [redacted]");
        assert_eq!(scrub("", &[]), "no description");
        let strict = OAuthClient::new(Duration::from_secs(1), false);
        assert!(strict.endpoint("https://t.example.com/", "/api/v1/oauth2/token").is_ok());
        assert!(matches!(strict.endpoint("http://127.0.0.1:1", "/x"), Err(OAuthError::Domain(_))));
        assert!(matches!(strict.endpoint("t.example.com", "/x"), Err(OAuthError::Domain(_))));
        let lax = OAuthClient::new(Duration::from_secs(1), true);
        assert!(lax.endpoint("http://127.0.0.1:1", "/x").is_ok());
        let refused = OAuthError::Refused { status: 401, error: "invalid_client".into(), description: "Bad".into() };
        assert!(refused.explain().starts_with("KooGallery refused the client credentials (invalid_client): Bad"));
    }
}
