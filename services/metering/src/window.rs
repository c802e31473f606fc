//! Billing windows: alignment to the cycle, the record's bounds and its deterministic ID.

use chrono::{DateTime, Duration, DurationRound, Utc};
use koofill_config::BillingCycle;

/// The window `at` falls in: `[begin, end)` aligned to the UTC hour or day.
pub fn window_of(at: DateTime<Utc>, cycle: BillingCycle) -> (DateTime<Utc>, DateTime<Utc>) {
    let length = length(cycle);
    // Truncation to a whole hour or day of the Unix epoch cannot fail for times in range.
    let begin = at.duration_trunc(length).unwrap_or(at);
    (begin, begin + length)
}

/// The length of one window.
pub fn length(cycle: BillingCycle) -> Duration {
    match cycle {
        BillingCycle::Hourly => Duration::hours(1),
        BillingCycle::Daily => Duration::days(1),
    }
}

/// The cycle stored as text.
pub fn cycle_from_text(text: &str) -> Option<BillingCycle> {
    [BillingCycle::Hourly, BillingCycle::Daily].into_iter().find(|c| c.as_str() == text)
}

/// The record's `metering_sn`: UUIDv5 of `instance|begin|end` (RFC 3339, seconds) under a fixed
/// namespace, so that every re-push of a window, after any crash, carries the same ID, and two
/// windows never share one.
pub fn metering_sn(instance_id: &str, begin: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let name = format!(
        "{instance_id}|{}|{}",
        begin.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes()).simple().to_string()
}

/// The fixed namespace of metering_sn UUIDs; changing it would change every record ID.
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2a0e_8d4b_5c1a_9e3f_7b2d_4c6a_8e10);

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_align_to_the_cycle() {
        let (b, e) = window_of(t("2025-03-01T13:25:07Z"), BillingCycle::Hourly);
        assert_eq!((b, e), (t("2025-03-01T13:00:00Z"), t("2025-03-01T14:00:00Z")));
        let (b, e) = window_of(t("2025-03-01T23:59:59Z"), BillingCycle::Daily);
        assert_eq!((b, e), (t("2025-03-01T00:00:00Z"), t("2025-03-02T00:00:00Z")));
    }

    #[test]
    fn metering_sn_is_deterministic_and_distinct() {
        let (b, e) = (t("2025-03-01T13:00:00Z"), t("2025-03-01T14:00:00Z"));
        assert_eq!(metering_sn("i-1", b, e), metering_sn("i-1", b, e));
        assert_ne!(metering_sn("i-1", b, e), metering_sn("i-2", b, e));
        assert_ne!(metering_sn("i-1", b, e), metering_sn("i-1", b, t("2025-03-01T13:30:00Z")));
        assert!(metering_sn("i-1", b, e).len() <= 64);
    }
}
