//! The one way koofill publishes to JetStream.

use std::time::Duration;

use async_nats::{HeaderMap, header, jetstream};
use koofill_model::Envelope;
use serde::Serialize;

use crate::BusError;

/// Delays between publish attempts after a failure: brief, because the caller (the ingress) has a
/// 5-second answer budget, and the same message id makes every retry safe.
const RETRY_DELAYS_MS: [u64; 3] = [10, 20, 40];

/// Publishes envelopes and waits for JetStream to store them.
#[derive(Debug, Clone)]
pub struct Publisher {
    js: jetstream::Context,
    timeout: Duration,
}

impl Publisher {
    /// A publisher whose every call (retries included) gives up after `timeout`.
    pub fn new(js: jetstream::Context, timeout: Duration) -> Self {
        Self { js, timeout }
    }

    /// Publishes `env` on `subject` with `Nats-Msg-Id = env.id` and the current trace context,
    /// and returns once JetStream has stored it (or already had it: `duplicate: true`).
    ///
    /// # Errors
    /// [`BusError::Encode`] if the envelope cannot be serialised; [`BusError::NotAcked`] or
    /// [`BusError::Timeout`] when JetStream did not confirm in time.
    pub async fn publish<T: Serialize>(
        &self,
        subject: &str,
        env: &Envelope<T>,
    ) -> Result<jetstream::publish::PublishAck, BusError> {
        let payload = serde_json::to_vec(env).map_err(|source| BusError::Encode { what: "envelope", source })?;
        self.publish_raw(subject, &env.id, HeaderMap::new(), payload.into()).await
    }

    /// Publishes bytes with the given dedup id and extra headers (used by dead-lettering and
    /// replays, which carry payloads that are not envelopes).
    ///
    /// # Errors
    /// As [`Publisher::publish`].
    pub async fn publish_raw(
        &self,
        subject: &str,
        msg_id: &str,
        mut headers: HeaderMap,
        payload: bytes::Bytes,
    ) -> Result<jetstream::publish::PublishAck, BusError> {
        headers.insert(header::NATS_MESSAGE_ID, msg_id);
        koofill_telemetry::nats::inject(&mut headers);
        let attempt_all = async {
            let mut last = None;
            for delay in std::iter::once(0).chain(RETRY_DELAYS_MS) {
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                match self.try_once(subject, headers.clone(), payload.clone()).await {
                    Ok(ack) => return Ok(ack),
                    Err(e) => {
                        tracing::debug!(error = &*e as &dyn std::error::Error, subject, "publish attempt failed");
                        last = Some(e);
                    }
                }
            }
            Err(BusError::NotAcked {
                subject: subject.to_owned(),
                source: last.unwrap_or_else(|| "no attempt made".into()),
            })
        };
        let ack = tokio::time::timeout(self.timeout, attempt_all).await.map_err(|_| BusError::Timeout {
            operation: format!("publish to {subject}"),
            millis: self.timeout.as_millis(),
        })??;
        if ack.duplicate {
            tracing::debug!(msg_id, stream = %ack.stream, seq = ack.sequence, "already stored");
        }
        Ok(ack)
    }

    async fn try_once(
        &self,
        subject: &str,
        headers: HeaderMap,
        payload: bytes::Bytes,
    ) -> Result<jetstream::publish::PublishAck, async_nats::Error> {
        let sent = self.js.publish_with_headers(subject.to_owned(), headers, payload).await?; // sent
        Ok(sent.await?) // stored
    }
}
