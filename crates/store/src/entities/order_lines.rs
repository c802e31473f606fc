//! `order_lines`: the lines of a recorded order; `(order_id, order_line_id)` is the key of
//! newInstance and orderNotify (spec §4.4).

use sea_orm::entity::prelude::*;

/// One order line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    /// The order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: String,
    /// The order line.
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_line_id: String,
    /// `PERIOD`, `ONE_TIME`, `ON_DEMAND`, `ON_DEMAND_PKG`.
    pub charging_mode: Option<String>,
    /// `year`, `month`, `day`.
    pub period_type: Option<String>,
    /// Number of periods.
    pub period_number: Option<i64>,
    /// Expiry of the line.
    pub expire_time: Option<DateTimeUtc>,
    /// The line's `productInfo` list as JSON text (on-demand lines may hold several products).
    pub products: Option<String>,
    /// Whether an orderNotify was received for this line.
    pub notified: bool,
    /// When koofill first recorded it.
    pub recorded_at: DateTimeUtc,
}

/// No navigated relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
