//! `koofill dlq` talks to the NATS server `koofill dev` records, and says so when it is gone.

use std::collections::BTreeMap;

use koofill_bus::{Publisher, consumer::DeadLetter, names, topology};
use koofill_testkit::TestNats;

use crate::dev_folder::DevFolder;

const PREFIX: &str = "koofill";

/// Creates the streams and stores one dead letter, as a worker would have.
async fn one_dead_letter(nats: &TestNats) {
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let opts = topology::TopologyOptions {
        prefix: PREFIX.into(),
        replicas: 1,
        clock_skew: std::time::Duration::from_secs(60),
    };
    topology::ensure(&js, &opts).await.expect("topology");
    let letter = DeadLetter {
        consumer: "provisioning-saas".into(),
        stream: names::stream(PREFIX, names::INBOUND),
        subject: format!("{PREFIX}.inbound.saas.newInstance"),
        stream_sequence: 7,
        delivered: 3,
        error: "order GENPOISON is unknown".into(),
        retryable: false,
        headers: BTreeMap::from([("Nats-Msg-Id".to_owned(), "newInstance:GENPOISON:1".to_owned())]),
        payload_base64: String::new(),
        failed_at: chrono::Utc::now(),
    };
    let payload = serde_json::to_vec(&letter).expect("encode");
    Publisher::new(js, std::time::Duration::from_secs(2))
        .publish_raw(&names::dlq(PREFIX, &letter.consumer), &letter.msg_id(), Default::default(), payload.into())
        .await
        .expect("publish");
}

#[tokio::test]
async fn dlq_list_reads_the_dev_nats_server() {
    let nats = TestNats::start();
    one_dead_letter(&nats).await;
    let folder = DevFolder::new();
    folder.record(Some(&nats.url()), None, false);

    let run = folder.koofill(&["dlq", "list"], &[]).await;

    assert!(run.ok(), "{}", run.stderr());
    assert!(run.stdout().contains("newInstance:GENPOISON:1"), "{}", run.stdout());
    assert!(run.stdout().contains("1 dead letter(s)"), "{}", run.stdout());
}

#[tokio::test]
async fn a_dev_nats_server_that_is_gone_is_blamed_on_the_state_file() {
    let folder = DevFolder::new();
    // A port nothing listens on, as after `koofill dev` was killed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    folder.record(Some(&format!("nats://127.0.0.1:{port}")), None, false);

    let run = folder.koofill(&["dlq", "list"], &[("KOOFILL__NATS__CONNECT_TIMEOUT_MS", "300")]).await;

    assert!(!run.ok());
    assert!(run.stderr().contains(".koofill/dev.toml") && run.stderr().contains("start it again"), "{}", run.stderr());
}

#[tokio::test]
async fn a_stopped_dev_is_reported_without_trying_its_nats_server() {
    let folder = DevFolder::new();
    folder.record(Some("nats://127.0.0.1:9"), None, true);

    let run = folder.koofill(&["dlq", "list"], &[]).await;

    assert!(!run.ok());
    assert!(run.stderr().contains("koofill dev stopped"), "{}", run.stderr());
}
