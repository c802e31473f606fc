//! The metering worker's tables (architecture §8): `usage_events` (the event inbox, one row per
//! `(instance_id, event_id)`, written in the same transaction as the window it was added to),
//! `usage_windows` (one row per instance and billing window: the exact total and the push ledger),
//! `usage_pushes` (every usage-push call to KooGallery) and `metering_instances` (what the
//! `instance.*` events said about each instance).

use sea_orm_migration::prelude::*;

/// The seventh migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageEvents {
    Table,
    InstanceId,
    EventId,
    UsageValue,
    OccurredAt,
    WindowBegin,
    Disposition,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum UsageWindows {
    Table,
    InstanceId,
    WindowBegin,
    WindowEnd,
    Cycle,
    Total,
    Events,
    State,
    Reason,
    MeteringSn,
    RecordBegin,
    RecordEnd,
    RecordTime,
    UsageValue,
    PushAttempts,
    LastPushAt,
    PushedAt,
    VerdictAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UsagePushes {
    Table,
    Id,
    At,
    Records,
    Outcome,
    ErrorCode,
    Detail,
}

#[derive(DeriveIden)]
enum MeteringInstances {
    Table,
    InstanceId,
    Status,
    OpenedAt,
    ReleasedAt,
    UpdatedAt,
}

fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

fn time(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
}

fn count(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().default(0).to_owned()
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The primary key is the dedup key: an event is counted at most once, and its row is
        // written in the transaction that adds it to its window (never before).
        m.create_table(
            Table::create()
                .table(UsageEvents::Table)
                .col(text(UsageEvents::InstanceId))
                .col(text(UsageEvents::EventId))
                .col(text(UsageEvents::UsageValue))
                .col(time(UsageEvents::OccurredAt))
                .col(time_null(UsageEvents::WindowBegin))
                .col(text(UsageEvents::Disposition))
                .col(time(UsageEvents::ReceivedAt))
                .primary_key(Index::create().col(UsageEvents::InstanceId).col(UsageEvents::EventId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UsageWindows::Table)
                .col(text(UsageWindows::InstanceId))
                .col(time(UsageWindows::WindowBegin))
                .col(time(UsageWindows::WindowEnd))
                .col(text(UsageWindows::Cycle))
                .col(text(UsageWindows::Total))
                .col(count(UsageWindows::Events))
                .col(text(UsageWindows::State))
                .col(text_null(UsageWindows::Reason))
                .col(text_null(UsageWindows::MeteringSn))
                .col(time_null(UsageWindows::RecordBegin))
                .col(time_null(UsageWindows::RecordEnd))
                .col(time_null(UsageWindows::RecordTime))
                .col(text_null(UsageWindows::UsageValue))
                .col(count(UsageWindows::PushAttempts))
                .col(time_null(UsageWindows::LastPushAt))
                .col(time_null(UsageWindows::PushedAt))
                .col(time_null(UsageWindows::VerdictAt))
                .col(count(UsageWindows::Version))
                .col(time(UsageWindows::CreatedAt))
                .col(time(UsageWindows::UpdatedAt))
                .primary_key(Index::create().col(UsageWindows::InstanceId).col(UsageWindows::WindowBegin))
                .to_owned(),
        )
        .await?;
        // One record per metering_sn (NULL until the window closes; NULLs are distinct).
        m.create_index(
            Index::create()
                .name("ux_usage_windows_metering_sn")
                .table(UsageWindows::Table)
                .col(UsageWindows::MeteringSn)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_usage_windows_state")
                .table(UsageWindows::Table)
                .col(UsageWindows::State)
                .col(UsageWindows::WindowEnd)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(UsagePushes::Table)
                .col(ColumnDef::new(UsagePushes::Id).big_integer().not_null().auto_increment().primary_key())
                .col(time(UsagePushes::At))
                .col(count(UsagePushes::Records))
                .col(text(UsagePushes::Outcome))
                .col(text_null(UsagePushes::ErrorCode))
                .col(ColumnDef::new(UsagePushes::Detail).text().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MeteringInstances::Table)
                .col(ColumnDef::new(MeteringInstances::InstanceId).string().not_null().primary_key())
                .col(text(MeteringInstances::Status))
                .col(time_null(MeteringInstances::OpenedAt))
                .col(time_null(MeteringInstances::ReleasedAt))
                .col(time(MeteringInstances::UpdatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MeteringInstances::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(UsagePushes::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(UsageWindows::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(UsageEvents::Table).to_owned()).await?;
        Ok(())
    }
}
