//! SQL the statement cache does not admit (`statement_cache_size=0`, as behind a
//! transaction-pooling pgbouncer) runs as the unnamed statement, in one round trip once this
//! connection has described the text.
//!
//! Bind needs each parameter encoded for the type the server gives it, and a format code for
//! each result column, which only a description tells. So the first run of a text describes
//! it (Parse + Describe + Flush, then Bind + Execute + Sync: one request, two round trips) and
//! the description is kept, keyed by the SQL text, in a small LRU of its own: the parameter
//! types the server inferred, the columns, the formats. Every later run writes Parse (declaring
//! those parameter types), Describe, Bind, Execute and Sync at once: one write, one
//! request, one round trip. It is right by construction:
//!
//! - Parameters mean what they meant when the server inferred their types: declaring the
//!   inferred types is what a named prepared statement does (its parameter types are fixed when
//!   it is prepared, whatever DDL follows). Each value is checked and encoded for its type
//!   before anything is sent, as on the cached path.
//! - Results: the statement's RowDescription comes before any row and tells each column's
//!   type now; the Bind asked for the described formats. When it is the description, rows
//!   decode as described. When DDL changed a column since, rows still decode when every column
//!   comes in the format its type is read in (the new shape is kept). A type this connection
//!   has not looked up yet (made again under a new OID, or new to the column) is looked up once
//!   the result has been read whole, and the rows are handed over then. Only a column that
//!   came in a format its type is not read in (DDL turned it from a type read in binary into
//!   one read as text, or back) cannot be read: an error says so, and that the statement ran.
//!   A statement never runs twice, and no value is read in a format it did not come in.
//! - An ErrorResponse before ParseComplete means nothing ran (the server skips the rest up to
//!   Sync), and so does one at Bind after a changed description (the result formats may no
//!   longer fit the columns): the description is dropped and, when the request's
//!   ReadyForQuery says idle, the text is described again and run by the two-trip path. In a
//!   transaction block the error has aborted it and is returned. Any other error is the
//!   query's own, as on the cached path.
//! - A typed query (`fetch_as` and friends) must check its struct against the columns before
//!   anything runs, so it always takes the two-trip path ([`Current`](super::query::Current)).
//!   `fetch_value`'s check (that there is a column) runs on the described columns before the
//!   write, and again if the server's differ.
//!
//! Types declared from the Rust values instead (text for a `&str`) would change what the SQL
//! means: `citext_col = $1` would compare case-sensitively as text, a `char(n)` key would lose
//! its padding semantics and its index, an enum would fail to compare. And a first run could
//! not know its result formats anyway (a column read only as text, a type not looked up yet).
//! So the server's own inference is declared, as a prepared statement would.

use std::sync::Arc;

use super::query::{AfterRows, ColumnCheck, Params, cannot_send};
use super::{Connection, db_error};
use crate::error::{Error, Result, SqlState};
use crate::protocol::backend::{DataRow, Message, RowDescription, TransactionStatus};
use crate::protocol::frontend;
use crate::protocol::session::{Abandon, RequestKind};
use crate::record::{Column, Columns, Record};
use crate::statement::{Statement, StatementCache, StatementInner, format_codes};

/// Uncached SQL texts whose descriptions a connection keeps (least recently used goes first).
const DESCRIBED_CAPACITY: usize = 100;

/// Parameter type OIDs kept on the stack for Parse up to this many parameters.
const INLINE_PARAMS: usize = 16;

/// The descriptions' LRU: texts up to the statement cache's size limit.
pub(super) fn described_cache(cache: &StatementCache) -> StatementCache {
    StatementCache::new(DESCRIBED_CAPACITY, cache.max_sql_len())
}

/// How a query started.
pub(super) enum Started {
    /// Bound and executing: its rows follow on the socket, with these columns.
    Reading(Arc<Columns>),
    /// Already read whole: its column types had to be looked up before a row could be decoded.
    Read(Box<ReadResult>),
}

/// A result read whole before it was handed over.
pub(super) struct ReadResult {
    pub(super) columns: Arc<Columns>,
    pub(super) rows: std::vec::IntoIter<Record>,
    pub(super) affected: u64,
}

/// How a one-trip run started.
enum Oneshot {
    Started(Started),
    /// The server refused the Parse: nothing ran, the request is over.
    Refused(Error),
}

/// The statement's columns now next to the description's.
pub(super) enum Shape {
    /// As described.
    Same,
    /// Changed since, but every column comes in the format its type is read in.
    Changed(Arc<Columns>),
    /// A type this connection has not looked up yet (made again under a new OID, or new to
    /// the column): the result is read whole, then the types are looked up.
    Unknown(RowDescription),
    /// A column cannot be read: why.
    Unreadable(String),
}

impl Connection {
    /// Starts SQL that the statement cache does not admit: one round trip when this connection
    /// has described the text (and no typed check needs the current columns first), else the
    /// two-trip path that describes it.
    pub(super) async fn start_uncached(
        &mut self,
        sql: &str,
        params: Params<'_>,
        max_rows: i32,
        check: ColumnCheck<'_>,
    ) -> Result<Started> {
        if !check.needs_current()
            && let Some(stmt) = self.described.get(sql).cloned()
        {
            check.run(stmt.columns_arc())?;
            match self
                .start_oneshot(&stmt, params, max_rows, &mut *check)
                .await?
            {
                Oneshot::Started(columns) => return Ok(columns),
                Oneshot::Refused(e) => {
                    // 25P02: a failed transaction refuses every statement; the text is fine.
                    if e.sqlstate() != Some(SqlState::IN_FAILED_SQL_TRANSACTION) {
                        self.described.remove(sql);
                    }
                    // Its ReadyForQuery tells: idle, nothing ran; else a transaction block
                    // (perhaps begun by a queued BEGIN just before) that the error aborted.
                    if self.session.transaction_status() != TransactionStatus::Idle {
                        return Err(e);
                    }
                    tracing::debug!(
                        sql,
                        "a described statement was refused at Parse ({e}); describing it again"
                    );
                }
            }
        }
        self.start_described(sql, params, max_rows, check).await
    }

    /// The two-trip path: Parse + Describe + Flush, then (with the types the server inferred)
    /// Bind + Execute and the request's only Sync. A transaction-pooling pgbouncer keeps a
    /// client on one server connection until ReadyForQuery, so the Bind meets its own Parse.
    /// The description is kept for the next run.
    async fn start_described(
        &mut self,
        sql: &str,
        params: Params<'_>,
        max_rows: i32,
        check: ColumnCheck<'_>,
    ) -> Result<Started> {
        let stmt = self.describe_unnamed(sql, Abandon::Sync).await?;
        if self.described.admits(sql) {
            self.described.remove(sql);
            self.described.insert(stmt.clone());
        }
        if let Err(e) = check.run(stmt.columns_arc()) {
            return Err(self.abort_request(e).await);
        }
        self.bind_execute(&stmt, params, max_rows).await?;
        Ok(Started::Reading(stmt.columns_arc().clone()))
    }

    /// Parse (declaring the described parameter types) + Describe + Bind + Execute + Sync in
    /// one write, read up to BindComplete.
    async fn start_oneshot(
        &mut self,
        stmt: &Statement,
        params: Params<'_>,
        max_rows: i32,
        check: ColumnCheck<'_>,
    ) -> Result<Oneshot> {
        self.session
            .begin_request(RequestKind::Extended, Abandon::Sync);
        if let Err(e) = self.write_oneshot(stmt, params, max_rows) {
            return Err(self.abort_request(e).await);
        }
        self.session.sync();
        self.flush().await?;
        match self.recv().await? {
            Message::ParseComplete => {}
            Message::ErrorResponse(fields) => {
                let e = db_error(&fields).with_query_hint(stmt.sql());
                self.finish().await?;
                return Ok(Oneshot::Refused(e));
            }
            other => return Err(self.unexpected(&other, "parse")),
        }
        match self.recv().await? {
            Message::ParameterDescription(_) => {}
            other => return Err(self.unexpected(&other, "describe")),
        }
        let shape = match self.recv().await? {
            Message::RowDescription(desc) => self.result_shape(stmt, &desc)?,
            Message::NoData if stmt.columns().is_empty() => Shape::Same,
            Message::NoData => Shape::Changed(Arc::new(Columns::new(Vec::new()))),
            other => return Err(self.unexpected(&other, "describe")),
        };
        match self.recv().await? {
            Message::BindComplete => {}
            Message::ErrorResponse(fields) => {
                let e = db_error(&fields);
                self.finish().await?;
                // With other columns than described, the Bind's result formats may be what
                // the server refused: nothing ran, so the caller may describe it again.
                return match shape {
                    Shape::Same => Err(e),
                    _ => Ok(Oneshot::Refused(e)),
                };
            }
            other => return Err(self.unexpected(&other, "bind")),
        }
        let columns = match shape {
            Shape::Same => {
                return Ok(Oneshot::Started(Started::Reading(
                    stmt.columns_arc().clone(),
                )));
            }
            Shape::Changed(columns) => columns,
            Shape::Unknown(desc) => {
                let read = self.read_whole(stmt, &desc, &mut *check).await?;
                return Ok(Oneshot::Started(Started::Read(read)));
            }
            Shape::Unreadable(why) => {
                let (rows, error) = self.finish_unread().await?;
                return Err(error.unwrap_or_else(|| unreadable(&why, rows, stmt.sql())));
            }
        };
        self.described.remove(stmt.sql());
        self.described.insert(reshaped(stmt, columns.clone()));
        if let Err(e) = check.run(&columns) {
            // The statement already runs: read its end, and report a failure of its own first.
            let (_, error) = self.finish_unread().await?;
            return Err(error.unwrap_or(e));
        }
        Ok(Oneshot::Started(Started::Reading(columns)))
    }

    /// Reads the whole result of a statement whose columns use types not looked up yet, looks
    /// them up, and makes the records when every column came in the format its type is read in.
    async fn read_whole(
        &mut self,
        stmt: &Statement,
        desc: &RowDescription,
        check: ColumnCheck<'_>,
    ) -> Result<Box<ReadResult>> {
        let mut rows = Vec::new();
        let mut affected = 0;
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::DataRow(row) => {
                    if error.is_none() {
                        rows.push(row);
                    }
                }
                msg => match self.after_rows(msg, &mut error)? {
                    AfterRows::Done(n) => affected = n,
                    AfterRows::Continue => {}
                    AfterRows::Ready => break,
                },
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        let (columns, records) = self.records_after_lookup(stmt, desc, rows, check).await?;
        Ok(Box::new(ReadResult {
            columns,
            rows: records.into_iter(),
            affected,
        }))
    }

    /// Makes the records of a result read whole whose column types were not looked up yet:
    /// looks them up, keeps the new shape as the statement's description, runs `check` on it,
    /// and fails when a column came in a format its type is not read in.
    pub(super) async fn records_after_lookup(
        &mut self,
        stmt: &Statement,
        desc: &RowDescription,
        rows: Vec<DataRow>,
        check: ColumnCheck<'_>,
    ) -> Result<(Arc<Columns>, Vec<Record>)> {
        let oids: Vec<u32> = desc
            .fields()
            .filter_map(|f| f.ok().map(|f| f.type_oid))
            .collect();
        self.resolve_types(oids).await?;
        let columns = match self.columns_of(desc, &stmt.0.result_formats)? {
            Ok(columns) => Arc::new(Columns::new(columns)),
            Err(why) => {
                self.described.remove(stmt.sql());
                return Err(unreadable(&why, rows.len() as u64, stmt.sql()));
            }
        };
        self.described.remove(stmt.sql());
        self.described.insert(reshaped(stmt, columns.clone()));
        check.run(&columns)?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(self.record(row, &columns)?);
        }
        Ok((columns, records))
    }

    /// Appends the one-trip request's messages; on an error the caller cuts the request.
    pub(super) fn write_oneshot(
        &mut self,
        stmt: &Statement,
        params: Params<'_>,
        max_rows: i32,
    ) -> Result<()> {
        let types = stmt.params();
        let mut inline = [0u32; INLINE_PARAMS];
        let heap: Vec<u32>;
        let oids: &[u32] = if types.len() <= INLINE_PARAMS {
            for (slot, ty) in inline.iter_mut().zip(types) {
                *slot = ty.oid();
            }
            &inline[..types.len()]
        } else {
            heap = types.iter().map(|ty| ty.oid()).collect();
            &heap
        };
        frontend::parse("", stmt.sql(), oids, self.session.out()).map_err(cannot_send)?;
        frontend::describe(frontend::KIND_STATEMENT, "", self.session.out())
            .map_err(cannot_send)?;
        self.write_bind_execute(stmt, params, max_rows)
    }

    /// Compares the statement's RowDescription now with the description the Bind's result
    /// formats came from.
    pub(super) fn result_shape(
        &mut self,
        stmt: &Statement,
        desc: &RowDescription,
    ) -> Result<Shape> {
        let described = stmt.columns();
        let formats = &stmt.0.result_formats;
        if desc.len() == described.len() {
            let mut same = true;
            for (field, column) in desc.fields().zip(described.iter()) {
                let f = match field {
                    Ok(f) => f,
                    Err(e) => return Err(self.session.fail_protocol(&e.to_string())),
                };
                if f.type_oid != column.type_().oid()
                    || f.type_modifier != column.type_modifier()
                    || f.table_oid != column.table_oid()
                    || f.column_id != column.column_id()
                    || f.name != column.name()
                {
                    same = false;
                    break;
                }
            }
            if same {
                return Ok(Shape::Same);
            }
        }
        if desc
            .fields()
            .any(|f| f.is_ok_and(|f| self.is_unknown(f.type_oid)))
        {
            return Ok(Shape::Unknown(desc.clone()));
        }
        Ok(match self.columns_of(desc, formats)? {
            Ok(columns) => Shape::Changed(Arc::new(Columns::new(columns))),
            Err(why) => {
                self.described.remove(stmt.sql());
                Shape::Unreadable(why)
            }
        })
    }

    /// The columns of a RowDescription, or why one cannot be read: its type is not known, or
    /// the Bind asked for it in a format (`formats`) its type is not read in.
    fn columns_of(
        &mut self,
        desc: &RowDescription,
        formats: &[i16],
    ) -> Result<std::result::Result<Vec<Column>, String>> {
        let mut columns = Vec::with_capacity(desc.len());
        for (i, field) in desc.fields().enumerate() {
            let f = match field {
                Ok(f) => f,
                Err(e) => return Err(self.session.fail_protocol(&e.to_string())),
            };
            let ty = self.type_for(f.type_oid);
            let binary = format_at(formats, i) == 1;
            if self.is_unknown(f.type_oid) || binary != ty.is_binary() {
                let format = if binary { "binary" } else { "text" };
                return Ok(Err(format!(
                    "column {i} \"{}\" of type {ty} came in {format} format, which pgtusk \
                     cannot read it in",
                    f.name
                )));
            }
            columns.push(Column::new(
                f.name.into_owned(),
                ty,
                f.table_oid,
                f.column_id,
                f.type_modifier,
            ));
        }
        Ok(Ok(columns))
    }

    /// Reads the running statement's replies through ReadyForQuery without keeping its rows:
    /// how many there were, and its own error if it failed.
    async fn finish_unread(&mut self) -> Result<(u64, Option<Error>)> {
        let mut rows = 0;
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::DataRow(_) => rows += 1,
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => return Ok((rows, error)),
                _ => {}
            }
        }
    }
}

/// The error for rows that came in a format they cannot be read in.
pub(super) fn unreadable(why: &str, rows: u64, sql: &str) -> Error {
    Error::decode(format!(
        "{why}: the result changed since this connection described the statement (DDL?). The \
         statement ran, but its {rows} row(s) cannot be read and were not returned; the next \
         run describes it again: {sql}"
    ))
}

/// The Bind result format of column `i` for `formats` (none: all text; one: all alike).
fn format_at(formats: &[i16], i: usize) -> i16 {
    match formats {
        [] => 0,
        [all] => *all,
        each => each.get(i).copied().unwrap_or(0),
    }
}

/// `stmt` with the columns the server now describes (each in the format it was asked for).
pub(super) fn reshaped(stmt: &Statement, columns: Arc<Columns>) -> Statement {
    let inner = &stmt.0;
    Statement(Arc::new(StatementInner {
        name: String::new(),
        sql: inner.sql.clone(),
        params: inner.params.clone(),
        result_formats: format_codes(columns.iter().map(|c| c.type_().is_binary())),
        columns,
        param_formats: inner.param_formats.clone(),
        connection_id: inner.connection_id,
        changes_session: inner.changes_session,
        close_queue: None,
    }))
}
