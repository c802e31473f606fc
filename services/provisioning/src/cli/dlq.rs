//! `koofill dlq list|show|redrive`: the dead letters on `<prefix>.dlq.*`.
//!
//! A redrive publishes the original payload to the original subject with its original
//! `Nats-Msg-Id`. Inside the stream's deduplication window that publish is dropped as a
//! duplicate (the original is still remembered), so the redrive then publishes once more with
//! `{original id}:redrive:{dead-letter sequence}`; the consumers' inboxes are keyed by the
//! envelope id inside the payload, so either way the message takes effect at most once. A
//! redriven dead letter is deleted from the dead-letter stream, so `redrive --all` does not send
//! it twice.

use anyhow::Context;
use async_nats::HeaderMap;
use base64::{Engine, engine::general_purpose::STANDARD};
use clap::Subcommand;
use koofill_bus::{Bus, BusError, Publisher, consumer::DeadLetter, names};
use koofill_config::Config;

use super::{connect_bus, table};

/// The dedup header as dead letters record it (the runner writes header names as sent).
const MSG_ID: &str = "Nats-Msg-Id";

/// `koofill dlq …`.
#[derive(Debug, Clone, Subcommand)]
pub enum DlqCommand {
    /// List the dead letters of every consumer.
    List,
    /// Show one dead letter, with its error, headers and payload.
    Show {
        /// Its sequence in the dead-letter stream (from `list`).
        seq: u64,
    },
    /// Publish dead letters again to their original subjects.
    Redrive {
        /// The dead letter's sequence (from `list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        seq: Option<u64>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

/// A dead letter with its sequence in the dead-letter stream.
#[derive(Debug, Clone)]
pub struct DeadLetterEntry {
    /// Sequence in `<PREFIX>_DLQ`.
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

/// Every dead letter, oldest first.
///
/// # Errors
/// [`BusError`] when the stream cannot be read.
pub async fn list_dead_letters(bus: &Bus) -> Result<Vec<DeadLetterEntry>, BusError> {
    let name = names::stream(&bus.prefix, names::DLQ);
    let mut stream = bus
        .js
        .get_stream(&name)
        .await
        .map_err(|e| BusError::JetStream { operation: format!("get stream {name}"), source: e.into() })?;
    let state = stream
        .info()
        .await
        .map_err(|e| BusError::JetStream { operation: "stream info".into(), source: e.into() })?
        .state
        .clone();
    let mut out = Vec::new();
    if state.messages == 0 {
        return Ok(out);
    }
    for seq in state.first_sequence..=state.last_sequence {
        if let Some(entry) = dead_letter(bus, seq).await? {
            out.push(entry);
        }
    }
    Ok(out)
}

/// The dead letter at `seq`, if there is one.
///
/// # Errors
/// [`BusError`] when the stream cannot be read or the record is not a dead letter.
pub async fn dead_letter(bus: &Bus, seq: u64) -> Result<Option<DeadLetterEntry>, BusError> {
    let name = names::stream(&bus.prefix, names::DLQ);
    let stream = bus
        .js
        .get_stream(&name)
        .await
        .map_err(|e| BusError::JetStream { operation: format!("get stream {name}"), source: e.into() })?;
    // Deleted (redriven) or never written: both read as "no such message".
    let Ok(message) = stream.get_raw_message(seq).await else { return Ok(None) };
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
/// [`BusError`] when it cannot be read, published or deleted; nothing is deleted unless the
/// publish was stored.
pub async fn redrive(bus: &Bus, publisher: &Publisher, seq: u64) -> Result<RedriveReport, BusError> {
    let entry = dead_letter(bus, seq).await?.ok_or_else(|| BusError::JetStream {
        operation: format!("read dead letter {seq}"),
        source: "no such dead letter".into(),
    })?;
    let letter = entry.letter;
    let original_id = letter
        .headers
        .get(MSG_ID)
        .cloned()
        .unwrap_or_else(|| format!("redrive:{}:{}", letter.stream, letter.stream_sequence));
    let mut headers = HeaderMap::new();
    for (k, v) in &letter.headers {
        if !k.eq_ignore_ascii_case(MSG_ID) {
            headers.insert(k.as_str(), v.as_str());
        }
    }
    let payload = bytes::Bytes::from(letter.payload().map_err(|_| BusError::Drift(format!("dead letter {} has a damaged payload", letter.msg_id())))?);
    let ack = publisher.publish_raw(&letter.subject, &original_id, headers.clone(), payload.clone()).await?;
    let (msg_id, renamed) = if ack.duplicate {
        let renamed = format!("{original_id}:redrive:{seq}");
        publisher.publish_raw(&letter.subject, &renamed, headers, payload).await?;
        (renamed, true)
    } else {
        (original_id, false)
    };
    let name = names::stream(&bus.prefix, names::DLQ);
    let stream = bus
        .js
        .get_stream(&name)
        .await
        .map_err(|e| BusError::JetStream { operation: format!("get stream {name}"), source: e.into() })?;
    stream
        .delete_message(seq)
        .await
        .map_err(|e| BusError::JetStream { operation: format!("delete dead letter {seq}"), source: e.into() })?;
    Ok(RedriveReport { seq, subject: letter.subject, msg_id, renamed })
}

/// Runs `koofill dlq …`.
///
/// # Errors
/// When NATS cannot be reached or a dead letter cannot be read or redriven.
pub async fn run_dlq(cmd: DlqCommand, cfg: Config) -> anyhow::Result<()> {
    let bus = connect_bus(&cfg).await?;
    match cmd {
        DlqCommand::List => {
            let letters = list_dead_letters(&bus).await.context("reading the dead-letter stream")?;
            let rows: Vec<Vec<String>> = letters
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        e.letter.consumer.clone(),
                        e.letter.subject.clone(),
                        e.letter.headers.get(MSG_ID).cloned().unwrap_or_default(),
                        e.letter.delivered.to_string(),
                        e.letter.failed_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        truncate(&e.letter.error, 60),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["SEQ", "CONSUMER", "SUBJECT", "MSG ID", "TRIES", "FAILED AT (UTC)", "ERROR"], &rows)
            );
            println!("{} dead letter(s)", letters.len());
        }
        DlqCommand::Show { seq } => {
            let entry = dead_letter(&bus, seq).await?.with_context(|| format!("no dead letter {seq}"))?;
            let l = &entry.letter;
            println!("seq:        {}", entry.seq);
            println!("consumer:   {}", l.consumer);
            println!("subject:    {}", l.subject);
            println!("stream seq: {} ({})", l.stream_sequence, l.stream);
            println!("delivered:  {} time(s)", l.delivered);
            println!("retryable:  {}", l.retryable);
            println!("failed at:  {}", l.failed_at);
            println!("error:      {}", l.error);
            for (k, v) in &l.headers {
                println!("header:     {k}: {v}");
            }
            let payload = l.payload().unwrap_or_else(|_| l.payload_base64.clone().into_bytes());
            match serde_json::from_slice::<serde_json::Value>(&payload) {
                Ok(v) => println!("payload:\n{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
                Err(_) => println!("payload (base64): {}", STANDARD.encode(&payload)),
            }
        }
        DlqCommand::Redrive { seq, all } => {
            let publisher = Publisher::new(bus.js.clone(), cfg.nats.request_timeout());
            let seqs: Vec<u64> = if all {
                list_dead_letters(&bus).await?.into_iter().map(|e| e.seq).collect()
            } else {
                seq.into_iter().collect()
            };
            for seq in seqs {
                let r = redrive(&bus, &publisher, seq).await.with_context(|| format!("redriving dead letter {seq}"))?;
                let note = if r.renamed { " (original id still in the dedup window; derived id used)" } else { "" };
                println!("redriven {} → {} as {}{note}", r.seq, r.subject, r.msg_id);
            }
        }
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}
