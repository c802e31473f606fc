//! Request order of lifecycle calls: the instance remembers when the ingress accepted the status
//! change and the expiry change it applied last, so a call retried after a later one (a FREEZE
//! waiting out a retry delay while the UNFREEZE went through) changes nothing.
//!
//! One column per `ALTER TABLE`: SQLite accepts a single change per statement.

use sea_orm_migration::prelude::*;

/// The second migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Instances {
    Table,
    StatusRequestedAt,
    ExpiryRequestedAt,
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Instances::StatusRequestedAt, Instances::ExpiryRequestedAt] {
            m.alter_table(
                Table::alter()
                    .table(Instances::Table)
                    .add_column(ColumnDef::new(column).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Instances::StatusRequestedAt, Instances::ExpiryRequestedAt] {
            m.alter_table(Table::alter().table(Instances::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
