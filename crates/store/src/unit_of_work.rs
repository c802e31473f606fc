//! One unit of work: the inbox claim, the domain writes and the events, committed together.
//!
//! Every handler of every worker follows the same order, because it is what makes redeliveries
//! harmless and loses no event:
//!
//! 1. [`UnitOfWork::begin`] opens a transaction and claims the message in the inbox; `None` means
//!    this consumer processed it before (the transaction is rolled back, nothing to do);
//! 2. the handler writes its domain rows through [`UnitOfWork::txn`] and adds its events with
//!    [`UnitOfWork::emit`];
//! 3. [`UnitOfWork::commit`] stores the events in the outbox, commits, and wakes the relay, which
//!    publishes them with `Nats-Msg-Id` = their id.
//!
//! Publishing happens only after the commit, so an event never describes a change that was
//! rolled back; and a crash after the commit leaves the events in the outbox for the relay.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use tokio::sync::Notify;

use crate::{StoreError, inbox, outbox};

/// Wakes the outbox relay after a commit. Cheap to clone; every clone wakes the same relay.
#[derive(Debug, Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// A new signal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the relay there is something to publish (remembered if it is busy).
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Waits for the next [`OutboxSignal::wake`].
    pub async fn woken(&self) {
        self.0.notified().await;
    }
}

/// A message being handled: its transaction, with the inbox row already claimed, and the events
/// it will emit. Dropping it without [`UnitOfWork::commit`] rolls everything back.
#[derive(Debug)]
pub struct UnitOfWork {
    txn: DatabaseTransaction,
    events: Vec<outbox::NewEvent>,
    signal: OutboxSignal,
}

impl UnitOfWork {
    /// Opens a transaction and claims `(consumer, message_id)` in the inbox; `None` when the
    /// consumer processed the message before.
    ///
    /// # Errors
    /// [`StoreError`] for database failures.
    pub async fn begin(
        db: &DatabaseConnection,
        signal: &OutboxSignal,
        consumer: &str,
        message_id: &str,
    ) -> Result<Option<Self>, StoreError> {
        let txn = db.begin().await?;
        if !inbox::claim(&txn, consumer, message_id).await? {
            // Rolled back on drop: the first handling's effects stand.
            return Ok(None);
        }
        Ok(Some(Self { txn, events: Vec::new(), signal: signal.clone() }))
    }

    /// The transaction, for the domain writes.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Adds an event to publish once the unit commits.
    pub fn emit(&mut self, event: outbox::NewEvent) {
        self.events.push(event);
    }

    /// Stores the events in the outbox, commits, and wakes the relay.
    ///
    /// # Errors
    /// [`StoreError`] for database failures; then nothing was committed.
    pub async fn commit(self) -> Result<(), StoreError> {
        let Self { txn, events, signal } = self;
        let any = !events.is_empty();
        for event in events {
            outbox::push(&txn, event).await?;
        }
        txn.commit().await?;
        if any {
            signal.wake();
        }
        Ok(())
    }
}

impl UnitOfWork {
    /// Gives up: nothing is recorded, not even the inbox claim, so the message is handled again
    /// when it comes back.
    ///
    /// # Errors
    /// [`StoreError`] when the rollback itself fails (the transaction ends either way).
    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.txn.rollback().await?)
    }
}

/// Records that `consumer` processed `message_id` with no effect (a repeat, a call on a released
/// instance): the unit of work with nothing in it.
///
/// # Errors
/// [`StoreError`] for database failures.
pub async fn record_no_effect(db: &DatabaseConnection, consumer: &str, message_id: &str) -> Result<(), StoreError> {
    inbox::claim(db, consumer, message_id).await?;
    Ok(())
}
