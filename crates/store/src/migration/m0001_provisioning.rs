//! Provisioning's tables and the shared inbox and outbox (architecture §8).
//!
//! Unique indexes carry the idempotency keys of spec §4.4 and architecture §5, so a duplicate is
//! refused by the database rather than by a look-up that could race.

use sea_orm_migration::prelude::*;

/// The first migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    OrderId,
    OrderType,
    CreateTime,
    CustomerId,
    CustomerName,
    Test,
    Detail,
    RecordedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    OrderId,
    OrderLineId,
    ChargingMode,
    PeriodType,
    PeriodNumber,
    ExpireTime,
    Products,
    Notified,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    InstanceId,
    OrderId,
    OrderLineId,
    State,
    Test,
    ChargingMode,
    ProductId,
    SkuCode,
    LinearValue,
    Products,
    CustomerId,
    ExpireTime,
    FrontEndUrl,
    AdminUrl,
    UserNameEnc,
    PasswordEnc,
    Memo,
    ReleasedBeforeCreate,
    FailureReason,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InstanceTransitions {
    Table,
    Id,
    InstanceId,
    FromState,
    ToState,
    Step,
    IdemKey,
    OrderId,
    Scene,
    EventId,
    Detail,
    At,
}

#[derive(DeriveIden)]
enum ProvisionerCalls {
    Table,
    Id,
    InstanceId,
    Step,
    CallId,
    Attempt,
    Outcome,
    StatusCode,
    DurationMs,
    Error,
    At,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    InstanceId,
    TenantId,
    OrderId,
    TenantCode,
    Name,
    DomainName,
    State,
    Test,
    SourceTime,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    InstanceId,
    TenantId,
    AppId,
    ClientId,
    ClientSecretEnc,
    State,
    Test,
    SourceTime,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DirectoryUsers {
    Table,
    Id,
    InstanceId,
    TenantId,
    AppId,
    UserName,
    Name,
    OrgCode,
    Role,
    Enabled,
    Position,
    EmployeeCode,
    EmployeeType,
    Mobile,
    Email,
    WorkPlace,
    EntryDate,
    State,
    Test,
    SourceTime,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Departments {
    Table,
    Id,
    InstanceId,
    TenantId,
    OrgCode,
    OrgName,
    ParentCode,
    State,
    Test,
    SourceTime,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Inbox {
    Table,
    Consumer,
    EventId,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Subject,
    Payload,
    Headers,
    CreatedAt,
    SentAt,
}

/// An id column: 64-bit, generated (`bigserial` on PostgreSQL, `integer` rowid alias on SQLite).
fn serial_id(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().auto_increment().primary_key().to_owned()
}

fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

fn long_text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

fn time(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
}

fn flag(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).boolean().not_null().default(false).to_owned()
}

fn unique(name: &str, table: impl IntoIden + 'static, columns: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for c in columns {
        index.col(c);
    }
    index.to_owned()
}

fn index(name: &str, table: impl IntoIden + 'static, columns: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for c in columns {
        index.col(c);
    }
    index.to_owned()
}

macro_rules! cols {
    ($($c:expr),+ $(,)?) => { vec![$(SeaRc::new($c) as DynIden),+] };
}

// The trait declares `&SchemaManager` with an elided lifetime; spelling it out here would not
// match the signature `async_trait` expands.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Orders::Table)
                .col(ColumnDef::new(Orders::OrderId).string().not_null().primary_key())
                .col(text_null(Orders::OrderType))
                .col(time_null(Orders::CreateTime))
                .col(text_null(Orders::CustomerId))
                .col(text_null(Orders::CustomerName))
                .col(flag(Orders::Test))
                .col(long_text_null(Orders::Detail))
                .col(time(Orders::RecordedAt))
                .col(time(Orders::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OrderLines::Table)
                .col(text(OrderLines::OrderId))
                .col(text(OrderLines::OrderLineId))
                .col(text_null(OrderLines::ChargingMode))
                .col(text_null(OrderLines::PeriodType))
                .col(ColumnDef::new(OrderLines::PeriodNumber).big_integer().null())
                .col(time_null(OrderLines::ExpireTime))
                .col(long_text_null(OrderLines::Products))
                .col(flag(OrderLines::Notified))
                .col(time(OrderLines::RecordedAt))
                // The create and orderNotify key (spec §4.4).
                .primary_key(Index::create().col(OrderLines::OrderId).col(OrderLines::OrderLineId))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Instances::Table)
                .col(ColumnDef::new(Instances::InstanceId).string().not_null().primary_key())
                .col(text_null(Instances::OrderId))
                .col(text_null(Instances::OrderLineId))
                .col(text(Instances::State))
                .col(flag(Instances::Test))
                .col(text_null(Instances::ChargingMode))
                .col(text_null(Instances::ProductId))
                .col(text_null(Instances::SkuCode))
                .col(text_null(Instances::LinearValue))
                .col(long_text_null(Instances::Products))
                .col(text_null(Instances::CustomerId))
                .col(time_null(Instances::ExpireTime))
                .col(ColumnDef::new(Instances::FrontEndUrl).string_len(512).null())
                .col(ColumnDef::new(Instances::AdminUrl).string_len(512).null())
                .col(text_null(Instances::UserNameEnc))
                .col(text_null(Instances::PasswordEnc))
                .col(long_text_null(Instances::Memo))
                .col(flag(Instances::ReleasedBeforeCreate))
                .col(long_text_null(Instances::FailureReason))
                .col(ColumnDef::new(Instances::Version).big_integer().not_null().default(0))
                .col(time(Instances::CreatedAt))
                .col(time(Instances::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // One instance per order line: the create key (spec §4.4). NULLs (a release recorded
        // before its create, order unknown) do not collide.
        m.create_index(unique(
            "ux_instances_order_line",
            Instances::Table,
            cols![Instances::OrderId, Instances::OrderLineId],
        ))
        .await?;
        m.create_index(index("ix_instances_state", Instances::Table, cols![Instances::State])).await?;

        m.create_table(
            Table::create()
                .table(InstanceTransitions::Table)
                .col(serial_id(InstanceTransitions::Id))
                .col(text(InstanceTransitions::InstanceId))
                .col(text(InstanceTransitions::FromState))
                .col(text(InstanceTransitions::ToState))
                .col(text(InstanceTransitions::Step))
                .col(text_null(InstanceTransitions::IdemKey))
                .col(text_null(InstanceTransitions::OrderId))
                .col(text_null(InstanceTransitions::Scene))
                .col(text(InstanceTransitions::EventId))
                .col(long_text_null(InstanceTransitions::Detail))
                .col(time(InstanceTransitions::At))
                .to_owned(),
        )
        .await?;
        // refresh (instanceId, orderId, scene), upgrade (instanceId, orderId), release
        // (instanceId) and create, as `idem_key`; freeze/unfreeze rows leave it NULL.
        m.create_index(unique(
            "ux_instance_transitions_key",
            InstanceTransitions::Table,
            cols![InstanceTransitions::InstanceId, InstanceTransitions::IdemKey],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ProvisionerCalls::Table)
                .col(serial_id(ProvisionerCalls::Id))
                .col(text_null(ProvisionerCalls::InstanceId))
                .col(text(ProvisionerCalls::Step))
                .col(text(ProvisionerCalls::CallId))
                .col(ColumnDef::new(ProvisionerCalls::Attempt).integer().not_null())
                .col(text(ProvisionerCalls::Outcome))
                .col(ColumnDef::new(ProvisionerCalls::StatusCode).integer().null())
                .col(ColumnDef::new(ProvisionerCalls::DurationMs).big_integer().not_null())
                .col(long_text_null(ProvisionerCalls::Error))
                .col(time(ProvisionerCalls::At))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_provisioner_calls_instance",
            ProvisionerCalls::Table,
            cols![ProvisionerCalls::InstanceId],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(serial_id(Tenants::Id))
                .col(text(Tenants::InstanceId))
                .col(text(Tenants::TenantId))
                .col(text_null(Tenants::OrderId))
                .col(text(Tenants::TenantCode))
                .col(text(Tenants::Name))
                .col(text(Tenants::DomainName))
                .col(text(Tenants::State))
                .col(flag(Tenants::Test))
                .col(time(Tenants::SourceTime))
                .col(time(Tenants::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(unique("ux_tenants_key", Tenants::Table, cols![Tenants::InstanceId, Tenants::TenantId])).await?;

        m.create_table(
            Table::create()
                .table(Applications::Table)
                .col(serial_id(Applications::Id))
                .col(text(Applications::InstanceId))
                .col(text(Applications::TenantId))
                .col(text(Applications::AppId))
                .col(text(Applications::ClientId))
                .col(long_text_null(Applications::ClientSecretEnc))
                .col(text(Applications::State))
                .col(flag(Applications::Test))
                .col(time(Applications::SourceTime))
                .col(time(Applications::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(unique(
            "ux_applications_key",
            Applications::Table,
            cols![Applications::InstanceId, Applications::TenantId, Applications::AppId],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(DirectoryUsers::Table)
                .col(serial_id(DirectoryUsers::Id))
                .col(text(DirectoryUsers::InstanceId))
                .col(text(DirectoryUsers::TenantId))
                .col(text(DirectoryUsers::AppId))
                .col(text(DirectoryUsers::UserName))
                .col(text(DirectoryUsers::Name))
                .col(text(DirectoryUsers::OrgCode))
                .col(text(DirectoryUsers::Role))
                .col(flag(DirectoryUsers::Enabled))
                .col(text_null(DirectoryUsers::Position))
                .col(text_null(DirectoryUsers::EmployeeCode))
                .col(ColumnDef::new(DirectoryUsers::EmployeeType).big_integer().null())
                .col(text_null(DirectoryUsers::Mobile))
                .col(text_null(DirectoryUsers::Email))
                .col(text_null(DirectoryUsers::WorkPlace))
                .col(text_null(DirectoryUsers::EntryDate))
                .col(text(DirectoryUsers::State))
                .col(flag(DirectoryUsers::Test))
                .col(time(DirectoryUsers::SourceTime))
                .col(time(DirectoryUsers::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(unique(
            "ux_directory_users_key",
            DirectoryUsers::Table,
            cols![
                DirectoryUsers::InstanceId,
                DirectoryUsers::TenantId,
                DirectoryUsers::AppId,
                DirectoryUsers::UserName
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Departments::Table)
                .col(serial_id(Departments::Id))
                .col(text(Departments::InstanceId))
                .col(text(Departments::TenantId))
                .col(text(Departments::OrgCode))
                .col(text(Departments::OrgName))
                .col(text_null(Departments::ParentCode))
                .col(text(Departments::State))
                .col(flag(Departments::Test))
                .col(time(Departments::SourceTime))
                .col(time(Departments::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(unique(
            "ux_departments_key",
            Departments::Table,
            cols![Departments::InstanceId, Departments::TenantId, Departments::OrgCode],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Inbox::Table)
                .col(text(Inbox::Consumer))
                .col(text(Inbox::EventId))
                .col(time(Inbox::ProcessedAt))
                .primary_key(Index::create().col(Inbox::Consumer).col(Inbox::EventId))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(ColumnDef::new(Outbox::Id).string().not_null().primary_key())
                .col(text(Outbox::Subject))
                .col(ColumnDef::new(Outbox::Payload).text().not_null())
                .col(long_text_null(Outbox::Headers))
                .col(time(Outbox::CreatedAt))
                .col(time_null(Outbox::SentAt))
                .to_owned(),
        )
        .await?;
        // The relay's query: pending rows, oldest first.
        m.create_index(index("ix_outbox_pending", Outbox::Table, cols![Outbox::SentAt, Outbox::CreatedAt])).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outbox::Table.into_iden(),
            Inbox::Table.into_iden(),
            Departments::Table.into_iden(),
            DirectoryUsers::Table.into_iden(),
            Applications::Table.into_iden(),
            Tenants::Table.into_iden(),
            ProvisionerCalls::Table.into_iden(),
            InstanceTransitions::Table.into_iden(),
            Instances::Table.into_iden(),
            OrderLines::Table.into_iden(),
            Orders::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
