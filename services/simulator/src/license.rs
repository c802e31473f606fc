//! License 2.0 codes as KooGallery keeps them (spec §7.1, §7.3): issued by the marketplace,
//! claimed by the buyer, activated by the seller's software, then renewed, frozen or released
//! through the seller's production address.

use chrono::{DateTime, Utc};
use koofill_model::time::format_compact14;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// `92020000`: success.
pub const LICENSE_OK: &str = "92020000";
/// `92020001`: internal error.
pub const LICENSE_INTERNAL: &str = "92020001";
/// `92020002`: invalid parameter.
pub const LICENSE_INVALID_PARAM: &str = "92020002";
/// `92020003`: illegal state (do not re-activate).
pub const LICENSE_ILLEGAL_STATE: &str = "92020003";
/// `92020004`: the buyer has not claimed the code yet.
pub const LICENSE_NOT_RECEIVED: &str = "92020004";
/// `92020005`: no such license code.
pub const LICENSE_NOT_FOUND: &str = "92020005";

/// Where a license code is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LicenseState {
    /// Generated and sent, not yet claimed (领取) by the buyer: activation fails with `92020004`.
    Issued,
    /// Claimed by the buyer: the seller's software may activate it.
    Received,
    /// Activated: the service runs from the activation time.
    Active,
    /// Frozen after expiry (the seller was sent `updateLicenseCodeStatus` FREEZE).
    Frozen,
    /// Released (the seller was sent `releaseLicenseCode`).
    Released,
}

/// One license code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimLicense {
    /// The code, e.g. `PL…`.
    pub code: String,
    /// The order it was sold with.
    pub order_id: String,
    /// The product.
    pub product_id: String,
    /// Licensed quantity.
    pub amount: i64,
    /// Current expiry.
    pub expire_time: DateTime<Utc>,
    /// Where it is in its life.
    pub state: LicenseState,
    /// When it was activated.
    pub activated_at: Option<DateTime<Utc>>,
}

impl SimLicense {
    /// A code issued for `order_id` and already claimed by the buyer, valid for a year.
    pub fn received(code: impl Into<String>, order_id: impl Into<String>, product_id: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            order_id: order_id.into(),
            product_id: product_id.into(),
            amount: 1,
            expire_time: Utc::now() + chrono::Duration::days(365),
            state: LicenseState::Received,
            activated_at: None,
        }
    }

    /// The heartbeat status: `ALIVE`, `EXPIRED` or `RELEASED`.
    pub fn status_text(&self) -> &'static str {
        match self.state {
            LicenseState::Released => "RELEASED",
            LicenseState::Frozen => "EXPIRED",
            _ if self.expire_time < Utc::now() => "EXPIRED",
            _ => "ALIVE",
        }
    }

    /// Activates the code at `now` (spec §7.3): only a claimed code can be activated, and only
    /// once. On success the answer's `data.license_code_info` is a JSON string.
    ///
    /// # Errors
    /// The `9202000x` code to answer with.
    pub fn activate(&mut self, now: DateTime<Utc>) -> Result<Value, &'static str> {
        match self.state {
            LicenseState::Issued => Err(LICENSE_NOT_RECEIVED),
            LicenseState::Active | LicenseState::Frozen | LicenseState::Released => Err(LICENSE_ILLEGAL_STATE),
            LicenseState::Received => {
                self.state = LicenseState::Active;
                self.activated_at = Some(now);
                let info = json!({
                    "status": self.status_text(),
                    "expire_time": format_compact14(self.expire_time),
                    "product_id": self.product_id,
                    "amount": self.amount,
                    "order_id": self.order_id,
                });
                Ok(json!({ "license_code_info": info.to_string() }))
            }
        }
    }

    /// The heartbeat's `data` (a `LicenseInfo`).
    ///
    /// # Errors
    /// `92020004` before the buyer claimed the code, `92020003` before it was activated.
    pub fn heartbeat(&self) -> Result<Value, &'static str> {
        let activated = match (self.state, self.activated_at) {
            (LicenseState::Issued, _) => return Err(LICENSE_NOT_RECEIVED),
            (_, None) => return Err(LICENSE_ILLEGAL_STATE),
            (_, Some(at)) => at,
        };
        Ok(json!({
            "license_code": self.code,
            "status": self.status_text(),
            "activate_time": format_compact14(activated),
            "expire_time": format_compact14(self.expire_time),
            "product_id": self.product_id,
            "order_id": self.order_id,
            "amount": self.amount,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_activation_lifecycle() {
        let now = Utc::now();
        let mut license = SimLicense::received("PL1", "CS1", "P1");
        license.state = LicenseState::Issued;
        assert_eq!(license.activate(now), Err(LICENSE_NOT_RECEIVED));
        assert_eq!(license.heartbeat(), Err(LICENSE_NOT_RECEIVED));
        license.state = LicenseState::Received;
        assert_eq!(license.heartbeat(), Err(LICENSE_ILLEGAL_STATE));
        let data = license.activate(now).unwrap();
        let info: Value = serde_json::from_str(data["license_code_info"].as_str().unwrap()).unwrap();
        assert_eq!(info["status"], "ALIVE");
        assert_eq!(info["order_id"], "CS1");
        assert_eq!(license.activate(now), Err(LICENSE_ILLEGAL_STATE));
        assert_eq!(license.heartbeat().unwrap()["status"], "ALIVE");
        license.state = LicenseState::Frozen;
        assert_eq!(license.heartbeat().unwrap()["status"], "EXPIRED");
        license.state = LicenseState::Released;
        assert_eq!(license.heartbeat().unwrap()["status"], "RELEASED");
    }
}
