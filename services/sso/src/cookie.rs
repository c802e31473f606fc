//! The `koofill_sso_state` cookie: binds the OAuth `state` of a login to the browser that started
//! it, with the tenant and app it was started for (the unified login page does not give the app
//! back), until it expires.
//!
//! Value: `base64url(JSON {s, t, a, e}) "." base64url(HMAC-SHA256)`, the MAC keyed by a key derived
//! from `sso.signing_key`. The cookie is HttpOnly, SameSite=Lax (it must come along on the
//! top-level redirect back from KooGallery), scoped to `/v1/sso`, and Secure behind https.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "koofill_sso_state";
/// How long a login may take between the redirect to KooGallery and the callback.
pub const LIFETIME_SECS: i64 = 600;

/// What the cookie holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    /// The OAuth `state`.
    #[serde(rename = "s")]
    pub state: String,
    /// The tenant the login was started for.
    #[serde(rename = "t")]
    pub tenant: String,
    /// The app the login was started for.
    #[serde(rename = "a")]
    pub app: String,
    /// Unix seconds after which the cookie is void.
    #[serde(rename = "e")]
    pub expires: i64,
}

fn mac(key: &[u8; 32], payload: &str) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

impl LoginState {
    /// The `Set-Cookie` value carrying this state.
    pub fn set_cookie(&self, key: &[u8; 32], secure: bool) -> HeaderValue {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let value = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac(key, &payload)));
        let secure = if secure { "; Secure" } else { "" };
        let text = format!("{COOKIE}={value}; Max-Age={LIFETIME_SECS}; Path=/v1/sso; HttpOnly; SameSite=Lax{secure}");
        // base64url, digits and ASCII attributes only.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The state in the request's cookie, if there is one with a valid MAC that has not expired.
    pub fn from_request(headers: &HeaderMap, key: &[u8; 32], now: i64) -> Option<Self> {
        let value = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))?;
        let (payload, tag) = value.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if !bool::from(mac(key, payload).ct_eq(&tag)) {
            return None;
        }
        let state: Self = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (now < state.expires).then_some(state)
    }
}

/// The `Set-Cookie` value that removes the cookie (the login it served is over).
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("koofill_sso_state=; Max-Age=0; Path=/v1/sso; HttpOnly; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_forgeries_and_old_cookies() {
        let key = [3u8; 32];
        let state = LoginState { state: "s".into(), tenant: "t".into(), app: "a".into(), expires: 1000 };
        let set = state.set_cookie(&key, true);
        let text = set.to_str().unwrap();
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax") && text.contains("Secure"));
        let pair = text.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {pair}")).unwrap());
        assert_eq!(LoginState::from_request(&headers, &key, 999), Some(state));
        assert_eq!(LoginState::from_request(&headers, &key, 1000), None, "expired");
        assert_eq!(LoginState::from_request(&headers, &[4u8; 32], 999), None, "another key");
        let forged = pair.replacen('.', "x.", 1);
        headers.insert(header::COOKIE, HeaderValue::from_str(&forged).unwrap());
        assert_eq!(LoginState::from_request(&headers, &key, 999), None);
    }
}
