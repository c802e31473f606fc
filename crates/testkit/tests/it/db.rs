use std::{env, path::PathBuf};

use koofill_testkit::{DATABASE_URL_ENV, TestDb};
use tokio_postgres::NoTls;

fn sqlite_dir(url: &str) -> PathBuf {
    let path = url.strip_prefix("sqlite://").and_then(|rest| rest.strip_suffix("?mode=rwc")).expect("sqlite URL");
    PathBuf::from(path).parent().expect("file in a directory").to_owned()
}

#[test]
fn sqlite_is_a_file_in_its_own_temp_dir() {
    let db = TestDb::sqlite();
    let other = TestDb::sqlite();
    assert!(!db.is_postgres());
    assert!(db.url().starts_with("sqlite:///") && db.url().ends_with("/test.db?mode=rwc"), "{}", db.url());
    assert_ne!(db.url(), other.url());
    let dir = sqlite_dir(db.url());
    assert!(dir.is_dir());
    drop(db);
    assert!(!dir.exists(), "temp dir left behind");
}

#[tokio::test]
async fn fresh_follows_the_environment() {
    let db = TestDb::fresh().await;
    let configured = env::var(DATABASE_URL_ENV).is_ok_and(|u| !u.trim().is_empty());
    assert_eq!(db.is_postgres(), configured, "{}", db.url());
}

/// Runs only where the PostgreSQL server for tests is configured.
#[tokio::test]
async fn postgres_database_exists_then_is_dropped() {
    let Ok(admin) = env::var(DATABASE_URL_ENV) else {
        eprintln!("skipped: {DATABASE_URL_ENV} is not set");
        return;
    };
    let db = TestDb::postgres(&admin).await;
    assert!(db.is_postgres());
    let name = db.url().rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_owned();
    assert!(name.starts_with("test_") && name.len() == 5 + 32, "{name}");

    let (client, connection) = tokio_postgres::connect(db.url(), NoTls).await.expect("connect to the test db");
    tokio::spawn(connection);
    let one: i32 = client.query_one("SELECT 1", &[]).await.expect("SELECT 1").get(0);
    assert_eq!(one, 1);
    let current: String = client.query_one("SELECT current_database()", &[]).await.expect("name").get(0);
    assert_eq!(current, name);

    // Left open on purpose: dropping must not depend on the test closing its connections.
    drop(db);

    let (admin_client, connection) = tokio_postgres::connect(&admin, NoTls).await.expect("connect as admin");
    tokio::spawn(connection);
    let left = admin_client.query("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await.expect("query");
    assert!(left.is_empty(), "{name} still exists");
    drop(client);
}
