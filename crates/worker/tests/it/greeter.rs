//! The example worker: one handler, registered on the host the way every worker registers.
//!
//! The greeter reads greetings from `<prefix>.event.greeting.>`; for each one it records the
//! order it names and emits `order.received`, both in one [`UnitOfWork`], so a greeting handled
//! twice takes effect once.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use koofill_bus::consumer::{Delivery, ErrorClass, Handler, HandlerError};
use koofill_model::{DomainEvent, Envelope, OrderId, OrderLineId};
use koofill_store::{
    OutboxSignal, StoreError, UnitOfWork,
    entities::orders,
    sea_orm::{ActiveModelTrait, DatabaseConnection, Set},
};
use koofill_worker::{EventFactory, HostBuilder};
use serde::{Deserialize, Serialize};

/// The durable consumer name, also the inbox's consumer key.
pub const GREETER: &str = "greeter";
/// The `source` of the events it emits.
pub const SOURCE: &str = "greeter";

/// What a greeting carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Greeting {
    pub order_id: String,
    pub order_line_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GreeterError {
    #[error("invalid greeting: {0}")]
    Invalid(&'static str),
    #[error("database")]
    Store(#[from] StoreError),
    #[error("event not encoded")]
    Encode(#[from] serde_json::Error),
}

impl HandlerError for GreeterError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Invalid(_) | Self::Encode(_) => ErrorClass::Permanent,
            Self::Store(e) if e.is_retryable() => ErrorClass::Transient,
            Self::Store(_) => ErrorClass::Permanent,
        }
    }
}

#[derive(Debug)]
pub struct Greeter {
    db: DatabaseConnection,
    outbox: OutboxSignal,
    events: EventFactory,
    /// Deliveries handed to the handler, duplicates and failures included.
    pub attempts: AtomicUsize,
}

impl Greeter {
    pub fn new(host: &HostBuilder) -> Self {
        Self {
            db: host.db().clone(),
            outbox: host.outbox().clone(),
            events: host.events(SOURCE),
            attempts: AtomicUsize::new(0),
        }
    }

    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

impl Handler for Greeter {
    type Msg = Envelope<Greeting>;
    type Error = GreeterError;

    async fn handle(&self, delivery: &Delivery<Envelope<Greeting>>) -> Result<(), GreeterError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let env = &delivery.msg;
        if env.data.order_id.trim().is_empty() {
            return Err(GreeterError::Invalid("order_id is empty"));
        }
        let Some(mut uow) = UnitOfWork::begin(&self.db, &self.outbox, GREETER, &env.id).await? else {
            return Ok(()); // handled before: its effects stand
        };
        let now = Utc::now();
        orders::ActiveModel {
            order_id: Set(env.data.order_id.clone()),
            order_type: Set(None),
            create_time: Set(None),
            customer_id: Set(None),
            customer_name: Set(None),
            test: Set(env.test),
            detail: Set(None),
            recorded_at: Set(now),
            updated_at: Set(now),
        }
        .insert(uow.txn())
        .await
        .map_err(StoreError::from)?;
        let received = DomainEvent::OrderReceived {
            order_id: OrderId::new(env.data.order_id.clone()),
            order_line_id: OrderLineId::new(env.data.order_line_id.clone()),
            order_type: None,
        };
        uow.emit(self.events.event(format!("{}:order.received", env.id), env.test, received)?);
        uow.commit().await?;
        Ok(())
    }
}
