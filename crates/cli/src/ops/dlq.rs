//! `koofill dlq list|show|redrive`: the dead letters on `<prefix>.dlq.*`, read and redriven
//! through [`koofill_bus::dlq`].

use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD};
use clap::Subcommand;
use koofill_bus::{Publisher, dlq};

use super::{Target, table};

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

/// Runs `koofill dlq …`.
///
/// # Errors
/// When NATS cannot be reached or a dead letter cannot be read or redriven.
pub async fn run(cmd: DlqCommand, target: &Target) -> anyhow::Result<()> {
    let bus = target.bus().await?;
    match cmd {
        DlqCommand::List => {
            let letters = dlq::list(&bus).await.context("reading the dead-letter stream")?;
            let rows: Vec<Vec<String>> = letters
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        e.letter.consumer.clone(),
                        e.letter.subject.clone(),
                        e.letter.headers.get(dlq::MSG_ID).cloned().unwrap_or_default(),
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
            let entry = dlq::get(&bus, seq).await?.with_context(|| format!("no dead letter {seq}"))?;
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
            let publisher = Publisher::new(bus.js.clone(), target.cfg.nats.request_timeout());
            let seqs: Vec<u64> = if all {
                dlq::list(&bus).await.context("reading the dead-letter stream")?.into_iter().map(|e| e.seq).collect()
            } else {
                seq.into_iter().collect()
            };
            for seq in seqs {
                let r = dlq::redrive(&bus, &publisher, seq)
                    .await
                    .with_context(|| format!("redriving dead letter {seq}"))?;
                let note = if r.renamed { " (original id still in the dedup window; derived id used)" } else { "" };
                println!("redriven {} → {} as {}{note}", r.seq, r.subject, r.msg_id);
            }
        }
    }
    Ok(())
}

/// `s` cut to `max` characters, so one long error does not stretch the whole table.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_errors_are_cut_on_characters() {
        assert_eq!(super::truncate("short", 10), "short");
        assert_eq!(super::truncate("ééééé", 3), "ééé…");
    }
}
