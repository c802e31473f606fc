//! `instances`: one SaaS instance per order line, with its lifecycle state (architecture §6).

pub use koofill_model::InstanceState;
use sea_orm::entity::prelude::*;

/// One instance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instances")]
pub struct Model {
    /// The instance ID answered to KooGallery (UUIDv5 of the order line).
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    /// The order that created it; `None` only for a release recorded before the create arrived
    /// and whose order was not known.
    pub order_id: Option<String>,
    /// Its order line (unique together with `order_id`: the create key).
    pub order_line_id: Option<String>,
    /// Its lifecycle state, stored by name; an unknown name fails the read.
    pub state: InstanceState,
    /// Whether it belongs to a debug order.
    pub test: bool,
    /// How the order line is charged.
    pub charging_mode: Option<String>,
    /// The current product (changes on period-type change and upgrade).
    pub product_id: Option<String>,
    /// The current SKU.
    pub sku_code: Option<String>,
    /// The current linear quantity, as the decimal text received.
    pub linear_value: Option<String>,
    /// Every product of the order line, JSON text.
    pub products: Option<String>,
    /// The buyer's account ID.
    pub customer_id: Option<String>,
    /// The expiry, set (never extended) by the create and by refreshInstance.
    pub expire_time: Option<DateTimeUtc>,
    /// appInfo `frontEndUrl`.
    pub front_end_url: Option<String>,
    /// appInfo `adminUrl`.
    pub admin_url: Option<String>,
    /// appInfo `userName`, encrypted in KooGallery's format (`iv + Base64(AES-CBC)`, basic key).
    pub user_name_enc: Option<String>,
    /// appInfo `password`, encrypted the same way.
    pub password_enc: Option<String>,
    /// appInfo `memo`.
    pub memo: Option<String>,
    /// Set when the release arrived before the create was processed: a late create must not
    /// bring the instance back.
    pub released_before_create: bool,
    /// Why provisioning failed, for operators (no secrets).
    pub failure_reason: Option<String>,
    /// When the ingress accepted the updateInstanceStatus call whose target state the instance
    /// reached last; an older call handled later (a retry) changes nothing.
    pub status_requested_at: Option<DateTimeUtc>,
    /// When the ingress accepted the refreshInstance call that set `expire_time` last; an older
    /// call handled later changes nothing.
    pub expiry_requested_at: Option<DateTimeUtc>,
    /// When KooGallery requested the upgrade whose product the instance holds; an older upgrade
    /// handled later changes nothing.
    pub upgrade_requested_at: Option<DateTimeUtc>,
    /// Incremented by every change; guards compare-and-set updates between replicas.
    pub version: i64,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
