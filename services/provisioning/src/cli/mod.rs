//! Operator commands the `koofill` command exposes: `koofill dlq …`, `koofill instances …` and
//! `koofill migrate`. Each `run_*` prints a readable result and fails with a message that says
//! what to check.

mod dlq;
mod instances;
mod table;

use std::time::Duration;

use anyhow::Context;
use koofill_config::Config;

pub use dlq::{DeadLetterEntry, DlqCommand, RedriveReport, dead_letter, list_dead_letters, redrive, run_dlq};
pub use instances::{InstancesCommand, run_instances};

/// Applies pending migrations to `database.url`.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn migrate(cfg: Config) -> anyhow::Result<()> {
    migrate_waiting(cfg, None).await
}

/// As [`migrate`], first waiting up to `wait_for` for the database to accept connections.
///
/// # Errors
/// When the database is not reachable in time or a migration fails.
pub async fn migrate_waiting(cfg: Config, wait_for: Option<Duration>) -> anyhow::Result<()> {
    let url = &cfg.database.url;
    let db = match wait_for {
        Some(timeout) => koofill_store::wait_for(url, timeout).await,
        None => koofill_store::connect(url).await,
    }
    .context("connecting to the database (database.url)")?;
    koofill_store::migrate(&db).await.context("applying migrations")?;
    let applied = koofill_store::applied(&db).await.context("reading applied migrations")?;
    println!("database is current; applied migrations: {}", applied.join(", "));
    Ok(())
}

async fn connect_bus(cfg: &Config) -> anyhow::Result<koofill_bus::Bus> {
    koofill_bus::connect(
        &cfg.nats.url,
        &cfg.nats.prefix,
        "koofill-cli",
        cfg.nats.connect_timeout(),
        cfg.nats.request_timeout(),
        true,
    )
    .await
    .with_context(|| format!("connecting to NATS at {}", koofill_config::redact_url(&cfg.nats.url)))
}
