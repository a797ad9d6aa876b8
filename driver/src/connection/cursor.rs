//! What cursors ask of a connection: bind a named portal, execute it a few rows at a time,
//! move it forward, declare a WITH HOLD cursor, close a portal. The cursor types themselves
//! live in `crate::cursor`.

use std::sync::Arc;

use super::query::{Params, QueryRef, cannot_send, is_stale_statement, query_text};
use super::{Connection, db_error};
use crate::error::{Error, Result};
use crate::protocol::backend::Message;
use crate::protocol::frontend;
use crate::protocol::session::{Abandon, RequestKind};
use crate::record::{Columns, Record};
use crate::statement::Statement;

impl Connection {
    /// A name no other statement, portal or cursor of this connection has: `{prefix}_{n}`.
    pub(crate) fn next_object_name(&mut self, prefix: &str) -> String {
        self.next_statement_id += 1;
        format!("{prefix}_{}", self.next_statement_id)
    }

    /// Queues `portal` to be closed with the next extended request (no I/O: for `Drop`).
    pub(crate) fn queue_portal_close(&mut self, portal: &str) {
        self.session.close_queue().push_portal(portal.to_owned());
    }

    /// Binds `query` with `params` to the named portal `portal`: one request (two when the
    /// SQL is not cached: the unnamed statement is described first, in the same request).
    /// Returns the portal's columns. The portal outlives the request until its transaction
    /// ends or it is closed, also when it was bound from the unnamed statement that the next
    /// uncached query replaces (the portal keeps its own reference to the plan).
    pub(crate) async fn open_portal(
        &mut self,
        portal: &str,
        query: QueryRef<'_>,
        params: Params<'_>,
    ) -> Result<Arc<Columns>> {
        self.timed(query_text(query), async |conn: &mut Connection| {
            conn.open_portal_untimed(portal, query, params).await
        })
        .await
    }

    async fn open_portal_untimed(
        &mut self,
        portal: &str,
        query: QueryRef<'_>,
        params: Params<'_>,
    ) -> Result<Arc<Columns>> {
        self.ready().await?;
        let stmt = match query {
            QueryRef::Sql(sql) if !self.cache.admits(sql) => {
                self.describe_unnamed(sql, Abandon::Sync).await?
            }
            QueryRef::Sql(sql) => self.cached_or_prepare(sql).await?,
            QueryRef::Statement(stmt) => self.own_statement(stmt)?,
        };
        if stmt.columns().is_empty() {
            let e = Error::Interface(format!(
                "a cursor needs a statement that returns rows (SELECT, VALUES, TABLE, or a \
                 command with RETURNING); this one returns none: {}",
                stmt.sql()
            ));
            // Only the uncached path has a request of ours open (its description).
            if self.session.is_unsynced() {
                return Err(self.abort_request(e).await);
            }
            return Err(e);
        }
        if !self.session.is_unsynced() {
            self.session
                .begin_request(RequestKind::Extended, Abandon::Sync);
        }
        if let Err(e) = self.write_bind(portal, &stmt, params) {
            return Err(self.abort_request(e).await);
        }
        self.session.sync();
        self.flush().await?;
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::BindComplete => {}
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => break,
                other => return Err(self.unexpected(&other, "opening a cursor")),
            }
        }
        match error {
            None => Ok(stmt.columns_arc().clone()),
            Some(Error::Db(e)) if is_stale_statement(&e) && !stmt.name().is_empty() => {
                // Inside a transaction nothing can be retried: the error aborted it.
                self.forget_stale(&stmt, &e);
                Err(Error::StatementInvalidated(e))
            }
            Some(e) => Err(e.with_query_hint(stmt.sql())),
        }
    }

    /// Execute(`portal`, `max_rows`) + Sync: one round trip. Appends the rows to `rows` and
    /// returns whether the portal has more (PortalSuspended) or is done (CommandComplete).
    /// Bounded by `command_timeout`, as every statement (bringing a cursor's rows may run
    /// the query's heavy part).
    pub(crate) async fn execute_portal(
        &mut self,
        portal: &str,
        max_rows: i32,
        columns: &Arc<Columns>,
        rows: &mut Vec<Record>,
    ) -> Result<bool> {
        let what = format!("Execute of {max_rows} row(s) from cursor {portal}");
        self.timed(&what, async |conn: &mut Connection| {
            conn.execute_portal_untimed(portal, max_rows, columns, rows)
                .await
        })
        .await
    }

    async fn execute_portal_untimed(
        &mut self,
        portal: &str,
        max_rows: i32,
        columns: &Arc<Columns>,
        rows: &mut Vec<Record>,
    ) -> Result<bool> {
        self.ready().await?;
        self.session
            .begin_request(RequestKind::Extended, Abandon::Sync);
        // Written here rather than through `Session::execute`, which knows only the unnamed
        // portal: its bookkeeping (where a batch's effects start, Executes counted against a
        // COPY's results) is for requests that may be abandoned before their Sync, and this
        // one gets its Sync at once; a portal never runs COPY (a cursor refuses statements
        // without rows).
        if let Err(e) = frontend::execute(portal, max_rows, self.session.out()) {
            return Err(self.abort_request(cannot_send(e)).await);
        }
        self.session.sync();
        self.flush().await?;
        rows.reserve(usize::try_from(max_rows).unwrap_or(0));
        let mut error = None;
        let mut suspended = false;
        loop {
            match self.recv().await? {
                Message::DataRow(row) => {
                    if error.is_none() {
                        rows.push(self.record(row, columns)?);
                    }
                }
                Message::PortalSuspended => suspended = true,
                Message::CommandComplete(_) => suspended = false,
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => return error.map_or(Ok(suspended), Err),
                other => return Err(self.unexpected(&other, "a fetch from a cursor")),
            }
        }
    }

    /// `MOVE FORWARD n IN cursor`: skips `n` rows on the server without sending them; returns
    /// how many it skipped (fewer at the end). Works for protocol portals as for DECLAREd
    /// cursors.
    pub(crate) async fn move_forward(&mut self, cursor: &str, n: i32) -> Result<u64> {
        let tag = self
            .simple_command(&format!("MOVE FORWARD {n} IN \"{cursor}\""))
            .await?;
        tag.strip_prefix("MOVE ")
            .and_then(|count| count.parse().ok())
            .ok_or_else(|| {
                self.session
                    .fail_protocol(&format!("MOVE answered {tag:?}, not \"MOVE <count>\""))
            })
    }

    /// `DECLARE cursor CURSOR WITH HOLD FOR sql` with `params` bound in binary: the unnamed
    /// statement is described (the server infers `$n`'s types inside the DECLARE), then bound
    /// and executed, in one request. Never cached: each DECLARE names a different cursor.
    pub(crate) async fn declare_hold(
        &mut self,
        cursor: &str,
        sql: &str,
        params: Params<'_>,
    ) -> Result<()> {
        let declare = format!("DECLARE \"{cursor}\" CURSOR WITH HOLD FOR {sql}");
        self.timed(&declare, async |conn: &mut Connection| {
            conn.declare_hold_untimed(&declare, params).await
        })
        .await
    }

    async fn declare_hold_untimed(&mut self, declare: &str, params: Params<'_>) -> Result<()> {
        self.ready().await?;
        let stmt = self.describe_unnamed(declare, Abandon::Sync).await?;
        self.bind_execute(&stmt, params, 0).await?;
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::CommandComplete(_) => {}
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => return error.map_or(Ok(()), Err),
                other => return Err(self.unexpected(&other, "DECLARE … CURSOR WITH HOLD")),
            }
        }
    }

    /// Parse + Describe of `sql` as the unnamed statement, ended with Sync: the shape of a
    /// statement that is parsed again each time it runs ([`Connection::parse_execute`]).
    pub(crate) async fn describe(&mut self, sql: &str) -> Result<Statement> {
        self.ready().await?;
        let stmt = self.describe_unnamed(sql, Abandon::Sync).await?;
        self.session.sync();
        self.flush().await?;
        self.finish().await?;
        Ok(stmt)
    }

    /// Parse of `sql` as the unnamed statement, then Bind + Execute + Sync with the shape
    /// `described` already knows: one write, one round trip, and no named statement (so
    /// `statement_cache_size=0` means none). For a hold cursor's `FETCH FORWARD n`, whose
    /// text changes with n and whose columns never change. Appends the rows to `rows`.
    pub(crate) async fn parse_execute(
        &mut self,
        sql: &str,
        described: &Statement,
        rows: &mut Vec<Record>,
    ) -> Result<()> {
        self.timed(sql, async |conn: &mut Connection| {
            conn.parse_execute_untimed(sql, described, rows).await
        })
        .await
    }

    async fn parse_execute_untimed(
        &mut self,
        sql: &str,
        described: &Statement,
        rows: &mut Vec<Record>,
    ) -> Result<()> {
        self.ready().await?;
        self.session
            .begin_request(RequestKind::Extended, Abandon::Sync);
        if let Err(e) = frontend::parse("", sql, &[], self.session.out()) {
            return Err(self.abort_request(cannot_send(e)).await);
        }
        if let Err(e) = self.write_bind_execute(described, &[], 0) {
            return Err(self.abort_request(e).await);
        }
        self.session.sync();
        self.flush().await?;
        let columns = described.columns_arc();
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::DataRow(row) => {
                    if error.is_none() {
                        rows.push(self.record(row, columns)?);
                    }
                }
                Message::ParseComplete | Message::BindComplete | Message::CommandComplete(_) => {}
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => return error.map_or(Ok(()), Err),
                other => return Err(self.unexpected(&other, "a fetch from a cursor")),
            }
        }
    }

    /// Close(portal) + Sync, read up to ReadyForQuery. Closing a portal that is gone is not
    /// an error.
    pub(crate) async fn close_portal(&mut self, portal: &str) -> Result<()> {
        self.ready().await?;
        self.session
            .begin_request(RequestKind::Extended, Abandon::Sync);
        if let Err(e) = frontend::close(frontend::KIND_PORTAL, portal, self.session.out()) {
            return Err(self.abort_request(cannot_send(e)).await);
        }
        self.session.sync();
        self.flush().await?;
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::CloseComplete => {}
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => return error.map_or(Ok(()), Err),
                other => return Err(self.unexpected(&other, "closing a cursor")),
            }
        }
    }
}
