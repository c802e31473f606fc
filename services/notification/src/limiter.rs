//! One rate limiter per channel: sends evenly spaced at the provider's rate (GCRA with no
//! burst, so no sliding one-minute window of the provider is ever exceeded), and held back
//! after the provider said "too fast".

use std::{sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};

/// How long a sender waits in place for its turn; a longer wait defers the delivery instead.
pub(crate) const MAX_INLINE_WAIT: Duration = Duration::from_secs(1);

/// What the limiter allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Send after waiting this long (zero: at once). The slot is taken.
    After(Duration),
    /// Not now: try again in this long. No slot is taken.
    Defer(Duration),
}

/// A per-channel limiter on the injected clock.
#[derive(Debug)]
pub(crate) struct Limiter {
    interval: Option<chrono::Duration>,
    next: Mutex<Option<DateTime<Utc>>>,
}

impl Limiter {
    /// `per_minute` sends a minute; `None` means unlimited.
    pub(crate) fn new(per_minute: Option<u32>) -> Self {
        let interval = per_minute.map(|n| chrono::Duration::milliseconds(60_000 / i64::from(n.max(1))));
        Self { interval, next: Mutex::new(None) }
    }

    /// Asks for a slot at `now`.
    pub(crate) fn acquire(&self, now: DateTime<Utc>) -> Permit {
        let Ok(mut next) = self.next.lock() else { return Permit::After(Duration::ZERO) };
        let due = next.map_or(now, |n| n.max(now));
        let wait = (due - now).to_std().unwrap_or_default();
        if wait > MAX_INLINE_WAIT {
            return Permit::Defer(wait);
        }
        if let Some(interval) = self.interval {
            *next = Some(due + interval);
        }
        Permit::After(wait)
    }

    /// Holds every send back until `now + penalty` (the provider throttled the channel).
    pub(crate) fn penalise(&self, now: DateTime<Utc>, penalty: Duration) {
        let until = now + chrono::Duration::from_std(penalty).unwrap_or(chrono::Duration::MAX);
        if let Ok(mut next) = self.next.lock() {
            *next = Some(next.map_or(until, |n| n.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_spaced_at_the_rate_and_penalties_defer() {
        let t0 = Utc::now();
        let limiter = Limiter::new(Some(20)); // one every 3 s
        assert_eq!(limiter.acquire(t0), Permit::After(Duration::ZERO));
        assert_eq!(limiter.acquire(t0), Permit::Defer(Duration::from_secs(3)));
        assert_eq!(
            limiter.acquire(t0 + chrono::Duration::milliseconds(2500)),
            Permit::After(Duration::from_millis(500))
        );
        limiter.penalise(t0, Duration::from_secs(600));
        assert_eq!(limiter.acquire(t0 + chrono::Duration::seconds(10)), Permit::Defer(Duration::from_secs(590)));
        assert_eq!(limiter.acquire(t0 + chrono::Duration::seconds(600)), Permit::After(Duration::ZERO));
    }

    #[test]
    fn unlimited_channels_never_wait() {
        let limiter = Limiter::new(None);
        let t0 = Utc::now();
        for _ in 0..100 {
            assert_eq!(limiter.acquire(t0), Permit::After(Duration::ZERO));
        }
    }
}
