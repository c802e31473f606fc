//! koofill's configuration: one typed tree, loaded in three layers, validated once.
//!
//! Every service and the `koofill` command read the same tree and ignore the sections they do not
//! use. The layers, later ones winning:
//!
//! 1. the embedded defaults ([`DEFAULTS_TOML`], `crates/config/defaults.toml`), so a binary runs
//!    with no files at all;
//! 2. a TOML file: the path given explicitly (`--config`), else the one named by `KOOFILL_CONFIG`,
//!    else `koofill.toml` in the working directory. A file someone named must exist; the default
//!    one is optional;
//! 3. environment variables `KOOFILL__SECTION__KEY` (e.g. `KOOFILL__INGRESS__LISTEN=0.0.0.0:9000`;
//!    names are case-insensitive, empty values count as unset).
//!
//! Then every `<key>_file` is replaced by `<key>` holding that file's trimmed content, so secrets can
//! come from mounted files (`KOOFILL__KOOGALLERY__BASIC_KEY_FILE=/run/secrets/basic_key`); finally
//! [`Config::validate`] checks the rules that span fields. Errors name the key at fault
//! ([`ConfigError::key`]).
//!
//! Secrets are [`secrecy::SecretString`]s, and passwords inside URLs are masked, so the `Debug`
//! output of a [`Config`] is safe to log.
//!
//! ```no_run
//! let cfg = koofill_config::load(None)?;
//! println!("listening on {}", cfg.ingress.listen);
//! # Ok::<(), koofill_config::ConfigError>(())
//! ```
#![warn(missing_docs)]

mod error;
mod loader;
mod secret_files;
mod section;

use serde::Deserialize;

pub use crate::error::ConfigError;
pub use crate::loader::{
    CONFIG_FILE_VAR, DEFAULT_FILE, DEFAULTS_TOML, ENV_PREFIX, ENV_SEPARATOR, load, load_as, load_as_with_env,
    load_with_env,
};
pub use crate::secret_files::FILE_SUFFIX;
pub use crate::section::consumer::ConsumerConfig;
pub use crate::section::database::DatabaseConfig;
pub use crate::section::ingress::{ChangeCheckDefault, IngressConfig, KOOGALLERY_DEADLINE_MS};
pub use crate::section::koogallery::KooGalleryConfig;
pub use crate::section::nats::NatsConfig;
pub use crate::section::process::{DevConfig, ShutdownConfig};
pub use crate::section::provisioner::{ProvisionerConfig, ProvisionerKind};
pub use crate::section::telemetry::{LogFormat, TelemetryConfig};
pub use secrecy::{ExposeSecret, SecretString};

/// The whole configuration, one field per section. A section missing from every layer takes its
/// defaults, and unknown sections and keys are ignored, since other services may define them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `[koogallery]`: signing keys, AK/SK, open-API URLs.
    pub koogallery: KooGalleryConfig,
    /// `[nats]`: connection and name prefix.
    pub nats: NatsConfig,
    /// `[database]`: the workers' database.
    pub database: DatabaseConfig,
    /// `[ingress]`: the HTTP server KooGallery calls.
    pub ingress: IngressConfig,
    /// `[provisioner]`: how the ISV's product is provisioned.
    pub provisioner: ProvisionerConfig,
    /// `[consumer]`: JetStream consumer settings.
    pub consumer: ConsumerConfig,
    /// `[telemetry]`: logs and traces.
    pub telemetry: TelemetryConfig,
    /// `[shutdown]`: graceful shutdown.
    pub shutdown: ShutdownConfig,
    /// `[dev]`: `koofill dev`.
    pub dev: DevConfig,
}

impl Config {
    /// Checks the rules a single type cannot express: ranges, formats and relations between keys.
    /// [`load`] calls it; call it again after changing a loaded config by hand.
    ///
    /// Presence of keys only some services need (`koogallery.basic_key` for the ingress, the AK/SK
    /// for workers calling open APIs) is left to those services, so every binary can start from the
    /// defaults alone.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.koogallery.validate()?;
        self.nats.validate()?;
        self.database.validate()?;
        self.ingress.validate()?;
        self.provisioner.validate()?;
        self.consumer.validate()?;
        self.telemetry.validate()
    }
}
