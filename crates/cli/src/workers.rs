//! The workers, registered once: `koofill serve <name>` runs one of them, `koofill dev` all of
//! them. A new worker is one more entry in [`WORKERS`].

use std::time::Duration;

use anyhow::Context;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use futures::future::BoxFuture;
use koofill_config::Config;
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

/// Runs a worker until `shutdown` fires, connecting to NATS and the database itself.
pub type RunFn = fn(Config, CancellationToken) -> BoxFuture<'static, anyhow::Result<()>>;

/// One worker.
#[derive(Debug)]
pub struct Worker {
    /// Its name on the command line (`koofill serve provisioning`).
    pub name: &'static str,
    /// Its telemetry service name.
    pub service: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// Its entry point.
    pub run: RunFn,
}

/// Every worker, in the order `koofill dev` starts them.
pub const WORKERS: &[Worker] = &[
    Worker {
        name: "provisioning",
        service: koofill_provisioning::SERVICE,
        about: "The provisioning worker: instances, orders and the Kit directory",
        run: |cfg, shutdown| {
            Box::pin(async move { koofill_provisioning::run(cfg, shutdown).await.context("provisioning") })
        },
    },
    Worker {
        name: "supervision",
        service: koofill_supervision::SERVICE,
        about: "The supervision worker: supervised orders tracked to acceptance, with their deadlines",
        run: |cfg, shutdown| {
            Box::pin(async move { koofill_supervision::run(cfg, shutdown).await.context("supervision") })
        },
    },
    Worker {
        name: "notification",
        service: koofill_notification::SERVICE,
        about: "The notification worker: every event to the seller's email, webhooks, WeCom, DingTalk, Feishu and Slack",
        run: |cfg, shutdown| {
            Box::pin(async move { koofill_notification::run(cfg, shutdown).await.context("notification") })
        },
    },
    Worker {
        name: "license",
        service: koofill_license::SERVICE,
        about: "The license worker: License 2.0 codes and the activation proxy's answers",
        run: |cfg, shutdown| Box::pin(async move { koofill_license::run(cfg, shutdown).await.context("license") }),
    },
    Worker {
        name: "sso",
        service: koofill_sso::SERVICE,
        about: "The single sign-on broker: 联营 users signed in through KooGallery, the product handed a signed assertion",
        run: |cfg, shutdown| Box::pin(async move { koofill_sso::run(cfg, shutdown).await.context("sso") }),
    },
    Worker {
        name: "metering",
        service: koofill_metering::SERVICE,
        about: "The metering worker: pay-per-use usage counted once per event and pushed to KooGallery each billing window",
        run: |cfg, shutdown| Box::pin(async move { koofill_metering::run(cfg, shutdown).await.context("metering") }),
    },
];

/// What `koofill serve` runs: the ingress, which is not a worker (it answers KooGallery over
/// HTTP and consumes nothing), or one of [`WORKERS`].
#[derive(Debug, Clone, Copy)]
pub enum Service {
    /// The KooGallery-facing ingress.
    Ingress,
    /// A worker.
    Worker(&'static Worker),
}

/// The command-line name of the ingress.
const INGRESS: &str = "ingress";

impl Service {
    /// Its telemetry service name.
    pub fn service_name(self) -> &'static str {
        match self {
            Self::Ingress => koofill_ingress::SERVICE,
            Self::Worker(worker) => worker.service,
        }
    }

    /// Parses `ingress` or a worker's name, listing every choice in `--help` and errors.
    pub fn parser() -> impl TypedValueParser<Value = Service> {
        let ingress = PossibleValue::new(INGRESS).help("The KooGallery-facing ingress");
        let workers = WORKERS.iter().map(|w| PossibleValue::new(w.name).help(w.about));
        PossibleValuesParser::new(std::iter::once(ingress).chain(workers))
            .map(|name| WORKERS.iter().find(|w| w.name == name).map_or(Service::Ingress, Service::Worker))
    }
}

/// What a worker task ends with: its name and outcome.
type Exit = (&'static str, anyhow::Result<()>);

/// Every worker of [`WORKERS`] in a task of its own, as `koofill dev` runs them.
#[derive(Debug)]
pub struct Running {
    tasks: JoinSet<Exit>,
}

impl Running {
    /// Starts every worker with `cfg` until `shutdown` fires; a worker named in `listen` serves
    /// its HTTP routes on that address instead of `worker.listen` (the SSO broker in `koofill
    /// dev`, whose address browsers must know in advance).
    pub fn start(cfg: &Config, shutdown: &CancellationToken, listen: &[(&str, std::net::SocketAddr)]) -> Self {
        let mut tasks = JoinSet::new();
        for worker in WORKERS {
            let mut cfg = cfg.clone();
            if let Some((_, addr)) = listen.iter().find(|(name, _)| *name == worker.name) {
                cfg.worker.listen = *addr;
            }
            let running = (worker.run)(cfg, shutdown.clone());
            tasks.spawn(async move { (worker.name, running.await) });
        }
        Self { tasks }
    }

    /// Waits for the first worker to end, logs why and returns its name; `None` when none runs.
    /// Nothing asked it to stop, so even a clean return counts as a failure.
    pub async fn first_exit(&mut self) -> Option<&'static str> {
        let joined = self.tasks.join_next().await?;
        Some(report(joined, true))
    }

    /// Waits up to `grace` for every worker to end after shutdown fired, then aborts the rest.
    pub async fn stop(mut self, grace: Duration) {
        let drained = tokio::time::timeout(grace, async {
            while let Some(joined) = self.tasks.join_next().await {
                report(joined, false);
            }
        });
        if drained.await.is_err() {
            tracing::warn!("workers did not stop within the grace period");
            self.tasks.abort_all();
        }
    }
}

/// Logs how a worker task ended (a clean return is logged only when `early`); returns the
/// worker's name, or "a worker" when its task panicked.
fn report(joined: Result<Exit, JoinError>, early: bool) -> &'static str {
    match joined {
        Ok((name, Err(e))) => {
            tracing::error!(worker = name, error = &*e as &dyn std::error::Error, "worker stopped with an error");
            name
        }
        Ok((name, Ok(()))) => {
            if early {
                tracing::error!(worker = name, "worker stopped before it was asked to");
            }
            name
        }
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "worker task failed");
            "a worker"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_not_the_ingress() {
        let mut names: Vec<&str> = WORKERS.iter().map(|w| w.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WORKERS.len());
        assert!(!names.contains(&INGRESS));
    }
}
