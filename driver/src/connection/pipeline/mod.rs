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

mod prepare;
mod read;

use std::any::Any;
use std::future::poll_fn;
use std::task::Poll;

use super::batch::first_keyword;
use super::query::{check_param_count, query_text};
use super::{Connection, truncated};
use crate::error::{Error, Result};
use crate::pipeline::{Mode, Pipeline, Queued, Rows, Slot, Want};
use crate::protocol::session::{Abandon, RequestKind};
use crate::statement::Statement;
use crate::types::Encode;
use read::UnknownResult;

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
/// What a pipeline is called in a timeout error and a trace.
fn pipeline_label(statements: &[Queued<'_>]) -> String {
    let first = statements.first().map_or("", |q| query_text(q.query));
    format!(
        "a pipeline of {} statement(s), the first: {}",
        statements.len(),
        truncated(first)
    )
}
