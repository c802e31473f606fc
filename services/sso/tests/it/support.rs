//! The harness: an SSO broker on its own NATS and database, the Kit directory seeded as the
//! provisioning worker writes it, and a simulator playing the tenants' KooGallery OAuth side.
//!
//! Tenants (all with `domainName` = the simulator):
//! - `t1`, app `app1`: users alice (admin, enabled), dave (disabled here), bob (only at
//!   KooGallery), mallory (at KooGallery under t1, in the directory only under `t2`);
//! - `t2`, app `app1`: mallory;
//! - `t3`, app `app3`: carol; the stored client secret differs from KooGallery's.

use std::{collections::HashMap, net::TcpListener};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use ed25519_dalek::{SigningKey, VerifyingKey};
use koofill_config::{Config, SecretString};
use koofill_simulator::{SimConfig, SimOAuthClient, SimOAuthUser, Simulator};
use koofill_sso::{AssertionSigner, BuildOptions, Claims, Worker};
use koofill_store::{
    entities::{applications, directory_users, directory_users::DirectoryState, tenants},
    sea_orm::{ActiveModelTrait, DatabaseConnection, Set},
};
use koofill_testkit::{TestDb, TestNats};
use reqwest::{StatusCode, header};
use tokio_util::sync::CancellationToken;

pub const PEM: &str = include_str!("../../../../crates/signing/fixtures/test-client-secret-key.pem");
pub const SEED: [u8; 32] = [42; 32];
pub const API_TOKEN: &str = "product-api-token";
pub const PRODUCT_URL: &str = "https://app.example.com/sso";

/// A running broker with its world.
#[allow(missing_debug_implementations)]
pub struct Harness {
    pub _nats: TestNats,
    pub _db: TestDb,
    pub sim: Simulator,
    pub worker: Worker,
    pub base: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// The configuration of a broker reachable at `base`, on `nats` and `db`.
pub fn config(nats: &TestNats, db: &TestDb, port: u16) -> Config {
    let env = [
        ("KOOFILL__NATS__URL", nats.url()),
        ("KOOFILL__DATABASE__URL", db.url().to_owned()),
        ("KOOFILL__WORKER__LISTEN", format!("127.0.0.1:{port}")),
        ("KOOFILL__SHUTDOWN__GRACE_SECS", "1".to_owned()),
    ];
    let mut cfg =
        koofill_config::load_with_env(None, env.map(|(k, v)| (k.to_owned(), v))).expect("configuration loads");
    cfg.koogallery.client_secret_private_key = Some(SecretString::from(PEM.to_owned()));
    cfg.sso.public_url = Some(format!("http://127.0.0.1:{port}"));
    cfg.sso.product_url = Some(PRODUCT_URL.to_owned());
    cfg.sso.signing_key = Some(SecretString::from(STANDARD.encode(SEED)));
    cfg.sso.api_token = Some(SecretString::from(API_TOKEN.to_owned()));
    cfg.sso.allow_insecure_domains = true;
    // The simulator's stand-in of the unified login page, with the state carried through.
    cfg.sso.login_url = "{domain_name}/unified-login?ind=UNOP&appId={app_id}&state={state}".to_owned();
    cfg
}

impl Harness {
    /// A broker on SQLite.
    pub async fn sqlite() -> Self {
        Self::on(TestDb::sqlite()).await
    }

    /// A broker on `db`.
    pub async fn on(db: TestDb) -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let sim = Simulator::start(SimConfig::default()).await.expect("simulator starts");
        let port = free_port();
        let cfg = config(&nats, &db, port);
        let worker = Worker::build(&cfg, BuildOptions::default()).await.expect("broker builds");
        let base = format!("http://{}", worker.http_addr());
        seed(worker.host().db(), &sim, &base).await;
        let shutdown = CancellationToken::new();
        let running = worker.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move { running.run(stop).await });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let harness = Self { _nats: nats, _db: db, sim, worker, base, http, shutdown };
        harness.wait_ready().await;
        harness
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the broker never answered /healthz");
    }

    pub fn db(&self) -> &DatabaseConnection {
        self.worker.host().db()
    }

    /// Starts a login for `tenant`/`app`, lets `user` sign in at the simulator, and returns the
    /// callback URL KooGallery redirected to and the state cookie.
    pub async fn sign_in(&self, tenant: &str, app: &str, user: &str) -> (String, String) {
        let login =
            self.http.get(format!("{}/v1/sso/login?tenant={tenant}&app={app}", self.base)).send().await.unwrap();
        assert_eq!(login.status(), StatusCode::FOUND, "{}", login.text().await.unwrap_or_default());
        let cookie = login.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
        let page = format!("{}&user={user}", location(&login));
        assert!(page.starts_with(&self.sim.base_url()), "{page}");
        let signed_in = self.http.get(page).send().await.unwrap();
        assert_eq!(signed_in.status(), StatusCode::FOUND, "{}", signed_in.text().await.unwrap_or_default());
        let callback = location(&signed_in);
        assert!(callback.starts_with(&format!("{}/v1/sso/callback?code=", self.base)), "{callback}");
        (callback, cookie)
    }

    /// Follows KooGallery's redirect to the callback.
    pub async fn callback(&self, url: &str, cookie: &str) -> reqwest::Response {
        self.http.get(url).header(header::COOKIE, cookie).send().await.unwrap()
    }

    /// A whole login; the assertion the product receives.
    pub async fn login(&self, tenant: &str, app: &str, user: &str) -> String {
        let (callback, cookie) = self.sign_in(tenant, app, user).await;
        let landed = self.callback(&callback, &cookie).await;
        assert_eq!(landed.status(), StatusCode::FOUND, "{}", landed.text().await.unwrap_or_default());
        let to = location(&landed);
        let assertion = to.strip_prefix(&format!("{PRODUCT_URL}?assertion=")).expect("sent to the product");
        assertion.to_owned()
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn redeem(&self, assertion: &str) -> (StatusCode, serde_json::Value) {
        self.post("/v1/sso/redeem", Some(API_TOKEN), serde_json::json!({ "assertion": assertion })).await
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// The broker's public keys, as a product compiles them in.
pub fn public_keys() -> HashMap<String, VerifyingKey> {
    let signer = AssertionSigner::new(SigningKey::from_bytes(&SEED));
    HashMap::from([(signer.kid().to_owned(), signer.verifying_key())])
}

pub fn verify(assertion: &str) -> Claims {
    koofill_sso::verify(assertion, &public_keys(), PRODUCT_URL, Utc::now()).expect("assertion verifies")
}

/// The directory rows and the simulator's clients and users.
async fn seed(db: &DatabaseConnection, sim: &Simulator, base: &str) {
    let sealer = koofill_provisioning::client_secret::sealer(PEM).expect("RSA key");
    let domain = sim.base_url();
    let redirect_uri = format!("{base}/v1/sso/callback");
    for (tenant, app, stored_secret, real_secret) in [
        ("t1", "app1", "secret-t1", "secret-t1"),
        ("t2", "app1", "secret-t2", "secret-t2"),
        ("t3", "app3", "wrong", "secret-t3"),
    ] {
        let now = Utc::now();
        tenants::ActiveModel {
            instance_id: Set("inst-1".into()),
            tenant_id: Set(tenant.into()),
            order_id: Set(None),
            tenant_code: Set(tenant.to_uppercase()),
            name: Set(format!("Tenant {tenant}")),
            domain_name: Set(domain.clone()),
            state: Set(DirectoryState::Active),
            test: Set(false),
            source_time: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        applications::ActiveModel {
            instance_id: Set("inst-1".into()),
            tenant_id: Set(tenant.into()),
            app_id: Set(app.into()),
            client_id: Set(format!("client-{tenant}")),
            client_secret_enc: Set(Some(sealer.seal(stored_secret).unwrap())),
            state: Set(DirectoryState::Active),
            test: Set(false),
            source_time: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        sim.register_oauth_client(SimOAuthClient {
            client_id: format!("client-{tenant}"),
            client_secret: real_secret.into(),
            tenant_id: tenant.into(),
            app_id: app.into(),
            redirect_uri: redirect_uri.clone(),
        });
    }
    for (tenant, app, user, role, enabled) in [
        ("t1", "app1", "alice", "admin", true),
        ("t1", "app1", "dave", "user", false),
        ("t2", "app1", "mallory", "user", true),
        ("t3", "app3", "carol", "user", true),
    ] {
        add_user(db, tenant, app, user, role, enabled).await;
    }
    for (tenant, app, user) in [
        ("t1", "app1", "alice"),
        ("t1", "app1", "dave"),
        ("t1", "app1", "bob"),
        ("t1", "app1", "mallory"),
        ("t2", "app1", "mallory"),
        ("t3", "app3", "carol"),
    ] {
        sim.register_oauth_user(SimOAuthUser::new(tenant, app, user));
    }
}

async fn add_user(db: &DatabaseConnection, tenant: &str, app: &str, user: &str, role: &str, enabled: bool) {
    let now = Utc::now();
    directory_users::ActiveModel {
        instance_id: Set("inst-1".into()),
        tenant_id: Set(tenant.into()),
        app_id: Set(app.into()),
        user_name: Set(user.into()),
        name: Set(format!("{user} (display)")),
        org_code: Set("10000".into()),
        role: Set(role.into()),
        enabled: Set(enabled),
        email: Set(Some(format!("{user}@example.com"))),
        state: Set(DirectoryState::Active),
        test: Set(false),
        source_time: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}
