//! The streams and KV buckets of architecture §4, created idempotently at start-up.
//!
//! Existing streams are compared with what koofill expects; differences are reported as drift and
//! left alone (never "fixed" by deleting a stream: that would lose the audit log).

use std::time::Duration;

use async_nats::jetstream::{
    self, kv,
    stream::{self, DiscardPolicy, RetentionPolicy, StorageType},
};

use crate::{BusError, names};

const DAY: Duration = Duration::from_secs(86_400);

/// Options for [`ensure`].
#[derive(Debug, Clone)]
pub struct TopologyOptions {
    /// The name prefix.
    pub prefix: String,
    /// Stream and bucket replicas (1 for a single server, 3 for a cluster).
    pub replicas: usize,
    /// The ingress's timestamp window; nonces are remembered for twice as long.
    pub clock_skew: Duration,
}

/// What [`ensure`] found and did.
#[derive(Debug, Default, Clone)]
pub struct TopologyReport {
    /// Streams and buckets created now.
    pub created: Vec<String>,
    /// Differences between deployed and expected configuration, one line each.
    pub drift: Vec<String>,
}

/// The expected configuration of each stream; `clock_skew` is the ingress's timestamp window.
pub fn stream_configs(prefix: &str, replicas: usize, clock_skew: Duration) -> Vec<stream::Config> {
    let base =
        |kind: &str, subject: String, retention: RetentionPolicy, max_age: Duration, dedup: Duration| stream::Config {
            name: names::stream(prefix, kind),
            subjects: vec![subject],
            retention,
            max_age,
            duplicate_window: dedup,
            storage: StorageType::File,
            num_replicas: replicas,
            discard: DiscardPolicy::Old,
            ..Default::default()
        };
    vec![
        // The audit log, replay source and replay guard: the ingress publishes each request under
        // a key derived from its nonce (`replay_key`), so the duplicate window must outlast any
        // replay that passes the timestamp check — twice the window — and is at least ten minutes
        // (at most the stream's age: windows of weeks only serve rehearsals of fixed vectors).
        // File storage keeps the guard across server restarts: the server rebuilds its duplicate
        // table from the stored messages. KooGallery's retries carry fresh nonces and are
        // recognised by the workers' inbox.
        base(
            names::INBOUND,
            format!("{prefix}.inbound.>"),
            RetentionPolicy::Limits,
            30 * DAY,
            (clock_skew * 2).max(Duration::from_secs(600)).min(30 * DAY),
        ),
        base(names::EVENTS, format!("{prefix}.event.>"), RetentionPolicy::Limits, 30 * DAY, Duration::from_secs(120)),
        base(names::USAGE, format!("{prefix}.usage.>"), RetentionPolicy::WorkQueue, 7 * DAY, Duration::from_secs(600)),
        base(names::DLQ, format!("{prefix}.dlq.>"), RetentionPolicy::Limits, 30 * DAY, Duration::from_secs(120)),
    ]
}

/// The expected configuration of each KV bucket.
pub fn bucket_configs(prefix: &str, replicas: usize, clock_skew: Duration) -> Vec<kv::Config> {
    vec![
        kv::Config {
            bucket: names::instances_bucket(prefix),
            description: "instance view answered by the ingress (queryInstance)".into(),
            history: 1,
            storage: StorageType::File,
            num_replicas: replicas,
            ..Default::default()
        },
        kv::Config {
            bucket: names::nonces_bucket(prefix),
            description: "nonces of requests the ingress answered without publishing (replay protection)".into(),
            history: 1,
            // A nonce older than the window is refused by the timestamp check anyway; keeping it
            // for twice the window covers clock differences between replicas.
            max_age: (clock_skew * 2).max(Duration::from_secs(1)),
            // Memory: only answers that change nothing (queries, checks, unknown instances) claim
            // here, so a restart that forgets them lets a replay be answered again, with no
            // effect; published callbacks are guarded by the inbound stream's file-backed
            // duplicate table.
            storage: StorageType::Memory,
            num_replicas: replicas,
            ..Default::default()
        },
    ]
}

/// Attempts [`ensure`] makes before it gives up.
const ENSURE_ATTEMPTS: u32 = 6;

/// Creates missing streams and buckets, and reports drift of existing streams.
///
/// A request that times out is tried again, a few times over about 15 seconds: in a JetStream
/// cluster, creating a replicated stream waits for its peers to agree, and several services
/// starting together (or a node still catching up) can keep that above one request's timeout. The
/// steps are idempotent, so a creation that timed out but happened is found by the next try.
///
/// # Errors
/// [`BusError::JetStream`] when the server cannot be asked or refuses a creation, every attempt.
pub async fn ensure(js: &jetstream::Context, opts: &TopologyOptions) -> Result<TopologyReport, BusError> {
    let mut delay = std::time::Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match ensure_once(js, opts).await {
            Err(e) if e.is_retryable() && attempt < ENSURE_ATTEMPTS => {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    attempt,
                    "JetStream topology not ensured; trying again"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(4));
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn ensure_once(js: &jetstream::Context, opts: &TopologyOptions) -> Result<TopologyReport, BusError> {
    let mut report = TopologyReport::default();
    for expected in stream_configs(&opts.prefix, opts.replicas, opts.clock_skew) {
        match js.get_stream(&expected.name).await {
            Ok(existing) => report.drift.extend(stream_drift(&expected, &existing.cached_info().config)),
            Err(e) if is_not_found(&e) => {
                js.create_stream(expected.clone())
                    .await
                    .map_err(|e| BusError::js(format!("create stream {}", expected.name), e))?;
                report.created.push(expected.name.clone());
            }
            Err(e) => return Err(BusError::js(format!("get stream {}", expected.name), e)),
        }
    }
    for expected in bucket_configs(&opts.prefix, opts.replicas, opts.clock_skew) {
        let stream = kv_stream_config(&expected);
        match js.get_stream(&stream.name).await {
            Ok(existing) => report.drift.extend(stream_drift(&stream, &existing.cached_info().config)),
            Err(e) if is_not_found(&e) => {
                js.create_stream(stream.clone())
                    .await
                    .map_err(|e| BusError::js(format!("create bucket {}", expected.bucket), e))?;
                report.created.push(expected.bucket.clone());
            }
            Err(e) => return Err(BusError::js(format!("get bucket {}", expected.bucket), e)),
        }
    }
    for line in &report.drift {
        tracing::warn!(drift = %line, "JetStream configuration differs from koofill's; left unchanged");
    }
    Ok(report)
}

/// The stream behind a KV bucket, exactly as the KV protocol lays it out (`KV_<bucket>`,
/// `$KV.<bucket>.>`, one message per subject per history slot, rollups allowed, deletes denied).
///
/// Buckets are created as streams because `async_nats`'s `create_key_value` first asks for the
/// account info, whose 2.9 reply that client version cannot parse; the stream it would create
/// is this one, and `get_key_value` opens it normally.
pub fn kv_stream_config(kv: &kv::Config) -> stream::Config {
    stream::Config {
        name: format!("KV_{}", kv.bucket),
        description: Some(kv.description.clone()),
        subjects: vec![format!("$KV.{}.>", kv.bucket)],
        max_messages_per_subject: kv.history.max(1),
        max_bytes: if kv.max_bytes == 0 { -1 } else { kv.max_bytes },
        max_age: kv.max_age,
        max_message_size: if kv.max_value_size == 0 { -1 } else { kv.max_value_size },
        storage: kv.storage,
        allow_rollup: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        num_replicas: kv.num_replicas.max(1),
        discard: DiscardPolicy::New,
        duplicate_window: if kv.max_age.is_zero() {
            Duration::from_secs(120)
        } else {
            kv.max_age.min(Duration::from_secs(120))
        },
        ..Default::default()
    }
}

fn is_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(inner)
        if inner.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// Re-runs [`ensure`] after every reconnection until `shutdown`: a restarted server keeps its file
/// streams but not the memory-backed nonce bucket, and callbacks cannot be verified without it.
pub async fn keep_ensured(bus: crate::Bus, opts: TopologyOptions, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = bus.connected.notified() => {}
        }
        // The server may still be recovering its streams right after the reconnect.
        for attempt in 1..=10u64 {
            match ensure(&bus.js, &opts).await {
                Ok(report) => {
                    if !report.created.is_empty() {
                        tracing::info!(created = ?report.created, "JetStream topology restored after reconnecting");
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = &e as &dyn std::error::Error, attempt, "cannot check the topology yet");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
            }
        }
    }
}

/// Lines describing how `actual` differs from `expected` in the settings koofill relies on.
pub fn stream_drift(expected: &stream::Config, actual: &stream::Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |field: &str, e: String, a: String| {
        if e != a {
            out.push(format!("stream {}: {field} is {a}, expected {e}", expected.name));
        }
    };
    check("subjects", format!("{:?}", expected.subjects), format!("{:?}", actual.subjects));
    check("retention", format!("{:?}", expected.retention), format!("{:?}", actual.retention));
    check("max_age", format!("{:?}", expected.max_age), format!("{:?}", actual.max_age));
    check("duplicate_window", format!("{:?}", expected.duplicate_window), format!("{:?}", actual.duplicate_window));
    check("storage", format!("{:?}", expected.storage), format!("{:?}", actual.storage));
    check("num_replicas", expected.num_replicas.to_string(), actual.num_replicas.max(1).to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound_window(clock_skew: Duration) -> Duration {
        let configs = stream_configs("koofill", 1, clock_skew);
        configs.into_iter().find(|c| c.name == "KOOFILL_INBOUND").map(|c| c.duplicate_window).unwrap_or_default()
    }

    /// The inbound stream's duplicate window is the replay guard: it must outlast every replay
    /// the timestamp check lets through (twice the window).
    #[test]
    fn the_inbound_duplicate_window_covers_twice_the_timestamp_window() {
        assert_eq!(inbound_window(Duration::from_secs(60)), Duration::from_secs(600));
        assert_eq!(inbound_window(Duration::from_secs(900)), Duration::from_secs(1800));
        assert_eq!(inbound_window(Duration::from_secs(315_360_000)), 30 * DAY, "never beyond the stream's age");
    }
}
