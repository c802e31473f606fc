//! The one error type of configuration loading and validation.

use std::path::PathBuf;

/// Why the configuration could not be loaded. Every variant that concerns one key names it
/// ([`ConfigError::key`]), so an operator knows what to fix without reading code.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value breaks a rule of [`crate::Config::validate`] or of secret-file resolution.
    #[error("invalid `{key}`: {reason}")]
    Invalid {
        /// Dotted key at fault, e.g. `ingress.base_path`.
        key: String,
        /// What is wrong with it, in words an operator can act on.
        reason: String,
    },
    /// A layer could not be read or parsed, or a value has the wrong type for its key.
    #[error("cannot load configuration{}", describe_key(.key.as_deref()))]
    Load {
        /// Dotted key at fault, when the `config` crate knows it.
        key: Option<String>,
        /// The underlying error; its text names the file or key too. Boxed because it is large
        /// and would bloat every `Result` of this crate.
        #[source]
        source: Box<config::ConfigError>,
    },
    /// A configuration file someone named does not exist. (The default `koofill.toml` is optional.)
    #[error("configuration file {} (named by {named_by}) does not exist", .path.display())]
    MissingFile {
        /// The path as given.
        path: PathBuf,
        /// Who named it: `--config` (an explicit path) or `KOOFILL_CONFIG`.
        named_by: &'static str,
    },
    /// The file given by a secret's `<key>_file` could not be read.
    #[error("cannot read `{key}` from {}", .path.display())]
    SecretFile {
        /// Dotted key of the secret, e.g. `koogallery.basic_key`.
        key: String,
        /// The file named by `<key>_file`.
        path: PathBuf,
        /// The IO failure.
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// The dotted key at fault, when the error concerns one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } | Self::SecretFile { key, .. } => Some(key),
            Self::Load { key, .. } => key.as_deref(),
            Self::MissingFile { .. } => None,
        }
    }

    /// Builds [`ConfigError::Invalid`].
    pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> Self {
        Self::Invalid { key: key.to_owned(), reason: reason.into() }
    }

    /// Wraps an error of the `config` crate, lifting out the key it names, if any.
    pub(crate) fn load(source: config::ConfigError) -> Self {
        let key = match &source {
            config::ConfigError::Type { key, .. } | config::ConfigError::At { key, .. } => key.clone(),
            config::ConfigError::NotFound(key) => Some(key.clone()),
            _ => None,
        };
        Self::Load { key, source: Box::new(source) }
    }
}

fn describe_key(key: Option<&str>) -> String {
    key.map(|key| format!(" (key `{key}`)")).unwrap_or_default()
}
