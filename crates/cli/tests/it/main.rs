//! The `koofill` binary run as a user would, in a folder beside a `koofill dev` instance: a state
//! file written the way `koofill dev` writes it, a private `nats-server`, a migrated SQLite file.

mod bench;
mod dev_folder;
mod dlq;
mod instances;
