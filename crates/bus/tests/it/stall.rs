//! A proxy that holds the bytes between client and server, for the "late write" cases.

/// A TCP proxy that can stall: while stalled it forwards nothing either way, and what it read
/// waits — a network that holds packets and then heals, so a write the client gave up on still
/// reaches the server afterwards.
pub struct StallProxy {
    /// Where clients connect.
    pub addr: std::net::SocketAddr,
    /// `true` holds every byte, `false` lets them through.
    pub stalled: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl StallProxy {
    /// Proxies to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stalled = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
        let accepting = std::sync::Arc::clone(&stalled);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(target).await else { continue };
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                for (mut from, mut to, mut gate) in [
                    (
                        Box::new(in_read) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
                        Box::new(out_write) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
                        accepting.subscribe(),
                    ),
                    (Box::new(out_read), Box::new(in_write), accepting.subscribe()),
                ] {
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let Ok(n) = from.read(&mut buf).await else { return };
                            if n == 0 || gate.wait_for(|stalled| !*stalled).await.is_err() {
                                return;
                            }
                            if to.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        Self { addr, stalled }
    }
}
