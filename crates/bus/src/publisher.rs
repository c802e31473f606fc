//! The one way koofill publishes to JetStream.

use std::time::Duration;

use async_nats::{HeaderMap, header, jetstream};
use koofill_model::Envelope;
use serde::Serialize;

use crate::BusError;

/// Delays between publish attempts after a failure: brief, because the caller (the ingress) has a
/// 5-second answer budget, and the same message id makes every retry safe.
const RETRY_DELAYS_MS: [u64; 3] = [10, 20, 40];

/// The header carrying a [`Publisher::publish_once`] call's token, so that a duplicate can be
/// told apart from the call's own earlier attempt.
pub const CLAIM_HEADER: &str = "Koofill-Claim";

/// What [`Publisher::publish_once`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Once {
    /// This call stored the message.
    Stored,
    /// Another call stored a message under the same key within the duplicate window.
    Replayed,
}

/// The `Nats-Msg-Id` under which the ingress publishes a request: its channel (`basic`, `kit`)
/// and a hash of its nonce (nonces are arbitrary strings; header values are not).
pub fn replay_key(channel: &str, nonce: &str) -> String {
    format!("replay:{channel}:{}", nonce_digest(nonce))
}

/// The hex SHA-256 of a nonce: what both replay guards (the publish's message id and the nonce
/// bucket's key) are keyed on.
pub(crate) fn nonce_digest(nonce: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(nonce.as_bytes()))
}

/// A publish JetStream confirmed, and whether an attempt before it failed.
struct Confirmed {
    ack: jetstream::publish::PublishAck,
    after_failure: bool,
}

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
        headers: HeaderMap,
        payload: bytes::Bytes,
    ) -> Result<jetstream::publish::PublishAck, BusError> {
        let stored = self.store(subject, msg_id, headers, payload).await?;
        if stored.ack.duplicate {
            tracing::debug!(msg_id, stream = %stored.ack.stream, seq = stored.ack.sequence, "already stored");
        }
        Ok(stored.ack)
    }

    /// Publishes `env` on `subject` under `Nats-Msg-Id = once_key` and reports whether this call
    /// stored it or the stream already held a message under that key.
    ///
    /// This is how the ingress refuses replays without a write of its own: the key is derived
    /// from the request's nonce ([`replay_key`]), and the stream's duplicate window (at least
    /// twice the timestamp window) remembers every key for as long as a replay could pass the
    /// timestamp check. A `duplicate` answer to the first attempt is a replay. After a failed
    /// attempt it is ambiguous: that attempt may have been held by the network and landed
    /// first, so the stored message's claim token (a header) is read back and compared.
    ///
    /// # Errors
    /// As [`Publisher::publish`]; also when an ambiguous duplicate cannot be read back.
    pub async fn publish_once<T: Serialize>(
        &self,
        subject: &str,
        env: &Envelope<T>,
        once_key: &str,
    ) -> Result<Once, BusError> {
        let payload = serde_json::to_vec(env).map_err(|source| BusError::Encode { what: "envelope", source })?;
        let token = hex::encode(rand::random::<[u8; 12]>());
        let mut headers = HeaderMap::new();
        headers.insert(CLAIM_HEADER, token.as_str());
        let stored = self.store(subject, once_key, headers, payload.into()).await?;
        if !stored.ack.duplicate {
            return Ok(Once::Stored);
        }
        if !stored.after_failure {
            return Ok(Once::Replayed);
        }
        let holder = self
            .js
            .get_stream_no_info(&stored.ack.stream)
            .await
            .map_err(|e| BusError::js("read back an ambiguous duplicate", e))?
            .get_raw_message(stored.ack.sequence)
            .await
            .map_err(|e| BusError::js("read back an ambiguous duplicate", e))?;
        let ours = holder.headers.get(CLAIM_HEADER).map(|v| v.as_str()) == Some(token.as_str());
        Ok(if ours { Once::Stored } else { Once::Replayed })
    }

    /// Sends until JetStream confirms (or the deadline passes); says whether an attempt failed
    /// before the one confirmed, since a failed attempt may still have been stored.
    async fn store(
        &self,
        subject: &str,
        msg_id: &str,
        mut headers: HeaderMap,
        payload: bytes::Bytes,
    ) -> Result<Confirmed, BusError> {
        headers.insert(header::NATS_MESSAGE_ID, msg_id);
        koofill_telemetry::nats::inject(&mut headers);
        let attempt_all = async {
            let mut last = None;
            for delay in std::iter::once(0).chain(RETRY_DELAYS_MS) {
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                match self.try_once(subject, headers.clone(), payload.clone()).await {
                    Ok(ack) => return Ok(Confirmed { ack, after_failure: last.is_some() }),
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
        tokio::time::timeout(self.timeout, attempt_all).await.map_err(|_| BusError::Timeout {
            operation: format!("publish to {subject}"),
            millis: self.timeout.as_millis(),
        })?
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
