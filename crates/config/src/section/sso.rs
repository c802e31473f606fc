//! `[sso]`: the 联营 single sign-on broker (spec §6): where it is reachable, where the buyer's
//! browser lands with its login assertion, the key that signs assertions, and the bearer token of
//! the seller's product.

use secrecy::SecretString;
use serde::Deserialize;

use super::checks;
use crate::error::ConfigError;

/// The longest a login assertion may live: it only carries the browser from the broker to the
/// product, which redeems it at once.
pub const ASSERTION_TTL_MAX_SECS: u64 = 60;

/// KooGallery's unified login page (spec §6.2); the fragment is read by the page's script.
pub const DEFAULT_LOGIN_URL: &str =
    "https://macroverse.huaweicloud.com/unified-login/#/portal-login?ind=UNOP&appId={app_id}";

/// The SSO broker's settings. The broker refuses to start without `public_url`, `product_url`
/// and `signing_key` (and `koogallery.client_secret_private_key`, which opens the stored client
/// secrets); other services ignore the section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SsoConfig {
    /// The externally reachable base of the `/v1/sso` routes (`https://sso.example.com`); the
    /// OAuth `redirect_uri` is `{public_url}/v1/sso/callback`. Default: unset.
    pub public_url: Option<String>,
    /// Where the browser is sent with `?assertion=…` after a login
    /// (`https://app.example.com/sso`). Default: unset.
    pub product_url: Option<String>,
    /// The `aud` of assertions. Default: unset, meaning `product_url`.
    pub audience: Option<String>,
    /// The Ed25519 private key that signs assertions: PKCS#8 PEM or the 32-byte seed in base64.
    /// Secret. Default: unset.
    pub signing_key: Option<SecretString>,
    /// The login page the browser is sent to: an http(s) URL, or one starting with
    /// `{domain_name}` (the tenant's domain, for the authorize endpoint
    /// `{domain_name}/api/v1/oauth2/authorize?…`); placeholders `{app_id}`, `{client_id}`,
    /// `{redirect_uri}`, `{state}`, `{domain_name}`. Default: KooGallery's unified login.
    pub login_url: String,
    /// Lifetime of an assertion in seconds, 1 to 60. Default: 60.
    pub assertion_ttl_secs: u64,
    /// Bearer token of the product's `/v1/sso/redeem` and `/v1/sso/refresh` calls. Secret.
    /// Default: unset (those routes answer 401).
    pub api_token: Option<SecretString>,
    /// The API token being rotated out, still accepted. Secret. Default: unset.
    pub api_token_previous: Option<SecretString>,
    /// Accept tenants whose `domainName` is `http://` (tests and the simulator). Default: false.
    pub allow_insecure_domains: bool,
    /// Timeout of each call to the tenant's OAuth endpoints, in milliseconds. Default: 5000.
    pub timeout_ms: u64,
}

impl Default for SsoConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            product_url: None,
            audience: None,
            signing_key: None,
            login_url: DEFAULT_LOGIN_URL.to_owned(),
            assertion_ttl_secs: ASSERTION_TTL_MAX_SECS,
            api_token: None,
            api_token_previous: None,
            allow_insecure_domains: false,
            timeout_ms: 5000,
        }
    }
}

impl SsoConfig {
    /// The audience assertions are issued for: `audience`, else `product_url`.
    pub fn effective_audience(&self) -> Option<&str> {
        self.audience.as_deref().or(self.product_url.as_deref())
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (key, url) in [("sso.public_url", &self.public_url), ("sso.product_url", &self.product_url)] {
            if let Some(url) = url {
                checks::http_url(key, url)?;
            }
        }
        // The authorize-endpoint variant starts at the tenant's own domain (spec §6.2).
        match self.login_url.strip_prefix("{domain_name}") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {}
            Some(_) => {
                return Err(ConfigError::invalid("sso.login_url", "{domain_name} must be followed by a path"));
            }
            None => checks::http_url("sso.login_url", &self.login_url)?,
        }
        if self.audience.as_deref().is_some_and(|a| a.trim().is_empty()) {
            return Err(ConfigError::invalid("sso.audience", "is set but empty"));
        }
        checks::non_blank("sso.signing_key", self.signing_key.as_ref())?;
        checks::non_blank("sso.api_token", self.api_token.as_ref())?;
        checks::non_blank("sso.api_token_previous", self.api_token_previous.as_ref())?;
        if self.api_token_previous.is_some() && self.api_token.is_none() {
            return Err(ConfigError::invalid("sso.api_token", "is required when sso.api_token_previous is set"));
        }
        checks::at_least("sso.assertion_ttl_secs", self.assertion_ttl_secs, 1)?;
        if self.assertion_ttl_secs > ASSERTION_TTL_MAX_SECS {
            return Err(ConfigError::invalid(
                "sso.assertion_ttl_secs",
                format!("must be at most {ASSERTION_TTL_MAX_SECS}, got {}", self.assertion_ttl_secs),
            ));
        }
        checks::at_least("sso.timeout_ms", self.timeout_ms, 1)?;
        Ok(())
    }
}
