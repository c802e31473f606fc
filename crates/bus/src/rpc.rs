//! JSON request-reply over core NATS, with the trace context in headers.

use std::{sync::Arc, time::Duration};

use async_nats::{Client, HeaderMap};
use futures::StreamExt;
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::BusError;

/// Requests one replica answers at once; more wait for a slot.
const MAX_CONCURRENT_REPLIES: usize = 64;

/// Sends `request` to `subject` and decodes the JSON reply, waiting at most `timeout`.
///
/// # Errors
/// [`BusError::NoReply`] when nobody answers in time (or nobody listens), [`BusError::Decode`] for
/// a reply of the wrong shape.
pub async fn request_json<Req: Serialize, Resp: DeserializeOwned>(
    client: &Client,
    subject: &str,
    request: &Req,
    timeout: Duration,
) -> Result<Resp, BusError> {
    let payload = serde_json::to_vec(request).map_err(|source| BusError::Encode { what: "request", source })?;
    let mut headers = HeaderMap::new();
    koofill_telemetry::nats::inject(&mut headers);
    let req = async_nats::Request::new().payload(payload.into()).headers(headers).timeout(Some(timeout));
    let reply = client
        .send_request(subject.to_owned(), req)
        .await
        .map_err(|e| BusError::NoReply { subject: subject.to_owned(), source: Box::new(e) })?;
    serde_json::from_slice(&reply.payload).map_err(|source| BusError::Decode {
        subject: subject.to_owned(),
        expected: std::any::type_name::<Resp>(),
        source,
    })
}

/// Answers JSON requests on `subject` (in queue group `queue`, so replicas share the load) with
/// `handler` until `shutdown`, each request in its own task (at most [`MAX_CONCURRENT_REPLIES`] at
/// once). A request that does not decode gets no reply (the caller times out and applies its
/// default).
///
/// # Errors
/// [`BusError::JetStream`] when the subscription cannot be made.
pub async fn serve_json<Req, Resp, F, Fut>(
    client: Client,
    subject: String,
    queue: String,
    handler: F,
    shutdown: CancellationToken,
) -> Result<(), BusError>
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Resp> + Send + 'static,
{
    let handler = Arc::new(handler);
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_REPLIES));
    let mut sub = client
        .queue_subscribe(subject.clone(), queue)
        .await
        .map_err(|e| BusError::js(format!("subscribe {subject}"), e))?;
    loop {
        let msg = tokio::select! {
            () = shutdown.cancelled() => break,
            msg = sub.next() => match msg { Some(m) => m, None => break },
        };
        let Some(reply_to) = msg.reply.clone() else { continue };
        let request: Req = match serde_json::from_slice(&msg.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = &e as &dyn std::error::Error, subject = %subject, "undecodable request ignored");
                continue;
            }
        };
        // Each request in its own task: one slow answer must not make the next caller time out.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { break };
        let (client, handler) = (client.clone(), Arc::clone(&handler));
        tokio::spawn(async move {
            let response = handler(request).await;
            match serde_json::to_vec(&response) {
                Ok(body) => {
                    if let Err(e) = client.publish(reply_to, body.into()).await {
                        tracing::warn!(error = &e as &dyn std::error::Error, "reply not sent");
                    }
                }
                Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "reply not encodable"),
            }
            drop(permit);
        });
    }
    Ok(())
}
