//! A TCP proxy that sits between the driver and the server and counts what the client sends:
//! frontend messages by tag, and how many chunks carried them. Tests use it to prove "one round trip, one write" without timing anything.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fault_proxy::{Direction, Framer};

/// What the client has sent so far through the proxy.
#[derive(Debug, Default, Clone)]
pub struct Traffic {
    /// Frontend messages by tag (`b'P'` Parse, `b'B'` Bind, `b'E'` Execute, `b'S'` Sync, ...).
    pub messages: HashMap<u8, usize>,
    /// Every frontend message's tag, in the order sent.
    pub sequence: Vec<u8>,
    /// Chunks the proxy read from the client. Several writes can arrive as one chunk, so this
    /// is evidence, not proof, of the write count; the Sync count is the proof of round trips.
    pub client_reads: usize,
    /// Times the client sent again after the server had answered: the client's round trips
    /// (a pipeline with a Sync per statement is many Syncs and one turn). A write the kernel
    /// splits while the server already answers its first part counts twice, so this is
    /// exact for writes of a few kilobytes.
    pub turns: usize,
}

impl Traffic {
    /// The tags sent, as text (`"PDHBES"`).
    pub fn tags(&self) -> String {
        self.sequence.iter().map(|&t| t as char).collect()
    }

    /// How many messages with this tag were sent.
    pub fn count(&self, tag: u8) -> usize {
        self.messages.get(&tag).copied().unwrap_or(0)
    }
}

/// A running proxy; connect to [`CountingProxy::port`] on 127.0.0.1.
#[derive(Debug)]
pub struct CountingProxy {
    port: u16,
    traffic: Arc<Mutex<Traffic>>,
}

impl CountingProxy {
    /// Starts a proxy in front of `127.0.0.1:server_port`, for one client connection.
    pub async fn start(server_port: u16) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let traffic = Arc::new(Mutex::new(Traffic::default()));
        let counted = traffic.clone();
        tokio::spawn(async move {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) =
                TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], server_port))).await
            else {
                return;
            };
            relay(client, server, counted).await;
        });
        CountingProxy { port, traffic }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A snapshot of what the client has sent so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic.lock().expect("traffic lock").clone()
    }

    /// Forgets what was counted so far.
    pub fn reset(&self) {
        *self.traffic.lock().expect("traffic lock") = Traffic::default();
    }
}

async fn relay(client: TcpStream, server: TcpStream, traffic: Arc<Mutex<Traffic>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // The server sent something since the client last did.
    let answered = Arc::new(AtomicBool::new(false));
    let answered_up = answered.clone();
    let upstream = async move {
        let mut framer = Framer::new(Direction::ToServer, Arc::new(AtomicU32::new(0)));
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            {
                let mut t = traffic.lock().expect("traffic lock");
                t.client_reads += 1;
                if answered_up.swap(false, Ordering::AcqRel) {
                    t.turns += 1;
                }
                count_messages(&mut framer, &chunk[..n], &mut t);
            }
            if server_write.write_all(&chunk[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            answered.store(true, Ordering::Release);
            if client_write.write_all(&chunk[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// Books the tag of every frontend message that `data` ends; the startup message (and an
/// SSLRequest before it) has none.
fn count_messages(framer: &mut Framer, mut data: &[u8], traffic: &mut Traffic) {
    while !data.is_empty() {
        let (taken, ended) = framer.step(data);
        data = &data[taken..];
        if let (true, Some(tag)) = (ended, framer.ended_tag()) {
            *traffic.messages.entry(tag).or_insert(0) += 1;
            traffic.sequence.push(tag);
        }
    }
}
