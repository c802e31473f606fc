//! The SSO broker's table (architecture §3.1): `sso_sessions`, one row per 联营 login, holding
//! the tenant's OAuth tokens sealed at rest and the one-time login assertion handed to the
//! seller's product.

use sea_orm_migration::prelude::*;

/// The eighth migration.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SsoSessions {
    Table,
    Id,
    TenantId,
    AppId,
    InstanceId,
    UserName,
    AccessTokenEnc,
    RefreshTokenEnc,
    TokenExpiresAt,
    AssertionJti,
    AssertionExpiresAt,
    RedeemedAt,
    CreatedAt,
    EndedAt,
}

fn text(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().not_null().to_owned()
}

fn time(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().not_null().to_owned()
}

fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).timestamp_with_time_zone().null().to_owned()
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SsoSessions::Table)
                .col(ColumnDef::new(SsoSessions::Id).string().not_null().primary_key())
                .col(text(SsoSessions::TenantId))
                .col(text(SsoSessions::AppId))
                .col(text(SsoSessions::InstanceId))
                .col(text(SsoSessions::UserName))
                // Sealed tokens are longer than a short VARCHAR on some backends: TEXT.
                .col(ColumnDef::new(SsoSessions::AccessTokenEnc).text().not_null())
                .col(ColumnDef::new(SsoSessions::RefreshTokenEnc).text().null())
                .col(time(SsoSessions::TokenExpiresAt))
                .col(text(SsoSessions::AssertionJti))
                .col(time(SsoSessions::AssertionExpiresAt))
                .col(time_null(SsoSessions::RedeemedAt))
                .col(time(SsoSessions::CreatedAt))
                .col(time_null(SsoSessions::EndedAt))
                .to_owned(),
        )
        .await?;
        // The redeem is a conditional UPDATE by jti: the unique index makes it one row at most.
        m.create_index(
            Index::create()
                .name("ux_sso_sessions_assertion_jti")
                .table(SsoSessions::Table)
                .col(SsoSessions::AssertionJti)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_sso_sessions_user")
                .table(SsoSessions::Table)
                .col(SsoSessions::TenantId)
                .col(SsoSessions::AppId)
                .col(SsoSessions::UserName)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SsoSessions::Table).to_owned()).await?;
        Ok(())
    }
}
