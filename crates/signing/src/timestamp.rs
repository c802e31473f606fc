//! The timestamp window every KooGallery verifier applies (spec §2.1 recommendation 4).

use crate::SignatureError;

/// Parses a KooGallery `timestamp` into Unix milliseconds.
///
/// The value is milliseconds (13 digits in every example); some pages say seconds, so a value of
/// at most 10 digits is read as seconds.
///
/// # Errors
/// [`SignatureError::TimestampNotNumeric`] when it is not a non-negative decimal integer.
pub fn parse_millis(raw: &str) -> Result<i64, SignatureError> {
    let digits = raw.trim();
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::TimestampNotNumeric(truncate(raw)));
    }
    let n: i64 = digits.parse().map_err(|_| SignatureError::TimestampNotNumeric(truncate(raw)))?;
    Ok(if digits.len() <= 10 { n.saturating_mul(1000) } else { n })
}

/// Checks `timestamp_ms` against `now_ms` with a two-sided window of `window_ms`.
///
/// # Errors
/// [`SignatureError::TimestampStale`] or [`SignatureError::TimestampFuture`] outside the window.
pub fn check_window(timestamp_ms: i64, now_ms: i64, window_ms: i64) -> Result<(), SignatureError> {
    let skew = now_ms.saturating_sub(timestamp_ms);
    if skew > window_ms {
        Err(SignatureError::TimestampStale { skew_ms: skew, window_ms })
    } else if -skew > window_ms {
        Err(SignatureError::TimestampFuture { skew_ms: -skew, window_ms })
    } else {
        Ok(())
    }
}

/// [`parse_millis`] then [`check_window`].
///
/// # Errors
/// As the two functions.
pub fn verify_window(raw: &str, now_ms: i64, window_ms: i64) -> Result<i64, SignatureError> {
    let ts = parse_millis(raw)?;
    check_window(ts, now_ms, window_ms)?;
    Ok(ts)
}

fn truncate(raw: &str) -> String {
    raw.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_and_seconds() {
        assert_eq!(parse_millis("1680508066618").unwrap(), 1_680_508_066_618);
        assert_eq!(parse_millis("1680508066").unwrap(), 1_680_508_066_000);
        assert!(parse_millis("").is_err());
        assert!(parse_millis("-1").is_err());
        assert!(parse_millis("12a").is_err());
        assert!(parse_millis("9999999999999999999999").is_err());
    }

    #[test]
    fn window_is_two_sided_and_inclusive() {
        let now = 1_000_000;
        assert!(check_window(now - 60_000, now, 60_000).is_ok());
        assert!(check_window(now + 60_000, now, 60_000).is_ok());
        assert!(matches!(check_window(now - 60_001, now, 60_000), Err(SignatureError::TimestampStale { .. })));
        assert!(matches!(check_window(now + 60_001, now, 60_000), Err(SignatureError::TimestampFuture { .. })));
        assert!(verify_window("1000", 1_000_000, 60_000).is_ok());
    }
}
