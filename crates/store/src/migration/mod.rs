//! Migrations, compiled into every binary and written once for PostgreSQL and SQLite through
//! sea-query's schema builder (each backend gets its own SQL from the same definition).

mod m0001_provisioning;
mod m0002_request_order;
mod m0003_upgrade_order;
mod m0004_license;
mod m0005_notification;
mod m0006_supervision;
mod m0007_metering;

use sea_orm::{DatabaseConnection, TransactionTrait};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::StoreError;

/// Every migration, in order. Applied migrations are recorded in `seaql_migrations`.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_provisioning::Migration),
            Box::new(m0002_request_order::Migration),
            Box::new(m0003_upgrade_order::Migration),
            Box::new(m0004_license::Migration),
            Box::new(m0005_notification::Migration),
            Box::new(m0006_supervision::Migration),
            Box::new(m0007_metering::Migration),
        ]
    }
}

/// Applies every pending migration; a no-op when the schema is current.
///
/// # Errors
/// [`StoreError`] when the database cannot be reached or a migration fails.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    if crate::is_sqlite_connection(db) {
        // sea-orm-migration wraps migrations in a transaction on PostgreSQL only. SQLite's DDL
        // is transactional too: without one, a process killed mid-migration leaves a table
        // created but its migration unrecorded, and every later start fails on "already
        // exists".
        let txn = db.begin().await?;
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
    } else {
        Migrator::up(db, None).await?;
    }
    Ok(())
}

/// Names of the migrations already applied, oldest first.
///
/// # Errors
/// [`StoreError`] when the database cannot be read.
pub async fn applied(db: &DatabaseConnection) -> Result<Vec<String>, StoreError> {
    Ok(Migrator::get_applied_migrations(db).await?.into_iter().map(|m| m.name().to_owned()).collect())
}
