//! 联营 single sign-on end to end: the enterprise bound and its users authorised by real Kit
//! syncs (the simulator → the ingress → the provisioning worker → the directory), the simulator
//! playing KooGallery's unified login and OAuth endpoints, the SSO broker in between, and the
//! product's side played by the assertion check and the redeem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use koofill_provisioning::Worker;
use koofill_simulator::{
    SimConfig, SimKeys, Simulator, bodies,
    callback::CallbackSender,
    sso::{self, Enterprise},
};
use koofill_testkit::{TestDb, TestNats};
use tokio_util::sync::CancellationToken;

const BASIC_KEY: &str = "sso-basic-key-0123456789";
const KIT_KEY: &str = "sso-kit-key-9876543210";
const API_TOKEN: &str = "sso-product-token";
const SIGNING_SEED: [u8; 32] = [7; 32];
const PRIVATE_KEY_PEM: &str = include_str!("../../crates/signing/fixtures/test-client-secret-key.pem");
const PUBLIC_KEY_PEM: &str = include_str!("../../crates/signing/fixtures/test-client-secret-key.pub.pem");

#[allow(missing_debug_implementations)]
struct System {
    _nats: TestNats,
    _db: TestDb,
    sim: Simulator,
    sender: CallbackSender,
    provisioning: Worker,
    broker: String,
    product_url: String,
    shutdown: CancellationToken,
}

impl Drop for System {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl System {
    async fn start() -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let db = TestDb::fresh().await;
        let keys = SimKeys::new(BASIC_KEY).with_kit_key(KIT_KEY).with_access_key("SSOAK", "sso-sk");
        let sim = Simulator::start(SimConfig::for_keys(&keys)).await.expect("simulator starts");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let broker = format!("http://127.0.0.1:{port}");
        let product_url = "https://product.example.com/sso".to_owned();
        let seed = base64_seed();
        let env: Vec<(String, String)> = [
            ("KOOFILL__KOOGALLERY__BASIC_KEY", BASIC_KEY.to_owned()),
            ("KOOFILL__KOOGALLERY__KIT_KEY", KIT_KEY.to_owned()),
            ("KOOFILL__KOOGALLERY__CLIENT_SECRET_PRIVATE_KEY", PRIVATE_KEY_PEM.to_owned()),
            ("KOOFILL__KOOGALLERY__ACCESS_KEY_ID", "SSOAK".to_owned()),
            ("KOOFILL__KOOGALLERY__SECRET_ACCESS_KEY", "sso-sk".to_owned()),
            ("KOOFILL__KOOGALLERY__API_BASE", sim.base_url()),
            ("KOOFILL__KOOGALLERY__API_FALLBACK_BASE", sim.base_url()),
            ("KOOFILL__NATS__URL", nats.url()),
            ("KOOFILL__DATABASE__URL", db.url().to_owned()),
            ("KOOFILL__INGRESS__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__SSO__PUBLIC_URL", broker.clone()),
            ("KOOFILL__SSO__PRODUCT_URL", product_url.clone()),
            ("KOOFILL__SSO__SIGNING_KEY", seed),
            ("KOOFILL__SSO__API_TOKEN", API_TOKEN.to_owned()),
            ("KOOFILL__SSO__ALLOW_INSECURE_DOMAINS", "true".to_owned()),
            ("KOOFILL__SSO__LOGIN_URL", "{domain_name}/unified-login?ind=UNOP&appId={app_id}&state={state}".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let cfg = koofill_config::load_with_env(None, env).expect("configuration loads");
        let shutdown = CancellationToken::new();
        let ingress = koofill_ingress::Application::build(&cfg).await.expect("ingress starts");
        let addr = ingress.local_addr().unwrap();
        tokio::spawn(ingress.run_until_stopped(shutdown.clone()));
        let provisioning = Worker::build(&cfg).await.expect("provisioning starts");
        let mut sso_cfg = cfg.clone();
        sso_cfg.worker.listen = ([127, 0, 0, 1], port).into();
        let sso_worker = koofill_sso::build(&sso_cfg, koofill_sso::BuildOptions::default()).await.expect("sso starts");
        tokio::spawn({
            let stop = shutdown.clone();
            async move { sso_worker.run(stop).await }
        });
        let sender = CallbackSender::new(&format!("http://{addr}{}", cfg.ingress.base_path), keys).unwrap();
        Self { _nats: nats, _db: db, sim, sender, provisioning, broker, product_url, shutdown }
    }

    /// Lets the provisioning worker apply every sync.
    async fn settle(&self) {
        let mut quiet = 0;
        while quiet < 3 {
            if self.provisioning.drain().await.unwrap() == 0 {
                quiet += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                quiet = 0;
            }
        }
    }

    async fn bind(&self, enterprise: &Enterprise) {
        let callback = format!("{}/v1/sso/callback", self.broker);
        sso::bind(&self.sender, &self.sim, enterprise, PUBLIC_KEY_PEM, &callback).await.expect("bound");
        self.settle().await;
    }

    async fn sign_in(&self, e: &Enterprise, user: &str) -> Result<String, sso::SsoError> {
        sso::sign_in(&self.broker, &e.tenant_id, &e.app_id, user).await
    }
}

fn base64_seed() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(SIGNING_SEED)
}

/// The broker's public key, as the product compiles it in.
fn public_keys() -> HashMap<String, ed25519_dalek::VerifyingKey> {
    let signer = koofill_sso::AssertionSigner::new(ed25519_dalek::SigningKey::from_bytes(&SIGNING_SEED));
    HashMap::from([(signer.kid().to_owned(), signer.verifying_key())])
}

#[tokio::test]
async fn a_user_authorised_by_auth_sync_signs_in_and_the_product_verifies_the_assertion() {
    let sys = System::start().await;
    let enterprise = Enterprise::fresh();
    sys.bind(&enterprise).await;

    let landing = sys.sign_in(&enterprise, "zhangsan01").await.expect("signed in");
    assert!(landing.starts_with(&format!("{}?assertion=", sys.product_url)), "{landing}");
    let assertion = sso::assertion_of(&landing).unwrap();
    let claims = koofill_sso::verify(assertion, &public_keys(), &sys.product_url, Utc::now()).expect("verifies");
    assert_eq!(
        (claims.sub.as_str(), claims.role.as_str(), claims.tenant.as_str(), claims.app.as_str()),
        ("zhangsan01", "admin", enterprise.tenant_id.as_str(), enterprise.app_id.as_str())
    );
    assert_eq!(claims.instance, enterprise.instance_id);
    assert_eq!(sso::redeem(&sys.broker, API_TOKEN, assertion).await.unwrap()["sub"], "zhangsan01");
    let again = sso::redeem(&sys.broker, API_TOKEN, assertion).await.unwrap_err();
    assert!(again.why.starts_with("409"), "{again}");
}

#[tokio::test]
async fn revoked_disabled_and_foreign_users_are_refused_by_name() {
    let sys = System::start().await;
    let enterprise = Enterprise::fresh();
    sys.bind(&enterprise).await;
    let (e, test) = (&enterprise, false);

    // lisi02 revoked (authSync flag 3), then a user the enterprise never authorised.
    let lisi = [bodies::user("lisi02", "李四", "10000", "user")];
    let revoke = bodies::auth_sync(&e.instance_id, &e.tenant_id, &e.app_id, &lisi, 3, test);
    assert_eq!(sys.sender.send_kit("authSync", &revoke).await.result_code(), "000000");
    // zhangsan01 disabled (enable "false", flag 2).
    let mut disabled = bodies::user("zhangsan01", "张三", "10000", "admin");
    disabled["enable"] = "false".into();
    let modify = bodies::auth_sync(&e.instance_id, &e.tenant_id, &e.app_id, &[disabled], 2, test);
    assert_eq!(sys.sender.send_kit("authSync", &modify).await.result_code(), "000000");
    sys.settle().await;
    // KooGallery still lets them log in (its own records are not ours to change): koofill refuses.
    let mut stranger = koofill_simulator::SimOAuthUser::new(&e.tenant_id, &e.app_id, "wangwu03");
    stranger.role = "user".to_owned();
    sys.sim.register_oauth_user(stranger);

    for (user, word) in [("lisi02", "lisi02"), ("zhangsan01", "zhangsan01"), ("wangwu03", "wangwu03")] {
        let refused = sys.sign_in(e, user).await.unwrap_err();
        assert_eq!(refused.step, "callback", "{refused}");
        assert!(refused.why.starts_with("403") && refused.why.contains(word), "{user}: {refused}");
    }

    // wangwu04 is authorised in this enterprise only; KooGallery signs them in to another
    // enterprise's application, whose directory does not know them.
    let wangwu = [bodies::user("wangwu04", "王五", "10000", "user")];
    let add = bodies::auth_sync(&e.instance_id, &e.tenant_id, &e.app_id, &wangwu, 1, test);
    assert_eq!(sys.sender.send_kit("authSync", &add).await.result_code(), "000000");
    sys.sim.register_oauth_user(koofill_simulator::SimOAuthUser::new(&e.tenant_id, &e.app_id, "wangwu04"));
    let other = Enterprise::fresh();
    sys.bind(&other).await;
    assert!(sys.sign_in(e, "wangwu04").await.is_ok(), "authorised where it was synced");
    sys.sim.register_oauth_user(koofill_simulator::SimOAuthUser::new(&other.tenant_id, &other.app_id, "wangwu04"));
    let refused = sys.sign_in(&other, "wangwu04").await.unwrap_err();
    assert!(refused.why.starts_with("403") && refused.why.contains("wangwu04"), "{refused}");
}

#[tokio::test]
async fn a_replayed_code_and_an_expired_assertion_are_refused() {
    let sys = System::start().await;
    let enterprise = Enterprise::fresh();
    sys.bind(&enterprise).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // A login up to KooGallery's redirect, the callback taken twice.
    let login = http
        .get(format!("{}/v1/sso/login?tenant={}&app={}", sys.broker, enterprise.tenant_id, enterprise.app_id))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = login.headers()["location"].to_str().unwrap().to_owned();
    let signed_in = http.get(format!("{page}&user=zhangsan01")).send().await.unwrap();
    let callback = signed_in.headers()["location"].to_str().unwrap().to_owned();
    let first = http.get(&callback).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(first.status(), 302);
    let second = http.get(&callback).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(second.status(), 400);
    let text = second.text().await.unwrap();
    assert!(text.contains("already used or expired") || text.contains("invalid_grant"), "{text}");

    // The product checks exp: an assertion checked after its 60 s is refused.
    let landing = first.headers()["location"].to_str().unwrap().to_owned();
    let assertion = sso::assertion_of(&landing).unwrap();
    let later = Utc::now() + chrono::Duration::seconds(61);
    let expired = koofill_sso::verify(assertion, &public_keys(), &sys.product_url, later).unwrap_err();
    assert!(matches!(expired, koofill_sso::AssertionError::Expired(_)), "{expired}");
}
