use chrono::Utc;
use koofill_bus::views::{InstanceState, InstanceView, InstanceViews, NonceCache};
use koofill_model::{InstanceId, OrderId, OrderLineId};

use crate::{PREFIX, bus};

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
async fn create_never_overwrites_and_put_does() {
    let (_nats, bus) = bus().await;
    let views = InstanceViews::open(&bus.js, PREFIX).await.unwrap();
    let active = view(InstanceState::Active);
    let id = active.instance_id.as_str().to_owned();
    assert!(views.get(&id).await.unwrap().is_none());
    views.put(&active).await.unwrap();
    assert!(!views.create(&view(InstanceState::Accepted)).await.unwrap(), "a later state is kept");
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
