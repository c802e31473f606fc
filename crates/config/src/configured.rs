//! Which keys someone configured, as opposed to keys left at their embedded default.
//!
//! `koofill dev` replaces a few defaults with what it starts itself (a child NATS server, a SQLite
//! file under its state directory), and the operator commands run beside it follow it there. A
//! value someone wrote in the configuration file or the environment must still win, even when it
//! equals the default, so comparing the loaded value with the default is not enough: this reads
//! the file and environment layers again, without the defaults beneath them.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use config::{File, FileFormat, Map, Source, Value, ValueKind};

use crate::error::ConfigError;
use crate::loader::{choose_file, environment, process_env};
use crate::secret_files::FILE_SUFFIX;

/// The dotted keys (`nats.url`) set by the configuration file or a `KOOFILL__` variable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfiguredKeys(BTreeSet<String>);

impl ConfiguredKeys {
    /// Whether `key` is set above the defaults, directly or through `<key>_file`.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains(key) || self.0.contains(&format!("{key}{FILE_SUFFIX}"))
    }
}

/// The keys set by the file and environment layers that [`crate::load`] reads for `explicit`.
///
/// # Errors
///
/// [`ConfigError::MissingFile`] when a named file is absent, [`ConfigError::Load`] when a layer
/// does not parse.
pub fn configured_keys(explicit: Option<&Path>) -> Result<ConfiguredKeys, ConfigError> {
    configured_keys_with_env(explicit, process_env())
}

/// [`configured_keys`] with the given environment instead of the process's.
///
/// # Errors
///
/// As for [`configured_keys`].
pub fn configured_keys_with_env(
    explicit: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<ConfiguredKeys, ConfigError> {
    let env: HashMap<String, String> = env.into_iter().collect();
    let file = choose_file(explicit, &env)?;
    let layers = config::Config::builder()
        .add_source(File::from(file.path.as_path()).format(FileFormat::Toml).required(file.required))
        .add_source(environment(env))
        .build()
        .map_err(ConfigError::load)?;
    let mut keys = BTreeSet::new();
    collect(&layers.collect().map_err(ConfigError::load)?, "", &mut keys);
    Ok(ConfiguredKeys(keys))
}

fn collect(table: &Map<String, Value>, prefix: &str, keys: &mut BTreeSet<String>) {
    for (name, value) in table {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        match &value.kind {
            ValueKind::Table(inner) => collect(inner, &key, keys),
            ValueKind::Nil => {}
            _ => {
                keys.insert(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_alone_configure_nothing() {
        let keys = configured_keys_with_env(None, env(&[])).unwrap();
        assert!(!keys.contains("nats.url"));
        assert!(!keys.contains("database.url"));
    }

    #[test]
    fn the_environment_configures_keys_even_with_default_values() {
        let keys = configured_keys_with_env(
            None,
            env(&[
                ("KOOFILL__NATS__URL", "nats://127.0.0.1:4222"),
                ("KOOFILL__DATABASE__URL_FILE", "/run/secrets/db"),
                ("KOOFILL__INGRESS__LISTEN", ""),
            ]),
        )
        .unwrap();
        assert!(keys.contains("nats.url"));
        assert!(keys.contains("database.url"), "through database.url_file");
        assert!(!keys.contains("ingress.listen"), "an empty variable counts as unset");
    }

    #[test]
    fn the_file_configures_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("koofill.toml");
        std::fs::write(&path, "[nats]\nurl = \"nats://127.0.0.1:4222\"\n[dev]\nstate_dir = \"x\"\n").unwrap();
        let keys = configured_keys_with_env(Some(&path), env(&[])).unwrap();
        assert!(keys.contains("nats.url"));
        assert!(keys.contains("dev.state_dir"));
        assert!(!keys.contains("database.url"));
    }
}
