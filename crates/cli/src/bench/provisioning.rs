//! `koofill bench provisioning`: new orders per second from the inbound callback to the instance
//! being active, with the template provisioner and a signed query-order stand-in.

use anyhow::Context;
use koofill_config::Config;
use secrecy::SecretString;

use crate::nats_child::NatsChild;

/// Options of the provisioning benchmark.
#[derive(Debug, clap::Args)]
pub struct ProvisioningBench {
    /// Orders to create.
    #[arg(long, default_value_t = 5000)]
    orders: usize,
    /// Database to use (PostgreSQL in production); default: `database.url`.
    #[arg(long)]
    database_url: Option<String>,
    /// Use this NATS instead of a child nats-server.
    #[arg(long)]
    nats_url: Option<String>,
}

/// Runs the benchmark and prints the report.
///
/// # Errors
/// When a part cannot start.
pub async fn run(args: ProvisioningBench, mut cfg: Config) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("koofill-bench-prov-{}", std::process::id()));
    let child = match &args.nats_url {
        Some(url) => {
            cfg.nats.url = url.clone();
            None
        }
        None => {
            let c = NatsChild::start(&dir).await?;
            cfg.nats.url = c.url();
            Some(c)
        }
    };
    if let Some(url) = args.database_url {
        cfg.database.url = url;
    } else if cfg.database.url.starts_with("sqlite://koofill.db") {
        cfg.database.url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    }
    let (ak, sk) = ("BENCHAK", "bench-sk");
    let stand_in =
        koofill_provisioning::stand_in::QueryOrderStandIn::start(ak, sk).await.context("query-order stand-in")?;
    cfg.koogallery.api_base = stand_in.base_url();
    cfg.koogallery.api_fallback_base = stand_in.base_url();
    cfg.koogallery.access_key_id = Some(ak.to_owned());
    cfg.koogallery.secret_access_key = Some(SecretString::from(sk.to_owned()));
    cfg.koogallery.basic_key = Some(SecretString::from("bench-basic-key".to_owned()));
    eprintln!("creating {} orders on {}…", args.orders, cfg.database.url.split('?').next().unwrap_or_default());
    let report = koofill_provisioning::bench::bench_new_orders(&cfg, args.orders).await?;
    println!("{report}");
    if let Some(c) = child {
        c.stop().await;
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
