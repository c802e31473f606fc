//! Secrets given as files: `<key>_file = "/path"` supplies `<key>` from the file's trimmed content.
//!
//! This runs on the merged value tree, before it is deserialized, so it applies to every section
//! and every layer alike, including sections of other services read with [`crate::load_as`]. That
//! makes the suffix `_file` reserved: a key that holds a path must be named otherwise (`_path`,
//! `_dir`).

use std::path::PathBuf;

use config::{Map, Value, ValueKind};

use crate::error::ConfigError;

/// Suffix of a key whose value is the path of a file holding the key without it.
pub const FILE_SUFFIX: &str = "_file";

/// Replaces every `<key>_file` in `table` (recursively) by `<key>` with the file's content.
///
/// `prefix` is the dotted path of `table`, used to name keys in errors (empty at the root).
pub(crate) fn resolve(table: &mut Map<String, Value>, prefix: &str) -> Result<(), ConfigError> {
    for (name, value) in table.iter_mut() {
        if let ValueKind::Table(inner) = &mut value.kind {
            resolve(inner, &dotted(prefix, name))?;
        }
    }
    let file_keys: Vec<String> =
        table.keys().filter(|name| name.len() > FILE_SUFFIX.len() && name.ends_with(FILE_SUFFIX)).cloned().collect();
    for file_key in file_keys {
        let Some(path_value) = table.remove(&file_key) else {
            continue;
        };
        if matches!(path_value.kind, ValueKind::Nil) {
            continue;
        }
        let name = &file_key[..file_key.len() - FILE_SUFFIX.len()];
        let key = dotted(prefix, name);
        if table.get(name).is_some_and(|v| !matches!(v.kind, ValueKind::Nil)) {
            // Two sources for one secret is a misconfiguration, not a precedence question:
            // silently preferring either could run production on a forgotten development key.
            return Err(ConfigError::invalid(&key, format!("set either `{key}` or `{key}{FILE_SUFFIX}`, not both")));
        }
        let path = PathBuf::from(path_value.into_string().map_err(ConfigError::load)?);
        let content = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
            key: key.clone(),
            path: path.clone(),
            source,
        })?;
        // Mounted secrets usually end with a newline that is not part of the key.
        let content = content.trim();
        if content.is_empty() {
            return Err(ConfigError::invalid(
                &key,
                format!("the file {} named by `{key}{FILE_SUFFIX}` is empty", path.display()),
            ));
        }
        let origin = path.display().to_string();
        table.insert(name.to_owned(), Value::new(Some(&origin), ValueKind::String(content.to_owned())));
    }
    Ok(())
}

fn dotted(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}
