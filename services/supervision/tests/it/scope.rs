//! Which orders get a case (spec §10.1).

use koofill_model::DomainEvent;
use koofill_supervision::state::Action;

use crate::support::{MANUAL, SAAS, TestSup, t0};

#[tokio::test]
async fn an_unsupervised_saas_order_opens_no_case() {
    let t = TestSup::start().await;
    t.record_order("CS-SAAS", SAAS, "NEW", t0()).await;
    t.order_received("CS-SAAS").await;
    assert!(t.sup().list(None, None).await.unwrap().is_empty());
    assert!(t.sup().settlement().await.unwrap().is_empty());
    assert!(t.events("supervision.>").await.is_empty());
}

#[tokio::test]
async fn a_renewal_of_a_completed_order_opens_no_case() {
    let t = TestSup::start().await;
    let id = t.open("CS-FIRST", MANUAL, t0()).await.case.id;
    for action in [Action::Confirm, Action::Deliver, Action::Complete, Action::Accept, Action::Complete] {
        t.act(id, action, None).await;
    }
    t.record_order("CS-RENEW", MANUAL, "RENEW", t0() + chrono::Duration::days(30)).await;
    t.order_received("CS-RENEW").await;

    let cases = t.sup().list(None, None).await.unwrap();
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!((cases[0].order_id.as_str(), cases[0].state.as_str()), ("CS-FIRST", "completed"));
    assert!(t.sup().settlement().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_redelivered_order_notice_opens_one_case() {
    let t = TestSup::start().await;
    t.open("CS-TWICE", MANUAL, t0()).await;
    // Redelivered under a new stream id (beyond the duplicate window): still one case.
    let event = DomainEvent::OrderReceived {
        order_id: "CS-TWICE".into(),
        order_line_id: "CS-TWICE-1".into(),
        order_type: None,
    };
    t.publish("orderNotify:CS-TWICE", "again", event).await;
    t.worker.drain().await.unwrap();
    assert_eq!(t.sup().list(None, None).await.unwrap().len(), 1);
    assert_eq!(t.events("supervision.opened").await.len(), 1);
}
