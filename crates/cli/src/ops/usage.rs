//! `koofill usage windows|pushes|flush`: the metering ledger as tables, and a push of every window
//! that has ended, now. `windows` and `pushes` only read; `flush` goes through the metering
//! worker's own ledger (`koofill_metering::ledger::Ledger::flush`), so it closes and pushes exactly
//! as the worker's scheduler would, minus the grace period.

use anyhow::Context;
use clap::Subcommand;
use koofill_metering::ledger::{Ledger, State};
use koofill_model::usage::Quantity;
use koofill_store::entities::{usage_pushes, usage_windows};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Target, table};

/// Context of a failed read: the usual cause is a database nothing has migrated yet.
const READ_HINT: &str = "reading the metering ledger (a database without koofill's tables needs `koofill migrate`)";

/// `koofill usage …`.
#[derive(Debug, Clone, Subcommand)]
pub enum UsageCommand {
    /// List usage windows, most recent first, with their ledger state.
    Windows {
        /// Only this instance's windows.
        #[arg(long, value_name = "ID")]
        instance: Option<String>,
        /// Only windows in this state (open, closed, pushed, accepted, rejected, held, unbilled).
        #[arg(long, value_name = "S", value_parser = parse_state)]
        state: Option<State>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// List usage-push calls, most recent first.
    Pushes {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Close every window that has ended (no grace period) and push every closed window, now.
    Flush,
}

fn parse_state(text: &str) -> Result<State, String> {
    State::from_text(text).ok_or_else(|| {
        let all: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown state {text:?}; one of {}", all.join(", "))
    })
}

/// A timestamp to the second, or nothing.
fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
}

/// A stored total without its trailing zeros (`"12.50000000"` → `"12.5"`).
fn plain(total: &str) -> String {
    Quantity::parse(total).map_or_else(|_| total.to_owned(), Quantity::to_plain)
}

/// Runs `koofill usage …`.
///
/// # Errors
/// When the database cannot be read, or (`flush`) the push is not configured or some records
/// could not be pushed.
pub async fn run(cmd: UsageCommand, target: &Target) -> anyhow::Result<()> {
    let db = target.read_database().await?;
    match cmd {
        UsageCommand::Windows { instance, state, limit } => {
            let mut q = usage_windows::Entity::find()
                .order_by_desc(usage_windows::Column::WindowBegin)
                .order_by_asc(usage_windows::Column::InstanceId);
            if let Some(id) = instance {
                q = q.filter(usage_windows::Column::InstanceId.eq(id));
            }
            if let Some(s) = state {
                q = q.filter(usage_windows::Column::State.eq(s.as_str()));
            }
            let rows = q.limit(limit).all(&db).await.context(READ_HINT)?;
            print!("{}", windows_table(&rows));
            println!("{} window(s)", rows.len());
        }
        UsageCommand::Pushes { limit } => {
            let rows = usage_pushes::Entity::find()
                .order_by_desc(usage_pushes::Column::Id)
                .limit(limit)
                .all(&db)
                .await
                .context(READ_HINT)?;
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|p| {
                    vec![
                        p.id.to_string(),
                        time(Some(p.at)),
                        p.records.to_string(),
                        p.outcome.clone(),
                        p.error_code.clone().unwrap_or_default(),
                        p.detail.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print!("{}", table::render(&["#", "AT (UTC)", "RECORDS", "OUTCOME", "CODE", "DETAIL"], &cells));
            println!("{} push call(s)", rows.len());
        }
        UsageCommand::Flush => flush(db, target).await?,
    }
    Ok(())
}

fn windows_table(rows: &[usage_windows::Model]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|w| {
            vec![
                w.instance_id.clone(),
                time(Some(w.window_begin)),
                time(Some(w.window_end)),
                w.state.clone(),
                w.reason.clone().unwrap_or_default(),
                w.events.to_string(),
                plain(&w.total),
                w.usage_value.clone().unwrap_or_default(),
                w.push_attempts.to_string(),
                time(w.pushed_at),
                w.metering_sn.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table::render(
        &[
            "INSTANCE",
            "BEGIN (UTC)",
            "END (UTC)",
            "STATE",
            "REASON",
            "EVENTS",
            "TOTAL",
            "PUSHED VALUE",
            "PUSHES",
            "PUSHED AT (UTC)",
            "METERING SN",
        ],
        &cells,
    )
}

/// `koofill usage flush`: with a running `koofill dev` and no configured `koogallery.basic_key`,
/// the development key it generated signs the push (to its simulator).
async fn flush(db: sea_orm::DatabaseConnection, target: &Target) -> anyhow::Result<()> {
    let mut cfg = target.cfg.clone();
    let missing =
        cfg.koogallery.basic_key.as_ref().is_none_or(|k| koofill_config::ExposeSecret::expose_secret(k).is_empty());
    if missing && target.dev.is_some() && crate::devkeys::path(&cfg.dev.state_dir).exists() {
        let keys = crate::devkeys::load_or_create(&cfg.dev.state_dir)?;
        cfg.koogallery.basic_key = Some(koofill_config::SecretString::from(keys.basic_key));
    }
    let ledger = Ledger::for_operators(db, &cfg).context("preparing the usage push")?;
    let report = ledger.flush().await.context("flushing the metering ledger")?;
    println!(
        "closed {}, held {} (instance not known yet), unbilled {}, pushed {} record(s), failed {}",
        report.closed, report.held, report.unbilled, report.pushed, report.failed
    );
    anyhow::ensure!(
        report.failed == 0,
        "{} record(s) could not be pushed; they stay closed for the next round (`koofill usage pushes` shows why)",
        report.failed
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_and_unknown_ones_list_the_choices() {
        assert_eq!(parse_state("pushed"), Ok(State::Pushed));
        let err = parse_state("done").unwrap_err();
        assert!(err.contains("open, closed, pushed, accepted, rejected, held, unbilled"), "{err}");
        assert_eq!(plain("12.50000000"), "12.5");
    }

    #[test]
    fn windows_render_as_a_table() {
        let at = chrono::DateTime::parse_from_rfc3339("2025-01-31T13:00:00Z").unwrap().to_utc();
        let w = usage_windows::Model {
            instance_id: "i-1".into(),
            window_begin: at,
            window_end: at + chrono::Duration::hours(1),
            cycle: "hourly".into(),
            total: "3.75000000".into(),
            events: 3,
            state: "pushed".into(),
            reason: None,
            metering_sn: Some("sn-1".into()),
            record_begin: Some(at),
            record_end: None,
            record_time: None,
            usage_value: Some("3.75".into()),
            push_attempts: 1,
            last_push_at: None,
            pushed_at: Some(at),
            verdict_at: None,
            version: 2,
            created_at: at,
            updated_at: at,
        };
        let text = windows_table(&[w]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("INSTANCE  BEGIN (UTC)"), "{text}");
        assert!(lines[2].contains("2025-01-31 13:00:00  2025-01-31 14:00:00  pushed"), "{text}");
        assert!(lines[2].contains("3.75") && lines[2].ends_with("sn-1"), "{text}");
    }
}
