//! The license worker's tables (architecture §8): `licenses` (one row per License 2.0 code, its
//! status, expiry, request-order times and what KooGallery last said), `license_transitions`
//! (the audit trail, with the unique `(code, idem_key)` of spec §7.2's idempotency keys) and
//! `license_checks` (every activate / heartbeat call to KooGallery).

use sea_orm_migration::prelude::*;

/// The fourth migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Code,
    OrderId,
    OrderLineId,
    ProductId,
    Status,
    ExpireTime,
    Test,
    ReleasedBeforeKnown,
    StatusRequestedAt,
    ExpiryRequestedAt,
    ActivatedAt,
    ActivationAnnounced,
    KgStatus,
    CheckedAt,
    CheckDue,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LicenseTransitions {
    Table,
    Id,
    Code,
    FromStatus,
    ToStatus,
    Step,
    IdemKey,
    OrderId,
    Scene,
    EventId,
    Detail,
    At,
}

#[derive(DeriveIden)]
enum LicenseChecks {
    Table,
    Id,
    Code,
    Call,
    Outcome,
    Status,
    DurationMs,
    At,
}

fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
}

fn time(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

fn flag(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).boolean().not_null().default(false).to_owned()
}

fn serial_id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Licenses::Table)
                .col(ColumnDef::new(Licenses::Code).string().not_null().primary_key())
                .col(text_null(Licenses::OrderId))
                .col(text_null(Licenses::OrderLineId))
                .col(text_null(Licenses::ProductId))
                .col(ColumnDef::new(Licenses::Status).string().not_null())
                .col(time_null(Licenses::ExpireTime))
                .col(flag(Licenses::Test))
                .col(flag(Licenses::ReleasedBeforeKnown))
                .col(time_null(Licenses::StatusRequestedAt))
                .col(time_null(Licenses::ExpiryRequestedAt))
                .col(time_null(Licenses::ActivatedAt))
                .col(flag(Licenses::ActivationAnnounced))
                .col(text_null(Licenses::KgStatus))
                .col(time_null(Licenses::CheckedAt))
                .col(flag(Licenses::CheckDue))
                .col(ColumnDef::new(Licenses::Version).big_integer().not_null().default(0))
                .col(time(Licenses::CreatedAt))
                .col(time(Licenses::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LicenseTransitions::Table)
                .col(serial_id(LicenseTransitions::Id))
                .col(ColumnDef::new(LicenseTransitions::Code).string().not_null())
                .col(ColumnDef::new(LicenseTransitions::FromStatus).string().not_null())
                .col(ColumnDef::new(LicenseTransitions::ToStatus).string().not_null())
                .col(ColumnDef::new(LicenseTransitions::Step).string().not_null())
                .col(text_null(LicenseTransitions::IdemKey))
                .col(text_null(LicenseTransitions::OrderId))
                .col(text_null(LicenseTransitions::Scene))
                .col(ColumnDef::new(LicenseTransitions::EventId).string().not_null())
                .col(ColumnDef::new(LicenseTransitions::Detail).text().null())
                .col(time(LicenseTransitions::At))
                .to_owned(),
        )
        .await?;
        // The keyed idempotency of spec §7.2: one renewal per (code, order, scene), one release.
        // NULL keys (freeze/unfreeze, which may repeat) are distinct on both backends.
        m.create_index(
            Index::create()
                .name("ux_license_transitions_key")
                .table(LicenseTransitions::Table)
                .col(LicenseTransitions::Code)
                .col(LicenseTransitions::IdemKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LicenseChecks::Table)
                .col(serial_id(LicenseChecks::Id))
                .col(ColumnDef::new(LicenseChecks::Code).string().not_null())
                .col(ColumnDef::new(LicenseChecks::Call).string().not_null())
                .col(ColumnDef::new(LicenseChecks::Outcome).string().not_null())
                .col(text_null(LicenseChecks::Status))
                .col(ColumnDef::new(LicenseChecks::DurationMs).big_integer().not_null())
                .col(time(LicenseChecks::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_license_checks_code")
                .table(LicenseChecks::Table)
                .col(LicenseChecks::Code)
                .col(LicenseChecks::At)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(LicenseChecks::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(LicenseTransitions::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Licenses::Table).to_owned()).await?;
        Ok(())
    }
}
