//! The store against a real database: a temporary SQLite file, or a fresh PostgreSQL database
//! when `KOOFILL_TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::Utc;
use koofill_store::{
    StoreError,
    entities::{instance_transitions, instances, instances::InstanceState, tenants},
    inbox, outbox,
    sea_orm::{
        ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set, TransactionTrait,
    },
};
use koofill_testkit::TestDb;
use sea_orm_migration::MigratorTrait;

async fn fresh() -> (TestDb, DatabaseConnection) {
    let db = TestDb::fresh().await;
    let conn = koofill_store::connect(db.url()).await.unwrap();
    koofill_store::migrate(&conn).await.unwrap();
    (db, conn)
}

fn instance(id: &str, order: Option<&str>) -> instances::ActiveModel {
    let now = Utc::now();
    instances::ActiveModel {
        instance_id: Set(id.into()),
        order_id: Set(order.map(Into::into)),
        order_line_id: Set(order.map(|o| format!("{o}-000001"))),
        state: Set(InstanceState::Active),
        test: Set(false),
        charging_mode: Set(None),
        product_id: Set(None),
        sku_code: Set(None),
        linear_value: Set(None),
        products: Set(None),
        customer_id: Set(None),
        expire_time: Set(None),
        front_end_url: Set(None),
        admin_url: Set(None),
        user_name_enc: Set(None),
        password_enc: Set(None),
        memo: Set(None),
        released_before_create: Set(false),
        failure_reason: Set(None),
        status_requested_at: Set(None),
        expiry_requested_at: Set(None),
        upgrade_requested_at: Set(None),
        version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

#[tokio::test]
async fn migrations_apply_once_and_are_recorded() {
    let (_db, conn) = fresh().await;
    koofill_store::migrate(&conn).await.unwrap();
    let expected: Vec<String> =
        <koofill_store::Migrator as MigratorTrait>::migrations().iter().map(|m| m.name().to_owned()).collect();
    assert_eq!(expected.first().map(String::as_str), Some("m0001_provisioning"));
    assert_eq!(koofill_store::applied(&conn).await.unwrap(), expected, "every migration applied once, in order");
}

/// Every service migrates at start; replicas of a first deploy start together.
#[tokio::test]
async fn services_starting_together_migrate_once_without_failing() {
    let db = TestDb::fresh().await;
    let mut starts = Vec::new();
    for _ in 0..4 {
        let url = db.url().to_owned();
        starts.push(tokio::spawn(async move {
            let conn = koofill_store::connect(&url).await.unwrap();
            koofill_store::migrate(&conn).await
        }));
    }
    for start in starts {
        start.await.unwrap().expect("a concurrent migration succeeds");
    }
    let conn = koofill_store::connect(db.url()).await.unwrap();
    let applied = koofill_store::applied(&conn).await.unwrap();
    assert_eq!(applied.len(), <koofill_store::Migrator as MigratorTrait>::migrations().len());
}

#[tokio::test]
async fn request_times_are_stored_and_read_back() {
    let (_db, conn) = fresh().await;
    let at = chrono::DateTime::parse_from_rfc3339("2024-06-12T10:00:00.123Z").unwrap().with_timezone(&Utc);
    let mut row = instance("i-1", Some("CS1"));
    row.status_requested_at = Set(Some(at));
    row.insert(&conn).await.unwrap();
    let read = instances::Entity::find_by_id("i-1".to_owned()).one(&conn).await.unwrap().unwrap();
    assert_eq!((read.status_requested_at, read.expiry_requested_at), (Some(at), None));
}

#[tokio::test]
async fn the_create_key_is_unique_and_reported_as_a_conflict() {
    let (_db, conn) = fresh().await;
    instance("i-1", Some("CS1")).insert(&conn).await.unwrap();
    let err = StoreError::from(instance("i-2", Some("CS1")).insert(&conn).await.unwrap_err());
    assert!(err.is_conflict() && !err.is_retryable(), "{err:?}");
    // Releases recorded before their create (order unknown) do not collide with each other.
    instance("i-3", None).insert(&conn).await.unwrap();
    instance("i-4", None).insert(&conn).await.unwrap();
    assert_eq!(instances::Entity::find().count(&conn).await.unwrap(), 3);
}

#[tokio::test]
async fn transition_keys_are_unique_but_target_state_steps_repeat() {
    let (_db, conn) = fresh().await;
    let row = |key: Option<&str>| instance_transitions::ActiveModel {
        instance_id: Set("i-1".into()),
        from_state: Set("active".into()),
        to_state: Set("frozen".into()),
        step: Set("freeze".into()),
        idem_key: Set(key.map(Into::into)),
        order_id: Set(None),
        scene: Set(None),
        event_id: Set("e".into()),
        detail: Set(None),
        at: Set(Utc::now()),
        ..Default::default()
    };
    row(None).insert(&conn).await.unwrap();
    row(None).insert(&conn).await.unwrap();
    row(Some("release")).insert(&conn).await.unwrap();
    let err = StoreError::from(row(Some("release")).insert(&conn).await.unwrap_err());
    assert!(err.is_conflict(), "{err:?}");
}

#[tokio::test]
async fn kit_natural_keys_are_unique() {
    let (_db, conn) = fresh().await;
    let tenant = || tenants::ActiveModel {
        instance_id: Set(String::new()),
        tenant_id: Set("t-1".into()),
        order_id: Set(None),
        tenant_code: Set("acme".into()),
        name: Set("Acme".into()),
        domain_name: Set("https://acme.example".into()),
        state: Set(koofill_model::DirectoryState::Active),
        test: Set(false),
        source_time: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    tenant().insert(&conn).await.unwrap();
    assert!(StoreError::from(tenant().insert(&conn).await.unwrap_err()).is_conflict());
}

#[tokio::test]
async fn the_inbox_claims_once_and_only_with_its_transaction() {
    let (_db, conn) = fresh().await;
    // A claim rolled back with its transaction leaves nothing behind.
    let txn = conn.begin().await.unwrap();
    assert!(inbox::claim(&txn, "provisioning-saas", "newInstance:CS1:CS1-1").await.unwrap());
    txn.rollback().await.unwrap();
    assert!(!inbox::is_processed(&conn, "provisioning-saas", "newInstance:CS1:CS1-1").await.unwrap());

    let txn = conn.begin().await.unwrap();
    assert!(inbox::claim(&txn, "provisioning-saas", "newInstance:CS1:CS1-1").await.unwrap());
    txn.commit().await.unwrap();
    assert!(!inbox::claim(&conn, "provisioning-saas", "newInstance:CS1:CS1-1").await.unwrap());
    assert!(inbox::claim(&conn, "provisioning-kit", "newInstance:CS1:CS1-1").await.unwrap(), "per consumer");
    assert!(inbox::is_processed(&conn, "provisioning-saas", "newInstance:CS1:CS1-1").await.unwrap());
}

#[tokio::test]
async fn the_outbox_keeps_one_row_per_event_until_sent() {
    let (_db, conn) = fresh().await;
    let event = |id: &str| outbox::NewEvent {
        id: id.into(),
        subject: "koofill.event.instance.active".into(),
        payload: "{}".into(),
        headers: BTreeMap::from([("traceparent".to_owned(), "00-abc-def-01".to_owned())]),
    };
    outbox::push(&conn, event("a")).await.unwrap();
    outbox::push(&conn, event("a")).await.unwrap();
    outbox::push(&conn, event("b")).await.unwrap();
    let pending = outbox::pending(&conn, 10).await.unwrap();
    assert_eq!(pending.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(outbox::headers(&pending[0])["traceparent"], "00-abc-def-01");
    outbox::mark_sent(&conn, &["a".to_owned()], Utc::now()).await.unwrap();
    assert_eq!(outbox::pending_count(&conn).await.unwrap(), 1);
}

#[tokio::test]
async fn an_unknown_state_in_the_database_is_an_error_not_a_default() {
    let (_db, conn) = fresh().await;
    instance("i-typed", Some("CS1")).insert(&conn).await.unwrap();
    let read = instances::Entity::find_by_id("i-typed").one(&conn).await.unwrap().unwrap();
    assert_eq!(read.state, InstanceState::Active);

    conn.execute_unprepared("UPDATE instances SET state = 'frozn' WHERE instance_id = 'i-typed'").await.unwrap();
    let error = instances::Entity::find_by_id("i-typed").one(&conn).await.map_err(StoreError::from).unwrap_err();
    assert!(!error.is_retryable(), "a corrupt state is not an outage: {error:?}");
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
}
