//! Reading and redriving the dead letters on `<PREFIX>_DLQ`, for every worker's operators.
//!
//! The consumer runner writes a [`DeadLetter`] per message it gave up on; this module reads them
//! back by their sequence in the dead-letter stream and publishes them again.
//!
//! A redrive publishes the original payload to the original subject with its original
//! `Nats-Msg-Id`. Inside the stream's deduplication window that publish is dropped as a duplicate
//! (the original is still remembered), so the redrive then publishes once more with
//! `{original id}:redrive:{dead-letter sequence}`; the consumers' inboxes are keyed by the
//! envelope id inside the payload, so either way the message takes effect at most once. A
//! redriven dead letter is deleted from the dead-letter stream, so redriving every letter twice
//! does not send any of them twice.

use async_nats::HeaderMap;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};

use crate::{Bus, BusError, Publisher, consumer::DeadLetter, names};

/// The dedup header as dead letters record it (the runner writes header names as sent).
pub const MSG_ID: &str = "Nats-Msg-Id";

/// A dead letter with its sequence in the dead-letter stream.
#[derive(Debug, Clone)]
pub struct DeadLetterEntry {
    /// Sequence in `<PREFIX>_DLQ`: how operators name a dead letter.
    pub seq: u64,
    /// The record.
    pub letter: DeadLetter,
}

/// What a redrive did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveReport {
    /// The dead letter's sequence.
    pub seq: u64,
    /// The subject published to.
    pub subject: String,
    /// The `Nats-Msg-Id` it was stored under.
    pub msg_id: String,
    /// Whether the original id was still in the deduplication window, so a derived one was used.
    pub renamed: bool,
}

async fn dlq_stream(bus: &Bus) -> Result<Stream, BusError> {
    let name = names::stream(&bus.prefix, names::DLQ);
    bus.js.get_stream(&name).await.map_err(|e| BusError::js(format!("get stream {name}"), e))
}

/// Every dead letter, oldest first.
///
/// # Errors
/// [`BusError`] when the stream cannot be read or holds a record that is not a dead letter.
pub async fn list(bus: &Bus) -> Result<Vec<DeadLetterEntry>, BusError> {
    let mut stream = dlq_stream(bus).await?;
    let state = stream.info().await.map_err(|e| BusError::js("stream info", e))?.state.clone();
    let mut out = Vec::new();
    if state.messages == 0 {
        return Ok(out);
    }
    // Redriven letters leave gaps between the first and last sequence; `read` skips them.
    for seq in state.first_sequence..=state.last_sequence {
        if let Some(entry) = read(&stream, seq).await? {
            out.push(entry);
        }
    }
    Ok(out)
}

/// The dead letter at `seq`, or `None` when there is none (never written, or already redriven).
///
/// # Errors
/// [`BusError`] when the stream cannot be read or the record is not a dead letter.
pub async fn get(bus: &Bus, seq: u64) -> Result<Option<DeadLetterEntry>, BusError> {
    read(&dlq_stream(bus).await?, seq).await
}

async fn read(stream: &Stream, seq: u64) -> Result<Option<DeadLetterEntry>, BusError> {
    let message = match stream.get_raw_message(seq).await {
        Ok(message) => message,
        // Only "no such message" means absent; a timeout must not read as an empty queue.
        Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => return Ok(None),
        Err(e) => return Err(BusError::js(format!("read dead letter {seq}"), e)),
    };
    let letter: DeadLetter = serde_json::from_slice(&message.payload).map_err(|source| BusError::Decode {
        subject: message.subject.to_string(),
        expected: "DeadLetter",
        source,
    })?;
    Ok(Some(DeadLetterEntry { seq, letter }))
}

/// Publishes the dead letter at `seq` again and deletes it from the dead-letter stream.
///
/// # Errors
/// [`BusError`] when it does not exist or cannot be read, published or deleted; nothing is
/// deleted unless the publish was stored.
pub async fn redrive(bus: &Bus, publisher: &Publisher, seq: u64) -> Result<RedriveReport, BusError> {
    let stream = dlq_stream(bus).await?;
    let letter = read(&stream, seq)
        .await?
        .ok_or_else(|| BusError::js(format!("read dead letter {seq}"), "no such dead letter"))?
        .letter;
    let original_id = letter
        .headers
        .get(MSG_ID)
        .cloned()
        .unwrap_or_else(|| format!("redrive:{}:{}", letter.stream, letter.stream_sequence));
    let mut headers = HeaderMap::new();
    for (k, v) in &letter.headers {
        // The publisher sets the id itself; a second copy of the header would be ambiguous.
        if !k.eq_ignore_ascii_case(MSG_ID) {
            headers.insert(k.as_str(), v.as_str());
        }
    }
    let payload = bytes::Bytes::from(
        letter.payload().map_err(|e| BusError::js(format!("dead letter {seq} has a damaged payload"), e))?,
    );
    let ack = publisher.publish_raw(&letter.subject, &original_id, headers.clone(), payload.clone()).await?;
    let (msg_id, renamed) = if ack.duplicate {
        let renamed = format!("{original_id}:redrive:{seq}");
        publisher.publish_raw(&letter.subject, &renamed, headers, payload).await?;
        (renamed, true)
    } else {
        (original_id, false)
    };
    stream.delete_message(seq).await.map_err(|e| BusError::js(format!("delete dead letter {seq}"), e))?;
    Ok(RedriveReport { seq, subject: letter.subject, msg_id, renamed })
}
