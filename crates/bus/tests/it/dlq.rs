//! Reading dead letters back by their sequence, and redriving them exactly once.

use std::{collections::BTreeMap, time::Duration};

use async_nats::HeaderMap;
use base64::{Engine, engine::general_purpose::STANDARD};
use koofill_bus::{Bus, Publisher, consumer::DeadLetter, dlq, names};
use koofill_model::Family;

use crate::{PREFIX, bus};

/// Stores a dead letter for a message on `subject`, as the runner would.
async fn dead_letter(publisher: &Publisher, subject: &str, msg_id: Option<&str>, stream_sequence: u64) {
    let letter = DeadLetter {
        consumer: "provisioning-saas".into(),
        stream: names::stream(PREFIX, names::INBOUND),
        subject: subject.into(),
        stream_sequence,
        delivered: 1,
        error: "poison".into(),
        retryable: false,
        headers: msg_id.map(|id| BTreeMap::from([(dlq::MSG_ID.to_owned(), id.to_owned())])).unwrap_or_default(),
        payload_base64: STANDARD.encode(b"{\"n\":1}"),
        failed_at: chrono::Utc::now(),
    };
    let payload = serde_json::to_vec(&letter).unwrap();
    publisher
        .publish_raw(&names::dlq(PREFIX, &letter.consumer), &letter.msg_id(), HeaderMap::new(), payload.into())
        .await
        .unwrap();
}

async fn inbound_messages(bus: &Bus) -> u64 {
    let mut stream = bus.js.get_stream(names::stream(PREFIX, names::INBOUND)).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn dead_letters_are_listed_read_and_redriven_once() {
    let (_nats, bus) = bus().await;
    let publisher = Publisher::new(bus.js.clone(), Duration::from_secs(2));
    let subject = names::inbound(PREFIX, Family::Saas, "newInstance");
    // The original is still in the stream's dedup window, as right after a poison message.
    publisher.publish_raw(&subject, "job-1", HeaderMap::new(), "{\"n\":1}".into()).await.unwrap();
    dead_letter(&publisher, &subject, Some("job-1"), 1).await;
    dead_letter(&publisher, &subject, None, 2).await;

    let letters = dlq::list(&bus).await.unwrap();
    assert_eq!(letters.len(), 2);
    let first = letters[0].seq;
    assert_eq!(dlq::get(&bus, first).await.unwrap().unwrap().letter.headers[dlq::MSG_ID], "job-1");
    assert!(dlq::get(&bus, 999).await.unwrap().is_none(), "a sequence never written is absent, not an error");

    let report = dlq::redrive(&bus, &publisher, first).await.unwrap();
    assert!(report.renamed, "the original id is still remembered, so a derived one is used");
    assert_eq!(report.msg_id, format!("job-1:redrive:{first}"));
    assert_eq!(inbound_messages(&bus).await, 2, "the redrive was stored");
    assert!(dlq::get(&bus, first).await.unwrap().is_none(), "a redriven letter is deleted");
    assert_eq!(dlq::list(&bus).await.unwrap().len(), 1);
    assert!(dlq::redrive(&bus, &publisher, first).await.is_err(), "nothing to redrive twice");
}
