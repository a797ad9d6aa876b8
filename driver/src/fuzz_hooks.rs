//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, never on by default).
//!
//! The parsers the fuzzers drive are private to the crate: each wrapper here reaches one of
//! them without making it public API. Nothing here is documented or stable; the module is
//! `#[doc(hidden)]` and exists only when the `fuzzing` feature is on.

use std::sync::Arc;

use crate::auth::{ScramBinding, ScramSha256};
use crate::config::ConnectOptions;
use crate::error::Error;
use crate::protocol::backend::{DataRow, Message, RowDescription};
use crate::protocol::session;
use crate::record::{Column, Columns, Record};
use crate::types::Type;

/// What [`Session::handle`] says a message is to the operation in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A reply for the operation in progress.
    Deliver,
    /// A NoticeResponse, for the notice handler.
    Notice,
    /// Bookkeeping, or a reply to an abandoned request.
    Consumed,
}

/// The connection's sans-IO session state, driven by a fuzzer instead of a socket.
#[derive(Debug)]
pub struct Session(session::Session);

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A session at the start of the startup exchange.
    pub fn new() -> Session {
        Session(session::Session::new())
    }

    /// Starts an operation (marks leftovers abandoned, refuses a broken session).
    pub fn start_operation(&mut self) -> Result<(), Error> {
        self.0.start_operation()?;
        self.0.write_prelude();
        Ok(())
    }

    /// Queues a statement to run before the next operation (a dropped transaction's ROLLBACK).
    pub fn queue_prelude(&mut self, sql: &str) {
        self.0.queue_prelude(sql.to_owned());
    }

    /// Writes a simple Query.
    pub fn simple_query(&mut self, sql: &str) -> Result<(), Error> {
        self.0.simple_query(sql)
    }

    /// Writes the COPY API's simple Query (a COPY FROM STDIN it starts is accepted).
    pub fn copy_query(&mut self, sql: &str) -> Result<(), Error> {
        self.0.copy_query(sql)
    }

    /// Ends an open COPY FROM STDIN with CopyDone (`None`) or CopyFail.
    pub fn end_copy_in(&mut self, failure: Option<&str>) -> Result<(), Error> {
        self.0.end_copy_in(failure)
    }

    /// Begins an extended request of `executes` Bind+Execute pairs (a batch when `batch`),
    /// with its Sync when `sync`; a statement closed by a dropped `Statement` rides in front.
    pub fn extended(&mut self, executes: u8, batch: bool, sync: bool, close: Option<&str>) {
        if let Some(name) = close {
            self.0.close_queue().push([name.to_owned()]);
        }
        let abandon = if batch {
            session::Abandon::Fail
        } else {
            session::Abandon::Sync
        };
        self.0
            .begin_request(session::RequestKind::Extended, abandon);
        for _ in 0..executes {
            let bind_at = self.0.position();
            // An empty Bind body stands in for the real one: only positions matter here.
            self.0.out().extend_from_slice(b"B\0\0\0\x04");
            self.0.execute(bind_at, 0);
        }
        if sync {
            self.0.sync();
        } else {
            self.0.flush();
        }
    }

    /// Whether the last request still lacks its Sync (no new request may begin then).
    pub fn is_unsynced(&self) -> bool {
        self.0.is_unsynced()
    }

    /// Ends the current request after an error on our side.
    pub fn abort_request(&mut self) -> bool {
        self.0.abort_request()
    }

    /// Hands at most `limit` bytes of output to the "socket"; returns how many went.
    pub fn transmit(&mut self, limit: usize) -> usize {
        let mut sent = 0;
        let _ = self.0.poll_transmit(|out| {
            let n = out.len().min(limit - sent);
            sent += n;
            if n == 0 {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(Ok(n))
            }
        });
        sent
    }

    /// Bytes of output not yet handed to the socket.
    pub fn queued_output(&self) -> usize {
        self.0.queued_output()
    }

    /// Takes in one backend message, as the connection does.
    pub fn handle(&mut self, msg: &Message) -> Result<Event, Error> {
        Ok(match self.0.handle(msg)? {
            session::Event::Deliver => Event::Deliver,
            session::Event::Notice => Event::Notice,
            session::Event::Consumed => Event::Consumed,
        })
    }

    /// Whether a DataRow now goes straight to the operation (the connection's fast path).
    pub fn delivers_rows(&self) -> bool {
        self.0.delivers_rows()
    }

    /// Whether replies to dropped operations are still owed.
    pub fn is_draining(&self) -> bool {
        self.0.is_draining()
    }

    /// Whether nothing is queued or owed.
    pub fn is_settled(&self) -> bool {
        self.0.is_settled()
    }

    /// Whether the session can no longer be used.
    pub fn is_broken(&self) -> bool {
        self.0.is_broken()
    }

    /// Marks the session broken (a malformed message), as the connection does.
    pub fn set_broken(&mut self) {
        self.0.set_broken();
    }

    /// A run-time parameter the server reported.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.0.parameter(name)
    }

    /// Sets how many notifications are kept until read.
    pub fn set_notification_capacity(&mut self, capacity: usize) {
        self.0.set_notification_capacity(capacity);
    }

    /// The next kept notification, or how many were dropped.
    pub fn next_notification(&mut self) -> Option<Result<crate::Notification, u64>> {
        self.0.next_notification()
    }

    /// How many notifications are kept at most.
    pub fn notification_capacity(&self) -> usize {
        self.0.notification_capacity()
    }

    /// The error an operation on this session gets once it is broken.
    pub fn closed_error(&mut self) -> Error {
        self.0.closed_error()
    }
}

/// An ErrorResponse or NoticeResponse as the connection turns it into an error.
pub fn db_error(msg: &Message) -> Option<Error> {
    match msg {
        Message::ErrorResponse(fields) | Message::NoticeResponse(fields) => {
            Some(crate::connection::db_error(fields))
        }
        _ => None,
    }
}

/// The columns of a RowDescription, with built-in types by OID and any other as text.
pub fn columns(desc: &RowDescription) -> Result<Arc<Columns>, Error> {
    let mut columns = Vec::with_capacity(desc.len());
    for field in desc.fields() {
        let field = field?;
        let ty = Type::from_oid(field.type_oid).unwrap_or(Type::TEXT);
        columns.push(Column::new(
            field.name.into_owned(),
            ty,
            field.table_oid,
            field.column_id,
            field.type_modifier,
        ));
    }
    Ok(Arc::new(Columns::new(columns)))
}

/// The columns for values of the given types, named `c0`, `c1`, ...
pub fn columns_of(types: &[Type]) -> Arc<Columns> {
    let columns = types
        .iter()
        .enumerate()
        .map(|(i, ty)| Column::new(format!("c{i}"), ty.clone(), 0, 0, -1))
        .collect();
    Arc::new(Columns::new(columns))
}

/// The Record a DataRow becomes, as the connection builds it.
pub fn record(row: DataRow, columns: Arc<Columns>) -> Record {
    Record::from_data_row(row, columns)
}

/// Parses a `.pgpass` text and looks up a password for the target, as connecting does.
pub fn pgpass(text: &str, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let entries = crate::config::pgpass::parse_pgpass(text);
    crate::config::pgpass::pgpass_lookup(&entries, host, port, dbname, user)
}

/// Resolves options with the given environment and no files on disk (every default path is
/// missing); returns the user and database it settled on.
pub fn resolve(
    options: &ConnectOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, String), Error> {
    let resolved = options.resolve_inner(env, &|_| false)?;
    Ok((resolved.user, resolved.dbname))
}

/// One SCRAM-SHA-256 exchange, client side, with a chosen nonce.
#[derive(Debug)]
pub struct Scram(ScramSha256);

impl Scram {
    /// An exchange for `password` with this nonce; `binding` picks the GS2 header (0: none,
    /// 1: server lacks -PLUS, otherwise tls-server-end-point over `binding_data`).
    pub fn new(password: &str, nonce: &str, binding: u8, binding_data: &[u8]) -> Scram {
        let binding = match binding {
            0 => ScramBinding::None,
            1 => ScramBinding::ServerLacksIt,
            _ => ScramBinding::TlsServerEndPoint(binding_data.to_vec()),
        };
        Scram(ScramSha256::with_nonce(password, nonce).with_binding(binding))
    }

    /// The client-first message.
    pub fn client_first(&self) -> Vec<u8> {
        self.0.client_first()
    }

    /// Checks the server-first message and returns the client-final message.
    pub fn handle_server_first(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.handle_server_first(data)
    }

    /// Checks the server-final message.
    pub fn verify_server_final(&self, data: &[u8]) -> Result<(), Error> {
        self.0.verify_server_final(data)
    }

    /// The iteration count a server-first message asks for, if it parses; lets a fuzzer skip
    /// the (bounded but slow) key derivation for counts in the millions.
    pub fn iterations(server_first: &[u8], nonce: &str) -> Option<u32> {
        let text = std::str::from_utf8(server_first).ok()?;
        crate::auth::parse_server_first(text, nonce)
            .ok()
            .map(|f| f.iterations)
    }
}
