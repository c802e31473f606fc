//! The bus envelope and the inbound callback data.

use chrono::{DateTime, Utc};
use koofill_model::envelope::INGRESS_SOURCE;
use koofill_model::{
    BasicRequest, DomainEvent, Envelope, Family, InboundCallback, InstanceId, KitInterface, KitRequest, OrderId,
    RequestIdentity,
};
use serde_json::json;

use crate::common::{fixture, json};

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-11-21T09:08:46Z").expect("a valid time").with_timezone(&Utc)
}

#[test]
fn envelope_field_names_are_fixed() {
    let env = Envelope::new("id-1", "instance.active", "provisioning", at(), true, json!({"k": 1}));
    assert_eq!(
        serde_json::to_value(&env).unwrap(),
        json!({
            "id": "id-1", "type": "instance.active", "version": 1, "occurred_at": "2024-11-21T09:08:46Z",
            "source": "provisioning", "test": true, "data": {"k": 1}
        })
    );
}

#[test]
fn new_instance_callbacks_carry_the_answered_instance_id() {
    let body = json("basic-new-instance.json");
    let request = BasicRequest::parse(&fixture("basic-new-instance.json")).unwrap();
    let env = Envelope::inbound_basic(&request, body.clone(), at(), "ingress").unwrap();
    assert_eq!(env.id, "test:newInstance:CS2211181819B4LVS:CS2211181819B4LVS-000001");
    assert_eq!(env.r#type, "inbound.newInstance");
    assert!(env.test);
    assert_eq!(env.data.family, Family::Saas);
    assert_eq!(env.data.subject_suffix(), "saas.newInstance");
    assert_eq!(
        env.data.instance_id,
        Some(InstanceId::for_order_line(&"CS2211181819B4LVS".into(), &"CS2211181819B4LVS-000001".into()))
    );
    assert_eq!(env.data.body, body);

    let wire = serde_json::to_string(&env).unwrap();
    let back: Envelope<InboundCallback> = serde_json::from_str(&wire).unwrap();
    assert_eq!(back, env);
    assert_eq!(back.data.basic_request().unwrap(), request);
    assert!(back.data.kit_request().is_none());
}

#[test]
fn synchronous_activities_are_not_published() {
    let request = BasicRequest::parse(&fixture("basic-query-instance.json")).unwrap();
    assert!(Envelope::inbound_basic(&request, json("basic-query-instance.json"), at(), "ingress").is_none());
}

#[test]
fn license_and_order_callbacks_go_to_their_families() {
    for (name, subject) in [
        ("basic-order-notify.json", "order.orderNotify"),
        ("basic-release-license-code.json", "license.releaseLicenseCode"),
        ("basic-update-instance-status.json", "saas.updateInstanceStatus"),
    ] {
        let request = BasicRequest::parse(&fixture(name)).unwrap();
        let env = Envelope::inbound_basic(&request, json(name), at(), "ingress").unwrap();
        assert_eq!(env.data.subject_suffix(), subject);
        assert_eq!(env.data.instance_id, None);
    }
}

#[test]
fn kit_callbacks() {
    let request = KitRequest::parse(KitInterface::AllOrgSync, &fixture("kit-all-org-sync.json")).unwrap();
    let env = Envelope::inbound_kit(&request, json("kit-all-org-sync.json"), at(), "ingress");
    assert_eq!(env.id, request.dedup_id());
    assert!(!env.test);
    assert_eq!(env.r#type, "inbound.allOrgSync");
    assert_eq!(env.data.subject_suffix(), "kit.allOrgSync");
    assert_eq!(env.data.kit_interface, Some(KitInterface::AllOrgSync));
    let value = serde_json::to_value(&env).unwrap();
    assert_eq!(value["data"]["kit_interface"], "allOrgSync");
    let back: Envelope<InboundCallback> = serde_json::from_value(value).unwrap();
    assert_eq!(back.data.kit_request().unwrap().unwrap(), request);
}

#[test]
fn event_envelopes_are_typed_by_subject_suffix() {
    let event =
        DomainEvent::InstanceReleased { instance_id: InstanceId::from("i-1"), order_id: Some(OrderId::from("CS1")) };
    let env = Envelope::event("test:releaseInstance:i-1:released", "provisioning", at(), true, event.clone());
    assert_eq!(env.r#type, "instance.released");
    let value = serde_json::to_value(&env).unwrap();
    assert_eq!(value["data"]["type"], "instance.released");
    let back: Envelope<DomainEvent> = serde_json::from_value(value).unwrap();
    assert_eq!(back.data, event);
}

#[test]
fn callbacks_carry_the_signed_request_time_not_the_receive_time() {
    // Signed 40 s before it was received (inside the 60 s window), in milliseconds.
    let signed = at() - chrono::Duration::seconds(40);
    let identity = RequestIdentity::new(signed.timestamp_millis().to_string(), "N1");
    let name = "basic-update-instance-status.json";
    let request = BasicRequest::parse(&fixture(name)).unwrap();
    let env = Envelope::basic_callback(&request, json(name), &identity, at()).unwrap();
    assert_eq!(env.requested_at, Some(signed));
    assert_eq!(env.request_time(), signed);
    assert_eq!((env.occurred_at, env.data.received_at), (at(), at()));
    assert_eq!(env.source, INGRESS_SOURCE);
    assert_eq!(env.id, format!("{}:{}:N1", request.dedup_id().unwrap(), signed.timestamp_millis()));

    // Kit: `x-timestamp`, here in seconds; not the body's `timeStamp`.
    let identity = RequestIdentity::new(signed.timestamp().to_string(), "N2");
    let request = KitRequest::parse(KitInterface::TenantSync, &fixture("kit-tenant-sync.json")).unwrap();
    let env = Envelope::kit_callback(&request, json("kit-tenant-sync.json"), &identity, at());
    assert_eq!(env.requested_at, Some(signed));
    assert_eq!(env.id, format!("{}:{}:N2", request.dedup_id(), signed.timestamp()));
    let value = serde_json::to_value(&env).unwrap();
    assert_eq!(value["requested_at"], "2024-11-21T09:08:06Z");
    let back: Envelope<InboundCallback> = serde_json::from_value(value).unwrap();
    assert_eq!(back, env);
}

#[test]
fn messages_without_a_request_time_are_ordered_by_occurrence_and_still_decode() {
    // As published before `requested_at` existed: no such field.
    let old = json!({
        "id": "releaseInstance:i-1", "type": "inbound.releaseInstance", "version": 1,
        "occurred_at": "2024-11-21T09:08:46Z", "source": "ingress", "test": false,
        "data": {"activity": "releaseInstance", "family": "saas", "received_at": "2024-11-21T09:08:46Z",
                 "body": {"activity": "releaseInstance", "instanceId": "i-1"}}
    });
    let env: Envelope<InboundCallback> = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(env.requested_at, None);
    assert_eq!(env.request_time(), at());
    // And written back the same: `None` is left out.
    assert_eq!(serde_json::to_value(&env).unwrap(), old);
}
