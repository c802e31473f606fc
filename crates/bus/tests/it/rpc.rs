use std::time::{Duration, Instant};

use koofill_bus::{BusError, rpc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::bus;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Ask {
    n: u32,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Answer {
    double: u32,
}

#[tokio::test]
async fn request_reply_roundtrip_and_no_responder() {
    let (_nats, bus) = bus().await;
    let shutdown = CancellationToken::new();
    tokio::spawn(rpc::serve_json(
        bus.client.clone(),
        "koofill.rpc.test.double".into(),
        "test".into(),
        |a: Ask| async move { Answer { double: a.n * 2 } },
        shutdown.clone(),
    ));
    // The subscription is asynchronous; retry until it answers.
    let mut reply = None;
    for _ in 0..50 {
        if let Ok(r) = rpc::request_json::<_, Answer>(
            &bus.client,
            "koofill.rpc.test.double",
            &Ask { n: 21 },
            Duration::from_millis(200),
        )
        .await
        {
            reply = Some(r);
            break;
        }
    }
    assert_eq!(reply, Some(Answer { double: 42 }));

    let started = Instant::now();
    let err =
        rpc::request_json::<_, Answer>(&bus.client, "koofill.rpc.nobody", &Ask { n: 1 }, Duration::from_secs(2)).await;
    assert!(matches!(err, Err(BusError::NoReply { .. })), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    shutdown.cancel();
}
