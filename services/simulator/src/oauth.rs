//! KooGallery's auth centre as the simulator plays it (spec §6): the OAuth clients of the Kit
//! applications (one per tenant and app, with the app credential's redirect URL), the users who
//! can sign in to them, and the codes and tokens issued.
//!
//! The rules, where the spec leaves room:
//! - a code is single use and lives 5 minutes; it is bound to the client it was issued for, and
//!   to the `redirect_uri` of the authorize request when there was one;
//! - the client authenticates with `client_id` and `client_secret` in the form (spec §6.3);
//!   an unknown client or a wrong secret is 401 `invalid_client`; a bad code or refresh token is
//!   400 `invalid_grant`;
//! - access tokens live 2 hours; refresh tokens 30 days and rotate on use (the old one is void);
//! - a disabled user cannot sign in; without a named user, the first enabled user of the app does.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Lifetime of a login code.
pub const CODE_TTL_SECS: i64 = 300;
/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 7200;
/// Lifetime of a refresh token (spec §6.3: 30 days by default).
pub const REFRESH_TOKEN_TTL_SECS: i64 = 30 * 86_400;

/// One tenant's OAuth client of one app (applicationSync's `clientId`/`clientSecret`), with the
/// redirect URL of the app credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOAuthClient {
    /// `clientId`.
    pub client_id: String,
    /// `clientSecret`, in clear.
    pub client_secret: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// The app credential's app ID.
    pub app_id: String,
    /// Where a login of this app is redirected with `code` and `tenant`.
    pub redirect_uri: String,
}

/// A user who can sign in to one app of one tenant (what authSync sent the seller).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOAuthUser {
    /// The tenant.
    pub tenant_id: String,
    /// The app.
    pub app_id: String,
    /// `userName`, the login account.
    pub user_name: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// `user` or `admin`.
    #[serde(default = "default_role")]
    pub role: String,
    /// Department code (`organizationCode`).
    #[serde(default)]
    pub org_code: String,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Mobile number.
    #[serde(default)]
    pub mobile: Option<String>,
    /// Whether the account may sign in.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn default_role() -> String {
    "user".to_owned()
}

fn enabled() -> bool {
    true
}

impl SimOAuthUser {
    /// An enabled ordinary user named `user_name` of `app_id` of `tenant_id`.
    pub fn new(tenant_id: impl Into<String>, app_id: impl Into<String>, user_name: impl Into<String>) -> Self {
        let user_name = user_name.into();
        Self {
            tenant_id: tenant_id.into(),
            app_id: app_id.into(),
            name: user_name.clone(),
            user_name,
            role: default_role(),
            org_code: String::new(),
            email: None,
            mobile: None,
            enabled: true,
        }
    }
}

/// An OAuth error answer: HTTP status, `error`, `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRefusal {
    /// 400 or 401.
    pub status: u16,
    /// `invalid_grant`, `invalid_client`, `unsupported_grant_type`, `unauthorized`, …
    pub error: &'static str,
    /// What went wrong.
    pub description: String,
}

fn refuse(status: u16, error: &'static str, description: impl Into<String>) -> OAuthRefusal {
    OAuthRefusal { status, error, description: description.into() }
}

/// The token endpoint's 200 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenAnswer {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// Always `get_user_info`.
    pub scope: &'static str,
    /// The refresh token.
    pub refresh_token: String,
}

#[derive(Debug, Clone)]
struct IssuedCode {
    client_id: String,
    user_name: String,
    redirect_uri: Option<String>,
    expires: DateTime<Utc>,
    used: bool,
}

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    user_name: String,
    expires: DateTime<Utc>,
}

/// The auth centre's memory: clients, users, codes and tokens.
#[derive(Debug, Default)]
pub(crate) struct OAuthBook {
    clients: BTreeMap<String, SimOAuthClient>,
    users: Vec<SimOAuthUser>,
    codes: BTreeMap<String, IssuedCode>,
    access: BTreeMap<String, Grant>,
    refresh: BTreeMap<String, Grant>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl OAuthBook {
    pub(crate) fn register_client(&mut self, client: SimOAuthClient) {
        self.clients.insert(client.client_id.clone(), client);
    }

    /// Adds a user, replacing the one with the same tenant, app and `user_name`.
    pub(crate) fn register_user(&mut self, user: SimOAuthUser) {
        self.users
            .retain(|u| (&u.tenant_id, &u.app_id, &u.user_name) != (&user.tenant_id, &user.app_id, &user.user_name));
        self.users.push(user);
    }

    fn client_of(&self, tenant_id: &str, app_id: &str) -> Option<&SimOAuthClient> {
        self.clients.values().find(|c| c.tenant_id == tenant_id && c.app_id == app_id)
    }

    /// Who signs in to `app_id` (of `tenant`, when named): `user`, or the first enabled user
    /// whose tenant has a client for the app.
    fn pick_user(&self, app_id: &str, tenant: Option<&str>, user: Option<&str>) -> Result<&SimOAuthUser, String> {
        let mut candidates = self.users.iter().filter(|u| {
            u.app_id == app_id
                && tenant.is_none_or(|t| t == u.tenant_id)
                && self.client_of(&u.tenant_id, app_id).is_some()
        });
        let found = match user {
            Some(name) => candidates.find(|u| u.user_name == name),
            None => candidates.find(|u| u.enabled),
        };
        let found = found.ok_or_else(|| match user {
            Some(name) => format!("user {name} cannot sign in to app {app_id}"),
            None => format!("no user can sign in to app {app_id}"),
        })?;
        if !found.enabled {
            return Err(format!("user {} is disabled", found.user_name));
        }
        Ok(found)
    }

    fn issue_code(
        &mut self,
        client_id: &str,
        user_name: &str,
        redirect_uri: Option<&str>,
        now: DateTime<Utc>,
    ) -> String {
        let code = random_token();
        let issued = IssuedCode {
            client_id: client_id.to_owned(),
            user_name: user_name.to_owned(),
            redirect_uri: redirect_uri.map(str::to_owned),
            expires: now + Duration::seconds(CODE_TTL_SECS),
            used: false,
        };
        self.codes.insert(code.clone(), issued);
        code
    }

    /// The unified login: the redirect URL, code and tenant of a login of `user` to `app_id`.
    pub(crate) fn unified_login(
        &mut self,
        app_id: &str,
        tenant: Option<&str>,
        user: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(String, String, String), String> {
        let user = self.pick_user(app_id, tenant, user)?.clone();
        let client = self.client_of(&user.tenant_id, app_id).cloned().ok_or("no OAuth client for the app")?;
        let code = self.issue_code(&client.client_id, &user.user_name, None, now);
        Ok((client.redirect_uri, code, user.tenant_id))
    }

    /// The authorize endpoint: as [`OAuthBook::unified_login`] for a client, which must name its
    /// registered redirect URL.
    pub(crate) fn authorize(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        user: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(String, String, String), String> {
        let client = self.clients.get(client_id).cloned().ok_or_else(|| format!("unknown client_id {client_id}"))?;
        if client.redirect_uri != redirect_uri {
            return Err("redirect_uri does not match the one registered for the client".to_owned());
        }
        let user = self.pick_user(&client.app_id, Some(&client.tenant_id), user)?.clone();
        let code = self.issue_code(client_id, &user.user_name, Some(redirect_uri), now);
        Ok((client.redirect_uri, code, user.tenant_id))
    }

    fn authenticate(&self, client_id: &str, client_secret: &str) -> Result<SimOAuthClient, OAuthRefusal> {
        match self.clients.get(client_id) {
            Some(c) if c.client_secret == client_secret => Ok(c.clone()),
            Some(_) => Err(refuse(401, "invalid_client", "Bad client credentials")),
            None => Err(refuse(401, "invalid_client", "Unknown client")),
        }
    }

    fn grant(&mut self, client_id: &str, user_name: &str, now: DateTime<Utc>) -> TokenAnswer {
        let (access, refresh) = (random_token(), random_token());
        let grant = |secs| Grant {
            client_id: client_id.to_owned(),
            user_name: user_name.to_owned(),
            expires: now + Duration::seconds(secs),
        };
        self.access.insert(access.clone(), grant(ACCESS_TOKEN_TTL_SECS));
        self.refresh.insert(refresh.clone(), grant(REFRESH_TOKEN_TTL_SECS));
        TokenAnswer {
            access_token: access,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_TTL_SECS,
            scope: "get_user_info",
            refresh_token: refresh,
        }
    }

    /// The token endpoint, for either grant; `form` is the decoded form body.
    pub(crate) fn token(
        &mut self,
        form: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<TokenAnswer, OAuthRefusal> {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        let grant_type = field("grant_type");
        if !matches!(grant_type, "authorization_code" | "refresh_token") {
            return Err(refuse(400, "unsupported_grant_type", format!("Unsupported grant type: {grant_type}")));
        }
        let client = self.authenticate(field("client_id"), field("client_secret"))?;
        if grant_type == "refresh_token" {
            let token = field("refresh_token");
            let grant = self.refresh.remove(token).filter(|g| g.client_id == client.client_id && now < g.expires);
            let grant = grant.ok_or_else(|| refuse(400, "invalid_grant", "Invalid refresh token"))?;
            return Ok(self.grant(&client.client_id, &grant.user_name, now));
        }
        let code = field("code");
        let issued =
            self.codes.get_mut(code).ok_or_else(|| refuse(400, "invalid_grant", "Invalid authorization code"))?;
        if issued.used {
            return Err(refuse(400, "invalid_grant", "Authorization code already used"));
        }
        if now >= issued.expires || issued.client_id != client.client_id {
            return Err(refuse(400, "invalid_grant", "Invalid authorization code"));
        }
        if let Some(expected) = &issued.redirect_uri
            && field("redirect_uri") != expected
        {
            return Err(refuse(400, "invalid_grant", "Redirect URI mismatch"));
        }
        issued.used = true;
        let user_name = issued.user_name.clone();
        Ok(self.grant(&client.client_id, &user_name, now))
    }

    /// The user of a valid access token, with the tenant of its client.
    pub(crate) fn userinfo(&self, access_token: &str, now: DateTime<Utc>) -> Option<SimOAuthUser> {
        let grant = self.access.get(access_token).filter(|g| now < g.expires)?;
        let client = self.clients.get(&grant.client_id)?;
        self.users
            .iter()
            .find(|u| u.tenant_id == client.tenant_id && u.app_id == client.app_id && u.user_name == grant.user_name)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> OAuthBook {
        let mut book = OAuthBook::default();
        book.register_client(SimOAuthClient {
            client_id: "c1".into(),
            client_secret: "s1".into(),
            tenant_id: "t1".into(),
            app_id: "a1".into(),
            redirect_uri: "https://isv/cb".into(),
        });
        book.register_user(SimOAuthUser { enabled: false, ..SimOAuthUser::new("t1", "a1", "off") });
        book.register_user(SimOAuthUser::new("t1", "a1", "alice"));
        book
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn codes_are_single_use_and_bound_to_their_client() {
        let mut book = book();
        let now = Utc::now();
        let (redirect, code, tenant) = book.unified_login("a1", None, None, now).unwrap();
        assert_eq!((redirect.as_str(), tenant.as_str()), ("https://isv/cb", "t1"));
        assert!(book.unified_login("a1", None, Some("off"), now).unwrap_err().contains("disabled"));
        let wrong =
            form(&[("grant_type", "authorization_code"), ("code", &code), ("client_id", "c1"), ("client_secret", "x")]);
        assert_eq!(book.token(&wrong, now).unwrap_err().error, "invalid_client");
        let good = form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "c1"),
            ("client_secret", "s1"),
        ]);
        let answer = book.token(&good, now).unwrap();
        assert_eq!(book.userinfo(&answer.access_token, now).unwrap().user_name, "alice");
        assert_eq!(book.token(&good, now).unwrap_err().error, "invalid_grant");

        let (_, late, _) = book.unified_login("a1", None, Some("alice"), now).unwrap();
        let late = form(&[
            ("grant_type", "authorization_code"),
            ("code", &late),
            ("client_id", "c1"),
            ("client_secret", "s1"),
        ]);
        assert_eq!(book.token(&late, now + Duration::seconds(CODE_TTL_SECS)).unwrap_err().error, "invalid_grant");

        let refresh = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &answer.refresh_token),
            ("client_id", "c1"),
            ("client_secret", "s1"),
        ]);
        assert!(book.token(&refresh, now).is_ok());
        assert_eq!(book.token(&refresh, now).unwrap_err().error, "invalid_grant", "rotated");
        assert!(book.userinfo("nope", now).is_none());
    }

    #[test]
    fn authorize_insists_on_the_registered_redirect() {
        let mut book = book();
        let now = Utc::now();
        assert!(book.authorize("c1", "https://evil/cb", None, now).is_err());
        let (_, code, _) = book.authorize("c1", "https://isv/cb", Some("alice"), now).unwrap();
        let other = form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "c1"),
            ("client_secret", "s1"),
            ("redirect_uri", "https://elsewhere"),
        ]);
        assert_eq!(book.token(&other, now).unwrap_err().description, "Redirect URI mismatch");
    }
}
