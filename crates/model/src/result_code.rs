//! The `resultCode` values an ISV returns to KooGallery (spec §3.1).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A result code the ISV answers KooGallery with, written on the wire as six digits (`"000000"`).
///
/// KooGallery treats everything but [`ResultCode::Success`] (and [`ResultCode::Processing`] for create and
/// query) as a failure and retries or notifies the seller (spec §3.1, §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResultCode {
    /// `000000`: success.
    Success,
    /// `000001`: authentication failed (bad signature, stale timestamp, replayed nonce).
    AuthFailed,
    /// `000002`: a request parameter is invalid, or the `activity` is unknown.
    InvalidParam,
    /// `000003`: the instance ID (License 2.0: the license code) does not exist.
    InstanceNotFound,
    /// `000004`: the request is being processed (newInstance: opened asynchronously; KooGallery polls).
    Processing,
    /// `000005`: any other internal error; KooGallery retries.
    InternalError,
    /// `000100`: no instance resource is available (create and upgrade).
    NoResource,
    /// `000101`: the mobile number is missing or already exists.
    MobileUnavailable,
    /// `000102`: the email address is missing or already exists.
    EmailUnavailable,
    /// `000103`: the product was already purchased.
    AlreadyPurchased,
    /// `000104`: internal service error during create.
    ServiceError,
    /// `000105`: the account has already subscribed to the benefits.
    BenefitAlreadySubscribed,
    /// `000106`: the product's resources are sold out.
    SoldOut,
    /// `000107`: the SaaS email domain already exists.
    EmailDomainExists,
    /// `000900`: the license quota of the instance's current order is insufficient (in-line License).
    LicenseQuotaInsufficient,
    /// `000901`: the license must be applied for within the order's validity period.
    LicenseOutsideOrderPeriod,
    /// `000902`: a period license requires an expiry date.
    LicenseExpiryRequired,
    /// `000903`: a device fingerprint or hardware ID is required.
    LicenseDeviceIdRequired,
}

/// The wire text, the default message and the variant of every code, in one table so they cannot drift.
const TABLE: [(ResultCode, &str, &str); 18] = [
    (ResultCode::Success, "000000", "success"),
    (ResultCode::AuthFailed, "000001", "token is invalid"),
    (ResultCode::InvalidParam, "000002", "param is invalid"),
    (ResultCode::InstanceNotFound, "000003", "instance is invalid"),
    (ResultCode::Processing, "000004", "request is processing"),
    (ResultCode::InternalError, "000005", "other inner error"),
    (ResultCode::NoResource, "000100", "no available resource"),
    (ResultCode::MobileUnavailable, "000101", "mobile number is not specified or already exists"),
    (ResultCode::EmailUnavailable, "000102", "email address is not specified or already exists"),
    (ResultCode::AlreadyPurchased, "000103", "product already purchased"),
    (ResultCode::ServiceError, "000104", "internal service error"),
    (ResultCode::BenefitAlreadySubscribed, "000105", "account has already subscribed to benefits"),
    (ResultCode::SoldOut, "000106", "product resources sold out"),
    (ResultCode::EmailDomainExists, "000107", "SaaS email domain already exists"),
    (ResultCode::LicenseQuotaInsufficient, "000900", "license quota of the current order is insufficient"),
    (ResultCode::LicenseOutsideOrderPeriod, "000901", "apply for the license within the order's validity period"),
    (ResultCode::LicenseExpiryRequired, "000902", "a period license requires an expiry date"),
    (ResultCode::LicenseDeviceIdRequired, "000903", "a device fingerprint or hardware ID is required"),
];

impl ResultCode {
    /// Every code, in wire order.
    pub const ALL: [ResultCode; 18] = {
        let mut all = [ResultCode::Success; 18];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    fn entry(self) -> &'static (ResultCode, &'static str, &'static str) {
        // The table is in declaration order, so the discriminant indexes it.
        &TABLE[self as usize]
    }

    /// The six-digit wire form, e.g. `"000000"`.
    pub fn as_str(self) -> &'static str {
        self.entry().1
    }

    /// The `resultMsg` sent when there is nothing more specific to say (the official demo's texts where it has
    /// them).
    pub fn default_message(self) -> &'static str {
        self.entry().2
    }

    /// Whether this is `000000`.
    pub fn is_success(self) -> bool {
        self == ResultCode::Success
    }

    /// Whether this is `000004` (accepted, still being processed).
    pub fn is_processing(self) -> bool {
        self == ResultCode::Processing
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the codes of spec §3.1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown result code {0:?}")]
pub struct UnknownResultCode(pub String);

impl FromStr for ResultCode {
    type Err = UnknownResultCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TABLE
            .iter()
            .find(|(_, wire, _)| *wire == s)
            .map(|(code, _, _)| *code)
            .ok_or_else(|| UnknownResultCode(s.chars().take(32).collect()))
    }
}

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for ResultCode {
    fn schema_name() -> Cow<'static, str> {
        "ResultCode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let codes: Vec<&str> = TABLE.iter().map(|(_, wire, _)| *wire).collect();
        json_schema!({
            "type": "string",
            "description": "KooGallery result code (spec §3.1)",
            "enum": codes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_declaration_order() {
        for (i, (code, _, _)) in TABLE.iter().enumerate() {
            assert_eq!(*code as usize, i, "{code:?} is out of place in TABLE");
        }
    }

    #[test]
    fn wire_forms_and_demo_messages() {
        assert_eq!(ResultCode::Success.as_str(), "000000");
        assert_eq!(ResultCode::LicenseDeviceIdRequired.as_str(), "000903");
        assert_eq!(ResultCode::Success.default_message(), "success");
        assert_eq!(ResultCode::AuthFailed.default_message(), "token is invalid");
        assert_eq!(ResultCode::InvalidParam.default_message(), "param is invalid");
        assert_eq!(ResultCode::InstanceNotFound.default_message(), "instance is invalid");
        assert_eq!(ResultCode::Processing.default_message(), "request is processing");
        assert_eq!(ResultCode::InternalError.default_message(), "other inner error");
        assert_eq!(ResultCode::NoResource.default_message(), "no available resource");
    }

    #[test]
    fn parses_every_code_back() {
        for code in ResultCode::ALL {
            assert_eq!(code.as_str().parse::<ResultCode>(), Ok(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ResultCode>(&json).unwrap(), code);
        }
        assert!("000006".parse::<ResultCode>().is_err());
        assert!("0".parse::<ResultCode>().is_err());
        assert!(serde_json::from_str::<ResultCode>("0").is_err());
    }

    #[test]
    fn only_000000_is_success() {
        let successes: Vec<_> = ResultCode::ALL.into_iter().filter(|c| c.is_success()).collect();
        assert_eq!(successes, vec![ResultCode::Success]);
        assert!(ResultCode::Processing.is_processing());
    }
}
