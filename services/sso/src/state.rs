//! What every route shares, and the few steps two routes both take (issuing an assertion,
//! sealing tokens, checking a user).

use std::{collections::HashMap, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use koofill_store::{StoreError, entities::directory_users};
use rand::RngCore;
use sea_orm::DatabaseConnection;

use crate::{
    Settings,
    assertion::{Claims, ISSUER},
    directory::{self, UserCheck},
    metrics::Metrics,
    oauth::{OAuthClient, Tokens},
};

/// How long KooGallery's access token is taken to live when its answer does not say.
const DEFAULT_TOKEN_SECS: i64 = 3600;

/// The broker's shared state: the database, the resolved settings, the OAuth client and the
/// metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SsoState {
    pub(crate) db: DatabaseConnection,
    pub(crate) settings: Arc<Settings>,
    pub(crate) oauth: OAuthClient,
    pub(crate) metrics: Metrics,
}

/// A user's standing, in words for a page or a JSON error.
pub(crate) enum Standing {
    Authorised(Box<directory_users::Model>),
    Refused(String),
}

impl SsoState {
    /// The state over `db` with `settings`; its metrics are not registered anywhere (the worker
    /// host registers its own, see [`crate::Worker::build`]).
    pub fn new(db: DatabaseConnection, settings: Settings) -> Self {
        Self::with_metrics(db, settings, Metrics::default())
    }

    pub(crate) fn with_metrics(db: DatabaseConnection, settings: Settings, metrics: Metrics) -> Self {
        let oauth = OAuthClient::new(settings.timeout, settings.allow_insecure_domains);
        Self { db, settings: Arc::new(settings), oauth, metrics }
    }

    /// The resolved settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The public keys assertions verify with, by `kid` (the broker's own key).
    pub fn public_keys(&self) -> HashMap<String, VerifyingKey> {
        let signer = &self.settings.signer;
        HashMap::from([(signer.kid().to_owned(), signer.verifying_key())])
    }

    /// Whether `user_name` may use `app_id` of `tenant_id` now.
    pub(crate) async fn standing(
        &self,
        tenant_id: &str,
        app_id: &str,
        user_name: &str,
    ) -> Result<Standing, StoreError> {
        Ok(match directory::user(&self.db, tenant_id, app_id, user_name).await? {
            UserCheck::Authorised(user) => Standing::Authorised(user),
            UserCheck::Disabled => Standing::Refused(format!("user {user_name} is disabled for application {app_id}")),
            UserCheck::NotAuthorised => {
                Standing::Refused(format!("user {user_name} is not authorised for application {app_id}"))
            }
        })
    }

    /// A fresh assertion for `user` in session `sid`: the token, its `jti` and its expiry.
    pub(crate) fn issue(
        &self,
        user: &directory_users::Model,
        sid: &str,
        now: DateTime<Utc>,
    ) -> (String, String, DateTime<Utc>) {
        let jti = random_id();
        let exp = now + chrono::Duration::seconds(self.settings.ttl_secs);
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: self.settings.audience.clone(),
            sub: user.user_name.clone(),
            name: user.name.clone(),
            role: user.role.clone(),
            org_code: user.org_code.clone(),
            email: user.email.clone().filter(|e| !e.is_empty()),
            tenant: user.tenant_id.clone(),
            app: user.app_id.clone(),
            instance: user.instance_id.clone(),
            sid: sid.to_owned(),
            jti: jti.clone(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            kid: String::new(),
        };
        (self.settings.signer.sign(claims), jti, exp)
    }

    /// The tokens sealed for storage: (access, refresh, access token expiry).
    pub(crate) fn seal(
        &self,
        tokens: &Tokens,
        now: DateTime<Utc>,
    ) -> Result<(String, Option<String>, DateTime<Utc>), StoreError> {
        let access = self.settings.tokens.seal(&tokens.access_token)?;
        let refresh = tokens.refresh_token.as_deref().filter(|r| !r.is_empty()).map(|r| self.settings.tokens.seal(r));
        let secs = tokens.expires_in.filter(|s| *s > 0).unwrap_or(DEFAULT_TOKEN_SECS);
        Ok((access, refresh.transpose()?, now + chrono::Duration::seconds(secs)))
    }
}

/// 128 random bits, base64url: session ids, `jti`s, OAuth `state`s.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
