//! Domain events the workers publish on `KOOFILL_EVENTS` (`koofill.event.<aggregate>.<what>`, architecture
//! §4, §6). Each travels in an [`crate::envelope::Envelope`] whose `type` is the event's subject suffix.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::basic::{LicenseScene, RefreshScene};
use crate::ids::{AppId, InstanceId, LicenseCode, OrderId, OrderLineId, OrgCode, ProductId, TenantId};
use crate::kit::SyncFlag;
use crate::order::OrderType;

/// Something that happened to an instance, order, directory, license or usage window.
///
/// Tagged by `type` (`"instance.active"`), so readers can skip types they do not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum DomainEvent {
    /// newInstance was acknowledged; provisioning has not started.
    #[serde(rename = "instance.accepted")]
    InstanceAccepted {
        /// The instance.
        instance_id: InstanceId,
        /// The order.
        order_id: OrderId,
        /// The order line.
        order_line_id: OrderLineId,
    },
    /// The provisioner is creating the instance.
    #[serde(rename = "instance.provisioning")]
    InstanceProvisioning {
        /// The instance.
        instance_id: InstanceId,
        /// The order.
        order_id: OrderId,
    },
    /// The instance is ready; queryInstance answers with its access info.
    #[serde(rename = "instance.active")]
    InstanceActive {
        /// The instance.
        instance_id: InstanceId,
        /// The order.
        order_id: OrderId,
        /// Expiry from the order (none for one-time and on-demand).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expire_time: Option<DateTime<Utc>>,
        /// The product of the order line, when query order told it (metering picks the billing
        /// cycle by it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        product_id: Option<String>,
        /// The SKU of the order line, when query order told it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sku_code: Option<String>,
    },
    /// The expiry was set by refreshInstance.
    #[serde(rename = "instance.renewed")]
    InstanceRenewed {
        /// The instance.
        instance_id: InstanceId,
        /// The renewal, conversion or unsubscribed order.
        order_id: OrderId,
        /// Why.
        scene: RefreshScene,
        /// The new expiry.
        expire_time: DateTime<Utc>,
        /// The new product, when the period type changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        product_id: Option<ProductId>,
    },
    /// The instance was frozen; its data is kept through the freeze period.
    #[serde(rename = "instance.frozen")]
    InstanceFrozen {
        /// The instance.
        instance_id: InstanceId,
    },
    /// The instance was unfrozen.
    #[serde(rename = "instance.unfrozen")]
    InstanceUnfrozen {
        /// The instance.
        instance_id: InstanceId,
    },
    /// The instance was upgraded or scaled out.
    #[serde(rename = "instance.upgraded")]
    InstanceUpgraded {
        /// The instance.
        instance_id: InstanceId,
        /// The upgrade order.
        order_id: OrderId,
    },
    /// The instance was released.
    #[serde(rename = "instance.released")]
    InstanceReleased {
        /// The instance.
        instance_id: InstanceId,
        /// The unsubscribe order, when there was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<OrderId>,
    },
    /// Provisioning gave up after its retry budget; the message is in the dead-letter queue.
    #[serde(rename = "instance.failed")]
    InstanceFailed {
        /// The instance.
        instance_id: InstanceId,
        /// The order.
        order_id: OrderId,
        /// What went wrong, for operators (no secrets).
        reason: String,
    },
    /// orderNotify was received and the order recorded.
    #[serde(rename = "order.received")]
    OrderReceived {
        /// The order.
        order_id: OrderId,
        /// The order line.
        order_line_id: OrderLineId,
        /// From query order, once known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_type: Option<OrderType>,
    },
    /// A tenantSync was applied.
    #[serde(rename = "tenant.synced")]
    TenantSynced {
        /// The instance (none during credential application).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_id: Option<InstanceId>,
        /// The enterprise.
        tenant_id: TenantId,
        /// What happened.
        flag: SyncFlag,
    },
    /// An applicationSync was applied.
    #[serde(rename = "application.synced")]
    ApplicationSynced {
        /// The instance (none during credential application).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_id: Option<InstanceId>,
        /// The enterprise.
        tenant_id: TenantId,
        /// The application.
        app_id: AppId,
        /// What happened.
        flag: SyncFlag,
    },
    /// An authSync was applied.
    #[serde(rename = "users.synced")]
    UsersSynced {
        /// The instance.
        instance_id: InstanceId,
        /// The enterprise.
        tenant_id: TenantId,
        /// The application.
        app_id: AppId,
        /// What happened to the users.
        flag: SyncFlag,
        /// The users concerned.
        user_names: Vec<String>,
    },
    /// A singleOrgSync or allOrgSync was applied.
    #[serde(rename = "departments.synced")]
    DepartmentsSynced {
        /// The instance.
        instance_id: InstanceId,
        /// The enterprise.
        tenant_id: TenantId,
        /// Whether this replaced the whole list (allOrgSync).
        full: bool,
        /// What happened, for a single department.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flag: Option<SyncFlag>,
        /// The departments concerned.
        org_codes: Vec<OrgCode>,
    },
    /// A license code's validity was set.
    #[serde(rename = "license.refreshed")]
    LicenseRefreshed {
        /// The license code.
        license: LicenseCode,
        /// The renewal order.
        order_id: OrderId,
        /// Why.
        scene: LicenseScene,
        /// The new expiry.
        expire_time: DateTime<Utc>,
    },
    /// A license code was frozen.
    #[serde(rename = "license.frozen")]
    LicenseFrozen {
        /// The license code.
        license: LicenseCode,
    },
    /// A license code was unfrozen.
    #[serde(rename = "license.unfrozen")]
    LicenseUnfrozen {
        /// The license code.
        license: LicenseCode,
    },
    /// A license code was released.
    #[serde(rename = "license.released")]
    LicenseReleased {
        /// The license code.
        license: LicenseCode,
        /// The unsubscribe order, when there was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_id: Option<OrderId>,
    },
    /// A license code was activated at KooGallery through koofill's activation proxy; the service
    /// starts at `activated_at` (spec §7.1: the supervision node passes on activation).
    #[serde(rename = "license.activated")]
    LicenseActivated {
        /// The license code.
        license_code: String,
        /// The order the code was sold with.
        order_id: OrderId,
        /// Its order line.
        order_line_id: OrderLineId,
        /// When KooGallery activated it.
        activated_at: DateTime<Utc>,
    },
    /// A supervised order line got its supervision case (spec §10).
    #[serde(rename = "supervision.opened")]
    SupervisionOpened {
        /// The case number.
        case_id: i64,
        /// The order.
        order_id: OrderId,
        /// The order line.
        order_line_id: OrderLineId,
        /// The kind of goods: `license`, `manual_service`, `hardware`, `saas_offline`, `app_orchestration`,
        /// `data_file`.
        goods: String,
    },
    /// A supervision case took a step (spec §10.2).
    #[serde(rename = "supervision.transitioned")]
    SupervisionTransitioned {
        /// The case number.
        case_id: i64,
        /// The order.
        order_id: OrderId,
        /// The order line.
        order_line_id: OrderLineId,
        /// `confirm`, `reject`, `deliver`, `complete`, `accept`, `appeal`, `resolve`, `license_activated`,
        /// `release`.
        action: String,
        /// The state before.
        from: String,
        /// The state after.
        to: String,
        /// Who took it.
        actor: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A supervision deadline is near (spec §10.3); sent once per configured threshold.
    #[serde(rename = "supervision.reminder")]
    SupervisionReminder {
        /// The case number.
        case_id: i64,
        /// The order.
        order_id: OrderId,
        /// The order line.
        order_line_id: OrderLineId,
        /// `requirement`, `materials`, `feedback`, `completion`, `hardware_acceptance`, `seller_action`,
        /// `unaccepted`.
        deadline: String,
        /// When it falls due.
        due_at: DateTime<Utc>,
        /// The threshold that fired (`7 days`).
        before: String,
    },
    /// A supervision deadline passed without what it waits for (spec §10.3); sent once.
    #[serde(rename = "supervision.breached")]
    SupervisionBreached {
        /// The case number.
        case_id: i64,
        /// The order.
        order_id: OrderId,
        /// The order line.
        order_line_id: OrderLineId,
        /// The deadline kind, as in `supervision.reminder`.
        deadline: String,
        /// When it fell due.
        due_at: DateTime<Utc>,
    },
    /// The buyer rejected the delivery more often than `supervision.max_rejections`: the case may be
    /// appealed (spec §10.2).
    #[serde(rename = "supervision.rejections_exceeded")]
    SupervisionRejectionsExceeded {
        /// The case number.
        case_id: i64,
        /// The order.
        order_id: OrderId,
        /// The order line.
        order_line_id: OrderLineId,
        /// Rejections so far.
        rejections: i64,
    },
    /// A usage window was pushed to KooGallery.
    #[serde(rename = "usage.window_pushed")]
    UsageWindowPushed {
        /// The on-demand instance.
        instance_id: InstanceId,
        /// Window start, UTC.
        begin_time: DateTime<Utc>,
        /// Window end, UTC.
        end_time: DateTime<Utc>,
        /// The usage pushed, as the decimal text sent (at most 4 decimals).
        usage_value: String,
        /// The deterministic record ID sent.
        metering_sn: String,
    },
}

impl DomainEvent {
    /// The event type, also the subject after `koofill.event.`: `instance.active`.
    pub fn subject_suffix(&self) -> &'static str {
        match self {
            Self::InstanceAccepted { .. } => "instance.accepted",
            Self::InstanceProvisioning { .. } => "instance.provisioning",
            Self::InstanceActive { .. } => "instance.active",
            Self::InstanceRenewed { .. } => "instance.renewed",
            Self::InstanceFrozen { .. } => "instance.frozen",
            Self::InstanceUnfrozen { .. } => "instance.unfrozen",
            Self::InstanceUpgraded { .. } => "instance.upgraded",
            Self::InstanceReleased { .. } => "instance.released",
            Self::InstanceFailed { .. } => "instance.failed",
            Self::OrderReceived { .. } => "order.received",
            Self::TenantSynced { .. } => "tenant.synced",
            Self::ApplicationSynced { .. } => "application.synced",
            Self::UsersSynced { .. } => "users.synced",
            Self::DepartmentsSynced { .. } => "departments.synced",
            Self::LicenseRefreshed { .. } => "license.refreshed",
            Self::LicenseFrozen { .. } => "license.frozen",
            Self::LicenseUnfrozen { .. } => "license.unfrozen",
            Self::LicenseReleased { .. } => "license.released",
            Self::LicenseActivated { .. } => "license.activated",
            Self::UsageWindowPushed { .. } => "usage.window_pushed",
            Self::SupervisionOpened { .. } => "supervision.opened",
            Self::SupervisionTransitioned { .. } => "supervision.transitioned",
            Self::SupervisionReminder { .. } => "supervision.reminder",
            Self::SupervisionBreached { .. } => "supervision.breached",
            Self::SupervisionRejectionsExceeded { .. } => "supervision.rejections_exceeded",
        }
    }

    /// The aggregate, the first token of the subject suffix: `instance`, `order`, `tenant`, `application`,
    /// `users`, `departments`, `license`, `usage` or `supervision`.
    pub fn aggregate(&self) -> &'static str {
        let suffix = self.subject_suffix();
        suffix.split_once('.').map_or(suffix, |(aggregate, _)| aggregate)
    }

    /// The ID of the aggregate the event is about: the instance, order, tenant or license code.
    pub fn aggregate_id(&self) -> &str {
        match self {
            Self::InstanceAccepted { instance_id, .. }
            | Self::InstanceProvisioning { instance_id, .. }
            | Self::InstanceActive { instance_id, .. }
            | Self::InstanceRenewed { instance_id, .. }
            | Self::InstanceFrozen { instance_id }
            | Self::InstanceUnfrozen { instance_id }
            | Self::InstanceUpgraded { instance_id, .. }
            | Self::InstanceReleased { instance_id, .. }
            | Self::InstanceFailed { instance_id, .. }
            | Self::UsageWindowPushed { instance_id, .. } => instance_id.as_str(),
            Self::OrderReceived { order_id, .. }
            | Self::SupervisionOpened { order_id, .. }
            | Self::SupervisionTransitioned { order_id, .. }
            | Self::SupervisionReminder { order_id, .. }
            | Self::SupervisionBreached { order_id, .. }
            | Self::SupervisionRejectionsExceeded { order_id, .. } => order_id.as_str(),
            Self::TenantSynced { tenant_id, .. }
            | Self::ApplicationSynced { tenant_id, .. }
            | Self::UsersSynced { tenant_id, .. }
            | Self::DepartmentsSynced { tenant_id, .. } => tenant_id.as_str(),
            Self::LicenseRefreshed { license, .. }
            | Self::LicenseFrozen { license }
            | Self::LicenseUnfrozen { license }
            | Self::LicenseReleased { license, .. } => license.as_str(),
            Self::LicenseActivated { license_code, .. } => license_code.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_are_tagged_by_type() {
        let event = DomainEvent::InstanceActive {
            instance_id: InstanceId::from("i-1"),
            order_id: OrderId::from("CS1"),
            expire_time: None,
            product_id: None,
            sku_code: None,
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value, json!({"type": "instance.active", "instance_id": "i-1", "order_id": "CS1"}));
        assert_eq!(serde_json::from_value::<DomainEvent>(value).unwrap(), event);
        assert_eq!(event.subject_suffix(), "instance.active");
        assert_eq!(event.aggregate(), "instance");
        assert_eq!(event.aggregate_id(), "i-1");
    }

    #[test]
    fn usage_events_belong_to_the_usage_aggregate() {
        let at = DateTime::from_timestamp(1_660_000_000, 0).unwrap();
        let event = DomainEvent::UsageWindowPushed {
            instance_id: InstanceId::from("i-1"),
            begin_time: at,
            end_time: at,
            usage_value: "1.5".into(),
            metering_sn: "sn".into(),
        };
        assert_eq!(event.subject_suffix(), "usage.window_pushed");
        assert_eq!(event.aggregate(), "usage");
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["type"], "usage.window_pushed");
        assert_eq!(serde_json::from_value::<DomainEvent>(value).unwrap(), event);
    }
}
