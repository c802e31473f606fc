//! License 2.0 open APIs (spec §7.3): 激活授权码 (activate) and 查询授权码 (heartbeat / query),
//! called by koofill's activation proxy on behalf of the seller's software, so the AK/SK never
//! ships inside it.
//!
//! Both are `POST` with a JSON body, APIG-signed like query order. KooGallery answers
//! `{"error_code": "9202000x", "error_msg": …, "data": …}`; every code but `92020000` becomes
//! [`MarketplaceError::License`] with a typed [`LicenseErrorCode`].

use chrono::{DateTime, Utc};
use koofill_model::time::parse_compact;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{MarketplaceClient, MarketplaceError};

/// Path of 激活授权码 v1.
pub const LICENSE_ACTIVATE_PATH: &str = "/api/mkp-openapi-public/global/v1/license/activate";
/// Path of 查询授权码 (formerly the heartbeat) v1.
pub const LICENSE_HEARTBEAT_PATH: &str = "/api/mkp-openapi-public/global/v1/license/heartbeat";

/// `92020000`: success.
pub const LICENSE_OK_CODE: &str = "92020000";

/// A License open-API error code (spec §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseErrorCode {
    /// `92020001`: KooGallery's internal error (retry later).
    Internal,
    /// `92020002`: invalid parameter.
    InvalidParam,
    /// `92020003`: illegal state, e.g. activated before (do not re-activate).
    IllegalState,
    /// `92020004`: the buyer has not claimed (领取) the code yet.
    NotReceived,
    /// `92020005`: no such license code.
    NotFound,
    /// Any other code, verbatim (`CBC.*`, `APIGW.*`, …).
    Other(String),
}

impl LicenseErrorCode {
    /// The code for `error_code` as sent.
    pub fn from_wire(code: &str) -> Self {
        match code {
            "92020001" => Self::Internal,
            "92020002" => Self::InvalidParam,
            "92020003" => Self::IllegalState,
            "92020004" => Self::NotReceived,
            "92020005" => Self::NotFound,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Internal => "92020001",
            Self::InvalidParam => "92020002",
            Self::IllegalState => "92020003",
            Self::NotReceived => "92020004",
            Self::NotFound => "92020005",
            Self::Other(code) => code,
        }
    }
}

impl std::fmt::Display for LicenseErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What KooGallery says about a license code (activate's `license_code_info`, heartbeat's
/// `LicenseInfo`). Unknown fields are ignored (spec §7.1: `LicenseInfo` may gain fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseCodeInfo {
    /// `ALIVE`, `EXPIRED` or `RELEASED`.
    pub status: String,
    /// The expiry (activate's is an estimate; the heartbeat's is the truth).
    pub expire_time: Option<DateTime<Utc>>,
    /// When the code was activated (heartbeat only).
    pub activate_time: Option<DateTime<Utc>>,
    /// The product.
    pub product_id: Option<String>,
    /// The order the code was sold with.
    pub order_id: Option<String>,
}

impl LicenseCodeInfo {
    fn from_value(v: &Value) -> Self {
        let text = |k: &str| match v.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let time = |k: &str| text(k).and_then(|s| parse_compact(&s).ok());
        Self {
            status: text("status").unwrap_or_default(),
            expire_time: time("expire_time"),
            activate_time: time("activate_time"),
            product_id: text("product_id"),
            order_id: text("order_id"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct LicenseAnswer {
    error_code: String,
    #[serde(default)]
    error_msg: String,
    #[serde(default)]
    data: Option<Value>,
}

impl MarketplaceClient {
    /// 激活授权码: activates `code` now. Activating a code twice answers
    /// [`LicenseErrorCode::IllegalState`].
    ///
    /// # Errors
    /// [`MarketplaceError::License`] for a `9202000x` answer other than success; the other
    /// variants when KooGallery cannot be reached or answers something undocumented.
    #[tracing::instrument(skip_all)]
    pub async fn activate_license(&self, code: &str) -> Result<LicenseCodeInfo, MarketplaceError> {
        let data = self.license_call(LICENSE_ACTIVATE_PATH, &json!({ "license": code })).await?;
        // `data.license_code_info` is a JSON *string* (spec §7.3).
        let info = data
            .get("license_code_info")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .unwrap_or(Value::Null);
        Ok(LicenseCodeInfo::from_value(&info))
    }

    /// 查询授权码 (the heartbeat): the code's status as KooGallery knows it.
    ///
    /// # Errors
    /// As [`MarketplaceClient::activate_license`].
    #[tracing::instrument(skip_all)]
    pub async fn license_heartbeat(&self, code: &str) -> Result<LicenseCodeInfo, MarketplaceError> {
        let data = self.license_call(LICENSE_HEARTBEAT_PATH, &json!({ "license": code })).await?;
        Ok(LicenseCodeInfo::from_value(&data))
    }

    async fn license_call(&self, path: &str, body: &Value) -> Result<Value, MarketplaceError> {
        let payload = serde_json::to_vec(body).map_err(|source| MarketplaceError::Malformed { status: 0, source })?;
        let (status, answer): (u16, LicenseAnswer) = self.call(Method::POST, path, "", payload).await?;
        if answer.error_code == LICENSE_OK_CODE {
            return Ok(answer.data.unwrap_or(Value::Null));
        }
        Err(MarketplaceError::License {
            status,
            code: LicenseErrorCode::from_wire(&answer.error_code),
            message: answer.error_msg,
        })
    }
}
