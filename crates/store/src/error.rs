//! The store's error type, and the one place where sea-orm's `DbErr` is classified.

use sea_orm::{DbErr, SqlErr};

/// Errors from the database layer. Callers decide with [`StoreError::is_retryable`] and
/// [`StoreError::is_conflict`], never by reading the message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write: the row (an idempotency key) already exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A statement failed for a reason other than a constraint (locked database, terminated
    /// connection, statement timeout). Worth retrying: the database may be back later.
    #[error("database statement failed")]
    Database(#[source] DbErr),
    /// A value did not fit the schema or the model (a bug or corrupt data); retrying will not help.
    #[error("stored data does not fit the model")]
    Corrupt(#[source] DbErr),
    /// A value could not be encoded for storage (a bug: every stored type encodes).
    #[error("value not encodable")]
    Encode(#[source] serde_json::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// An expected row was not there.
    #[error("not found: {0}")]
    NotFound(String),
    /// Sealing or opening a secret failed (wrong key, tampered value).
    #[error("secret at rest: {0}")]
    Secret(&'static str),
    /// The database cannot be reached: no connection, or none free before the acquire timeout.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
}

impl StoreError {
    /// Whether a later attempt may succeed (the database being unreachable, locked or restarting).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Database(_) | Self::Unavailable(_))
    }

    /// Whether a unique constraint refused the write.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }
}

impl From<DbErr> for StoreError {
    /// Unique violations become [`StoreError::Conflict`] on both backends (`23505` on PostgreSQL,
    /// `1555`/`2067` on SQLite, as reported by [`DbErr::sql_err`]). Every variant is named, so a
    /// new one in a sea-orm upgrade is a compile error here rather than a silent misclassification.
    fn from(e: DbErr) -> Self {
        match e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(e),
            DbErr::Exec(_) | DbErr::Query(_) => match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(msg)) => Self::Conflict(msg),
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => Self::Corrupt(e),
                Some(_) | None => Self::Database(e),
            },
            DbErr::Migration(msg) => Self::Migration(msg),
            DbErr::RecordNotFound(what) => Self::NotFound(what),
            DbErr::RecordNotInserted | DbErr::RecordNotUpdated => Self::NotFound(e.to_string()),
            DbErr::TryIntoErr { .. }
            | DbErr::ConvertFromU64(_)
            | DbErr::UnpackInsertId
            | DbErr::UpdateGetPrimaryKey
            | DbErr::AttrNotSet(_)
            | DbErr::Custom(_)
            | DbErr::Type(_)
            | DbErr::Json(_) => Self::Corrupt(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let unavailable = StoreError::from(DbErr::Conn(sea_orm::RuntimeErr::Internal("refused".into())));
        assert!(unavailable.is_retryable());
        let failed = StoreError::from(DbErr::Exec(sea_orm::RuntimeErr::Internal("locked".into())));
        assert!(failed.is_retryable() && !failed.is_conflict());
        assert!(!StoreError::from(DbErr::Type("bad".into())).is_retryable());
        assert!(!StoreError::from(DbErr::RecordNotFound("x".into())).is_retryable());
    }
}
