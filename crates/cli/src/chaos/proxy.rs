//! A TCP proxy the fault suite controls: it forwards to NATS or the database until it is cut,
//! then drops every connection and refuses new ones until it is restored — a network
//! partition without stopping a server.

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A running proxy. Cut and restore it from any task.
#[derive(Debug, Clone)]
pub struct Proxy {
    addr: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(false);
        let cut = Arc::new(cut);
        let accepting = Arc::clone(&cut);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *accepting.borrow() {
                    drop(inbound); // refused while cut
                    continue;
                }
                let mut cut = accepting.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    let mut inbound = inbound;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|c| *c) => {} // dropping both ends severs the connection
                    }
                });
            }
        });
        Ok(Self { addr, cut })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Severs every connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}
