//! Service supervision (spec §10): one case per supervised order line, the audit trail of its
//! steps, a deadline row per (case, kind), and the reminders sent before each deadline.

use sea_orm_migration::prelude::*;

/// The sixth migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupervisionCases {
    Table,
    Id,
    OrderId,
    OrderLineId,
    Goods,
    State,
    StateBeforeAppeal,
    ProductId,
    SkuCode,
    ChargingMode,
    Test,
    Amount,
    PaidAt,
    OpenedAt,
    ActualStart,
    Rejections,
    CompletedAt,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SupervisionSteps {
    Table,
    Id,
    CaseId,
    Seq,
    Action,
    FromState,
    ToState,
    Actor,
    Note,
    Evidence,
    ActualStart,
    SourceId,
    At,
}

#[derive(DeriveIden)]
enum SupervisionDeadlines {
    Table,
    Id,
    CaseId,
    Kind,
    Cycle,
    StartedAt,
    DueAt,
    MetAt,
    BreachedAt,
    PausedAt,
}

#[derive(DeriveIden)]
enum SupervisionReminders {
    Table,
    Id,
    CaseId,
    Kind,
    Cycle,
    Threshold,
    SentAt,
}

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

fn number(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().default(0).to_owned()
}

fn time(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
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

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SupervisionCases::Table)
                .col(serial_id(SupervisionCases::Id))
                .col(text(SupervisionCases::OrderId))
                .col(text(SupervisionCases::OrderLineId))
                .col(text(SupervisionCases::Goods))
                .col(text(SupervisionCases::State))
                .col(text_null(SupervisionCases::StateBeforeAppeal))
                .col(text_null(SupervisionCases::ProductId))
                .col(text_null(SupervisionCases::SkuCode))
                .col(text_null(SupervisionCases::ChargingMode))
                .col(ColumnDef::new(SupervisionCases::Test).boolean().not_null().default(false))
                .col(text_null(SupervisionCases::Amount))
                .col(time(SupervisionCases::PaidAt))
                .col(time(SupervisionCases::OpenedAt))
                .col(time_null(SupervisionCases::ActualStart))
                .col(number(SupervisionCases::Rejections))
                .col(time_null(SupervisionCases::CompletedAt))
                .col(number(SupervisionCases::Version))
                .col(time(SupervisionCases::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // One case per order line: opening twice (orderNotify and the instance events both name it)
        // finds the first.
        m.create_index(unique(
            "ux_supervision_cases_line",
            SupervisionCases::Table,
            vec![SupervisionCases::OrderId.into_iden(), SupervisionCases::OrderLineId.into_iden()],
        ))
        .await?;
        m.create_index(index(
            "ix_supervision_cases_state",
            SupervisionCases::Table,
            vec![SupervisionCases::State.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(SupervisionSteps::Table)
                .col(serial_id(SupervisionSteps::Id))
                .col(ColumnDef::new(SupervisionSteps::CaseId).big_integer().not_null())
                .col(ColumnDef::new(SupervisionSteps::Seq).big_integer().not_null())
                .col(text(SupervisionSteps::Action))
                .col(text(SupervisionSteps::FromState))
                .col(text(SupervisionSteps::ToState))
                .col(text(SupervisionSteps::Actor))
                .col(long_text_null(SupervisionSteps::Note))
                .col(long_text_null(SupervisionSteps::Evidence))
                .col(time_null(SupervisionSteps::ActualStart))
                .col(text(SupervisionSteps::SourceId))
                .col(time(SupervisionSteps::At))
                .to_owned(),
        )
        .await?;
        // The sequence number is the case's version after the step: two writers that read the same
        // version cannot both record a step.
        m.create_index(unique(
            "ux_supervision_steps_seq",
            SupervisionSteps::Table,
            vec![SupervisionSteps::CaseId.into_iden(), SupervisionSteps::Seq.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(SupervisionDeadlines::Table)
                .col(serial_id(SupervisionDeadlines::Id))
                .col(ColumnDef::new(SupervisionDeadlines::CaseId).big_integer().not_null())
                .col(text(SupervisionDeadlines::Kind))
                .col(number(SupervisionDeadlines::Cycle))
                .col(time(SupervisionDeadlines::StartedAt))
                .col(time(SupervisionDeadlines::DueAt))
                .col(time_null(SupervisionDeadlines::MetAt))
                .col(time_null(SupervisionDeadlines::BreachedAt))
                .col(time_null(SupervisionDeadlines::PausedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(unique(
            "ux_supervision_deadlines_kind",
            SupervisionDeadlines::Table,
            vec![SupervisionDeadlines::CaseId.into_iden(), SupervisionDeadlines::Kind.into_iden()],
        ))
        .await?;
        m.create_index(index(
            "ix_supervision_deadlines_due",
            SupervisionDeadlines::Table,
            vec![SupervisionDeadlines::DueAt.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(SupervisionReminders::Table)
                .col(serial_id(SupervisionReminders::Id))
                .col(ColumnDef::new(SupervisionReminders::CaseId).big_integer().not_null())
                .col(text(SupervisionReminders::Kind))
                .col(ColumnDef::new(SupervisionReminders::Cycle).big_integer().not_null())
                .col(text(SupervisionReminders::Threshold))
                .col(time(SupervisionReminders::SentAt))
                .to_owned(),
        )
        .await?;
        // Exactly one reminder per threshold of one run of a deadline, whoever ticks.
        m.create_index(unique(
            "ux_supervision_reminders_once",
            SupervisionReminders::Table,
            vec![
                SupervisionReminders::CaseId.into_iden(),
                SupervisionReminders::Kind.into_iden(),
                SupervisionReminders::Cycle.into_iden(),
                SupervisionReminders::Threshold.into_iden(),
            ],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SupervisionReminders::Table.into_iden(),
            SupervisionDeadlines::Table.into_iden(),
            SupervisionSteps::Table.into_iden(),
            SupervisionCases::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
