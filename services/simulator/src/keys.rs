//! The secrets the marketplace shares with one seller, and where `koofill sim` finds them.
//!
//! Order of precedence: options on the command line, then the loaded configuration
//! (`koogallery.basic_key`, `kit_key`, `access_key_id`, `secret_access_key`), then the development
//! keys `koofill dev` writes to `{dev.state_dir}/dev-keys.toml`, so that
//! `koofill sim conformance --target http://127.0.0.1:8080/kg/produce` works against a dev
//! instance with no options at all.

use std::fmt;
use std::path::{Path, PathBuf};

use koofill_config::Config;
use secrecy::ExposeSecret;

use crate::SimError;

/// The file name of the development keys under `dev.state_dir`.
pub const DEV_KEYS_FILE: &str = "dev-keys.toml";

/// The keys KooGallery holds for one seller. `Debug` shows which are set, never their values.
#[derive(Clone, PartialEq, Eq)]
pub struct SimKeys {
    /// Key bound to the basic interfaces: signs basic callbacks, verifies their `Body-Sign`,
    /// verifies usage pushes, keys the appInfo field encryption.
    pub basic_key: String,
    /// Key bound to the Kit (联营) sync interfaces; Kit calls are skipped without it.
    pub kit_key: Option<String>,
    /// The seller's AK for the open APIs.
    pub access_key_id: Option<String>,
    /// The SK paired with `access_key_id`.
    pub secret_access_key: Option<String>,
}

impl fmt::Debug for SimKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimKeys")
            .field("basic_key", &"<redacted>")
            .field("kit_key", &self.kit_key.as_ref().map(|_| "<redacted>"))
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl SimKeys {
    /// Keys with just the basic key.
    pub fn new(basic_key: impl Into<String>) -> Self {
        Self { basic_key: basic_key.into(), kit_key: None, access_key_id: None, secret_access_key: None }
    }

    /// Adds the Kit key.
    pub fn with_kit_key(mut self, kit_key: impl Into<String>) -> Self {
        self.kit_key = Some(kit_key.into());
        self
    }

    /// Adds the AK/SK pair.
    pub fn with_access_key(mut self, access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self
    }

    /// The AK/SK pair, when both are set.
    pub fn access_key(&self) -> Option<(&str, &str)> {
        Some((self.access_key_id.as_deref()?, self.secret_access_key.as_deref()?))
    }

    /// Reads the keys from the configuration, filling what it lacks from the development keys
    /// file; configured keys always win.
    ///
    /// # Errors
    /// [`SimError::MissingKey`] when neither source has a basic key, [`SimError::DevKeys`] when the
    /// development keys file exists but cannot be read.
    pub fn from_config(cfg: &Config) -> Result<Self, SimError> {
        let kg = &cfg.koogallery;
        let dev = read_dev_keys(&dev_keys_path(cfg))?;
        let pick = |configured: Option<String>, name: &str| configured.or_else(|| dev.as_ref()?.get(name));
        let basic_key = pick(kg.basic_key.as_ref().map(|k| k.expose_secret().to_owned()), "basic_key")
            .ok_or(SimError::MissingKey("koogallery.basic_key"))?;
        Ok(Self {
            basic_key,
            kit_key: pick(kg.kit_key.as_ref().map(|k| k.expose_secret().to_owned()), "kit_key"),
            access_key_id: pick(kg.access_key_id.clone(), "access_key_id"),
            secret_access_key: pick(
                kg.secret_access_key.as_ref().map(|k| k.expose_secret().to_owned()),
                "secret_access_key",
            ),
        })
    }
}

/// Where `koofill dev` keeps its development keys for this configuration.
pub fn dev_keys_path(cfg: &Config) -> PathBuf {
    Path::new(&cfg.dev.state_dir).join(DEV_KEYS_FILE)
}

/// The `key = "value"` lines of the development keys file.
struct DevKeys(Vec<(String, String)>);

impl DevKeys {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    }
}

/// Reads the file if it exists. It is the small TOML file `koofill dev` writes (one `[koogallery]`
/// section of quoted strings), so a line reader is enough and keeps a TOML parser out of the crate.
fn read_dev_keys(path: &Path) -> Result<Option<DevKeys>, SimError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SimError::DevKeys { path: path.display().to_string(), source }),
    };
    let pairs = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with('['))
        .filter_map(|line| {
            let (k, v) = line.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        })
        .collect();
    Ok(Some(DevKeys(pairs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_keys_win_and_dev_keys_fill_the_rest() {
        let dir = std::env::temp_dir().join(format!("koofill-sim-keys-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(DEV_KEYS_FILE),
            "# generated\n[koogallery]\nbasic_key = \"dev-basic\"\nkit_key = \"dev-kit\"\naccess_key_id = \"DEVAK\"\nsecret_access_key = \"dev-sk\"\n",
        )
        .unwrap();
        let mut cfg = Config::default();
        cfg.dev.state_dir = dir.clone();
        let keys = SimKeys::from_config(&cfg).unwrap();
        assert_eq!(keys, SimKeys::new("dev-basic").with_kit_key("dev-kit").with_access_key("DEVAK", "dev-sk"));
        cfg.koogallery.basic_key = Some("configured".to_owned().into());
        assert_eq!(SimKeys::from_config(&cfg).unwrap().basic_key, "configured");
        assert!(!format!("{keys:?}").contains("dev-basic"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn no_key_anywhere_is_an_error_naming_the_key() {
        let mut cfg = Config::default();
        cfg.dev.state_dir = "/nonexistent/koofill-sim".into();
        let err = SimKeys::from_config(&cfg).unwrap_err();
        assert!(err.to_string().contains("koogallery.basic_key"), "{err}");
    }
}
