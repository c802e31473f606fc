//! `koofill instances list|show`: the instances in the database, as a table. Read only: the
//! database is opened without creating it (see [`super::database`]).

use anyhow::Context;
use clap::Subcommand;
use koofill_store::entities::{instance_transitions, instances, provisioner_calls};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Target, table};

/// Context of a failed read: the usual cause is a database nothing has migrated yet.
const READ_HINT: &str = "reading instances (a database without koofill's tables needs `koofill migrate`)";

/// `koofill instances …`.
#[derive(Debug, Clone, Subcommand)]
pub enum InstancesCommand {
    /// List instances, most recently changed first.
    List {
        /// Only instances in this state (accepted, provisioning, active, frozen, released, failed).
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Show one instance with its transitions and provisioner calls.
    Show {
        /// The instance ID.
        id: String,
    },
}

/// A timestamp to the minute, or nothing.
fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// Runs `koofill instances …`.
///
/// # Errors
/// When the database cannot be read, or the instance is unknown.
pub async fn run(cmd: InstancesCommand, target: &Target) -> anyhow::Result<()> {
    let db = target.read_database().await?;
    match cmd {
        InstancesCommand::List { state, limit } => {
            let mut q = instances::Entity::find().order_by_desc(instances::Column::UpdatedAt);
            if let Some(s) = state {
                q = q.filter(instances::Column::State.eq(s));
            }
            let rows = q.limit(limit).all(&db).await.context(READ_HINT)?;
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.instance_id.clone(),
                        r.state.to_string(),
                        r.order_id.clone().unwrap_or_default(),
                        r.charging_mode.clone().unwrap_or_default(),
                        r.sku_code.clone().unwrap_or_default(),
                        time(r.expire_time),
                        if r.test { "debug".into() } else { String::new() },
                        time(Some(r.updated_at)),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &["INSTANCE", "STATE", "ORDER", "CHARGING", "SKU", "EXPIRES (UTC)", "", "UPDATED (UTC)"],
                    &cells
                )
            );
            println!("{} instance(s)", rows.len());
        }
        InstancesCommand::Show { id } => {
            let r = instances::Entity::find_by_id(id.clone())
                .one(&db)
                .await
                .context(READ_HINT)?
                .with_context(|| format!("no instance {id}"))?;
            let field = |k: &str, v: String| println!("{k:<16}{v}");
            field("instance", r.instance_id.clone());
            field("state", r.state.to_string());
            field("debug", r.test.to_string());
            field("order", format!("{} / {}", r.order_id.unwrap_or_default(), r.order_line_id.unwrap_or_default()));
            field("customer", r.customer_id.unwrap_or_default());
            field("charging", r.charging_mode.unwrap_or_default());
            field("product", format!("{} (sku {})", r.product_id.unwrap_or_default(), r.sku_code.unwrap_or_default()));
            field("quantity", r.linear_value.unwrap_or_default());
            field("expires", time(r.expire_time));
            field("front end", r.front_end_url.unwrap_or_default());
            field("admin", r.admin_url.unwrap_or_default());
            field("credentials", if r.password_enc.is_some() { "stored (encrypted)".into() } else { "none".into() });
            if r.released_before_create {
                field("note", "released before its create was processed".into());
            }
            if let Some(reason) = r.failure_reason {
                field("failure", reason);
            }
            let transitions = instance_transitions::Entity::find()
                .filter(instance_transitions::Column::InstanceId.eq(&id))
                .order_by_asc(instance_transitions::Column::Id)
                .all(&db)
                .await
                .context("reading transitions")?;
            println!("\ntransitions:");
            let rows: Vec<Vec<String>> = transitions
                .iter()
                .map(|t| {
                    vec![
                        t.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        t.step.clone(),
                        format!("{} → {}", t.from_state, t.to_state),
                        t.order_id.clone().unwrap_or_default(),
                        t.scene.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print!("{}", table::render(&["AT (UTC)", "STEP", "STATE", "ORDER", "SCENE"], &rows));
            let calls = provisioner_calls::Entity::find()
                .filter(provisioner_calls::Column::InstanceId.eq(&id))
                .order_by_asc(provisioner_calls::Column::Id)
                .all(&db)
                .await
                .context("reading provisioner calls")?;
            if !calls.is_empty() {
                println!("\nprovisioner calls:");
                let rows: Vec<Vec<String>> = calls
                    .iter()
                    .map(|c| {
                        vec![
                            c.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            c.step.clone(),
                            c.attempt.to_string(),
                            c.outcome.clone(),
                            c.status_code.map(|s| s.to_string()).unwrap_or_default(),
                            format!("{} ms", c.duration_ms),
                        ]
                    })
                    .collect();
                print!("{}", table::render(&["AT (UTC)", "STEP", "ATTEMPT", "OUTCOME", "HTTP", "TOOK"], &rows));
            }
        }
    }
    Ok(())
}
