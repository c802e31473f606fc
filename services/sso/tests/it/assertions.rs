//! Assertions the redeem must refuse: expired, forged, for another audience, without the token.

use chrono::Utc;
use ed25519_dalek::SigningKey;
use koofill_sso::{AssertionSigner, Claims};
use reqwest::StatusCode;

use crate::support::{Harness, PRODUCT_URL, SEED, verify};

fn signed_by(seed: [u8; 32], claims: Claims) -> String {
    AssertionSigner::new(SigningKey::from_bytes(&seed)).sign(claims)
}

#[tokio::test]
async fn expired_forged_and_misdirected_assertions_are_refused() {
    let h = Harness::sqlite().await;
    let fresh = verify(&h.login("t1", "app1", "alice").await);
    let now = Utc::now().timestamp();

    let expired = signed_by(SEED, Claims { iat: now - 120, exp: now - 60, ..fresh.clone() });
    let (status, body) = h.redeem(&expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "assertion expired");

    let forged = signed_by([1; 32], fresh.clone());
    let (status, body) = h.redeem(&forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let elsewhere = signed_by(SEED, Claims { aud: "https://other.example.com".into(), ..fresh.clone() });
    let (status, body) = h.redeem(&elsewhere).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("assertion refused: assertion is for another audience"))
    );
    assert!(koofill_sso::verify(&elsewhere, &crate::support::public_keys(), PRODUCT_URL, Utc::now()).is_err());

    let (status, _) = h.post("/v1/sso/redeem", None, serde_json::json!({"assertion": "x"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h.post("/v1/sso/redeem", Some(crate::support::API_TOKEN), serde_json::json!({"nope": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The genuine one still redeems: the refusals consumed nothing.
    let genuine = signed_by(SEED, fresh);
    assert_eq!(h.redeem(&genuine).await.0, StatusCode::OK);
}
