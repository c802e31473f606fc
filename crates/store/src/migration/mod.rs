//! Migrations, compiled into every binary and written once for PostgreSQL and SQLite through
//! sea-query's schema builder (each backend gets its own SQL from the same definition).

mod m0001_provisioning;
mod m0002_request_order;
mod m0003_upgrade_order;
mod m0004_license;
mod m0005_notification;
mod m0006_supervision;
mod m0007_metering;
mod m0008_sso;
mod m0009_billing_cycle;

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
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
            Box::new(m0008_sso::Migration),
            Box::new(m0009_billing_cycle::Migration),
        ]
    }
}

/// The PostgreSQL advisory lock key migrations hold (`koofill` in ASCII).
const MIGRATION_LOCK: i64 = 0x006b_6f6f_6669_6c6c;

/// Applies every pending migration; a no-op when the schema is current. Safe to run from many
/// processes at once.
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
        // Every service migrates at start, so replicas starting together race to create the
        // same tables ("duplicate key value violates unique constraint pg_type_typname_nsp_index").
        // One transaction-scoped advisory lock serialises them: the first migrates, the others
        // wait, then find nothing pending. The lock ends with the transaction, also when the
        // process dies.
        let txn = db.begin().await?;
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).await?;
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
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
