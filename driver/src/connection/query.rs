//! Running statements: prepare (through the cache), bind, execute, and read the rows.
//!
//! A cached query is one write (Bind + Execute + Sync) and one round trip. A miss first
//! prepares: Parse + Describe + Sync, one round trip that tells the parameter types and the
//! result columns.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_core::Stream;

use super::oneshot::Started;
use super::trace::QueryTrace;
use super::{Connection, db_error};
use crate::error::{DbError, Error, Result, SqlState};
use crate::pool::ConnectionRef;
use crate::protocol::backend::{DataRow, Message, RowDescription, TransactionStatus};
use crate::protocol::frontend::{self, BindError};
use crate::protocol::session::{Abandon, RequestKind};
use crate::protocol::session_state::sql_changes_session;
use crate::record::{Column, Columns, Record};
use crate::statement::{Statement, StatementInner, format_codes};
use crate::to_record::{ToRecord, ValueWriter};
use crate::types::{Decode, Encode, Type};

/// Parameters as passed at the call site: `&[&a, &b]`.
pub type Params<'a> = &'a [&'a (dyn Encode + Sync)];

/// What a query method runs: SQL text (prepared through the statement cache) or a
/// [`Statement`] prepared earlier on this connection.
#[derive(Debug, Clone, Copy)]
pub enum QueryRef<'a> {
    Sql(&'a str),
    Statement(&'a Statement),
}

/// Anything a query method accepts as the statement: `&str`, `&String`, `&Statement`.
pub trait IntoQuery<'a> {
    fn into_query(self) -> QueryRef<'a>;
}

impl<'a> IntoQuery<'a> for &'a str {
    fn into_query(self) -> QueryRef<'a> {
        QueryRef::Sql(self)
    }
}

impl<'a> IntoQuery<'a> for &'a String {
    fn into_query(self) -> QueryRef<'a> {
        QueryRef::Sql(self)
    }
}

impl<'a> IntoQuery<'a> for &'a Statement {
    fn into_query(self) -> QueryRef<'a> {
        QueryRef::Statement(self)
    }
}

impl<'a> IntoQuery<'a> for QueryRef<'a> {
    fn into_query(self) -> QueryRef<'a> {
        self
    }
}

/// Where `run` puts a query's rows.
trait RowSink {
    /// Room for this many rows, the size of the statement's last result.
    fn reserve(&mut self, _rows: usize) {}
    fn push(&mut self, record: Record);
}

impl RowSink for Vec<Record> {
    fn reserve(&mut self, rows: usize) {
        Vec::reserve(self, rows);
    }

    fn push(&mut self, record: Record) {
        Vec::push(self, record);
    }
}

/// `fetch_optional`: the first row (the Execute asked for one).
impl RowSink for Option<Record> {
    fn push(&mut self, record: Record) {
        *self = Some(record);
    }
}

/// `execute`: rows are counted, not kept.
struct Discard;

impl RowSink for Discard {
    fn push(&mut self, _record: Record) {}
}

/// How many rows an Execute asks for: all, or one for `fetch_one` and friends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Limit {
    All,
    One,
}

/// Runs `$op` (a future on `$c`, the connection) bounded by `command_timeout`: without a
/// limit directly, so the hot path carries no extra future layer; with one through
/// `Connection::timed`, which cancels the server's work when the limit passes.
macro_rules! bounded {
    ($conn:ident, $sql:expr, |$c:ident| $op:expr) => {
        if $conn.command_timeout.is_none() {
            let $c = &mut *$conn;
            $op.await
        } else {
            $conn
                .timed($sql, async |$c: &mut Connection| $op.await)
                .await
        }
    };
}

/// A check of the result's columns made before anything runs (a typed query's plan): a
/// struct that does not fit the result is an error before an `UPDATE … RETURNING` runs.
pub(super) type ColumnCheck<'a> = &'a mut dyn CheckColumns;

/// What a [`ColumnCheck`] is: a closure over the columns, or a [`Current`] one.
pub(super) trait CheckColumns: Send {
    fn run(&mut self, columns: &Arc<Columns>) -> Result<()>;

    /// Whether the check must see the columns the server describes for this very run, before
    /// it runs; otherwise it may see them as this connection last described the SQL, and
    /// uncached SQL keeps its one round trip (see `oneshot.rs`).
    fn needs_current(&self) -> bool {
        false
    }
}

impl<F: FnMut(&Arc<Columns>) -> Result<()> + Send> CheckColumns for F {
    fn run(&mut self, columns: &Arc<Columns>) -> Result<()> {
        self(columns)
    }
}

/// A check that must see the current columns (a typed query's plan): uncached SQL then takes
/// the described path, two round trips.
pub(super) struct Current<F>(pub(super) F);

impl<F: FnMut(&Arc<Columns>) -> Result<()> + Send> CheckColumns for Current<F> {
    fn run(&mut self, columns: &Arc<Columns>) -> Result<()> {
        (self.0)(columns)
    }

    fn needs_current(&self) -> bool {
        true
    }
}

/// The check for queries whose rows are not decoded into a type.
fn no_check(_: &Arc<Columns>) -> Result<()> {
    Ok(())
}

/// Whether `e` is the server's own answer (an ERROR: the statement ran and failed, the
/// session goes on), as opposed to a lost connection, a FATAL, a timeout or garbled bytes.
fn is_server_answer(e: &Error) -> bool {
    e.as_db_error().is_some() && !e.is_closed()
}

/// The most parameters one statement can take: the protocol counts them in 16 bits.
const MAX_PARAMS: usize = u16::MAX as usize;

/// Refuses more parameters than a statement can take before anything is sent: the server
/// would count the statement's placeholders modulo 2^16 and describe a mangled statement.
#[inline]
pub(super) fn check_param_count(given: usize, sql: &str) -> Result<()> {
    if given > MAX_PARAMS {
        return Err(too_many_params(given, sql));
    }
    Ok(())
}

#[cold]
fn too_many_params(given: usize, sql: &str) -> Error {
    Error::Interface(format!(
        "{given} parameters were given, but PostgreSQL takes at most 65535 per statement; pass a \
         list as one array parameter (`= ANY($1)`, or pgtusk-dialect's rewrite): {}",
        super::truncated(sql)
    ))
}

/// Hands a result read whole (see `oneshot.rs`) to `sink`: its rows, and the rows affected.
/// Cold, so that the hot loop in `run` stays as it was.
#[cold]
#[inline(never)]
fn push_read(sink: &mut impl RowSink, read: super::oneshot::ReadResult) -> (u64, u64) {
    let rows = read.rows.len() as u64;
    for record in read.rows {
        sink.push(record);
    }
    (rows, read.affected)
}

/// What a message after the rows means to a query.
pub(super) enum AfterRows {
    /// The command ended with this many rows affected (or returned).
    Done(u64),
    /// Nothing that changes the result (an error is kept until ReadyForQuery).
    Continue,
    /// ReadyForQuery: the operation is over.
    Ready,
}

impl Connection {
    /// Runs a statement and returns the number of rows it affected (or returned).
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let n = conn.execute("UPDATE accounts SET active = $1 WHERE id = $2", &[&true, &7i64]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<u64> {
        let query = query.into_query();
        bounded!(self, query_text(query), |conn| conn.run(
            query,
            params,
            Limit::All,
            &mut Discard,
            &mut no_check,
        ))
    }

    /// Runs one or more statements separated by `;` through the simple query protocol:
    /// no parameters, text format, nothing cached. For migrations and setup scripts.
    pub async fn execute_script(&mut self, sql: &str) -> Result<()> {
        self.simple_command(sql).await.map(drop)
    }

    /// Runs SQL through the simple query protocol and returns the last command tag
    /// (`COMMIT`, or `ROLLBACK` when COMMIT found the transaction failed).
    pub(crate) async fn simple_command(&mut self, sql: &str) -> Result<String> {
        self.timed(sql, async |conn: &mut Connection| {
            conn.simple_command_untimed(sql).await
        })
        .await
    }

    /// Runs COMMIT through the simple query protocol, like [`Connection::simple_command`].
    /// A failure once the whole COMMIT was handed to the socket, other than the server's own
    /// ERROR, becomes [`Error::CommitOutcomeUnknown`]: the server may have committed and its
    /// answer been lost. Before that (the connection already broken, a write that failed
    /// before the last byte) the server cannot have received COMMIT, which it runs only
    /// once it has the whole message, so the failure is returned as it is.
    pub(crate) async fn commit_command(&mut self, sql: &str) -> Result<String> {
        let mut commit_end = None;
        let result = self
            .timed(sql, async |conn: &mut Connection| {
                conn.simple_command_marked(sql, &mut commit_end).await
            })
            .await;
        match result {
            Err(e)
                if commit_end.is_some_and(|end| self.session.sent() >= end)
                    && !is_server_answer(&e) =>
            {
                Err(Error::CommitOutcomeUnknown(Box::new(e)))
            }
            other => other,
        }
    }

    async fn simple_command_untimed(&mut self, sql: &str) -> Result<String> {
        self.simple_command_marked(sql, &mut None).await
    }

    /// The simple query; `queued_end` gets the output position just past its Query message.
    async fn simple_command_marked(
        &mut self,
        sql: &str,
        queued_end: &mut Option<u64>,
    ) -> Result<String> {
        self.ready().await?;
        if sql_changes_session(sql) {
            self.session.mark_state_changed();
        }
        self.session.simple_query(sql)?;
        *queued_end = Some(self.session.position());
        self.flush().await?;
        let mut error = None;
        let mut tag = String::new();
        loop {
            match self.recv().await? {
                Message::ReadyForQuery(_) => return error.map_or(Ok(tag), Err),
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::CommandComplete(done) => {
                    tag.clear();
                    tag.push_str(done.tag());
                }
                Message::RowDescription(_)
                | Message::DataRow(_)
                | Message::EmptyQueryResponse
                | Message::CopyOutResponse(_)
                | Message::CopyData(_)
                | Message::CopyDone => {}
                other => return Err(self.unexpected(&other, "a simple query")),
            }
        }
    }

    /// Runs a query and returns every row.
    pub async fn fetch<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Vec<Record>> {
        let query = query.into_query();
        let mut rows = Vec::new();
        bounded!(self, query_text(query), |conn| conn.run(
            query,
            params,
            Limit::All,
            &mut rows,
            &mut no_check,
        ))?;
        Ok(rows)
    }

    /// Runs a query and returns its first row; [`Error::NoRows`] when there is none.
    /// Only one row travels: the rest of the result is never sent.
    pub async fn fetch_one<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Record> {
        let query = query.into_query();
        let mut first = None;
        bounded!(self, query_text(query), |conn| conn.run(
            query,
            params,
            Limit::One,
            &mut first,
            &mut no_check
        ))?;
        first.ok_or_else(|| no_rows(query))
    }

    /// Runs a query and returns its first row, if any.
    pub async fn fetch_optional<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Option<Record>> {
        let query = query.into_query();
        let mut first = None;
        bounded!(self, query_text(query), |conn| conn.run(
            query,
            params,
            Limit::One,
            &mut first,
            &mut no_check,
        ))?;
        Ok(first)
    }

    /// The first row, with a check of the columns before the query runs.
    pub(super) async fn fetch_first_checked(
        &mut self,
        query: QueryRef<'_>,
        params: Params<'_>,
        check: ColumnCheck<'_>,
    ) -> Result<Option<Record>> {
        let mut first = None;
        bounded!(self, query_text(query), |conn| conn.run(
            query,
            params,
            Limit::One,
            &mut first,
            check
        ))?;
        Ok(first)
    }

    /// Runs a query and decodes the first column of its first row.
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let answer: i32 = conn.fetch_value("SELECT 6 * $1", &[&7i32]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_value<'a, T>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<T>
    where
        T: for<'r> Decode<'r>,
    {
        let query = query.into_query();
        let mut first = None;
        let mut check = |columns: &Arc<Columns>| {
            if columns.is_empty() {
                return Err(Error::Interface(format!(
                    "fetch_value: the query returns no columns ({})",
                    query_text(query)
                )));
            }
            Ok(())
        };
        bounded!(self, query_text(query), |conn| conn.run(
            query,
            params,
            Limit::One,
            &mut first,
            &mut check
        ))?;
        first.ok_or_else(|| no_rows(query))?.decode_at(0)
    }

    /// Runs a query and streams its rows as they arrive, without buffering the result.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let mut rows = conn.fetch_stream("SELECT g FROM generate_series(1, 1000000) g", &[]).await?;
    /// while let Some(row) = rows.try_next().await? {
    ///     let g: i32 = row.get(0);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn fetch_stream<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<RowStream<'_>> {
        self.stream_checked(query.into_query(), params, &mut no_check)
            .await
    }

    /// [`Connection::fetch_stream`] with a check of the columns before the query runs.
    pub(super) async fn stream_checked(
        &mut self,
        query: QueryRef<'_>,
        params: Params<'_>,
        check: ColumnCheck<'_>,
    ) -> Result<RowStream<'_>> {
        let trace = self.trace_start();
        // The timeout covers the start (prepare, bind, execute); the rows are the caller's pace.
        let started = self
            .timed(query_text(query), async |conn: &mut Connection| {
                conn.start(query, params, Limit::All, check).await
            })
            .await;
        let trace = trace.map(|trace| Box::new((trace, query_text(query).to_owned())));
        let (columns, read) = match started {
            Ok(Started::Reading(columns)) => (columns, None),
            Ok(Started::Read(read)) => (read.columns.clone(), Some(read)),
            Err(e) => {
                if let Some(trace) = trace {
                    self.trace_end(trace.0, &trace.1, 0, Some(&e));
                }
                return Err(e);
            }
        };
        Ok(RowStream {
            conn: ConnectionRef::Borrowed(self),
            columns,
            error: None,
            rows_affected: None,
            rows: 0,
            done: false,
            trace,
            read,
        })
    }

    /// Prepares a named statement and returns it with its parameter types and result columns.
    /// It stays itself until its last clone is dropped, then it is closed on the server; it
    /// also goes into the statement cache when the SQL fits there.
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement> {
        self.ready().await?;
        self.cached_or_prepare(sql).await
    }

    /// Runs `query` and hands each row to `sink`; returns the rows affected. Callers bound it
    /// by `command_timeout` with `bounded!`.
    async fn run(
        &mut self,
        query: QueryRef<'_>,
        params: Params<'_>,
        limit: Limit,
        sink: &mut impl RowSink,
        check: ColumnCheck<'_>,
    ) -> Result<u64> {
        // Traced at every exit here rather than in a wrapper: a wrapper's future layer costs
        // the point select more than the tracing check itself.
        let trace = self.trace_start();
        let columns = match self.start(query, params, limit, check).await {
            Ok(Started::Reading(columns)) => columns,
            Ok(Started::Read(read)) => {
                let (rows, affected) = push_read(sink, *read);
                return self.traced(trace, query, rows, Ok(affected));
            }
            Err(e) => return self.traced(trace, query, 0, Err(e)),
        };
        if limit == Limit::All {
            sink.reserve(columns.row_count_hint());
        }
        let mut error = None;
        let mut affected = 0;
        let mut rows = 0u64;
        loop {
            let msg = match self.recv().await {
                Ok(msg) => msg,
                Err(e) => return self.traced(trace, query, rows, Err(e)),
            };
            match msg {
                Message::DataRow(row) => {
                    if error.is_none() {
                        match self.record(row, &columns) {
                            Ok(record) => sink.push(record),
                            Err(e) => return self.traced(trace, query, rows, Err(e)),
                        }
                        rows += 1;
                    }
                }
                msg => match self.after_rows(msg, &mut error) {
                    Ok(AfterRows::Done(n)) => affected = n,
                    Ok(AfterRows::Continue) => {}
                    Ok(AfterRows::Ready) => {
                        let result = match error {
                            Some(e) => Err(e),
                            None => {
                                if limit == Limit::All {
                                    columns.set_row_count_hint(rows as usize);
                                }
                                Ok(affected)
                            }
                        };
                        return self.traced(trace, query, rows, result);
                    }
                    Err(e) => return self.traced(trace, query, rows, Err(e)),
                },
            }
        }
    }

    /// Emits the statement's event when tracing is on, and passes the result through.
    #[inline]
    fn traced(
        &self,
        trace: Option<super::trace::QueryTrace>,
        query: QueryRef<'_>,
        rows: u64,
        result: Result<u64>,
    ) -> Result<u64> {
        if let Some(trace) = trace {
            self.trace_end(trace, query_text(query), rows, result.as_ref().err());
        }
        result
    }

    /// A Record for a DataRow (whose lengths `DataRow::parse` checked); a row that does not
    /// match the statement's columns breaks the connection.
    #[inline]
    pub(super) fn record(&mut self, row: DataRow, columns: &Arc<Columns>) -> Result<Record> {
        if row.len() != columns.len() {
            return Err(self.row_mismatch(row.len(), columns.len()));
        }
        Ok(Record::from_data_row(row, columns.clone()))
    }

    #[cold]
    fn row_mismatch(&mut self, values: usize, columns: usize) -> Error {
        self.session.fail_protocol(&format!(
            "a DataRow has {values} values but the statement describes {columns} columns"
        ))
    }

    /// What follows the rows: the end of the command, an error (kept until ReadyForQuery), or
    /// ReadyForQuery. COPY FROM STDIN never gets here: the session refuses it.
    pub(super) fn after_rows(
        &mut self,
        msg: Message,
        error: &mut Option<Error>,
    ) -> Result<AfterRows> {
        match msg {
            Message::CommandComplete(done) => Ok(AfterRows::Done(done.rows().unwrap_or(0))),
            Message::EmptyQueryResponse | Message::PortalSuspended => Ok(AfterRows::Done(0)),
            Message::ErrorResponse(fields) => {
                *error = Some(db_error(&fields));
                Ok(AfterRows::Continue)
            }
            Message::ReadyForQuery(_) => Ok(AfterRows::Ready),
            Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone => {
                Ok(AfterRows::Continue)
            }
            other => Err(self.unexpected(&other, "a query")),
        }
    }

    /// Prepares (if needed), binds and executes, and reads up to BindComplete; `check` sees
    /// the columns before anything runs. When a cached statement turns out stale on the
    /// server (DDL changed its result, it was deallocated, or a type it uses was dropped), it
    /// is prepared again and run once more outside a transaction.
    async fn start(
        &mut self,
        query: QueryRef<'_>,
        params: Params<'_>,
        limit: Limit,
        check: ColumnCheck<'_>,
    ) -> Result<Started> {
        check_param_count(params.len(), query_text(query))?;
        self.ready().await?;
        let max_rows = if limit == Limit::One { 1 } else { 0 };
        let stmt = match query {
            // SQL the cache does not admit is never in it: no lookup.
            QueryRef::Sql(sql) if !self.cache.admits(sql) => {
                // Boxed: its future is large, and inline it would grow (and slow) every query's.
                return Box::pin(self.start_uncached(sql, params, max_rows, check)).await;
            }
            QueryRef::Sql(sql) => self.cached_or_prepare(sql).await?,
            QueryRef::Statement(stmt) => self.own_statement(stmt)?,
        };
        check.run(stmt.columns_arc())?;
        match self.bind_execute(&stmt, params, max_rows).await {
            Err(Error::Db(e)) if is_stale_statement(&e) => {
                self.forget_stale(&stmt, &e);
                if self.session.transaction_status() != TransactionStatus::Idle {
                    return Err(Error::StatementInvalidated(e));
                }
                if matches!(query, QueryRef::Statement(_)) {
                    return Err(Error::Db(e));
                }
                tracing::debug!(
                    sql = stmt.sql(),
                    "statement went stale on the server; preparing it again"
                );
                let fresh = self.prepare_named(stmt.sql()).await?;
                self.cache.insert(fresh.clone());
                check.run(fresh.columns_arc())?;
                // Missing again at once: a server connection shared with other clients.
                self.bind_execute(&fresh, params, max_rows)
                    .await
                    .map_err(|e| e.with_query_hint(fresh.sql()))?;
                Ok(Started::Reading(fresh.columns_arc().clone()))
            }
            Err(e) => Err(e),
            Ok(()) => Ok(Started::Reading(stmt.columns_arc().clone())),
        }
    }

    /// Forgets what a stale statement error (see `is_stale_statement`) made untrue: the cached
    /// statement, and the looked-up types when one of them was dropped.
    pub(super) fn forget_stale(&mut self, stmt: &Statement, e: &DbError) {
        self.cache.remove(stmt.sql());
        // A type was dropped (and perhaps made again under a new OID).
        let types = e.code() == SqlState::INTERNAL_ERROR;
        if types {
            self.custom_types.clear();
            self.described.forget_all();
        }
        if let Some(stale) = &self.pool_stale {
            stale.publish(stmt.sql(), types);
            // This connection has already forgotten it.
            if stale.newest() == self.stale_seen + 1 {
                self.stale_seen += 1;
            }
        }
    }

    /// Bind + Execute + Sync for a prepared statement, read up to BindComplete: a request of
    /// its own, or the end of the open one that described the unnamed statement.
    pub(super) async fn bind_execute(
        &mut self,
        stmt: &Statement,
        params: Params<'_>,
        max_rows: i32,
    ) -> Result<()> {
        if !self.session.is_unsynced() {
            self.session
                .begin_request(RequestKind::Extended, Abandon::Sync);
        }
        if let Err(e) = self.write_bind_execute(stmt, params, max_rows) {
            return Err(self.abort_request(e).await);
        }
        self.session.sync();
        self.flush().await?;
        match self.recv().await? {
            Message::BindComplete => Ok(()),
            Message::ErrorResponse(fields) => {
                let error = db_error(&fields);
                self.finish().await?;
                Err(error)
            }
            other => Err(self.unexpected(&other, "bind")),
        }
    }

    /// A statement the caller prepared: it must come from this connection.
    pub(super) fn own_statement(&self, stmt: &Statement) -> Result<Statement> {
        if stmt.0.connection_id != self.id {
            return Err(Error::Interface(
                "this statement was prepared on another connection; prepare it on this one"
                    .to_owned(),
            ));
        }
        Ok(stmt.clone())
    }

    /// Appends Bind + Execute for `stmt` with `params`, after checking the parameter count and
    /// each parameter's type; on any error nothing is left in the output.
    pub(super) fn write_bind_execute(
        &mut self,
        stmt: &Statement,
        params: Params<'_>,
        max_rows: i32,
    ) -> Result<()> {
        let bind_at = self.write_bind("", stmt, params)?;
        self.session.execute(bind_at, max_rows);
        Ok(())
    }

    /// Appends Bind of `stmt` with `params` to `portal` ("" is the unnamed one) and returns
    /// where it starts in the output; on any error nothing is left in the output. The count
    /// is checked first, so the error says how many were given.
    #[inline(always)]
    pub(super) fn write_bind(
        &mut self,
        portal: &str,
        stmt: &Statement,
        params: Params<'_>,
    ) -> Result<u64> {
        let inner = &stmt.0;
        if params.len() != inner.params.len() {
            return Err(Error::Interface(format!(
                "the statement takes {} parameter(s) but {} were given{}: {}",
                inner.params.len(),
                params.len(),
                if params.len() > MAX_PARAMS {
                    " (PostgreSQL takes at most 65535; pass a list as one array parameter)"
                } else {
                    ""
                },
                inner.sql
            )));
        }
        self.write_bind_row(portal, stmt, &params, None)
    }

    /// Appends Bind of `stmt` to `portal` with the values `row` writes, checked against the
    /// statement's parameter types and count (`names`, the row type's column names, go into
    /// errors), and returns where it starts in the output; on any error nothing is left in
    /// the output. Inlined so that the unnamed portal's empty name is a constant on the hot
    /// path, and the row's writes are direct calls.
    #[inline(always)]
    pub(super) fn write_bind_row<R: ToRecord + ?Sized>(
        &mut self,
        portal: &str,
        stmt: &Statement,
        row: &R,
        names: Option<&[&'static str]>,
    ) -> Result<u64> {
        let inner = &stmt.0;
        if inner.changes_session {
            self.session.mark_state_changed();
        }
        let bind_at = self.session.position();
        let bound = frontend::bind_values(
            portal,
            &inner.name,
            &inner.param_formats,
            inner.params.len(),
            |buf| {
                let mut values = ValueWriter::params(buf, &inner.params, names);
                row.write_values(&mut values)?;
                values.finish()
            },
            &inner.result_formats,
            self.session.out(),
        );
        match bound {
            Ok(()) => Ok(bind_at),
            Err(BindError::Values(Error::Interface(message))) => {
                Err(Error::Interface(format!("{message}: {}", inner.sql)))
            }
            Err(BindError::Values(error) | BindError::Param { error, .. }) => Err(error),
            Err(BindError::Protocol(e)) => Err(cannot_send(e)),
        }
    }

    /// The statement for `sql`, from the cache or prepared named (and cached when it fits;
    /// one that does not fit is closed on the server once its last clone is dropped).
    pub(super) async fn cached_or_prepare(&mut self, sql: &str) -> Result<Statement> {
        if let Some(stmt) = self.cache.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.prepare_named(sql).await?;
        if self.cache.admits(sql) {
            self.cache.insert(stmt.clone());
        }
        Ok(stmt)
    }

    /// Parse + Describe + Sync for a new named statement: one request and round trip that
    /// returns the statement's shape. Closed on the server once its last clone is dropped
    /// (or, if this future is dropped, with the next request).
    pub(super) async fn prepare_named(&mut self, sql: &str) -> Result<Statement> {
        self.prepares += 1;
        self.next_statement_id += 1;
        let name = PendingName::new(
            format!("pgtusk_{}", self.next_statement_id),
            self.session.close_queue().clone(),
        );
        self.session
            .begin_request(RequestKind::Extended, Abandon::Sync);
        if let Err(e) = write_parse_describe(name.as_str(), sql, self.session.out()) {
            return Err(self.abort_request(e).await);
        }
        self.session.sync();
        self.flush().await?;
        let (param_oids, fields) = self.read_description(true, sql).await?;
        let column_oids = fields.iter().map(|f| f.type_oid);
        self.resolve_types(param_oids.iter().copied().chain(column_oids))
            .await?;
        Ok(self.statement_from(name.into_inner(), sql, &param_oids, fields))
    }

    /// Parse + Describe + Flush for the unnamed statement, leaving the request open (no
    /// Sync) for the caller's Bind. When the statement uses types not known yet, the request
    /// is ended, the types are looked up, and the statement is described again.
    pub(super) async fn describe_unnamed(
        &mut self,
        sql: &str,
        on_abandon: Abandon,
    ) -> Result<Statement> {
        self.prepares += 1;
        let mut looked_up = false;
        loop {
            self.session
                .begin_request(RequestKind::Extended, on_abandon);
            if let Err(e) = write_parse_describe("", sql, self.session.out()) {
                return Err(self.abort_request(e).await);
            }
            self.session.flush();
            self.flush().await?;
            let (param_oids, fields) = self.read_description(false, sql).await?;
            let oids: Vec<u32> = param_oids
                .iter()
                .copied()
                .chain(fields.iter().map(|f| f.type_oid))
                .collect();
            if !looked_up && oids.iter().any(|&oid| self.is_unknown(oid)) {
                // The lookup is a simple query, which must not run inside this request.
                self.session.abort_request();
                self.flush().await?;
                self.finish().await?;
                self.resolve_types(oids).await?;
                looked_up = true;
                continue;
            }
            return Ok(self.statement_from((String::new(), None), sql, &param_oids, fields));
        }
    }

    /// Reads what Parse + Describe(statement) bring: the parameter types and the columns.
    /// `synced`: the request ends with Sync, so read through ReadyForQuery; otherwise stop at
    /// the description, and on an error end the request.
    pub(super) async fn read_description(
        &mut self,
        synced: bool,
        sql: &str,
    ) -> Result<(Vec<u32>, Vec<RawField>)> {
        let mut param_oids: Vec<u32> = Vec::new();
        let mut fields = Vec::new();
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::ParseComplete => {}
                Message::ParameterDescription(desc) => param_oids = desc.types().collect(),
                Message::RowDescription(desc) => {
                    fields = match describe_fields(&desc) {
                        Ok(fields) => fields,
                        Err(e) => return Err(self.session.fail_protocol(&e.to_string())),
                    };
                    if !synced {
                        break;
                    }
                }
                Message::NoData if !synced => break,
                Message::NoData => {}
                Message::ErrorResponse(fields) => {
                    let e = db_error(&fields).with_query_hint(sql);
                    if !synced {
                        return Err(self.abort_request(e).await);
                    }
                    error = Some(e);
                }
                Message::ReadyForQuery(_) if synced => break,
                other => return Err(self.unexpected(&other, "prepare")),
            }
        }
        error.map_or(Ok((param_oids, fields)), Err)
    }

    /// A Statement from its description; `name` is the server name and the queue that closes
    /// it (none for the unnamed statement).
    pub(super) fn statement_from(
        &self,
        (name, close_queue): (String, Option<crate::statement::CloseQueue>),
        sql: &str,
        param_oids: &[u32],
        fields: Vec<RawField>,
    ) -> Statement {
        let params: Vec<Type> = param_oids.iter().map(|&oid| self.type_for(oid)).collect();
        let columns: Vec<Column> = fields
            .into_iter()
            .map(|f| {
                Column::new(
                    f.name,
                    self.type_for(f.type_oid),
                    f.table_oid,
                    f.column_id,
                    f.type_modifier,
                )
            })
            .collect();
        let param_formats = format_codes(params.iter().map(Type::is_binary));
        let result_formats = format_codes(columns.iter().map(|c: &Column| c.type_().is_binary()));
        Statement(Arc::new(StatementInner {
            name,
            sql: sql.to_owned(),
            params,
            columns: Arc::new(Columns::new(columns)),
            param_formats,
            result_formats,
            connection_id: self.id,
            changes_session: sql_changes_session(sql),
            close_queue,
        }))
    }
}

/// A named statement's name from its Parse until it belongs to a [`Statement`]: if the
/// operation is dropped in between, the name goes to the close queue, so a statement the
/// server may have made is never left behind.
pub(super) struct PendingName {
    name: String,
    queue: Option<crate::statement::CloseQueue>,
}

impl PendingName {
    pub(super) fn new(name: String, queue: crate::statement::CloseQueue) -> PendingName {
        PendingName {
            name,
            queue: Some(queue),
        }
    }

    pub(super) fn as_str(&self) -> &str {
        &self.name
    }

    /// The name and its close queue, now owned by the caller.
    pub(super) fn into_inner(mut self) -> (String, Option<crate::statement::CloseQueue>) {
        (std::mem::take(&mut self.name), self.queue.take())
    }
}

impl Drop for PendingName {
    fn drop(&mut self) {
        if let Some(queue) = &self.queue {
            queue.push([std::mem::take(&mut self.name)]);
        }
    }
}

/// Parse + Describe(statement) for `name`; nothing is written when either fails.
pub(super) fn write_parse_describe(name: &str, sql: &str, out: &mut bytes::BytesMut) -> Result<()> {
    let start = out.len();
    let written = frontend::parse(name, sql, &[], out)
        .and_then(|()| frontend::describe(frontend::KIND_STATEMENT, name, out));
    written.map_err(|e| {
        out.truncate(start);
        cannot_send(e)
    })
}

/// A message we refused to write (a NUL in the SQL, a message over 1 GiB): nothing was sent
/// and the connection is fine.
pub(super) fn cannot_send(e: crate::protocol::ProtocolError) -> Error {
    Error::Interface(format!("cannot send this query: {}", e.message()))
}

/// The error `fetch_one` gives for an empty result.
pub(super) fn no_rows(query: QueryRef<'_>) -> Error {
    Error::NoRows {
        query: query_text(query).to_owned(),
    }
}

/// A RowDescription field, kept until its type is resolved.
pub(super) struct RawField {
    name: String,
    pub(super) type_oid: u32,
    table_oid: u32,
    column_id: i16,
    type_modifier: i32,
}

fn describe_fields(desc: &RowDescription) -> Result<Vec<RawField>> {
    let mut fields = Vec::with_capacity(desc.len());
    for field in desc.fields() {
        let f = field?;
        fields.push(RawField {
            name: f.name.into_owned(),
            type_oid: f.type_oid,
            table_oid: f.table_oid,
            column_id: f.column_id,
            type_modifier: f.type_modifier,
        });
    }
    Ok(fields)
}

/// Whether the server refused a cached statement that a new Parse would fix.
pub(super) fn is_stale_statement(e: &DbError) -> bool {
    let code = e.code();
    // 0A000 "cached plan must not change result type" from RevalidateCachedQuery (DDL),
    // 26000 "prepared statement ... does not exist" (DISCARD ALL, DEALLOCATE).
    // XX000 "cache lookup failed for type N": a type the statement uses was dropped.
    (code == SqlState::FEATURE_NOT_SUPPORTED && e.routine() == Some("RevalidateCachedQuery"))
        || code == SqlState::INVALID_SQL_STATEMENT_NAME
        || (code == SqlState::INTERNAL_ERROR
            && e.message().starts_with("cache lookup failed for type"))
}

pub(super) fn query_text(query: QueryRef<'_>) -> &str {
    match query {
        QueryRef::Sql(sql) => sql,
        QueryRef::Statement(stmt) => stmt.sql(),
    }
}

/// Rows of a query as they arrive; see [`Connection::fetch_stream`].
///
/// Dropping it early is safe: the connection drains the rest before its next operation.
pub struct RowStream<'c> {
    conn: ConnectionRef<'c>,
    columns: Arc<Columns>,
    error: Option<Error>,
    rows_affected: Option<u64>,
    /// Rows returned so far, the statement's row count hint once the stream ends.
    rows: usize,
    done: bool,
    /// The statement's tracing start and SQL, when its end is traced.
    trace: Option<Box<(QueryTrace, String)>>,
    /// A result read whole before its rows could be decoded (see `oneshot.rs`).
    read: Option<Box<super::oneshot::ReadResult>>,
}

/// A [`RowStream`] without its connection, to be given one it owns.
pub(crate) struct DetachedRowStream {
    columns: Arc<Columns>,
    error: Option<Error>,
    rows_affected: Option<u64>,
    rows: usize,
    done: bool,
    trace: Option<Box<(QueryTrace, String)>>,
    read: Option<Box<super::oneshot::ReadResult>>,
}

impl DetachedRowStream {
    /// The stream again, on `conn`: the connection it was split from.
    pub(crate) fn attach(self, conn: ConnectionRef<'_>) -> RowStream<'_> {
        let DetachedRowStream {
            columns,
            error,
            rows_affected,
            rows,
            done,
            trace,
            read,
        } = self;
        RowStream {
            conn,
            columns,
            error,
            rows_affected,
            rows,
            done,
            trace,
            read,
        }
    }
}

impl RowStream<'_> {
    /// Splits the stream from the connection it borrows, so that the connection can move
    /// into it (a pooled connection the stream then owns).
    pub(crate) fn detach(self) -> DetachedRowStream {
        let RowStream {
            conn: _,
            columns,
            error,
            rows_affected,
            rows,
            done,
            trace,
            read,
        } = self;
        DetachedRowStream {
            columns,
            error,
            rows_affected,
            rows,
            done,
            trace,
            read,
        }
    }

    /// Ends the stream, with its tracing event.
    fn end(&mut self, error: Option<&Error>) {
        self.done = true;
        if let Some(trace) = self.trace.take() {
            let (trace, sql) = *trace;
            self.conn.trace_end(trace, &sql, self.rows as u64, error);
        }
    }

    /// The result's columns.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The rows affected, once the stream has ended.
    pub fn rows_affected(&self) -> Option<u64> {
        self.rows_affected
    }
}

impl Stream for RowStream<'_> {
    type Item = Result<Record>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Record>>> {
        let this = self.get_mut();
        if let Some(read) = this.read.as_mut() {
            if let Some(record) = read.rows.next() {
                this.rows += 1;
                return Poll::Ready(Some(Ok(record)));
            }
            this.rows_affected = Some(read.affected);
            this.read = None;
            this.end(None);
            return Poll::Ready(None);
        }
        while !this.done {
            let msg = match ready!(this.conn.poll_recv(cx)) {
                Ok(msg) => msg,
                Err(e) => {
                    this.end(Some(&e));
                    return Poll::Ready(Some(Err(e)));
                }
            };
            match msg {
                Message::DataRow(row) if this.error.is_none() => {
                    let record = this.conn.record(row, &this.columns);
                    if let Err(e) = &record {
                        this.end(Some(e));
                    }
                    this.rows += 1;
                    return Poll::Ready(Some(record));
                }
                Message::DataRow(_) => {}
                msg => match this.conn.after_rows(msg, &mut this.error) {
                    Ok(AfterRows::Done(affected)) => this.rows_affected = Some(affected),
                    Ok(AfterRows::Continue) => {}
                    Ok(AfterRows::Ready) => {
                        let error = this.error.take();
                        this.end(error.as_ref());
                        if error.is_none() {
                            this.columns.set_row_count_hint(this.rows);
                        }
                        return Poll::Ready(error.map(Err));
                    }
                    Err(e) => {
                        this.end(Some(&e));
                        return Poll::Ready(Some(Err(e)));
                    }
                },
            }
        }
        Poll::Ready(None)
    }
}

impl std::fmt::Debug for RowStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("columns", &self.columns.as_slice())
            .field("done", &self.done)
            .finish()
    }
}
