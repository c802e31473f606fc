//! A fresh database per test.

use std::{env, thread};

use reqwest::Url;
use tempfile::TempDir;
use tokio_postgres::{Client, NoTls};

/// The environment variable naming the PostgreSQL server for tests, as an administrative URL
/// such as `postgres://postgres@127.0.0.1:5432/postgres`. Unset: tests use SQLite.
pub const DATABASE_URL_ENV: &str = "KOOFILL_TEST_DATABASE_URL";

/// A database of this test's own: `test_<uuid>` on PostgreSQL, or a temporary SQLite file.
///
/// Dropping it drops the PostgreSQL database (best effort: a failure is printed, not raised)
/// or removes the SQLite file's directory. Migrations are the caller's business.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite {
        /// Held for its `Drop`, which removes the file.
        _dir: TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A fresh database on `KOOFILL_TEST_DATABASE_URL` when it is set, else a temporary SQLite
    /// file.
    ///
    /// # Panics
    /// As [`TestDb::postgres`] and [`TestDb::sqlite`].
    pub async fn fresh() -> Self {
        match env::var(DATABASE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Self::postgres(url.trim()).await,
            _ => Self::sqlite(),
        }
    }

    /// Creates `test_<uuid>` through `admin_url` and points at it; the URL keeps the user,
    /// host, port and parameters of `admin_url`.
    ///
    /// # Panics
    /// When `admin_url` is not a URL, the server cannot be reached, or the database cannot be
    /// created.
    pub async fn postgres(admin_url: &str) -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut url = Url::parse(admin_url).unwrap_or_else(|e| panic!("{DATABASE_URL_ENV} is not a URL: {e}"));
        url.set_path(&format!("/{name}"));
        let client = connect(admin_url).await.unwrap_or_else(|e| panic!("cannot connect to {admin_url}: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        TestDb { url: url.into(), backend: Backend::Postgres { admin_url: admin_url.to_owned(), name } }
    }

    /// A SQLite file `test.db` in a new temporary directory, as
    /// `sqlite:///tmp/…/test.db?mode=rwc` (`rwc` creates the file on first connection).
    ///
    /// # Panics
    /// When the temporary directory cannot be created.
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new().prefix("koofill-db-").tempdir().expect("create a temp dir for SQLite");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        TestDb { url, backend: Backend::Sqlite { _dir: dir } }
    }

    /// The database URL to configure (`database.url`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Backend::Postgres { admin_url, name } = &self.backend else { return };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // `Drop` cannot await, and may run inside a runtime where blocking on another would
        // panic; a helper thread with its own runtime works in both cases. Joining it means the
        // database is gone once the value is.
        let dropped = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(drop_database(&admin_url, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("koofill-testkit: could not drop test database: {e}"),
            Err(_) => eprintln!("koofill-testkit: the thread dropping the test database panicked"),
        }
    }
}

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    // The connection future drives the socket; it ends when the client is dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn drop_database(admin_url: &str, name: &str) -> std::io::Result<()> {
    let client = connect(admin_url).await.map_err(std::io::Error::other)?;
    // FORCE (PostgreSQL 13+) ends connections a test left open, e.g. a pool still shutting down;
    // older servers reject it, so fall back to the plain form.
    if client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.is_err() {
        client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\"")).await.map_err(std::io::Error::other)?;
    }
    Ok(())
}
