//! The notification worker's tables: one delivery per (event, channel), and every attempt at it.
//!
//! `UNIQUE(event_id, channel_id)` is what makes a redelivered event or a second replica unable to
//! create a second delivery; the delivery's `state` and `lease_until` are what make a crash
//! mid-send end in a retry of the same delivery (same id) rather than in a new one.

use sea_orm_migration::prelude::*;

/// The notification migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NotificationDeliveries {
    Table,
    Id,
    EventId,
    EventType,
    Test,
    ChannelId,
    ChannelKind,
    State,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    Title,
    Body,
    Data,
    LastError,
    ProviderAnswer,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum NotificationAttempts {
    Table,
    Id,
    DeliveryId,
    Attempt,
    Outcome,
    StatusCode,
    ProviderAnswer,
    DurationMs,
    Error,
    At,
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let text = |c: NotificationDeliveries| ColumnDef::new(c).string().not_null().to_owned();
        let time = |c: NotificationDeliveries| ColumnDef::new(c).timestamp_with_time_zone().not_null().to_owned();
        let time_null = |c: NotificationDeliveries| ColumnDef::new(c).timestamp_with_time_zone().null().to_owned();
        m.create_table(
            Table::create()
                .table(NotificationDeliveries::Table)
                .col(ColumnDef::new(NotificationDeliveries::Id).string().not_null().primary_key())
                .col(text(NotificationDeliveries::EventId))
                .col(text(NotificationDeliveries::EventType))
                .col(ColumnDef::new(NotificationDeliveries::Test).boolean().not_null().default(false))
                .col(text(NotificationDeliveries::ChannelId))
                .col(text(NotificationDeliveries::ChannelKind))
                .col(text(NotificationDeliveries::State))
                .col(ColumnDef::new(NotificationDeliveries::Attempts).integer().not_null().default(0))
                .col(time(NotificationDeliveries::NextAttemptAt))
                .col(time_null(NotificationDeliveries::LeaseUntil))
                .col(ColumnDef::new(NotificationDeliveries::Title).text().not_null())
                .col(ColumnDef::new(NotificationDeliveries::Body).text().not_null())
                .col(ColumnDef::new(NotificationDeliveries::Data).text().not_null())
                .col(ColumnDef::new(NotificationDeliveries::LastError).text().null())
                .col(ColumnDef::new(NotificationDeliveries::ProviderAnswer).text().null())
                .col(time(NotificationDeliveries::CreatedAt))
                .col(time(NotificationDeliveries::UpdatedAt))
                .col(time_null(NotificationDeliveries::DeliveredAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_notification_deliveries_event_channel")
                .table(NotificationDeliveries::Table)
                .col(NotificationDeliveries::EventId)
                .col(NotificationDeliveries::ChannelId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_notification_deliveries_due")
                .table(NotificationDeliveries::Table)
                .col(NotificationDeliveries::State)
                .col(NotificationDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NotificationAttempts::Table)
                .col(ColumnDef::new(NotificationAttempts::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(NotificationAttempts::DeliveryId).string().not_null())
                .col(ColumnDef::new(NotificationAttempts::Attempt).integer().not_null())
                .col(ColumnDef::new(NotificationAttempts::Outcome).string().not_null())
                .col(ColumnDef::new(NotificationAttempts::StatusCode).integer().null())
                .col(ColumnDef::new(NotificationAttempts::ProviderAnswer).text().null())
                .col(ColumnDef::new(NotificationAttempts::DurationMs).big_integer().not_null())
                .col(ColumnDef::new(NotificationAttempts::Error).text().null())
                .col(ColumnDef::new(NotificationAttempts::At).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_notification_attempts_delivery")
                .table(NotificationAttempts::Table)
                .col(NotificationAttempts::DeliveryId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(NotificationAttempts::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(NotificationDeliveries::Table).to_owned()).await
    }
}
