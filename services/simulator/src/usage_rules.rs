//! The record-level rules of the usage push (按需使用量推送(新), spec §8.3).
//!
//! KooGallery answers the push itself with `MKT.0000` and validates the records in the background;
//! the simulator validates them on receipt, so a test can read every record's result at once with
//! [`crate::Simulator::usage_records`]. The first rule a record breaks decides its reason, in this
//! order:
//!
//! | Reason | Rule |
//! |---|---|
//! | `001` | `instance_id` names an instance the marketplace knows |
//! | `009` | the instance belongs to the seller who pushes |
//! | `012` | the instance is on-demand (not a period, one-time or package instance) |
//! | `006` | its product is not delisted |
//! | `013` | it is not frozen (a released instance still takes usage up to its close time) |
//! | `004` | `metering_sn` is present |
//! | `005` | `metering_sn` was not accepted before, in this push or an earlier one |
//! | `002` | `record_time`, `begin_time`, `end_time` are `yyyyMMdd'T'HHmmss'Z'` |
//! | `003` | `usage_value` is a decimal > 0 with at most 4 decimal places (string or number) |
//! | `007` | `begin_time` is within 21 days (only with [`StaleBeginPolicy::RecordLevel`]) |
//! | `011` | `begin_time ≤ end_time ≤ now`, no earlier than the instance opened, no later than it closed |
//! | `010` | no accepted record has the same (instance, `begin_time`, `end_time`) |
//!
//! Before any record is looked at, a push with more than 1000 records is refused with `MKT.9003`,
//! and, by default, one holding a `begin_time` older than 21 days with `MKT.9004`
//! ([`StaleBeginPolicy`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use koofill_model::order::ChargingMode;
use koofill_model::time::parse_open_api;
use serde_json::Value;

use crate::config::{SimConfig, StaleBeginPolicy};
use crate::market::{InstanceStatus, SimInstance};

/// Why a usage record was rejected, with KooGallery's reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageReason {
    /// `001`: the instance does not exist.
    InstanceNotFound,
    /// `002`: a time is not in the open-API format.
    TimeFormat,
    /// `003`: the usage value is not > 0 with at most 4 decimals.
    UsageValue,
    /// `004`: the record's unique ID (`metering_sn`) is missing.
    MissingMeteringSn,
    /// `005`: the `metering_sn` was already accepted.
    DuplicateMeteringSn,
    /// `006`: the product was delisted.
    ProductDelisted,
    /// `007`: the record's time has expired (older than 21 days).
    RecordExpired,
    /// `009`: the instance belongs to another seller.
    SellerMismatch,
    /// `010`: a record with the same instance, begin and end was already accepted.
    DuplicateRecord,
    /// `011`: the time range is invalid.
    TimeRange,
    /// `012`: the instance is not an on-demand instance.
    NotOnDemand,
    /// `013`: the instance's status does not allow usage.
    InstanceStatus,
}

impl UsageReason {
    /// Every reason, in code order.
    pub const ALL: [UsageReason; 12] = [
        Self::InstanceNotFound,
        Self::TimeFormat,
        Self::UsageValue,
        Self::MissingMeteringSn,
        Self::DuplicateMeteringSn,
        Self::ProductDelisted,
        Self::RecordExpired,
        Self::SellerMismatch,
        Self::DuplicateRecord,
        Self::TimeRange,
        Self::NotOnDemand,
        Self::InstanceStatus,
    ];

    /// The three-digit code, e.g. `"001"`.
    pub fn code(self) -> &'static str {
        match self {
            Self::InstanceNotFound => "001",
            Self::TimeFormat => "002",
            Self::UsageValue => "003",
            Self::MissingMeteringSn => "004",
            Self::DuplicateMeteringSn => "005",
            Self::ProductDelisted => "006",
            Self::RecordExpired => "007",
            Self::SellerMismatch => "009",
            Self::DuplicateRecord => "010",
            Self::TimeRange => "011",
            Self::NotOnDemand => "012",
            Self::InstanceStatus => "013",
        }
    }
}

/// The validation result of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageStatus {
    /// Counted.
    Accepted,
    /// Refused; the seller must fix and re-report it.
    Rejected(UsageReason),
}

/// One received usage record and its result.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecordResult {
    /// Which push it came in (1 for the first push the simulator accepted).
    pub push: u64,
    /// Its position in that push.
    pub index: usize,
    /// `instance_id`, when it is a string.
    pub instance_id: Option<String>,
    /// `metering_sn`, when it is a non-empty string.
    pub metering_sn: Option<String>,
    /// The record as received.
    pub record: Value,
    /// Accepted, or rejected with a reason.
    pub status: UsageStatus,
}

impl UsageRecordResult {
    /// The rejection reason, if any.
    pub fn reason(&self) -> Option<UsageReason> {
        match self.status {
            UsageStatus::Accepted => None,
            UsageStatus::Rejected(reason) => Some(reason),
        }
    }
}

/// A received record as the registration API lists it (`GET /sim/v1/usage-records`): the
/// record's times and value as text, and its result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UsageRecordView {
    /// Which push it came in.
    pub push: u64,
    /// `instance_id`, when it is a string.
    pub instance_id: Option<String>,
    /// `metering_sn`, when it is a non-empty string.
    pub metering_sn: Option<String>,
    /// `begin_time` as sent (empty when absent).
    pub begin_time: String,
    /// `end_time` as sent (empty when absent).
    pub end_time: String,
    /// `usage_value` as sent, a number written out as text.
    pub usage_value: String,
    /// The rejection's reason code (`"011"`), or none when accepted.
    pub reason: Option<String>,
}

impl From<&UsageRecordResult> for UsageRecordView {
    fn from(r: &UsageRecordResult) -> Self {
        let text = |field: &str| match &r.record[field] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        Self {
            push: r.push,
            instance_id: r.instance_id.clone(),
            metering_sn: r.metering_sn.clone(),
            begin_time: text("begin_time"),
            end_time: text("end_time"),
            usage_value: text("usage_value"),
            reason: r.reason().map(|reason| reason.code().to_owned()),
        }
    }
}

/// A push refused as a whole, before any record was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRefusal {
    /// HTTP status.
    pub status: u16,
    /// `MKT.*` code.
    pub code: &'static str,
    /// `error_msg`.
    pub message: &'static str,
}

/// Checks the push-level limits of `body`'s `usage_records`.
///
/// # Errors
/// The refusal: `MKT.0101` when there is no `usage_records` array, `MKT.9003` over the record
/// limit, `MKT.9004` for a `begin_time` older than the limit under the request-level policy.
pub fn check_push<'a>(body: &'a Value, cfg: &SimConfig, now: DateTime<Utc>) -> Result<&'a [Value], PushRefusal> {
    let records = body.get("usage_records").and_then(Value::as_array).ok_or(PushRefusal {
        status: 400,
        code: "MKT.0101",
        message: "Invalid parameter",
    })?;
    if records.len() > cfg.usage_max_records {
        return Err(PushRefusal { status: 500, code: "MKT.9003", message: "Usage records extends size limit." });
    }
    if cfg.stale_begin == StaleBeginPolicy::RequestLevel
        && records.iter().filter_map(|r| time_field(r, "begin_time")).any(|begin| is_stale(begin, cfg, now))
    {
        return Err(PushRefusal { status: 500, code: "MKT.9004", message: "Record beginTime extends Limit." });
    }
    Ok(records)
}

/// Validates the records of one accepted push against the known instances and the records
/// accepted before (`history`), in order, so that a duplicate within the push is caught too.
pub fn validate_records(
    records: &[Value],
    push: u64,
    instances: &BTreeMap<String, SimInstance>,
    history: &[UsageRecordResult],
    cfg: &SimConfig,
    now: DateTime<Utc>,
) -> Vec<UsageRecordResult> {
    let mut out: Vec<UsageRecordResult> = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let accepted = history.iter().chain(out.iter()).filter(|r| r.status == UsageStatus::Accepted);
        let status = match check_record(record, instances, accepted, cfg, now) {
            Ok(()) => UsageStatus::Accepted,
            Err(reason) => UsageStatus::Rejected(reason),
        };
        out.push(UsageRecordResult {
            push,
            index,
            instance_id: str_field(record, "instance_id").map(str::to_owned),
            metering_sn: str_field(record, "metering_sn").filter(|s| !s.is_empty()).map(str::to_owned),
            record: record.clone(),
            status,
        });
    }
    out
}

fn check_record<'a>(
    record: &Value,
    instances: &BTreeMap<String, SimInstance>,
    accepted: impl Iterator<Item = &'a UsageRecordResult> + Clone,
    cfg: &SimConfig,
    now: DateTime<Utc>,
) -> Result<(), UsageReason> {
    use UsageReason as R;
    let instance = str_field(record, "instance_id").and_then(|id| instances.get(id)).ok_or(R::InstanceNotFound)?;
    reject_if(instance.other_seller, R::SellerMismatch)?;
    reject_if(instance.charging_mode != ChargingMode::OnDemand, R::NotOnDemand)?;
    reject_if(instance.delisted, R::ProductDelisted)?;
    reject_if(instance.status == InstanceStatus::Frozen, R::InstanceStatus)?;
    let sn = str_field(record, "metering_sn").filter(|s| !s.trim().is_empty()).ok_or(R::MissingMeteringSn)?;
    reject_if(accepted.clone().any(|r| r.metering_sn.as_deref() == Some(sn)), R::DuplicateMeteringSn)?;
    let [_, begin, end] = ["record_time", "begin_time", "end_time"].map(|name| time_field(record, name));
    let (Some(begin), Some(end), Some(_)) = (begin, end, time_field(record, "record_time")) else {
        return Err(R::TimeFormat);
    };
    reject_if(!usage_value_ok(record.get("usage_value")), R::UsageValue)?;
    reject_if(is_stale(begin, cfg, now), R::RecordExpired)?;
    let closed_ok = instance.closed_at.is_none_or(|closed| end <= closed);
    reject_if(begin > end || end > now || begin < instance.opened_at || !closed_ok, R::TimeRange)?;
    let same_window = |r: &&UsageRecordResult| {
        r.instance_id.as_deref() == Some(instance.instance_id.as_str())
            && time_field(&r.record, "begin_time") == Some(begin)
            && time_field(&r.record, "end_time") == Some(end)
    };
    reject_if(accepted.clone().any(|r| same_window(&r)), R::DuplicateRecord)
}

fn reject_if(broken: bool, reason: UsageReason) -> Result<(), UsageReason> {
    if broken { Err(reason) } else { Ok(()) }
}

fn str_field<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record.get(name).and_then(Value::as_str)
}

fn time_field(record: &Value, name: &str) -> Option<DateTime<Utc>> {
    str_field(record, name).and_then(|s| parse_open_api(s).ok())
}

fn is_stale(begin: DateTime<Utc>, cfg: &SimConfig, now: DateTime<Utc>) -> bool {
    chrono::Duration::from_std(cfg.usage_max_age).is_ok_and(|max_age| begin < now - max_age)
}

/// Longest `usage_value` text (String(20)).
const USAGE_VALUE_MAX_CHARS: usize = 20;
/// Most decimal places a usage value may have.
const USAGE_VALUE_MAX_DECIMALS: usize = 4;

/// `> 0`, plain decimal notation, at most 4 decimals; sent as a string or a JSON number.
fn usage_value_ok(value: Option<&Value>) -> bool {
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return false,
    };
    let (int, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !int.is_empty()
        && digits(int)
        && digits(frac)
        && frac.len() <= USAGE_VALUE_MAX_DECIMALS
        && text.len() <= USAGE_VALUE_MAX_CHARS
        && !(text.contains('.') && frac.is_empty());
    well_formed && text.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn usage_values() {
        for ok in [json!("1"), json!("0.0001"), json!("99.1234"), json!(5), json!(2.5)] {
            assert!(usage_value_ok(Some(&ok)), "{ok}");
        }
        for bad in [
            json!("0"),
            json!("0.0000"),
            json!("-1"),
            json!("1.23456"),
            json!("1e3"),
            json!("1."),
            json!(""),
            json!(0),
            json!(null),
        ] {
            assert!(!usage_value_ok(Some(&bad)), "{bad}");
        }
        assert!(!usage_value_ok(None));
    }

    #[test]
    fn codes_are_distinct_three_digit_strings() {
        let codes: std::collections::BTreeSet<_> = UsageReason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), UsageReason::ALL.len());
        assert!(codes.iter().all(|c| c.len() == 3));
    }
}
