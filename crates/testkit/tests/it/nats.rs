use std::{
    net::{Ipv4Addr, TcpListener, TcpStream},
    panic::{AssertUnwindSafe, catch_unwind},
    time::Duration,
};

use async_nats::jetstream::{self, stream};
use koofill_testkit::TestNats;

/// Bounds every network wait, so a broken server fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

fn stream_config(name: &str) -> stream::Config {
    stream::Config { name: name.to_owned(), subjects: vec![format!("{}.>", name.to_lowercase())], ..Default::default() }
}

fn accepts_tcp(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[tokio::test]
async fn starts_with_jetstream_on_its_own_port() {
    let nats = TestNats::start();
    assert_eq!(nats.url(), format!("nats://127.0.0.1:{}", nats.port()));
    assert_ne!(nats.port(), 4222, "never the machine's own NATS");

    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = jetstream::new(client);
    let mut created = js.create_stream(stream_config("ORDERS")).await.expect("JetStream is enabled");
    js.publish("orders.new", "one".into()).await.expect("publish").await.expect("PubAck");
    assert_eq!(created.info().await.expect("stream info").state.messages, 1);
}

#[tokio::test]
async fn stop_refuses_connections_and_restart_keeps_the_store() {
    let mut nats = TestNats::start();
    let port = nats.port();
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    js.create_stream(stream_config("KEEP")).await.expect("create stream");
    js.publish("keep.a", "kept".into()).await.expect("publish").await.expect("PubAck");

    nats.stop();
    assert!(!nats.is_running());
    assert!(!accepts_tcp(port), "stopped server still accepts connections");
    let refused = tokio::time::timeout(WAIT, async_nats::connect(nats.url())).await.expect("connect gives up");
    assert!(refused.is_err(), "connected to a stopped server");

    nats.restart();
    assert_eq!(nats.port(), port, "restart keeps the port");
    assert!(nats.is_running());

    // A fresh client sees the stream and its message again.
    let fresh = jetstream::new(async_nats::connect(nats.url()).await.expect("connect after restart"));
    let mut kept = fresh.get_stream("KEEP").await.expect("stream survived the restart");
    assert_eq!(kept.info().await.expect("stream info").state.messages, 1);

    // The client connected before the outage reconnects by itself.
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(ack) = js.publish("keep.b", "after".into()).await
                && ack.await.is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the old client publishes again after the restart");
    assert_eq!(kept.info().await.expect("stream info").state.messages, 2);
}

#[tokio::test]
async fn servers_run_side_by_side_and_apart() {
    let a = TestNats::start();
    let b = TestNats::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.store_dir(), b.store_dir());

    let js_a = jetstream::new(async_nats::connect(a.url()).await.expect("connect a"));
    let js_b = jetstream::new(async_nats::connect(b.url()).await.expect("connect b"));
    js_a.create_stream(stream_config("ONLYA")).await.expect("create on a");
    assert!(js_b.get_stream("ONLYA").await.is_err(), "b sees a's stream");
}

#[test]
fn drop_kills_the_server_and_removes_the_store() {
    let nats = TestNats::start();
    let (port, dir) = (nats.port(), nats.store_dir().to_owned());
    assert!(accepts_tcp(port));
    assert!(nats.log_tail().contains("Server is ready"), "log: {}", nats.log_tail());
    drop(nats);
    assert!(!accepts_tcp(port));
    assert!(!dir.exists());
}

#[test]
fn restart_on_a_taken_port_fails_with_the_log() {
    let mut nats = TestNats::start();
    nats.stop();
    let _squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, nats.port())).expect("take the port");
    let panic = catch_unwind(AssertUnwindSafe(|| nats.restart())).expect_err("restart on a taken port");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("exited on restart"), "{message}");
    assert!(message.contains("address already in use"), "the log tail is quoted: {message}");
}
