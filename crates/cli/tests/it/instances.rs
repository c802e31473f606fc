//! `koofill instances` reads the database `koofill dev` records, and never creates one.

use crate::dev_folder::{DEV_DATABASE_URL, DevFolder, insert_instance};

#[tokio::test]
async fn instances_list_reads_the_dev_database_and_creates_no_file() {
    let folder = DevFolder::new();
    let db = folder.dev_database().await;
    insert_instance(&db, "inst-from-dev").await;
    db.close().await.expect("close");
    folder.record(None, Some(DEV_DATABASE_URL), false);

    let run = folder.koofill(&["instances", "list"], &[]).await;

    assert!(run.ok(), "{}", run.stderr());
    assert!(run.stdout().contains("inst-from-dev"), "{}", run.stdout());
    assert!(run.stdout().contains("1 instance(s)"), "{}", run.stdout());
    assert!(!folder.join("koofill.db").exists(), "no database created in the folder");
}

#[tokio::test]
async fn a_missing_database_is_named_with_what_to_run_and_is_not_created() {
    let folder = DevFolder::new();

    let run = folder.koofill(&["instances", "list"], &[]).await;

    assert!(!run.ok());
    let err = run.stderr();
    assert!(err.contains("no database at koofill.db (database.url)"), "{err}");
    assert!(err.contains("koofill dev") && err.contains("koofill migrate"), "{err}");
    assert!(!folder.join("koofill.db").exists());
}

#[tokio::test]
async fn a_configured_database_wins_over_the_dev_one() {
    let folder = DevFolder::new();
    folder.dev_database().await.close().await.expect("close");
    folder.record(None, Some(DEV_DATABASE_URL), false);

    let run = folder.koofill(&["instances", "list"], &[("KOOFILL__DATABASE__URL", "sqlite://other.db?mode=rwc")]).await;

    assert!(!run.ok());
    assert!(run.stderr().contains("no database at other.db (database.url)"), "{}", run.stderr());
    assert!(!folder.join("other.db").exists());
}
