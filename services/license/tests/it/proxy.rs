//! The activation proxy's request-reply answers, against the simulator's license APIs.

use std::time::Duration;

use chrono::Utc;
use koofill_bus::{names, rpc};
use koofill_license::token::{TokenError, TokenVerifier, parse_signing_key};
use koofill_model::license_rpc::{LicenseOutcome, LicenseProxyReply, LicenseProxyRequest, LicenseStatus};
use koofill_simulator::{
    LICENSE_ACTIVATE_PATH, LICENSE_HEARTBEAT_PATH,
    license::{LicenseState, SimLicense},
};
use tokio_util::sync::CancellationToken;

use crate::support::{AK, PREFIX, SIGNING_SEED, SK, TestWorker, refresh, status};

async fn ask(app: &TestWorker, what: &str, code: &str) -> LicenseProxyReply {
    let request = LicenseProxyRequest { code: code.to_owned(), fingerprint: Some("machine-1".to_owned()) };
    let client = &app.worker.host().bus().client;
    rpc::request_json(client, &names::rpc_license(PREFIX, what), &request, Duration::from_secs(10)).await.unwrap()
}

fn calls(app: &TestWorker, path: &str) -> usize {
    app.sim.requests().iter().filter(|r| r.path == path).count()
}

#[tokio::test]
async fn activation_is_asked_once_cached_after_and_frozen_codes_are_reported_at_the_next_request() {
    let app = TestWorker::start().await;
    let stop = CancellationToken::new();
    tokio::spawn({
        let (worker, stop) = (app.worker.clone(), stop.clone());
        async move { worker.serve_proxy(stop).await }
    });
    let code = "PLPROXY001";
    app.sim.register_license(SimLicense::received(code, "CSPROXY1", "P1"));
    app.send_at(refresh(code, "CSPROXY1", "20300101000000"), Utc::now()).await;
    app.settle().await;
    // The responders subscribe in the background: wait until one answers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let first = loop {
        let request = LicenseProxyRequest { code: code.to_owned(), fingerprint: Some("machine-1".to_owned()) };
        let client = &app.worker.host().bus().client;
        let subject = names::rpc_license(PREFIX, names::LICENSE_ACTIVATE);
        match rpc::request_json::<_, LicenseProxyReply>(client, &subject, &request, Duration::from_millis(500)).await {
            Ok(reply) => break reply,
            Err(_) => assert!(tokio::time::Instant::now() < deadline, "the proxy never answered"),
        }
    };
    assert_eq!(first.outcome, LicenseOutcome::Ok, "{first:?}");
    let view = first.license.clone().unwrap();
    assert_eq!(view.status, LicenseStatus::Active);
    assert!(view.activated_at.is_some());
    assert_eq!(app.sim.marketplace().license(code).unwrap().state, LicenseState::Active);

    let key = parse_signing_key(SIGNING_SEED).unwrap();
    let verifier = TokenVerifier::new().with_key(key.verifying_key(), None);
    let claims = verifier.verify(&view.token, Utc::now(), Some("machine-1")).unwrap();
    assert_eq!((claims.code.as_str(), claims.status), (code, LicenseStatus::Active));
    assert!(claims.exp <= (Utc::now() + chrono::Duration::hours(48)).timestamp());
    assert!(matches!(verifier.verify(&view.token, view.token_expires_at, None), Err(TokenError::Expired(_))));
    let mut tampered = view.token.clone().into_bytes();
    let at = tampered.len() - 3;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(verifier.verify(&tampered, Utc::now(), None).is_err());

    // A repeat is answered from the cache: no second activation at KooGallery.
    let again = ask(&app, names::LICENSE_ACTIVATE, code).await;
    assert_eq!(again.outcome, LicenseOutcome::Ok);
    assert_eq!(calls(&app, LICENSE_ACTIVATE_PATH), 1);
    let cached = ask(&app, names::LICENSE_STATUS, code).await;
    assert_eq!(cached.license.unwrap().status, LicenseStatus::Active);
    assert_eq!(calls(&app, LICENSE_HEARTBEAT_PATH), 0, "checked at activation, less than a day ago");

    // A FREEZE callback: the very next request reports it (and asks KooGallery once).
    app.send_at(status(code, "FREEZE"), Utc::now()).await;
    app.settle().await;
    let frozen = ask(&app, names::LICENSE_STATUS, code).await;
    assert_eq!(frozen.license.as_ref().unwrap().status, LicenseStatus::Frozen, "{frozen:?}");
    let claims = verifier.verify(&frozen.license.unwrap().token, Utc::now(), None).unwrap();
    assert_eq!(claims.status, LicenseStatus::Frozen);
    assert_eq!(calls(&app, LICENSE_HEARTBEAT_PATH), 1);

    // Unknown, unclaimed and already-activated codes map to their outcomes.
    assert_eq!(ask(&app, names::LICENSE_ACTIVATE, "PLNOSUCH01").await.outcome, LicenseOutcome::NotFound);
    let mut issued = SimLicense::received("PLISSUED01", "CSPROXY2", "P1");
    issued.state = LicenseState::Issued;
    app.sim.register_license(issued);
    assert_eq!(ask(&app, names::LICENSE_ACTIVATE, "PLISSUED01").await.outcome, LicenseOutcome::NotReceived);
    let mut elsewhere = SimLicense::received("PLELSEWH01", "CSPROXY3", "P1");
    elsewhere.activate(Utc::now()).unwrap();
    app.sim.register_license(elsewhere);
    let refused = ask(&app, names::LICENSE_ACTIVATE, "PLELSEWH01").await;
    assert_eq!((refused.outcome, refused.koogallery_code.as_deref()), (LicenseOutcome::IllegalState, Some("92020003")));
    assert_eq!(ask(&app, names::LICENSE_ACTIVATE, "has space").await.outcome, LicenseOutcome::Invalid);

    // The activation was announced once, and no answer carries the AK/SK.
    app.worker.drain().await.unwrap();
    assert_eq!(app.event_counts(code).await.get("license.activated"), Some(&1));
    for reply in [first, again] {
        let text = serde_json::to_string(&reply).unwrap();
        assert!(!text.contains(SK) && !text.contains(AK), "{text}");
    }
    stop.cancel();
}
