//! [`Connection`]: the socket, the read and write buffers, and the loop that turns server
//! messages into results. Connecting lives in `connect.rs`, running queries in `query.rs`.
//!
//! Cancel safety: every request is written into `write_buf` together with its Sync in one
//! synchronous step, and `owed_ready` counts the ReadyForQuery messages the server still owes.
//! A future dropped mid-operation leaves both behind; the next operation first finishes the
//! write and drains what is owed (see [`Connection::ready`]), so the connection stays usable.

mod batch;
mod connect;
mod introspect;
mod query;
mod stream;
mod typed;

pub use query::{IntoQuery, QueryRef, RowStream};
pub use typed::TypedRowStream;

use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;

use crate::error::{DbError, Error, Result};
use crate::protocol::backend::{self, ErrorFields, Message, TransactionStatus};
use crate::protocol::frontend;
use crate::statement::{CloseQueue, StatementCache};
use stream::Socket;

/// Read at least this much per read call: one syscall brings in many small messages.
const READ_CHUNK: usize = 64 * 1024;

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// A callback for NoticeResponse messages (warnings, `RAISE NOTICE`, ...).
pub type NoticeHandler = Box<dyn Fn(&DbError) + Send + Sync>;

/// One connection to a PostgreSQL server.
///
/// Methods take `&mut self`: one operation at a time, enforced by the compiler. Use a pool
/// for concurrency.
///
/// ```no_run
/// # async fn demo() -> pgtusk::Result<()> {
/// let mut conn = pgtusk::Connection::connect("postgres://postgres@localhost/postgres").await?;
/// let n: i64 = conn.fetch_value("SELECT count(*) FROM pg_class WHERE relkind = $1", &[&"r"]).await?;
/// println!("{n} tables");
/// # Ok(()) }
/// ```
pub struct Connection {
    socket: Socket,
    read_buf: BytesMut,
    write_buf: BytesMut,
    max_message_size: usize,
    /// ReadyForQuery messages the server still owes: one per Sync or simple Query sent.
    owed_ready: u32,
    /// A named statement whose Parse went out in an operation that was dropped before the
    /// server confirmed it: it may exist on the server, so it is closed once drained.
    unconfirmed_statement: Option<String>,
    /// An `execute_many` has sent Bind/Execute pairs without their final Sync: if its future
    /// is dropped now, the next operation must abort the batch, not commit half of it.
    batch_unsynced: bool,
    /// Set when the connection's state is unknown (I/O or protocol failure): no further use.
    broken: bool,
    id: u64,
    process_id: i32,
    secret_key: i32,
    parameters: HashMap<String, String>,
    transaction_status: TransactionStatus,
    cache: StatementCache,
    close_queue: CloseQueue,
    next_statement_id: u64,
    notice_handler: Option<NoticeHandler>,
    /// Types looked up in `pg_type`, by OID.
    custom_types: HashMap<u32, crate::types::Type>,
}

impl Connection {
    fn new(socket: Socket, cache: StatementCache, max_message_size: usize) -> Connection {
        Connection {
            socket,
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            write_buf: BytesMut::with_capacity(4096),
            max_message_size,
            owed_ready: 0,
            unconfirmed_statement: None,
            batch_unsynced: false,
            broken: false,
            id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            process_id: 0,
            secret_key: 0,
            parameters: HashMap::new(),
            transaction_status: TransactionStatus::Idle,
            cache,
            close_queue: CloseQueue::default(),
            next_statement_id: 0,
            notice_handler: None,
            custom_types: HashMap::new(),
        }
    }

    /// The backend process id serving this connection (`pg_backend_pid()`).
    pub fn backend_pid(&self) -> i32 {
        self.process_id
    }

    /// The secret key that, with the backend pid, authorizes a CancelRequest.
    pub fn secret_key(&self) -> i32 {
        self.secret_key
    }

    /// A server parameter as last reported by ParameterStatus (`server_version`, `TimeZone`,
    /// `client_encoding`, `application_name`, ...).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    /// The server's version string, e.g. `15.19 (Debian 15.19-0+deb12u1)`.
    pub fn server_version(&self) -> &str {
        self.parameter("server_version").unwrap_or("")
    }

    /// The server's version as a number like `server_version_num`: 150019 for 15.19.
    pub fn server_version_num(&self) -> Option<u32> {
        let version = self.server_version().split_whitespace().next()?;
        let mut parts = version.split('.');
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
        Some(major * 10000 + minor)
    }

    /// Whether the server is idle, in a transaction block, or in a failed one.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.transaction_status
    }

    /// Whether the connection can no longer be used (closed, or broken by an I/O or
    /// protocol failure).
    pub fn is_closed(&self) -> bool {
        self.broken
    }

    /// The number of statements in the statement cache.
    pub fn cached_statements(&self) -> usize {
        self.cache.len()
    }

    /// Calls `handler` for every NoticeResponse (they also go to `tracing` at level INFO).
    pub fn on_notice(&mut self, handler: impl Fn(&DbError) + Send + Sync + 'static) {
        self.notice_handler = Some(Box::new(handler));
    }

    /// Sends Terminate and closes the socket.
    pub async fn close(mut self) -> Result<()> {
        if self.broken {
            return Ok(());
        }
        self.broken = true;
        frontend::terminate(&mut self.write_buf);
        self.socket.write_all_buf(&mut self.write_buf).await?;
        self.socket.shutdown().await?;
        Ok(())
    }

    /// Gets the connection ready for a new operation: refuses a broken one, finishes a write
    /// and drains the replies that a dropped operation left behind.
    async fn ready(&mut self) -> Result<()> {
        if self.broken {
            return Err(Error::Closed);
        }
        self.abandon_batch();
        self.flush().await?;
        while self.owed_ready > 0 {
            let msg = self.recv().await?;
            if let Message::ReadyForQuery(status) = msg {
                self.owed_ready -= 1;
                self.transaction_status = status;
            }
        }
        if let Some(name) = self.unconfirmed_statement.take() {
            self.queue_close(name);
        }
        Ok(())
    }

    fn queue_close(&mut self, name: String) {
        if let Ok(mut names) = self.close_queue.lock() {
            names.push(name);
        }
    }

    /// Appends a Close for every statement dropped since the last request; their
    /// CloseComplete replies are skipped by the response loops.
    fn write_pending_closes(&mut self) -> Result<()> {
        let names = match self.close_queue.lock() {
            Ok(mut names) if !names.is_empty() => std::mem::take(&mut *names),
            _ => return Ok(()),
        };
        for name in names.iter().filter(|n| !n.is_empty()) {
            frontend::close(b'S', name, &mut self.write_buf)?;
        }
        Ok(())
    }

    /// Appends Sync and counts the ReadyForQuery it will bring.
    fn write_sync(&mut self) {
        frontend::sync(&mut self.write_buf);
        self.owed_ready += 1;
    }

    /// Writes everything in the write buffer. Cancel-safe: what is not written stays queued.
    async fn flush(&mut self) -> Result<()> {
        while !self.write_buf.is_empty() {
            match self.socket.write_buf(&mut self.write_buf).await {
                Ok(0) => return Err(self.fail_io(io::ErrorKind::WriteZero.into())),
                Ok(_) => {}
                Err(e) => return Err(self.fail_io(e)),
            }
        }
        Ok(())
    }

    fn fail_io(&mut self, e: io::Error) -> Error {
        self.broken = true;
        Error::Io(e)
    }

    /// The next message for the operation in progress. ParameterStatus and NoticeResponse
    /// are handled here and never returned.
    async fn recv(&mut self) -> Result<Message> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        // A reply handler may have queued a message (CopyFail); it goes out before we wait.
        while !self.write_buf.is_empty() {
            let written = ready!(tokio_util::io::poll_write_buf(
                Pin::new(&mut self.socket),
                cx,
                &mut self.write_buf
            ));
            match written {
                Ok(0) => return Poll::Ready(Err(self.fail_io(io::ErrorKind::WriteZero.into()))),
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(self.fail_io(e))),
            }
        }
        loop {
            match backend::parse_message(&mut self.read_buf, self.max_message_size) {
                Ok(Some(Message::ParameterStatus(p))) => {
                    self.parameters
                        .insert(p.name().to_owned(), p.value().to_owned());
                }
                Ok(Some(Message::NoticeResponse(fields))) => self.handle_notice(&fields),
                Ok(Some(Message::NotificationResponse(n))) => {
                    tracing::debug!(
                        channel = n.channel(),
                        "notification with no listener dropped"
                    );
                }
                Ok(Some(msg)) => return Poll::Ready(Ok(msg)),
                Ok(None) => {
                    if self.read_buf.capacity() - self.read_buf.len() < READ_CHUNK / 4 {
                        self.read_buf.reserve(READ_CHUNK);
                    }
                    let read = ready!(tokio_util::io::poll_read_buf(
                        Pin::new(&mut self.socket),
                        cx,
                        &mut self.read_buf
                    ));
                    match read {
                        Ok(0) => {
                            let eof = io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the server closed the connection",
                            );
                            return Poll::Ready(Err(self.fail_io(eof)));
                        }
                        Ok(_) => {}
                        Err(e) => return Poll::Ready(Err(self.fail_io(e))),
                    }
                }
                Err(e) => {
                    self.broken = true;
                    return Poll::Ready(Err(e.into()));
                }
            }
        }
    }

    fn handle_notice(&mut self, fields: &ErrorFields) {
        match db_error(fields) {
            Error::Db(notice) => {
                tracing::info!(target: "pgtusk::notice", "{notice}");
                if let Some(handler) = &self.notice_handler {
                    handler(&notice);
                }
            }
            other => tracing::warn!("malformed NoticeResponse: {other}"),
        }
    }

    /// A protocol error for a message that has no place in the current exchange; the
    /// connection's state is unknown afterwards.
    fn unexpected(&mut self, msg: &Message, during: &str) -> Error {
        self.broken = true;
        Error::Protocol(format!(
            "unexpected message {} during {during}",
            message_name(msg)
        ))
    }
}

/// Turns ErrorResponse / NoticeResponse fields into `Error::Db` (or `Error::Protocol` when
/// the fields are malformed).
pub(crate) fn db_error(fields: &ErrorFields) -> Error {
    let mut parsed = Vec::new();
    for field in fields.iter() {
        match field {
            Ok(f) => parsed.push((f.code, f.value)),
            Err(e) => return e.into(),
        }
    }
    match DbError::from_fields(parsed) {
        Ok(e) => Error::Db(Box::new(e)),
        Err(e) => Error::Protocol(format!("malformed error response: {e}")),
    }
}

fn message_name(msg: &Message) -> &'static str {
    match msg {
        Message::DataRow(_) => "DataRow",
        Message::RowDescription(_) => "RowDescription",
        Message::CommandComplete(_) => "CommandComplete",
        Message::ReadyForQuery(_) => "ReadyForQuery",
        Message::ParseComplete => "ParseComplete",
        Message::BindComplete => "BindComplete",
        Message::CloseComplete => "CloseComplete",
        Message::NoData => "NoData",
        Message::ParameterDescription(_) => "ParameterDescription",
        Message::ErrorResponse(_) => "ErrorResponse",
        Message::EmptyQueryResponse => "EmptyQueryResponse",
        Message::PortalSuspended => "PortalSuspended",
        Message::CopyInResponse(_) => "CopyInResponse",
        Message::CopyOutResponse(_) => "CopyOutResponse",
        Message::CopyBothResponse(_) => "CopyBothResponse",
        Message::CopyData(_) => "CopyData",
        Message::CopyDone => "CopyDone",
        Message::BackendKeyData { .. } => "BackendKeyData",
        Message::NegotiateProtocolVersion { .. } => "NegotiateProtocolVersion",
        _ => "Authentication",
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("backend_pid", &self.process_id)
            .field("server_version", &self.server_version())
            .field("transaction_status", &self.transaction_status)
            .field("cached_statements", &self.cache.len())
            .field("closed", &self.broken)
            .finish_non_exhaustive()
    }
}
