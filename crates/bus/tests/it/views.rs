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
