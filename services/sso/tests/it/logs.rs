//! What the broker logs during a login names tenants, apps and users, never a code, a client
//! secret, a token or an assertion.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use koofill_store::sea_orm::EntityTrait;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

use crate::support::Harness;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

// One thread: every task of the broker and the simulator logs into the subscriber set here.
#[tokio::test(flavor = "current_thread")]
async fn logs_hold_no_code_secret_token_or_assertion() {
    let captured = Captured::default();
    // The test's own HTTP client logs the URLs it fetches; that is not the broker's output.
    let filter = EnvFilter::new("debug,reqwest=off,hyper=off,hyper_util=off,h2=off,rustls=off");
    let subscriber =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(captured.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::sqlite().await;
    let (callback, cookie) = h.sign_in("t1", "app1", "alice").await;
    let landed = h.callback(&callback, &cookie).await;
    let assertion = crate::support::location(&landed).split("assertion=").nth(1).unwrap().to_owned();
    let code = callback.split("code=").nth(1).and_then(|c| c.split('&').next()).unwrap().to_owned();
    let replay = h.callback(&callback, &cookie).await;
    assert_eq!(replay.status(), reqwest::StatusCode::BAD_REQUEST);
    let (bad, bad_cookie) = h.sign_in("t3", "app3", "carol").await;
    assert_eq!(h.callback(&bad, &bad_cookie).await.status(), reqwest::StatusCode::BAD_GATEWAY);
    let claims = crate::support::verify(&assertion);
    assert_eq!(h.redeem(&assertion).await.0, reqwest::StatusCode::OK);
    let (_, refreshed) =
        h.post("/v1/sso/refresh", Some(crate::support::API_TOKEN), serde_json::json!({"session": claims.sid})).await;
    let renewed = refreshed["assertion"].as_str().unwrap_or_default().to_owned();

    let logs = captured.text();
    assert!(logs.contains("login succeeded") && logs.contains("alice"), "the login is logged: {logs}");
    assert!(logs.contains("invalid_client"), "the failure kind is logged: {logs}");
    let payload = |token: &str| token.split('.').nth(1).unwrap_or_default().to_owned();
    for (what, secret) in [
        ("code", code),
        ("assertion", payload(&assertion)),
        ("refreshed assertion", payload(&renewed)),
        ("client secret", "secret-t1".to_owned()),
        ("wrong secret", "secret-t3".to_owned()),
        ("API token", crate::support::API_TOKEN.to_owned()),
    ] {
        assert!(!secret.is_empty() && !logs.contains(&secret), "the logs show the {what}");
    }
    // The tokens KooGallery issued, as the broker stored them.
    let tokens =
        koofill_provisioning::client_secret::sealer_for(crate::support::PEM, koofill_sso::TOKENS_PURPOSE).unwrap();
    let sessions = koofill_store::entities::sso_sessions::Entity::find().all(h.db()).await.unwrap();
    assert!(!sessions.is_empty());
    for session in sessions {
        let access = tokens.open(&session.access_token_enc).unwrap();
        let refresh = tokens.open(session.refresh_token_enc.as_deref().unwrap()).unwrap();
        assert!(!logs.contains(&access) && !logs.contains(&refresh), "the logs show a KooGallery token");
    }
}
