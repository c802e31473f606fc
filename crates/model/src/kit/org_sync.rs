//! `singleOrgSync` and `allOrgSync` (spec §5.5, §5.6): the tenant's departments.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::tenant::FLAGS_DAM;
use super::{ID_MAX, SyncFlag, dedup_id, kit_test_flag, sync_flag, test_flag_as_integer};
use crate::fields::Fields;
use crate::ids::{InstanceId, OrgCode, TenantId};
use crate::time::Utc8Time;
use crate::validation::{Problem, ValidationError};
use crate::wire::Embedded;

/// Maximum length of a department name (Varchar(128)).
const ORG_NAME_MAX: usize = 128;

/// One department of a full org sync. V2 names it `orgName`, V1 `name`; either is accepted and kept.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgInfo {
    /// The department code, unique within the tenant.
    #[schemars(length(max = 64))]
    pub org_code: OrgCode,
    /// The name, as V2 sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub org_name: Option<String>,
    /// The name, as V1 sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub name: Option<String>,
    /// The parent department; empty for a top-level one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub parent_code: Option<OrgCode>,
    /// Unknown fields, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

const ORG_KEYS: [&str; 4] = ["orgCode", "orgName", "name", "parentCode"];

impl OrgInfo {
    fn from_value(value: &Value, path: &str) -> Result<Self, ValidationError> {
        let f = Fields::of(value, path)?;
        let org_code = f.str("orgCode", ID_MAX)?.into();
        let org_name = f.optional_str("orgName", ORG_NAME_MAX)?;
        let name = f.optional_str("name", ORG_NAME_MAX)?;
        if [org_name, name].into_iter().flatten().all(str::is_empty) {
            let problem = if org_name.or(name).is_some() { Problem::Empty } else { Problem::Missing };
            return Err(ValidationError::new(f.path("orgName"), problem));
        }
        Ok(Self {
            org_code,
            org_name: org_name.map(str::to_owned),
            name: name.map(str::to_owned),
            parent_code: f.optional_str("parentCode", ID_MAX)?.map(OrgCode::from),
            extra: f.rest(&ORG_KEYS),
        })
    }

    /// The department's name, whichever field carried it.
    pub fn display_name(&self) -> &str {
        [self.org_name.as_deref(), self.name.as_deref()].into_iter().flatten().find(|s| !s.is_empty()).unwrap_or("")
    }

    /// The parent department, `None` for a top-level one.
    pub fn parent(&self) -> Option<&OrgCode> {
        self.parent_code.as_ref().filter(|c| !c.as_str().is_empty())
    }
}

/// `singleOrgSync` (部门增量同步): one department changed; idempotent per `(instanceId, tenantId, orgCode)`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SingleOrgSync {
    /// The instance.
    #[schemars(length(max = 64))]
    pub instance_id: InstanceId,
    /// The enterprise.
    #[schemars(length(max = 64))]
    pub tenant_id: TenantId,
    /// The department.
    #[schemars(length(max = 64))]
    pub org_code: OrgCode,
    /// Its name.
    #[schemars(length(max = 128))]
    pub org_name: String,
    /// Its parent; empty for a top-level department.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub parent_code: Option<OrgCode>,
    /// Delete, add, or modify.
    pub flag: SyncFlag,
    /// Debug call (`testFlag` 1).
    #[serde(serialize_with = "test_flag_as_integer")]
    #[schemars(with = "u8", range(max = 1))]
    pub test_flag: bool,
    /// KooGallery's time of the call, UTC+8.
    pub time_stamp: Utc8Time,
}

impl SingleOrgSync {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        Ok(Self {
            instance_id: f.str("instanceId", ID_MAX)?.into(),
            tenant_id: f.str("tenantId", ID_MAX)?.into(),
            org_code: f.str("orgCode", ID_MAX)?.into(),
            org_name: f.str("orgName", ORG_NAME_MAX)?.to_owned(),
            parent_code: f.optional_str("parentCode", ID_MAX)?.map(OrgCode::from),
            flag: sync_flag(f, &FLAGS_DAM)?,
            test_flag: kit_test_flag(f)?,
            time_stamp: f.utc8_time("timeStamp")?,
        })
    }

    /// The parent department, `None` for a top-level one.
    pub fn parent(&self) -> Option<&OrgCode> {
        self.parent_code.as_ref().filter(|c| !c.as_str().is_empty())
    }

    /// `singleOrgSync:{instanceId}:{tenantId}:{orgCode}:{flag}:{timeStamp}`.
    pub fn dedup_id(&self) -> String {
        let flag = self.flag.code().to_string();
        let time = self.time_stamp.to_string();
        dedup_id(
            self.test_flag,
            &[
                "singleOrgSync",
                self.instance_id.as_str(),
                self.tenant_id.as_str(),
                self.org_code.as_str(),
                &flag,
                &time,
            ],
        )
    }
}

/// `allOrgSync` (部门全量同步): the authoritative, flat list of the tenant's departments.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllOrgSync {
    /// The instance.
    #[schemars(length(max = 64))]
    pub instance_id: InstanceId,
    /// The enterprise.
    #[schemars(length(max = 64))]
    pub tenant_id: TenantId,
    /// The departments under the V2 name: an array, or a string holding a (possibly non-strict) array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_info_list: Option<Embedded<Vec<OrgInfo>>>,
    /// The departments under the V1 name `orgInfo`, when that is what arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_info: Option<Embedded<Vec<OrgInfo>>>,
    /// Undocumented, but present in the spec's example; kept as received and otherwise ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<Value>,
    /// Debug call (`testFlag` 1).
    #[serde(serialize_with = "test_flag_as_integer")]
    #[schemars(with = "u8", range(max = 1))]
    pub test_flag: bool,
    /// KooGallery's time of the call, UTC+8.
    pub time_stamp: Utc8Time,
}

fn org_list(f: &Fields<'_>, name: &str) -> Result<Embedded<Vec<OrgInfo>>, ValidationError> {
    f.embedded(name)?
        .try_map(|list| f.elements(name, &list)?.into_iter().map(|(path, v)| OrgInfo::from_value(v, &path)).collect())
}

impl AllOrgSync {
    pub(crate) fn from_fields(f: &Fields<'_>) -> Result<Self, ValidationError> {
        let instance_id = f.str("instanceId", ID_MAX)?.into();
        let tenant_id = f.str("tenantId", ID_MAX)?.into();
        // V1 sent the list as `orgInfo`; a body with neither is reported under the V2 name.
        let (org_info_list, org_info) = if f.has("orgInfoList") || !f.has("orgInfo") {
            (Some(org_list(f, "orgInfoList")?), None)
        } else {
            (None, Some(org_list(f, "orgInfo")?))
        };
        Ok(Self {
            instance_id,
            tenant_id,
            org_info_list,
            org_info,
            flag: f.get("flag").cloned(),
            test_flag: kit_test_flag(f)?,
            time_stamp: f.utc8_time("timeStamp")?,
        })
    }

    /// The departments, whichever field carried them.
    pub fn orgs(&self) -> &[OrgInfo] {
        self.org_info_list.as_ref().or(self.org_info.as_ref()).map(|e| e.value().as_slice()).unwrap_or_default()
    }

    /// `allOrgSync:{instanceId}:{tenantId}:{timeStamp}`.
    pub fn dedup_id(&self) -> String {
        let time = self.time_stamp.to_string();
        dedup_id(self.test_flag, &["allOrgSync", self.instance_id.as_str(), self.tenant_id.as_str(), &time])
    }
}
