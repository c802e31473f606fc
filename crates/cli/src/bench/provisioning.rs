//! `koofill bench provisioning`: new orders per second from the inbound callback to the instance
//! being active, with the template provisioner and a signed query-order stand-in.

use anyhow::Context;
use koofill_config::Config;
use secrecy::SecretString;

use crate::nats_child;

/// Options of the provisioning benchmark.
#[derive(Debug, clap::Args)]
pub struct ProvisioningBench {
    /// Orders to create.
    #[arg(long, default_value_t = 5000)]
    orders: usize,
    /// Database to use, e.g. an empty PostgreSQL database; default: a temporary SQLite file.
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
    let child = nats_child::given_or_child(args.nats_url.as_deref(), &dir, &mut cfg).await?;
    // Never the configured database or prefix: a benchmark must not join a live deployment's
    // consumers or write into its tables.
    cfg.database.url = match args.database_url {
        Some(url) => url,
        None => format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
    };
    cfg.nats.prefix = format!("benchprov{:06x}", rand::random::<u32>() & 0xFF_FFFF);
    let (ak, sk) = ("BENCHAK", "bench-sk");
    let stand_in =
        koofill_provisioning::stand_in::QueryOrderStandIn::start(ak, sk).await.context("query-order stand-in")?;
    cfg.koogallery.api_base = stand_in.base_url();
    cfg.koogallery.api_fallback_base = stand_in.base_url();
    cfg.koogallery.access_key_id = Some(ak.to_owned());
    cfg.koogallery.secret_access_key = Some(SecretString::from(sk.to_owned()));
    cfg.koogallery.basic_key = Some(SecretString::from("bench-basic-key".to_owned()));
    eprintln!("creating {} orders on {}…", args.orders, koofill_config::redact_url(&cfg.database.url));
    let report = koofill_provisioning::bench::bench_new_orders(&cfg, args.orders).await?;
    println!("{report}");
    if let Some(c) = child {
        c.stop().await;
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
