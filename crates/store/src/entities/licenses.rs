//! `licenses`: one License 2.0 code (spec §7), as its callbacks and KooGallery's activate /
//! heartbeat answers left it.

use sea_orm::entity::prelude::*;

/// One license code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "licenses")]
pub struct Model {
    /// The code KooGallery generated (`PL…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// The order it was sold or last renewed with, when known.
    pub order_id: Option<String>,
    /// Its order line, when known.
    pub order_line_id: Option<String>,
    /// The product, when known.
    pub product_id: Option<String>,
    /// `active`, `frozen` or `released`, as the callbacks left it.
    pub status: String,
    /// The expiry, set (never extended) by refreshLicenseCode; else from KooGallery's answers.
    pub expire_time: Option<DateTimeUtc>,
    /// Whether a debug (`testFlag`) callback created it.
    pub test: bool,
    /// The release arrived before anything else was known: a tombstone, so a late renewal does
    /// not bring the code back.
    pub released_before_known: bool,
    /// When KooGallery signed the status call whose target state the code holds; an older call
    /// handled later changes nothing.
    pub status_requested_at: Option<DateTimeUtc>,
    /// When KooGallery signed the refresh call that set `expire_time`; an older one handled later
    /// changes nothing.
    pub expiry_requested_at: Option<DateTimeUtc>,
    /// When KooGallery activated the code (through the proxy).
    pub activated_at: Option<DateTimeUtc>,
    /// Whether `license.activated` was emitted.
    pub activation_announced: bool,
    /// KooGallery's status from its last answer (`ALIVE`, `EXPIRED`, `RELEASED`).
    pub kg_status: Option<String>,
    /// When koofill last asked KooGallery (activate or heartbeat).
    pub checked_at: Option<DateTimeUtc>,
    /// A callback changed the code since that check: the next status request asks KooGallery.
    pub check_due: bool,
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
