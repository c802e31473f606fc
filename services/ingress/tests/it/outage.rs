//! NATS going away and coming back.

use std::time::{Duration, Instant};

use koofill_testkit::spec_example;
use serde_json::json;

use crate::{BASIC_KEY, TestApp};

#[tokio::test]
async fn nats_down_answers_000005_in_time_and_recovers_without_restart() {
    let mut app = TestApp::spawn().await;
    assert_eq!(app.client.send_basic(&spec_example("orderNotify")).await.result_code(), "000000");

    app.nats.stop();
    let started = Instant::now();
    let mut body = spec_example("orderNotify");
    body["orderId"] = json!("CS0000000000DOWN");
    let reply = app.client.send_basic(&body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.result_code(), "000005", "{}", reply.text());
    assert!(reply.verify_body_sign(BASIC_KEY.as_bytes()));
    assert!(started.elapsed() < Duration::from_secs(5), "answered within KooGallery's 5 s: {:?}", started.elapsed());
    let ready = reqwest::get(format!("{}/readyz", app.root_url)).await.unwrap().status();
    assert_eq!(ready, 503);

    app.nats.restart();
    let mut last = String::new();
    for _ in 0..60 {
        let reply = app.client.send_basic(&body).await;
        if reply.result_code() == "000000" {
            // The stream survived (file store) and holds both answered callbacks. The one
            // answered 000005 may have been stored too, once the client flushed its buffer: it
            // carries the dedup id of the resend, so the workers' inbox collapses the two.
            let ids: Vec<String> = app.inbound().await.into_iter().map(|(id, _)| id).collect();
            assert!((2..=3).contains(&ids.len()), "{ids:?}");
            assert_eq!(ids[0], "test:orderNotify:CS2211181819B4LVS:CS2211181819B4LVS-000001");
            assert!(ids[1..].iter().all(|id| id == "test:orderNotify:CS0000000000DOWN:CS2211181819B4LVS-000001"));
            return;
        }
        last = reply.text();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("answers did not resume after NATS came back: {last}");
}
