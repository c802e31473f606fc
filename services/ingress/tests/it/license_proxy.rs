//! The license activation proxy (`/v1/licenses`): the bearer token is checked before anything
//! reaches the license worker, and KooGallery's refusals become clear HTTP errors. A small
//! responder on `<prefix>.rpc.license.*` stands in for the worker and records what reached it.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use koofill_bus::names;
use koofill_model::license_rpc::{LicenseOutcome, LicenseProxyReply, LicenseProxyRequest, LicenseStatus, LicenseView};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{PREFIX, TestApp};

const TOKEN: &str = "license-api-token-current-0123456789";
const PREVIOUS: &str = "license-api-token-previous-987654321";

/// The code of the readiness probe, not recorded.
const PROBE: &str = "PLPROBE";

/// What reached the stand-in worker: (subject, request).
type Seen = Arc<Mutex<Vec<(String, LicenseProxyRequest)>>>;

/// Answers like the license worker: `PLUSED…` was activated before (`92020003`), `PLNOPE…` is
/// unknown to KooGallery (`92020005`), any other code is active.
fn answer(request: &LicenseProxyRequest) -> LicenseProxyReply {
    let refuse = |outcome, message: &str, kg: &str| LicenseProxyReply {
        outcome,
        message: message.to_owned(),
        koogallery_code: Some(kg.to_owned()),
        license: None,
    };
    if request.code.starts_with("PLUSED") {
        return refuse(LicenseOutcome::IllegalState, "the code was activated before", "92020003");
    }
    if request.code.starts_with("PLNOPE") {
        return refuse(LicenseOutcome::NotFound, "KooGallery does not know this license code", "92020005");
    }
    let now = chrono::Utc::now();
    LicenseProxyReply {
        outcome: LicenseOutcome::Ok,
        message: String::new(),
        koogallery_code: None,
        license: Some(LicenseView {
            code: request.code.clone(),
            status: LicenseStatus::Active,
            expire_time: None,
            activated_at: Some(now),
            checked_at: Some(now),
            token: "kflic1.claims.signature".to_owned(),
            token_expires_at: now + chrono::Duration::hours(48),
        }),
    }
}

/// Subscribes, then answers until `stop` fires; the task ends once it has unsubscribed. Returns
/// once a probe has been answered, so the server knows of the subscription before the ingress
/// asks (a request nobody has subscribed to yet fails at once with "no responders").
async fn stand_in_worker(app: &TestApp, stop: CancellationToken) -> (Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let client = app.nats_client.clone();
    let mut sub = client.subscribe(names::rpc_license(PREFIX, "*")).await.unwrap();
    let recorded = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                () = stop.cancelled() => break,
                msg = sub.next() => match msg { Some(m) => m, None => break },
            };
            let request: LicenseProxyRequest = serde_json::from_slice(&msg.payload).unwrap();
            let reply = serde_json::to_vec(&answer(&request)).unwrap();
            if request.code != PROBE {
                recorded.lock().unwrap().push((msg.subject.to_string(), request));
            }
            if let Some(to) = msg.reply {
                client.publish(to, reply.into()).await.unwrap();
            }
        }
        sub.unsubscribe().await.unwrap();
        client.flush().await.unwrap();
    });
    let probe = serde_json::to_vec(&LicenseProxyRequest { code: PROBE.into(), fingerprint: None }).unwrap();
    app.nats_client.request(names::rpc_license(PREFIX, names::LICENSE_STATUS), probe.into()).await.unwrap();
    (seen, task)
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(&[
        ("KOOFILL__LICENSE__API_TOKEN", TOKEN),
        ("KOOFILL__LICENSE__API_TOKEN_PREVIOUS", PREVIOUS),
        // Generous for a loaded machine; only the silent-worker case waits it out.
        ("KOOFILL__LICENSE__RPC_TIMEOUT_MS", "1500"),
    ])
    .await
}

/// Sends `GET /v1/licenses/{code}` (no `body`) or `POST …/activate` with an optional
/// `Authorization` value; returns the status, the `WWW-Authenticate` header and the JSON body.
async fn call(app: &TestApp, code: &str, body: Option<&str>, auth: Option<&str>) -> (u16, Option<String>, Value) {
    let http = reqwest::Client::new();
    let request = match body {
        Some(body) => http.post(format!("{}/v1/licenses/{code}/activate", app.root_url)).body(body.to_owned()),
        None => http.get(format!("{}/v1/licenses/{code}?fingerprint=host-1", app.root_url)),
    };
    let request = match auth {
        Some(auth) => request.header("Authorization", auth),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    let json = response.json().await.unwrap_or(Value::Null);
    (status, challenge, json)
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_401_and_never_reaches_the_worker_the_right_one_does() {
    let app = spawn().await;
    let stop = CancellationToken::new();
    let (seen, _task) = stand_in_worker(&app, stop.clone()).await;
    let truncated = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
    let basic = format!("Basic {TOKEN}");
    let wrong =
        [None, Some("Bearer wrong-token"), Some(&truncated[..]), Some(&basic[..]), Some(TOKEN), Some("Bearer ")];
    for auth in wrong {
        for body in [None, Some(r#"{"fingerprint":"host-1"}"#)] {
            let (status, challenge, json) = call(&app, "PLAUTH0001", body, auth).await;
            assert_eq!(status, 401, "{auth:?} {body:?}: {json}");
            assert_eq!(challenge.as_deref(), Some("Bearer"), "{auth:?}");
            assert_eq!(json["error"]["code"], "unauthorized", "{json}");
        }
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the worker: {:?}", seen.lock().unwrap());

    let (status, _, json) = call(&app, "PLAUTH0001", None, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!((json["code"].as_str(), json["status"].as_str()), (Some("PLAUTH0001"), Some("active")), "{json}");
    assert!(json["token"].as_str().unwrap().starts_with("kflic1."), "{json}");
    // The token being rotated out still works.
    let body = Some(r#"{"fingerprint":"host-2"}"#);
    let (status, _, json) = call(&app, "PLAUTH0002", body, Some(&format!("Bearer {PREVIOUS}"))).await;
    assert_eq!(status, 200, "{json}");

    let seen = seen.lock().unwrap().clone();
    let status_subject = names::rpc_license(PREFIX, names::LICENSE_STATUS);
    let activate_subject = names::rpc_license(PREFIX, names::LICENSE_ACTIVATE);
    assert_eq!(
        seen,
        vec![
            (status_subject, LicenseProxyRequest { code: "PLAUTH0001".into(), fingerprint: Some("host-1".into()) }),
            (activate_subject, LicenseProxyRequest { code: "PLAUTH0002".into(), fingerprint: Some("host-2".into()) }),
        ]
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains("reason=\"license_unauthorized\""), "{metrics}");
    stop.cancel();
}

#[tokio::test]
async fn koogallery_refusals_and_a_silent_worker_map_to_clear_http_errors() {
    let app = spawn().await;
    let stop = CancellationToken::new();
    let (seen, task) = stand_in_worker(&app, stop.clone()).await;
    let auth = format!("Bearer {TOKEN}");

    let (status, _, json) = call(&app, "PLUSED0001", Some(""), Some(&auth)).await;
    assert_eq!(status, 409, "already active: {json}");
    assert_eq!(json["error"]["code"], "illegal_state", "{json}");
    assert_eq!(json["error"]["koogallery_code"], "92020003", "{json}");
    assert_eq!(json["error"]["message"], "the code was activated before", "{json}");

    for body in [None, Some(r#"{"fingerprint":"host-1"}"#)] {
        let (status, _, json) = call(&app, "PLNOPE0001", body, Some(&auth)).await;
        assert_eq!(status, 404, "unknown code: {json}");
        assert_eq!(json["error"]["code"], "license_not_found", "{json}");
        assert_eq!(json["error"]["koogallery_code"], "92020005", "{json}");
    }

    // A body that is not the documented one is refused by the ingress itself.
    let (status, _, json) = call(&app, "PLBODY0001", Some("fingerprint=host-1"), Some(&auth)).await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(seen.lock().unwrap().len(), 3, "the malformed body never reached the worker");

    // Nobody answering is a 503 the software can retry, after license.rpc_timeout_ms.
    stop.cancel();
    task.await.unwrap();
    let (status, _, json) = call(&app, "PLGONE0001", None, Some(&auth)).await;
    assert_eq!(status, 503, "{json}");
    assert_eq!(json["error"]["code"], "unavailable", "{json}");
}
