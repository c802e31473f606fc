//! `koofill`: the operator's command.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use koofill_config::Config;
use tokio_util::sync::CancellationToken;

use crate::workers::Service;

/// mimalloc instead of the system allocator: a callback allocates a few dozen small buffers (query,
/// JSON, envelope, answer), and in a profile of `koofill bench ingress` glibc's malloc and free
/// took a sixth of the ingress's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod chaos;
mod dev;
mod devkeys;
mod devstate;
mod nats_child;
mod ops;
mod wait_for;
mod workers;

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
        #[arg(value_parser = Service::parser())]
        service: Service,
    },
    /// Apply the database migrations, then exit.
    Migrate,
    /// Dead letters: list, show, redrive.
    Dlq {
        #[command(subcommand)]
        cmd: ops::dlq::DlqCommand,
    },
    /// Instances as provisioning knows them.
    Instances {
        #[command(subcommand)]
        cmd: ops::instances::InstancesCommand,
    },
    /// License 2.0 codes as the license worker keeps them.
    Licenses {
        #[command(subcommand)]
        cmd: ops::license::LicensesCommand,
    },
    /// Status token keys: write a key pair, verify a token.
    License {
        #[command(subcommand)]
        cmd: ops::license::LicenseCommand,
    },
    /// Notifications: send a sample through a channel, list deliveries.
    Notify {
        #[command(subcommand)]
        cmd: ops::notify::NotifyCommand,
    },
    /// Service supervision cases: list, show, settlement, and the steps operators record.
    Supervision {
        #[command(subcommand)]
        cmd: ops::supervision::SupervisionCommand,
    },
    /// Pay-per-use usage: windows, push calls, and a flush of every ended window.
    Usage {
        #[command(subcommand)]
        cmd: ops::usage::UsageCommand,
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
    /// The fault suite: real processes, faults mid-load, and a count of what was lost or doubled.
    Chaos(chaos::ChaosArgs),
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
        Command::Dev { demo } => {
            let configured = koofill_config::configured_keys(cli.config.as_deref()).context("loading configuration")?;
            dev::run(cfg, &configured, demo).await
        }
        Command::Sim { cmd } => {
            let cfg = sim_config(operator_target(cfg, cli.config.as_deref())?.cfg)?;
            let _telemetry = koofill_telemetry::init(&cfg.telemetry, "koofill-sim").context("starting telemetry")?;
            let code = koofill_simulator::run(cmd, cfg).await?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Serve { service } => {
            let telemetry =
                koofill_telemetry::init(&cfg.telemetry, service.service_name()).context("starting telemetry")?;
            if let Some(secs) = cli.wait_for {
                wait_for::nats(&cfg.nats.url, std::time::Duration::from_secs(secs)).await?;
                // Workers also wait for the database (the host reads it from here).
                cfg.worker.wait_for_secs = secs;
            }
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            let outcome = match service {
                Service::Ingress => koofill_ingress::run(cfg, shutdown).await.context("ingress"),
                Service::Worker(worker) => (worker.run)(cfg, shutdown).await,
            };
            telemetry.shutdown();
            outcome
        }
        Command::Bench { what } => {
            cfg.telemetry.log_filter = "warn".into();
            bench::run(what, cfg).await
        }
        Command::Chaos(args) => {
            cfg.telemetry.log_filter = "warn".into();
            let _telemetry = koofill_telemetry::init(&cfg.telemetry, "koofill-chaos").context("starting telemetry")?;
            chaos::run(args).await
        }
        Command::Migrate => {
            let _telemetry =
                koofill_telemetry::init(&cfg.telemetry, "koofill-migrate").context("starting telemetry")?;
            let target = operator_target(cfg, cli.config.as_deref())?;
            ops::migrate::run(&target, cli.wait_for.map(std::time::Duration::from_secs)).await
        }
        Command::Dlq { cmd } => ops::dlq::run(cmd, &operator_target(cfg, cli.config.as_deref())?).await,
        Command::Instances { cmd } => ops::instances::run(cmd, &operator_target(cfg, cli.config.as_deref())?).await,
        Command::Licenses { cmd } => {
            ops::license::run_licenses(cmd, &operator_target(cfg, cli.config.as_deref())?).await
        }
        Command::License { cmd } => match ops::license::run_license(cmd)? {
            0 => Ok(()),
            code => std::process::exit(code),
        },
        Command::Notify { cmd } => ops::notify::run(cmd, &operator_target(cfg, cli.config.as_deref())?).await,
        Command::Supervision { cmd } => ops::supervision::run(cmd, &operator_target(cfg, cli.config.as_deref())?).await,
        Command::Usage { cmd } => ops::usage::run(cmd, &operator_target(cfg, cli.config.as_deref())?).await,
        Command::Healthcheck { .. } => Ok(()),
    }
}

/// `cfg` pointed at what a `koofill dev` in this folder runs, where not configured otherwise
/// (`explicit` is `--config`, as given to [`koofill_config::load`]).
fn operator_target(mut cfg: Config, explicit: Option<&Path>) -> anyhow::Result<ops::Target> {
    let configured = koofill_config::configured_keys(explicit).context("loading configuration")?;
    let dev = devstate::follow(&mut cfg, &configured)?;
    Ok(ops::Target { cfg, dev })
}

/// `koofill sim` also uses the development RSA key `koofill dev` generated, when none is
/// configured, so conformance and scenarios can send applicationSync with an encrypted secret
/// instead of skipping it.
fn sim_config(mut cfg: Config) -> anyhow::Result<Config> {
    if cfg.koogallery.client_secret_private_key.is_none() {
        cfg.koogallery.client_secret_private_key =
            devkeys::existing_client_secret_key(&cfg.dev.state_dir)?.map(koofill_config::SecretString::from);
    }
    Ok(cfg)
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

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_parses() {
        Cli::command().debug_assert();
        let cli = Cli::parse_from(["koofill", "serve", "provisioning"]);
        assert!(matches!(cli.command, Command::Serve { service: Service::Worker(w) } if w.name == "provisioning"));
        let cli = Cli::parse_from(["koofill", "serve", "ingress"]);
        assert!(matches!(cli.command, Command::Serve { service: Service::Ingress }));
        assert!(Cli::try_parse_from(["koofill", "serve", "nope"]).is_err());
    }
}
