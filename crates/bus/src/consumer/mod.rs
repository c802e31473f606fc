//! The one generic pull-consumer runner (house style §8).
//!
//! A worker supplies a typed [`Handler`] and a [`ConsumerSpec`]; only the runner settles messages:
//!
//! 1. fetch no more messages than there are free handler slots, so nothing waits in a client
//!    buffer while its `ack_wait` runs out (a buffered message would be redelivered to another
//!    replica and handled twice);
//! 2. decode the payload into the handler's message type — a payload that does not decode is
//!    poison and goes straight to the dead letters;
//! 3. handle the [`Delivery`] inside a span that continues the publisher's trace, with an
//!    [`Attempt`] telling the handler how many deliveries were made, whether this is the last one
//!    and its deadline; while the handler runs, send `+WPI` (progress) every `ack_wait / 2`;
//! 4. success → `double_ack` (retried 3 times);
//! 5. a failure is classified by the handler's error ([`ErrorClass`]): transient failures and
//!    configuration errors on the seller's side are retried with `-NAK` and a delay of
//!    `base · 2^(delivered−1)` (capped at `nak_max`) unless the attempt was its last
//!    ([`Attempt::is_last`]: the retry would start past the retry horizon, judged when the
//!    attempt began, as the handler was told); permanent failures, and retryable ones of a last
//!    attempt, are copied to `<prefix>.dlq.<consumer>` *then* `+TERM`ed (TERM alone would lose
//!    them);
//! 6. a handler that panics or overruns its deadline is a transient failure.
//!
//! nats-server 2.9 mishandles a pull request that expires just as the consumer matches a
//! redelivery to it: it drops the request without the closing `408`, takes the message off its
//! redelivery queue and steps the consumer's stream position back by one, so a message is
//! delivered again with a delivery count of 1 (the redelivered one itself still comes back after
//! `ack_wait`). The step back is fixed from nats-server 2.10.14 (PR 5305). Nothing is lost and
//! handlers are idempotent, so the cost is a duplicate delivery. The runner gives up on a pull a
//! second after its expiry instead of async-nats's five, and [`Consumer::drain_until_empty`]
//! fetches without an expiry at all.

mod attempt;
mod dlq;
mod metrics;
mod runner;

use std::{future::Future, time::Duration};

use async_nats::HeaderMap;
use bytes::Bytes;

pub use attempt::Attempt;
pub use dlq::{DeadLetter, error_chain};
pub use metrics::{ConsumerLabels, ConsumerMetrics, OutcomeLabel, OutcomeLabels};
pub use runner::{Consumer, Outcome};

use crate::BusError;

/// How a failure should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// May succeed later (database, NATS, network, 5xx, 408/429, timeouts): retried until the
    /// retry horizon.
    Transient,
    /// A configuration error on the seller's side (their webhook answering 401/403, KooGallery
    /// rejecting the AK/SK after a key rotation). Retried on the same long horizon — a paid order
    /// must not fail because a key was rotated on one side — but counted and logged at `error`
    /// so that someone fixes it.
    Misconfigured,
    /// Will never succeed (invalid data, a 4xx that will not change): dead-lettered at once.
    Permanent,
}

impl ErrorClass {
    /// Whether another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, Self::Permanent)
    }
}

/// An error a handler returns; the runner retries or dead-letters by [`HandlerError::class`].
pub trait HandlerError: std::error::Error + Send + Sync + 'static {
    /// How the runner should treat this failure.
    fn class(&self) -> ErrorClass;
}

impl HandlerError for BusError {
    fn class(&self) -> ErrorClass {
        if BusError::is_retryable(self) { ErrorClass::Transient } else { ErrorClass::Permanent }
    }
}

/// What a worker plugs into the runner: one message type, one error type.
pub trait Handler: Send + Sync + 'static {
    /// The payload type, decoded from JSON by the runner.
    type Msg: serde::de::DeserializeOwned + Send + Sync + 'static;
    /// The handler's error type.
    type Error: HandlerError;

    /// Handles one delivery. Must be idempotent: the same message can arrive more than once.
    fn handle(&self, delivery: &Delivery<Self::Msg>) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// One decoded message as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery<T> {
    /// The decoded payload.
    pub msg: T,
    /// The subject it was published on.
    pub subject: String,
    /// Its headers (trace context, `Nats-Msg-Id`).
    pub headers: Option<HeaderMap>,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// Which attempt this is.
    pub attempt: Attempt,
}

impl<T> Delivery<T> {
    /// The `Nats-Msg-Id` it was published with, if any.
    pub fn msg_id(&self) -> Option<&str> {
        self.headers.as_ref()?.get(async_nats::header::NATS_MESSAGE_ID).map(|v| v.as_str())
    }
}

/// A message as received, before decoding (what a dead letter keeps).
#[derive(Debug, Clone)]
pub struct RawDelivery {
    /// The subject it was published on.
    pub subject: String,
    /// The payload.
    pub payload: Bytes,
    /// Its headers.
    pub headers: Option<HeaderMap>,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// Deliveries made, this one included.
    pub delivered: i64,
}

/// Retry and flow-control settings of a consumer.
#[derive(Debug, Clone)]
pub struct ConsumerPolicy {
    /// How long after the message was first stored a retryable failure is still retried.
    pub retry_horizon: Duration,
    /// How long one handler invocation may run before it is abandoned and retried.
    pub handler_timeout: Duration,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// First NAK delay; doubles with each delivery.
    pub nak_base: Duration,
    /// Largest NAK delay.
    pub nak_max: Duration,
    /// Messages handled at once by this process.
    pub concurrency: usize,
    /// Unacknowledged messages allowed across all processes (the global in-flight cap).
    pub max_ack_pending: i64,
}

impl ConsumerPolicy {
    /// The policy of `[consumer]`.
    pub fn from_config(c: &koofill_config::ConsumerConfig) -> Self {
        Self {
            retry_horizon: c.retry_horizon(),
            handler_timeout: c.handler_timeout(),
            ack_wait: c.ack_wait(),
            nak_base: c.nak_base_delay(),
            nak_max: c.nak_max_delay(),
            concurrency: c.concurrency,
            max_ack_pending: c.max_ack_pending,
        }
    }

    /// The NAK delay after the `delivered`-th delivery failed: `base · 2^(delivered−1)`, capped
    /// at `nak_max` (the exponent stops at 20 only so the multiplication cannot overflow). Over a
    /// 24-hour horizon with the defaults (1 s doubling to 5 minutes) a stuck message is tried
    /// about 300 times, not thousands.
    pub fn nak_delay(&self, delivered: i64) -> Duration {
        let exp = u32::try_from((delivered - 1).clamp(0, 20)).unwrap_or(0);
        self.nak_base.saturating_mul(1 << exp).min(self.nak_max)
    }
}

/// Which stream and subjects a durable consumer reads, and how.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The stream name.
    pub stream: String,
    /// The durable consumer name (also the DLQ subject's last token).
    pub durable: String,
    /// The one filter subject (2.9 has no multi-filter consumers).
    pub filter_subject: String,
    /// Retry and flow control.
    pub policy: ConsumerPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base_ms: u64, max: Duration) -> ConsumerPolicy {
        ConsumerPolicy {
            retry_horizon: Duration::from_secs(86_400),
            handler_timeout: Duration::from_secs(60),
            ack_wait: Duration::from_secs(30),
            nak_base: Duration::from_millis(base_ms),
            nak_max: max,
            concurrency: 4,
            max_ack_pending: 16,
        }
    }

    #[test]
    fn nak_delay_doubles_and_is_capped() {
        let p = policy(100, Duration::from_secs(5));
        assert_eq!(p.nak_delay(1), Duration::from_millis(100));
        assert_eq!(p.nak_delay(2), Duration::from_millis(200));
        assert_eq!(p.nak_delay(4), Duration::from_millis(800));
        assert_eq!(p.nak_delay(7), Duration::from_secs(5));
        assert_eq!(p.nak_delay(50), Duration::from_secs(5));
        assert_eq!(p.nak_delay(0), Duration::from_millis(100));
        let defaults = policy(1000, Duration::from_secs(300));
        assert_eq!(defaults.nak_delay(9), Duration::from_secs(256));
        assert_eq!(defaults.nak_delay(10), Duration::from_secs(300), "the cap, not the exponent, bounds the delay");
        assert_eq!(defaults.nak_delay(i64::MAX), Duration::from_secs(300));
    }

    #[test]
    fn only_permanent_failures_are_not_retryable() {
        assert!(ErrorClass::Transient.is_retryable());
        assert!(ErrorClass::Misconfigured.is_retryable());
        assert!(!ErrorClass::Permanent.is_retryable());
    }
}
