//! The local catch-all: one JSON line per notification appended to a file, so that a newcomer
//! running `koofill dev` sees notifications without configuring anything.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;

use super::{Message, Outcome};

/// A file sink.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
}

impl FileSink {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub(crate) async fn send(&self, msg: &Message) -> Outcome {
        let line = serde_json::json!({
            "delivery_id": msg.delivery_id,
            "event_id": msg.event_id,
            "type": msg.event_type,
            "test": msg.test,
            "title": msg.title,
            "body": msg.body,
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        let mut text = line.to_string();
        text.push('\n');
        let written = async {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir).await?;
            }
            let mut f = tokio::fs::OpenOptions::new().create(true).append(true).open(&self.path).await?;
            f.write_all(text.as_bytes()).await?;
            f.flush().await
        };
        match written.await {
            Ok(()) => Outcome::Delivered { status: None, answer: String::new() },
            Err(e) => Outcome::retry(format!("{}: {e}", self.path.display())),
        }
    }
}
