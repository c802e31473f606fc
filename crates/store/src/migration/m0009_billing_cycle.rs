//! Billing cycles per instance: metering remembers the cycle of each instance's product (daily
//! for the products and SKUs configured so, hourly otherwise), learnt from `instance.active`.

use sea_orm_migration::prelude::*;

/// The ninth migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MeteringInstances {
    Table,
    Cycle,
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(MeteringInstances::Table)
                .add_column(ColumnDef::new(MeteringInstances::Cycle).string_len(16).null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(MeteringInstances::Table).drop_column(MeteringInstances::Cycle).to_owned())
            .await
    }
}
