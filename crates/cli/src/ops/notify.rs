//! `koofill notify test CHANNEL` and `koofill notify deliveries [--event ID] [--failed]`: try a
//! notification channel, and see what the notification worker delivered.

use anyhow::{Context, bail};
use clap::Subcommand;
use koofill_notification::{
    channels::{Channel, Outcome, sample},
    dev_catch_all, repo,
};

use super::{Target, table};

/// Context of a failed read: the usual cause is a database nothing has migrated yet.
const READ_HINT: &str = "reading notification deliveries (a database without koofill's tables needs `koofill migrate`)";

/// `koofill notify …`.
#[derive(Debug, Clone, Subcommand)]
pub enum NotifyCommand {
    /// Send a sample message through a configured channel and show the provider's answer.
    Test {
        /// The channel id (a key of `notification.channels`).
        channel: String,
    },
    /// Deliveries, newest first, with their attempts when one event is asked for.
    Deliveries {
        /// Only the deliveries of this event (envelope id).
        #[arg(long)]
        event: Option<String>,
        /// Only deliveries that failed for good (permanent answer or retries used up).
        #[arg(long)]
        failed: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
}

/// A timestamp to the second, or nothing.
fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
}

/// Runs `koofill notify …`.
///
/// # Errors
/// When the channel is unknown or the sample was not delivered; when the database cannot be read.
pub async fn run(cmd: NotifyCommand, target: &Target) -> anyhow::Result<()> {
    match cmd {
        NotifyCommand::Test { channel } => test(&channel, target).await,
        NotifyCommand::Deliveries { event, failed, limit } => deliveries(event.as_deref(), failed, limit, target).await,
    }
}

async fn test(id: &str, target: &Target) -> anyhow::Result<()> {
    let mut cfg = target.cfg.notification.clone();
    if target.dev.is_some() {
        // What `koofill dev` runs with when nothing is configured.
        dev_catch_all(&mut cfg, &target.cfg.dev.state_dir);
    }
    let Some(channel_cfg) = cfg.channels.get(id) else {
        let known: Vec<&str> = cfg.channels.keys().map(String::as_str).collect();
        bail!(
            "no channel {id:?} in notification.channels (configured: {})",
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        );
    };
    let channel = Channel::build(id, channel_cfg, cfg.send_timeout())?;
    let msg = sample(channel_cfg.language.unwrap_or(cfg.language));
    println!("sending a sample ({}) through {id} …", msg.delivery_id);
    let outcome = channel.send(&msg).await;
    let (status, answer, error) = match &outcome {
        Outcome::Delivered { status, answer } => (*status, answer.as_str(), ""),
        Outcome::Retry { status, answer, error, .. } | Outcome::Failed { status, answer, error } => {
            (*status, answer.as_str(), error.as_str())
        }
    };
    println!("outcome   {}", outcome.label());
    if let Some(s) = status {
        println!("status    {s}");
    }
    if !answer.is_empty() {
        println!("answer    {answer}");
    }
    if !error.is_empty() {
        println!("error     {error}");
    }
    match outcome {
        Outcome::Delivered { .. } => Ok(()),
        _ => bail!("the sample was not delivered"),
    }
}

async fn deliveries(event: Option<&str>, failed: bool, limit: u64, target: &Target) -> anyhow::Result<()> {
    let db = target.read_database().await?;
    let rows = repo::list(&db, event, failed, limit).await.context(READ_HINT)?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.event_id.clone(),
                r.event_type.clone(),
                r.channel_id.clone(),
                r.state.clone(),
                r.attempts.to_string(),
                match r.state.as_str() {
                    repo::DELIVERED => time(r.delivered_at),
                    repo::PENDING => format!("next {}", time(Some(r.next_attempt_at))),
                    _ => time(Some(r.updated_at)),
                },
                r.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["DELIVERY", "EVENT", "TYPE", "CHANNEL", "STATE", "ATTEMPTS", "WHEN (UTC)", "LAST ERROR"],
            &cells
        )
    );
    println!("{} deliver{}", rows.len(), if rows.len() == 1 { "y" } else { "ies" });
    if event.is_some() {
        for r in &rows {
            let attempts = repo::attempts_of(&db, &r.id).await.context(READ_HINT)?;
            println!("\n{} → {}", r.id, r.channel_id);
            let cells: Vec<Vec<String>> = attempts
                .iter()
                .map(|a| {
                    vec![
                        a.attempt.to_string(),
                        time(Some(a.at)),
                        a.outcome.clone(),
                        a.status_code.map(|s| s.to_string()).unwrap_or_default(),
                        format!("{} ms", a.duration_ms),
                        a.error.clone().or_else(|| a.provider_answer.clone()).unwrap_or_default(),
                    ]
                })
                .collect();
            print!("{}", table::render(&["#", "AT (UTC)", "OUTCOME", "STATUS", "TOOK", "ANSWER / ERROR"], &cells));
        }
    }
    Ok(())
}
