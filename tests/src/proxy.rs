//! A TCP proxy that sits between the driver and the server and counts what the client sends:
//! frontend messages by tag, and how many chunks carried them. Tests use it to prove "one round trip, one write" without timing anything.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
        let mut pending: Vec<u8> = Vec::new();
        let mut startup_done = false;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&chunk[..n]);
            {
                let mut t = traffic.lock().expect("traffic lock");
                t.client_reads += 1;
                if answered_up.swap(false, Ordering::AcqRel) {
                    t.turns += 1;
                }
                count_messages(&mut pending, &mut startup_done, &mut t);
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

/// Consumes whole frontend messages from `pending`; the first message (startup, after an
/// SSLRequest if one came) has no tag.
fn count_messages(pending: &mut Vec<u8>, startup_done: &mut bool, traffic: &mut Traffic) {
    loop {
        if !*startup_done {
            if pending.len() < 4 {
                return;
            }
            let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
            if pending.len() < len {
                return;
            }
            // An SSLRequest (sslmode=prefer asks first; the server says no) comes before the
            // startup message and has no tag either.
            let ssl_request = len == 8 && pending[4..8] == [0x04, 0xd2, 0x16, 0x2f];
            pending.drain(..len);
            *startup_done = !ssl_request;
            continue;
        }
        if pending.len() < 5 {
            return;
        }
        let len = u32::from_be_bytes([pending[1], pending[2], pending[3], pending[4]]) as usize;
        if pending.len() < len + 1 {
            return;
        }
        *traffic.messages.entry(pending[0]).or_insert(0) += 1;
        traffic.sequence.push(pending[0]);
        pending.drain(..len + 1);
    }
}
