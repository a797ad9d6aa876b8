//! The session's protocol state, sans-IO: what has been written, what the server still owes,
//! and what each incoming message means for it.
//!
//! The async [`Connection`](crate::Connection) only moves bytes: it appends requests to
//! [`Session::out`], hands the session's output to the socket through
//! [`Session::poll_transmit`], and feeds every parsed backend message to [`Session::handle`],
//! which keeps the books and says whether the message is for the operation in progress.
//!
//! A *request* is everything up to one Sync (or one simple Query): the server answers it with
//! exactly one ReadyForQuery. Requests are queued in the order they were written, each with
//! what to do if the operation that wrote it is dropped before its answer arrives:
//!
//! - its replies are discarded up to its ReadyForQuery (the next operation drains them first);
//! - one whose Sync was never written gets it now, after a statement the server cannot parse
//!   when it may already have run part of a batch, so the batch rolls back instead of
//!   committing half ([`Abandon`]);
//! - one that never reached the socket is cut from the output, as if never written.
//!
//! Close messages for dropped statements and cursors' portals ride at the front of the next
//! extended request and their CloseComplete replies are consumed here, so they never reach
//! (or miscount) an operation. NotificationResponse is queued, not dropped, in a bounded buffer
//! that counts what it had to drop; a FATAL ErrorResponse is kept as the reason the session
//! ended.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, ready};

use bytes::{Buf, BytesMut};

use super::backend::{ErrorFields, Message, Notification, TransactionStatus};
use super::frontend;
use super::session_state::tag_leaves_state;
use crate::error::{DbError, Error};

/// Server statements and portals to close with the next extended request. Shared with every
/// [`Statement`](crate::Statement), whose last clone pushes its name here when dropped, and
/// with every cursor, which pushes its portal's name.
pub(crate) type CloseQueue = Arc<Closes>;

/// What a Close message names: a prepared statement (kind 'S') or a portal (kind 'P').
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloseTarget {
    kind: u8,
    name: String,
}

/// The targets behind a [`CloseQueue`], with a flag that lets a request skip the lock when
/// nothing was dropped (the usual case, once per query).
#[derive(Debug, Default)]
pub(crate) struct Closes {
    targets: Mutex<Vec<CloseTarget>>,
    pending: AtomicBool,
}

impl Closes {
    /// Queues statement names to close.
    pub(crate) fn push(&self, names: impl IntoIterator<Item = String>) {
        self.push_targets(names.into_iter().map(|name| CloseTarget {
            kind: frontend::KIND_STATEMENT,
            name,
        }));
    }

    /// Queues a portal (a cursor) to close. Closing a portal that no longer exists (its
    /// transaction ended) is not an error on the server: it answers CloseComplete all the same.
    pub(crate) fn push_portal(&self, name: String) {
        self.push_targets([CloseTarget {
            kind: frontend::KIND_PORTAL,
            name,
        }]);
    }

    fn push_targets(&self, targets: impl IntoIterator<Item = CloseTarget>) {
        if let Ok(mut queued) = self.targets.lock() {
            queued.extend(targets);
            // Set under the lock, after the targets: a reader that sees it finds them.
            self.pending.store(!queued.is_empty(), Ordering::Release);
        }
    }

    /// Takes every queued target.
    fn take(&self) -> Vec<CloseTarget> {
        if !self.pending.load(Ordering::Acquire) {
            return Vec::new();
        }
        match self.targets.lock() {
            Ok(mut queued) => {
                self.pending.store(false, Ordering::Release);
                std::mem::take(&mut *queued)
            }
            Err(_) => Vec::new(),
        }
    }
}

/// SQL the server refuses to parse: written to abort the implicit transaction of a batch whose
/// operation was dropped after part of it went out, so a partial batch is never committed.
const ABANDONED_BATCH: &str = "pgtusk: batch abandoned before it finished";

/// The CopyFail text for COPY FROM STDIN run through a query method.
const COPY_IN_REFUSED: &str = "COPY FROM STDIN needs the COPY API, not a query method";

/// The CopyFail text for a COPY FROM STDIN whose writer was dropped before it finished.
const COPY_IN_ABANDONED: &str = "pgtusk: the COPY writer was dropped before finish()";

/// Notifications kept until read, by default; past this the oldest are dropped and counted.
const DEFAULT_NOTIFICATION_BUFFER: usize = 10_000;

/// How a request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// The startup exchange: authentication, parameters, BackendKeyData, ReadyForQuery.
    Startup,
    /// A simple Query message (text results, no parameters).
    Simple,
    /// Extended query messages ended by one Sync.
    Extended,
}

/// What an unsynced request gets if its operation is dropped (or fails) after some of its
/// statements may have run on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abandon {
    /// Just Sync: what ran is one statement, complete on its own.
    Sync,
    /// A Parse that fails, then Sync: the implicit transaction rolls back (a batch).
    Fail,
}

/// What a backend message is to the operation in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A reply for the operation in progress: hand it over.
    Deliver,
    /// A NoticeResponse, for the notice handler.
    Notice,
    /// Nothing for the operation: bookkeeping, or a reply to an abandoned request.
    Consumed,
}

#[derive(Debug)]
struct Request {
    kind: RequestKind,
    /// Where the request starts in the output stream (bytes since the session began).
    start: u64,
    /// Where its first statement that may change data (Bind) starts, once written.
    effects_at: Option<u64>,
    /// Statements and portals it closes, in order; their CloseComplete replies are consumed
    /// here.
    closes: VecDeque<CloseTarget>,
    /// Its Sync (or Query) is written: a ReadyForQuery will end it.
    synced: bool,
    on_abandon: Abandon,
    /// The operation that wrote it is gone: its replies are discarded.
    abandoned: bool,
    /// A queued statement the session wrote for no operation (a dropped transaction's
    /// ROLLBACK, a deferred BEGIN): its replies are discarded as they come, without waiting.
    prelude: bool,
    /// Execute messages written, and the results that ended one (CommandComplete,
    /// EmptyQueryResponse, PortalSuspended, or COPY FROM STDIN refused).
    executes: u32,
    results: u32,
    /// The server sent an ErrorResponse for it: it skips the rest up to Sync, so Executes
    /// may go unanswered.
    failed: bool,
    /// Where the request stands with COPY FROM STDIN.
    copy_in: CopyIn,
}

/// A request's COPY FROM STDIN state: only the COPY API's own request takes one; anything
/// else that starts COPY FROM STDIN is refused with CopyFail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyIn {
    /// A CopyInResponse is refused.
    Refused,
    /// The COPY API's request: its (first) CopyInResponse opens the copy.
    Expected,
    /// The server waits for CopyData until CopyDone or CopyFail (or its own error).
    Open,
    /// The copy ended; a second one in the same request is refused.
    Ended,
}

/// The protocol state of one session; see the module documentation.
#[derive(Debug)]
pub(crate) struct Session {
    out: BytesMut,
    /// Bytes of output handed to the socket since the session began.
    sent: u64,
    requests: VecDeque<Request>,
    close_queue: CloseQueue,
    transaction_status: TransactionStatus,
    parameters: HashMap<String, String>,
    notifications: VecDeque<Notification>,
    /// The most notifications kept; a new one past this drops the oldest.
    notification_capacity: usize,
    /// Notifications dropped since the reader last heard of it.
    notifications_dropped: u64,
    /// Why the server ended the session (a FATAL or PANIC ErrorResponse), until reported.
    fatal: Option<Box<DbError>>,
    /// The session cannot be used any more: closed, or its state is unknown.
    broken: bool,
    /// DISCARD ALL or DEALLOCATE ALL ran: the server has no prepared statements left.
    statements_discarded: bool,
    /// A command may have left state in the session (a SET, a LISTEN, an advisory lock):
    /// see `session_state`. A pool resets such a connection before reusing it.
    state_changed: bool,
    /// The oldest request is the operation's own: its rows go to it (kept in step with
    /// `requests` by `refresh`, so a row costs one flag check).
    delivering: bool,
    /// Statements to run before the next operation's own, each its own simple Query.
    prelude: Vec<String>,
}

impl Session {
    /// A session at the start of the startup exchange, whose ReadyForQuery it awaits.
    pub(crate) fn new() -> Session {
        let mut session = Session {
            out: BytesMut::with_capacity(4096),
            sent: 0,
            requests: VecDeque::new(),
            close_queue: CloseQueue::default(),
            transaction_status: TransactionStatus::Idle,
            parameters: HashMap::new(),
            notifications: VecDeque::new(),
            notification_capacity: DEFAULT_NOTIFICATION_BUFFER,
            notifications_dropped: 0,
            fatal: None,
            broken: false,
            statements_discarded: false,
            state_changed: false,
            delivering: false,
            prelude: Vec::new(),
        };
        session.push_request(RequestKind::Startup, Abandon::Sync, true);
        session
    }

    /// The output buffer, to append frontend messages to. Bytes leave it only through
    /// [`Session::poll_transmit`].
    #[inline]
    pub(crate) fn out(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Whether output is waiting for the socket.
    #[inline]
    pub(crate) fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Hands the output to `write` until it is all written. `write` returns how many bytes of
    /// the slice it took; 0 is an error (the socket is closed).
    pub(crate) fn poll_transmit(
        &mut self,
        mut write: impl FnMut(&[u8]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let n = ready!(write(&self.out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let n = n.min(self.out.len());
            self.out.advance(n);
            self.sent += n as u64;
        }
        Poll::Ready(Ok(()))
    }

    /// The bytes of output handed to the socket since the session began: a request that ends
    /// at or before this may have reached the server; one that ends after it cannot have
    /// arrived whole.
    #[inline]
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// The bytes of output not yet handed to the socket.
    #[inline]
    pub(crate) fn queued_output(&self) -> usize {
        self.out.len()
    }

    /// Gives large buffers back once they are empty, so one outsized message does not keep its
    /// memory for the life of the connection.
    #[inline]
    pub(crate) fn shrink_output(&mut self, normal: usize) {
        if self.out.is_empty() && self.out.capacity() > 4 * normal {
            self.out = BytesMut::with_capacity(normal);
        }
    }

    /// The output buffer's allocated size.
    pub(crate) fn output_capacity(&self) -> usize {
        self.out.capacity()
    }

    /// Recomputes `delivering` after `requests` changed.
    #[inline]
    fn refresh(&mut self) {
        self.delivering = self.requests.front().is_some_and(|r| !r.abandoned);
    }

    /// Whether a DataRow now is the operation's, with no bookkeeping to do: the fast path for
    /// rows, the one message that comes by the million.
    #[inline]
    pub(crate) fn delivers_rows(&self) -> bool {
        self.delivering
    }

    #[inline]
    fn push_request(&mut self, kind: RequestKind, on_abandon: Abandon, synced: bool) {
        let start = self.position();
        self.requests.push_back(Request {
            kind,
            start,
            effects_at: None,
            closes: VecDeque::new(),
            synced,
            on_abandon,
            abandoned: false,
            prelude: false,
            executes: 0,
            results: 0,
            failed: false,
            copy_in: CopyIn::Refused,
        });
        self.refresh();
    }

    /// Starts an operation: refuses a broken session, and marks every request still owed an
    /// answer as abandoned (one operation runs at a time, so they belong to dropped ones). An
    /// abandoned request that never reached the socket is cut; one without its Sync gets it.
    /// The caller then transmits and drains until [`Session::is_draining`] is false.
    pub(crate) fn start_operation(&mut self) -> Result<(), Error> {
        if self.broken {
            return Err(self.closed_error());
        }
        if self.requests.is_empty() {
            return Ok(());
        }
        for request in &mut self.requests {
            request.abandoned = true;
            if request.copy_in == CopyIn::Open {
                // The server waits for data that will never come: end its COPY (it rolls
                // back) so that the drain gets its answer.
                request.copy_in = CopyIn::Ended;
                // Cannot fail: the constant has no NUL.
                let _ = frontend::copy_fail(COPY_IN_ABANDONED, &mut self.out);
            }
        }
        while let Some(last) = self.requests.back() {
            // A prelude statement (a ROLLBACK) must run even when nobody waits for it.
            if last.start < self.sent || last.prelude {
                break;
            }
            self.cut_last();
        }
        if self.requests.back().is_some_and(|r| !r.synced) {
            self.end_unsynced();
        }
        self.refresh();
        Ok(())
    }

    /// Writes the queued prelude statements, each a simple Query whose replies are discarded
    /// as they come. Called once what dropped operations left is drained, so that a cancel
    /// meant for them can never reach a prelude statement (a ROLLBACK).
    #[inline]
    pub(crate) fn write_prelude(&mut self) {
        if !self.prelude.is_empty() {
            self.write_prelude_statements();
        }
    }

    fn write_prelude_statements(&mut self) {
        for sql in std::mem::take(&mut self.prelude) {
            self.begin_request(RequestKind::Simple, Abandon::Sync);
            if frontend::query(&sql, &mut self.out).is_err() {
                // Our own statements hold no NUL.
                self.cut_last();
                continue;
            }
            if let Some(request) = self.requests.back_mut() {
                request.abandoned = true;
                request.prelude = true;
            }
        }
        self.refresh();
    }

    /// Queues a statement to run, as a simple Query of its own, before the next operation's
    /// requests and in the same write: its replies are read and discarded on the way. For
    /// what must happen but has nobody to wait for it (a dropped transaction's ROLLBACK) or
    /// need not cost a round trip (BEGIN): never I/O here, so it can be called from `Drop`.
    pub(crate) fn queue_prelude(&mut self, sql: String) {
        self.prelude.push(sql);
    }

    /// Whether anything is queued or owed an answer: the server's state (transaction status,
    /// settings) is settled only once this is false.
    pub(crate) fn is_settled(&self) -> bool {
        self.requests.is_empty() && self.prelude.is_empty()
    }

    /// Whether replies to requests of dropped operations are still to be read (those of
    /// prelude statements are discarded while the next operation reads its own).
    #[inline]
    pub(crate) fn is_draining(&self) -> bool {
        self.requests.iter().any(|r| r.abandoned && !r.prelude)
    }

    /// Whether the server is now answering a prelude statement (a ROLLBACK, a BEGIN), which
    /// a cancel must not reach.
    pub(crate) fn front_is_prelude(&self) -> bool {
        self.requests.front().is_some_and(|r| r.prelude)
    }

    /// Begins a request: an extended one first closes the statements and portals dropped since
    /// the last one. `on_abandon` matters only while the request has no Sync.
    #[inline]
    pub(crate) fn begin_request(&mut self, kind: RequestKind, on_abandon: Abandon) {
        debug_assert!(self.requests.back().is_none_or(|r| r.synced));
        self.push_request(kind, on_abandon, kind == RequestKind::Simple);
        if kind != RequestKind::Extended {
            return;
        }
        let targets = self.close_queue.take();
        if targets.is_empty() {
            return;
        }
        let mut closes = VecDeque::with_capacity(targets.len());
        for target in targets.into_iter().filter(|t| !t.name.is_empty()) {
            // Our own names ("pgtusk_N") hold no NUL; a name that could not be written is
            // one the server cannot have either.
            if frontend::close(target.kind, &target.name, &mut self.out).is_ok() {
                closes.push_back(target);
            }
        }
        if let Some(request) = self.requests.back_mut() {
            request.closes = closes;
        }
    }

    /// A simple Query: one request, answered by one ReadyForQuery.
    pub(crate) fn simple_query(&mut self, sql: &str) -> Result<(), Error> {
        self.begin_request(RequestKind::Simple, Abandon::Sync);
        frontend::query(sql, &mut self.out).map_err(|e| {
            self.cut_last();
            Error::Interface(format!("cannot send this query: {}", e.message()))
        })
    }

    /// The COPY API's simple Query: a COPY FROM STDIN it starts is the operation's to feed
    /// (see [`Session::copy_in_is_open`]) instead of being refused.
    pub(crate) fn copy_query(&mut self, sql: &str) -> Result<(), Error> {
        self.simple_query(sql)?;
        if let Some(request) = self.requests.back_mut() {
            request.copy_in = CopyIn::Expected;
        }
        Ok(())
    }

    /// Whether the server waits for the operation's COPY data.
    pub(crate) fn copy_in_is_open(&self) -> bool {
        self.requests
            .front()
            .is_some_and(|r| r.copy_in == CopyIn::Open && !r.abandoned)
    }

    /// Ends the open COPY FROM STDIN: CopyDone (`failure` is `None`) commits what was sent,
    /// CopyFail with the reason rolls it back. Nothing happens when no copy is open (the
    /// server already ended it with an error, which the operation reads next).
    pub(crate) fn end_copy_in(&mut self, failure: Option<&str>) -> Result<(), Error> {
        let Some(request) = self
            .requests
            .front_mut()
            .filter(|r| r.copy_in == CopyIn::Open)
        else {
            return Ok(());
        };
        match failure {
            None => frontend::copy_done(&mut self.out),
            Some(reason) => frontend::copy_fail(reason, &mut self.out)
                .map_err(|e| Error::Interface(format!("cannot abort the COPY: {}", e.message())))?,
        }
        request.copy_in = CopyIn::Ended;
        Ok(())
    }

    /// The output position (bytes ever queued): where a Bind is about to be written.
    #[inline]
    pub(crate) fn position(&self) -> u64 {
        self.sent + self.out.len() as u64
    }

    /// Appends Execute for the Bind written at `bind_at` and counts it. From the request's
    /// first Bind on, what reached the server may have changed data: an abandoned request
    /// then needs its rollback, and before it whatever is unsent can be cut.
    #[inline]
    pub(crate) fn execute(&mut self, bind_at: u64, max_rows: i32) {
        // Cannot fail: the unnamed portal's name is empty.
        let _ = frontend::execute("", max_rows, &mut self.out);
        if let Some(request) = self.requests.back_mut() {
            request.effects_at.get_or_insert(bind_at);
            request.executes += 1;
        }
    }

    /// Appends Sync: the current request is complete and owes one ReadyForQuery.
    #[inline]
    pub(crate) fn sync(&mut self) {
        if let Some(request) = self.requests.back_mut().filter(|r| !r.synced) {
            frontend::sync(&mut self.out);
            request.synced = true;
        }
    }

    /// Appends Flush: the server sends what it has so far; the request stays open.
    pub(crate) fn flush(&mut self) {
        frontend::flush(&mut self.out);
    }

    /// Whether the last request still lacks its Sync.
    pub(crate) fn is_unsynced(&self) -> bool {
        self.requests.back().is_some_and(|r| !r.synced)
    }

    /// Ends the current request after an error on our side (a parameter that cannot be
    /// encoded, a struct that does not fit the result). Returns whether a ReadyForQuery is
    /// owed for it: `false` when nothing of it had reached the socket and it was cut.
    pub(crate) fn abort_request(&mut self) -> bool {
        let Some(last) = self.requests.back() else {
            return false;
        };
        if last.synced {
            return true;
        }
        if last.start >= self.sent {
            self.cut_last();
            return false;
        }
        self.end_unsynced();
        true
    }

    /// Removes the last request from the output; it never reached the socket. The closes it
    /// carried go back to the queue.
    fn cut_last(&mut self) {
        let Some(last) = self.requests.pop_back() else {
            return;
        };
        self.refresh();
        self.out.truncate((last.start - self.sent) as usize);
        if !last.closes.is_empty() {
            self.close_queue.push_targets(last.closes);
        }
    }

    /// Writes what the unsynced last request needs to end: its unsent statements are cut
    /// when none of them reached the socket, a failing Parse rolls back a batch that may
    /// have run in part, and Sync ends it.
    fn end_unsynced(&mut self) {
        let sent = self.sent;
        let Some(last) = self.requests.back_mut() else {
            return;
        };
        match last.effects_at {
            Some(at) if at >= sent => {
                self.out.truncate((at - sent) as usize);
                last.executes = 0;
            }
            Some(_) if last.on_abandon == Abandon::Fail => {
                // Cannot fail: the constant has no NUL.
                let _ = frontend::parse("", ABANDONED_BATCH, &[], &mut self.out);
            }
            _ => {}
        }
        self.sync();
    }

    /// Takes in one backend message: keeps the books and says what it is to the operation.
    /// The message stays the caller's: a row is not moved on its way to the operation.
    #[inline(always)]
    pub(crate) fn handle(&mut self, msg: &Message) -> Result<Event, Error> {
        let Some(front) = self.requests.front_mut() else {
            return self.unsolicited(msg);
        };
        let deliver = if front.abandoned {
            Event::Consumed
        } else {
            Event::Deliver
        };
        match msg {
            Message::DataRow(_) | Message::RowDescription(_) | Message::BindComplete => {}
            Message::CommandComplete(done) => {
                front.results += 1;
                if tag_leaves_state(done.tag_bytes()) {
                    self.state_changed = true;
                    if matches!(done.tag_bytes(), b"DISCARD ALL" | b"DEALLOCATE ALL") {
                        self.statements_discarded = true;
                    }
                }
            }
            Message::EmptyQueryResponse | Message::PortalSuspended => front.results += 1,
            Message::CloseComplete if !front.closes.is_empty() => {
                front.closes.pop_front();
                return Ok(Event::Consumed);
            }
            Message::ReadyForQuery(status) => return self.ready_for_query(*status),
            Message::ErrorResponse(fields) => {
                front.failed = true;
                if front.copy_in == CopyIn::Open {
                    // The server left copy mode; what we still send it discards.
                    front.copy_in = CopyIn::Ended;
                }
                if let Some(fatal) = fatal_error(fields) {
                    self.broken = true;
                    self.fatal = Some(fatal);
                }
            }
            Message::CopyInResponse(_) if front.copy_in == CopyIn::Expected && !front.abandoned => {
                front.copy_in = CopyIn::Open;
            }
            Message::CopyInResponse(_) => {
                self.refuse_copy_in();
                return Ok(Event::Consumed);
            }
            Message::ParameterStatus(_)
            | Message::NoticeResponse(_)
            | Message::NotificationResponse(_) => return self.asynchronous(msg),
            _ => {}
        }
        Ok(deliver)
    }

    /// ReadyForQuery ends the oldest request, counted exactly once.
    #[inline(always)]
    fn ready_for_query(&mut self, status: TransactionStatus) -> Result<Event, Error> {
        let Some(done) = self.requests.front_mut().filter(|r| r.synced) else {
            return Err(self.fail_protocol(
                "ReadyForQuery for no request, or before the request's Sync was written",
            ));
        };
        if !done.failed && done.results < done.executes {
            // Without an error the server answers every Execute before the Sync: rows the
            // operation was owed would otherwise come after its end, into the next one.
            let detail = format!(
                "ReadyForQuery before the result of every Execute ({} of {} answered, and no \
                 error)",
                done.results, done.executes
            );
            return Err(self.fail_protocol(&detail));
        }
        let event = if done.abandoned {
            Event::Consumed
        } else {
            Event::Deliver
        };
        if !done.closes.is_empty() {
            // Skipped by the server (it never is): close them again, never leak.
            let skipped = std::mem::take(&mut done.closes);
            self.close_queue.push_targets(skipped);
        }
        self.requests.pop_front();
        self.refresh();
        self.transaction_status = status;
        Ok(event)
    }

    /// Messages the server may send at any time.
    fn asynchronous(&mut self, msg: &Message) -> Result<Event, Error> {
        match msg {
            Message::ParameterStatus(p) => {
                self.parameter_status(p.name(), p.value())?;
                Ok(Event::Consumed)
            }
            Message::NoticeResponse(_) => Ok(Event::Notice),
            Message::NotificationResponse(n) => {
                self.push_notification(n.clone());
                Ok(Event::Consumed)
            }
            other => Err(self.fail_protocol(&format!(
                "unexpected {} while no request was pending",
                message_name(other)
            ))),
        }
    }

    /// A message while no request is owed an answer: only asynchronous ones may come.
    fn unsolicited(&mut self, msg: &Message) -> Result<Event, Error> {
        match msg {
            Message::ErrorResponse(fields) => match fatal_error(fields) {
                // The server ends the session while idle (pg_terminate_backend, a timeout,
                // shutdown): keep why, the socket's end follows.
                Some(fatal) => {
                    self.broken = true;
                    self.fatal = Some(fatal);
                    Ok(Event::Consumed)
                }
                None => Err(self.fail_protocol("an ErrorResponse while no request was pending")),
            },
            other => self.asynchronous(other),
        }
    }

    fn parameter_status(&mut self, name: &str, value: &str) -> Result<(), Error> {
        if name == "client_encoding" && !self.speaks_utf8(value) {
            // Every string pgtusk sends or reads is UTF-8; another encoding would misread
            // parameters and results without an error.
            self.broken = true;
            return Err(Error::Interface(format!(
                "the server's client_encoding changed to {value}; pgtusk speaks only UTF8, so \
                 the connection was closed. Do not SET client_encoding (the server converts \
                 from the database's encoding to UTF8 by itself)"
            )));
        }
        self.parameters.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    /// Whether text still travels as UTF-8 with this client_encoding: UTF8 itself, or
    /// SQL_ASCII (no conversion at all) over a UTF8 or SQL_ASCII database, where the bytes are
    /// the database's own (text that is not UTF-8 is then a decode error, never misread).
    fn speaks_utf8(&self, client_encoding: &str) -> bool {
        let is = |name: &str, encoding: &str| encoding.eq_ignore_ascii_case(name);
        is("UTF8", client_encoding)
            || (is("SQL_ASCII", client_encoding)
                && self
                    .parameter("server_encoding")
                    .is_none_or(|server| is("UTF8", server) || is("SQL_ASCII", server)))
    }

    /// COPY FROM STDIN reached through a query method: abort it so the server is not left
    /// waiting for data; its ErrorResponse tells the operation. In extended mode the server
    /// ignores a Sync while it waits for data, so one is sent again when the COPY's Execute
    /// was the last before the request's Sync; when more messages follow, the first of them
    /// ends the COPY with an error and the request's own Sync is read normally.
    fn refuse_copy_in(&mut self) {
        let Some(front) = self.requests.front_mut() else {
            return;
        };
        front.results += 1;
        // Cannot fail: the constant has no NUL.
        let _ = frontend::copy_fail(COPY_IN_REFUSED, &mut self.out);
        if front.kind == RequestKind::Extended && front.synced && front.results == front.executes {
            frontend::sync(&mut self.out);
        }
    }

    /// The connection's end, as the operation in progress sees it: the server's FATAL reason
    /// when it sent one, else the I/O error.
    pub(crate) fn connection_lost(&mut self, e: io::Error) -> Error {
        self.broken = true;
        match self.fatal.take() {
            Some(fatal) => Error::Db(fatal),
            None => Error::Io(e),
        }
    }

    /// A protocol violation: the session's state is unknown from here on.
    pub(crate) fn fail_protocol(&mut self, detail: &str) -> Error {
        self.broken = true;
        Error::Protocol(detail.to_owned())
    }

    /// Marks the session unusable (an I/O failure, a malformed message, closed).
    pub(crate) fn set_broken(&mut self) {
        self.broken = true;
    }

    /// The error for an operation on a broken session: the server's reason if not yet told.
    pub(crate) fn closed_error(&mut self) -> Error {
        match self.fatal.take() {
            Some(fatal) => Error::Db(fatal),
            None => Error::Closed,
        }
    }

    /// Whether the server sent a FATAL or PANIC that is not reported yet: it closes the
    /// socket next, and nothing else will come.
    pub(crate) fn ended_by_server(&self) -> bool {
        self.fatal.is_some()
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    pub(crate) fn transaction_status(&self) -> TransactionStatus {
        self.transaction_status
    }

    pub(crate) fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    pub(crate) fn close_queue(&self) -> &CloseQueue {
        &self.close_queue
    }

    /// Whether DISCARD ALL / DEALLOCATE ALL ran since the last call.
    pub(crate) fn take_statements_discarded(&mut self) -> bool {
        std::mem::take(&mut self.statements_discarded)
    }

    /// Notes that a statement about to run may change the session (see `session_state`).
    pub(crate) fn mark_state_changed(&mut self) {
        self.state_changed = true;
    }

    /// Whether a command may have left state in the session since the last call.
    pub(crate) fn take_state_changed(&mut self) -> bool {
        std::mem::take(&mut self.state_changed)
    }

    /// Forgets the notifications not read yet (the session stopped listening).
    pub(crate) fn clear_notifications(&mut self) {
        self.notifications.clear();
        self.notifications_dropped = 0;
    }

    /// Queues a notification; when the buffer is full the oldest one goes, counted, so the
    /// reader learns how many it missed (a slow reader must not grow memory without bound).
    fn push_notification(&mut self, notification: Notification) {
        while self.notifications.len() >= self.notification_capacity {
            self.notifications.pop_front();
            self.notifications_dropped += 1;
        }
        self.notifications.push_back(notification);
    }

    /// The next notification, oldest first; `Err(dropped)` first when the buffer overflowed
    /// since the last call (the dropped ones were older than every one still queued).
    pub(crate) fn next_notification(&mut self) -> Option<Result<Notification, u64>> {
        if self.notifications_dropped > 0 {
            return Some(Err(std::mem::take(&mut self.notifications_dropped)));
        }
        self.notifications.pop_front().map(Ok)
    }

    /// The most notifications kept until read (at least 1). Shrinking below what is queued
    /// drops the oldest, counted.
    pub(crate) fn set_notification_capacity(&mut self, capacity: usize) {
        self.notification_capacity = capacity.max(1);
        while self.notifications.len() > self.notification_capacity {
            self.notifications.pop_front();
            self.notifications_dropped += 1;
        }
    }

    pub(crate) fn notification_capacity(&self) -> usize {
        self.notification_capacity
    }

    /// Appends Terminate; the session is over.
    pub(crate) fn terminate(&mut self) {
        frontend::terminate(&mut self.out);
        self.broken = true;
    }
}

/// The server's error if it ends the session (severity FATAL or PANIC).
fn fatal_error(fields: &ErrorFields) -> Option<Box<DbError>> {
    let fatal = fields
        .iter()
        .flatten()
        .any(|f| matches!(f.code, b'S' | b'V') && matches!(&*f.value, "FATAL" | "PANIC"));
    if !fatal {
        return None;
    }
    match crate::connection::db_error(fields) {
        Error::Db(e) => Some(e),
        _ => None,
    }
}

/// The message's name, for errors.
pub(crate) fn message_name(msg: &Message) -> &'static str {
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
        Message::ParameterStatus(_) => "ParameterStatus",
        Message::ErrorResponse(_) => "ErrorResponse",
        Message::NoticeResponse(_) => "NoticeResponse",
        Message::NotificationResponse(_) => "NotificationResponse",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::backend::parse_message;

    /// One backend message from its tag and body.
    fn msg(tag: u8, body: &[u8]) -> Message {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[tag]);
        buf.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        buf.extend_from_slice(body);
        parse_message(&mut buf, 1 << 20).unwrap().unwrap()
    }

    fn ready(status: u8) -> Message {
        msg(b'Z', &[status])
    }

    fn command_complete(tag: &str) -> Message {
        let mut body = tag.as_bytes().to_vec();
        body.push(0);
        msg(b'C', &body)
    }

    fn error(severity: &str, code: &str) -> Message {
        let mut body = Vec::new();
        for (field, value) in [
            (b'S', severity),
            (b'V', severity),
            (b'C', code),
            (b'M', "boom"),
        ] {
            body.push(field);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        msg(b'E', &body)
    }

    fn parameter_status(name: &str, value: &str) -> Message {
        let body = [name.as_bytes(), &[0], value.as_bytes(), &[0]].concat();
        msg(b'S', &body)
    }

    fn notification(channel: &str, payload: &str) -> Message {
        let body = [
            &7i32.to_be_bytes()[..],
            channel.as_bytes(),
            &[0],
            payload.as_bytes(),
            &[0],
        ]
        .concat();
        msg(b'A', &body)
    }

    /// A session past startup, idle.
    fn idle() -> Session {
        let mut session = Session::new();
        assert!(matches!(session.handle(&ready(b'I')), Ok(Event::Deliver)));
        session
    }

    /// Sends everything queued; returns the message tags that went out.
    fn transmit(session: &mut Session) -> String {
        let mut tags = String::new();
        let _ = session.poll_transmit(|buf| {
            let mut rest = buf;
            while rest.len() >= 5 {
                let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
                tags.push(rest[0] as char);
                rest = &rest[1 + len..];
            }
            Poll::Ready(Ok(buf.len()))
        });
        tags
    }

    /// The tags queued but not sent.
    fn queued(session: &Session) -> String {
        let mut tags = String::new();
        let mut rest = &session.out[..];
        while rest.len() >= 5 {
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            tags.push(rest[0] as char);
            rest = &rest[1 + len..];
        }
        tags
    }

    fn is_message(event: Result<Event, Error>) -> bool {
        matches!(event, Ok(Event::Deliver))
    }

    fn is_consumed(event: Result<Event, Error>) -> bool {
        matches!(event, Ok(Event::Consumed))
    }

    /// Bind + Execute of a statement without parameters, as a query writes them.
    fn bind_execute(session: &mut Session) {
        let at = session.position();
        frontend::bind(
            "",
            "s1",
            &[],
            0,
            |_, _| Ok::<_, ()>(frontend::IsNull::No),
            &[],
            session.out(),
        )
        .unwrap();
        session.execute(at, 0);
    }

    /// Bind + Execute + Sync as a cached query writes them.
    fn cached_query(session: &mut Session) {
        session.begin_request(RequestKind::Extended, Abandon::Sync);
        bind_execute(session);
        session.sync();
    }

    #[test]
    fn ready_for_query_is_counted_once_per_request() {
        let mut session = idle();
        // One more ReadyForQuery than requests: a protocol error, never an underflow.
        let e = session.handle(&ready(b'I')).unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
        assert!(session.is_broken());
        assert!(matches!(session.start_operation(), Err(Error::Closed)));
    }

    /// Without an error, every Execute is answered before the Sync's ReadyForQuery; one that
    /// comes first would let the operation's rows arrive in the next one.
    #[test]
    fn ready_for_query_before_an_execute_is_answered_is_a_protocol_error() {
        let mut session = idle();
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        assert!(is_message(session.handle(&msg(b'2', &[]))), "BindComplete");
        let e = session.handle(&ready(b'I')).unwrap_err();
        assert!(
            e.to_string()
                .contains("ReadyForQuery before the result of every Execute"),
            "{e}"
        );
        assert!(session.is_broken());

        // After an error the server skips the rest up to Sync: no result is owed.
        let mut session = idle();
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        assert!(is_message(session.handle(&error("ERROR", "22012"))));
        assert!(is_message(session.handle(&ready(b'I'))));
        assert!(!session.is_broken());
    }

    #[test]
    fn transaction_status_follows_ready_for_query() {
        let mut session = idle();
        session.start_operation().unwrap();
        session.simple_query("BEGIN").unwrap();
        transmit(&mut session);
        assert!(is_message(session.handle(&command_complete("BEGIN"))));
        assert!(is_message(session.handle(&ready(b'T'))));
        assert_eq!(
            session.transaction_status(),
            TransactionStatus::InTransaction
        );
    }

    /// Bug 2: the CloseComplete of an evicted statement's Close is the session's, not the
    /// query's, so it can never overwrite the rows affected.
    #[test]
    fn closes_ride_first_and_their_replies_are_consumed() {
        let mut session = idle();
        session.close_queue().push(["pgtusk_X".into()]);
        session.start_operation().unwrap();
        cached_query(&mut session);
        assert_eq!(transmit(&mut session), "CBES");
        assert!(
            is_consumed(session.handle(&msg(b'3', &[]))),
            "CloseComplete"
        );
        assert!(is_message(session.handle(&msg(b'2', &[]))), "BindComplete");
        assert!(is_message(session.handle(&command_complete("UPDATE 5"))));
        assert!(is_message(session.handle(&ready(b'I'))));
        // A CloseComplete the session did not ask for goes to the operation (and is refused
        // there as unexpected), it is not silently taken as a close.
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        assert!(is_message(session.handle(&msg(b'3', &[]))));
    }

    /// A dropped cursor's portal is closed like a statement: Close with kind 'P', at the front
    /// of the next extended request, its CloseComplete consumed here; put back when the
    /// request is cut.
    #[test]
    fn a_dropped_portal_is_closed_with_kind_p() {
        let mut session = idle();
        session.close_queue().push_portal("pgtusk_portal_1".into());
        session.close_queue().push(["pgtusk_2".into()]);
        session.start_operation().unwrap();
        cached_query(&mut session);
        session.start_operation().unwrap();
        assert_eq!(queued(&session), "", "cut, closes put back");
        cached_query(&mut session);
        let closes: Vec<(u8, String)> = {
            let mut found = Vec::new();
            let mut rest = &session.out[..];
            while rest.len() >= 5 {
                let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
                if rest[0] == frontend::CLOSE_TAG {
                    // Tag, length, kind, then the name and its NUL.
                    let name = String::from_utf8(rest[6..len].to_vec()).unwrap();
                    found.push((rest[5], name));
                }
                rest = &rest[1 + len..];
            }
            found
        };
        assert_eq!(
            closes,
            [
                (b'P', "pgtusk_portal_1".to_owned()),
                (b'S', "pgtusk_2".to_owned())
            ]
        );
        assert_eq!(transmit(&mut session), "CCBES");
        for _ in 0..2 {
            assert!(
                is_consumed(session.handle(&msg(b'3', &[]))),
                "CloseComplete"
            );
        }
        assert!(is_message(session.handle(&msg(b'2', &[]))), "BindComplete");
    }

    /// Bug 1's other half: a statement name queued while a request is in flight is closed by
    /// the next extended request, after the Parse that made it.
    #[test]
    fn a_dropped_statement_is_closed_by_the_next_request() {
        let mut session = idle();
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        session.close_queue().push(["pgtusk_X".into()]);
        for m in [msg(b'2', &[]), command_complete("SELECT 1"), ready(b'I')] {
            assert!(is_message(session.handle(&m)));
        }
        session.start_operation().unwrap();
        // A simple query carries no Close; the next extended request does.
        session.simple_query("SELECT 1").unwrap();
        assert_eq!(transmit(&mut session), "Q");
        assert!(is_message(session.handle(&ready(b'I'))));
        session.start_operation().unwrap();
        cached_query(&mut session);
        assert_eq!(transmit(&mut session), "CBES");
    }

    /// A dropped operation's replies are drained by the next one, up to its ReadyForQuery.
    #[test]
    fn an_abandoned_request_is_drained_not_delivered() {
        let mut session = idle();
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        // The operation is dropped here; the next one starts.
        session.start_operation().unwrap();
        assert!(session.is_draining());
        for m in [msg(b'2', &[]), msg(b'D', &[0, 0]), error("ERROR", "22012")] {
            assert!(is_consumed(session.handle(&m)));
        }
        assert!(is_consumed(session.handle(&ready(b'I'))));
        assert!(!session.is_draining());
    }

    /// A dropped operation whose request never reached the socket costs nothing.
    #[test]
    fn an_abandoned_request_never_sent_is_cut() {
        let mut session = idle();
        session.close_queue().push(["pgtusk_X".into()]);
        session.start_operation().unwrap();
        cached_query(&mut session);
        assert_eq!(queued(&session), "CBES");
        session.start_operation().unwrap();
        assert!(!session.is_draining());
        assert_eq!(queued(&session), "", "cut");
        // Its Close was put back and rides with the next request.
        cached_query(&mut session);
        assert_eq!(transmit(&mut session), "CBES");
    }

    /// Bug 7: an encode error before any of a batch was sent sends nothing at all (no failing
    /// Parse that would abort the caller's transaction).
    #[test]
    fn a_batch_refused_before_sending_leaves_no_trace() {
        let mut session = idle();
        session.start_operation().unwrap();
        session.begin_request(RequestKind::Extended, Abandon::Fail);
        bind_execute(&mut session);
        assert!(!session.abort_request(), "no ReadyForQuery owed");
        assert_eq!(queued(&session), "");
        assert!(session.requests.is_empty());
    }

    /// Bug 7's other side: a batch dropped after a chunk went out is rolled back, never
    /// committed in part.
    #[test]
    fn a_batch_abandoned_after_a_chunk_went_out_fails_then_syncs() {
        let mut session = idle();
        session.start_operation().unwrap();
        session.begin_request(RequestKind::Extended, Abandon::Fail);
        bind_execute(&mut session);
        session.flush();
        assert_eq!(transmit(&mut session), "BEH");
        // Dropped here.
        session.start_operation().unwrap();
        assert_eq!(queued(&session), "PS", "a failing Parse, then Sync");
        assert!(session.is_draining());
    }

    /// Bug 11: an uncached statement is described with Flush, not Sync; if the operation is
    /// dropped after the description went out, the request ends with a plain Sync.
    #[test]
    fn an_abandoned_description_gets_its_sync() {
        let mut session = idle();
        session.start_operation().unwrap();
        session.begin_request(RequestKind::Extended, Abandon::Sync);
        frontend::parse("", "SELECT 1", &[], session.out()).unwrap();
        frontend::describe(frontend::KIND_STATEMENT, "", session.out()).unwrap();
        session.flush();
        assert_eq!(transmit(&mut session), "PDH");
        // The Bind was written but not sent when the operation was dropped: it is cut.
        bind_execute(&mut session);
        session.start_operation().unwrap();
        assert_eq!(queued(&session), "S");
        for m in [msg(b'1', &[]), msg(b'n', &[])] {
            assert!(is_consumed(session.handle(&m)));
        }
        assert!(is_consumed(session.handle(&ready(b'I'))));
        assert!(!session.is_draining());
    }

    /// Bug 6: the FATAL reason is kept and reported when the socket ends.
    #[test]
    fn a_fatal_error_is_kept_as_the_reason() {
        let mut session = idle();
        // While idle: consumed, kept.
        assert!(is_consumed(session.handle(&error("FATAL", "57P01"))));
        assert!(session.is_broken());
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "closed");
        match session.connection_lost(eof) {
            Error::Db(e) => assert_eq!(e.code().code(), "57P01"),
            other => panic!("{other:?}"),
        }
        // During a request: delivered, and kept for the end of the socket too.
        let mut session = idle();
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        assert!(is_message(session.handle(&error("FATAL", "25P03"))));
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "closed");
        assert_eq!(
            session
                .connection_lost(eof)
                .sqlstate()
                .map(|s| s.code().to_owned()),
            Some("25P03".to_owned())
        );
    }

    /// Every queued notification, or the overflow count, as the reader sees them.
    fn read_notifications(session: &mut Session) -> Vec<Result<(String, String), u64>> {
        std::iter::from_fn(|| session.next_notification())
            .map(|n| n.map(|n| (n.channel().to_owned(), n.payload().to_owned())))
            .collect()
    }

    fn note(channel: &str, payload: &str) -> Result<(String, String), u64> {
        Ok((channel.to_owned(), payload.to_owned()))
    }

    #[test]
    fn notifications_are_queued_in_order() {
        let mut session = idle();
        assert!(is_consumed(session.handle(&notification("a", "1"))));
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        assert!(is_message(session.handle(&msg(b'2', &[]))));
        assert!(is_consumed(session.handle(&notification("b", "2"))));
        assert!(is_message(session.handle(&command_complete("SELECT 1"))));
        assert!(is_message(session.handle(&ready(b'I'))));
        assert_eq!(
            read_notifications(&mut session),
            [note("a", "1"), note("b", "2")]
        );
        assert_eq!(session.next_notification(), None);
    }

    /// A full buffer drops the oldest and counts them; the count is reported once, before
    /// the notifications that were kept, and counting starts again afterwards.
    #[test]
    fn notification_overflow_drops_the_oldest_and_counts_them() {
        let mut session = idle();
        session.set_notification_capacity(3);
        for i in 0..8 {
            assert!(is_consumed(
                session.handle(&notification("c", &i.to_string()))
            ));
        }
        assert_eq!(
            read_notifications(&mut session),
            [Err(5), note("c", "5"), note("c", "6"), note("c", "7")]
        );
        // Nothing was lost since: no count.
        assert!(is_consumed(session.handle(&notification("c", "8"))));
        assert_eq!(read_notifications(&mut session), [note("c", "8")]);
        // Overflow again, while a request is in flight.
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        for i in 9..13 {
            assert!(is_consumed(
                session.handle(&notification("c", &i.to_string()))
            ));
        }
        assert_eq!(
            read_notifications(&mut session),
            [Err(1), note("c", "10"), note("c", "11"), note("c", "12")]
        );
        // Shrinking drops the oldest too, counted; 0 means 1.
        for i in 13..16 {
            session.handle(&notification("c", &i.to_string())).unwrap();
        }
        session.set_notification_capacity(0);
        assert_eq!(session.notification_capacity(), 1);
        assert_eq!(read_notifications(&mut session), [Err(2), note("c", "15")]);
    }

    #[test]
    fn client_encoding_other_than_utf8_breaks_the_session() {
        let mut session = idle();
        assert!(is_consumed(
            session.handle(&parameter_status("client_encoding", "UTF8"))
        ));
        assert!(is_consumed(
            session.handle(&parameter_status("TimeZone", "UTC"))
        ));
        assert_eq!(session.parameter("TimeZone"), Some("UTC"));
        let e = session
            .handle(&parameter_status("client_encoding", "LATIN1"))
            .unwrap_err();
        assert!(e.to_string().contains("LATIN1"), "{e}");
        assert!(session.is_broken());
        // SQL_ASCII converts nothing: bytes pass as they are over a UTF8 (or SQL_ASCII)
        // database, not over a LATIN1 one.
        let mut session = idle();
        assert!(is_consumed(
            session.handle(&parameter_status("server_encoding", "UTF8"))
        ));
        assert!(is_consumed(
            session.handle(&parameter_status("client_encoding", "SQL_ASCII"))
        ));
        let mut session = idle();
        assert!(is_consumed(
            session.handle(&parameter_status("server_encoding", "LATIN1"))
        ));
        assert!(
            session
                .handle(&parameter_status("client_encoding", "SQL_ASCII"))
                .is_err()
        );
    }

    /// COPY FROM STDIN through a query method is refused with CopyFail; Sync is sent again
    /// only when the server ate the request's own one.
    #[test]
    fn copy_in_is_refused_with_copy_fail() {
        let copy_in = || msg(b'G', &[0, 0, 0]);
        let mut session = idle();
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        assert!(is_message(session.handle(&msg(b'2', &[]))));
        assert!(is_consumed(session.handle(&copy_in())));
        assert_eq!(queued(&session), "fS");
        transmit(&mut session);
        assert!(is_message(session.handle(&error("ERROR", "57014"))));
        assert!(is_message(session.handle(&ready(b'I'))));
        // A simple query: CopyFail alone.
        session.start_operation().unwrap();
        session.simple_query("COPY t FROM STDIN").unwrap();
        transmit(&mut session);
        assert!(is_consumed(session.handle(&copy_in())));
        assert_eq!(queued(&session), "f");
    }

    /// The COPY API's own COPY FROM STDIN is the operation's to feed; CopyDone ends it, and a
    /// second one in the same request is refused.
    #[test]
    fn copy_api_copy_in_opens_and_ends() {
        let copy_in = || msg(b'G', &[1, 0, 0]);
        let mut session = idle();
        session.start_operation().unwrap();
        session.copy_query("COPY t FROM STDIN").unwrap();
        transmit(&mut session);
        assert!(!session.copy_in_is_open());
        assert!(is_message(session.handle(&copy_in())));
        assert!(session.copy_in_is_open());
        session.end_copy_in(None).unwrap();
        assert!(!session.copy_in_is_open());
        assert_eq!(queued(&session), "c");
        // Ending twice writes nothing more.
        session.end_copy_in(Some("again")).unwrap();
        assert_eq!(queued(&session), "c");
        transmit(&mut session);
        assert!(is_consumed(session.handle(&copy_in())));
        assert_eq!(queued(&session), "f");
    }

    /// A copy writer dropped while the server waits for data: the next operation sends
    /// CopyFail, then drains the error and ReadyForQuery.
    #[test]
    fn an_abandoned_open_copy_in_gets_copy_fail() {
        let mut session = idle();
        session.start_operation().unwrap();
        session.copy_query("COPY t FROM STDIN").unwrap();
        transmit(&mut session);
        assert!(is_message(session.handle(&msg(b'G', &[0, 0, 0]))));
        session.start_operation().unwrap();
        assert_eq!(queued(&session), "f");
        assert!(session.is_draining());
        transmit(&mut session);
        assert!(is_consumed(session.handle(&error("ERROR", "57014"))));
        assert!(is_consumed(session.handle(&ready(b'I'))));
        assert!(session.is_settled());
    }

    /// The server's error ends the copy on its side: nothing more is owed, and an abandoned
    /// request then needs no CopyFail.
    #[test]
    fn a_server_error_closes_the_copy_in() {
        let mut session = idle();
        session.start_operation().unwrap();
        session.copy_query("COPY t FROM STDIN").unwrap();
        transmit(&mut session);
        assert!(is_message(session.handle(&msg(b'G', &[0, 0, 0]))));
        assert!(is_message(session.handle(&error("ERROR", "23505"))));
        assert!(!session.copy_in_is_open());
        session.start_operation().unwrap();
        assert_eq!(queued(&session), "");
        assert!(is_consumed(session.handle(&ready(b'I'))));
    }

    /// A dropped transaction's ROLLBACK: written after what dropped operations left, never
    /// cut, its replies discarded while the next operation reads its own.
    #[test]
    fn prelude_statements_run_first_and_are_never_cut() {
        let mut session = idle();
        session.start_operation().unwrap();
        cached_query(&mut session);
        transmit(&mut session);
        session.queue_prelude("ROLLBACK".into());
        // The next operation: the dropped query is drained before the prelude is written.
        session.start_operation().unwrap();
        assert!(session.is_draining());
        assert_eq!(queued(&session), "");
        for m in [msg(b'2', &[]), command_complete("SELECT 1"), ready(b'T')] {
            assert!(is_consumed(session.handle(&m)));
        }
        assert!(!session.is_draining());
        session.write_prelude();
        assert!(session.front_is_prelude());
        assert!(
            !session.is_draining(),
            "nobody waits for a prelude statement"
        );
        cached_query(&mut session);
        assert_eq!(queued(&session), "QBES", "one write");
        // Dropped before anything was sent: the query is cut, the ROLLBACK is not.
        session.start_operation().unwrap();
        assert_eq!(queued(&session), "Q");
        transmit(&mut session);
        assert!(is_consumed(session.handle(&command_complete("ROLLBACK"))));
        assert!(is_consumed(session.handle(&ready(b'I'))));
        assert_eq!(session.transaction_status(), TransactionStatus::Idle);
        assert!(session.is_settled());
    }

    #[test]
    fn startup_ready_for_query_ends_the_startup_request() {
        let mut session = Session::new();
        assert!(is_message(session.handle(&msg(b'R', &0i32.to_be_bytes()))));
        assert!(is_consumed(
            session.handle(&parameter_status("server_version", "15.19"))
        ));
        assert!(is_message(session.handle(&ready(b'I'))));
        assert!(session.requests.is_empty());
    }
}
