//! The JSON answer to every basic and Kit callback (spec §1.3, §1.4, §5.1).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::InstanceId;
use crate::json_ascii;
use crate::result_code::ResultCode;
use crate::validation::{RESULT_MSG_MAX_CHARS, ValidationError, truncate_chars};
use crate::wire::wire_enum;

wire_enum!(
    /// How `userName` and `password` of [`AppInfo`] are encrypted (spec §2.5).
    EncryptType("encryptType") {
        /// `"1"`: AES-256-CBC, PKCS#5 padding (the default).
        Aes256 = "1",
        /// `"2"`: AES-128-CBC, PKCS#5 padding.
        Aes128 = "2",
    }
);

/// The answer body: `resultCode`, optional `resultMsg`, and the fields of newInstance and queryInstance.
///
/// Absent fields are left out. Send it with [`CallbackResponse::to_bytes`], which escapes non-ASCII text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallbackResponse {
    /// The outcome.
    pub result_code: ResultCode,
    /// A description, at most 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub result_msg: Option<String>,
    /// newInstance: the instance for the order line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
    /// queryInstance: how the credentials in `info` are encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt_type: Option<EncryptType>,
    /// queryInstance: one entry per instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Vec<InstanceInfo>>,
}

/// One instance in a queryInstance answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    /// The instance.
    pub instance_id: InstanceId,
    /// How the customer reaches the product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_info: Option<AppInfo>,
    /// On-demand and on-demand-package usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_info: Option<Vec<UsageInfo>>,
}

/// Access information for the customer (spec §1.4).
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The web address the customer uses (String(512)).
    #[schemars(length(max = 512))]
    pub front_end_url: String,
    /// The admin console address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub admin_url: Option<String>,
    /// The admin account, encrypted as `iv + base64(AES-CBC(...))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub user_name: Option<String>,
    /// The admin password, encrypted the same way. Redacted in `Debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub password: Option<String>,
    /// Free text (String(1024)); sent with non-ASCII escaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub memo: Option<String>,
}

impl fmt::Debug for AppInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppInfo")
            .field("front_end_url", &self.front_end_url)
            .field("admin_url", &self.admin_url)
            .field("user_name", &self.user_name)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("memo", &self.memo)
            .finish()
    }
}

/// Usage of an on-demand (package) instance. `relatedInstanceId` and `dashboardUrl` are documented;
/// `usageValue` and `statisticalTime` follow a third-party reading of the page (spec §1.4, §12 item 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageInfo {
    /// For a package: the on-demand instance this usage belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub related_instance_id: Option<InstanceId>,
    /// Usage dashboard address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub dashboard_url: Option<String>,
    /// The usage so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_value: Option<f64>,
    /// When the usage was measured, UTC `yyyyMMddHHmmssSSS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistical_time: Option<String>,
}

/// The body sent if serialisation ever failed; it cannot for these types, but the answer must go out.
const FALLBACK_BODY: &[u8] = br#"{"resultCode":"000005","resultMsg":"other inner error"}"#;

impl CallbackResponse {
    /// A bare answer with `code` and its default message.
    pub fn with_code(code: ResultCode) -> Self {
        Self {
            result_code: code,
            result_msg: Some(code.default_message().to_owned()),
            instance_id: None,
            encrypt_type: None,
            info: None,
        }
    }

    /// `000000` / `success`.
    pub fn success() -> Self {
        Self::with_code(ResultCode::Success)
    }

    /// A failure with a specific message (cut to 255 characters).
    pub fn failure(code: ResultCode, msg: impl AsRef<str>) -> Self {
        Self { result_msg: Some(truncate_chars(msg.as_ref(), RESULT_MSG_MAX_CHARS)), ..Self::with_code(code) }
    }

    /// `000002` with the validation error as the message.
    pub fn invalid(error: &ValidationError) -> Self {
        Self::failure(error.result_code(), error.result_msg())
    }

    /// newInstance opened: `000000` with the instance ID.
    pub fn new_instance(instance_id: InstanceId) -> Self {
        Self { instance_id: Some(instance_id), ..Self::success() }
    }

    /// newInstance accepted and opening asynchronously: `000004` with the instance ID; KooGallery then polls
    /// queryInstance.
    pub fn new_instance_processing(instance_id: InstanceId) -> Self {
        Self { instance_id: Some(instance_id), ..Self::with_code(ResultCode::Processing) }
    }

    /// queryInstance answered: `000000` with `info`, and `encryptType` `"1"` when any entry carries
    /// credentials (they are always AES-256 encrypted by koofill).
    pub fn query_instance(info: Vec<InstanceInfo>) -> Self {
        let has_credentials =
            info.iter().filter_map(|i| i.app_info.as_ref()).any(|a| a.user_name.is_some() || a.password.is_some());
        Self { encrypt_type: has_credentials.then_some(EncryptType::Aes256), info: Some(info), ..Self::success() }
    }

    /// Replaces the message (cut to 255 characters).
    pub fn with_message(mut self, msg: impl AsRef<str>) -> Self {
        self.result_msg = Some(truncate_chars(msg.as_ref(), RESULT_MSG_MAX_CHARS));
        self
    }

    /// The exact bytes to send (and sign): compact JSON, non-ASCII written as `\uXXXX` escapes.
    pub fn to_bytes(&self) -> Vec<u8> {
        json_ascii::to_vec(self).unwrap_or_else(|_| FALLBACK_BODY.to_vec())
    }

    /// Parses an answer body (the simulator reads koofill's answers with it).
    ///
    /// # Errors
    /// When the body is not JSON of this shape or the result code is unknown.
    pub fn from_slice(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn constructors() {
        assert_eq!(
            serde_json::to_value(CallbackResponse::success()).unwrap(),
            json!({"resultCode": "000000", "resultMsg": "success"})
        );
        assert_eq!(
            serde_json::to_value(CallbackResponse::new_instance(InstanceId::from("i-1"))).unwrap(),
            json!({"resultCode": "000000", "resultMsg": "success", "instanceId": "i-1"})
        );
        let processing = CallbackResponse::new_instance_processing(InstanceId::from("i-1"));
        assert_eq!(processing.result_code, ResultCode::Processing);
        let failure = CallbackResponse::failure(ResultCode::InstanceNotFound, "x".repeat(300));
        assert_eq!(failure.result_msg.unwrap().len(), 255);
    }

    #[test]
    fn query_instance_flags_encrypted_credentials() {
        let bare = InstanceInfo {
            instance_id: InstanceId::from("i-1"),
            app_info: Some(AppInfo {
                front_end_url: "https://x".into(),
                admin_url: None,
                user_name: None,
                password: None,
                memo: None,
            }),
            usage_info: None,
        };
        assert_eq!(CallbackResponse::query_instance(vec![bare.clone()]).encrypt_type, None);
        let mut with_password = bare;
        if let Some(app) = with_password.app_info.as_mut() {
            app.password = Some("AbCdEf0123456789secret".into());
        }
        let response = CallbackResponse::query_instance(vec![with_password]);
        assert_eq!(response.encrypt_type, Some(EncryptType::Aes256));
        let debug = format!("{response:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn to_bytes_escapes_non_ascii_and_parses_back() {
        let response = CallbackResponse::query_instance(vec![InstanceInfo {
            instance_id: InstanceId::from("i-1"),
            app_info: Some(AppInfo {
                front_end_url: "https://app.example.com/t/abc".into(),
                admin_url: None,
                user_name: None,
                password: None,
                memo: Some("请使用管理员账号登录 🔑".into()),
            }),
            usage_info: None,
        }]);
        let bytes = response.to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(bytes.is_ascii(), "{text}");
        assert!(text.contains(r#""memo":"\u8bf7\u4f7f\u7528"#), "{text}");
        assert!(text.contains(r"\ud83d\udd11"), "{text}");
        assert!(!text.contains('\n') && !text.contains("\": "), "compact: {text}");
        assert_eq!(CallbackResponse::from_slice(&bytes).unwrap(), response);
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["info"][0]["appInfo"]["memo"], json!("请使用管理员账号登录 🔑"));
    }
}
