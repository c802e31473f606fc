//! `koofill`: the operator's command.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

mod bench;
mod dev;
mod devkeys;
mod nats_child;
mod wait_for;

#[derive(Debug, Parser)]
#[command(name = "koofill", version, about = "Fulfilment backbone for Huawei Cloud KooGallery sellers")]
struct Cli {
    /// Configuration file (default: ./koofill.toml if present; also KOOFILL_CONFIG).
    #[arg(long, global = true, env = "KOOFILL_CONFIG")]
    config: Option<PathBuf>,
    /// Wait up to this many seconds for NATS (and the database) to accept connections first.
    #[arg(long, global = true, value_name = "SECS")]
    wait_for: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process with embedded defaults: a child nats-server, the ingress,
    /// the workers and the simulator's open APIs.
    Dev {
        /// Then play every purchase scenario through the simulator and print what happened.
        #[arg(long)]
        demo: bool,
    },
    /// The simulator: a fake KooGallery (open APIs, scenarios, conformance, load).
    Sim {
        #[command(subcommand)]
        cmd: koofill_simulator::SimCommand,
    },
    /// Run one service.
    Serve {
        /// The service.
        #[arg(value_enum)]
        service: Service,
    },
    /// Apply the database migrations, then exit.
    Migrate,
    /// Dead letters: list, show, redrive.
    Dlq {
        #[command(subcommand)]
        cmd: koofill_provisioning::cli::DlqCommand,
    },
    /// Instances as provisioning knows them.
    Instances {
        #[command(subcommand)]
        cmd: koofill_provisioning::cli::InstancesCommand,
    },
    /// Exit 0 when the URL answers 2xx (for container health checks); runs before config loads.
    Healthcheck {
        /// The URL, e.g. http://localhost:8080/healthz.
        url: String,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Service {
    /// The KooGallery-facing ingress.
    Ingress,
    /// The provisioning worker.
    Provisioning,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async_main(cli))
}

async fn async_main(cli: Cli) -> anyhow::Result<()> {
    if let Command::Healthcheck { url } = &cli.command {
        return healthcheck(url).await;
    }
    let mut cfg = koofill_config::load(cli.config.as_deref()).context("loading configuration")?;
    match cli.command {
        Command::Dev { demo } => dev::run(cfg, demo).await,
        Command::Sim { cmd } => {
            let _telemetry = koofill_telemetry::init(&cfg.telemetry, "koofill-sim").context("starting telemetry")?;
            let code = koofill_simulator::run(cmd, cfg).await?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Serve { service } => {
            let telemetry =
                koofill_telemetry::init(&cfg.telemetry, service_name(service)).context("starting telemetry")?;
            if let Some(secs) = cli.wait_for {
                wait_for::nats(&cfg.nats.url, std::time::Duration::from_secs(secs)).await?;
            }
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            let outcome = match service {
                Service::Ingress => koofill_ingress::run(cfg, shutdown).await.context("ingress"),
                Service::Provisioning => koofill_provisioning::run(cfg, shutdown).await.context("provisioning"),
            };
            telemetry.shutdown();
            outcome
        }
        Command::Bench { what } => {
            cfg.telemetry.log_filter = "warn".into();
            bench::run(what, cfg).await
        }
        Command::Migrate => {
            let _telemetry =
                koofill_telemetry::init(&cfg.telemetry, "koofill-migrate").context("starting telemetry")?;
            koofill_provisioning::cli::migrate_waiting(cfg, cli.wait_for.map(std::time::Duration::from_secs)).await
        }
        Command::Dlq { cmd } => koofill_provisioning::cli::run_dlq(cmd, cfg).await,
        Command::Instances { cmd } => koofill_provisioning::cli::run_instances(cmd, cfg).await,
        Command::Healthcheck { .. } => Ok(()),
    }
}

fn service_name(service: Service) -> &'static str {
    match service {
        Service::Ingress => koofill_ingress::SERVICE,
        Service::Provisioning => koofill_provisioning::SERVICE,
    }
}

async fn healthcheck(url: &str) -> anyhow::Result<()> {
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?
        .get(url)
        .send()
        .await
        .with_context(|| format!("requesting {url}"))?;
    anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
    Ok(())
}

/// Cancels `token` on Ctrl-C or SIGTERM.
pub(crate) async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
    token.cancel();
}
