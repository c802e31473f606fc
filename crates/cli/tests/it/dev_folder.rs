//! A temporary folder that looks like one `koofill dev` runs in, and the binary run inside it.

use std::path::{Path, PathBuf};
use std::process::Output;

use koofill_store::entities::instances;
use koofill_store::sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

/// The state directory `koofill dev` uses by default.
pub const STATE_DIR: &str = ".koofill";
/// The SQLite URL `koofill dev` records, relative to the folder.
pub const DEV_DATABASE_URL: &str = "sqlite://.koofill/koofill.db?mode=rwc";

/// A folder with a `.koofill/` state directory.
pub struct DevFolder {
    dir: tempfile::TempDir,
}

impl DevFolder {
    /// An empty folder with an empty state directory.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("koofill-cli-").tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join(STATE_DIR)).expect("state dir");
        Self { dir }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `name` inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `.koofill/dev.toml` as a running `koofill dev` would, with these optional parts.
    pub fn record(&self, nats_url: Option<&str>, database_url: Option<&str>, stopped: bool) {
        let mut text = format!(
            "pid = 4242\nstarted_at = \"2026-01-01T00:00:00Z\"\n{}\n[ingress]\nlisten = \"127.0.0.1:8080\"\n",
            if stopped { "stopped_at = \"2026-01-01T01:00:00Z\"" } else { "" }
        );
        if let Some(url) = nats_url {
            text.push_str(&format!("\n[nats]\nurl = \"{url}\"\n"));
        }
        if let Some(url) = database_url {
            text.push_str(&format!("\n[database]\nurl = \"{url}\"\n"));
        }
        std::fs::write(self.join(STATE_DIR).join("dev.toml"), text).expect("write dev.toml");
    }

    /// Creates and migrates the database `koofill dev` keeps under its state directory.
    pub async fn dev_database(&self) -> DatabaseConnection {
        let file = self.join(STATE_DIR).join("koofill.db");
        let db = koofill_store::connect(&format!("sqlite://{}?mode=rwc", file.display())).await.expect("create db");
        koofill_store::migrate(&db).await.expect("migrate");
        db
    }

    /// Runs `koofill <args>` in the folder, with no `KOOFILL` variables but `env`.
    pub async fn koofill(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_koofill"));
        cmd.args(args).current_dir(self.path());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("KOOFILL") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(env.iter().copied());
        Run(cmd.output().await.expect("run koofill"))
    }
}

/// A finished run.
pub struct Run(pub Output);

impl Run {
    /// Standard output.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    /// Standard error.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.0.status.success()
    }
}

/// Inserts an active instance with `id`.
pub async fn insert_instance(db: &DatabaseConnection, id: &str) {
    let now = chrono::Utc::now();
    instances::ActiveModel {
        instance_id: Set(id.to_owned()),
        state: Set(koofill_store::entities::instances::InstanceState::Active),
        test: Set(false),
        released_before_create: Set(false),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert instance");
}
