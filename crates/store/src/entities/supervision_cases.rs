//! `supervision_cases`: one service-supervision case per supervised order line (spec §10), with
//! its current state; `(order_id, order_line_id)` is unique.

use sea_orm::entity::prelude::*;

/// One case.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supervision_cases")]
pub struct Model {
    /// The case number operators name (`koofill supervision show 7`).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The order.
    pub order_id: String,
    /// The order line.
    pub order_line_id: String,
    /// The kind of goods: `license`, `manual_service`, `hardware`, `saas_offline`, `app_orchestration`,
    /// `data_file`; it decides which deadlines apply.
    pub goods: String,
    /// `awaiting_requirement`, `requirement_confirmed`, `requirement_rejected`, `delivering`, `delivered`,
    /// `accepted`, `completed`, `appealed` or `closed` (released before completion).
    pub state: String,
    /// While appealed: the state the resolution returns to.
    pub state_before_appeal: Option<String>,
    /// The product, from the order.
    pub product_id: Option<String>,
    /// The SKU, from the order.
    pub sku_code: Option<String>,
    /// `PERIOD`, `ONE_TIME`, `ON_DEMAND`, `ON_DEMAND_PKG`.
    pub charging_mode: Option<String>,
    /// Whether it is a debug (`testFlag`) order.
    pub test: bool,
    /// What the line costs the buyer after discounts, as the order says it (the money waiting).
    pub amount: Option<String>,
    /// When the buyer paid (the order's creation time): the requirement and 180-day clocks start here.
    pub paid_at: DateTimeUtc,
    /// When koofill opened the case.
    pub opened_at: DateTimeUtc,
    /// 服务实际开通时间: the service start the seller filled in, or the license activation time.
    pub actual_start: Option<DateTimeUtc>,
    /// How often the buyer rejected the delivery.
    pub rejections: i64,
    /// When the case reached `completed`.
    pub completed_at: Option<DateTimeUtc>,
    /// Incremented by every step; a step is recorded only against the version it read.
    pub version: i64,
    /// When the case last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
