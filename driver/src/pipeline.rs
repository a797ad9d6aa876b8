//! [`Pipeline`]: different statements sent in one write and answered in one round trip, each
//! with a result of its own.
//!
//! Queuing a statement returns a [`Ticket`]; [`Pipeline::run`] sends every statement at once
//! and reads every answer; the caller then redeems each ticket for its statement's typed
//! result with [`PipelineResults::take`]. A ticket is not `Clone`, names its pipeline, and its
//! type says what it gives, so a result can be taken once, only from its own pipeline, and
//! only as what was asked for.
//!
//! Two modes, as PostgreSQL's extended protocol allows:
//!
//! - [`Connection::pipeline`]: **independent**. Each statement ends with its own Sync, so
//!   each runs in its own implicit transaction (as tokio-postgres's joined futures do): one
//!   that fails does not undo the others, and those after it still run. Inside a
//!   transaction block a failure aborts the transaction as usual, so the statements after it
//!   fail with 25P02 (`in_failed_sql_transaction`).
//! - [`Connection::atomic_pipeline`]: **atomic**. One Sync at the end: the statements run in
//!   one implicit transaction (or in the open transaction block), and the first error aborts
//!   the rest. Then no statement's work is committed, and every statement's result is an
//!   error: the one that failed has the server's, the others
//!   [`Error::PipelineAborted`] (those after it were not run; those before it ran and were
//!   rolled back). An error at the implicit COMMIT (a deferred constraint) is reported as the
//!   last statement's. A statement that ends the transaction itself (`COMMIT`) breaks the
//!   atomicity, as in any implicit transaction.
//!
//! Statements cached on the connection are one Bind + Execute each: a pipeline of cached
//! statements is one write and one round trip. A statement the cache does not hold yet must be
//! described by the server before its parameters can be encoded (Bind sends each value in
//! binary for the type the server inferred), so the first run of a pipeline with new SQL
//! prepares every new statement first, all in one more write and round trip (Parse, Describe
//! and Sync each), and the later runs are one round trip again. SQL the cache does not admit
//! (`statement_cache_size=0`, as behind pgbouncer) runs as the unnamed statement, re-parsed in
//! the pipeline with the parameter types described earlier (see `connection/oneshot.rs`).
//!
//! Cancel safety: dropping the future of [`Pipeline::run`] at any point leaves the connection
//! usable. What never reached the socket is not sent; what did is drained (and the statement
//! the server is running is cancelled) before the connection's next operation. An atomic
//! pipeline cut short is rolled back, never half-committed; in an independent one, each
//! statement that reached the server is a request of its own, so those after the cancelled
//! one still run. `command_timeout` bounds the whole pipeline.
//!
//! ```no_run
//! # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
//! let id = 7i64;
//! let mut p = conn.pipeline();
//! let renamed = p.execute("UPDATE animals SET name = $2 WHERE id = $1", &[&id, &"walrus"]);
//! let count = p.fetch_value::<i64>("SELECT count(*) FROM animals", &[]);
//! let animal = p.fetch_one_as::<(i64, String)>("SELECT id, name FROM animals WHERE id = $1", &[&id]);
//! let mut out = p.run().await?; // one write, one round trip
//! let n: u64 = out.take(renamed)?;
//! let total: i64 = out.take(count)?;
//! let (id, name) = out.take(animal)?;
//! # Ok(()) }
//! ```

use std::any::Any;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::connection::{Connection, IntoQuery, QueryRef};
use crate::error::{Error, Result};
use crate::from_record::{FromRecord, RecordPlan};
use crate::record::{Columns, Record};
use crate::types::{Decode, Encode};

static NEXT_PIPELINE_ID: AtomicU64 = AtomicU64::new(1);

/// How a pipeline's statements are synced; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A Sync after each statement.
    Independent,
    /// One Sync at the end.
    Atomic,
}

/// What a queued statement's result keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// The rows affected (`execute`): rows are counted, not kept.
    Affected,
    /// Every row.
    All,
    /// The first row only (the Execute asks for one); `required`: none is [`Error::NoRows`].
    First { required: bool },
}

/// A typed statement's plan, made from the result's columns before anything runs.
pub(crate) type PlanFn = fn(&Columns) -> Result<Box<dyn Any + Send + Sync>>;

/// One queued statement.
pub(crate) struct Queued<'q> {
    pub(crate) query: QueryRef<'q>,
    /// Its parameters in the pipeline's parameter list.
    pub(crate) params: Range<usize>,
    pub(crate) want: Want,
    pub(crate) plan: Option<PlanFn>,
    /// The plan must see the columns as the server describes them now (a struct checked
    /// before an `UPDATE … RETURNING` runs): uncached SQL is described again for it.
    pub(crate) plan_now: bool,
}

/// A statement's rows, as its [`Want`] keeps them.
#[derive(Debug)]
pub(crate) enum Rows {
    First(Option<Record>),
    All(Vec<Record>),
}

/// What a statement that ran brought back.
pub(crate) struct Slot {
    pub(crate) rows: Rows,
    pub(crate) affected: u64,
    /// A typed statement's plan (its type is the ticket's `T::Plan`).
    pub(crate) plan: Option<Box<dyn Any + Send + Sync>>,
}

impl Slot {
    fn all(self) -> Vec<Record> {
        match self.rows {
            Rows::All(rows) => rows,
            Rows::First(row) => row.into_iter().collect(),
        }
    }

    fn first(self) -> Option<Record> {
        match self.rows {
            Rows::First(row) => row,
            Rows::All(rows) => rows.into_iter().next(),
        }
    }

    /// The plan made for `T` before the statement ran.
    fn plan<T: RecordPlan>(&mut self) -> Result<Box<T::Plan>> {
        self.plan
            .take()
            .and_then(|plan| plan.downcast::<T::Plan>().ok())
            .ok_or_else(|| {
                Error::Interface("the pipeline's result was not planned for its type".to_owned())
            })
    }
}

/// Statements queued to run together on one connection; from [`Connection::pipeline`] or
/// [`Connection::atomic_pipeline`] (see the [module documentation](self) for the modes).
///
/// Each queuing method takes the SQL (or a [`Statement`](crate::Statement)) and parameters as
/// the connection's query method of the same name does, and returns a [`Ticket`] for the
/// result; nothing is sent until [`Pipeline::run`]. Parameters are borrowed until then.
///
/// ```no_run
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let mut p = conn.atomic_pipeline();
/// let debit = p.execute("UPDATE accounts SET balance = balance - $2 WHERE id = $1", &[&1i64, &100i64]);
/// let credit = p.execute("UPDATE accounts SET balance = balance + $2 WHERE id = $1", &[&2i64, &100i64]);
/// let mut out = p.run().await?;
/// // Both or neither: if one failed, both results are errors and nothing was committed.
/// assert_eq!(out.take(debit)? + out.take(credit)?, 2);
/// # Ok(()) }
/// ```
pub struct Pipeline<'c, 'q> {
    conn: &'c mut Connection,
    mode: Mode,
    id: u64,
    statements: Vec<Queued<'q>>,
    /// Every statement's parameters, one after the other.
    params: Vec<&'q (dyn Encode + Sync)>,
}

impl<'c, 'q> Pipeline<'c, 'q> {
    pub(crate) fn new(conn: &'c mut Connection, mode: Mode) -> Self {
        Pipeline {
            conn,
            mode,
            id: NEXT_PIPELINE_ID.fetch_add(1, Ordering::Relaxed),
            statements: Vec::new(),
            params: Vec::new(),
        }
    }

    fn queue<T>(
        &mut self,
        query: QueryRef<'q>,
        params: &[&'q (dyn Encode + Sync)],
        want: Want,
        plan: Option<(PlanFn, bool)>,
        redeem: fn(Slot) -> Result<T>,
    ) -> Ticket<T> {
        let start = self.params.len();
        self.params.extend_from_slice(params);
        let index = self.statements.len();
        self.statements.push(Queued {
            query,
            params: start..self.params.len(),
            want,
            plan: plan.map(|(plan, _)| plan),
            plan_now: plan.is_some_and(|(_, now)| now),
        });
        Ticket {
            pipeline: self.id,
            index,
            redeem,
        }
    }

    /// Queues a statement; its ticket gives the number of rows it affected (or returned),
    /// as [`Connection::execute`].
    pub fn execute(
        &mut self,
        query: impl IntoQuery<'q>,
        params: &[&'q (dyn Encode + Sync)],
    ) -> Ticket<u64> {
        self.queue(query.into_query(), params, Want::Affected, None, |slot| {
            Ok(slot.affected)
        })
    }

    /// Queues a query; its ticket gives every row, as [`Connection::fetch`].
    pub fn fetch(
        &mut self,
        query: impl IntoQuery<'q>,
        params: &[&'q (dyn Encode + Sync)],
    ) -> Ticket<Vec<Record>> {
        self.queue(query.into_query(), params, Want::All, None, |slot| {
            Ok(slot.all())
        })
    }

    /// Queues a query; its ticket gives its first row, or [`Error::NoRows`] when there is
    /// none, as [`Connection::fetch_one`]. Only one row travels.
    pub fn fetch_one(
        &mut self,
        query: impl IntoQuery<'q>,
        params: &[&'q (dyn Encode + Sync)],
    ) -> Ticket<Record> {
        self.queue(
            query.into_query(),
            params,
            Want::First { required: true },
            None,
            first_row,
        )
    }

    /// Queues a query; its ticket gives its first row, if any, as
    /// [`Connection::fetch_optional`]. Only one row travels.
    pub fn fetch_optional(
        &mut self,
        query: impl IntoQuery<'q>,
        params: &[&'q (dyn Encode + Sync)],
    ) -> Ticket<Option<Record>> {
        self.queue(
            query.into_query(),
            params,
            Want::First { required: false },
            None,
            |slot| Ok(slot.first()),
        )
    }

    /// Queues a query; its ticket gives the first column of its first row decoded as `T`,
    /// as [`Connection::fetch_value`].
    pub fn fetch_value<T>(
        &mut self,
        query: impl IntoQuery<'q>,
        params: &[&'q (dyn Encode + Sync)],
    ) -> Ticket<T>
    where
        T: for<'r> Decode<'r>,
    {
        self.queue(
            query.into_query(),
            params,
            Want::First { required: true },
            Some((has_a_column, false)),
            |slot| first_row(slot)?.decode_at(0),
        )
    }

    /// Queues a query; its ticket gives every row decoded into `T`, as
    /// [`Connection::fetch_as`]. `T` is matched to the columns before anything is sent: a
    /// statement whose columns do not fit is not run, and its ticket gives the error.
    pub fn fetch_as<T>(
        &mut self,
        query: impl IntoQuery<'q>,
        params: &[&'q (dyn Encode + Sync)],
    ) -> Ticket<Vec<T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        self.queue(
            query.into_query(),
            params,
            Want::All,
            Some((plan_for::<T>, true)),
            |mut slot| {
                let plan = slot.plan::<T>()?;
                let rows = slot.all();
                rows.iter().map(|row| T::from_record(row, &plan)).collect()
            },
        )
    }

    /// Queues a query; its ticket gives its first row decoded into `T`, or
    /// [`Error::NoRows`], as [`Connection::fetch_one_as`]. Checked before anything is sent,
    /// as [`Pipeline::fetch_as`].
    pub fn fetch_one_as<T>(
        &mut self,
        query: impl IntoQuery<'q>,
        params: &[&'q (dyn Encode + Sync)],
    ) -> Ticket<T>
    where
        T: for<'r> FromRecord<'r>,
    {
        self.queue(
            query.into_query(),
            params,
            Want::First { required: true },
            Some((plan_for::<T>, true)),
            |mut slot| {
                let plan = slot.plan::<T>()?;
                T::from_record(&first_row(slot)?, &plan)
            },
        )
    }

    /// Queues a query; its ticket gives its first row decoded into `T`, if any, as
    /// [`Connection::fetch_optional_as`]. Checked before anything is sent, as
    /// [`Pipeline::fetch_as`].
    pub fn fetch_optional_as<T>(
        &mut self,
        query: impl IntoQuery<'q>,
        params: &[&'q (dyn Encode + Sync)],
    ) -> Ticket<Option<T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        self.queue(
            query.into_query(),
            params,
            Want::First { required: false },
            Some((plan_for::<T>, true)),
            |mut slot| {
                let plan = slot.plan::<T>()?;
                slot.first()
                    .map(|row| T::from_record(&row, &plan))
                    .transpose()
            },
        )
    }

    /// How many statements are queued.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Whether no statement is queued.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Whether the pipeline is atomic ([`Connection::atomic_pipeline`]).
    pub fn is_atomic(&self) -> bool {
        self.mode == Mode::Atomic
    }

    /// Sends every statement in one write and reads every answer: one round trip when the
    /// connection has them all cached, two the first time (see the
    /// [module documentation](self)). An empty pipeline sends nothing.
    ///
    /// Each statement's own failure is in its result ([`PipelineResults::take`]); `run`
    /// itself fails only when the connection does (I/O, protocol, `command_timeout`, closed).
    pub async fn run(self) -> Result<PipelineResults> {
        let Pipeline {
            conn,
            mode,
            id,
            statements,
            params,
        } = self;
        let slots = conn.run_pipeline(&statements, &params, mode).await?;
        Ok(PipelineResults {
            pipeline: id,
            slots: slots.into_iter().map(Some).collect(),
        })
    }
}

impl fmt::Debug for Pipeline<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sql: Vec<&str> = self
            .statements
            .iter()
            .map(|q| match q.query {
                QueryRef::Sql(sql) => sql,
                QueryRef::Statement(stmt) => stmt.sql(),
            })
            .collect();
        f.debug_struct("Pipeline")
            .field("mode", &self.mode)
            .field("statements", &sql)
            .finish_non_exhaustive()
    }
}

/// The claim on one queued statement's result, redeemed with [`PipelineResults::take`] once
/// the pipeline ran. `T` is what the queuing method promised (`u64` for `execute`, a
/// [`Record`] for `fetch_one`, `Vec<T>` for `fetch_as::<T>`, ...).
#[must_use = "a ticket is the only way to take its statement's result"]
pub struct Ticket<T> {
    pipeline: u64,
    index: usize,
    redeem: fn(Slot) -> Result<T>,
}

impl<T> Ticket<T> {
    /// The statement's position in its pipeline, from 0 (as [`Error::PipelineAborted`]
    /// counts).
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<T> fmt::Debug for Ticket<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("index", &self.index)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

/// Every statement's result after [`Pipeline::run`], in the order they were queued; each is
/// taken with the [`Ticket`] its queuing returned.
pub struct PipelineResults {
    pipeline: u64,
    slots: Vec<Option<Result<Slot>>>,
}

impl PipelineResults {
    /// The result of the statement `ticket` was given for: what it returned, or why it failed
    /// or did not run. A ticket from another pipeline is an [`Error::Interface`].
    pub fn take<T>(&mut self, ticket: Ticket<T>) -> Result<T> {
        let slot = if ticket.pipeline == self.pipeline {
            self.slots.get_mut(ticket.index).and_then(Option::take)
        } else {
            None
        };
        match slot {
            Some(result) => result.and_then(ticket.redeem),
            None => Err(Error::Interface(format!(
                "this ticket (statement {}) belongs to another pipeline; take a result with the \
                 ticket its own pipeline returned",
                ticket.index
            ))),
        }
    }

    /// How many statements the pipeline ran (or tried to).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the pipeline was empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The first statement that failed on its own, with its error (not one that was only
    /// [aborted](Error::PipelineAborted) by another's failure, nor one already taken).
    pub fn first_error(&self) -> Option<(usize, &Error)> {
        self.slots
            .iter()
            .enumerate()
            .find_map(|(i, slot)| match slot {
                Some(Err(e)) if !matches!(e, Error::PipelineAborted { .. }) => Some((i, e)),
                _ => None,
            })
    }
}

impl fmt::Debug for PipelineResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcomes: Vec<&str> = self
            .slots
            .iter()
            .map(|slot| match slot {
                Some(Ok(_)) => "ok",
                Some(Err(_)) => "error",
                None => "taken",
            })
            .collect();
        f.debug_struct("PipelineResults")
            .field("statements", &outcomes)
            .finish()
    }
}

/// `fetch_one`'s result: the first row. The connection turned an empty result into
/// [`Error::NoRows`] already; this only guards the invariant.
fn first_row(slot: Slot) -> Result<Record> {
    slot.first().ok_or_else(|| Error::NoRows {
        query: String::from("(a pipelined statement)"),
    })
}

/// The plan for `T`, boxed for the pipeline's results.
fn plan_for<T>(columns: &Columns) -> Result<Box<dyn Any + Send + Sync>>
where
    T: for<'r> FromRecord<'r>,
{
    Ok(Box::new(T::plan(columns)?))
}

/// `fetch_value`'s check: the result has a column to decode.
fn has_a_column(columns: &Columns) -> Result<Box<dyn Any + Send + Sync>> {
    if columns.is_empty() {
        return Err(Error::Interface(
            "fetch_value: the query returns no columns".to_owned(),
        ));
    }
    Ok(Box::new(()))
}
