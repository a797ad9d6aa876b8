//! A pipeline's answers, read in order: each statement's result, what an error means for
//! the rest (atomic: all of it aborted; a stale statement: run again), and the results whose
//! column types had to be looked up first.

use std::sync::Arc;

use super::{Entry, abort_others};
use crate::connection::oneshot::{Shape, reshaped, unreadable};
use crate::connection::query::is_stale_statement;
use crate::connection::{Connection, QueryRef, db_error, truncated};
use crate::error::{Error, Result, SqlState};
use crate::pipeline::{Mode, Queued, Rows, Slot, Want};
use crate::protocol::backend::{DataRow, Message, RowDescription, TransactionStatus};
use crate::record::Columns;
use crate::statement::Statement;

/// The rows of a result with column types not looked up yet, kept until the pipeline's last
/// answer is read (a lookup is a query of its own).
pub(super) struct UnknownResult {
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
    /// Reads every sent statement's answer in order. Returns whether to run the pipeline
    /// again: atomic, refused only because a statement went stale, and outside a transaction
    /// block (so nothing of it was committed, and nothing else was aborted).
    pub(super) async fn read_pipeline(
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

/// A typed statement whose result changed between its description and its run.
fn changed_under_plan(e: Error, sql: &str) -> Error {
    Error::decode(format!(
        "the statement ran, but its result changed since it was described (DDL?) and no longer \
         fits the type it is read into ({e}); run it again: {}",
        truncated(sql)
    ))
}
