//! `authSync` (用户授权同步, spec §5.4): users authorised to the application, or removed from it.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{ID_MAX, SyncFlag, dedup_id, kit_test_flag, sync_flag, test_flag_as_integer};
use crate::fields::Fields;
use crate::ids::{AppId, InstanceId, OrgCode, TenantId};
use crate::time::Utc8Time;
use crate::validation::{Problem, ValidationError};
use crate::wire::{Embedded, wire_enum};

/// Flags of authSync: delete, add, modify, revoke authorisation.
const FLAGS_AUTH: [i64; 4] = [0, 1, 2, 3];

/// Hex characters of the users' SHA-256 kept in the id: 64 bits, so two batches of one
/// application at one time colliding is not a practical concern, while the id stays short.
const USERS_DIGEST_HEX: usize = 16;

wire_enum!(
    /// A user's role in the application; `admin` users get the product's admin rights.
    UserRole("role") {
        /// 普通用户: an ordinary user.
        User = "user",
        /// 企业管理员: the enterprise administrator.
        Admin = "admin",
    }
);

wire_enum!(
    /// Whether the user may use the application (`"true"` / `"false"` on the wire).
    Enable("enable") {
        /// `"true"`.
        True = "true",
        /// `"false"`: the user may not sign in.
        False = "false",
    }
);

impl Enable {
    /// Whether the user is enabled.
    pub fn is_enabled(self) -> bool {
        self == Enable::True
    }
}

/// The documented kinds of employment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmployeeKind {
    /// `1` 正式: regular.
    Regular,
    /// `2` 实习: intern.
    Intern,
    /// `3` 劳务派遣: dispatched.
    Dispatched,
    /// `4` 劳务外包: outsourced.
    Outsourced,
}

/// `employeeType`: an integer that V1 sends as a string (`"4"`). Unknown codes are kept; it is written back
/// the way it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmployeeType {
    code: i64,
    quoted: bool,
}

impl EmployeeType {
    /// An employee type sent as a number.
    pub fn new(code: i64) -> Self {
        Self { code, quoted: false }
    }

    /// The code as sent.
    pub fn code(self) -> i64 {
        self.code
    }

    /// The documented meaning, if the code has one.
    pub fn kind(self) -> Option<EmployeeKind> {
        match self.code {
            1 => Some(EmployeeKind::Regular),
            2 => Some(EmployeeKind::Intern),
            3 => Some(EmployeeKind::Dispatched),
            4 => Some(EmployeeKind::Outsourced),
            _ => None,
        }
    }

    /// Reads a number or a string of digits; `Ok(None)` for an empty string.
    fn read(f: &Fields<'_>, name: &str) -> Result<Option<Self>, ValidationError> {
        let bad =
            || ValidationError::new(f.path(name), Problem::BadFormat { what: "employee type", expected: "an integer" });
        match f.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(|code| Some(Self { code, quoted: false })).ok_or_else(bad),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s.parse().map(|code| Some(Self { code, quoted: true })).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }
}

impl Serialize for EmployeeType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.quoted { serializer.collect_str(&self.code) } else { serializer.serialize_i64(self.code) }
    }
}

impl JsonSchema for EmployeeType {
    fn schema_name() -> Cow<'static, str> {
        "EmployeeType".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{ "type": "integer" }, { "type": "string", "pattern": "^-?[0-9]+$" }],
            "description": "1 regular, 2 intern, 3 dispatched, 4 outsourced",
        })
    }
}

/// The optional user fields, which arrive at the top level of a user (V2) or inside `extension` (V1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDetails {
    /// Job title.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub position: Option<String>,
    /// Employee number.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub employee_code: Option<String>,
    /// Kind of employment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employee_type: Option<EmployeeType>,
    /// Mobile number.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub mobile: Option<String>,
    /// Email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub email: Option<String>,
    /// Place of work.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub work_place: Option<String>,
    /// Entry date as sent (V1: `yyyy-MM-d`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub entry_date: Option<String>,
}

const DETAIL_KEYS: [&str; 7] =
    ["position", "employeeCode", "employeeType", "mobile", "email", "workPlace", "entryDate"];
const USER_KEYS: [&str; 6] = ["userName", "name", "orgCode", "role", "enable", "extension"];

impl UserDetails {
    fn read(f: &Fields<'_>) -> Result<Self, ValidationError> {
        let text = |name: &str, max: usize| f.optional_str(name, max).map(|s| s.map(str::to_owned));
        Ok(Self {
            position: text("position", 64)?,
            employee_code: text("employeeCode", 64)?,
            employee_type: EmployeeType::read(f, "employeeType")?,
            mobile: text("mobile", 32)?,
            email: text("email", 128)?,
            work_place: text("workPlace", 255)?,
            entry_date: text("entryDate", 32)?,
        })
    }
}

/// The V1 `extension` object of a user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct UserExtension {
    /// The known optional fields found here.
    #[serde(flatten)]
    pub details: UserDetails,
    /// Anything else, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One authorised user.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The joint-operation account name; equals the OAuth userinfo `userName`.
    #[schemars(length(max = 64))]
    pub user_name: String,
    /// Display name.
    #[schemars(length(max = 64))]
    pub name: String,
    /// The user's department.
    #[schemars(length(max = 64))]
    pub org_code: OrgCode,
    /// `user` or `admin`.
    pub role: UserRole,
    /// Whether the user may use the application.
    pub enable: Enable,
    /// Optional fields sent at the top level.
    #[serde(flatten)]
    pub details: UserDetails,
    /// Optional fields sent under `extension` (V1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<UserExtension>,
    /// Unknown top-level fields, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The first non-empty of a top-level and an `extension` value: the top level wins.
fn pick<'a>(top: Option<&'a String>, ext: Option<&'a String>) -> Option<&'a str> {
    [top, ext].into_iter().flatten().map(String::as_str).find(|s| !s.is_empty())
}

impl User {
    fn from_value(value: &Value, path: &str) -> Result<Self, ValidationError> {
        let f = Fields::of(value, path)?;
        let user = Self {
            user_name: f.str("userName", 64)?.to_owned(),
            name: f.str("name", 64)?.to_owned(),
            org_code: f.str("orgCode", 64)?.into(),
            role: f.choice("role")?,
            enable: f.choice("enable")?,
            details: UserDetails::read(&f)?,
            extension: match f.get("extension") {
                None => None,
                Some(v) => {
                    let ext = Fields::of(v, &f.path("extension"))?;
                    Some(UserExtension { details: UserDetails::read(&ext)?, extra: ext.rest(&DETAIL_KEYS) })
                }
            },
            extra: f.rest(&[USER_KEYS.as_slice(), DETAIL_KEYS.as_slice()].concat()),
        };
        Ok(user)
    }

    fn ext(&self) -> Option<&UserDetails> {
        self.extension.as_ref().map(|e| &e.details)
    }

    /// Job title, from the top level or `extension`.
    pub fn position(&self) -> Option<&str> {
        pick(self.details.position.as_ref(), self.ext().and_then(|e| e.position.as_ref()))
    }

    /// Employee number, from the top level or `extension`.
    pub fn employee_code(&self) -> Option<&str> {
        pick(self.details.employee_code.as_ref(), self.ext().and_then(|e| e.employee_code.as_ref()))
    }

    /// Kind of employment, from the top level or `extension`.
    pub fn employee_type(&self) -> Option<EmployeeType> {
        self.details.employee_type.or_else(|| self.ext().and_then(|e| e.employee_type))
    }

    /// Mobile number, from the top level or `extension`.
    pub fn mobile(&self) -> Option<&str> {
        pick(self.details.mobile.as_ref(), self.ext().and_then(|e| e.mobile.as_ref()))
    }

    /// Email address, from the top level or `extension`.
    pub fn email(&self) -> Option<&str> {
        pick(self.details.email.as_ref(), self.ext().and_then(|e| e.email.as_ref()))
    }

    /// Place of work, from the top level or `extension`.
    pub fn work_place(&self) -> Option<&str> {
        pick(self.details.work_place.as_ref(), self.ext().and_then(|e| e.work_place.as_ref()))
    }

    /// Entry date as sent, from the top level or `extension`.
    pub fn entry_date(&self) -> Option<&str> {
        pick(self.details.entry_date.as_ref(), self.ext().and_then(|e| e.entry_date.as_ref()))
    }
}

/// `authSync`: idempotent per `(instanceId, tenantId, appId, userName)`; deletes always succeed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSync {
    /// The instance.
    #[schemars(length(max = 64))]
    pub instance_id: InstanceId,
    /// The enterprise.
    #[schemars(length(max = 64))]
    pub tenant_id: TenantId,
    /// The application.
    #[schemars(length(max = 64))]
    pub app_id: AppId,
    /// The users, sent as an array (V2) or as a string holding one (V1).
    pub user_list: Embedded<Vec<User>>,
    /// When KooGallery took this snapshot, UTC+8.
    pub current_sync_time: Utc8Time,
    /// Delete, add, modify, or revoke authorisation.
    pub flag: SyncFlag,
    /// Debug call (`testFlag` 1).
    #[serde(serialize_with = "test_flag_as_integer")]
    #[schemars(with = "u8", range(max = 1))]
    pub test_flag: bool,
    /// KooGallery's time of the call, UTC+8.
    pub time_stamp: Utc8Time,
}

impl AuthSync {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        let instance_id = f.str("instanceId", ID_MAX)?.into();
        let tenant_id = f.str("tenantId", ID_MAX)?.into();
        let app_id = f.str("appId", ID_MAX)?.into();
        let user_list = f.embedded("userList")?.try_map(|list| {
            f.elements("userList", &list)?.into_iter().map(|(path, v)| User::from_value(v, &path)).collect()
        })?;
        Ok(Self {
            instance_id,
            tenant_id,
            app_id,
            user_list,
            current_sync_time: f.utc8_time("currentSyncTime")?,
            flag: sync_flag(f, &FLAGS_AUTH)?,
            test_flag: kit_test_flag(f)?,
            time_stamp: f.utc8_time("timeStamp")?,
        })
    }

    /// The users.
    pub fn users(&self) -> &[User] {
        self.user_list.value()
    }

    /// `authSync:{instanceId}:{tenantId}:{appId}:{flag}:{currentSyncTime}:{timeStamp}:{users}`,
    /// where `{users}` is [`AuthSync::users_digest`].
    pub fn dedup_id(&self) -> String {
        let flag = self.flag.code().to_string();
        let sync_time = self.current_sync_time.to_string();
        // The request time and the users too: one authorisation may arrive as several batches of
        // users that share the sync time, and even the request time.
        let time = self.time_stamp.to_string();
        let users = self.users_digest();
        dedup_id(
            self.test_flag,
            &[
                "authSync",
                self.instance_id.as_str(),
                self.tenant_id.as_str(),
                self.app_id.as_str(),
                &flag,
                &sync_time,
                &time,
                &users,
            ],
        )
    }

    /// The first 16 hex characters of the SHA-256 of the canonical user list: each user as
    /// compact JSON in its parsed form (so `userList` sent as an array or as a string holding one
    /// gives the same digest), sorted, one per line. The order of the users does not matter; any
    /// difference in who they are or in their fields does.
    pub fn users_digest(&self) -> String {
        // Serialising a parsed user cannot fail (string keys, no non-finite numbers); an empty
        // string in its place would still be deterministic.
        let mut users: Vec<String> =
            self.users().iter().map(|u| serde_json::to_string(u).unwrap_or_default()).collect();
        users.sort_unstable();
        // Compact JSON never holds a raw newline, so joining with one is unambiguous.
        let digest = Sha256::digest(users.join("\n").as_bytes());
        let mut hex = hex::encode(digest);
        hex.truncate(USERS_DIGEST_HEX);
        hex
    }
}
