//! `koofill sim …`: the subcommands the `koofill` binary mounts, and [`run`], which executes one
//! and returns the process exit code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use koofill_config::Config;
use koofill_signing::client_secret::ClientSecretKey;
use secrecy::ExposeSecret;

use crate::conformance::{ConformanceOptions, conformance};
use crate::load::{LoadActivity, LoadOptions, load};
use crate::registry::{Registry, RemoteSimulator};
use crate::scenario::{LicenseProxy, ScenarioName, ScenarioOptions, UsageProbe, run_all, run_scenario};
use crate::{SimConfig, SimKeys, Simulator};

/// The simulator's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SimCommand {
    /// Serve the simulated KooGallery open APIs (query order, usage push, license) until Ctrl-C.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// Keys (default: configuration, then development keys).
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Run the seller console's debug cases against a production address; exit 0 only if all pass.
    Conformance {
        /// The production address.
        #[command(flatten)]
        target: TargetArgs,
        /// Keys (default: configuration, then development keys).
        #[command(flatten)]
        keys: KeyArgs,
        /// Rounds of all cases, each in a new random order.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Seed of the case order (printed with the report, to repeat a run).
        #[arg(long)]
        seed: Option<u64>,
        /// The debug order every round creates.
        #[arg(long, default_value = "MOCKPERIODYEARNEW")]
        order_id: String,
        /// Speak the retired V1 dialect (`authToken`), for products listed before V2; the target
        /// needs `koogallery.v1_enabled`.
        #[arg(long)]
        v1: bool,
    },
    /// Send signed callbacks at a fixed rate (open loop) and report throughput and latency.
    Load {
        /// The production address.
        #[command(flatten)]
        target: TargetArgs,
        /// Keys (default: configuration, then development keys).
        #[command(flatten)]
        keys: KeyArgs,
        /// Requests per second.
        #[arg(long, default_value_t = 100)]
        rate: u64,
        /// How long to send: `10s`, `500ms`, `2m`, or seconds.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        duration: Duration,
        /// Most requests in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Which callbacks to send.
        #[arg(long, value_enum, default_value_t = LoadActivity::NewInstance)]
        activity: LoadActivity,
    },
    /// Play a purchase scenario (or `all`) against a production address.
    Scenario {
        /// The scenario: period, one-time, on-demand, on-demand-package, trial-to-formal, renewal,
        /// unsubscribe, upgrade, kit-binding, license, or all.
        #[arg(default_value = "all", value_parser = parse_selection)]
        name: Selection,
        /// The production address.
        #[command(flatten)]
        target: TargetArgs,
        /// Keys (default: configuration, then development keys).
        #[command(flatten)]
        keys: KeyArgs,
        /// Base URL of the simulator the target's `koogallery.api_base` points at; scenario orders
        /// are registered there (default: `koogallery.api_base` when it is plain HTTP on
        /// loopback). Without one the scenarios use the spec's mock order IDs.
        #[arg(long)]
        sim: Option<String>,
        /// Fail, rather than warn, when an instance is not ready by the deadline.
        #[arg(long)]
        require_ready: bool,
        /// How long to poll queryInstance for readiness.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        ready_deadline: Duration,
        /// Seed of the random choices.
        #[arg(long)]
        seed: Option<u64>,
        /// koofill's license activation proxy (e.g. http://127.0.0.1:8080), where the License 2.0
        /// scenario activates its code and checks each callback's effect; the bearer token is
        /// `license.api_token`. Default: the production address's origin when that token is set.
        #[arg(long)]
        license_proxy: Option<String>,
        /// koofill's usage ingestion (e.g. http://127.0.0.1:8080), where the on-demand scenario
        /// reports usage before it waits for the metering worker's push to the marketplace; the
        /// bearer token is `metering.api_token`. Default: the production address's origin when
        /// that token is set.
        #[arg(long)]
        usage_api: Option<String>,
        /// How long the on-demand scenario waits for the metering worker to push its usage (at
        /// least one `metering.tick_secs` round).
        #[arg(long, default_value = "45s", value_parser = parse_duration)]
        push_deadline: Duration,
    },
}

/// The production address to test.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Production address, e.g. http://127.0.0.1:8080/kg/produce (default: the configured
    /// ingress listen address and base path).
    #[arg(long)]
    pub target: Option<String>,
}

/// Keys, when not taken from the configuration or the development keys.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyArgs {
    /// Key bound to the basic interfaces.
    #[arg(long)]
    pub basic_key: Option<String>,
    /// Key bound to the Kit sync interfaces.
    #[arg(long)]
    pub kit_key: Option<String>,
    /// AK for the open APIs.
    #[arg(long)]
    pub access_key_id: Option<String>,
    /// SK for the open APIs.
    #[arg(long)]
    pub secret_access_key: Option<String>,
    /// The seller's RSA public key (PEM file) for applicationSync's clientSecret (default: derived
    /// from `koogallery.client_secret_private_key` when configured).
    #[arg(long)]
    pub public_key: Option<PathBuf>,
}

/// `all`, or one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Every scenario.
    All,
    /// One scenario.
    One(ScenarioName),
}

fn parse_selection(s: &str) -> Result<Selection, String> {
    if s == "all" {
        return Ok(Selection::All);
    }
    ScenarioName::ALL.into_iter().find(|n| n.as_str() == s).map(Selection::One).ok_or_else(|| {
        let names: Vec<&str> = ScenarioName::ALL.iter().map(|n| n.as_str()).collect();
        format!("unknown scenario {s:?}; one of: all, {}", names.join(", "))
    })
}

/// Parses `10s`, `500ms`, `2m`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("{s:?} is not a duration like 10s or 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{s:?} is not a valid duration"))
}

impl KeyArgs {
    /// Options over configuration over development keys.
    fn resolve(&self, cfg: &Config) -> anyhow::Result<SimKeys> {
        let mut keys = match &self.basic_key {
            Some(basic) => {
                let mut keys = SimKeys::from_config(cfg).unwrap_or_else(|_| SimKeys::new(basic.clone()));
                keys.basic_key = basic.clone();
                keys
            }
            None => SimKeys::from_config(cfg)?,
        };
        if let Some(kit) = &self.kit_key {
            keys.kit_key = Some(kit.clone());
        }
        if let Some(ak) = &self.access_key_id {
            keys.access_key_id = Some(ak.clone());
        }
        if let Some(sk) = &self.secret_access_key {
            keys.secret_access_key = Some(sk.clone());
        }
        Ok(keys)
    }

    fn public_key(&self, cfg: &Config) -> anyhow::Result<Option<String>> {
        if let Some(path) = &self.public_key {
            let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            return Ok(Some(pem));
        }
        let Some(private) = &cfg.koogallery.client_secret_private_key else { return Ok(None) };
        let key = ClientSecretKey::from_text(private.expose_secret())
            .context("koogallery.client_secret_private_key is not a usable RSA key")?;
        Ok(Some(key.public_key_pem().context("deriving the public key")?))
    }
}

impl TargetArgs {
    /// The given target, or the configured ingress on loopback.
    fn resolve(&self, cfg: &Config) -> String {
        self.target.clone().unwrap_or_else(|| {
            let listen = cfg.ingress.listen;
            let ip = if listen.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { listen.ip() };
            format!("http://{}{}", SocketAddr::new(ip, listen.port()), cfg.ingress.base_path)
        })
    }
}

/// Runs a subcommand and returns the process exit code: 0 when everything passed.
///
/// # Errors
/// When the run cannot start: no keys, a bad URL, an address that cannot be bound.
pub async fn run(cmd: SimCommand, cfg: Config) -> anyhow::Result<i32> {
    match cmd {
        SimCommand::Serve { listen, keys } => serve(listen, &keys.resolve(&cfg)?).await,
        SimCommand::Conformance { target, keys, rounds, seed, order_id, v1 } => {
            let options = ConformanceOptions {
                rounds,
                v1,
                seed: seed.unwrap_or_else(rand::random),
                order_id,
                client_secret_public_key_pem: keys.public_key(&cfg)?,
                ..ConformanceOptions::default()
            };
            let report = conformance(&target.resolve(&cfg), &keys.resolve(&cfg)?, &options).await?;
            println!("{report}");
            Ok(report.exit_code())
        }
        SimCommand::Load { target, keys, rate, duration, concurrency, activity } => {
            let options = LoadOptions { rate, duration, concurrency, activity };
            let report = load(&target.resolve(&cfg), &keys.resolve(&cfg)?, &options).await?;
            println!("{report}");
            Ok(i32::from(report.errors() > 0))
        }
        SimCommand::Scenario {
            name,
            target,
            keys,
            sim,
            require_ready,
            ready_deadline,
            seed,
            license_proxy,
            usage_api,
            push_deadline,
        } => {
            let resolved = keys.resolve(&cfg)?;
            let target = target.resolve(&cfg);
            let license_proxy = match (&cfg.license.api_token, license_proxy) {
                (Some(token), Some(url)) => Some(LicenseProxy::for_target(&url, token.expose_secret())),
                (Some(token), None) => Some(LicenseProxy::for_target(&target, token.expose_secret())),
                (None, Some(_)) => {
                    anyhow::bail!("--license-proxy needs license.api_token (KOOFILL__LICENSE__API_TOKEN)")
                }
                (None, None) => None,
            };
            let usage = match (&cfg.metering.api_token, usage_api) {
                (Some(token), url) => {
                    let mut probe = UsageProbe::for_target(url.as_deref().unwrap_or(&target), token.expose_secret());
                    probe.push_deadline = push_deadline;
                    Some(probe)
                }
                (None, Some(_)) => anyhow::bail!("--usage-api needs metering.api_token (KOOFILL__METERING__API_TOKEN)"),
                (None, None) => None,
            };
            let options = ScenarioOptions {
                require_ready,
                ready_deadline,
                seed: seed.unwrap_or_else(rand::random),
                client_secret_public_key_pem: keys.public_key(&cfg)?,
                license_proxy,
                usage,
                ..ScenarioOptions::default()
            };
            let registry = match sim.or_else(|| local_api_base(&cfg)) {
                None => {
                    eprintln!("no --sim given: the scenarios use the spec's mock order IDs");
                    Registry::Off
                }
                Some(url) => {
                    let (ak, sk) = resolved.access_key().context("--sim needs the AK/SK (koogallery.access_key_id)")?;
                    Registry::Remote(RemoteSimulator::new(&url, ak, sk)?)
                }
            };
            println!("seed {} (repeat with --seed {})", options.seed, options.seed);
            let reports = match name {
                Selection::All => run_all(&target, &resolved, &registry, &options).await?,
                Selection::One(one) => vec![run_scenario(one, &target, &resolved, &registry, &options).await?],
            };
            for report in &reports {
                println!("{report}");
            }
            Ok(i32::from(!reports.iter().all(|r| r.passed())))
        }
    }
}

/// `koogallery.api_base` when it points at a simulator on this machine (plain HTTP on loopback), so
/// that scenarios register their orders where the target will look them up.
fn local_api_base(cfg: &Config) -> Option<String> {
    let url = reqwest::Url::parse(&cfg.koogallery.api_base).ok()?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    (url.scheme() == "http" && loopback).then(|| cfg.koogallery.api_base.clone())
}

async fn serve(listen: SocketAddr, keys: &SimKeys) -> anyhow::Result<i32> {
    let (ak, _) =
        keys.access_key().context("serving the open APIs needs koogallery.access_key_id and secret_access_key")?;
    let sim = Simulator::start(SimConfig::for_keys(keys).with_listen(listen)).await?;
    eprintln!("KooGallery simulator listening on {}", sim.base_url());
    eprintln!("  point koofill at it:  KOOFILL__KOOGALLERY__API_BASE={}", sim.base_url());
    eprintln!("  accepted AK:          {ak}");
    eprintln!("  mock orders:          MOCKPERIODYEARNEW and the other spec debug orders");
    eprintln!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::{Parser, Subcommand};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        sim: SimCommand,
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn the_command_line_parses() {
        let cli =
            Cli::parse_from(["sim", "conformance", "--target", "http://x/kg/produce", "--rounds", "2", "--seed", "9"]);
        assert!(matches!(cli.sim, SimCommand::Conformance { rounds: 2, seed: Some(9), .. }));
        let cli = Cli::parse_from(["sim", "scenario", "kit-binding", "--require-ready"]);
        assert!(matches!(
            cli.sim,
            SimCommand::Scenario { name: Selection::One(ScenarioName::KitBinding), require_ready: true, .. }
        ));
        let cli = Cli::parse_from(["sim", "load", "--rate", "200", "--duration", "2s", "--concurrency", "8"]);
        assert!(matches!(cli.sim, SimCommand::Load { rate: 200, concurrency: 8, .. }));
        assert!(Cli::try_parse_from(["sim", "scenario", "nope"]).is_err());
        SimCommand::augment_subcommands(clap::Command::new("sim")).debug_assert();
    }
}
