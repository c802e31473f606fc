//! `orders`: what query order (spec §8.2) told us about an order.

use sea_orm::entity::prelude::*;

/// One order, as KooGallery's query-order API describes it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    /// KooGallery's order ID (the key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: String,
    /// `NEW`, `TRIAL`, `RENEW`, `CHANGE`, ... (`None` when the order could not be queried).
    pub order_type: Option<String>,
    /// When the buyer placed it.
    pub create_time: Option<DateTimeUtc>,
    /// The buyer's account ID.
    pub customer_id: Option<String>,
    /// The buyer's account name.
    pub customer_name: Option<String>,
    /// Whether it is a debug (`testFlag`) order.
    pub test: bool,
    /// The whole `orderInfo` as JSON text, for auditing and later reading.
    pub detail: Option<String>,
    /// When koofill first recorded it.
    pub recorded_at: DateTimeUtc,
    /// When koofill last updated it.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; joins are written where they are needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
