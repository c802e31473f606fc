//! orderNotify (spec §9): query the order, record it, emit `order.received`. Keyed by
//! `(orderId, orderLineId)` through the inbox and the `order_lines` primary key.

use koofill_model::{DomainEvent, basic::OrderNotify};

use super::Msg;
use crate::{ProvisioningError, context::Deps, repo};

pub(super) async fn handle(deps: &Deps, msg: &Msg<'_>, r: &OrderNotify) -> Result<(), ProvisioningError> {
    let test = msg.env.test;
    let order = match deps.marketplace.query_order_line(&r.order_id, &r.order_line_id).await {
        Ok(info) => Some(info),
        Err(e) if test && !e.is_retryable() => None,
        Err(e) => return Err(e.into()),
    };
    let Some(mut uow) = deps.unit(msg.consumer, &msg.env.id).await? else {
        return Ok(());
    };
    let txn = uow.txn();
    match &order {
        Some(info) => repo::record_order(txn, info, test, Some(&r.order_line_id)).await?,
        None => repo::record_unknown_order(txn, &r.order_id, &r.order_line_id, test, true).await?,
    }
    let event = DomainEvent::OrderReceived {
        order_id: r.order_id.clone(),
        order_line_id: r.order_line_id.clone(),
        order_type: order.map(|o| o.order_type),
    };
    uow.emit(deps.event(msg.follow_up("order.received"), test, event)?);
    uow.commit().await?;
    Ok(())
}
