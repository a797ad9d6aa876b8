//! A fake PostgreSQL server for the tests that need a peer sending what a real server never
//! would (`tests/tests/malformed_server.rs`, `tests/tests/bad_inputs.rs`).
//!
//! [`FakeServer`] speaks just enough of the protocol to serve any query as one row of one
//! column — `n int4 = 1` (so `SELECT 1` works on it), or `t text = 'one'` for SQL that
//! mentions `::text` — and lets a test replace one reply — the
//! handshake, the reply to the first prepare, or the reply to the first execute — with bytes
//! of its own. A test can then check that the driver refuses them clearly, and whether the
//! connection still answers afterwards.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One backend message: its tag and body (the length is added when it is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub tag: u8,
    pub body: Vec<u8>,
}

impl Msg {
    pub fn new(tag: u8, body: impl Into<Vec<u8>>) -> Self {
        Msg {
            tag,
            body: body.into(),
        }
    }

    /// The message on the wire: tag, length, body.
    pub fn bytes(&self) -> Vec<u8> {
        msg(self.tag, &self.body)
    }
}

/// A well-formed backend message.
pub fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Messages written one after the other.
pub fn wire(messages: &[Msg]) -> Vec<u8> {
    messages.iter().flat_map(Msg::bytes).collect()
}

/// AuthenticationOk.
pub fn auth_ok() -> Vec<u8> {
    msg(b'R', &0u32.to_be_bytes())
}

/// ReadyForQuery, idle.
pub fn ready() -> Vec<u8> {
    msg(b'Z', b"I")
}

/// A ParameterStatus body: `name\0value\0`.
pub fn parameter_status(name: &[u8], value: &[u8]) -> Vec<u8> {
    [name, b"\0", value, b"\0"].concat()
}

/// The messages that take a client from its startup packet to an idle, ready connection:
/// AuthenticationOk, two ParameterStatus, BackendKeyData, ReadyForQuery.
pub fn handshake_messages() -> Vec<Msg> {
    vec![
        Msg::new(b'R', 0u32.to_be_bytes()),
        Msg::new(b'S', parameter_status(b"server_version", b"17.0")),
        Msg::new(b'S', parameter_status(b"client_encoding", b"UTF8")),
        Msg::new(b'K', [0, 0, 0, 7, 0, 0, 0, 9]),
        Msg::new(b'Z', *b"I"),
    ]
}

/// The handshake as bytes.
pub fn handshake() -> Vec<u8> {
    wire(&handshake_messages())
}

/// A RowDescription of one column `name` of type `oid` (binary format).
pub fn row_description(name: &str, oid: u32, size: i16) -> Vec<u8> {
    let mut body = vec![0, 1];
    body.extend(name.as_bytes());
    body.push(0);
    body.extend(0u32.to_be_bytes()); // table oid
    body.extend(0i16.to_be_bytes()); // column number
    body.extend(oid.to_be_bytes());
    body.extend(size.to_be_bytes());
    body.extend((-1i32).to_be_bytes()); // type modifier
    body.extend(1i16.to_be_bytes()); // binary
    body
}

/// A DataRow body of one value (`None`: NULL).
pub fn data_row(value: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![0, 1];
    match value {
        Some(v) => {
            body.extend((v.len() as i32).to_be_bytes());
            body.extend(v);
        }
        None => body.extend((-1i32).to_be_bytes()),
    }
    body
}

/// The answer to Parse + Describe + Sync: ParseComplete, no parameters, one int4 column "n",
/// ReadyForQuery.
pub fn prepare_reply() -> Vec<u8> {
    let mut reply = msg(b'1', b"");
    reply.extend(msg(b't', &[0, 0]));
    reply.extend(msg(b'T', &row_description("n", 23, 4)));
    reply.extend(ready());
    reply
}

/// The one-row result the fake server gives a query: `n int4 = 1`, or, for SQL that
/// mentions `::text`, `t text = 'one'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Int4,
    Text,
}

impl Shape {
    fn of(sql: &[u8]) -> Shape {
        if sql.windows(6).any(|w| w == b"::text") {
            Shape::Text
        } else {
            Shape::Int4
        }
    }

    fn description(self) -> Msg {
        match self {
            Shape::Int4 => Msg::new(b'T', row_description("n", 23, 4)),
            Shape::Text => Msg::new(b'T', row_description("t", 25, -1)),
        }
    }

    fn row(self) -> Msg {
        match self {
            Shape::Int4 => Msg::new(b'D', data_row(Some(&1i32.to_be_bytes()))),
            Shape::Text => Msg::new(b'D', data_row(Some(b"one"))),
        }
    }
}

/// Which reply a [`Tamper`] replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The handshake after the startup packet.
    Startup,
    /// The reply to the first request that prepares (contains a Parse).
    Prepare,
    /// The reply to the first request that runs something (an Execute or a simple Query).
    Execute,
}

/// The bytes sent instead of a normal reply, made from the messages of that reply.
pub type Tamper = fn(Vec<Msg>) -> Vec<u8>;

/// What the fake server does after its tampered reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Goes on serving requests normally.
    Serve,
    /// Closes the connection.
    Close,
}

/// A fake server on a local port that serves every client that connects.
#[derive(Debug)]
pub struct FakeServer {
    port: u16,
}

impl FakeServer {
    /// Starts serving; the reply at `stage` is replaced by what `tamper` makes of it (only
    /// once per client), and then the server does what `then` says.
    pub async fn start(stage: Stage, tamper: Tamper, then: Then) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port for the fake server");
        let port = listener.local_addr().expect("local address").port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, stage, tamper, then));
            }
        });
        FakeServer { port }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A DSN for it: no TLS, a short connect timeout.
    pub fn dsn(&self) -> String {
        format!(
            "postgres://fake@127.0.0.1:{}/fake?connect_timeout=5&sslmode=disable",
            self.port
        )
    }
}

/// One client: the startup packet, then requests until the client leaves or the socket fails.
async fn serve(mut socket: TcpStream, stage: Stage, tamper: Tamper, then: Then) {
    let mut input = Input::default();
    let Some(_startup) = input.startup(&mut socket).await else {
        return;
    };
    let mut pending = Some((stage, tamper));
    let mut take = |now: Stage| match pending {
        Some((at, f)) if at == now => {
            pending = None;
            Some(f)
        }
        _ => None,
    };
    let (handshake, tampered) = match take(Stage::Startup) {
        Some(f) => (f(handshake_messages()), true),
        None => (handshake(), false),
    };
    if socket.write_all(&handshake).await.is_err() || (tampered && then == Then::Close) {
        return;
    }
    let mut reply = Vec::new();
    let (mut prepares, mut executes) = (false, false);
    // The result shape of each prepared statement and bound portal, by name.
    let mut statements = HashMap::new();
    let mut portals = HashMap::new();
    while let Some((tag, body)) = input.message(&mut socket).await {
        let mut fields = body.split(|&b| b == 0);
        match tag {
            b'P' => {
                prepares = true;
                let name = fields.next().unwrap_or_default().to_vec();
                let sql = fields.next().unwrap_or_default();
                statements.insert(name, Shape::of(sql));
                reply.push(Msg::new(b'1', []));
            }
            b'D' => {
                let name = body.get(1..).unwrap_or_default().split(|&b| b == 0).next();
                let shape = match body.first() {
                    Some(b'S') => {
                        reply.push(Msg::new(b't', [0, 0]));
                        statements.get(name.unwrap_or_default())
                    }
                    _ => portals.get(name.unwrap_or_default()),
                };
                reply.push(shape.copied().unwrap_or(Shape::Int4).description());
            }
            b'B' => {
                let portal = fields.next().unwrap_or_default().to_vec();
                let statement = fields.next().unwrap_or_default();
                let shape = statements.get(statement).copied().unwrap_or(Shape::Int4);
                portals.insert(portal, shape);
                reply.push(Msg::new(b'2', []));
            }
            b'E' => {
                executes = true;
                let portal = fields.next().unwrap_or_default();
                let shape = portals.get(portal).copied().unwrap_or(Shape::Int4);
                reply.push(shape.row());
                reply.push(Msg::new(b'C', *b"SELECT 1\0"));
            }
            b'C' => reply.push(Msg::new(b'3', [])),
            b'Q' => {
                executes = true;
                let shape = Shape::of(fields.next().unwrap_or_default());
                reply.push(shape.description());
                reply.push(shape.row());
                reply.push(Msg::new(b'C', *b"SELECT 1\0"));
                reply.push(Msg::new(b'Z', *b"I"));
            }
            b'S' => reply.push(Msg::new(b'Z', *b"I")),
            b'X' => return,
            // Flush, COPY messages: nothing to answer (yet).
            _ => {}
        }
        if matches!(tag, b'S' | b'Q' | b'H') && !reply.is_empty() {
            let replaced = if executes {
                take(Stage::Execute)
            } else if prepares {
                take(Stage::Prepare)
            } else {
                None
            };
            let tampered = replaced.is_some();
            let bytes = match replaced {
                Some(f) => f(std::mem::take(&mut reply)),
                None => wire(&std::mem::take(&mut reply)),
            };
            (prepares, executes) = (false, false);
            if socket.write_all(&bytes).await.is_err() || (tampered && then == Then::Close) {
                return;
            }
        }
    }
    // The client is gone, or sent bytes this server does not understand: keep the socket a
    // moment so that the client reads what was sent before it sees the end.
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The body of an SSLRequest: the code 80877103.
const SSL_REQUEST: [u8; 4] = 80_877_103u32.to_be_bytes();

/// What the client sent and the fake server has not handled yet.
#[derive(Default)]
struct Input {
    buf: Vec<u8>,
}

impl Input {
    /// Reads until `n` bytes are buffered; `false` at the end of the stream.
    async fn fill(&mut self, socket: &mut TcpStream, n: usize) -> bool {
        let mut chunk = [0u8; 8192];
        while self.buf.len() < n {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(read) => self.buf.extend_from_slice(&chunk[..read]),
            }
        }
        true
    }

    /// The startup packet's body (untagged: a length, then the body).
    async fn startup(&mut self, socket: &mut TcpStream) -> Option<Vec<u8>> {
        if !self.fill(socket, 4).await {
            return None;
        }
        let len = u32::from_be_bytes(self.buf[..4].try_into().ok()?) as usize;
        if !(4..=10_000).contains(&len) || !self.fill(socket, len).await {
            return None;
        }
        let packet: Vec<u8> = self.buf.drain(..len).collect();
        if packet[4..] == SSL_REQUEST {
            // No TLS here: the client goes on in plain text or gives up.
            socket.write_all(b"N").await.ok()?;
            return Box::pin(self.startup(socket)).await;
        }
        Some(packet[4..].to_vec())
    }

    /// The next tagged frontend message.
    async fn message(&mut self, socket: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
        if !self.fill(socket, 5).await {
            return None;
        }
        let tag = self.buf[0];
        let len = u32::from_be_bytes(self.buf[1..5].try_into().ok()?) as usize;
        if len < 4 || !self.fill(socket, len + 1).await {
            return None;
        }
        let message: Vec<u8> = self.buf.drain(..=len).collect();
        Some((tag, message[5..].to_vec()))
    }
}
