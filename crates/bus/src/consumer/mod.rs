//! The one generic pull-consumer runner (house style §8).
//!
//! A service supplies a [`Handler`] and a [`ConsumerSpec`]; only the runner settles messages:
//!
//! 1. decode and handle the [`Delivery`] inside a span that continues the publisher's trace;
//! 2. while the handler runs, send `+WPI` (progress) every `ack_wait / 2` so a long handler is not
//!    redelivered to another worker;
//! 3. success → `double_ack` (retried 3 times);
//! 4. retryable failure with attempts left → `-NAK` with delay `base · 2^(delivered−1)` (exponent
//!    capped at 6, delay at `nak_max`); a plain NAK would redeliver at once, and BackOff does not
//!    apply to NAKs;
//! 5. permanent failure or attempts exhausted → copy payload, headers, subject, sequence, delivery
//!    count and error to `<prefix>.dlq.<consumer>`, *then* `+TERM` (TERM alone would lose it);
//! 6. a handler that panics is treated as a retryable failure.

mod dlq;
mod runner;

use std::{future::Future, time::Duration};

use async_nats::HeaderMap;
use bytes::Bytes;
use serde::de::DeserializeOwned;

pub use dlq::DeadLetter;
pub use runner::{Consumer, Outcome};

use crate::BusError;

/// An error a handler returns; the runner retries or dead-letters by [`HandlerError::is_retryable`].
pub trait HandlerError: std::error::Error + Send + Sync + 'static {
    /// Whether a later attempt may succeed (database down, timeout) rather than never (bad data).
    fn is_retryable(&self) -> bool;
}

impl HandlerError for BusError {
    fn is_retryable(&self) -> bool {
        BusError::is_retryable(self)
    }
}

/// What a service plugs into the runner.
pub trait Handler: Send + Sync + 'static {
    /// The handler's error type.
    type Error: HandlerError;

    /// Handles one delivery. Must be idempotent: the same message can arrive more than once.
    fn handle(&self, delivery: &Delivery) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// One message as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The subject it was published on.
    pub subject: String,
    /// The payload.
    pub payload: Bytes,
    /// Its headers (trace context, `Nats-Msg-Id`).
    pub headers: Option<HeaderMap>,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// How many times it has been delivered, this time included (1 on the first delivery).
    pub delivered: i64,
}

impl Delivery {
    /// Decodes the JSON payload.
    ///
    /// # Errors
    /// [`BusError::Decode`] (not retryable: the message is poison).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, BusError> {
        serde_json::from_slice(&self.payload).map_err(|source| BusError::Decode {
            subject: self.subject.clone(),
            expected: std::any::type_name::<T>(),
            source,
        })
    }

    /// The `Nats-Msg-Id` it was published with, if any.
    pub fn msg_id(&self) -> Option<&str> {
        self.headers.as_ref()?.get(async_nats::header::NATS_MESSAGE_ID).map(|v| v.as_str())
    }
}

/// Retry and flow-control settings of a consumer.
#[derive(Debug, Clone)]
pub struct ConsumerPolicy {
    /// Deliveries before a message is dead-lettered.
    pub max_deliver: i64,
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

impl Default for ConsumerPolicy {
    fn default() -> Self {
        Self {
            max_deliver: 12,
            ack_wait: Duration::from_secs(30),
            nak_base: Duration::from_secs(1),
            nak_max: Duration::from_secs(300),
            concurrency: 16,
            max_ack_pending: 256,
        }
    }
}

impl ConsumerPolicy {
    /// The NAK delay after the `delivered`-th delivery failed: `base · 2^(delivered−1)`, the
    /// exponent capped at 6 and the result at `nak_max`.
    pub fn nak_delay(&self, delivered: i64) -> Duration {
        let exp = u32::try_from((delivered - 1).clamp(0, 6)).unwrap_or(0);
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

    #[test]
    fn nak_delay_doubles_and_is_capped() {
        let p = ConsumerPolicy {
            nak_base: Duration::from_millis(100),
            nak_max: Duration::from_secs(5),
            ..Default::default()
        };
        assert_eq!(p.nak_delay(1), Duration::from_millis(100));
        assert_eq!(p.nak_delay(2), Duration::from_millis(200));
        assert_eq!(p.nak_delay(4), Duration::from_millis(800));
        assert_eq!(p.nak_delay(7), Duration::from_millis(6400).min(Duration::from_secs(5)));
        assert_eq!(p.nak_delay(50), Duration::from_secs(5));
        assert_eq!(p.nak_delay(0), Duration::from_millis(100));
        let wide = ConsumerPolicy {
            nak_base: Duration::from_millis(10),
            nak_max: Duration::from_secs(60),
            ..Default::default()
        };
        assert_eq!(wide.nak_delay(30), Duration::from_millis(640), "exponent capped at 6");
    }
}
