//! `koofill migrate`: applies the database migrations. The one operator command that may create
//! the database (a new SQLite file), since creating the schema is its purpose.

use std::time::Duration;

use anyhow::Context;

use super::Target;

/// Applies pending migrations to `database.url`, first waiting up to `wait_for` for the database
/// to accept connections when given.
///
/// # Errors
/// When the database is not reachable (in time) or a migration fails.
pub async fn run(target: &Target, wait_for: Option<Duration>) -> anyhow::Result<()> {
    let url = &target.cfg.database.url;
    let name = format!("{} ({})", koofill_config::redact_url(url), target.database_origin());
    let db = match wait_for {
        Some(timeout) => koofill_store::wait_for(url, timeout).await,
        None => koofill_store::connect(url).await,
    }
    .with_context(|| format!("connecting to the database {name}"))?;
    koofill_store::migrate(&db).await.context("applying migrations")?;
    let applied = koofill_store::applied(&db).await.context("reading applied migrations")?;
    println!("database {name} is current; applied migrations: {}", applied.join(", "));
    Ok(())
}
