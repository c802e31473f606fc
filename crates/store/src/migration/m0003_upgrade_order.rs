//! Request order of upgrades: the instance remembers when KooGallery requested the upgrade whose
//! product it holds, so an older upgrade retried after a newer one does not bring back the old
//! SKU (the same guard as status and expiry, m0002).

use sea_orm_migration::prelude::*;

/// The third migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Instances {
    Table,
    UpgradeRequestedAt,
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Instances::Table)
                .add_column(ColumnDef::new(Instances::UpgradeRequestedAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Instances::Table).drop_column(Instances::UpgradeRequestedAt).to_owned())
            .await
    }
}
