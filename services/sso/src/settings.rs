//! `[sso]` resolved once at start: keys parsed, boxes derived, URLs normalised. A missing or
//! unusable key is a [`StartError::Config`] naming it.

use std::{sync::Arc, time::Duration};

use hmac::{Hmac, Mac};
use koofill_config::{Config, ExposeSecret, SecretString};
use koofill_store::SecretBox;
use sha2::Sha256;

use crate::{StartError, assertion::AssertionSigner};

/// The purpose of the box sealing the tenants' OAuth tokens at rest.
pub const TOKENS_PURPOSE: &str = "sso_sessions.tokens";

/// What the broker needs, resolved from the configuration.
#[derive(Clone)]
pub struct Settings {
    /// `{public_url}/v1/sso/callback`.
    pub(crate) redirect_uri: String,
    /// Whether cookies get `Secure` (the broker is served over https).
    pub(crate) secure_cookies: bool,
    pub(crate) product_url: String,
    pub(crate) audience: String,
    pub(crate) login_url: String,
    pub(crate) ttl_secs: i64,
    pub(crate) api_tokens: Vec<SecretString>,
    pub(crate) allow_insecure_domains: bool,
    pub(crate) timeout: Duration,
    pub(crate) signer: AssertionSigner,
    /// Opens `applications.client_secret_enc`.
    pub(crate) client_secrets: SecretBox,
    /// Seals and opens `sso_sessions.*_token_enc`.
    pub(crate) tokens: SecretBox,
    /// MAC key of the state cookie, derived from the signing key.
    pub(crate) cookie_key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("redirect_uri", &self.redirect_uri)
            .field("product_url", &self.product_url)
            .field("audience", &self.audience)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

fn missing(key: &str, why: &str) -> StartError {
    StartError::Config(format!("{key} is required ({why})"))
}

impl Settings {
    /// Resolves `[sso]` and `koogallery.client_secret_private_key`.
    ///
    /// # Errors
    /// [`StartError::Config`] naming the first key missing or unusable.
    pub fn from_config(cfg: &Config) -> Result<Self, StartError> {
        let sso = &cfg.sso;
        let public_url =
            sso.public_url.as_deref().ok_or_else(|| missing("sso.public_url", "the OAuth redirect_uri"))?;
        let public_url = public_url.trim_end_matches('/');
        let product_url =
            sso.product_url.clone().ok_or_else(|| missing("sso.product_url", "where logged-in users are sent"))?;
        let audience = sso.effective_audience().unwrap_or(&product_url).to_owned();
        let key_text = sso.signing_key.as_ref().ok_or_else(|| missing("sso.signing_key", "signs login assertions"))?;
        let key = koofill_license::token::parse_signing_key(key_text.expose_secret())
            .map_err(|e| StartError::Config(format!("sso.signing_key is unusable: {e}")))?;
        let rsa =
            cfg.koogallery.client_secret_private_key.as_ref().ok_or_else(|| {
                missing("koogallery.client_secret_private_key", "opens the stored Kit client secrets")
            })?;
        let unusable = |e: String| {
            StartError::Config(format!("koogallery.client_secret_private_key is not a usable RSA key: {e}"))
        };
        let client_secrets = koofill_provisioning::client_secret::sealer(rsa.expose_secret()).map_err(unusable)?;
        let tokens =
            koofill_provisioning::client_secret::sealer_for(rsa.expose_secret(), TOKENS_PURPOSE).map_err(unusable)?;
        // A separate key for the cookie MAC, so no cookie is ever a signature by the assertion key.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
            .map_err(|_| StartError::Config("sso.signing_key is unusable".into()))?;
        mac.update(b"koofill/sso/state-cookie/v1");
        let cookie_key: [u8; 32] = mac.finalize().into_bytes().into();
        let api_tokens = [&sso.api_token, &sso.api_token_previous].into_iter().flatten().cloned().collect();
        Ok(Self {
            redirect_uri: format!("{public_url}/v1/sso/callback"),
            secure_cookies: public_url.starts_with("https://"),
            product_url,
            audience,
            login_url: sso.login_url.clone(),
            ttl_secs: i64::try_from(sso.assertion_ttl_secs).unwrap_or(60).min(60),
            api_tokens,
            allow_insecure_domains: sso.allow_insecure_domains,
            timeout: Duration::from_millis(sso.timeout_ms),
            signer: AssertionSigner::new(key),
            client_secrets,
            tokens,
            cookie_key: Arc::new(cookie_key),
        })
    }

    /// The assertion signer (its public key is what products verify with).
    pub fn signer(&self) -> &AssertionSigner {
        &self.signer
    }

    /// The audience assertions are issued for.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The OAuth `redirect_uri`: `{sso.public_url}/v1/sso/callback`.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}
