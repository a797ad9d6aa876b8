//! A TCP proxy that breaks things on purpose, between the driver and a real server: it cuts a
//! connection at the k-th message or after N bytes in either direction, resets every open
//! connection, delays what it forwards, or forwards in 1-byte writes.
//!
//! It follows the protocol's framing both ways (the untagged startup packet and SSLRequest,
//! the server's one-byte answer to an SSLRequest, then tagged messages), so a cut falls exactly
//! on a message boundary. Counters start at [`FaultProxy::arm`]: a clean run of an exchange
//! after `arm(None)` counts its messages, and a loop then cuts at each of them. It accepts any
//! number of connections (a pool opens several); a cut is one-shot, so reconnections after it
//! go through. TLS is not followed: after a server's `S` the framing is unknown.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The bytes of each direction forwarded in 1-byte writes when splitting, per connection;
/// past it, writes of [`SPLIT_TAIL_PIECE`] bytes keep a million-row stream from taking minutes
/// while message headers still straddle writes.
const SPLIT_ONE_BYTE_BUDGET: usize = 256 * 1024;

/// A prime, so that piece boundaries fall at every offset of a message over a long stream.
const SPLIT_TAIL_PIECE: usize = 8191;

/// The SSLRequest and GSSENCRequest codes: the server answers each with a single byte.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Frontend messages, from the driver to the server.
    ToServer,
    /// Backend messages, from the server to the driver.
    ToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// Where to cut, counted from [`FaultProxy::arm`] over every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Forward messages `0..k` in this direction, then close the connection (both ways) when
    /// message `k` starts to arrive: it never reaches the other side.
    AtMessage(Direction, u64),
    /// Forward exactly `n` bytes in this direction, then close the connection (both ways).
    AfterBytes(Direction, u64),
}

/// What went through the proxy since it was last armed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    messages: [u64; 2],
    bytes: [u64; 2],
}

impl Counts {
    /// Whole messages forwarded in this direction.
    pub fn messages(&self, direction: Direction) -> u64 {
        self.messages[direction.index()]
    }

    /// Bytes forwarded in this direction.
    pub fn bytes(&self, direction: Direction) -> u64 {
        self.bytes[direction.index()]
    }
}

/// The proxy's settings and counters, shared by every connection's relay.
#[derive(Debug, Default)]
struct State {
    cut: Option<Cut>,
    /// A cut still armed when [`FaultProxy::disarm`] was called: it never fired.
    missed: Option<Cut>,
    /// Counting since [`FaultProxy::arm`], until [`FaultProxy::disarm`].
    counting: bool,
    counts: Counts,
    /// Cuts that fired since the proxy started.
    cuts: u64,
    delay: Option<Duration>,
    split: bool,
    /// Writes of exactly one byte made while splitting, per direction.
    one_byte_writes: [u64; 2],
    /// Connections accepted since the proxy started.
    accepted: u64,
    /// Each open connection's id and switch (sending an [`Ending`] ends it).
    open: Vec<(u64, watch::Sender<Ending>)>,
    /// Connections told to end whose relay still holds its sockets.
    ending: HashSet<u64>,
}

/// How a relay is told to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Running,
    /// Close both sockets (the peers read an end of file).
    Close,
    /// Close both sockets with a TCP reset (the peers' next write fails).
    Reset,
}

/// What to do with the next segment of a direction's bytes.
enum Verdict {
    /// Forward this many bytes of it, then cut if `cut`.
    Forward { len: usize, cut: bool },
    /// Cut now, forwarding nothing.
    CutNow,
}

impl State {
    /// Books `len` bytes of one message (`starts`: the first of it; `completes`: the last) and
    /// says how much of them may go.
    fn account(&mut self, dir: Direction, starts: bool, len: usize, completes: bool) -> Verdict {
        let d = dir.index();
        let mut forward = len;
        let mut cut = false;
        match self.cut {
            Some(Cut::AtMessage(at, k)) if at == dir && starts && self.counts.messages[d] == k => {
                self.cut = None;
                self.cuts += 1;
                return Verdict::CutNow;
            }
            Some(Cut::AfterBytes(at, n)) if at == dir => {
                let left = n.saturating_sub(self.counts.bytes[d]);
                if left <= len as u64 {
                    forward = left as usize;
                    cut = true;
                    self.cut = None;
                    self.cuts += 1;
                }
            }
            _ => {}
        }
        if self.counting {
            self.counts.bytes[d] += forward as u64;
            if completes && forward == len {
                self.counts.messages[d] += 1;
            }
        }
        Verdict::Forward { len: forward, cut }
    }
}

/// A running fault proxy in front of a server on 127.0.0.1; connect to
/// [`FaultProxy::port`]. Dropping it stops accepting; open connections keep running until
/// their peers close them.
#[derive(Debug)]
pub struct FaultProxy {
    port: u16,
    state: Arc<Mutex<State>>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy in front of `127.0.0.1:server_port` that forwards faithfully until told
    /// otherwise.
    pub async fn start(server_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("the fault proxy cannot bind a port on 127.0.0.1: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the fault proxy's listening socket has no address: {e}"))
            .port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            let server = SocketAddr::from(([127, 0, 0, 1], server_port));
            while let Ok((client, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    // A server that refuses is the client's to see: its socket just closes.
                    if let Ok(upstream) = TcpStream::connect(server).await {
                        relay(client, upstream, shared).await;
                    }
                });
            }
        });
        FaultProxy {
            port,
            state,
            accept,
        }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Zeroes the counters, starts counting and sets the next cut (`None`: count only).
    pub fn arm(&self, cut: Option<Cut>) {
        let mut state = self.state();
        state.counts = Counts::default();
        state.counting = true;
        state.cut = cut;
        state.missed = None;
    }

    /// Ends the exchange under test: counting stops (what follows, such as a check that the
    /// pool recovered, is not counted) and a cut that has not fired is withdrawn.
    pub fn disarm(&self) {
        let mut state = self.state();
        state.counting = false;
        state.missed = state.cut.take();
    }

    /// Whether the armed cut has not fired (or had not when [`FaultProxy::disarm`] was
    /// called).
    pub fn cut_pending(&self) -> bool {
        let state = self.state();
        state.cut.is_some() || state.missed.is_some()
    }

    /// What went through between [`FaultProxy::arm`] and [`FaultProxy::disarm`] (or now).
    pub fn counts(&self) -> Counts {
        self.state().counts
    }

    /// Cuts that fired since the proxy started.
    pub fn cuts(&self) -> u64 {
        self.state().cuts
    }

    /// Connections accepted since the proxy started.
    pub fn accepted(&self) -> u64 {
        self.state().accepted
    }

    /// Waits this long before forwarding each read, both ways (`None`: no delay).
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.state().delay = delay;
    }

    /// Forwards in 1-byte writes both ways (after 256 KiB of a direction on one connection,
    /// in writes of 8191 bytes).
    pub fn set_split(&self, split: bool) {
        self.state().split = split;
    }

    /// Writes of exactly one byte made while splitting, in this direction.
    pub fn one_byte_writes(&self, direction: Direction) -> u64 {
        self.state().one_byte_writes[direction.index()]
    }

    /// Resets every open connection now (a TCP RST both ways): the driver's next write or
    /// read on it fails at once, and the server ends the session.
    pub fn reset_all(&self) {
        self.end_all(Ending::Reset);
    }

    /// Closes every open connection now (an end of file both ways).
    pub fn close_all(&self) {
        self.end_all(Ending::Close);
    }

    /// Waits until every connection that [`FaultProxy::close_all`] or
    /// [`FaultProxy::reset_all`] ended has dropped its sockets, so that the end has reached
    /// the client's side (on loopback the kernel delivers it as the socket closes).
    /// Connections opened since are not waited for. Panics after 20 s.
    pub async fn all_ended(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !self.state().ending.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the fault proxy's relays did not end within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn end_all(&self, how: Ending) {
        let mut state = self.state();
        let open = std::mem::take(&mut state.open);
        for (id, switch) in open {
            state.ending.insert(id);
            let _ = switch.send(how);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Relays one connection until either side closes it or a cut ends it.
async fn relay(client: TcpStream, server: TcpStream, state: Arc<Mutex<State>>) {
    // Every write is its own segment: a 1-byte write arrives as one byte.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // `_alive` keeps the switch registered (a receiver exists) until both directions ended.
    let (ending, _alive) = watch::channel(Ending::Running);
    let id = {
        let mut shared = lock(&state);
        shared.accepted += 1;
        let id = shared.accepted;
        shared
            .open
            .retain(|(_, switch)| switch.receiver_count() > 0);
        shared.open.push((id, ending.clone()));
        id
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // SSLRequests sent and not yet answered: the server's answer is one untagged byte.
    let single_byte_answers = Arc::new(AtomicU32::new(0));
    let shared = state.clone();
    let up = Pump {
        dir: Direction::ToServer,
        state: state.clone(),
        ending: ending.clone(),
        framer: Framer::new(Direction::ToServer, single_byte_answers.clone()),
        split_sent: 0,
    };
    let down = Pump {
        dir: Direction::ToClient,
        state,
        ending,
        framer: Framer::new(Direction::ToClient, single_byte_answers),
        split_sent: 0,
    };
    tokio::join!(
        up.run(client_read, server_write),
        down.run(server_read, client_write)
    );
    // Both pumps dropped their halves: the sockets are closed.
    lock(&shared).ending.remove(&id);
}

/// The shared state; a relay that panicked holding the lock left plain counters behind,
/// still usable.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One direction of a relayed connection.
struct Pump {
    dir: Direction,
    state: Arc<Mutex<State>>,
    ending: watch::Sender<Ending>,
    framer: Framer,
    /// Bytes forwarded while splitting.
    split_sent: usize,
}

impl Pump {
    /// Forwards until the source closes, a write fails, a cut fires, or the connection is
    /// told to end; dropping the halves then closes the sockets (with a reset if told so).
    async fn run(mut self, mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
        let mut ending = self.ending.subscribe();
        let told = tokio::select! {
            () = self.forward(&mut from, &mut to) => None,
            how = ending.wait_for(|e| *e != Ending::Running) => how.ok().map(|h| *h),
        };
        if told == Some(Ending::Reset) {
            // SO_LINGER 0: closing sends a reset instead of an end of file.
            let _ = from.as_ref().set_zero_linger();
            let _ = to.as_ref().set_zero_linger();
        }
    }

    async fn forward(&mut self, from: &mut OwnedReadHalf, to: &mut OwnedWriteHalf) {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut chunk).await {
                Ok(0) => {
                    // An orderly end: pass it on, and let the other direction finish.
                    let _ = to.shutdown().await;
                    return;
                }
                Ok(n) => n,
                Err(_) => {
                    let _ = self.ending.send(Ending::Close);
                    return;
                }
            };
            let (delay, split) = {
                let state = lock(&self.state);
                (state.delay, state.split)
            };
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let (len, cut) = self.allowance(&chunk[..n]);
            let data = &chunk[..len];
            let written = if split {
                self.write_split(to, data).await
            } else {
                to.write_all(data).await
            };
            if written.is_err() || cut {
                let _ = self.ending.send(Ending::Close);
                return;
            }
        }
    }

    /// How much of `data` may go before the armed cut (all of it when none falls in it),
    /// and whether to cut after that; books the messages and bytes that go.
    fn allowance(&mut self, data: &[u8]) -> (usize, bool) {
        let mut state = lock(&self.state);
        let mut allowed = 0;
        while allowed < data.len() {
            let starts = self.framer.at_start();
            let (len, completes) = self.framer.step(&data[allowed..]);
            match state.account(self.dir, starts, len, completes) {
                Verdict::CutNow => return (allowed, true),
                Verdict::Forward { len, cut: true } => return (allowed + len, true),
                Verdict::Forward { len, cut: false } => allowed += len,
            }
        }
        (allowed, false)
    }

    /// Writes `piece` one byte per write (past the budget, in 8191-byte writes).
    async fn write_split(&mut self, to: &mut OwnedWriteHalf, piece: &[u8]) -> std::io::Result<()> {
        let mut rest = piece;
        while !rest.is_empty() {
            let size = if self.split_sent < SPLIT_ONE_BYTE_BUDGET {
                1
            } else {
                SPLIT_TAIL_PIECE.min(rest.len())
            };
            if size == 1 {
                // Counted before the write, so that a reader answered by it sees the count.
                lock(&self.state).one_byte_writes[self.dir.index()] += 1;
            }
            to.write_all(&rest[..size]).await?;
            self.split_sent += size;
            if size == 1 {
                // Let the reader run, so that it can see this byte on its own.
                tokio::task::yield_now().await;
            }
            rest = &rest[size..];
        }
        Ok(())
    }
}

/// Follows message boundaries in one direction's byte stream (also used by
/// [`CountingProxy`](crate::proxy::CountingProxy) to read frontend tags).
#[derive(Debug)]
pub(crate) struct Framer {
    dir: Direction,
    /// The startup packet (and an SSLRequest before it) have no tag.
    untagged: bool,
    /// The client's SSLRequests the server has not answered yet (shared by both directions).
    single_byte_answers: Arc<AtomicU32>,
    /// The current message's header bytes so far (tag and length, or length and code).
    header: Vec<u8>,
    /// The header's full size for the current message; 0 between messages.
    header_len: usize,
    /// Body bytes of the current message still to come.
    body_left: usize,
    /// The tag of the message [`Framer::step`] last ended (`None`: it had none).
    ended_tag: Option<u8>,
}

impl Framer {
    /// A framer at the start of a connection. `single_byte_answers` is shared by both
    /// directions of one connection: the frontend side counts SSLRequests into it, the
    /// backend side takes each answer as one byte.
    pub(crate) fn new(dir: Direction, single_byte_answers: Arc<AtomicU32>) -> Framer {
        Framer {
            dir,
            untagged: dir == Direction::ToServer,
            single_byte_answers,
            header: Vec::with_capacity(8),
            header_len: 0,
            body_left: 0,
            ended_tag: None,
        }
    }

    /// The tag of the message the last [`Framer::step`] ended; `None` for an untagged one.
    pub(crate) fn ended_tag(&self) -> Option<u8> {
        self.ended_tag
    }

    /// Whether the next byte starts a message.
    fn at_start(&self) -> bool {
        self.header_len == 0
    }

    /// Takes bytes of `data` up to the end of the current message: how many, and whether
    /// they end it.
    pub(crate) fn step(&mut self, data: &[u8]) -> (usize, bool) {
        if self.header_len == 0 {
            self.header.clear();
            self.header_len = if self.dir == Direction::ToClient
                && self
                    .single_byte_answers
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                    .is_ok()
            {
                1
            } else if self.untagged {
                // Length, then the protocol version or request code.
                8
            } else {
                5
            };
        }
        let mut taken = 0;
        if self.header.len() < self.header_len {
            taken = (self.header_len - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..taken]);
            if self.header.len() < self.header_len {
                return (taken, false);
            }
            self.body_left = self.body_len();
        }
        let more = self.body_left.min(data.len() - taken);
        self.body_left -= more;
        taken += more;
        if self.body_left == 0 {
            self.ended_tag = (self.header_len == 5).then(|| self.header[0]);
            self.header_len = 0;
            return (taken, true);
        }
        (taken, false)
    }

    /// The body's size once the header is complete; what follows is decided here too.
    fn body_len(&mut self) -> usize {
        let h = &self.header;
        match self.header_len {
            1 => 0,
            8 => {
                let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let code = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                if code == SSL_REQUEST || code == GSSENC_REQUEST {
                    self.single_byte_answers.fetch_add(1, Ordering::AcqRel);
                } else {
                    self.untagged = false;
                }
                len.saturating_sub(8)
            }
            _ => {
                let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
                len.saturating_sub(4)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boundaries(framer: &mut Framer, mut data: &[u8]) -> Vec<usize> {
        let mut ends = Vec::new();
        let mut at = 0;
        while !data.is_empty() {
            let (n, done) = framer.step(data);
            at += n;
            if done {
                ends.push(at);
            }
            data = &data[n..];
        }
        ends
    }

    #[test]
    fn frontend_framing_follows_ssl_request_startup_and_tagged_messages() {
        let answers = Arc::new(AtomicU32::new(0));
        let mut up = Framer::new(Direction::ToServer, answers.clone());
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&8u32.to_be_bytes());
        bytes.extend_from_slice(&SSL_REQUEST.to_be_bytes());
        bytes.extend_from_slice(&12u32.to_be_bytes());
        bytes.extend_from_slice(&196_608u32.to_be_bytes());
        bytes.extend_from_slice(b"u\0x\0");
        bytes.extend_from_slice(b"Q\0\0\0\x0aBEGIN\0");
        assert_eq!(boundaries(&mut up, &bytes), [8, 20, 31]);
        assert_eq!(answers.load(Ordering::Acquire), 1);

        // The server's 'N' is one byte; then tagged messages, fed one byte at a time.
        let mut down = Framer::new(Direction::ToClient, answers.clone());
        let mut reply = vec![b'N'];
        reply.extend_from_slice(b"Z\0\0\0\x05I");
        let mut ends = Vec::new();
        for (i, byte) in reply.iter().enumerate() {
            if down.step(std::slice::from_ref(byte)) == (1, true) {
                ends.push(i + 1);
            }
        }
        assert_eq!(ends, [1, 7]);
        assert_eq!(answers.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_message_cut_fires_once_at_the_start_of_message_k() {
        let mut state = State {
            cut: Some(Cut::AtMessage(Direction::ToClient, 1)),
            counting: true,
            ..State::default()
        };
        assert!(matches!(
            state.account(Direction::ToClient, true, 6, true),
            Verdict::Forward { len: 6, cut: false }
        ));
        assert!(matches!(
            state.account(Direction::ToServer, true, 6, true),
            Verdict::Forward { len: 6, cut: false }
        ));
        assert!(matches!(
            state.account(Direction::ToClient, true, 6, true),
            Verdict::CutNow
        ));
        assert_eq!(state.cuts, 1);
        assert!(state.cut.is_none());
    }

    #[test]
    fn a_byte_cut_forwards_exactly_n_bytes() {
        let mut state = State {
            cut: Some(Cut::AfterBytes(Direction::ToServer, 7)),
            counting: true,
            ..State::default()
        };
        assert!(matches!(
            state.account(Direction::ToServer, true, 5, false),
            Verdict::Forward { len: 5, cut: false }
        ));
        assert!(matches!(
            state.account(Direction::ToServer, false, 5, true),
            Verdict::Forward { len: 2, cut: true }
        ));
        assert_eq!(state.counts.bytes(Direction::ToServer), 7);
        assert_eq!(state.counts.messages(Direction::ToServer), 0);
    }
}
