//! The load generator's figures agree with the ingress's own metrics.

use std::time::Duration;

use koofill_simulator::{LoadActivity, LoadOptions, load};

use crate::{Ingress, keys};

/// Sums the samples of `metric` whose labels contain `label`.
fn sum(metrics: &str, metric: &str, label: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(metric) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn sent_and_answered_match_the_ingress_counters() {
    let ingress = Ingress::spawn(None).await;
    let options = LoadOptions {
        rate: 200,
        duration: Duration::from_secs(2),
        concurrency: 32,
        activity: LoadActivity::NewInstance,
    };
    let report = load(&ingress.base_url, &keys(), &options).await.unwrap();
    println!("{report}");
    assert_eq!(report.sent, 400);
    assert_eq!(report.answered, report.sent, "{report}");
    assert_eq!(report.ok, report.sent, "{report}");
    assert_eq!(report.by_code.get("000000"), Some(&400));
    assert!(report.quantile_ms(0.5) > 0.0 && report.quantile_ms(0.999) >= report.quantile_ms(0.5));
    assert!(report.throughput() > 50.0, "{report}");

    let metrics = ingress.metrics().await;
    let counted = sum(&metrics, "koofill_ingress_callbacks_total{", "activity=\"newInstance\"");
    let observed = sum(&metrics, "koofill_ingress_answer_seconds_count{", "activity=\"newInstance\"");
    let ok = sum(&metrics, "koofill_ingress_callbacks_total{", "result_code=\"000000\"");
    let within = |a: f64, b: f64| (a - b).abs() <= b * 0.03;
    assert!(within(counted, report.sent as f64), "ingress counted {counted}, sent {}", report.sent);
    assert!(within(observed, report.answered as f64), "ingress observed {observed}, answered {}", report.answered);
    assert!(within(ok, report.ok as f64), "ingress 000000: {ok}, ok {}", report.ok);
}
