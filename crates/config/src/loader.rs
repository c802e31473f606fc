//! The three layers, merged: embedded defaults, then a TOML file, then `KOOFILL__` environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::{Environment, File, FileFormat, Map, Source, Value, ValueKind};
use serde::de::DeserializeOwned;

use crate::error::ConfigError;
use crate::{Config, secret_files};

/// The embedded defaults: every key with its default, unit and meaning (`crates/config/defaults.toml`).
pub const DEFAULTS_TOML: &str = include_str!("../defaults.toml");

/// The file read from the working directory when none is named; optional.
pub const DEFAULT_FILE: &str = "koofill.toml";

/// Environment variable naming the configuration file when no explicit path is given; the file must exist.
pub const CONFIG_FILE_VAR: &str = "KOOFILL_CONFIG";

/// Prefix of configuration environment variables: `KOOFILL__SECTION__KEY`.
pub const ENV_PREFIX: &str = "KOOFILL";

/// Separates the prefix, the section and the key in environment variable names.
pub const ENV_SEPARATOR: &str = "__";

/// Loads and validates koofill's [`Config`] from the three layers, reading the process environment.
///
/// `explicit` is a path given on the command line (`--config`); without it `KOOFILL_CONFIG` is
/// consulted, then `koofill.toml` in the working directory. A named file must exist; the default one
/// need not.
///
/// # Errors
///
/// [`ConfigError::MissingFile`] when a named file is absent, [`ConfigError::Load`] when a layer does
/// not parse or a value has the wrong type, [`ConfigError::SecretFile`] when a `<key>_file` cannot be
/// read, and [`ConfigError::Invalid`] when [`Config::validate`] rejects a value.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    load_with_env(explicit, process_env())
}

/// Like [`load`], but with the given environment instead of the process's, so tests need not
/// mutate global state. `env` holds variable names and values, e.g. `("KOOFILL__NATS__PREFIX", "t1")`.
///
/// # Errors
///
/// As for [`load`].
pub fn load_with_env(
    explicit: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let cfg: Config = load_as_with_env(explicit, env)?;
    cfg.validate()?;
    Ok(cfg)
}

/// Deserializes any type from the same layers, for a service whose own sections (say
/// `[notification]`) are not part of [`Config`]. Unknown sections are ignored, so `T` may name just
/// the ones it needs. No validation runs beyond `T`'s own `Deserialize`.
///
/// # Errors
///
/// As for [`load`], except [`ConfigError::Invalid`] only for secret files.
pub fn load_as<T: DeserializeOwned>(explicit: Option<&Path>) -> Result<T, ConfigError> {
    load_as_with_env(explicit, process_env())
}

/// [`load_as`] with the given environment instead of the process's.
///
/// # Errors
///
/// As for [`load_as`].
pub fn load_as_with_env<T: DeserializeOwned>(
    explicit: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let env: HashMap<String, String> = env.into_iter().collect();
    let file = choose_file(explicit, &env)?;
    let merged = config::Config::builder()
        .add_source(File::from_str(DEFAULTS_TOML, FileFormat::Toml))
        .add_source(File::from(file.path.as_path()).format(FileFormat::Toml).required(file.required))
        .add_source(environment(env))
        .build()
        .map_err(ConfigError::load)?;
    let mut tree = merged.collect().map_err(ConfigError::load)?;
    secret_files::resolve(&mut tree, "")?;
    Value::new(None, ValueKind::Table(tree)).try_deserialize().map_err(ConfigError::load)
}

/// The file layer: which path, and whether its absence is an error.
pub(crate) struct FileLayer {
    pub(crate) path: PathBuf,
    pub(crate) required: bool,
}

pub(crate) fn choose_file(explicit: Option<&Path>, env: &HashMap<String, String>) -> Result<FileLayer, ConfigError> {
    let named = match explicit {
        Some(path) => Some((path.to_path_buf(), "--config")),
        None => env
            .get(CONFIG_FILE_VAR)
            .filter(|value| !value.is_empty())
            .map(|value| (PathBuf::from(value), CONFIG_FILE_VAR)),
    };
    match named {
        // Checked here rather than left to the `config` crate so the error says who named the file.
        Some((path, named_by)) if !path.is_file() => Err(ConfigError::MissingFile { path, named_by }),
        Some((path, _)) => Ok(FileLayer { path, required: true }),
        None => Ok(FileLayer { path: PathBuf::from(DEFAULT_FILE), required: false }),
    }
}

pub(crate) fn environment(env: HashMap<String, String>) -> Environment {
    let vars: Map<String, String> = env.into_iter().collect();
    Environment::with_prefix(ENV_PREFIX)
        .prefix_separator(ENV_SEPARATOR)
        .separator(ENV_SEPARATOR)
        // Typed fields already parse numbers and booleans from strings. `try_parsing(true)` would
        // re-render string values first, turning a key "007" into "7" or "1e3" into "1000", and
        // secrets must arrive byte for byte.
        .try_parsing(false)
        // `KOOFILL__X=` (as compose files produce for unset variables) means "not set".
        .ignore_empty(true)
        .source(Some(vars))
}

/// The process environment, skipping variables that are not valid Unicode (none of ours can be).
pub(crate) fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
}
