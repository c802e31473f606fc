//! The harness: a supervision worker on its own NATS and database, with a manual clock, and the
//! order rows provisioning would have recorded.

use std::{sync::Arc, time::Duration};

use async_nats::{HeaderMap, jetstream::consumer::pull};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use koofill_bus::{Publisher, names};
use koofill_model::{DomainEvent, Envelope};
use koofill_store::{
    entities::{
        instances::{self, InstanceState},
        licenses, order_lines, orders,
    },
    sea_orm::{ActiveModelTrait, Set},
};
use koofill_supervision::{BuildOptions, CaseDetail, ManualClock, StepInput, Supervision, Worker, state::Action};
use koofill_testkit::{TestDb, TestNats};

pub const PREFIX: &str = "koofill";
pub const TOKEN: &str = "admin-token-for-tests";
pub const MANUAL: &str = "OFFI-MANUAL";
pub const LICENSE: &str = "OFFI-LICENSE";
pub const HARDWARE: &str = "OFFI-HARDWARE";
pub const SAAS: &str = "OFFI-SAAS";

/// 2025-01-10 10:00 Beijing time.
pub fn t0() -> DateTime<Utc> {
    at("2025-01-10T10:00:00+08:00")
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[allow(missing_debug_implementations)]
pub struct TestSup {
    pub _nats: TestNats,
    pub _db: TestDb,
    pub worker: Worker,
    pub clock: ManualClock,
    pub cfg: koofill_config::Config,
    publisher: Publisher,
}

impl TestSup {
    pub async fn start() -> Self {
        koofill_telemetry::init_for_tests();
        let nats = TestNats::start();
        let db = TestDb::fresh().await;
        let env = [
            ("KOOFILL__NATS__URL", nats.url()),
            ("KOOFILL__NATS__PREFIX", PREFIX.to_owned()),
            ("KOOFILL__DATABASE__URL", db.url().to_owned()),
            ("KOOFILL__WORKER__LISTEN", "127.0.0.1:0".to_owned()),
            ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "2".to_owned()),
            ("KOOFILL__CONSUMER__NAK_BASE_DELAY_MS", "50".to_owned()),
            ("KOOFILL__CONSUMER__NAK_MAX_DELAY_MS", "200".to_owned()),
            ("KOOFILL__SHUTDOWN__GRACE_SECS", "2".to_owned()),
            ("KOOFILL__SUPERVISION__ADMIN_TOKEN", TOKEN.to_owned()),
        ];
        let mut cfg: koofill_config::Config =
            koofill_config::load_with_env(None, env.map(|(k, v)| (k.to_owned(), v))).expect("configuration loads");
        use koofill_config::GoodsKind;
        cfg.supervision.products.insert(MANUAL.into(), GoodsKind::ManualService);
        cfg.supervision.products.insert(LICENSE.into(), GoodsKind::License);
        cfg.supervision.skus.insert(format!("{HARDWARE}-SKU"), GoodsKind::Hardware);
        Self::on(nats, db, cfg, ManualClock::new(t0())).await
    }

    /// A worker on `nats` and `db`, timed by `clock`.
    async fn on(nats: TestNats, db: TestDb, cfg: koofill_config::Config, clock: ManualClock) -> Self {
        let options = BuildOptions { clock: Some(Arc::new(clock.clone())), ..BuildOptions::default() };
        let worker = Worker::build(&cfg, options).await.expect("worker builds");
        let publisher = Publisher::new(worker.host().bus().js.clone(), Duration::from_secs(2));
        Self { _nats: nats, _db: db, worker, clock, cfg, publisher }
    }

    pub fn sup(&self) -> &Supervision {
        self.worker.supervision()
    }

    /// The worker killed and started again: the old one is dropped without a shutdown (no last
    /// relay round, nothing it fetched is acknowledged), and a fresh one connects to the same
    /// nats-server and database, with the same clock.
    pub async fn restart(self) -> Self {
        let Self { _nats, _db, worker, clock, cfg, publisher } = self;
        drop((worker, publisher));
        Self::on(_nats, _db, cfg, clock).await
    }

    /// Handles until nothing is left: the worker consumes its own `supervision.*` events too,
    /// which its relay publishes at the end of each drain.
    pub async fn settle(&self) {
        while self.worker.drain().await.unwrap() > 0 {}
    }

    /// The instance row provisioning records for `{order_id}-1`, as `state`.
    pub async fn record_instance(&self, instance_id: &str, order_id: &str, state: InstanceState) {
        let now = Utc::now();
        instances::ActiveModel {
            instance_id: Set(instance_id.into()),
            order_id: Set(Some(order_id.into())),
            order_line_id: Set(Some(format!("{order_id}-1"))),
            state: Set(state),
            test: Set(false),
            released_before_create: Set(false),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(self.sup().db())
        .await
        .unwrap();
    }

    /// The license row the license worker records for a code sold with `{order_id}-1`.
    pub async fn record_license(&self, code: &str, order_id: &str) {
        let now = Utc::now();
        licenses::ActiveModel {
            code: Set(code.into()),
            order_id: Set(Some(order_id.into())),
            order_line_id: Set(Some(format!("{order_id}-1"))),
            product_id: Set(None),
            status: Set("released".into()),
            expire_time: Set(None),
            test: Set(false),
            released_before_known: Set(false),
            status_requested_at: Set(None),
            expiry_requested_at: Set(None),
            activated_at: Set(None),
            activation_announced: Set(false),
            kg_status: Set(None),
            checked_at: Set(None),
            check_due: Set(false),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.sup().db())
        .await
        .unwrap();
    }

    /// The rows provisioning records for an order (what query order said).
    pub async fn record_order(&self, order_id: &str, product: &str, order_type: &str, paid_at: DateTime<Utc>) {
        let db = self.sup().db();
        let now = Utc::now();
        let detail = serde_json::json!({
            "orderId": order_id, "orderType": order_type,
            "orderLine": [{"orderLineId": format!("{order_id}-1"), "chargingMode": "PERIOD", "currencyAfterDiscount": "1200.00"}],
        });
        orders::ActiveModel {
            order_id: Set(order_id.into()),
            order_type: Set(Some(order_type.into())),
            create_time: Set(Some(paid_at)),
            customer_id: Set(None),
            customer_name: Set(None),
            test: Set(false),
            detail: Set(Some(detail.to_string())),
            recorded_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
        let products = serde_json::json!([{"productId": product, "skuCode": format!("{product}-SKU")}]);
        order_lines::ActiveModel {
            order_id: Set(order_id.into()),
            order_line_id: Set(format!("{order_id}-1")),
            charging_mode: Set(Some("PERIOD".into())),
            period_type: Set(Some("month".into())),
            period_number: Set(Some(1)),
            expire_time: Set(None),
            products: Set(Some(products.to_string())),
            notified: Set(true),
            recorded_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
    }

    /// Publishes `event` in an envelope `envelope_id`, stored under `Nats-Msg-Id` `msg_id`.
    pub async fn publish(&self, envelope_id: &str, msg_id: &str, event: DomainEvent) {
        let suffix = event.subject_suffix();
        let env = Envelope::event(envelope_id, "test", Utc::now(), false, event);
        let payload = serde_json::to_vec(&env).unwrap();
        let ack = self
            .publisher
            .publish_raw(&names::event(PREFIX, suffix), msg_id, HeaderMap::new(), payload.into())
            .await
            .unwrap();
        assert!(!ack.duplicate, "{msg_id} stored as new");
    }

    /// Publishes `order.received` for `{order_id}-1`, and lets the worker handle it.
    pub async fn order_received(&self, order_id: &str) {
        let event = DomainEvent::OrderReceived {
            order_id: order_id.into(),
            order_line_id: format!("{order_id}-1").as_str().into(),
            order_type: None,
        };
        self.publish(&format!("orderNotify:{order_id}"), &format!("orderNotify:{order_id}"), event).await;
        self.worker.drain().await.unwrap();
    }

    /// A supervised order, paid at `paid_at`, with its case opened.
    pub async fn open(&self, order_id: &str, product: &str, paid_at: DateTime<Utc>) -> CaseDetail {
        self.record_order(order_id, product, "NEW", paid_at).await;
        self.order_received(order_id).await;
        self.sup().show(&format!("{order_id}-1")).await.expect("case opened")
    }

    /// An operator step, as `koofill supervision <action>` takes it.
    pub async fn act(&self, case: i64, action: Action, actual_start: Option<DateTime<Utc>>) -> CaseDetail {
        let input = StepInput {
            actor: "cli:tester".into(),
            note: Some(format!("{action} in test")),
            evidence: (action == Action::Complete).then(|| "acceptance-report.pdf".to_owned()),
            actual_start,
        };
        let request = uuid::Uuid::new_v4().to_string();
        self.sup().act(&case.to_string(), action, input, &request).await.unwrap_or_else(|e| panic!("{action}: {e}"));
        self.sup().show(&case.to_string()).await.unwrap()
    }

    /// Every event stored on `<prefix>.event.<suffix>`, oldest first.
    pub async fn events(&self, suffix: &str) -> Vec<Envelope<DomainEvent>> {
        self.worker.drain().await.unwrap();
        let stream = self.worker.host().bus().js.get_stream(names::stream(PREFIX, names::EVENTS)).await.unwrap();
        let reader = stream
            .create_consumer(pull::Config { filter_subject: names::event(PREFIX, suffix), ..Default::default() })
            .await
            .unwrap();
        let info = stream.cached_info().state.messages;
        let mut out = Vec::new();
        if info == 0 {
            return out;
        }
        let mut batch = reader.fetch().max_messages(500).expires(Duration::from_millis(500)).messages().await.unwrap();
        while let Some(msg) = batch.next().await {
            out.push(serde_json::from_slice(&msg.unwrap().payload).expect("an event envelope"));
        }
        out
    }
}
