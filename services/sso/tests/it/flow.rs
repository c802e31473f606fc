//! The whole login: login → KooGallery's login page → callback → product, then redeem, refresh
//! and logout.

use koofill_testkit::TestDb;
use reqwest::StatusCode;

use crate::support::{API_TOKEN, Harness, PRODUCT_URL, location, verify};

async fn login_redeem_refresh_logout(h: Harness) {
    let assertion = h.login("t1", "app1", "alice").await;
    let claims = verify(&assertion);
    assert_eq!(
        (
            claims.sub.as_str(),
            claims.role.as_str(),
            claims.tenant.as_str(),
            claims.app.as_str(),
            claims.instance.as_str()
        ),
        ("alice", "admin", "t1", "app1", "inst-1")
    );
    assert_eq!((claims.iss.as_str(), claims.aud.as_str()), ("koofill", PRODUCT_URL));
    assert!(claims.exp - claims.iat <= 60 && claims.exp > claims.iat);
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));

    let (status, body) = h.redeem(&assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["sub"].as_str(), body["sid"].as_str()), (Some("alice"), Some(claims.sid.as_str())));
    let (status, body) = h.redeem(&assertion).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "assertion already used");

    let (status, body) = h.post("/v1/sso/refresh", Some(API_TOKEN), serde_json::json!({"session": claims.sid})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let renewed = body["assertion"].as_str().expect("a new assertion");
    assert!(body["expires_in"].as_i64().is_some_and(|s| (1..=60).contains(&s)));
    assert_ne!(verify(renewed).jti, claims.jti);
    assert_eq!(h.redeem(renewed).await.0, StatusCode::OK);
    let (status, _) = h.redeem(&assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the first assertion is void once refreshed");

    let out = h
        .http
        .get(format!(
            "{}/v1/sso/logout?session={}&redirect_url=https%3A%2F%2Fapp.example.com%2Fbye",
            h.base, claims.sid
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::FOUND);
    assert_eq!(
        location(&out),
        format!("{}/api/v1/logout?redirect_url=https%3A%2F%2Fapp.example.com%2Fbye", h.sim.base_url())
    );
    let (status, _) = h.post("/v1/sso/refresh", Some(API_TOKEN), serde_json::json!({"session": claims.sid})).await;
    assert_eq!(status, StatusCode::GONE, "a session that ended cannot be refreshed");

    let metrics = h.http.get(format!("{}/metrics", h.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("sso_logins_total{") && metrics.contains("outcome=\"success\""), "{metrics}");
}

#[tokio::test]
async fn a_user_signs_in_and_the_product_redeems_once_on_sqlite() {
    login_redeem_refresh_logout(Harness::sqlite().await).await;
}

#[tokio::test]
async fn a_user_signs_in_and_the_product_redeems_once_on_postgres() {
    let Ok(url) = std::env::var(koofill_testkit::DATABASE_URL_ENV) else {
        eprintln!("KOOFILL_TEST_DATABASE_URL is not set: PostgreSQL skipped");
        return;
    };
    if url.trim().is_empty() {
        return;
    }
    login_redeem_refresh_logout(Harness::on(TestDb::postgres(url.trim()).await).await).await;
}

#[tokio::test]
async fn refresh_after_the_user_was_revoked_is_refused_and_ends_the_session() {
    use koofill_store::{
        entities::directory_users::{self, DirectoryState},
        sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr},
    };
    let h = Harness::sqlite().await;
    let claims = verify(&h.login("t1", "app1", "alice").await);
    directory_users::Entity::update_many()
        .col_expr(directory_users::Column::State, Expr::value(DirectoryState::Revoked.as_str()))
        .filter(directory_users::Column::UserName.eq("alice"))
        .exec(h.db())
        .await
        .unwrap();
    let (status, body) = h.post("/v1/sso/refresh", Some(API_TOKEN), serde_json::json!({"session": claims.sid})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "user alice is not authorised for application app1");
    let (status, _) = h.post("/v1/sso/refresh", Some(API_TOKEN), serde_json::json!({"session": claims.sid})).await;
    assert_eq!(status, StatusCode::GONE);
    let (status, _) = h.post("/v1/sso/refresh", Some("wrong"), serde_json::json!({"session": claims.sid})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_landing_page_shows_a_verified_assertion_without_redeeming_it() {
    let h = Harness::sqlite().await;
    let assertion = h.login("t1", "app1", "alice").await;
    let page = h.http.get(format!("{}/v1/sso/assertion?assertion={assertion}", h.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Signed in") && html.contains("<td>alice</td>") && html.contains("<td>t1</td>"), "{html}");
    // Still redeemable once: the page only looked.
    assert_eq!(h.redeem(&assertion).await.0, StatusCode::OK);

    let mut forged = assertion.clone();
    forged.pop();
    forged.push(if assertion.ends_with('A') { 'B' } else { 'A' });
    let refused = h.http.get(format!("{}/v1/sso/assertion?assertion={forged}", h.base)).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let missing = h.http.get(format!("{}/v1/sso/assertion", h.base)).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
}
