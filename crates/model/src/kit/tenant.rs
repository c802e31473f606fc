//! `tenantSync` and `applicationSync` (spec §5.2, §5.3): the enterprise and its OAuth client.

use std::fmt;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use super::{ID_MAX, SyncFlag, dedup_id, empty_if_none, kit_test_flag, sync_flag, test_flag_as_integer};
use crate::fields::Fields;
use crate::ids::{AppId, InstanceId, OrderId, TenantId};
use crate::time::Utc8Time;
use crate::validation::ValidationError;

/// Maximum length of the enterprise name and domain (String(255)).
const NAME_MAX: usize = 255;

/// Flags of tenantSync, applicationSync and singleOrgSync: delete, add, modify.
pub(crate) const FLAGS_DAM: [i64; 3] = [0, 1, 2];

/// Reads an ID that is mandatory but may be empty (credential application flow): `None` when empty.
fn empty_able(f: &Fields<'_>, name: &str) -> Result<Option<InstanceId>, ValidationError> {
    let s = f.str_or_empty(name, ID_MAX)?;
    Ok((!s.is_empty()).then(|| InstanceId::from(s)))
}

/// `tenantSync` (企业同步): idempotent per `(instanceId, tenantId)`; deletes always succeed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSync {
    /// The instance; `None` (sent as `""`) while the seller applies for an application credential.
    #[serde(serialize_with = "empty_if_none")]
    #[schemars(with = "String", length(max = 64))]
    pub instance_id: Option<InstanceId>,
    /// The order; `None` (sent as `""`) in the same case.
    #[serde(serialize_with = "empty_order_if_none")]
    #[schemars(with = "String", length(max = 64))]
    pub order_id: Option<OrderId>,
    /// The enterprise.
    #[schemars(length(max = 64))]
    pub tenant_id: TenantId,
    /// The enterprise's code: the buyer domain users sign in with.
    #[schemars(length(max = 64))]
    pub tenant_code: String,
    /// The enterprise's name.
    #[schemars(length(max = 255))]
    pub name: String,
    /// The enterprise's sign-in domain, including `https://`; the `{domain_name}` of OAuth (spec §6).
    #[schemars(length(max = 255))]
    pub domain_name: String,
    /// Delete, add, or modify (name/domain only).
    pub flag: SyncFlag,
    /// Debug call (`testFlag` 1).
    #[serde(serialize_with = "test_flag_as_integer")]
    #[schemars(with = "u8", range(max = 1))]
    pub test_flag: bool,
    /// KooGallery's time of the call, UTC+8.
    pub time_stamp: Utc8Time,
}

fn empty_order_if_none<S: Serializer>(id: &Option<OrderId>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(id.as_ref().map(OrderId::as_str).unwrap_or_default())
}

impl TenantSync {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        let order_id = f.str_or_empty("orderId", ID_MAX)?;
        Ok(Self {
            instance_id: empty_able(f, "instanceId")?,
            order_id: (!order_id.is_empty()).then(|| OrderId::from(order_id)),
            tenant_id: f.str("tenantId", ID_MAX)?.into(),
            tenant_code: f.str("tenantCode", ID_MAX)?.to_owned(),
            name: f.str("name", NAME_MAX)?.to_owned(),
            domain_name: f.str("domainName", NAME_MAX)?.to_owned(),
            flag: sync_flag(f, &FLAGS_DAM)?,
            test_flag: kit_test_flag(f)?,
            time_stamp: f.utc8_time("timeStamp")?,
        })
    }

    /// `tenantSync:{instanceId}:{tenantId}:{flag}:{timeStamp}`.
    pub fn dedup_id(&self) -> String {
        let instance = self.instance_id.as_ref().map(InstanceId::as_str).unwrap_or_default();
        let flag = self.flag.code().to_string();
        // The request time keeps a later add → delete → add of the same tenant from being
        // mistaken for a repeat of the first add.
        let time = self.time_stamp.to_string();
        dedup_id(self.test_flag, &["tenantSync", instance, self.tenant_id.as_str(), &flag, &time])
    }
}

/// The RSA-OAEP-encrypted `clientSecret` (spec §2.7). Its `Debug` is redacted and it has no `Display`, so
/// it cannot reach a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps the encrypted value.
    pub fn new(encrypted: impl Into<String>) -> Self {
        Self(encrypted.into())
    }

    /// The encrypted value (Base64 of the RSA-OAEP ciphertext), to be decrypted with the ISV's private key.
    pub fn expose_encrypted(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// `applicationSync` (应用同步): idempotent per `(instanceId, tenantId, appId)`; deletes always succeed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSync {
    /// The instance; `None` (sent as `""`) during credential application.
    #[serde(serialize_with = "empty_if_none")]
    #[schemars(with = "String", length(max = 64))]
    pub instance_id: Option<InstanceId>,
    /// The enterprise.
    #[schemars(length(max = 64))]
    pub tenant_id: TenantId,
    /// The application credential's app ID.
    #[schemars(length(max = 64))]
    pub app_id: AppId,
    /// The OAuth client ID.
    #[schemars(length(max = 64))]
    pub client_id: String,
    /// The OAuth client secret, encrypted with the ISV's RSA public key.
    pub client_secret: ClientSecret,
    /// Delete, add, or modify.
    pub flag: SyncFlag,
    /// Debug call (`testFlag` 1).
    #[serde(serialize_with = "test_flag_as_integer")]
    #[schemars(with = "u8", range(max = 1))]
    pub test_flag: bool,
    /// KooGallery's time of the call, UTC+8.
    pub time_stamp: Utc8Time,
}

impl ApplicationSync {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            instance_id: empty_able(f, "instanceId")?,
            tenant_id: f.str("tenantId", ID_MAX)?.into(),
            app_id: f.str("appId", ID_MAX)?.into(),
            client_id: f.str("clientId", ID_MAX)?.to_owned(),
            client_secret: ClientSecret::new(f.str_unbounded("clientSecret")?),
            flag: sync_flag(f, &FLAGS_DAM)?,
            test_flag: kit_test_flag(f)?,
            time_stamp: f.utc8_time("timeStamp")?,
        })
    }

    /// `applicationSync:{instanceId}:{tenantId}:{appId}:{flag}:{timeStamp}`.
    pub fn dedup_id(&self) -> String {
        let instance = self.instance_id.as_ref().map(InstanceId::as_str).unwrap_or_default();
        let flag = self.flag.code().to_string();
        let time = self.time_stamp.to_string();
        dedup_id(
            self.test_flag,
            &["applicationSync", instance, self.tenant_id.as_str(), self.app_id.as_str(), &flag, &time],
        )
    }
}
