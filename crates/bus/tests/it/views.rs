use chrono::Utc;
use koofill_bus::views::{InstanceState, InstanceView, InstanceViews, NonceCache};
use koofill_model::{InstanceId, OrderId, OrderLineId};

use crate::{PREFIX, bus, stall::StallProxy};

#[tokio::test]
async fn a_nonce_is_accepted_once_per_channel() {
    let (_nats, bus) = bus().await;
    let nonces = NonceCache::open(&bus.js, PREFIX).await.unwrap();
    assert!(nonces.claim("basic", "50D83FDECAED6CCD").await.unwrap());
    assert!(!nonces.claim("basic", "50D83FDECAED6CCD").await.unwrap());
    assert!(nonces.claim("kit", "50D83FDECAED6CCD").await.unwrap());
    // Any characters are fine: the key is a hash.
    assert!(nonces.claim("basic", "a b/c*>.").await.unwrap());
    // A second handle (another replica) sees the same cache.
    let other = NonceCache::open(&bus.js, PREFIX).await.unwrap();
    assert!(!other.claim("basic", "a b/c*>.").await.unwrap());
}

fn view(state: InstanceState) -> InstanceView {
    let order = OrderId::new("CS2211181819B4LVS");
    let line = OrderLineId::new("CS2211181819B4LVS-000001");
    InstanceView {
        instance_id: InstanceId::for_order_line(&order, &line),
        order_id: order,
        order_line_id: line,
        state,
        test: true,
        app_info: None,
        usage_info: None,
        updated_at: Utc::now(),
    }
}

#[tokio::test]
async fn put_writes_the_view_and_ids_that_cannot_be_keys_are_unknown() {
    let (_nats, bus) = bus().await;
    let views = InstanceViews::open(&bus.js, PREFIX).await.unwrap();
    let active = view(InstanceState::Active);
    let id = active.instance_id.as_str().to_owned();
    assert!(views.get(&id).await.unwrap().is_none());
    views.put(&view(InstanceState::Provisioning)).await.unwrap();
    views.put(&active).await.unwrap();
    assert_eq!(views.get(&id).await.unwrap().unwrap().state, InstanceState::Active);

    // Ids that cannot be keys were never written: unknown, not an error.
    assert!(views.get("with space").await.unwrap().is_none());
    assert!(views.get("").await.unwrap().is_none());
}

#[tokio::test]
async fn the_nonce_bucket_comes_back_after_a_server_restart() {
    let (mut nats, bus) = bus().await;
    let nonces = NonceCache::open(&bus.js, PREFIX).await.unwrap();
    assert!(nonces.claim("basic", "before-restart").await.unwrap());
    nats.stop();
    nats.restart();
    // The memory-backed bucket is gone with the restart; the first claim recreates it.
    let mut claimed = None;
    for _ in 0..50 {
        match nonces.claim("basic", "after-restart").await {
            Ok(fresh) => {
                claimed = Some(fresh);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    assert_eq!(claimed, Some(true));
    assert!(!nonces.claim("basic", "after-restart").await.unwrap());
}

/// A claim whose first write times out while the network holds it, and lands once the network
/// heals — before the claim's retry — is this request's own write, not a replay: the answer is a
/// success or an error (`000005`), never "nonce already used" (`000001`).
#[tokio::test]
async fn a_claim_whose_own_late_write_landed_first_is_not_a_replay() {
    let (nats, bus) = bus().await;
    let target: std::net::SocketAddr = format!("127.0.0.1:{}", nats.port()).parse().unwrap();
    let proxy = StallProxy::start(target).await;
    let timeout = std::time::Duration::from_millis(500);
    let through = koofill_bus::connect(&format!("nats://{}", proxy.addr), PREFIX, "stall", timeout, timeout, true)
        .await
        .expect("connects through the proxy");
    let nonces = NonceCache::open(&through.js, PREFIX).await.unwrap();
    assert!(nonces.claim("basic", "warm-up").await.unwrap());

    proxy.stalled.send_replace(true);
    let claiming = tokio::spawn(async move { nonces.claim("basic", "held-by-the-network").await });
    // The first write times out (500 ms); the network heals while the claim recovers.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    proxy.stalled.send_replace(false);
    let answer = claiming.await.unwrap();
    assert!(!matches!(answer, Ok(false)), "the request's own write was taken for a replay");

    // The nonce is taken now, and a real replay is still refused, from any replica.
    let other = NonceCache::open(&bus.js, PREFIX).await.unwrap();
    assert!(!other.claim("basic", "held-by-the-network").await.unwrap());
}
