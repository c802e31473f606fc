//! Connecting: one pool per process, options per backend.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::StoreError;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections in the pool (PostgreSQL). SQLite always uses one: it has a single writer, and
    /// one connection makes concurrent transactions queue in the pool instead of failing with
    /// `database is locked` when a reader upgrades to a writer.
    pub max_connections: u32,
    /// How long to wait for a free connection (or a new one) before failing; short, so a handler
    /// fails fast during an outage and its message is retried with a delay.
    pub acquire_timeout: Duration,
    /// SQLite: how long a statement waits for another process's write lock before failing.
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Whether `url` names a SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Connects with the default [`StoreOptions`].
///
/// # Errors
/// [`StoreError::Unavailable`] when the database cannot be reached.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    connect_with(url, &StoreOptions::default()).await
}

/// Connects to `url` (`postgres://…` or `sqlite://…?mode=rwc`).
///
/// # Errors
/// [`StoreError::Unavailable`] when the database cannot be reached.
pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<DatabaseConnection, StoreError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.acquire_timeout(options.acquire_timeout)
        .connect_timeout(options.acquire_timeout)
        // Statement logging at info would flood the logs and could print values.
        .sqlx_logging(false);
    if is_sqlite(url) {
        let busy = options.sqlite_busy_timeout;
        opts.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(move |o| o.busy_timeout(busy));
    } else {
        opts.max_connections(options.max_connections.max(1));
    }
    Database::connect(opts).await.map_err(StoreError::from)
}

/// Tries to connect until it succeeds or `timeout` passes (for `--wait-for` at start-up, when
/// the database may still be starting).
///
/// # Errors
/// The last connection error when the deadline passes.
pub async fn wait_for(url: &str, timeout: Duration) -> Result<DatabaseConnection, StoreError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match connect(url).await {
            Ok(db) => return Ok(db),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::info!(error = &e as &dyn std::error::Error, "database not ready yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Whether `db` is a SQLite connection.
pub fn is_sqlite_connection(db: &DatabaseConnection) -> bool {
    matches!(sea_orm::ConnectionTrait::get_database_backend(db), sea_orm::DatabaseBackend::Sqlite)
}
