//! The on-demand scenario's usage rehearsal (spec §8.3): the seller's product reports usage to
//! koofill's `POST /v1/usage`, koofill's metering worker closes the window and pushes it, and the
//! marketplace checks what it received: one record for the window, signed (an unsigned push is
//! refused whole), past every record rule, with the exact sum of the distinct events.
//!
//! The events fall in the hour that began two hours ago, so the window has ended and its grace
//! period (at most ten minutes) has passed: the worker's next round pushes it, and no flush is
//! needed. The scenario's on-demand order is therefore placed three hours before the run, so
//! that the marketplace's resource start (rule `011`) precedes the window. The window is an hour:
//! a product configured for daily billing (`metering.daily_products`) is not pushed before the
//! day ends, and the check then times out.

use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, Utc};
use koofill_model::time::format_open_api;
use koofill_model::usage::Quantity;
use serde_json::{Value, json};

use super::license_check::origin;
use super::runner::Run;
use crate::report::Outcome;
use crate::usage_rules::UsageRecordView;

/// How far before the run the rehearsal's on-demand order is placed.
pub(super) const ORDER_AGE: chrono::Duration = chrono::Duration::hours(3);

/// The usage the rehearsal reports, with the exact sum of the distinct values. Two values carry
/// eight decimals and sum to a whole number, so any float on the way shows in the total.
const VALUES: [&str; 6] = ["1.25", "0.5", "2", "0.0001", "0.12345678", "0.87654322"];
const SUM: &str = "4.7501";

/// Where koofill's usage ingestion answers, the bearer token it takes, and how long to wait for
/// the metering worker's push. `Debug` leaves the token out.
#[derive(Clone)]
pub struct UsageProbe {
    /// Base URL of koofill's ingress, e.g. `http://127.0.0.1:8080` (the route is `/v1/usage`).
    pub base_url: String,
    /// `metering.api_token`.
    pub api_token: String,
    /// How long to wait for the push; at least one `metering.tick_secs` round. Default 45 s.
    pub push_deadline: Duration,
}

impl std::fmt::Debug for UsageProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageProbe")
            .field("base_url", &self.base_url)
            .field("push_deadline", &self.push_deadline)
            .finish_non_exhaustive()
    }
}

impl UsageProbe {
    /// The ingestion API in front of `target` (a production address such as
    /// `http://127.0.0.1:8080/kg/produce`): same scheme, host and port; the default deadline.
    pub fn for_target(target: &str, api_token: impl Into<String>) -> Self {
        Self { base_url: origin(target), api_token: api_token.into(), push_deadline: Duration::from_secs(45) }
    }

    async fn post(&self, events: &[Value]) -> Result<(u16, Value), String> {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/usage", self.base_url))
            .bearer_auth(&self.api_token)
            .timeout(Duration::from_secs(15))
            .json(&json!({ "events": events }))
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

/// The hour the rehearsal's usage falls in: the one that began two hours before `now`.
pub(super) fn window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let hour = chrono::Duration::hours(1);
    let begin = (now - hour * 2).duration_trunc(hour).unwrap_or(now);
    (begin, begin + hour)
}

/// Reports usage for `instance_id`, reports the first half again (a producer's retry), and waits
/// for the marketplace to receive the window's record. Nothing is done without a probe or a
/// registry (mock instances are unknown to the marketplace). No push by the deadline is a warning
/// unless readiness is required, as with the other effect checks.
pub(super) async fn rehearse(run: &mut Run<'_>, instance_id: &str) {
    let Some(probe) = run.options.usage.clone() else { return };
    if run.registry.is_off() {
        return;
    }
    let (begin, end) = window(Utc::now());
    let events: Vec<Value> = VALUES
        .iter()
        .enumerate()
        .map(|(n, value)| {
            let at = begin + chrono::Duration::minutes(i64::try_from(n).unwrap_or(0) * 7 + 1);
            json!({"instance_id": instance_id, "usage_value": value, "event_id": format!("sim-{n}"),
                   "occurred_at": at.to_rfc3339()})
        })
        .collect();
    for (name, batch) in [("POST /v1/usage", &events[..]), ("POST /v1/usage (half again)", &events[..3])] {
        let started = Instant::now();
        let answer = probe.post(batch).await;
        let expected = json!({"accepted": batch.len(), "rejected": 0, "errors": []});
        let (outcome, detail) = match &answer {
            Ok((202, body)) if *body == expected => (Outcome::Passed, format!("202, {} events", batch.len())),
            Ok((status, body)) => (Outcome::Failed, format!("HTTP {status} {body}")),
            Err(e) => (run.unanswered(), e.clone()),
        };
        run.step(name, outcome, detail, 1, started.elapsed());
        if outcome != Outcome::Passed {
            return;
        }
    }
    expect_push(run, &probe, instance_id, begin, end).await;
}

async fn expect_push(
    run: &mut Run<'_>,
    probe: &UsageProbe,
    instance_id: &str,
    begin: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    let started = Instant::now();
    let mut polls = 0;
    let records = loop {
        polls += 1;
        match run.registry.usage_records(instance_id).await {
            Ok(records) if !records.is_empty() || started.elapsed() >= probe.push_deadline => break Ok(records),
            Ok(_) => tokio::time::sleep(run.options.poll_interval).await,
            Err(e) => break Err(e.to_string()),
        }
    };
    let name = "usage pushed: one record, the exact sum";
    let (outcome, detail) = match records {
        Err(e) => (Outcome::Failed, format!("reading the marketplace's usage records: {e}")),
        Ok(records) if records.is_empty() => {
            (run.unanswered(), format!("no record within {:?}: is the metering worker running?", probe.push_deadline))
        }
        Ok(records) => match judge(&records, begin, end) {
            Ok(detail) => (Outcome::Passed, detail),
            Err(why) => (Outcome::Failed, why),
        },
    };
    run.step(name, outcome, detail, polls, started.elapsed());
}

/// Whether the records the marketplace received for the instance are one accepted record for
/// the window with the expected sum.
fn judge(records: &[UsageRecordView], begin: DateTime<Utc>, end: DateTime<Utc>) -> Result<String, String> {
    let [record] = records else {
        return Err(format!("{} records for one window: {records:?}", records.len()));
    };
    if let Some(reason) = &record.reason {
        return Err(format!("record rejected with reason {reason}"));
    }
    let (want_begin, want_end) = (format_open_api(begin), format_open_api(end));
    if record.begin_time != want_begin || record.end_time != want_end {
        return Err(format!("record for {}–{}, expected {want_begin}–{want_end}", record.begin_time, record.end_time));
    }
    let value = Quantity::parse(&record.usage_value).map_err(|e| format!("usage_value: {e}"))?;
    let sum = Quantity::parse(SUM).map_err(|e| format!("expected sum: {e}"))?;
    if value != sum {
        return Err(format!("usage_value {} (expected {SUM})", record.usage_value));
    }
    Ok(format!("{} for {want_begin}–{want_end}, accepted", record.usage_value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(value: &str, begin: &str, end: &str, reason: Option<&str>) -> UsageRecordView {
        UsageRecordView {
            push: 1,
            instance_id: Some("i".into()),
            metering_sn: Some("sn".into()),
            begin_time: begin.into(),
            end_time: end.into(),
            usage_value: value.into(),
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn one_accepted_record_with_the_exact_sum_passes_and_anything_else_is_named() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:20:00Z").unwrap().with_timezone(&Utc);
        let (begin, end) = window(now);
        assert_eq!(
            (format_open_api(begin), format_open_api(end)),
            ("20261207T080000Z".into(), "20261207T090000Z".into())
        );
        let (b, e) = ("20261207T080000Z", "20261207T090000Z");
        assert!(judge(&[view("4.7501", b, e, None)], begin, end).is_ok());
        assert!(judge(&[view("4.75010000", b, e, None)], begin, end).is_ok());
        assert!(judge(&[], begin, end).unwrap_err().contains("0 records"));
        let two = [view("4.7501", b, e, None), view("4.7501", b, e, None)];
        assert!(judge(&two, begin, end).unwrap_err().contains("2 records"));
        assert!(judge(&[view("4.7501", b, e, Some("011"))], begin, end).unwrap_err().contains("011"));
        assert!(judge(&[view("4.7502", b, e, None)], begin, end).unwrap_err().contains("expected 4.7501"));
        assert!(judge(&[view("4.7501", e, e, None)], begin, end).unwrap_err().contains("expected 20261207T080000Z"));
    }

    #[test]
    fn the_sum_is_that_of_the_values() {
        let total =
            VALUES.iter().map(|v| Quantity::parse(v).unwrap()).fold(Quantity::ZERO, |a, b| a.checked_add(b).unwrap());
        assert_eq!(total, Quantity::parse(SUM).unwrap());
    }
}
