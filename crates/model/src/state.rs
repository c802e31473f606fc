//! The lifecycle state of an instance (architecture §6), shared by the worker that owns it, the
//! instance view the ingress reads, and the database column that stores it.

use std::{fmt, str::FromStr};

#[cfg(feature = "sea-orm")]
use sea_orm::sea_query::StringLen;
use serde::{Deserialize, Serialize};

/// The lifecycle state of an instance: `accepted → provisioning → active ⇄ frozen → released`,
/// and `failed`.
///
/// Stored as its snake_case name. With the `sea-orm` feature it is a sea-orm string column, read
/// with a checked conversion: an unknown name is an error, never a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "sea-orm", sea_orm(rs_type = "String", db_type = "String(StringLen::None)"))]
pub enum InstanceState {
    /// The ingress accepted `newInstance`; provisioning has not started.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "accepted"))]
    Accepted,
    /// The provisioner is creating the tenant.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "provisioning"))]
    Provisioning,
    /// Ready for use.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "active"))]
    Active,
    /// Frozen (expired, arrears or violation); data kept for the freeze period.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "frozen"))]
    Frozen,
    /// Released; gone for good.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "released"))]
    Released,
    /// Cannot be opened (the order is invalid, or the retry horizon passed).
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "failed"))]
    Failed,
}

impl InstanceState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 6] =
        [Self::Accepted, Self::Provisioning, Self::Active, Self::Frozen, Self::Released, Self::Failed];

    /// The stored (and serialised) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Frozen => "frozen",
            Self::Released => "released",
            Self::Failed => "failed",
        }
    }

    /// Whether `queryInstance` may answer with the instance's info (`000000`).
    pub fn is_ready(self) -> bool {
        matches!(self, Self::Active | Self::Frozen | Self::Released)
    }

    /// Whether the instance is still being opened (`000004`).
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Accepted | Self::Provisioning)
    }
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of [`InstanceState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown instance state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for InstanceState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|state| state.as_str() == s).ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// The state of an entry of the enterprise directory (tenant, application, user, department):
/// Kit syncs add or modify (`active`), delete (`deleted`) or, for users, revoke (`revoked`).
/// Rows are kept after a delete, so a late add older than the delete is recognised as stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sea-orm", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "sea-orm", sea_orm(rs_type = "String", db_type = "String(StringLen::None)"))]
pub enum DirectoryState {
    /// Added or modified, in force.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "active"))]
    Active,
    /// Deleted by KooGallery.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "deleted"))]
    Deleted,
    /// A user's authorisation revoked.
    #[cfg_attr(feature = "sea-orm", sea_orm(string_value = "revoked"))]
    Revoked,
}

impl DirectoryState {
    /// The stored (and serialised) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
            Self::Revoked => "revoked",
        }
    }
}

impl fmt::Display for DirectoryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for state in InstanceState::ALL {
            assert_eq!(state.as_str().parse::<InstanceState>(), Ok(state));
            assert_eq!(serde_json::to_string(&state).unwrap(), format!("\"{}\"", state.as_str()));
        }
        assert_eq!("frozn".parse::<InstanceState>(), Err(UnknownState("frozn".into())));
        assert!(serde_json::from_str::<InstanceState>("\"frozn\"").is_err());
    }
}
