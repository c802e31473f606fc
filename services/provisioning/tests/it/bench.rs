//! The provisioning benchmark, outside the normal test run:
//! `cargo test -p koofill-provisioning --release --test it -- --ignored --nocapture bench`
//! (set `KOOFILL_TEST_DATABASE_URL` for PostgreSQL, `KOOFILL_BENCH_ORDERS` for the count).

use koofill_provisioning::stand_in::QueryOrderStandIn;
use koofill_testkit::{TestDb, TestNats};

use crate::support::{AK, SK, base_env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly with --ignored"]
async fn bench_new_orders_end_to_end() {
    let nats = TestNats::start();
    let db = TestDb::fresh().await;
    let stand_in = QueryOrderStandIn::start(AK, SK).await.unwrap();
    let n: usize = std::env::var("KOOFILL_BENCH_ORDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let mut env = base_env(&nats, &db, &stand_in.base_url());
    env.extend(
        [
            ("KOOFILL__CONSUMER__CONCURRENCY", "64"),
            ("KOOFILL__CONSUMER__MAX_ACK_PENDING", "1024"),
            ("KOOFILL__CONSUMER__ACK_WAIT_SECS", "30"),
            ("KOOFILL__DATABASE__MAX_CONNECTIONS", "32"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let cfg = koofill_config::load_with_env(None, env).unwrap();
    let report = koofill_provisioning::bench::bench_new_orders(&cfg, n).await.unwrap();
    println!("{report}");
    assert_eq!(report.completed, n, "{report}");
}
