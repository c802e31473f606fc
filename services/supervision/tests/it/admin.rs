//! The admin API on the worker's HTTP port.

use koofill_supervision::state::Action;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{MANUAL, TOKEN, TestSup, t0};

#[tokio::test]
async fn the_admin_api_needs_the_bearer_token_and_takes_steps() {
    let t = TestSup::start().await;
    let id = t.open("CS-API", MANUAL, t0()).await.case.id;
    let shutdown = CancellationToken::new();
    let worker = t.worker.clone();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { worker.run(shutdown).await }
    });
    let base = format!("http://{}/admin/supervision", t.worker.host().http_addr());
    let http = reqwest::Client::new();

    let anonymous = http.get(format!("{base}/cases")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let wrong = http.get(format!("{base}/cases")).bearer_auth("admin-token-for-test").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let unauthenticated_step = http.post(format!("{base}/cases/{id}/confirm")).send().await.unwrap();
    assert_eq!(unauthenticated_step.status(), 401);
    assert_eq!(t.sup().show(&id.to_string()).await.unwrap().case.state, "awaiting_requirement");

    let listed: Value = http
        .get(format!("{base}/cases?state=awaiting_requirement"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let confirmed = http
        .post(format!("{base}/cases/{id}/confirm"))
        .bearer_auth(TOKEN)
        .header("idempotency-key", "k1")
        .json(&json!({"actor": "ops", "note": "requirement read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let body: Value = confirmed.json().await.unwrap();
    assert_eq!(body["state"], "requirement_confirmed");
    assert_eq!(body["steps"][1]["actor"], "admin:ops");

    let refused = http.post(format!("{base}/cases/{id}/accept")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(refused.status(), 409);
    let error: Value = refused.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains("in state requirement_confirmed"), "{error}");

    // Confirmed: only the 180-day deadline still runs.
    let soon: Value =
        http.get(format!("{base}/cases?due_within=60d")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(soon, json!([]));
    let due: Value = http
        .get(format!("{base}/cases?due_within=6%20months"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(due[0]["next_deadline"]["kind"], "unaccepted");
    let settlement: Value =
        http.get(format!("{base}/settlement")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(settlement[0]["order_id"], "CS-API");
    let bad = http.get(format!("{base}/cases?due_within=soon")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(bad.status(), 400);

    assert_eq!(t.act(id, Action::Deliver, None).await.case.state, "delivering");
    shutdown.cancel();
    running.await.unwrap().unwrap();
}
