//! License activation and heartbeat (spec §7.3): the documented 9202000x codes.

use koofill_signing::apig;
use koofill_simulator::{
    LICENSE_ACTIVATE_PATH, LICENSE_HEARTBEAT_PATH, Simulator,
    license::{LicenseState, SimLicense},
};
use serde_json::{Value, json};

use crate::{AK, SK};

async fn call(sim: &Simulator, path: &str, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let host = sim.local_addr().to_string();
    let headers = vec![
        (apig::DATE_HEADER.to_owned(), apig::format_sdk_date(chrono::Utc::now().timestamp())),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    let request = apig::Request { method: "POST", host: &host, path, query: "", headers: &headers, body: &bytes };
    let auth = apig::sign(&request, AK, SK.as_bytes()).unwrap().authorization;
    let mut builder = reqwest::Client::new().post(format!("{}{path}", sim.base_url())).header("Authorization", auth);
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let response = builder.body(bytes).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn activation_and_heartbeat_follow_the_license_codes_life() {
    let sim = crate::simulator().await;
    let mut issued = SimLicense::received("PLISSUED", "CS1", "P1");
    issued.state = LicenseState::Issued;
    sim.register_license(issued);
    sim.register_license(SimLicense::received("PLCLAIMED", "CS1", "P1"));
    let code = |answer: &(u16, Value)| answer.1["error_code"].as_str().unwrap_or_default().to_owned();

    assert_eq!(code(&call(&sim, LICENSE_ACTIVATE_PATH, &json!({"license": "PLNONE"})).await), "92020005");
    assert_eq!(code(&call(&sim, LICENSE_ACTIVATE_PATH, &json!({"license": "PLISSUED"})).await), "92020004");
    assert_eq!(code(&call(&sim, LICENSE_ACTIVATE_PATH, &json!({})).await), "92020002");
    assert_eq!(
        code(&call(&sim, LICENSE_HEARTBEAT_PATH, &json!({"license": "PLCLAIMED"})).await),
        "92020003",
        "not active yet"
    );
    let activated = call(&sim, LICENSE_ACTIVATE_PATH, &json!({"license": "PLCLAIMED"})).await;
    assert_eq!((activated.0, code(&activated).as_str()), (200, "92020000"));
    let info: Value = serde_json::from_str(activated.1["data"]["license_code_info"].as_str().unwrap()).unwrap();
    assert_eq!((info["status"].as_str(), info["order_id"].as_str()), (Some("ALIVE"), Some("CS1")));
    assert_eq!(
        code(&call(&sim, LICENSE_ACTIVATE_PATH, &json!({"license": "PLCLAIMED"})).await),
        "92020003",
        "only once"
    );
    let beat = call(
        &sim,
        LICENSE_HEARTBEAT_PATH,
        &json!({"license": "PLCLAIMED", "heartbeatInfo": {"thirdPartyAccount": "me"}}),
    )
    .await;
    assert_eq!(code(&beat), "92020000");
    assert_eq!(beat.1["data"]["status"], "ALIVE");
    assert_eq!(beat.1["data"]["license_code"], "PLCLAIMED");
    sim.marketplace().update_license("PLCLAIMED", |l| l.state = LicenseState::Released);
    assert_eq!(
        call(&sim, LICENSE_HEARTBEAT_PATH, &json!({"license": "PLCLAIMED"})).await.1["data"]["status"],
        "RELEASED"
    );
}
