//! `[database]`: the workers' SQL database.

use serde::Deserialize;

use std::fmt;

use super::checks;
use super::redact::RedactedUrl;
use crate::error::ConfigError;

/// The database the workers own their tables in (the ingress has none).
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://...` for a laptop, `postgres://...` in production. It may carry a
    /// password, which `Debug` redacts. Default: `sqlite://koofill.db?mode=rwc`.
    pub url: String,
    /// Connections in each worker's pool. Default: 10.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: "sqlite://koofill.db?mode=rwc".to_owned(), max_connections: 10 }
    }
}

// Hand-written so the password inside `url` never reaches a log.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &RedactedUrl(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl DatabaseConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.url.trim().is_empty() {
            return Err(ConfigError::invalid("database.url", "must not be empty"));
        }
        checks::at_least("database.max_connections", self.max_connections.into(), 1)
    }
}
