//! The worker killed mid-transition, then started again on the same nats-server and database:
//! the redelivered event takes no second step, and a reminder committed (or even published)
//! before the kill goes out once.
//!
//! A kill is made deterministic by splitting the worker's work where a crash would: the
//! worker's own handler runs on a message fetched from its durable consumer and commits, and
//! the message is then left unacknowledged while the whole worker is dropped. JetStream
//! redelivers it to the fresh worker once `ack_wait` (2 s in these tests) runs out.

use std::time::Duration as StdDuration;

use async_nats::jetstream::consumer::{Info, PullConsumer};
use chrono::{Duration, Utc};
use futures::StreamExt;
use koofill_bus::{
    consumer::{Attempt, ConsumerPolicy, Delivery, Handler},
    names,
};
use koofill_model::{DomainEvent, Envelope};
use koofill_store::{
    entities::{instances::InstanceState, outbox},
    outbox::pending_count,
    sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr},
};
use koofill_supervision::{StartError, handler::EventHandler, state::Action};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::{LICENSE, MANUAL, PREFIX, TestSup, at, t0};

/// How long the restarted worker gets to settle everything (redelivery comes after 2 s).
const SETTLE_WITHIN: StdDuration = StdDuration::from_secs(30);

impl TestSup {
    async fn durable(&self) -> PullConsumer {
        let js = &self.worker.host().bus().js;
        let stream = js.get_stream(names::stream(PREFIX, names::EVENTS)).await.unwrap();
        stream.get_consumer(koofill_supervision::handler::CONSUMER).await.unwrap()
    }

    async fn durable_info(&self) -> Info {
        self.durable().await.get_info().await.unwrap()
    }

    /// Publishes `event` and kills the worker in the middle of handling it: the worker's handler
    /// commits the transition and its events, then nothing is acknowledged or published.
    async fn handle_then_die(&self, envelope_id: &str, event: DomainEvent) {
        self.settle().await;
        self.publish(envelope_id, &format!("{envelope_id}:first"), event).await;
        let mut batch =
            self.durable().await.fetch().max_messages(1).expires(StdDuration::from_secs(5)).messages().await.unwrap();
        let msg = batch.next().await.expect("the event is delivered").unwrap();
        let info = msg.info().unwrap();
        let delivery = Delivery {
            msg: serde_json::from_slice::<Envelope<Value>>(&msg.payload).unwrap(),
            subject: msg.subject.to_string(),
            headers: msg.headers.clone(),
            stream_sequence: info.stream_sequence,
            attempt: Attempt::new(
                info.delivered,
                Utc::now(),
                Utc::now(),
                &ConsumerPolicy::from_config(&self.cfg.consumer),
            ),
        };
        assert_eq!(delivery.msg.id, envelope_id, "the fetched message is the one just published");
        EventHandler { supervision: self.sup().clone() }.handle(&delivery).await.unwrap();
        // Dropped unacknowledged: the ack, and the relay round after the commit, never happen.
        drop(msg);
        assert_eq!(self.durable_info().await.num_ack_pending, 1);
    }

    /// Runs the worker as `koofill serve supervision` does.
    fn run(&self) -> (CancellationToken, JoinHandle<Result<(), StartError>>) {
        let shutdown = CancellationToken::new();
        let worker = self.worker.clone();
        let running = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { worker.run(shutdown).await }
        });
        (shutdown, running)
    }

    /// Waits until the running worker has acknowledged every message and published its outbox.
    async fn wait_until_settled(&self) {
        let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
        loop {
            let info = self.durable_info().await;
            let outbox = pending_count(self.sup().db()).await.unwrap();
            if info.num_pending == 0 && info.num_ack_pending == 0 && outbox == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not settled within {SETTLE_WITHIN:?}: {} pending, {} unacknowledged, {outbox} unpublished",
                info.num_pending,
                info.num_ack_pending
            );
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
    }

    /// Restarts the killed worker, lets it run until everything is settled, and stops it.
    async fn restart_and_settle(self) -> Self {
        let t = self.restart().await;
        let (shutdown, running) = t.run();
        t.wait_until_settled().await;
        shutdown.cancel();
        running.await.unwrap().unwrap();
        t
    }
}

fn steps_named(case: &koofill_supervision::CaseDetail, action: &str) -> usize {
    case.steps.iter().filter(|s| s.action == action).count()
}

#[tokio::test]
async fn a_license_activation_committed_but_not_acknowledged_passes_its_node_once() {
    let t = TestSup::start().await;
    let id = t.open("CS-KILL-LIC", LICENSE, t0()).await.case.id;
    let activated_at = at("2025-01-11T15:30:00+08:00");
    let activation = DomainEvent::LicenseActivated {
        license_code: "LIC-KILL".into(),
        order_id: "CS-KILL-LIC".into(),
        order_line_id: "CS-KILL-LIC-1".into(),
        activated_at,
    };
    t.handle_then_die("license:activated:CS-KILL-LIC", activation).await;
    assert_eq!(t.sup().show(&id.to_string()).await.unwrap().case.state, "delivered", "committed before the kill");

    let t = t.restart_and_settle().await;
    let info = t.durable_info().await;
    assert!(info.delivered.consumer_sequence > info.delivered.stream_sequence, "the activation was redelivered");
    let case = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!((case.case.state.as_str(), case.case.actual_start), ("delivered", Some(activated_at)));
    assert_eq!(steps_named(&case, "license_activated"), 1, "{:?}", case.steps);
    assert_eq!(t.events("supervision.transitioned").await.len(), 1, "one transition event, published after restart");
}

#[tokio::test]
async fn a_release_committed_but_not_acknowledged_closes_the_case_once() {
    let t = TestSup::start().await;
    let id = t.open("CS-KILL-REL", MANUAL, t0()).await.case.id;
    t.act(id, Action::Confirm, None).await;
    t.record_instance("i-kill", "CS-KILL-REL", InstanceState::Released).await;
    let release = DomainEvent::InstanceReleased { instance_id: "i-kill".into(), order_id: Some("CS-UNSUB".into()) };
    t.handle_then_die("releaseInstance:i-kill:instance.released", release.clone()).await;
    assert_eq!(t.sup().show(&id.to_string()).await.unwrap().case.state, "closed", "committed before the kill");

    let t = t.restart_and_settle().await;
    // The producer republishes too (a new stream id, past the duplicate window).
    t.publish("releaseInstance:i-kill:instance.released", "again", release).await;
    t.settle().await;
    let case = t.sup().show(&id.to_string()).await.unwrap();
    assert_eq!(case.case.state, "closed");
    assert_eq!(steps_named(&case, "release"), 1, "{:?}", case.steps);
    let transitions = t.events("supervision.transitioned").await;
    let closed = transitions
        .iter()
        .filter(|e| matches!(&e.data, DomainEvent::SupervisionTransitioned { to, .. } if to == "closed"))
        .count();
    assert_eq!(closed, 1);
    assert_eq!(transitions.len(), 2, "confirm, then the release");
}

/// A case whose requirement reminder (7 days before the 1-month deadline) is due, reminded once
/// by a tick of the worker that is then killed; `published` says whether its relay got the
/// reminder out before the kill (the crash then fell between the publish and marking it sent).
async fn reminder_then_kill(published: bool) {
    let t = TestSup::start().await;
    let id = t.open("CS-KILL-TICK", MANUAL, t0()).await.case.id;
    t.settle().await;
    t.clock.set(at("2025-02-10T10:00:00+08:00") - Duration::days(7));
    assert_eq!(t.sup().tick().await.unwrap().reminders, 1);
    if published {
        assert_eq!(t.worker.host().relay().flush().await.unwrap(), 1);
        outbox::Entity::update_many()
            .col_expr(outbox::Column::SentAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            .filter(outbox::Column::Id.like("supervision:reminder:%"))
            .exec(t.sup().db())
            .await
            .unwrap();
    }
    assert_eq!(pending_count(t.sup().db()).await.unwrap(), 1, "the reminder waits in the outbox");

    // The restarted worker ticks at once at the same time; so does this explicit tick.
    let t = t.restart().await;
    let (shutdown, running) = t.run();
    assert_eq!(t.sup().tick().await.unwrap(), Default::default(), "already reminded");
    t.wait_until_settled().await;
    shutdown.cancel();
    running.await.unwrap().unwrap();

    let reminders = t.events("supervision.reminder").await;
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(matches!(&reminders[0].data, DomainEvent::SupervisionReminder { deadline, before, .. }
        if deadline == "requirement" && before == "7 days"));
    assert_eq!(t.sup().show(&id.to_string()).await.unwrap().reminders.len(), 1);
}

#[tokio::test]
async fn a_reminder_committed_before_the_kill_is_sent_once() {
    reminder_then_kill(false).await;
}

#[tokio::test]
async fn a_reminder_published_but_not_marked_sent_before_the_kill_is_sent_once() {
    reminder_then_kill(true).await;
}
