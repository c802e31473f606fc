//! The simulator end to end: its open APIs against koofill's own clients, its scenario,
//! conformance and load runs against the real ingress (on a real nats-server) and against a
//! deliberately wrong stand-in.
// Test helpers outside #[test] functions may unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

mod conformance;
mod license_api;
mod load;
mod scenarios;
mod stand_in;
mod usage_rules;
mod verifiers;

use koofill_simulator::{SimConfig, SimKeys, Simulator};
use koofill_testkit::TestNats;
use tokio_util::sync::CancellationToken;

pub const BASIC_KEY: &str = "sim-test-basic-key-0123456789";
pub const KIT_KEY: &str = "sim-test-kit-key-9876543210";
pub const AK: &str = "SIMTESTAK0001";
pub const SK: &str = "sim-test-secret-access-key";
/// The throw-away 3072-bit test key of koofill-signing (public half).
pub const PUBLIC_KEY_PEM: &str = include_str!("../../../../crates/signing/fixtures/test-client-secret-key.pub.pem");

pub fn keys() -> SimKeys {
    SimKeys::new(BASIC_KEY).with_kit_key(KIT_KEY).with_access_key(AK, SK)
}

pub async fn simulator() -> Simulator {
    Simulator::start(SimConfig::for_keys(&keys())).await.expect("simulator starts")
}

/// The real ingress, in process, on its own nats-server.
#[derive(Debug)]
pub struct Ingress {
    pub _nats: TestNats,
    /// The production address, `http://127.0.0.1:PORT/kg/produce`.
    pub base_url: String,
    /// `http://127.0.0.1:PORT`.
    pub root_url: String,
    shutdown: CancellationToken,
}

impl Drop for Ingress {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Ingress {
    pub async fn spawn(api_base: Option<&str>) -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let mut env: Vec<(String, String)> = vec![
            ("KOOFILL__KOOGALLERY__BASIC_KEY".into(), BASIC_KEY.into()),
            ("KOOFILL__KOOGALLERY__KIT_KEY".into(), KIT_KEY.into()),
            ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID".into(), AK.into()),
            ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY".into(), SK.into()),
            ("KOOFILL__NATS__URL".into(), nats.url()),
            ("KOOFILL__INGRESS__LISTEN".into(), "127.0.0.1:0".into()),
            ("KOOFILL__INGRESS__CHANGE_CHECK_TIMEOUT_MS".into(), "300".into()),
            // V2 callbacks are unaffected; the V1 conformance run needs it.
            ("KOOFILL__KOOGALLERY__V1_ENABLED".into(), "true".into()),
        ];
        if let Some(base) = api_base {
            env.push(("KOOFILL__KOOGALLERY__API_BASE".into(), base.into()));
        }
        let cfg = koofill_config::load_with_env(None, env).expect("test configuration loads");
        let app = koofill_ingress::Application::build(&cfg).await.expect("ingress starts");
        let addr = app.local_addr().expect("bound");
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self {
            _nats: nats,
            base_url: format!("http://{addr}{}", cfg.ingress.base_path),
            root_url: format!("http://{addr}"),
            shutdown,
        }
    }

    /// The ingress's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.root_url)).await.unwrap().text().await.unwrap()
    }
}
