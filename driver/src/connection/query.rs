//! Running statements: prepare (through the cache), bind, execute, and read the rows.
//!
//! A cached query is one write (Bind + Execute + Sync) and one round trip. A miss first
//! prepares: Parse + Describe + Sync, one round trip that tells the parameter types and the
//! result columns.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_core::Stream;

use super::{Connection, db_error};
use crate::error::{DbError, Error, Result, SqlState};
use crate::protocol::backend::{DataRow, Message, RowDescription, TransactionStatus};
use crate::protocol::frontend::{self, BindError};
use crate::record::{Column, Columns, Record};
use crate::statement::{Statement, StatementInner, format_codes};
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
        self.run(query.into_query(), params, Limit::All, &mut Discard)
            .await
    }

    /// Runs one or more statements separated by `;` through the simple query protocol:
    /// no parameters, text format, nothing cached. For migrations and setup scripts.
    pub async fn execute_script(&mut self, sql: &str) -> Result<()> {
        self.ready().await?;
        frontend::query(sql, &mut self.write_buf)?;
        self.owed_ready += 1;
        self.flush().await?;
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::ReadyForQuery(status) => {
                    self.owed_ready -= 1;
                    self.transaction_status = status;
                    return error.map_or(Ok(()), Err);
                }
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::CommandComplete(done) => self.after_command(done.tag()),
                Message::CopyInResponse(_) => self.refuse_copy_in(false)?,
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
        let mut rows = Vec::new();
        self.run(query.into_query(), params, Limit::All, &mut rows)
            .await?;
        Ok(rows)
    }

    /// Runs a query and returns its first row; an error when there is none.
    /// Only one row travels: the rest of the result is never sent.
    pub async fn fetch_one<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Record> {
        let query = query.into_query();
        self.fetch_optional(query, params).await?.ok_or_else(|| {
            Error::Interface(format!(
                "fetch_one: the query returned no rows ({}); use fetch_optional to accept none",
                query_text(query)
            ))
        })
    }

    /// Runs a query and returns its first row, if any.
    pub async fn fetch_optional<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Option<Record>> {
        let mut first = None;
        self.run(query.into_query(), params, Limit::One, &mut first)
            .await?;
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
        let row = self.fetch_one(query, params).await?;
        if row.is_empty() {
            return Err(Error::Interface(
                "fetch_value: the query returns no columns".to_owned(),
            ));
        }
        row.decode_at(0)
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
        let columns = self.start(query.into_query(), params, Limit::All).await?;
        Ok(RowStream {
            conn: self,
            columns,
            error: None,
            rows_affected: None,
            rows: 0,
            done: false,
        })
    }

    /// Prepares a statement (through the statement cache when it fits) and returns it with its
    /// parameter types and result columns.
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement> {
        self.ready().await?;
        self.cached_or_prepare(sql).await
    }

    /// Runs `query` and hands each row to `sink`; returns the rows affected.
    async fn run(
        &mut self,
        query: QueryRef<'_>,
        params: Params<'_>,
        limit: Limit,
        sink: &mut impl RowSink,
    ) -> Result<u64> {
        let columns = self.start(query, params, limit).await?;
        if limit == Limit::All {
            sink.reserve(columns.row_count_hint());
        }
        let mut error = None;
        let mut affected = 0;
        let mut rows = 0;
        loop {
            match self.recv().await? {
                Message::DataRow(row) => {
                    if error.is_none() {
                        sink.push(self.record(row, &columns)?);
                        rows += 1;
                    }
                }
                msg => match self.after_rows(msg, &mut error)? {
                    Some(done) => affected = done,
                    None => {
                        return match error {
                            Some(e) => Err(e),
                            None => {
                                if limit == Limit::All {
                                    columns.set_row_count_hint(rows);
                                }
                                Ok(affected)
                            }
                        };
                    }
                },
            }
        }
    }

    /// A Record for a DataRow (whose lengths `DataRow::parse` checked); a row that does not
    /// match the statement's columns breaks the connection.
    fn record(&mut self, row: DataRow, columns: &Arc<Columns>) -> Result<Record> {
        if row.len() != columns.len() {
            self.broken = true;
            return Err(Error::Protocol(format!(
                "a DataRow has {} values but the statement describes {} columns",
                row.len(),
                columns.len()
            )));
        }
        Ok(Record::from_data_row(row, columns.clone()))
    }

    /// Handles what follows the rows: `Ok(Some(rows affected))` at the end of the command,
    /// `Ok(None)` at ReadyForQuery (the operation is over), errors kept until then.
    fn after_rows(&mut self, msg: Message, error: &mut Option<Error>) -> Result<Option<u64>> {
        match msg {
            Message::CommandComplete(done) => {
                self.after_command(done.tag());
                Ok(Some(done.rows().unwrap_or(0)))
            }
            Message::EmptyQueryResponse | Message::PortalSuspended | Message::CloseComplete => {
                Ok(Some(0))
            }
            Message::ErrorResponse(fields) => {
                *error = Some(db_error(&fields));
                Ok(Some(0))
            }
            Message::ReadyForQuery(status) => {
                self.owed_ready -= 1;
                self.transaction_status = status;
                Ok(None)
            }
            Message::CopyInResponse(_) => {
                self.refuse_copy_in(true)?;
                Ok(Some(0))
            }
            Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone => Ok(Some(0)),
            other => Err(self.unexpected(&other, "a query")),
        }
    }

    /// COPY FROM STDIN through a query method: abort the copy so the server is not left
    /// waiting for data; the server's resulting error tells the user. The server ignored the
    /// Sync we sent while it was in copy mode, so an extended query sends another one (the
    /// ReadyForQuery it brings is the one already counted). `poll_recv` writes them out.
    fn refuse_copy_in(&mut self, extended: bool) -> Result<()> {
        frontend::copy_fail(
            "COPY FROM STDIN needs the COPY API, not a query method",
            &mut self.write_buf,
        )?;
        if extended {
            frontend::sync(&mut self.write_buf);
        }
        Ok(())
    }

    /// Notices commands that drop every prepared statement on the server.
    fn after_command(&mut self, tag: &str) {
        if tag == "DISCARD ALL" || tag == "DEALLOCATE ALL" {
            self.cache.forget_all();
        }
    }

    /// Prepares (if needed), binds and executes, and reads up to BindComplete. When a cached
    /// statement turns out stale on the server (DDL changed its result, or it was
    /// deallocated), it is prepared again and run once more outside a transaction.
    async fn start(
        &mut self,
        query: QueryRef<'_>,
        params: Params<'_>,
        limit: Limit,
    ) -> Result<Arc<Columns>> {
        self.ready().await?;
        let stmt = self.statement_for(query).await?;
        match self.bind_execute(&stmt, params, limit).await {
            Err(Error::Db(e)) if is_stale_statement(&e) => {
                self.cache.remove(stmt.sql());
                if self.transaction_status != TransactionStatus::Idle {
                    return Err(Error::StatementInvalidated(e));
                }
                if matches!(query, QueryRef::Statement(_)) {
                    return Err(Error::Db(e));
                }
                tracing::debug!(
                    sql = stmt.sql(),
                    "statement went stale on the server; preparing it again"
                );
                let fresh = self.cached_or_prepare(stmt.sql()).await?;
                self.bind_execute(&fresh, params, limit).await?;
                Ok(fresh.columns_arc().clone())
            }
            Err(e) => Err(e),
            Ok(()) => Ok(stmt.columns_arc().clone()),
        }
    }

    async fn bind_execute(
        &mut self,
        stmt: &Statement,
        params: Params<'_>,
        limit: Limit,
    ) -> Result<()> {
        self.write_bind_execute(stmt, params, if limit == Limit::One { 1 } else { 0 })?;
        self.write_pending_closes()?;
        self.write_sync();
        self.flush().await?;
        loop {
            match self.recv().await? {
                Message::BindComplete => return Ok(()),
                Message::CloseComplete => {}
                Message::ErrorResponse(fields) => {
                    let error = db_error(&fields);
                    self.finish().await?;
                    return Err(error);
                }
                other => return Err(self.unexpected(&other, "bind")),
            }
        }
    }

    /// The statement a query method runs: from the cache (prepared on a miss), or the
    /// caller's own, which must come from this connection.
    pub(super) async fn statement_for(&mut self, query: QueryRef<'_>) -> Result<Statement> {
        match query {
            QueryRef::Sql(sql) => self.cached_or_prepare(sql).await,
            QueryRef::Statement(stmt) if stmt.0.connection_id != self.id => Err(Error::Interface(
                "this statement was prepared on another connection; prepare it on this one"
                    .to_owned(),
            )),
            QueryRef::Statement(stmt) => Ok(stmt.clone()),
        }
    }

    /// Appends Bind + Execute for `stmt` with `params`, after checking the parameter count and
    /// each parameter's type; on any error nothing is left in the write buffer.
    pub(super) fn write_bind_execute(
        &mut self,
        stmt: &Statement,
        params: Params<'_>,
        max_rows: i32,
    ) -> Result<()> {
        let inner = &stmt.0;
        if params.len() != inner.params.len() {
            return Err(Error::Interface(format!(
                "the statement takes {} parameter(s) but {} were given: {}",
                inner.params.len(),
                params.len(),
                inner.sql
            )));
        }
        let start = self.write_buf.len();
        let bound = frontend::bind(
            "",
            &inner.name,
            &inner.param_formats,
            params.len(),
            |i, buf| encode_param(i, params[i], &inner.params[i], buf),
            &inner.result_formats,
            &mut self.write_buf,
        );
        if let Err(e) = bound {
            self.write_buf.truncate(start);
            return Err(match e {
                BindError::Param { error, .. } => error,
                BindError::Protocol(e) => e.into(),
            });
        }
        frontend::execute("", max_rows, &mut self.write_buf)?;
        Ok(())
    }

    /// Reads up to the ReadyForQuery that ends the current operation.
    pub(super) async fn finish(&mut self) -> Result<()> {
        loop {
            if let Message::ReadyForQuery(status) = self.recv().await? {
                self.owed_ready -= 1;
                self.transaction_status = status;
                return Ok(());
            }
        }
    }

    pub(super) async fn cached_or_prepare(&mut self, sql: &str) -> Result<Statement> {
        if let Some(stmt) = self.cache.get(sql) {
            return Ok(stmt.clone());
        }
        let named = self.cache.admits(sql);
        let name = if named {
            self.next_statement_id += 1;
            format!("pgtusk_{}", self.next_statement_id)
        } else {
            String::new()
        };
        let stmt = self.prepare_as(sql, name).await?;
        if named {
            self.cache.insert(stmt.clone());
        }
        Ok(stmt)
    }

    /// Parse + Describe + Sync: one round trip that returns the statement's shape.
    async fn prepare_as(&mut self, sql: &str, name: String) -> Result<Statement> {
        frontend::parse(&name, sql, &[], &mut self.write_buf)?;
        frontend::describe(b'S', &name, &mut self.write_buf)?;
        self.write_pending_closes()?;
        self.write_sync();
        if !name.is_empty() {
            self.unconfirmed_statement = Some(name.clone());
        }
        self.flush().await?;
        let mut param_oids: Vec<u32> = Vec::new();
        let mut fields = Vec::new();
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::ParseComplete | Message::CloseComplete | Message::NoData => {}
                Message::ParameterDescription(desc) => param_oids = desc.types().collect(),
                Message::RowDescription(desc) => fields = describe_fields(&desc)?,
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(status) => {
                    self.owed_ready -= 1;
                    self.transaction_status = status;
                    break;
                }
                other => return Err(self.unexpected(&other, "prepare")),
            }
        }
        self.unconfirmed_statement = None;
        if let Some(e) = error {
            return Err(e.with_query_hint(sql));
        }
        let column_oids = fields.iter().map(|f: &RawField| f.type_oid);
        self.resolve_types(param_oids.iter().copied().chain(column_oids))
            .await?;
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
        let close_queue = (!name.is_empty()).then(|| self.close_queue.clone());
        Ok(Statement(Arc::new(StatementInner {
            name,
            sql: sql.to_owned(),
            params,
            columns: Arc::new(Columns::new(columns)),
            param_formats,
            result_formats,
            connection_id: self.id,
            close_queue,
        })))
    }
}

/// Writes parameter `$i+1` after checking that its Rust type can be the server's type.
fn encode_param(
    i: usize,
    param: &(dyn Encode + Sync),
    ty: &Type,
    buf: &mut bytes::BytesMut,
) -> Result<crate::types::IsNull> {
    let ty = ty.base_type();
    if !param.accepts_dyn(ty) {
        return Err(Error::encode(format!(
            "parameter ${}: Rust type {} cannot be sent as PostgreSQL type {ty}",
            i + 1,
            param.rust_type_name()
        )));
    }
    param.encode(ty, buf).map_err(|e| {
        let message = format!(
            "parameter ${}: cannot encode Rust type {} as PostgreSQL type {ty}: {e}",
            i + 1,
            param.rust_type_name()
        );
        Error::encode_with(message, e)
    })
}

/// A RowDescription field, kept until its type is resolved.
struct RawField {
    name: String,
    type_oid: u32,
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
fn is_stale_statement(e: &DbError) -> bool {
    let code = e.code();
    // 0A000 "cached plan must not change result type" from RevalidateCachedQuery (DDL),
    // 26000 "prepared statement ... does not exist" (DISCARD ALL, DEALLOCATE).
    (code == SqlState::FEATURE_NOT_SUPPORTED && e.routine() == Some("RevalidateCachedQuery"))
        || code == SqlState::INVALID_SQL_STATEMENT_NAME
}

fn query_text(query: QueryRef<'_>) -> &str {
    match query {
        QueryRef::Sql(sql) => sql,
        QueryRef::Statement(stmt) => stmt.sql(),
    }
}

/// Rows of a query as they arrive; see [`Connection::fetch_stream`].
///
/// Dropping it early is safe: the connection drains the rest before its next operation.
pub struct RowStream<'c> {
    conn: &'c mut Connection,
    columns: Arc<Columns>,
    error: Option<Error>,
    rows_affected: Option<u64>,
    /// Rows returned so far, the statement's row count hint once the stream ends.
    rows: usize,
    done: bool,
}

impl RowStream<'_> {
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
        while !this.done {
            let msg = match ready!(this.conn.poll_recv(cx)) {
                Ok(msg) => msg,
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            };
            match msg {
                Message::DataRow(row) if this.error.is_none() => {
                    let record = this.conn.record(row, &this.columns);
                    this.done = record.is_err();
                    this.rows += 1;
                    return Poll::Ready(Some(record));
                }
                Message::DataRow(_) => {}
                msg => match this.conn.after_rows(msg, &mut this.error) {
                    Ok(Some(affected)) => this.rows_affected = Some(affected),
                    Ok(None) => {
                        this.done = true;
                        if this.error.is_none() {
                            this.columns.set_row_count_hint(this.rows);
                        }
                        return Poll::Ready(this.error.take().map(Err));
                    }
                    Err(e) => {
                        this.done = true;
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
