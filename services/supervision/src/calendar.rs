//! Calendar arithmetic in Beijing time (UTC+8, no daylight saving), as spec §10.3 asks: "1 month"
//! after 2024-01-31 10:00 Beijing time is 2024-02-29 10:00, whatever the UTC date was.

use chrono::{DateTime, Days, Duration, FixedOffset, Months, Utc};
use koofill_config::{CalendarSpan, SpanUnit};

/// UTC+8.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("8 hours is a valid offset")
}

/// `at` plus `span`, counted on the Beijing calendar.
pub fn add(at: DateTime<Utc>, span: CalendarSpan) -> DateTime<Utc> {
    shift(at, span, true)
}

/// `at` minus `span`, counted on the Beijing calendar.
pub fn sub(at: DateTime<Utc>, span: CalendarSpan) -> DateTime<Utc> {
    shift(at, span, false)
}

fn shift(at: DateTime<Utc>, span: CalendarSpan, forward: bool) -> DateTime<Utc> {
    let local = at.with_timezone(&beijing());
    let n = span.amount;
    let moved = match (span.unit, forward) {
        (SpanUnit::Months, true) => local.checked_add_months(Months::new(n)),
        (SpanUnit::Months, false) => local.checked_sub_months(Months::new(n)),
        (SpanUnit::Days, true) => local.checked_add_days(Days::new(n.into())),
        (SpanUnit::Days, false) => local.checked_sub_days(Days::new(n.into())),
        (SpanUnit::Hours, f) => local.checked_add_signed(signed(Duration::hours(n.into()), f)),
        (SpanUnit::Minutes, f) => local.checked_add_signed(signed(Duration::minutes(n.into()), f)),
    };
    // Out of range only for dates hundreds of thousands of years away: saturate.
    moved.map_or(if forward { DateTime::<Utc>::MAX_UTC } else { DateTime::<Utc>::MIN_UTC }, |d| d.to_utc())
}

fn signed(d: Duration, forward: bool) -> Duration {
    if forward { d } else { -d }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(text: &str) -> CalendarSpan {
        text.parse().unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn months_follow_the_beijing_calendar() {
        // 2024-01-31 20:00 UTC is already 2024-02-01 04:00 in Beijing: one month later is March 1st there.
        assert_eq!(add(utc("2024-01-31T20:00:00Z"), span("1 month")), utc("2024-03-01T04:00:00+08:00"));
        // 2024-01-31 10:00 Beijing + 1 month is the last day of February (a leap year).
        assert_eq!(add(utc("2024-01-31T10:00:00+08:00"), span("1 month")), utc("2024-02-29T10:00:00+08:00"));
        assert_eq!(add(utc("2024-01-15T00:00:00+08:00"), span("3 months")), utc("2024-04-15T00:00:00+08:00"));
    }

    #[test]
    fn days_hours_and_subtraction() {
        let at = utc("2024-03-01T10:00:00+08:00");
        assert_eq!(add(at, span("10 days")), utc("2024-03-11T10:00:00+08:00"));
        assert_eq!(add(at, span("3 hours")), utc("2024-03-01T13:00:00+08:00"));
        assert_eq!(sub(at, span("1 day")), utc("2024-02-29T10:00:00+08:00"));
        assert_eq!(sub(at, span("1 month")), utc("2024-02-01T10:00:00+08:00"));
        assert_eq!(sub(at, span("30 minutes")), utc("2024-03-01T09:30:00+08:00"));
    }
}
