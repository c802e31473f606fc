//! A stand-in production server written for these tests: right by default (instances ready at
//! once, credentials encrypted), with switchable defects, so that the simulator's checks can be
//! shown to catch exactly those.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::post,
};
use koofill_signing::field_crypto::{EncryptType, FieldCipher};
use koofill_signing::{basic, body_sign, kit, percent, timestamp};
use serde_json::{Value, json};

use crate::{BASIC_KEY, KIT_KEY};

/// What the stand-in gets wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defects {
    /// Signs the answers of this activity with a wrong key.
    pub bad_body_sign_on: Option<&'static str>,
    /// Answers every newInstance with a new instanceId.
    pub non_idempotent_create: bool,
    /// Answers refreshInstance for an unknown instance with 000000 instead of 000003.
    pub unknown_refresh_succeeds: bool,
}

#[derive(Clone, Default)]
struct StandIn {
    defects: Defects,
    instances: Arc<Mutex<HashMap<String, String>>>,
}

/// Starts the stand-in; returns its production address.
pub async fn start(defects: Defects) -> String {
    let state = StandIn { defects, ..StandIn::default() };
    let app = Router::new()
        .route("/kg/produce", post(basic_handler))
        .route("/kg/produce/produceAPI/v2/{interface}", post(kit_handler))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/kg/produce")
}

fn answer(key: &[u8], body: Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap();
    ([(body_sign::HEADER, body_sign::header_value(key, &bytes))], bytes).into_response()
}

fn code(c: &str) -> Value {
    json!({"resultCode": c, "resultMsg": if c == "000000" { "success" } else { "failed" }})
}

async fn basic_handler(State(s): State<StandIn>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let params = percent::parse_query(query.as_deref().unwrap_or_default());
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap_or_default();
    let now = chrono::Utc::now().timestamp_millis();
    let verified = timestamp::verify_window(&get("timestamp"), now, 60_000).is_ok()
        && basic::verify(BASIC_KEY.as_bytes(), &get("nonce"), &get("timestamp"), &body, &get("signature")).is_ok();
    if !verified {
        return answer(BASIC_KEY.as_bytes(), code("000001"));
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let field = |n: &str| req.get(n).and_then(Value::as_str).unwrap_or_default().to_owned();
    let activity = field("activity");
    let key = if s.defects.bad_body_sign_on == Some(activity.as_str()) {
        b"wrong-key".as_slice()
    } else {
        BASIC_KEY.as_bytes()
    };
    let known = |id: &str| s.instances.lock().unwrap().values().any(|v| v == id);
    let reply = match activity.as_str() {
        "newInstance" => {
            let (order, line) = (field("orderId"), field("orderLineId"));
            if order.is_empty() || line.is_empty() || field("businessId").is_empty() {
                code("000002")
            } else {
                let mut instances = s.instances.lock().unwrap();
                let id = if s.defects.non_idempotent_create {
                    let id = uuid::Uuid::new_v4().to_string();
                    instances.insert(format!("{order}:{line}:{id}"), id.clone());
                    id
                } else {
                    instances
                        .entry(format!("{order}:{line}"))
                        .or_insert_with(|| uuid::Uuid::new_v4().to_string())
                        .clone()
                };
                json!({"resultCode": "000000", "resultMsg": "success", "instanceId": id})
            }
        }
        "queryInstance" => {
            let id = field("instanceId");
            if known(&id) {
                let cipher = FieldCipher::new(BASIC_KEY.as_bytes(), EncryptType::Aes256);
                json!({"resultCode": "000000", "resultMsg": "success", "encryptType": "1", "info": [{"instanceId": id,
                    "appInfo": {"frontEndUrl": "https://app.example.com/t/x", "userName": cipher.encrypt("admin"),
                        "password": cipher.encrypt("s3cret")}}]})
            } else {
                code("000003")
            }
        }
        "refreshInstance" if s.defects.unknown_refresh_succeeds => code("000000"),
        "refreshInstance" | "updateInstanceStatus" | "upgradeInstance" | "releaseInstance" => {
            if known(&field("instanceId")) { code("000000") } else { code("000003") }
        }
        "orderNotify"
        | "changeInstanceCheck"
        | "refreshLicenseCode"
        | "updateLicenseCodeStatus"
        | "releaseLicenseCode" => code("000000"),
        _ => code("000002"),
    };
    answer(key, reply)
}

async fn kit_handler(Path(_interface): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let now = chrono::Utc::now().timestamp_millis();
    let verified = timestamp::verify_window(&h("x-timestamp"), now, 60_000).is_ok()
        && kit::verify(KIT_KEY.as_bytes(), &h("x-nonce"), &h("x-timestamp"), &body, &h("x-sign")).is_ok();
    answer(KIT_KEY.as_bytes(), code(if verified { "000000" } else { "000001" }))
}
