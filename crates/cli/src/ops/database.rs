//! Opening the database to read it, without creating it as a side effect.
//!
//! The default `database.url` is `sqlite://koofill.db?mode=rwc`, right for a worker that owns the
//! database, but a reading command with that URL would leave an empty `koofill.db` behind in any
//! folder it runs in and then fail with "no such table". Readers drop the `c` (`mode=rw`) and
//! check that the file exists first, so the error can say what to run.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::sqlite::SqliteConnectOptions;

/// Connects to the existing database at `url`; `origin` says where the URL came from, for errors.
///
/// # Errors
/// When it is a SQLite file that does not exist, or the database cannot be reached.
pub async fn open_existing(url: &str, origin: &str) -> anyhow::Result<DatabaseConnection> {
    let url = if koofill_store::is_sqlite(url) {
        if let Some(file) = sqlite_file(url)?
            && !file.exists()
        {
            anyhow::bail!(
                "no database at {} ({origin}): start `koofill dev` in this folder, or create it with `koofill migrate`",
                file.display()
            );
        }
        without_create(url)
    } else {
        url.to_owned()
    };
    koofill_store::connect(&url)
        .await
        .with_context(|| format!("connecting to the database {} ({origin})", koofill_config::redact_url(&url)))
}

/// The file a SQLite URL names, decoded as SQLite decodes it; `None` for an in-memory database.
fn sqlite_file(url: &str) -> anyhow::Result<Option<PathBuf>> {
    let (_, params) = split(url);
    if params.split('&').any(|p| p == "mode=memory") {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url).context("database.url is not a valid SQLite URL")?;
    let file = options.get_filename();
    // sqlx names in-memory databases `file:sqlx-in-memory-N`; a real path never starts with `file:`.
    Ok((!file.to_string_lossy().starts_with("file:")).then(|| file.to_path_buf()))
}

/// `url` with `mode=rwc` replaced by `mode=rw`: open an existing file, never create one.
fn without_create(url: &str) -> String {
    let (base, params) = split(url);
    if params.is_empty() {
        return base.to_owned();
    }
    let params: Vec<&str> = params.split('&').map(|p| if p == "mode=rwc" { "mode=rw" } else { p }).collect();
    format!("{base}?{}", params.join("&"))
}

fn split(url: &str) -> (&str, &str) {
    url.split_once('?').unwrap_or((url, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_flag_is_dropped_and_nothing_else() {
        assert_eq!(without_create("sqlite://koofill.db?mode=rwc"), "sqlite://koofill.db?mode=rw");
        assert_eq!(without_create("sqlite://a.db?cache=shared&mode=rwc"), "sqlite://a.db?cache=shared&mode=rw");
        assert_eq!(without_create("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
        assert_eq!(without_create("sqlite://a.db"), "sqlite://a.db");
    }

    #[test]
    fn files_are_found_and_memory_is_not_a_file() {
        assert_eq!(sqlite_file("sqlite://.koofill/koofill.db?mode=rwc").unwrap(), Some(".koofill/koofill.db".into()));
        assert_eq!(sqlite_file("sqlite:///tmp/a%20b.db").unwrap(), Some("/tmp/a b.db".into()));
        assert_eq!(sqlite_file("sqlite::memory:").unwrap(), None);
        assert_eq!(sqlite_file("sqlite://?mode=memory").unwrap(), None);
    }

    #[tokio::test]
    async fn a_missing_file_is_named_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("koofill.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let err = format!("{:#}", open_existing(&url, "database.url").await.unwrap_err());
        assert!(err.contains(&file.display().to_string()) && err.contains("koofill migrate"), "{err}");
        assert!(!file.exists());
    }
}
