//! `koofill dev`: the whole system in one process with embedded defaults.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use koofill_config::{Config, ConfiguredKeys};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::devstate::{DatabaseState, DevState, IngressState, NatsState, SimulatorState};
use crate::workers::{Running, WORKERS};
use crate::{devkeys, devstate, nats_child::NatsChild, wait_for};

/// The metering round under `--demo`, at most (seconds).
const DEMO_METERING_TICK_SECS: u64 = 2;

/// Runs until Ctrl-C. `configured` tells which keys someone set: those are used as given, the
/// others are replaced by what `koofill dev` starts itself.
///
/// # Errors
/// When a part cannot start, or a worker stops on its own.
pub async fn run(mut cfg: Config, configured: &ConfiguredKeys, demo: bool) -> anyhow::Result<()> {
    let telemetry = koofill_telemetry::init(&cfg.telemetry, "koofill-dev").context("starting telemetry")?;
    // Listen for Ctrl-C / SIGTERM from the very start, so a stop during start-up still takes the
    // child nats-server down with us instead of orphaning it on the store directory.
    let shutdown = CancellationToken::new();
    tokio::spawn(crate::cancel_on_signal(shutdown.clone()));
    if demo {
        // The demo's on-demand scenario waits for a metering round to push its usage: keep the
        // wait short. A round closes only windows that have ended, so rounds are cheap.
        cfg.metering.tick_secs = cfg.metering.tick_secs.min(DEMO_METERING_TICK_SECS);
    }
    let state_dir = PathBuf::from(&cfg.dev.state_dir);
    std::fs::create_dir_all(&state_dir).with_context(|| format!("creating {}", state_dir.display()))?;

    let keys = devkeys::load_or_create(&state_dir)?;
    let mut generated = Vec::new();
    let kg = &mut cfg.koogallery;
    if kg.basic_key.is_none() {
        kg.basic_key = Some(SecretString::from(keys.basic_key.clone()));
        generated.push(format!("basic_key         {}", keys.basic_key));
    }
    if kg.kit_key.is_none() {
        kg.kit_key = Some(SecretString::from(keys.kit_key.clone()));
        generated.push(format!("kit_key           {}", keys.kit_key));
    }
    if kg.access_key_id.is_none() {
        kg.access_key_id = Some(keys.access_key_id.clone());
        generated.push(format!("access_key_id     {}", keys.access_key_id));
    }
    if kg.secret_access_key.is_none() {
        kg.secret_access_key = Some(SecretString::from(keys.secret_access_key.clone()));
        generated.push(format!("secret_access_key {}", keys.secret_access_key));
    }

    if kg.client_secret_private_key.is_none() {
        let pem = devkeys::load_or_create_client_secret_key(&state_dir)?;
        kg.client_secret_private_key = Some(SecretString::from(pem));
        generated
            .push(format!("clientSecret key  {} (RSA 3072)", devkeys::client_secret_key_path(&state_dir).display()));
    }

    // The license worker signs status tokens with this key; the public half is what a newcomer
    // hands `koofill license verify --public-key`.
    if cfg.license.signing_key.is_none() {
        let pem = devkeys::load_or_create_license_signing_key(&state_dir)?;
        cfg.license.signing_key = Some(SecretString::from(pem));
        generated.push(format!(
            "license key       {} (Ed25519 public key of the status tokens)",
            devkeys::license_public_key_path(&state_dir).display()
        ));
    }
    if cfg.license.api_token.is_none() {
        let token = devkeys::load_or_create_license_api_token(&state_dir)?;
        generated.push(format!("license api_token {token} (Bearer token of /v1/licenses)"));
        cfg.license.api_token = Some(SecretString::from(token));
    }
    if cfg.metering.api_token.is_none() {
        let token = devkeys::load_or_create_usage_api_token(&state_dir)?;
        generated.push(format!("usage api_token   {token} (Bearer token of /v1/usage)"));
        cfg.metering.api_token = Some(SecretString::from(token));
    }

    let nats_configured = configured.contains("nats.url");
    let external_ok = nats_configured
        && match wait_for::host_port(&cfg.nats.url) {
            Some(addr) => wait_for::reachable(&addr, Duration::from_secs(2)).await,
            None => false,
        };
    let child = if external_ok {
        None
    } else {
        if nats_configured {
            tracing::warn!(url = %koofill_config::redact_url(&cfg.nats.url), "configured NATS is not reachable; starting a child nats-server");
        }
        let child = NatsChild::start(&state_dir.join("nats")).await?;
        cfg.nats.url = child.url();
        Some(child)
    };
    let own_database = !configured.contains("database.url");
    if own_database {
        cfg.database.url = format!("sqlite://{}?mode=rwc", state_dir.join("koofill.db").display());
    }
    // Nothing configured for notifications: every event goes to a file a newcomer can read.
    if koofill_notification::dev_catch_all(&mut cfg.notification, &state_dir) {
        generated.push(format!(
            "notifications     {} (no notification channel configured)",
            state_dir.join("notifications.log").display()
        ));
    }

    let sim_keys = koofill_simulator::SimKeys::from_config(&cfg).context("development keys for the simulator")?;
    let simulator = if !configured.contains("koogallery.api_base") {
        let sim = koofill_simulator::Simulator::start(koofill_simulator::SimConfig::for_keys(&sim_keys))
            .await
            .context("starting the simulator's open APIs")?;
        cfg.koogallery.api_base = sim.base_url();
        cfg.koogallery.api_fallback_base = sim.base_url();
        Some(sim)
    } else {
        None
    };

    let sso_addr = configure_sso(&mut cfg, configured, &state_dir, simulator.is_some(), &mut generated)?;

    let ingress = koofill_ingress::Application::build(&cfg).await.context("starting the ingress")?;
    let addr = ingress.local_addr().context("ingress address")?;
    let ingress_task = tokio::spawn(ingress.run_until_stopped(shutdown.clone()));
    // Every worker serves health and metrics on `worker.listen`; in one process they would all
    // want 9090, so each takes a free loopback port instead.
    cfg.worker.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    // Every worker migrates at start; on a fresh database they would race one another ("table
    // already exists"), so the schema is brought up to date once, before any of them starts.
    let db = koofill_store::connect(&cfg.database.url).await.context("connecting to the database")?;
    koofill_store::migrate(&db).await.context("migrating the database")?;
    let _ = db.close().await;
    let mut workers = Running::start(&cfg, &shutdown, &[("sso", sso_addr)]);

    let mut state = DevState {
        pid: std::process::id(),
        started_at: chrono::Utc::now(),
        stopped_at: None,
        ingress: IngressState { listen: addr },
        nats: child.as_ref().map(|c| NatsState { url: c.url() }),
        database: own_database.then(|| DatabaseState { url: cfg.database.url.clone() }),
        simulator: simulator.as_ref().map(|s| SimulatorState { api_base: s.base_url() }),
    };
    record(&state, &state_dir);
    print_banner(&cfg, addr, child.as_ref(), simulator.is_some(), &generated, &state_dir);
    if demo {
        match &simulator {
            Some(sim) => {
                let target = format!("http://127.0.0.1:{}{}", addr.port(), cfg.ingress.base_path);
                eprintln!("\nplaying every scenario through the simulator…");
                let options = koofill_simulator::ScenarioOptions {
                    client_secret_public_key_pem: public_key_pem(&cfg),
                    // The license scenario activates its code and checks each effect through the proxy.
                    license_proxy: cfg.license.api_token.as_ref().map(|token| {
                        use secrecy::ExposeSecret;
                        koofill_simulator::LicenseProxy::for_target(&target, token.expose_secret())
                    }),
                    // The on-demand scenario reports usage and waits for the metering worker's push.
                    usage: cfg.metering.api_token.as_ref().map(|token| {
                        use secrecy::ExposeSecret;
                        let mut probe = koofill_simulator::UsageProbe::for_target(&target, token.expose_secret());
                        probe.push_deadline = cfg.metering.tick() + Duration::from_secs(15);
                        probe
                    }),
                    ..Default::default()
                };
                let summary = koofill_simulator::demo_with(&target, sim, &sim_keys, &options).await;
                println!("{summary}");
                for step in summary.reports.iter().flat_map(|r| &r.steps).filter(|s| s.name.starts_with("usage pushed"))
                {
                    println!("usage rehearsal: {}: {}", step.outcome, step.detail);
                }
                demo_sign_in(&cfg, &target, sim, &sim_keys).await;
            }
            None => eprintln!("--demo needs the simulator's open APIs: leave koogallery.api_base unset"),
        }
    }
    // A worker that ends on its own (it could not start, say) stops everything: a dev instance
    // missing a worker would otherwise look healthy while orders pile up.
    let early = tokio::select! {
        () = shutdown.cancelled() => None,
        Some(name) = workers.first_exit() => Some(name),
    };
    shutdown.cancel();
    eprintln!("\nstopping…");
    let grace = Duration::from_secs(cfg.shutdown.grace_secs);
    match tokio::time::timeout(grace, ingress_task).await {
        Ok(Ok(Err(e))) => tracing::error!(error = &e as &dyn std::error::Error, "ingress stopped with an error"),
        Ok(Err(e)) => tracing::error!(error = &e as &dyn std::error::Error, "ingress task failed"),
        Err(_) => tracing::warn!("ingress did not stop within the grace period"),
        Ok(Ok(Ok(()))) => {}
    }
    workers.stop(grace).await;
    state.stopped_at = Some(chrono::Utc::now());
    record(&state, &state_dir);
    if let Some(child) = child {
        child.stop().await;
    }
    telemetry.shutdown();
    eprintln!("stopped");
    match early {
        Some(name) => anyhow::bail!("{name} stopped on its own; see the log above"),
        None => Ok(()),
    }
}

/// Sets up the SSO broker for development where nothing is configured: its own loopback port
/// (browsers and its redirect URL need it in advance), its landing page as the product, generated
/// keys and, with the simulator, the simulator's unified login (on plain HTTP). Returns where it
/// listens.
fn configure_sso(
    cfg: &mut Config,
    configured: &ConfiguredKeys,
    state_dir: &std::path::Path,
    simulated: bool,
    generated: &mut Vec<String>,
) -> anyhow::Result<SocketAddr> {
    let port = match cfg.sso.public_url.as_deref().and_then(loopback_port) {
        Some(port) => port,
        None => std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .context("a port for the SSO broker")?
            .port(),
    };
    let public = cfg.sso.public_url.get_or_insert_with(|| format!("http://127.0.0.1:{port}")).clone();
    cfg.sso.product_url.get_or_insert_with(|| format!("{public}/v1/sso/assertion"));
    if cfg.sso.signing_key.is_none() {
        cfg.sso.signing_key = Some(SecretString::from(devkeys::load_or_create_sso_signing_key(state_dir)?));
        generated.push(format!(
            "sso key           {} (Ed25519 key of the login assertions)",
            devkeys::sso_signing_key_path(state_dir).display()
        ));
    }
    if cfg.sso.api_token.is_none() {
        let token = devkeys::load_or_create_sso_api_token(state_dir)?;
        generated.push(format!("sso api_token     {token} (Bearer token of /v1/sso/redeem and /v1/sso/refresh)"));
        cfg.sso.api_token = Some(SecretString::from(token));
    }
    if simulated && !configured.contains("sso.login_url") {
        // The simulator is every tenant's KooGallery here, and it speaks plain HTTP on loopback.
        cfg.sso.login_url = "{domain_name}/unified-login?ind=UNOP&appId={app_id}&state={state}".to_owned();
        cfg.sso.allow_insecure_domains = true;
    }
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// The port of a `http://127.0.0.1:PORT` or `http://localhost:PORT` URL.
fn loopback_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    matches!(host, "127.0.0.1" | "localhost").then(|| port.parse().ok()).flatten()
}

/// The demo's last act: an enterprise bound through the Kit syncs, one of its users signed in
/// through the simulator's unified login and the SSO broker, the assertion redeemed.
async fn demo_sign_in(
    cfg: &Config,
    target: &str,
    sim: &koofill_simulator::Simulator,
    keys: &koofill_simulator::SimKeys,
) {
    use secrecy::ExposeSecret;
    let (Some(pem), Some(public), Some(token)) =
        (public_key_pem(cfg), cfg.sso.public_url.as_deref(), cfg.sso.api_token.as_ref())
    else {
        eprintln!("single sign-on: not shown (no clientSecret key, sso.public_url or sso.api_token)");
        return;
    };
    let sender = match koofill_simulator::callback::CallbackSender::new(target, keys.clone()) {
        Ok(sender) => sender,
        Err(e) => return eprintln!("single sign-on: not shown ({e})"),
    };
    let patience = Duration::from_secs(20);
    match koofill_simulator::sso::rehearse(&sender, sim, public, token.expose_secret(), &pem, patience).await {
        Ok(signed_in) => {
            println!("{signed_in}");
            println!(
                "  sign in again:  {public}/v1/sso/login?tenant={}&app={}",
                signed_in.enterprise.tenant_id, signed_in.enterprise.app_id
            );
        }
        Err(e) => eprintln!("single sign-on FAILED: {e}"),
    }
}

/// Writes the state file; a failure only costs the operator commands their defaults, so it is
/// reported rather than fatal.
fn record(state: &DevState, state_dir: &std::path::Path) {
    if let Err(e) = state.write(state_dir) {
        tracing::warn!(error = &*e as &dyn std::error::Error, file = %devstate::path(state_dir).display(), "cannot record the dev state");
    }
}

/// The public half of the clientSecret key, which the simulator encrypts applicationSync's secret with.
fn public_key_pem(cfg: &Config) -> Option<String> {
    use secrecy::ExposeSecret;
    let private = cfg.koogallery.client_secret_private_key.as_ref()?;
    koofill_signing::client_secret::ClientSecretKey::from_text(private.expose_secret()).ok()?.public_key_pem().ok()
}

fn print_banner(
    cfg: &Config,
    addr: std::net::SocketAddr,
    child: Option<&NatsChild>,
    simulator: bool,
    generated: &[String],
    state_dir: &std::path::Path,
) {
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { addr.ip().to_string() };
    let base = format!("http://{host}:{}{}", addr.port(), cfg.ingress.base_path);
    let nats = match child {
        Some(c) => format!(
            "{} (child nats-server, store {}, log {})",
            cfg.nats.url,
            state_dir.join("nats/store").display(),
            c.log.display()
        ),
        None => format!("{} (external)", koofill_config::redact_url(&cfg.nats.url)),
    };
    eprintln!();
    eprintln!("koofill dev is running");
    eprintln!("  production address  {base}");
    eprintln!(
        "  Kit sync interfaces {base}/produceAPI/v2/{{tenantSync,applicationSync,authSync,singleOrgSync,allOrgSync}}"
    );
    eprintln!("  health / metrics    http://{host}:{}/healthz  /readyz  /metrics", addr.port());
    eprintln!("  license proxy       http://{host}:{}/v1/licenses/{{code}}  (POST …/activate)", addr.port());
    if let (Some(public), Some(product)) = (&cfg.sso.public_url, &cfg.sso.product_url) {
        eprintln!(
            "  single sign-on      {public}/v1/sso/login?tenant={{tenantId}}&app={{appId}}  (lands on {product})"
        );
    }
    eprintln!("  NATS                {nats}");
    eprintln!(
        "  streams             {}_INBOUND, _EVENTS, _USAGE, _DLQ (prefix {:?})",
        cfg.nats.prefix.to_uppercase(),
        cfg.nats.prefix
    );
    eprintln!("  database            {}", koofill_config::redact_url(&cfg.database.url));
    let api = if simulator { " (the simulator: a fake KooGallery)" } else { "" };
    eprintln!("  open APIs           {}{api}", cfg.koogallery.api_base);
    let workers: Vec<&str> = WORKERS.iter().map(|w| w.name).collect();
    eprintln!(
        "  services            ingress, {} (template provisioner: {})",
        workers.join(", "),
        cfg.provisioner.front_end_url_template
    );
    eprintln!(
        "  state               {} (read by koofill dlq, instances, licenses, migrate, sim)",
        devstate::path(state_dir).display()
    );
    if generated.is_empty() {
        eprintln!("  keys                from configuration");
    } else {
        eprintln!(
            "  development keys    (stored in {}; configured keys take precedence)",
            devkeys::path(state_dir).display()
        );
        for line in generated {
            eprintln!("    {line}");
        }
    }
    eprintln!("Press Ctrl-C to stop.");
}
