//! Small rule helpers shared by the sections' `validate` methods.

use secrecy::{ExposeSecret, SecretString};

use crate::error::ConfigError;

/// `value` must be at least `min`.
pub(crate) fn at_least(key: &str, value: u64, min: u64) -> Result<(), ConfigError> {
    if value < min {
        return Err(ConfigError::invalid(key, format!("must be at least {min}, got {value}")));
    }
    Ok(())
}

/// `url` must be an `http://` or `https://` URL.
pub(crate) fn http_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err(ConfigError::invalid(key, format!("must be an http:// or https:// URL, got {url:?}"))),
    }
}

/// A secret that is set must not be blank: an empty HMAC key would verify anyone's signature.
pub(crate) fn non_blank(key: &str, secret: Option<&SecretString>) -> Result<(), ConfigError> {
    match secret {
        Some(secret) if secret.expose_secret().trim().is_empty() => Err(ConfigError::invalid(key, "is set but empty")),
        _ => Ok(()),
    }
}
