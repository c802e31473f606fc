//! `koofill bench …`: benchmarks that measure koofill side by side with a baseline in one run.

mod cpu;
mod ingress;
mod load;
mod metering;
mod probe;
mod provisioning;

use koofill_config::Config;

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// The real ingress against a bare axum + HMAC + JetStream-publish probe, on the same NATS.
    Ingress(ingress::IngressBench),
    /// New orders per second end to end (callback → instance active), template provisioner.
    Provisioning(provisioning::ProvisioningBench),
    /// Usage events aggregated per second by the metering worker, next to a bare JetStream consume.
    Metering(metering::MeteringBench),
    /// One phase of `bench ingress --external`'s load, from a process of its own.
    #[command(hide = true)]
    Generate(ingress::GenerateArgs),
}

/// Runs a benchmark.
///
/// # Errors
/// When a part cannot start.
pub async fn run(command: BenchCommand, cfg: Config) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingress(args) => ingress::run(args, cfg).await,
        BenchCommand::Provisioning(args) => provisioning::run(args, cfg).await,
        BenchCommand::Metering(args) => metering::run(args, cfg).await,
        BenchCommand::Generate(args) => ingress::generate(args).await,
    }
}
