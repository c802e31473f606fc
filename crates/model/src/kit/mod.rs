//! The joint-operation (联营) Kit sync interfaces (spec §5): KooGallery POSTs to
//! `{production address}/produceAPI/v2/{interface}`, so the interface comes from the path, not the body.
//!
//! Unlike the basic interfaces, `flag` and `testFlag` are integers (numeric strings are accepted too), and
//! several fields arrive in more than one shape; [`KitRequest::parse`] accepts each shape the spec asks for
//! and keeps it, so a parsed request serialises back to an equivalent body.

mod auth_sync;
mod org_sync;
mod tenant;

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::Value;

pub use self::auth_sync::{AuthSync, EmployeeKind, EmployeeType, Enable, User, UserDetails, UserExtension, UserRole};
pub use self::org_sync::{AllOrgSync, OrgInfo, SingleOrgSync};
pub use self::tenant::{ApplicationSync, ClientSecret, TenantSync};
use crate::family::Family;
use crate::fields::{Fields, parse_body};
use crate::identity::RequestIdentity;
use crate::ids::InstanceId;
use crate::validation::{Problem, ValidationError};
use crate::wire::wire_enum;

/// Maximum length of the Kit IDs and codes (String(64)).
pub(crate) const ID_MAX: usize = 64;

wire_enum!(
    /// A Kit sync interface, named as the last segment of its path.
    KitInterface("Kit interface") {
        /// 企业同步: an enterprise (tenant) was bound, changed or unbound.
        TenantSync = "tenantSync",
        /// 应用同步: an application credential (OAuth client) for the tenant.
        ApplicationSync = "applicationSync",
        /// 用户授权同步: users authorised to (or removed from) the application.
        AuthSync = "authSync",
        /// 部门增量同步: one department created, changed or deleted.
        SingleOrgSync = "singleOrgSync",
        /// 部门全量同步: the tenant's whole department list.
        AllOrgSync = "allOrgSync",
    }
);

impl KitInterface {
    /// The path segment, e.g. `"tenantSync"` in `/produceAPI/v2/tenantSync`.
    pub fn path_name(self) -> &'static str {
        self.as_str()
    }
}

/// The Kit `flag`: what happened to the synced object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncFlag {
    /// `0`: deleted. Deletes never check that the instance exists and always succeed.
    Delete,
    /// `1`: added. Repeated adds create no new data.
    Add,
    /// `2`: modified.
    Modify,
    /// `3` (authSync only): authorisation revoked.
    Revoke,
}

impl SyncFlag {
    /// The integer on the wire.
    pub fn code(self) -> i64 {
        match self {
            SyncFlag::Delete => 0,
            SyncFlag::Add => 1,
            SyncFlag::Modify => 2,
            SyncFlag::Revoke => 3,
        }
    }

    /// The flag for a wire integer.
    pub fn from_code(code: i64) -> Option<SyncFlag> {
        match code {
            0 => Some(SyncFlag::Delete),
            1 => Some(SyncFlag::Add),
            2 => Some(SyncFlag::Modify),
            3 => Some(SyncFlag::Revoke),
            _ => None,
        }
    }
}

impl Serialize for SyncFlag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for SyncFlag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = i64::deserialize(deserializer)?;
        Self::from_code(code).ok_or_else(|| serde::de::Error::custom("flag must be one of 0, 1, 2, 3"))
    }
}

impl JsonSchema for SyncFlag {
    fn schema_name() -> Cow<'static, str> {
        "SyncFlag".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "enum": [0, 1, 2, 3],
            "description": "0 delete, 1 add, 2 modify, 3 revoke authorisation (authSync only)",
        })
    }
}

/// Reads a mandatory `flag` that must be one of `allowed` (as codes).
pub(crate) fn sync_flag(f: &Fields<'_>, allowed: &[i64]) -> Result<SyncFlag, ValidationError> {
    let code = f.integer_in("flag", allowed)?;
    // `integer_in` only lets through codes listed in `allowed`, all of which are valid flags.
    SyncFlag::from_code(code).ok_or_else(|| {
        ValidationError::new("flag", Problem::NotOneOf { allowed: allowed.iter().map(i64::to_string).collect() })
    })
}

/// Reads the mandatory Kit `testFlag` (`0` production, `1` debug; numbers or numeric strings).
pub(crate) fn kit_test_flag(f: &Fields<'_>) -> Result<bool, ValidationError> {
    Ok(f.integer_in("testFlag", &[0, 1])? == 1)
}

/// Writes the Kit `testFlag` as the integer KooGallery sends.
pub(crate) fn test_flag_as_integer<S: Serializer>(test: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u8(u8::from(*test))
}

/// Writes an ID that may be absent as an empty string, the way KooGallery sends it during credential
/// application.
pub(crate) fn empty_if_none<S: Serializer>(id: &Option<InstanceId>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(id.as_ref().map(InstanceId::as_str).unwrap_or_default())
}

/// Kit deduplication ids follow the basic ones: parts joined by `:`, `test:` first for debug calls.
pub(crate) use crate::basic::dedup_id;

/// A validated Kit request, one variant per interface. Serialises to the wire body (no tag: the interface
/// is in the path).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum KitRequest {
    /// `tenantSync`.
    TenantSync(TenantSync),
    /// `applicationSync`.
    ApplicationSync(ApplicationSync),
    /// `authSync`.
    AuthSync(AuthSync),
    /// `singleOrgSync`.
    SingleOrgSync(SingleOrgSync),
    /// `allOrgSync`.
    AllOrgSync(AllOrgSync),
}

impl KitRequest {
    /// Parses and validates the body of a call to `interface`.
    ///
    /// # Errors
    /// A [`ValidationError`] naming the field at fault: malformed JSON, a body that is not an object, a
    /// missing mandatory field, a bad `flag`/`testFlag`, a time that is not 14 or 17 digits, a field too long,
    /// or an unreadable `userList` / `orgInfoList`.
    pub fn parse(interface: KitInterface, body: &[u8]) -> Result<KitRequest, ValidationError> {
        Self::from_value(interface, &parse_body(body)?)
    }

    /// Validates an already-parsed body, as [`KitRequest::parse`].
    ///
    /// # Errors
    /// As [`KitRequest::parse`], except for malformed JSON.
    pub fn from_value(interface: KitInterface, body: &Value) -> Result<KitRequest, ValidationError> {
        let f = Fields::of(body, "")?;
        Ok(match interface {
            KitInterface::TenantSync => Self::TenantSync(TenantSync::from_fields(&f)?),
            KitInterface::ApplicationSync => Self::ApplicationSync(ApplicationSync::from_fields(&f)?),
            KitInterface::AuthSync => Self::AuthSync(AuthSync::from_fields(&f)?),
            KitInterface::SingleOrgSync => Self::SingleOrgSync(SingleOrgSync::from_fields(&f)?),
            KitInterface::AllOrgSync => Self::AllOrgSync(AllOrgSync::from_fields(&f)?),
        })
    }

    /// The interface this request came in on.
    pub fn interface(&self) -> KitInterface {
        match self {
            Self::TenantSync(_) => KitInterface::TenantSync,
            Self::ApplicationSync(_) => KitInterface::ApplicationSync,
            Self::AuthSync(_) => KitInterface::AuthSync,
            Self::SingleOrgSync(_) => KitInterface::SingleOrgSync,
            Self::AllOrgSync(_) => KitInterface::AllOrgSync,
        }
    }

    /// Always [`Family::Kit`].
    pub fn family(&self) -> Family {
        Family::Kit
    }

    /// Whether this is a debug call (`testFlag` 1).
    pub fn is_test(&self) -> bool {
        match self {
            Self::TenantSync(r) => r.test_flag,
            Self::ApplicationSync(r) => r.test_flag,
            Self::AuthSync(r) => r.test_flag,
            Self::SingleOrgSync(r) => r.test_flag,
            Self::AllOrgSync(r) => r.test_flag,
        }
    }

    /// The instance, when there is one (none during credential application).
    pub fn instance_id(&self) -> Option<&InstanceId> {
        match self {
            Self::TenantSync(r) => r.instance_id.as_ref(),
            Self::ApplicationSync(r) => r.instance_id.as_ref(),
            Self::AuthSync(r) => Some(&r.instance_id),
            Self::SingleOrgSync(r) => Some(&r.instance_id),
            Self::AllOrgSync(r) => Some(&r.instance_id),
        }
    }

    /// The business key: the natural key of spec §5 plus the flag and KooGallery's `timeStamp`
    /// (and, for authSync, a digest of the users), prefixed with `test:` for debug calls.
    pub fn dedup_id(&self) -> String {
        match self {
            Self::TenantSync(r) => r.dedup_id(),
            Self::ApplicationSync(r) => r.dedup_id(),
            Self::AuthSync(r) => r.dedup_id(),
            Self::SingleOrgSync(r) => r.dedup_id(),
            Self::AllOrgSync(r) => r.dedup_id(),
        }
    }

    /// The id the ingress publishes this request under: `{dedup_id}:{x-timestamp}:{x-nonce}`.
    ///
    /// Every Kit call is its own message. The body's `timeStamp` may have only 14 digits, so an
    /// add → delete → add of one tenant within a second would otherwise give the second add the
    /// first one's id, and it would be dropped as a duplicate for good. KooGallery does not retry
    /// Kit calls by itself (the buyer or administrator may send them again, spec §5.1), and a
    /// call sent again is harmless: the directory is upserted by natural key and older calls
    /// change nothing. Our own publish retries keep the identity, so they still deduplicate.
    pub fn message_id(&self, identity: &RequestIdentity) -> String {
        identity.qualify(self.dedup_id())
    }
}
