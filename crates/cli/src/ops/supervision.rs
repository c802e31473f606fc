//! `koofill supervision …`: the supervision cases, and the steps KooGallery has no API for. Every
//! command goes through the supervision worker's library (`koofill_supervision::Supervision`),
//! as the admin API does; the events a step emits are published by the running worker's relay.

use anyhow::Context;
use clap::Subcommand;
use koofill_config::CalendarSpan;
use koofill_supervision::{
    StepInput, Supervision,
    state::{Action, CaseState},
};

use super::{Target, table};

/// `koofill supervision …`.
#[derive(Debug, Clone, Subcommand)]
pub enum SupervisionCommand {
    /// List cases with their next deadline.
    List {
        /// Only cases in this state (awaiting_requirement, requirement_confirmed, requirement_rejected,
        /// delivering, delivered, accepted, completed, appealed, closed).
        #[arg(long)]
        state: Option<CaseState>,
        /// Only cases with a deadline due within this span (`7d`, `12 hours`, `1 month`).
        #[arg(long, value_name = "SPAN")]
        due_within: Option<CalendarSpan>,
    },
    /// Show one case (its number or order line ID) with its steps, deadlines and reminders.
    Show {
        /// The case number or order line ID.
        case: String,
    },
    /// The orders supervision keeps from settlement, and since when.
    Settlement,
    /// The seller confirmed the requirement.
    Confirm(StepArgs),
    /// The seller rejected the requirement, or the buyer rejected the delivery.
    Reject(StepArgs),
    /// The seller started delivering.
    Deliver(StepArgs),
    /// The seller reported the service completed (from delivering), or the order shows 已完成 (from accepted).
    Complete(StepArgs),
    /// The buyer accepted the delivery.
    Accept(StepArgs),
    /// Someone appealed: every timer of the case stops.
    Appeal(StepArgs),
    /// The appeal was resolved: the case returns where it was and its timers resume.
    Resolve(StepArgs),
}

/// What every step takes.
#[derive(Debug, Clone, clap::Args)]
pub struct StepArgs {
    /// The case number or order line ID.
    case: String,
    /// A note for the record.
    #[arg(long)]
    note: Option<String>,
    /// Reference to the evidence (the delivery proof's file name or URL).
    #[arg(long)]
    evidence: Option<String>,
    /// 服务实际开通时间 (RFC 3339, e.g. 2025-01-12T09:00:00+08:00), with deliver or complete.
    #[arg(long, value_name = "TIME")]
    actual_start: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Who acts (default: the login name).
    #[arg(long)]
    actor: Option<String>,
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.with_timezone(&koofill_supervision::calendar::beijing()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Runs `koofill supervision …`.
///
/// # Errors
/// When the database cannot be read or written, the case is unknown, or its state refuses the step.
pub async fn run(cmd: SupervisionCommand, target: &Target) -> anyhow::Result<()> {
    let db = target.read_database().await?;
    let supervision = Supervision::for_operators(db, &target.cfg)?;
    let step = |action: Action, args: StepArgs| (action, args);
    let (action, args) = match cmd {
        SupervisionCommand::List { state, due_within } => return list(&supervision, state, due_within).await,
        SupervisionCommand::Show { case } => return show(&supervision, &case).await,
        SupervisionCommand::Settlement => return settlement(&supervision).await,
        SupervisionCommand::Confirm(a) => step(Action::Confirm, a),
        SupervisionCommand::Reject(a) => step(Action::Reject, a),
        SupervisionCommand::Deliver(a) => step(Action::Deliver, a),
        SupervisionCommand::Complete(a) => step(Action::Complete, a),
        SupervisionCommand::Accept(a) => step(Action::Accept, a),
        SupervisionCommand::Appeal(a) => step(Action::Appeal, a),
        SupervisionCommand::Resolve(a) => step(Action::Resolve, a),
    };
    let login = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "operator".into());
    let input = StepInput {
        actor: format!("cli:{}", args.actor.unwrap_or(login)),
        note: args.note,
        evidence: args.evidence,
        actual_start: args.actual_start.map(|t| t.to_utc()),
    };
    let request = format!("cli:{}", uuid::Uuid::new_v4());
    let case = supervision.act(&args.case, action, input, &request).await?;
    println!("case {} ({} / {}): {}", case.id, case.order_id, case.order_line_id, case.state);
    Ok(())
}

async fn list(s: &Supervision, state: Option<CaseState>, due: Option<CalendarSpan>) -> anyhow::Result<()> {
    let rows = s.list(state, due).await.context("reading supervision cases (run `koofill migrate` first?)")?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|c| {
            let next = c.next_deadline.as_ref();
            vec![
                c.id.to_string(),
                c.order_id.clone(),
                c.order_line_id.clone(),
                c.goods.clone(),
                c.state.clone(),
                next.map(|d| d.kind.clone()).unwrap_or_default(),
                time(next.map(|d| d.due_at)),
                time(Some(c.paid_at)),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["CASE", "ORDER", "LINE", "GOODS", "STATE", "NEXT DEADLINE", "DUE (UTC+8)", "PAID (UTC+8)"],
            &cells
        )
    );
    Ok(())
}

async fn show(s: &Supervision, case: &str) -> anyhow::Result<()> {
    let detail = s.show(case).await?;
    let c = &detail.case;
    println!(
        "case {}: order {} line {} ({}{})",
        c.id,
        c.order_id,
        c.order_line_id,
        c.goods,
        if c.test { ", debug" } else { "" }
    );
    println!(
        "state: {}{}",
        c.state,
        c.state_before_appeal.as_deref().map(|s| format!(" (from {s})")).unwrap_or_default()
    );
    println!("paid: {}  service start: {}  rejections: {}", time(Some(c.paid_at)), time(c.actual_start), c.rejections);
    println!("\nsteps:");
    let steps: Vec<Vec<String>> = detail
        .steps
        .iter()
        .map(|st| {
            vec![
                st.seq.to_string(),
                time(Some(st.at)),
                st.action.clone(),
                format!("{} → {}", st.from, st.to),
                st.actor.clone(),
                st.note.clone().unwrap_or_default(),
                st.evidence.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!("{}", table::render(&["#", "AT (UTC+8)", "ACTION", "STATES", "ACTOR", "NOTE", "EVIDENCE"], &steps));
    println!("\ndeadlines:");
    let deadlines: Vec<Vec<String>> = detail
        .deadlines
        .iter()
        .map(|d| {
            let status = match (d.met_at, d.breached_at, d.paused_at) {
                (Some(at), _, _) => format!("met {}", time(Some(at))),
                (None, Some(at), _) => format!("BREACHED {}", time(Some(at))),
                (None, None, Some(_)) => "frozen (appealed)".to_owned(),
                _ => "running".to_owned(),
            };
            vec![d.kind.clone(), time(Some(d.due_at)), status, d.cycle.to_string()]
        })
        .collect();
    print!("{}", table::render(&["KIND", "DUE (UTC+8)", "STATUS", "CYCLE"], &deadlines));
    if !detail.reminders.is_empty() {
        println!("\nreminders:");
        let reminders: Vec<Vec<String>> =
            detail.reminders.iter().map(|r| vec![r.kind.clone(), r.before.clone(), time(Some(r.sent_at))]).collect();
        print!("{}", table::render(&["KIND", "BEFORE", "SENT (UTC+8)"], &reminders));
    }
    Ok(())
}

async fn settlement(s: &Supervision) -> anyhow::Result<()> {
    let rows = s.settlement().await.context("reading supervision cases (run `koofill migrate` first?)")?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.order_id.clone(),
                r.order_line_id.clone(),
                r.case_id.to_string(),
                r.state.clone(),
                time(Some(r.blocked_since)),
                r.days_waiting.to_string(),
                r.amount.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!("{}", table::render(&["ORDER", "LINE", "CASE", "STATE", "BLOCKED SINCE (UTC+8)", "DAYS", "AMOUNT"], &cells));
    Ok(())
}
