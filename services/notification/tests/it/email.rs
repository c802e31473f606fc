//! Email against SMTP servers started by the test: one that accepts the message, one that stalls
//! mid-conversation.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

use crate::support::TestWorker;

/// A minimal SMTP server (RFC 5321 happy path, no TLS) that keeps each message's DATA; with
/// `stall` it greets and then never answers.
async fn smtp_server(stall: bool) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let messages: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = Arc::clone(&messages);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 stand-in ESMTP\r\n").await;
                if stall {
                    // Read and never answer: the client waits forever unless it has a deadline.
                    while let Ok(Some(_)) = lines.next_line().await {}
                    return;
                }
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 stand-in\r\n",
                        "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" => {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            kept.lock().expect("lock").push(data);
                            b"250 queued as 1\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, messages)
}

fn email_toml(port: u16) -> String {
    format!(
        r#"
[notification]
send_timeout_ms = 800
[notification.channels.mail]
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {port}
smtp_tls = "none"
from = "koofill <koofill@seller.example>"
to = ["ops@seller.example"]
[[notification.rules]]
events = ["order.*"]
channels = ["mail"]
"#
    )
}

#[tokio::test]
async fn the_message_arrives_with_its_subject_and_body() {
    let (port, messages) = smtp_server(false).await;
    let w = TestWorker::start(&email_toml(port)).await;
    w.publish("evt-mail", "evt-mail", "order.received", false, json!({"order_id": "CS42", "order_line_id": "CS42-1"}))
        .await;
    assert_eq!(w.settle().await, 1);
    let d = w.delivery("evt-mail", "mail").await;
    assert_eq!(d.state, "delivered", "{d:?}");
    let messages = messages.lock().expect("lock").clone();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert!(m.contains("Subject: Order received\n"), "{m}");
    assert!(m.contains("To: ops@seller.example"), "{m}");
    assert!(m.contains(&format!("Message-ID: <{}@koofill>", d.id)), "{m}");
    assert!(m.contains("Order: CS42\nOrder line: CS42-1\n"), "{m}");
}

#[tokio::test]
async fn a_server_that_stalls_does_not_hang_the_worker() {
    let (port, _) = smtp_server(true).await;
    let w = TestWorker::start(&email_toml(port)).await;
    w.publish("evt-stall", "evt-stall", "order.received", false, json!({"order_id": "CS43"})).await;
    let started = Instant::now();
    assert_eq!(w.settle().await, 1);
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    let d = w.delivery("evt-stall", "mail").await;
    assert_eq!(d.state, "pending", "retried later: {d:?}");
    assert!(d.last_error.as_deref().unwrap_or_default().contains("did not finish"), "{d:?}");
    assert_eq!(w.attempts("evt-stall", "mail").await[0].outcome, "retry");
}
