//! Digests: rules with `digest_secs` batch their events into one delivery per channel and
//! period, sent when the period ends.
//!
//! A digest is an ordinary delivery row whose event id names the period
//! (`digest:<secs>:<period start, Unix seconds>`), due at the period's end. An event joins it in
//! the same transaction that claims the event in the inbox, so every event is in exactly one
//! digest, once, whatever the redeliveries. An event that finds its period's digest already
//! claimed by a sender (or sent) joins the next period's, so nothing is added to a message
//! after it went out.

use chrono::{DateTime, TimeZone, Utc};
use koofill_config::Language;
use koofill_store::{StoreError, entities::notification_deliveries as deliveries};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use serde_json::{Value, json};

use crate::{
    repo::{PENDING, delivery_id},
    templates,
};

/// Lines a digest lists; later events are counted in a last line.
pub const MAX_LINES: u64 = 50;
/// Event ids a digest's data keeps (for the webhook channel's receivers and for operators).
const MAX_IDS: usize = 500;
/// The event type of a digest delivery.
pub const DIGEST_TYPE: &str = "digest";

/// One event joining a digest.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The channel.
    pub channel_id: &'a str,
    /// The channel's kind name.
    pub channel_kind: &'a str,
    /// The channel's language.
    pub language: Language,
    /// The digest period.
    pub period_secs: u64,
    /// The event.
    pub event_id: &'a str,
    /// Its type.
    pub event_type: &'a str,
    /// Whether it is a debug event.
    pub test: bool,
    /// Its line.
    pub line: String,
}

/// The event id of the digest of the period starting at `start`.
pub fn digest_event_id(period_secs: u64, start: i64) -> String {
    format!("digest:{period_secs}:{start}")
}

/// Adds `entry` to the digest of the period `now` falls in (or a later one, when that one went
/// out already).
///
/// # Errors
/// [`StoreError`].
pub async fn append(db: &impl ConnectionTrait, entry: &Entry<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
    let period = i64::try_from(entry.period_secs.max(1)).unwrap_or(i64::MAX);
    let mut start = now.timestamp().div_euclid(period) * period;
    // A few periods at most: each step ahead means a sender claimed that digest meanwhile, and
    // each look again means another transaction wrote it (two looks per period at most, mostly).
    for _ in 0..16 {
        let key = digest_event_id(entry.period_secs, start);
        let existing = deliveries::Entity::find()
            .filter(deliveries::Column::EventId.eq(key.as_str()))
            .filter(deliveries::Column::ChannelId.eq(entry.channel_id))
            .one(db)
            .await?;
        // `false`: another transaction created or changed it meanwhile; look at it again.
        let done = match existing {
            None => create(db, entry, &key, start, period, now).await?,
            Some(row) if row.state == PENDING => extend(db, entry, &row, now).await?,
            // That one is out (or going out): the next period's.
            Some(_) => {
                start += period;
                false
            }
        };
        if done {
            return Ok(());
        }
    }
    Err(StoreError::Conflict(format!("digest of channel {} kept moving", entry.channel_id)))
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_else(Utc::now)
}

/// Creates the period's digest with its first event; `false` when another transaction created it
/// first.
async fn create(
    db: &impl ConnectionTrait,
    entry: &Entry<'_>,
    key: &str,
    start: i64,
    period: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (from, to) = (at(start), at(start.saturating_add(period)));
    let data = json!({
        "digest": {"period_secs": entry.period_secs, "from": from, "to": to},
        "count": 1,
        "test": entry.test,
        "events": [{"id": entry.event_id, "type": entry.event_type}],
    });
    let model = deliveries::ActiveModel {
        id: Set(delivery_id(key, entry.channel_id)),
        event_id: Set(key.to_owned()),
        event_type: Set(DIGEST_TYPE.to_owned()),
        test: Set(entry.test),
        channel_id: Set(entry.channel_id.to_owned()),
        channel_kind: Set(entry.channel_kind.to_owned()),
        state: Set(PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(to),
        lease_until: Set(None),
        title: Set(templates::digest_title(1, entry.language)),
        body: Set(format!("- {}", entry.line)),
        data: Set(data.to_string()),
        last_error: Set(None),
        provider_answer: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        delivered_at: Set(None),
    };
    let inserted = deliveries::Entity::insert(model)
        .on_conflict(
            OnConflict::columns([deliveries::Column::EventId, deliveries::Column::ChannelId]).do_nothing().to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Adds the event to a pending digest, if it is still pending and unchanged since it was read
/// (its `updated_at` and its count): `false` otherwise.
async fn extend(
    db: &impl ConnectionTrait,
    entry: &Entry<'_>,
    row: &deliveries::Model,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut data: Value = serde_json::from_str(&row.data).unwrap_or_else(|_| json!({}));
    let count = data["count"].as_u64().unwrap_or(0) + 1;
    data["count"] = json!(count);
    if let Some(events) = data["events"].as_array_mut()
        && events.len() < MAX_IDS
    {
        events.push(json!({"id": entry.event_id, "type": entry.event_type}));
    }
    let body = if count <= MAX_LINES {
        format!("{}\n- {}", row.body, entry.line)
    } else {
        // The first MAX_LINES lines, then one line counting the rest.
        let listed: Vec<&str> = row.body.lines().take(usize::try_from(MAX_LINES).unwrap_or(usize::MAX)).collect();
        let more = match entry.language {
            Language::Zh => format!("…… 另有 {} 条", count - MAX_LINES),
            Language::En => format!("… and {} more", count - MAX_LINES),
        };
        format!("{}\n{more}", listed.join("\n"))
    };
    let changed = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Title, Expr::value(templates::digest_title(count, entry.language)))
        .col_expr(deliveries::Column::Body, Expr::value(body))
        .col_expr(deliveries::Column::Data, Expr::value(data.to_string()))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(deliveries::Column::Id.eq(row.id.as_str()))
        .filter(deliveries::Column::State.eq(PENDING))
        .filter(deliveries::Column::Data.eq(row.data.as_str()))
        .exec(db)
        .await?;
    Ok(changed.rows_affected == 1)
}
