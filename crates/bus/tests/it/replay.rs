//! The replay guard of the ingress: a request's nonce is claimed by the write that stores it.

use std::time::Duration;

use koofill_bus::{
    Once, Publisher, names, replay_key,
    views::{InstanceState, InstanceViews},
};
use koofill_model::{BasicRequest, Envelope, InboundCallback};
use koofill_testkit::{
    inbound::{basic_envelope, fresh_identity},
    spec_example,
};

use crate::{PREFIX, bus, stall::StallProxy};

fn new_instance() -> (BasicRequest, Envelope<InboundCallback>) {
    let body = spec_example("newInstance");
    let request = BasicRequest::from_value(&body).unwrap();
    let (ts, nonce) = fresh_identity();
    let env = basic_envelope(&request, body, &ts, &nonce).unwrap();
    (request, env)
}

fn subject() -> String {
    names::inbound(PREFIX, koofill_model::Family::Saas, "newInstance")
}

#[tokio::test]
async fn a_key_is_stored_once_and_every_later_use_is_a_replay_from_any_replica() {
    let (nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let (_, env) = new_instance();
    let key = replay_key("basic", "50D83FDECAED6CCD");
    assert_eq!(publisher.publish_once(&subject(), &env, &key).await.unwrap(), Once::Stored);
    assert_eq!(publisher.publish_once(&subject(), &env, &key).await.unwrap(), Once::Replayed);
    // Another channel, another key: the Kit and basic key rings do not share nonces.
    let kit = replay_key("kit", "50D83FDECAED6CCD");
    assert_ne!(kit, key);
    assert_eq!(publisher.publish_once(&subject(), &env, &kit).await.unwrap(), Once::Stored);
    // Any characters are fine in a nonce: the key is a hash.
    let odd = replay_key("basic", "a b/c*>.\r\n");
    assert_eq!(publisher.publish_once(&subject(), &env, &odd).await.unwrap(), Once::Stored);

    // A second connection (another ingress replica) sees the same guard.
    let other =
        koofill_bus::connect(&nats.url(), PREFIX, "other", Duration::from_secs(2), Duration::from_secs(2), true)
            .await
            .unwrap();
    let other = Publisher::new(other.js, Duration::from_secs(2));
    assert_eq!(other.publish_once(&subject(), &env, &key).await.unwrap(), Once::Replayed);
}

/// The server rebuilds its duplicate table from the stored messages, so a restart (which used
/// to empty the memory-backed nonce bucket) forgets no nonce.
#[tokio::test]
async fn the_guard_survives_a_server_restart() {
    let (mut nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let (_, env) = new_instance();
    let key = replay_key("basic", "before-restart");
    assert_eq!(publisher.publish_once(&subject(), &env, &key).await.unwrap(), Once::Stored);
    nats.stop();
    nats.restart();
    let mut after = None;
    for _ in 0..100 {
        match publisher.publish_once(&subject(), &env, &key).await {
            Ok(once) => {
                after = Some(once);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(after, Some(Once::Replayed), "a replay after the restart must still be refused");
    let fresh = replay_key("basic", "after-restart");
    assert_eq!(publisher.publish_once(&subject(), &env, &fresh).await.unwrap(), Once::Stored);
}

/// A first attempt that times out while the network holds it, and lands once the network heals
/// — before the retry — is this request's own write, not a replay: the answer is stored or an
/// error (`000005`), never "nonce already used" (`000001`).
#[tokio::test]
async fn a_publish_whose_own_late_write_landed_first_is_not_a_replay() {
    let (nats, bus) = bus().await;
    let target: std::net::SocketAddr = format!("127.0.0.1:{}", nats.port()).parse().unwrap();
    let proxy = StallProxy::start(target).await;
    let timeout = Duration::from_millis(500);
    let through = koofill_bus::connect(&format!("nats://{}", proxy.addr), PREFIX, "stall", timeout, timeout, true)
        .await
        .expect("connects through the proxy");
    let publisher = Publisher::new(through.js.clone(), Duration::from_secs(4));
    let (_, env) = new_instance();
    assert_eq!(publisher.publish_once(&subject(), &env, &replay_key("basic", "warm-up")).await.unwrap(), Once::Stored);

    proxy.stalled.send_replace(true);
    let key = replay_key("basic", "held-by-the-network");
    let publishing = {
        let (env, key) = (env.clone(), key.clone());
        tokio::spawn(async move { publisher.publish_once(&subject(), &env, &key).await })
    };
    // The first attempt times out (500 ms); the network heals while the publisher retries.
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.stalled.send_replace(false);
    let answer = publishing.await.unwrap();
    assert!(!matches!(answer, Ok(Once::Replayed)), "the request's own write was taken for a replay");

    // The key is taken now, and a real replay is still refused.
    let direct = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    assert_eq!(direct.publish_once(&subject(), &env, &key).await.unwrap(), Once::Replayed);
}

/// Until provisioning writes an instance's view, its stored newInstance callback answers for it.
#[tokio::test]
async fn a_stored_new_instance_is_an_accepted_view_until_provisioning_writes_one() {
    let (_nats, bus) = bus().await;
    let views = InstanceViews::open(&bus.js, PREFIX).await.unwrap();
    let (request, env) = new_instance();
    let BasicRequest::NewInstance(r) = &request else { unreachable!() };
    let id = r.instance_id();
    assert!(views.get(id.as_str()).await.unwrap().is_none(), "nothing stored yet");

    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let subject = names::inbound_new_instance(PREFIX, id.as_str());
    assert_eq!(publisher.publish_once(&subject, &env, &replay_key("basic", "n-1")).await.unwrap(), Once::Stored);
    let accepted = views.get(id.as_str()).await.unwrap().expect("known from the stored callback");
    assert_eq!(accepted.state, InstanceState::Accepted);
    assert_eq!(accepted.instance_id, id);
    assert_eq!(accepted.order_id, r.order_id);
    assert_eq!(accepted.order_line_id, r.order_line_id);
    assert_eq!(accepted.test, r.is_test());

    // Provisioning's view takes over.
    let active = koofill_bus::views::InstanceView { state: InstanceState::Active, ..accepted };
    views.put(&active).await.unwrap();
    assert_eq!(views.get(id.as_str()).await.unwrap().unwrap().state, InstanceState::Active);

    // Another instance's callback says nothing of this one; ids that cannot be subjects are unknown.
    assert!(views.get("00000000-0000-0000-0000-000000000000").await.unwrap().is_none());
    assert!(views.get("a*").await.unwrap().is_none());
}
