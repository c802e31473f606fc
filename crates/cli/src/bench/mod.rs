//! `koofill bench …`: benchmarks that measure koofill side by side with a baseline in one run.

mod ingress;
mod load;
mod probe;

use koofill_config::Config;

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// The real ingress against a bare axum + HMAC + JetStream-publish probe, on the same NATS.
    Ingress(ingress::IngressBench),
}

/// Runs a benchmark.
///
/// # Errors
/// When a part cannot start.
pub async fn run(command: BenchCommand, cfg: Config) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingress(args) => ingress::run(args, cfg).await,
    }
}
