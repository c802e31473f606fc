//! The request-reply contract of the license activation proxy between the ingress (which asks,
//! for `POST /v1/licenses/{code}/activate` and `GET /v1/licenses/{code}`) and the license worker
//! (which answers, calling KooGallery's activate / heartbeat APIs, spec §7.3) on
//! `<prefix>.rpc.license.activate` and `<prefix>.rpc.license.status`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the ingress asks about one license code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LicenseProxyRequest {
    /// The license code, as the seller's software sent it.
    pub code: String,
    /// An optional machine fingerprint the software sent; bound into the status token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// A license code's status as koofill reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseStatus {
    /// Activated and usable.
    Active,
    /// Known, not activated yet through koofill.
    NotActivated,
    /// Frozen (expired, in the freeze period): not usable, the data is kept.
    Frozen,
    /// Past its expiry.
    Expired,
    /// Released: gone for good.
    Released,
}

impl LicenseStatus {
    /// The wire name, e.g. `not_activated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NotActivated => "not_activated",
            Self::Frozen => "frozen",
            Self::Expired => "expired",
            Self::Released => "released",
        }
    }

    /// Whether the software may run under this status.
    pub fn is_usable(self) -> bool {
        self == Self::Active
    }
}

/// How the proxy call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseOutcome {
    /// Answered; `license` is set.
    Ok,
    /// KooGallery does not know the code (`92020005`).
    NotFound,
    /// The code is in a state that forbids the call, e.g. activated before (`92020003`).
    IllegalState,
    /// The buyer has not claimed the code yet (`92020004`).
    NotReceived,
    /// KooGallery refused the parameters (`92020002`), or the code is not a valid code.
    Invalid,
    /// KooGallery failed or could not be reached (`92020001`, timeouts); try again later.
    Unavailable,
    /// KooGallery refused koofill's credentials (AK/SK): an operator must fix the configuration.
    Misconfigured,
}

/// The license worker's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LicenseProxyReply {
    /// How it ended.
    pub outcome: LicenseOutcome,
    /// A message for the software's user (never a credential).
    pub message: String,
    /// KooGallery's `error_code`, when it answered one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub koogallery_code: Option<String>,
    /// The code's status, when `outcome` is [`LicenseOutcome::Ok`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<LicenseView>,
}

/// A license code as the proxy reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LicenseView {
    /// The license code.
    pub code: String,
    /// Its status.
    pub status: LicenseStatus,
    /// Its expiry, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<DateTime<Utc>>,
    /// When it was activated, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<DateTime<Utc>>,
    /// When koofill last asked KooGallery about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime<Utc>>,
    /// The signed status token (`kflic1.<payload>.<signature>`) the software verifies offline.
    pub token: String,
    /// When the token expires.
    pub token_expires_at: DateTime<Utc>,
}
