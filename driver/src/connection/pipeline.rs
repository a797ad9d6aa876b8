//! Running a [`Pipeline`]: every statement in one write, every answer read in order.
//!
//! 1. Each statement's prepared form is found: the statement cache, the caller's
//!    [`Statement`], or the descriptions of uncached SQL (`oneshot.rs`). What is missing is
//!    described in one write and one round trip, Parse + Describe + Sync per text (so one
//!    that fails does not stop the others), and its types are looked up.
//! 2. Typed statements are planned and every parameter is encoded while the messages are
//!    written, before anything is sent: a statement that cannot be sent is cut from the output
//!    (independent mode) or the whole pipeline is (atomic mode).
//! 3. One write: per statement Bind + Execute (uncached SQL: Parse with the described
//!    parameter types + Describe first), each with its own Sync (independent) or one Sync at
//!    the end (atomic, `Abandon::Fail`: a pipeline dropped half-way is rolled back). While
//!    the write goes out, what the server already answers is read into the buffer, so
//!    neither side blocks on a full socket however long the pipeline (the answers are the
//!    results, kept in memory anyway).
//! 4. The answers are read in order. The session (`protocol/session.rs`) knows every request:
//!    a future dropped at any await leaves the rest to be drained, and the server's work
//!    cancelled, before the next operation.

use std::any::Any;
use std::collections::HashMap;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use super::oneshot::{Shape, reshaped, unreadable};
use super::query::{
    PendingName, check_param_count, is_stale_statement, query_text, write_parse_describe,
};
use super::{Connection, QueryRef, db_error, truncated};
use crate::error::{Error, Result, SqlState};
use crate::pipeline::{Mode, Pipeline, Queued, Rows, Slot, Want};
use crate::protocol::backend::{DataRow, Message, RowDescription, TransactionStatus};
use crate::protocol::session::{Abandon, RequestKind};
use crate::record::Columns;
use crate::statement::Statement;
use crate::types::Encode;

/// One statement's state while its pipeline runs.
#[derive(Default)]
struct Entry {
    /// Its prepared form, once found.
    stmt: Option<Statement>,
    /// A typed statement's plan, made before it is sent.
    plan: Option<Box<dyn Any + Send + Sync>>,
    /// Its messages went into the write.
    sent: bool,
    /// Its result: an error before sending, or what the server answered.
    outcome: Option<Result<Slot>>,
    /// The server refused it before it ran, only because it changed since this connection
    /// prepared or described it (DDL, DEALLOCATE): prepared again, it would run.
    retry: bool,
    /// Its cached statement went stale on the server: inside a transaction block that is
    /// [`Error::StatementInvalidated`].
    invalidated: bool,
    /// A result whose column types must be looked up before its rows become records.
    unknown: Option<Box<UnknownResult>>,
}

/// The rows of a result with column types not looked up yet, kept until the pipeline's last
/// answer is read (a lookup is a query of its own).
struct UnknownResult {
    desc: RowDescription,
    rows: Vec<DataRow>,
    affected: u64,
}

/// How one pipelined statement's answer ended.
enum Reply {
    /// It ran: its result.
    Done(Slot),
    /// It ran, but its columns use types not looked up yet.
    Unknown(Box<UnknownResult>),
    /// It ran, but its result cannot be given (no row for `fetch_one`, a result that changed
    /// since it was described): the server went on.
    Own(Error),
    /// The server refused or failed it and skipped to the next Sync. `retry`: it refused it
    /// before it ran, only because it changed since it was prepared or described;
    /// `invalidated`: a cached statement that went stale.
    Failed {
        error: Error,
        retry: bool,
        invalidated: bool,
    },
}

impl Connection {
    /// A pipeline of independent statements: queue them, then [`Pipeline::run`] sends them in
    /// one write. Each runs on its own (a Sync after each), so one that fails does not undo
    /// the others and those after it still run; see [`crate::pipeline`].
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let mut p = conn.pipeline();
    /// let names: Vec<_> = [1i64, 2, 3]
    ///     .iter()
    ///     .map(|id| p.fetch_optional("SELECT name FROM animals WHERE id = $1", &[id]))
    ///     .collect();
    /// let gone = p.execute("DELETE FROM animals WHERE id = $1", &[&4i64]);
    /// let mut out = p.run().await?;
    /// for ticket in names {
    ///     if let Some(row) = out.take(ticket)? {
    ///         println!("{}", row.get::<&str>(0));
    ///     }
    /// }
    /// println!("{} deleted", out.take(gone)?);
    /// # Ok(()) }
    /// ```
    pub fn pipeline<'q>(&mut self) -> Pipeline<'_, 'q> {
        Pipeline::new(self, Mode::Independent)
    }

    /// A pipeline whose statements take effect together or not at all: one Sync at the end,
    /// so they run in one implicit transaction (or in the open transaction block) and the
    /// first error aborts the rest; see [`crate::pipeline`].
    pub fn atomic_pipeline<'q>(&mut self) -> Pipeline<'_, 'q> {
        Pipeline::new(self, Mode::Atomic)
    }

    /// Runs a pipeline's statements (see the module documentation) under `command_timeout`,
    /// and traces it as one event.
    pub(crate) async fn run_pipeline(
        &mut self,
        statements: &[Queued<'_>],
        params: &[&(dyn Encode + Sync)],
        mode: Mode,
    ) -> Result<Vec<Result<Slot>>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let trace = self.trace_start();
        let result = if self.command_timeout.is_none() {
            self.pipelined(statements, params, mode).await
        } else {
            let label = pipeline_label(statements);
            self.timed(&label, async |conn: &mut Connection| {
                conn.pipelined(statements, params, mode).await
            })
            .await
        };
        if let Some(trace) = trace {
            let rows = result.as_ref().map_or(0, |slots| {
                slots
                    .iter()
                    .flatten()
                    .map(|slot| match &slot.rows {
                        Rows::First(row) => u64::from(row.is_some()),
                        Rows::All(rows) => rows.len() as u64,
                    })
                    .sum()
            });
            let label = pipeline_label(statements);
            self.trace_end(trace, &label, rows, result.as_ref().err());
        }
        result
    }

    async fn pipelined(
        &mut self,
        statements: &[Queued<'_>],
        params: &[&(dyn Encode + Sync)],
        mode: Mode,
    ) -> Result<Vec<Result<Slot>>> {
        self.ready().await?;
        let mut retried = false;
        loop {
            let mut entries: Vec<Entry> = statements.iter().map(|_| Entry::default()).collect();
            self.find_statements(statements, &mut entries).await?;
            let again = self
                .send_pipeline(statements, params, mode, &mut entries)
                .await?;
            if again && !retried {
                // Nothing of it was committed: prepared again, it runs as it was meant to.
                tracing::debug!(
                    "an atomic pipeline met a statement that went stale; running it again"
                );
                retried = true;
                continue;
            }
            return Ok(entries
                .into_iter()
                .map(|entry| {
                    entry.outcome.unwrap_or_else(|| {
                        Err(Error::Interface(
                            "a pipelined statement was left without a result".to_owned(),
                        ))
                    })
                })
                .collect());
        }
    }

    /// Finds each statement's prepared form; what the connection does not hold yet is
    /// described now, each text once, all in one round trip.
    async fn find_statements(
        &mut self,
        statements: &[Queued<'_>],
        entries: &mut [Entry],
    ) -> Result<()> {
        let mut missing: Vec<(&str, bool)> = Vec::new();
        let mut index_of: HashMap<&str, usize> = HashMap::new();
        let mut waiting: Vec<(usize, usize)> = Vec::new();
        for (i, (queued, entry)) in statements.iter().zip(entries.iter_mut()).enumerate() {
            let sql = query_text(queued.query);
            if let Err(e) = check_pipelined(queued, sql) {
                entry.outcome = Some(Err(e));
                continue;
            }
            match queued.query {
                QueryRef::Statement(stmt) => match self.own_statement(stmt) {
                    Ok(stmt) => entry.stmt = Some(stmt),
                    Err(e) => entry.outcome = Some(Err(e)),
                },
                QueryRef::Sql(sql) => {
                    let named = self.cache.admits(sql);
                    let known = if named {
                        self.cache.get(sql).cloned()
                    } else if !queued.plan_now {
                        self.described.get(sql).cloned()
                    } else {
                        // A typed statement is checked against its columns as they are now.
                        None
                    };
                    match known {
                        Some(stmt) => entry.stmt = Some(stmt),
                        None => {
                            let at = *index_of.entry(sql).or_insert_with(|| {
                                missing.push((sql, named));
                                missing.len() - 1
                            });
                            waiting.push((i, at));
                        }
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let described = self.describe_all(&missing).await?;
        for (i, at) in waiting {
            match &described[at] {
                Ok(stmt) => entries[i].stmt = Some(stmt.clone()),
                Err(e) => entries[i].outcome = Some(Err(copy_error(e))),
            }
        }
        Ok(())
    }

    /// Describes each text (`named`: as a new named statement for the cache, else as the
    /// unnamed one) in one write and one round trip, Parse + Describe + Sync each, then looks
    /// up the types they use.
    async fn describe_all(&mut self, texts: &[(&str, bool)]) -> Result<Vec<Result<Statement>>> {
        // Held across the awaits: if this future is dropped, the names go to the close queue.
        let mut names: Vec<Option<PendingName>> = Vec::with_capacity(texts.len());
        let mut written: Vec<Result<()>> = Vec::with_capacity(texts.len());
        for &(sql, named) in texts {
            self.prepares += 1;
            let name = named.then(|| {
                self.next_statement_id += 1;
                PendingName::new(
                    format!("pgtusk_{}", self.next_statement_id),
                    self.session.close_queue().clone(),
                )
            });
            self.session
                .begin_request(RequestKind::Extended, Abandon::Sync);
            let name_str = name.as_ref().map_or("", PendingName::as_str);
            match write_parse_describe(name_str, sql, self.session.out()) {
                Ok(()) => {
                    self.session.sync();
                    written.push(Ok(()));
                }
                Err(e) => {
                    // Not sent yet: the request is cut.
                    self.session.abort_request();
                    written.push(Err(e));
                }
            }
            names.push(name);
        }
        self.flush().await?;
        let mut descriptions = Vec::with_capacity(texts.len());
        for (&(sql, _), written) in texts.iter().zip(written) {
            let description = match written {
                Err(e) => Err(e),
                Ok(()) => match self.read_description(true, sql).await {
                    Err(e) if self.session.is_broken() => return Err(e),
                    described => described,
                },
            };
            descriptions.push(description);
        }
        let oids: Vec<u32> = descriptions
            .iter()
            .flatten()
            .flat_map(|(params, fields)| {
                params
                    .iter()
                    .copied()
                    .chain(fields.iter().map(|f| f.type_oid))
            })
            .collect();
        self.resolve_types(oids).await?;
        let mut statements = Vec::with_capacity(texts.len());
        for ((&(sql, named), name), description) in texts.iter().zip(names).zip(descriptions) {
            statements.push(description.map(|(param_oids, fields)| {
                let owner = name.map_or((String::new(), None), PendingName::into_inner);
                let stmt = self.statement_from(owner, sql, &param_oids, fields);
                if named {
                    self.cache.insert(stmt.clone());
                } else if self.described.admits(sql) {
                    self.described.remove(sql);
                    self.described.insert(stmt.clone());
                }
                stmt
            }));
        }
        Ok(statements)
    }

    /// Plans the typed statements, writes every statement that can be sent in one write, and
    /// reads the answers. Returns whether to run the pipeline again (see `read_pipeline`).
    async fn send_pipeline(
        &mut self,
        statements: &[Queued<'_>],
        params: &[&(dyn Encode + Sync)],
        mode: Mode,
        entries: &mut [Entry],
    ) -> Result<bool> {
        for (queued, entry) in statements.iter().zip(entries.iter_mut()) {
            if let (Some(plan), Some(stmt), None) = (queued.plan, &entry.stmt, &entry.outcome) {
                match plan(stmt.columns()) {
                    Ok(plan) => entry.plan = Some(plan),
                    Err(e) => entry.outcome = Some(Err(e)),
                }
            }
        }
        let atomic = mode == Mode::Atomic;
        if atomic {
            if let Some(failed) = entries.iter().position(|e| e.outcome.is_some()) {
                abort_others(entries, failed);
                return Ok(false);
            }
            self.session
                .begin_request(RequestKind::Extended, Abandon::Fail);
        }
        let mut any_sent = false;
        for i in 0..entries.len() {
            let entry = &mut entries[i];
            let (Some(stmt), None) = (&entry.stmt, &entry.outcome) else {
                continue;
            };
            let queued = &statements[i];
            if !atomic {
                self.session
                    .begin_request(RequestKind::Extended, Abandon::Sync);
            }
            let max_rows = if matches!(queued.want, Want::First { .. }) {
                1
            } else {
                0
            };
            let values = &params[queued.params.clone()];
            let written = if stmt.name().is_empty() {
                self.write_oneshot(stmt, values, max_rows)
            } else {
                self.write_bind_execute(stmt, values, max_rows)
            };
            match written {
                Ok(()) => {
                    entry.sent = true;
                    any_sent = true;
                    if !atomic {
                        self.session.sync();
                    }
                }
                Err(e) => {
                    // Nothing was written to the socket since the request began: it is cut
                    // (atomic: the whole pipeline, so nothing of it reaches the server).
                    self.session.abort_request();
                    entry.outcome = Some(Err(e));
                    if atomic {
                        entries.iter_mut().for_each(|e| e.sent = false);
                        abort_others(entries, i);
                        return Ok(false);
                    }
                }
            }
        }
        if !any_sent {
            return Ok(false);
        }
        if atomic {
            self.session.sync();
        }
        self.flush_reading().await?;
        self.read_pipeline(statements, mode, entries).await
    }

    /// Writes everything queued, taking in what the server answers meanwhile: the server
    /// never blocks on a full socket while a long pipeline is still being written.
    async fn flush_reading(&mut self) -> Result<()> {
        poll_fn(|cx| {
            loop {
                if let Poll::Ready(flushed) = self.poll_flush(cx) {
                    return Poll::Ready(flushed);
                }
                match self.poll_read_more(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }

    /// Reads every sent statement's answer in order. Returns whether to run the pipeline
    /// again: atomic, refused only because a statement went stale, and outside a transaction
    /// block (so nothing of it was committed, and nothing else was aborted).
    async fn read_pipeline(
        &mut self,
        statements: &[Queued<'_>],
        mode: Mode,
        entries: &mut [Entry],
    ) -> Result<bool> {
        let atomic = mode == Mode::Atomic;
        let mut failed = None;
        let mut last_sent = 0;
        for i in 0..entries.len() {
            let entry = &mut entries[i];
            let Some(stmt) = entry.stmt.clone().filter(|_| entry.sent) else {
                continue;
            };
            last_sent = i;
            let queued = &statements[i];
            let reply = self.read_statement(&stmt, queued, entry).await?;
            let mut server_failed = false;
            entry.outcome = match reply {
                Reply::Done(slot) => Some(Ok(slot)),
                Reply::Unknown(unknown) => {
                    entry.unknown = Some(unknown);
                    None
                }
                Reply::Own(e) => Some(Err(e)),
                Reply::Failed {
                    error,
                    retry,
                    invalidated,
                } => {
                    server_failed = true;
                    entry.retry = retry && matches!(queued.query, QueryRef::Sql(_));
                    entry.invalidated = invalidated;
                    Some(Err(error))
                }
            };
            if atomic {
                if server_failed {
                    // The server skipped the rest, up to the Sync.
                    failed = Some(i);
                    break;
                }
            } else if let Some(commit_failed) = self.read_to_ready().await? {
                // The statement's implicit COMMIT failed (a deferred constraint): it is undone.
                entry.outcome = Some(Err(commit_failed));
                entry.unknown = None;
            }
        }
        if atomic && let Some(commit_failed) = self.read_to_ready().await? {
            // Every statement ran, but the implicit COMMIT failed: nothing was committed.
            failed = failed.or(Some(last_sent));
            if let Some(entry) = entries.get_mut(last_sent) {
                entry.outcome = Some(Err(commit_failed));
            }
        }
        let in_block = self.session.transaction_status() != TransactionStatus::Idle;
        if let Some(failed) = failed {
            if entries[failed].retry && !in_block {
                return Ok(true);
            }
            abort_others(entries, failed);
        }
        for (queued, entry) in statements.iter().zip(entries.iter_mut()) {
            if let Some(unknown) = entry.unknown.take()
                && let Some(stmt) = &entry.stmt
            {
                entry.outcome = Some(self.finish_unknown(stmt, queued, *unknown).await?);
            }
            if entry.invalidated && in_block {
                // As for one statement: the transaction is aborted; roll back and retry it.
                if let Some(Err(Error::Db(e))) = entry.outcome.take() {
                    entry.outcome = Some(Err(Error::StatementInvalidated(e)));
                }
            }
        }
        Ok(false)
    }

    /// Reads one pipelined statement's answer: for the unnamed statement ParseComplete and
    /// its description first, then BindComplete, the rows and the command's end.
    async fn read_statement(
        &mut self,
        stmt: &Statement,
        queued: &Queued<'_>,
        entry: &mut Entry,
    ) -> Result<Reply> {
        let mut columns = stmt.columns_arc().clone();
        let mut changed = false;
        let mut unknown = None;
        let mut unreadable_why = None;
        let unnamed = stmt.name().is_empty();
        if unnamed {
            match self.recv().await? {
                Message::ParseComplete => {}
                Message::ErrorResponse(fields) => {
                    let error = db_error(&fields).with_query_hint(stmt.sql());
                    // 25P02: a failed transaction refuses every statement; the text is fine.
                    let retry = error.sqlstate() != Some(SqlState::IN_FAILED_SQL_TRANSACTION);
                    if retry {
                        self.described.remove(stmt.sql());
                    }
                    return Ok(Reply::Failed {
                        error,
                        retry,
                        invalidated: false,
                    });
                }
                other => return Err(self.unexpected(&other, "a pipelined Parse")),
            }
            match self.recv().await? {
                Message::ParameterDescription(_) => {}
                other => return Err(self.unexpected(&other, "a pipelined Describe")),
            }
            let shape = match self.recv().await? {
                Message::RowDescription(desc) => self.result_shape(stmt, &desc)?,
                Message::NoData if stmt.columns().is_empty() => Shape::Same,
                Message::NoData => Shape::Changed(Arc::new(Columns::new(Vec::new()))),
                other => return Err(self.unexpected(&other, "a pipelined Describe")),
            };
            match shape {
                Shape::Same => {}
                Shape::Changed(now) => {
                    self.described.remove(stmt.sql());
                    self.described.insert(reshaped(stmt, now.clone()));
                    columns = now;
                    changed = true;
                }
                Shape::Unknown(desc) => unknown = Some(desc),
                Shape::Unreadable(why) => unreadable_why = Some(why),
            }
        }
        match self.recv().await? {
            Message::BindComplete => {}
            Message::ErrorResponse(fields) => {
                let error = db_error(&fields);
                let invalidated = match &error {
                    Error::Db(db) if !unnamed && is_stale_statement(db) => {
                        self.forget_stale(stmt, db);
                        true
                    }
                    _ => false,
                };
                // With other columns than described, the Bind's result formats may be what
                // the server refused.
                let reshaped = changed || unknown.is_some() || unreadable_why.is_some();
                return Ok(Reply::Failed {
                    error,
                    retry: invalidated || (unnamed && reshaped),
                    invalidated,
                });
            }
            other => return Err(self.unexpected(&other, "a pipelined Bind")),
        }
        let want = queued.want;
        let keep = want != Want::Affected && unreadable_why.is_none();
        let mut all = Vec::new();
        let mut first = None;
        let mut raw = Vec::new();
        if want == Want::All && unknown.is_none() {
            all.reserve(columns.row_count_hint());
        }
        let mut rows = 0u64;
        let affected = loop {
            match self.recv().await? {
                Message::DataRow(row) => {
                    rows += 1;
                    if !keep {
                    } else if unknown.is_some() {
                        raw.push(row);
                    } else if want == Want::All {
                        all.push(self.record(row, &columns)?);
                    } else {
                        first = Some(self.record(row, &columns)?);
                    }
                }
                Message::CommandComplete(done) => break done.rows().unwrap_or(0),
                Message::EmptyQueryResponse | Message::PortalSuspended => break 0,
                Message::ErrorResponse(fields) => {
                    return Ok(Reply::Failed {
                        error: db_error(&fields),
                        retry: false,
                        invalidated: false,
                    });
                }
                other => return Err(self.unexpected(&other, "a pipelined statement")),
            }
        };
        if let Some(why) = unreadable_why {
            return Ok(Reply::Own(unreadable(&why, rows, stmt.sql())));
        }
        if let Some(desc) = unknown.filter(|_| keep) {
            return Ok(Reply::Unknown(Box::new(UnknownResult {
                desc,
                rows: raw,
                affected,
            })));
        }
        if changed && let Some(plan) = queued.plan {
            match plan(&columns) {
                Ok(plan) => entry.plan = Some(plan),
                Err(e) => return Ok(Reply::Own(changed_under_plan(e, stmt.sql()))),
            }
        }
        let rows = match want {
            Want::All => {
                columns.set_row_count_hint(all.len());
                Rows::All(all)
            }
            Want::First { required: true } if first.is_none() => {
                return Ok(Reply::Own(Error::NoRows {
                    query: stmt.sql().to_owned(),
                }));
            }
            Want::First { .. } => Rows::First(first),
            Want::Affected => Rows::All(Vec::new()),
        };
        Ok(Reply::Done(Slot {
            rows,
            affected,
            plan: entry.plan.take(),
        }))
    }

    /// Reads up to the ReadyForQuery that ends a request; an error on the way (the implicit
    /// COMMIT failed: a deferred constraint) is returned.
    async fn read_to_ready(&mut self) -> Result<Option<Error>> {
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::ReadyForQuery(_) => return Ok(error),
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                other => return Err(self.unexpected(&other, "the end of a pipeline")),
            }
        }
    }

    /// The result of a statement whose column types were not known when it ran: they are
    /// looked up (the pipeline's answers are all read), then its rows become records.
    async fn finish_unknown(
        &mut self,
        stmt: &Statement,
        queued: &Queued<'_>,
        unknown: UnknownResult,
    ) -> Result<Result<Slot>> {
        let UnknownResult {
            desc,
            rows,
            affected,
        } = unknown;
        let mut plan = None;
        let mut check = |columns: &Arc<Columns>| {
            if let Some(plan_fn) = queued.plan {
                plan = Some(plan_fn(columns).map_err(|e| changed_under_plan(e, stmt.sql()))?);
            }
            Ok(())
        };
        let records = match self
            .records_after_lookup(stmt, &desc, rows, &mut check)
            .await
        {
            Ok((_, records)) => records,
            Err(e) if self.session.is_broken() => return Err(e),
            Err(e) => return Ok(Err(e)),
        };
        let rows = match queued.want {
            Want::All => Rows::All(records),
            Want::First { required } => match records.into_iter().next() {
                None if required => {
                    return Ok(Err(Error::NoRows {
                        query: stmt.sql().to_owned(),
                    }));
                }
                first => Rows::First(first),
            },
            Want::Affected => Rows::All(Vec::new()),
        };
        Ok(Ok(Slot {
            rows,
            affected,
            plan,
        }))
    }
}

/// What no pipelined statement may be: one with more parameters than the protocol counts, or
/// COPY, whose data exchange cannot share a write with other statements (PostgreSQL ends the
/// session when a Bind follows COPY FROM STDIN).
fn check_pipelined(queued: &Queued<'_>, sql: &str) -> Result<()> {
    check_param_count(queued.params.len(), sql)?;
    if first_keyword(sql).eq_ignore_ascii_case("COPY") {
        return Err(Error::Interface(format!(
            "a pipeline cannot run COPY; run it on its own: {}",
            truncated(sql)
        )));
    }
    Ok(())
}

/// The first word of a statement, after whitespace and comments.
fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(line) = rest.strip_prefix("--") {
            rest = line.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(block) = rest.strip_prefix("/*") {
            rest = block.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Every statement but `failed` did not take effect because `failed` failed: those that ran
/// were rolled back with it, the others were not run.
fn abort_others(entries: &mut [Entry], failed: usize) {
    for (statement, entry) in entries.iter_mut().enumerate() {
        if statement != failed {
            entry.unknown = None;
            entry.outcome = Some(Err(Error::PipelineAborted {
                statement,
                failed,
                ran: entry.sent && statement < failed,
            }));
        }
    }
}

/// A typed statement whose result changed between its description and its run.
fn changed_under_plan(e: Error, sql: &str) -> Error {
    Error::decode(format!(
        "the statement ran, but its result changed since it was described (DDL?) and no longer \
         fits the type it is read into ({e}); run it again: {}",
        truncated(sql)
    ))
}

/// An error for each statement that shares one SQL text's failed description.
fn copy_error(e: &Error) -> Error {
    match e {
        Error::Db(db) => Error::Db(db.clone()),
        other => Error::Interface(other.to_string()),
    }
}

/// What a pipeline is called in a timeout error and a trace.
fn pipeline_label(statements: &[Queued<'_>]) -> String {
    let first = statements.first().map_or("", |q| query_text(q.query));
    format!(
        "a pipeline of {} statement(s), the first: {}",
        statements.len(),
        truncated(first)
    )
}

#[cfg(test)]
mod tests {
    use super::first_keyword;

    #[test]
    fn first_keyword_skips_space_and_comments() {
        assert_eq!(first_keyword("COPY t FROM STDIN"), "COPY");
        assert_eq!(first_keyword("-- a\n/* b */ copy(x)"), "copy");
        assert_eq!(first_keyword("SELECT 1"), "SELECT");
        assert_eq!(first_keyword("/* unterminated"), "");
    }
}
