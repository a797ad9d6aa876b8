//! [`Connection`]: the socket, the read and write buffers, and the loop that turns server
//! messages into results. Connecting lives in `connect.rs`, running queries in `query.rs`.
//!
//! The protocol state lives in [`Session`] (sans-IO, `protocol/session.rs`); this shell moves
//! bytes between it and the socket. Cancel safety: a future dropped mid-operation leaves its
//! requests in the session, marked abandoned when the next operation starts; that operation
//! first finishes the write and drains what they are owed (see [`Connection::ready`]).

mod batch;
mod connect;
mod copy;
mod cursor;
mod introspect;
mod oneshot;
mod pipeline;
mod pooled;
mod query;
mod stream;
mod trace;
mod typed;

pub use copy::{CopyIn, CopyInWriter, CopyOut, CopyOutRows};
pub(crate) use pooled::ClientSettings;
pub(crate) use query::Params;
pub use query::{IntoQuery, QueryRef, RowStream};
pub use typed::TypedRowStream;

use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::cancel::{CancelTarget, CancelToken};
use crate::config::{NoticeHandler, TerminationHandler};
use crate::error::{DbError, Error, Result};
use crate::pool::stale::StaleStatements;
use crate::protocol::backend::{self, ErrorFields, Message, Notification, TransactionStatus};
use crate::protocol::session::{Event, Session, message_name};
use crate::statement::StatementCache;
use stream::Socket;

/// Read at least this much per read call: one syscall brings in many small messages.
const READ_CHUNK: usize = 64 * 1024;

/// Buffers that grew past this for one outsized message are given back afterwards.
const NORMAL_BUFFER: usize = 1024 * 1024;

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// One connection to a PostgreSQL server.
///
/// Methods take `&mut self`: one operation at a time, enforced by the compiler. Use a
/// [`Pool`](crate::Pool) for concurrency.
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
    max_message_size: usize,
    /// The protocol state: what was written, what the server still owes, what it reported.
    session: Session,
    id: u64,
    process_id: i32,
    secret_key: i32,
    /// Where a CancelRequest for this connection goes.
    cancel_target: CancelTarget,
    /// Bounds a cancel, as it bounds connecting.
    connect_timeout: Option<Duration>,
    /// How long one statement may run before it is cancelled (`None`: no limit).
    command_timeout: Option<Duration>,
    cache: StatementCache,
    /// Descriptions of SQL the cache does not admit, run unnamed in one round trip
    /// (`oneshot.rs`).
    described: StatementCache,
    next_statement_id: u64,
    notice_handler: Option<NoticeHandler>,
    termination_handler: Option<TerminationHandler>,
    /// The termination handler was called (it is called once).
    termination_told: bool,
    /// Statements prepared (named or unnamed): a query that prepared none hit the cache.
    prepares: u64,
    /// Finished statements slower than this are logged at WARN (`pgtusk::query`).
    slow_query_threshold: Option<Duration>,
    /// Types looked up in `pg_type`, by OID.
    custom_types: HashMap<u32, crate::types::Type>,
    /// Operations started (queries, scripts, batches, cursor fetches): a pool retires a
    /// connection after `max_queries`.
    operations: u64,
    /// The stale-statement log of the pool this connection belongs to, and how far this
    /// connection read it.
    pool_stale: Option<Arc<StaleStatements>>,
    stale_seen: u64,
}

impl Connection {
    fn new(
        socket: Socket,
        cache: StatementCache,
        max_message_size: usize,
        cancel_target: CancelTarget,
    ) -> Connection {
        Connection {
            cancel_target,
            connect_timeout: None,
            command_timeout: None,
            socket,
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            max_message_size,
            session: Session::new(),
            id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            process_id: 0,
            secret_key: 0,
            described: oneshot::described_cache(&cache),
            cache,
            next_statement_id: 0,
            notice_handler: None,
            termination_handler: None,
            termination_told: false,
            prepares: 0,
            slow_query_threshold: None,
            custom_types: HashMap::new(),
            operations: 0,
            pool_stale: None,
            stale_seen: 0,
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

    /// A token that cancels what this connection's backend is running, from another task
    /// or thread; see [`CancelToken`].
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken::new(
            self.cancel_target.clone(),
            self.process_id,
            self.secret_key,
            self.connect_timeout,
        )
    }

    /// A server parameter as last reported by ParameterStatus (`server_version`, `TimeZone`,
    /// `client_encoding`, `application_name`, ...).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.session.parameter(name)
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
        self.session.transaction_status()
    }

    /// Whether the connection can no longer be used (closed, ended by the server, or broken
    /// by an I/O or protocol failure).
    pub fn is_closed(&self) -> bool {
        self.session.is_broken()
    }

    /// The number of statements in the statement cache.
    pub fn cached_statements(&self) -> usize {
        self.cache.len()
    }

    /// The protocol state, for the types that queue statements on it (transactions).
    pub(crate) fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The bytes the read and write buffers hold allocated (for tests of their shrinking).
    #[doc(hidden)]
    pub fn buffer_capacity(&self) -> usize {
        self.read_buf.capacity() + self.session.output_capacity()
    }

    /// Calls `handler` for every NoticeResponse, instead of the one set by
    /// [`ConnectOptions::on_notice`](crate::ConnectOptions::on_notice) (notices also go to
    /// `tracing`, target `pgtusk::notice`).
    pub fn on_notice(&mut self, handler: impl Fn(&DbError) + Send + Sync + 'static) {
        self.notice_handler = Some(Arc::new(handler));
    }

    /// Calls `handler` once when this connection finds the server ended the session, instead
    /// of the one set by [`ConnectOptions::on_termination`](crate::ConnectOptions::on_termination),
    /// which says when and with what.
    pub fn on_termination(&mut self, handler: impl Fn(&Error) + Send + Sync + 'static) {
        self.termination_handler = Some(Arc::new(handler));
    }

    /// Sends Terminate and closes the socket.
    pub async fn close(mut self) -> Result<()> {
        if self.session.is_broken() {
            return Ok(());
        }
        self.session.terminate();
        self.flush().await?;
        self.socket.shutdown().await?;
        Ok(())
    }

    /// Gets the connection ready for a new operation: refuses a broken one, finishes a write
    /// and drains the replies that a dropped operation left behind.
    async fn ready(&mut self) -> Result<()> {
        self.session.start_operation()?;
        self.operations += 1;
        if let Some(stale) = &self.pool_stale
            && stale.newest() != self.stale_seen
        {
            self.forget_stale_elsewhere();
        }
        if self.session.is_draining() {
            self.drain_dropped().await?;
        }
        self.session.write_prelude();
        if self.session.take_statements_discarded() {
            self.cache.forget_all();
        }
        self.session.shrink_output(NORMAL_BUFFER);
        if self.read_buf.capacity() > NORMAL_BUFFER && self.read_buf.len() < READ_CHUNK {
            // An outsized message grew the buffer; keep what is left, not the allocation.
            let mut fresh = BytesMut::with_capacity(READ_CHUNK);
            fresh.extend_from_slice(&self.read_buf);
            self.read_buf = fresh;
        }
        Ok(())
    }

    /// Writes everything queued. Cancel-safe: what is not written stays queued.
    async fn flush(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let socket = &mut self.socket;
        let written = ready!(
            self.session
                .poll_transmit(|buf| Pin::new(&mut *socket).poll_write(cx, buf))
        );
        Poll::Ready(match written {
            Ok(()) => Ok(()),
            Err(e) => Err(self.lost(e)),
        })
    }

    /// The socket failed or the server closed it: the session ends with the server's FATAL
    /// reason when it sent one, and the termination handler hears of it once.
    #[cold]
    fn lost(&mut self, e: io::Error) -> Error {
        let error = self.session.connection_lost(e);
        if !self.termination_told {
            self.termination_told = true;
            if let Some(handler) = &self.termination_handler {
                handler(&error);
            }
        }
        error
    }

    /// The next message for the operation in progress. What the session consumes
    /// (ParameterStatus, notifications, replies to abandoned requests) is never returned.
    async fn recv(&mut self) -> Result<Message> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The hot path: every row passes here, so the message is parsed and returned in one
    /// frame (no intermediate `Poll<Result<Message>>` to move it through), and a row or a
    /// BindComplete (nothing to count) skips the session's bookkeeping when the session says
    /// replies go to the operation.
    #[inline]
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        loop {
            match backend::parse_message(&mut self.read_buf, self.max_message_size) {
                Ok(Some(msg)) => {
                    if matches!(
                        msg,
                        Message::DataRow(_) | Message::BindComplete | Message::CopyData(_)
                    ) && self.session.delivers_rows()
                    {
                        return Poll::Ready(Ok(msg));
                    }
                    match self.session.handle(&msg) {
                        Ok(Event::Deliver) => return Poll::Ready(Ok(msg)),
                        Ok(Event::Notice) => self.handle_notice(&msg),
                        Ok(Event::Consumed) => {}
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                Ok(None) => ready!(self.poll_fill(cx))?,
                Err(e) => return Poll::Ready(Err(self.malformed(e))),
            }
        }
    }

    /// Reads what dropped operations are owed. When the server is still working for one (a
    /// timeout around a long query), that work is cancelled first: a CancelRequest, answered
    /// once the backend was signalled, then the drain. Nothing new is sent before the drain
    /// ends, and a backend signalled while it waits for input ignores the signal, so the
    /// cancel cannot reach the next operation's statement.
    async fn drain_dropped(&mut self) -> Result<()> {
        // Prelude statements ahead (a ROLLBACK) are quick and must not be cancelled.
        while self.session.front_is_prelude() && self.session.is_draining() {
            let msg = self.recv_any().await?;
            match self.session.handle(&msg)? {
                Event::Consumed => {}
                Event::Notice => self.handle_notice(&msg),
                Event::Deliver => return Err(self.unexpected(&msg, "draining a dropped operation")),
            }
        }
        let drained = poll_fn(|cx| {
            Poll::Ready(match self.poll_drain(cx, false) {
                Poll::Ready(result) => result.map(|()| true),
                Poll::Pending => Ok(false),
            })
        })
        .await?;
        if drained {
            return Ok(());
        }
        if let Err(e) = self.cancel_token().cancel().await {
            tracing::warn!("could not cancel the work of a dropped operation: {e}");
        }
        poll_fn(|cx| self.poll_drain(cx, false)).await
    }

    /// Runs `op` under `command_timeout`: past the limit the operation is dropped, its work
    /// on the server cancelled and drained (as for any dropped operation), and the error
    /// names the statement and the limit.
    ///
    /// The cancel and the drain together get the cancel's own bound (`connect_timeout`, or
    /// 10 s): a server that stopped answering (a hung host, a stopped process) must not
    /// hang the call that timed out. When they do not finish in time the connection is
    /// closed, since what the server still owes is unknown.
    async fn timed<T>(
        &mut self,
        sql: &str,
        op: impl AsyncFnOnce(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        let Some(limit) = self.command_timeout else {
            return op(self).await;
        };
        match tokio::time::timeout(limit, op(self)).await {
            Ok(result) => result,
            Err(_) => {
                let cleanup = self.cancel_token().timeout();
                let outcome = match tokio::time::timeout(cleanup, self.ready()).await {
                    Ok(Ok(())) => "was cancelled".to_owned(),
                    Ok(Err(e)) => {
                        tracing::debug!(
                            "after a command timeout, cancelling and draining failed: {e}"
                        );
                        format!("was abandoned; the connection failed while cancelling it ({e})")
                    }
                    Err(_) => {
                        self.session.set_broken();
                        format!(
                            "could not be cancelled: the server did not finish answering \
                             within {cleanup:?} of a cancel request (connect_timeout bounds \
                             the cancel), so the connection was closed; check that the server \
                             and the network are not stalled or overloaded"
                        )
                    }
                };
                Err(Error::Timeout(format!(
                    "the statement ran longer than command_timeout ({limit:?}) and {outcome}. \
                     Statement: {}",
                    truncated(sql)
                )))
            }
        }
    }

    async fn recv_any(&mut self) -> Result<Message> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    /// Like [`Connection::ready`], then also reads the replies to queued statements (a
    /// ROLLBACK, a BEGIN): afterwards the transaction status is the server's own.
    pub(crate) async fn settle(&mut self) -> Result<()> {
        self.ready().await?;
        if !self.session.is_settled() {
            poll_fn(|cx| self.poll_drain(cx, true)).await?;
        }
        Ok(())
    }

    /// Reads until no dropped operation's request is owed an answer (`all`: no request at
    /// all, queued statements included).
    fn poll_drain(&mut self, cx: &mut Context<'_>, all: bool) -> Poll<Result<()>> {
        ready!(self.poll_flush(cx))?;
        while if all {
            !self.session.is_settled()
        } else {
            self.session.is_draining()
        } {
            let msg = ready!(self.poll_message(cx))?;
            match self.session.handle(&msg)? {
                Event::Deliver => {
                    return Poll::Ready(Err(self.unexpected(&msg, "draining a dropped operation")));
                }
                Event::Notice => self.handle_notice(&msg),
                Event::Consumed => {}
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The next backend message, whatever it is (for draining; queries use `poll_recv`).
    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        loop {
            match backend::parse_message(&mut self.read_buf, self.max_message_size) {
                Ok(Some(msg)) => return Poll::Ready(Ok(msg)),
                Ok(None) => ready!(self.poll_fill(cx))?,
                Err(e) => return Poll::Ready(Err(self.malformed(e))),
            }
        }
    }

    /// The next notification for [`Notifications`](crate::Notifications): one kept while
    /// queries ran, else read from the socket. The stream borrows the connection, so no
    /// operation runs: whatever the session still owes belongs to dropped operations and is
    /// drained here as the next operation would (a queued ROLLBACK goes out), keeping what
    /// arrives on the way. An error leaves the connection closed unless it is
    /// [`Error::NotificationsDropped`].
    pub(crate) fn poll_notification(&mut self, cx: &mut Context<'_>) -> Poll<Result<Notification>> {
        loop {
            match self.session.next_notification() {
                Some(Ok(notification)) => return Poll::Ready(Ok(notification)),
                Some(Err(dropped)) => {
                    return Poll::Ready(Err(Error::NotificationsDropped {
                        dropped,
                        capacity: self.session.notification_capacity(),
                    }));
                }
                None => {}
            }
            // Refuses a closed session (with the server's reason), marks leftovers abandoned;
            // a queued ROLLBACK goes out.
            self.session.start_operation()?;
            self.session.write_prelude();
            ready!(self.poll_flush(cx))?;
            let msg = ready!(self.poll_message(cx))?;
            match self.session.handle(&msg)? {
                Event::Deliver => {
                    return Poll::Ready(Err(self.unexpected(&msg, "waiting for notifications")));
                }
                Event::Notice => self.handle_notice(&msg),
                Event::Consumed => {}
            }
        }
    }

    /// A message that is not valid protocol: the connection's state is unknown.
    #[cold]
    fn malformed(&mut self, e: crate::protocol::ProtocolError) -> Error {
        self.session.set_broken();
        e.into()
    }

    /// Reads more bytes from the socket into the read buffer, after writing what the session
    /// queued (a reply such as CopyFail goes out before we wait).
    #[inline]
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.session.has_output() {
            ready!(self.poll_flush(cx))?;
        }
        self.poll_read_more(cx)
    }

    /// Reads more bytes from the socket into the read buffer (an end of file is the
    /// connection's end).
    #[inline]
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.session.ended_by_server() {
            // After a FATAL only the socket's end can come: waiting for a ReadyForQuery
            // would hang on a peer that keeps the socket open.
            let ended = io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server ended the session",
            );
            return Poll::Ready(Err(self.lost(ended)));
        }
        if self.read_buf.capacity() - self.read_buf.len() < READ_CHUNK / 4 {
            self.read_buf.reserve(READ_CHUNK);
        }
        let read = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.socket),
            cx,
            &mut self.read_buf
        ));
        Poll::Ready(match read {
            Ok(0) => {
                let eof = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                );
                Err(self.lost(eof))
            }
            Ok(_) => Ok(()),
            Err(e) => Err(self.lost(e)),
        })
    }

    fn handle_notice(&mut self, msg: &Message) {
        let Message::NoticeResponse(fields) = msg else {
            return;
        };
        match db_error(fields) {
            Error::Db(notice) => {
                tracing::info!(
                    target: "pgtusk::notice",
                    severity = notice.severity(),
                    sqlstate = notice.code().code(),
                    message = notice.message(),
                    "server notice"
                );
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
        self.session.fail_protocol(&format!(
            "unexpected message {} during {during}",
            message_name(msg)
        ))
    }

    /// Reads up to the ReadyForQuery that ends the current request.
    async fn finish(&mut self) -> Result<()> {
        loop {
            if let Message::ReadyForQuery(_) = self.recv().await? {
                return Ok(());
            }
        }
    }

    /// Ends the current request after an error on our side, reading its ReadyForQuery when
    /// part of it reached the server; the caller then returns `error`.
    async fn abort_request(&mut self, error: Error) -> Error {
        if self.session.abort_request() {
            let drained = match self.flush().await {
                Ok(()) => self.finish().await,
                Err(e) => Err(e),
            };
            if let Err(e) = drained {
                tracing::debug!("ending the request after an error failed: {e}");
            }
        }
        error
    }
}

/// SQL for an error message: the first 200 characters.
pub(crate) fn truncated(sql: &str) -> String {
    match sql.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &sql[..end]),
        None => sql.to_owned(),
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

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("backend_pid", &self.process_id)
            .field("server_version", &self.server_version())
            .field("transaction_status", &self.session.transaction_status())
            .field("cached_statements", &self.cache.len())
            .field("closed", &self.session.is_broken())
            .finish_non_exhaustive()
    }
}
