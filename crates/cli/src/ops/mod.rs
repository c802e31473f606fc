//! Operator commands: `koofill dlq …`, `koofill instances …` and `koofill migrate`. Each prints a
//! readable result and fails with a message that says what to check.
//!
//! They run against a [`Target`]: the configuration, pointed by [`crate::devstate::follow`] at
//! what a `koofill dev` in the same folder runs, unless configured otherwise.

mod database;
pub mod dlq;
pub mod instances;
pub mod license;
pub mod migrate;
pub mod notify;
pub mod supervision;
mod table;
pub mod usage;

use anyhow::Context;
use koofill_bus::Bus;
use koofill_config::Config;
use sea_orm::DatabaseConnection;

use crate::devstate::Followed;

/// The client name operator commands connect to NATS with.
const CLIENT_NAME: &str = "koofill-cli";

/// What an operator command runs against.
#[derive(Debug)]
pub struct Target {
    /// The configuration, after following `koofill dev`'s state file.
    pub cfg: Config,
    /// What was taken from that file, if anything.
    pub dev: Option<Followed>,
}

impl Target {
    /// Connects to NATS, waiting for the first connection.
    ///
    /// # Errors
    /// When NATS does not answer; the message says where its URL came from.
    pub async fn bus(&self) -> anyhow::Result<Bus> {
        if let Some(dev) = &self.dev {
            dev.check_nats()?;
        }
        let nats = &self.cfg.nats;
        let origin = self.dev.as_ref().and_then(Followed::nats_origin).unwrap_or_else(|| "nats.url".to_owned());
        koofill_bus::connect(&nats.url, &nats.prefix, CLIENT_NAME, nats.connect_timeout(), nats.request_timeout(), true)
            .await
            .with_context(|| format!("connecting to NATS at {} ({origin})", koofill_config::redact_url(&nats.url)))
    }

    /// Opens the database to read it, never creating it.
    ///
    /// # Errors
    /// When it does not exist or cannot be reached.
    pub async fn read_database(&self) -> anyhow::Result<DatabaseConnection> {
        database::open_existing(&self.cfg.database.url, &self.database_origin()).await
    }

    /// Where `database.url` came from, for messages.
    fn database_origin(&self) -> String {
        self.dev.as_ref().and_then(Followed::database_origin).unwrap_or_else(|| "database.url".to_owned())
    }
}
