//! Logins that must not succeed, each with a page saying why.

use reqwest::StatusCode;

use crate::support::{Harness, config};

async fn page(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn users_the_directory_does_not_authorise_are_refused_by_name() {
    let h = Harness::sqlite().await;
    for (user, why) in [
        ("bob", "user bob is not authorised for application app1"),
        ("dave", "user dave is disabled for application app1"),
        // Signed in at KooGallery under t1, authorised only under t2.
        ("mallory", "user mallory is not authorised for application app1"),
    ] {
        let (callback, cookie) = h.sign_in("t1", "app1", user).await;
        let (status, text) = page(h.callback(&callback, &cookie).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}: {text}");
        assert!(text.contains(why), "{user}: {text}");
    }

    let (status, text) =
        page(h.http.get(format!("{}/v1/sso/login?tenant=nobody&app=app1", h.base)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(text.contains("tenant nobody is not known"), "{text}");
    let (status, text) =
        page(h.http.get(format!("{}/v1/sso/login?tenant=t1&app=other", h.base)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(text.contains("application other is not active for tenant t1"), "{text}");
    let (status, _) = page(h.http.get(format!("{}/v1/sso/login", h.base)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_replayed_code_and_a_foreign_state_are_refused() {
    let h = Harness::sqlite().await;
    let (callback, cookie) = h.sign_in("t1", "app1", "alice").await;
    assert_eq!(h.callback(&callback, &cookie).await.status(), StatusCode::FOUND);
    let (status, text) = page(h.callback(&callback, &cookie).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("the login code was already used or expired (invalid_grant)"), "{text}");

    // Another browser's callback (its cookie is not ours): the state does not match.
    let (theirs, _) = h.sign_in("t1", "app1", "alice").await;
    let (_, mine) = h.sign_in("t1", "app1", "alice").await;
    let (status, text) = page(h.callback(&theirs, &mine).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("not started in this browser"), "{text}");
    let (status, _) = page(h.callback(&theirs, "koofill_sso_state=forged.value").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_wrong_client_secret_is_named_without_being_shown() {
    let h = Harness::sqlite().await;
    let (callback, cookie) = h.sign_in("t3", "app3", "carol").await;
    let (status, text) = page(h.callback(&callback, &cookie).await).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{text}");
    assert!(text.contains("KooGallery refused the client credentials (invalid_client)"), "{text}");
    let code = callback.split("code=").nth(1).and_then(|c| c.split('&').next()).unwrap();
    for secret in ["wrong", "secret-t3", code] {
        assert!(!text.contains(secret), "the page shows {secret}: {text}");
    }
}

#[tokio::test]
async fn a_missing_key_is_a_start_error_naming_it() {
    let nats = koofill_testkit::TestNats::start();
    let db = koofill_testkit::TestDb::sqlite();
    for (key, unset) in [
        ("sso.signing_key", (|c| c.sso.signing_key = None) as fn(&mut koofill_config::Config)),
        ("sso.public_url", |c| c.sso.public_url = None),
        ("sso.product_url", |c| c.sso.product_url = None),
        ("koogallery.client_secret_private_key", |c| c.koogallery.client_secret_private_key = None),
    ] {
        let mut cfg = config(&nats, &db, 0);
        unset(&mut cfg);
        let err = koofill_sso::Worker::build(&cfg, koofill_sso::BuildOptions::default()).await.expect_err(key);
        assert!(err.to_string().contains(key), "{err}");
    }
}
