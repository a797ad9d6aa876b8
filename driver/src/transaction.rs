//! [`Transaction`]: BEGIN … COMMIT on a connection, savepoints for nested ones, a rollback
//! that happens whatever way the transaction is left, and a closure form that retries
//! serialization failures and deadlocks.
//!
//! No I/O happens in `Drop`: a transaction dropped without `commit` or `rollback` (an early
//! `?`, a dropped future, a panic) queues its ROLLBACK in the session, which sends it ahead of
//! the connection's next operation. BEGIN is queued the same way, so it travels in the same
//! write as the transaction's first statement and costs no round trip of its own.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::time::Duration;

use crate::connection::Connection;
use crate::error::{Error, Result, SqlState};
use crate::pool::ConnectionRef;
use crate::protocol::backend::TransactionStatus;

/// How a transaction isolates itself from others (`BEGIN ISOLATION LEVEL …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (PostgreSQL runs it as READ COMMITTED).
    ReadUncommitted,
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`: may fail with 40001 and must then be retried (see
    /// [`TransactionBuilder::run`]).
    Serializable,
}

impl IsolationLevel {
    fn sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// A future the closure of [`TransactionBuilder::run`] returns: `Box::pin(async move { … })`.
pub type TransactionFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 't>>;

/// Options for a transaction; from [`Connection::build_transaction`].
///
/// ```no_run
/// use pgtusk::IsolationLevel;
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let mut tx = conn
///     .build_transaction()
///     .isolation(IsolationLevel::Serializable)
///     .read_only(true)
///     .deferrable(true)
///     .start()
///     .await?;
/// let n: i64 = tx.fetch_value("SELECT count(*) FROM pg_class", &[]).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct TransactionBuilder<'c> {
    conn: &'c mut Connection,
    isolation: Option<IsolationLevel>,
    read_only: Option<bool>,
    deferrable: Option<bool>,
    max_attempts: u32,
}

impl<'c> TransactionBuilder<'c> {
    /// The isolation level (default: the server's, normally READ COMMITTED).
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// `READ ONLY` (true) or `READ WRITE` (false); default: the server's.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }

    /// `DEFERRABLE` (only matters for SERIALIZABLE READ ONLY); default: the server's.
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.deferrable = Some(deferrable);
        self
    }

    /// How many times [`TransactionBuilder::run`] runs the closure when the transaction fails
    /// with a serialization failure (40001) or a deadlock (40P01); default 3, at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The BEGIN statement for these options.
    fn begin_sql(&self) -> String {
        let mut sql = String::from("BEGIN");
        if let Some(level) = self.isolation {
            sql.push_str(" ISOLATION LEVEL ");
            sql.push_str(level.sql());
        }
        match self.read_only {
            Some(true) => sql.push_str(" READ ONLY"),
            Some(false) => sql.push_str(" READ WRITE"),
            None => {}
        }
        match self.deferrable {
            Some(true) => sql.push_str(" DEFERRABLE"),
            Some(false) => sql.push_str(" NOT DEFERRABLE"),
            None => {}
        }
        sql
    }

    /// The connection, the BEGIN statement and the attempts, for a caller that runs the
    /// retry loop itself (the blocking API).
    #[cfg(feature = "blocking")]
    pub(crate) fn into_parts(self) -> (&'c mut Connection, String, u32) {
        let begin = self.begin_sql();
        (self.conn, begin, self.max_attempts)
    }

    /// Starts the transaction. BEGIN goes out with the transaction's first statement; a
    /// connection already inside a transaction block is refused (use
    /// [`Transaction::transaction`] for a nested one).
    pub async fn start(self) -> Result<Transaction<'c>> {
        let begin = self.begin_sql();
        begin_on(ConnectionRef::Borrowed(self.conn), begin).await
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back when it returns
    /// `Err`, and runs it again (in a new transaction, after a short jittered pause) when the
    /// transaction failed with a serialization failure (40001) or a deadlock (40P01), up to
    /// [`max_attempts`](TransactionBuilder::max_attempts) times. `f` may run more than once:
    /// keep side effects outside the database out of it. An
    /// [`Error::CommitOutcomeUnknown`] is returned, not retried: the transaction may have
    /// committed.
    ///
    /// ```no_run
    /// use pgtusk::IsolationLevel;
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let moved: u64 = conn
    ///     .build_transaction()
    ///     .isolation(IsolationLevel::Serializable)
    ///     .max_attempts(5)
    ///     .run(|tx| {
    ///         Box::pin(async move {
    ///             tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[]).await?;
    ///             tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[]).await
    ///         })
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn run<T, F>(self, mut f: F) -> Result<T>
    where
        F: for<'t> FnMut(&'t mut Transaction<'_>) -> TransactionFuture<'t, T>,
    {
        let begin = self.begin_sql();
        let conn = self.conn;
        let mut attempt = 1;
        loop {
            let outcome = async {
                let mut tx = begin_on(ConnectionRef::Borrowed(&mut *conn), begin.clone()).await?;
                let value = f(&mut tx).await?;
                tx.commit().await?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(e) if attempt < self.max_attempts && is_retryable(&e) => {
                    tracing::debug!(attempt, "transaction failed ({e}); running it again");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

impl fmt::Debug for TransactionBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionBuilder")
            .field("begin", &self.begin_sql())
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// Whether running the transaction again may succeed. Never after
/// [`Error::CommitOutcomeUnknown`]: the first run may have committed, and a second would then
/// apply it twice.
pub(crate) fn is_retryable(e: &Error) -> bool {
    !matches!(e, Error::CommitOutcomeUnknown(_))
        && matches!(
            e.sqlstate(),
            Some(SqlState::SERIALIZATION_FAILURE | SqlState::DEADLOCK_DETECTED)
        )
}

/// A pause before attempt `attempt + 1`: 10 ms doubled per attempt (at most 1 s), with
/// ±50% jitter so that two transactions that collided do not collide again.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.min(7).saturating_sub(1);
    let base = base.min(1000);
    let jittered = base / 2 + rand::random_range(0..=base);
    Duration::from_millis(jittered)
}

pub(crate) async fn begin_on(
    mut conn: ConnectionRef<'_>,
    begin: String,
) -> Result<Transaction<'_>> {
    // Replies still owed (a dropped transaction's ROLLBACK) settle the status first; a
    // connection with nothing queued costs no I/O here.
    conn.settle().await?;
    if conn.transaction_status() != TransactionStatus::Idle {
        return Err(Error::Interface(
            "the connection is already inside a transaction block; use tx.transaction() for a \
             nested transaction (a savepoint), or end the open one first"
                .to_owned(),
        ));
    }
    conn.session_mut().queue_prelude(begin);
    Ok(Transaction {
        conn,
        depth: 0,
        open: true,
    })
}

/// A transaction (or, nested, a savepoint) on a connection.
///
/// It derefs to the [`Connection`], so every query method runs inside it. End it with
/// [`commit`](Transaction::commit) or [`rollback`](Transaction::rollback); dropped without
/// either, it rolls back (the ROLLBACK goes out with the connection's next operation).
///
/// ```no_run
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let mut tx = conn.transaction().await?;
/// tx.execute("INSERT INTO animals (id, name) VALUES ($1, $2)", &[&1i64, &"walrus"]).await?;
/// {
///     let mut inner = tx.transaction().await?; // SAVEPOINT
///     inner.execute("DELETE FROM animals", &[]).await?;
///     inner.rollback().await?; // ROLLBACK TO SAVEPOINT: the walrus stays
/// }
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct Transaction<'c> {
    conn: ConnectionRef<'c>,
    /// 0 for the transaction itself, n for the savepoint n levels down.
    depth: u32,
    /// Neither committed nor rolled back yet: dropping it rolls back.
    open: bool,
}

impl Transaction<'static> {
    /// A transaction that owns its (pooled) connection.
    pub(crate) async fn begin_owned(conn: ConnectionRef<'static>) -> Result<Transaction<'static>> {
        begin_on(conn, "BEGIN".to_owned()).await
    }
}

impl Transaction<'_> {
    /// A nested transaction: a savepoint, released by `commit`, rolled back to by `rollback`
    /// or when dropped. Any depth.
    pub async fn transaction(&mut self) -> Result<Transaction<'_>> {
        let depth = self.depth + 1;
        self.conn
            .session_mut()
            .queue_prelude(format!("SAVEPOINT {}", savepoint(depth)));
        Ok(Transaction {
            conn: ConnectionRef::Borrowed(&mut self.conn),
            depth,
            open: true,
        })
    }

    /// Commits (a savepoint: releases it). When COMMIT finds the transaction failed,
    /// PostgreSQL rolls it back without an error; this returns
    /// [`Error::TransactionRolledBack`] then, never `Ok`. A deferred constraint that fails at
    /// COMMIT is the server's error, with all its fields.
    ///
    /// When the connection fails after the whole COMMIT went out and before its answer came
    /// back (or `command_timeout` passes), the transaction may or may not have committed:
    /// that is [`Error::CommitOutcomeUnknown`], never retried by
    /// [`TransactionBuilder::run`]. A failure before COMMIT went out whole is returned as it
    /// is (an [`Error::Io`], [`Error::Closed`], an [`Error::Timeout`]): nothing was committed,
    /// and a transaction still open on a usable connection is rolled back with its next
    /// operation. Releasing a savepoint commits nothing, so its failures are always returned
    /// as they are.
    pub async fn commit(mut self) -> Result<()> {
        let done = match self.depth {
            0 => self.conn.commit_block().await,
            depth => {
                let sql = format!("RELEASE SAVEPOINT {}", savepoint(depth));
                self.conn.simple_command(&sql).await.map(drop)
            }
        };
        // Only now: if this future is dropped before the answer, Drop queues a ROLLBACK,
        // which is a no-op after a COMMIT that made it.
        self.open = self.left_open(&done);
        done
    }

    /// Rolls back (a savepoint: rolls back to it and releases it). When ROLLBACK fails before
    /// it went out (`command_timeout` passed first), the ROLLBACK goes out again with the
    /// connection's next operation.
    pub async fn rollback(mut self) -> Result<()> {
        let sql = rollback_sql(self.depth);
        let done = self.conn.simple_command(&sql).await.map(drop);
        self.open = self.left_open(&done);
        done
    }

    /// Whether the transaction is still open after its COMMIT or ROLLBACK failed: the session
    /// is still in a transaction only when the statement never ran (`command_timeout` passed
    /// while an operation dropped earlier was drained, before it went out). Drop then rolls
    /// the transaction back, or the next statements would run in it and a later COMMIT keep
    /// its writes. Not for a savepoint: a RELEASE or ROLLBACK TO that ran leaves the
    /// transaction open too, and naming the released savepoint again would fail it.
    fn left_open(&self, done: &Result<()>) -> bool {
        self.depth == 0
            && done.is_err()
            && self.conn.transaction_status() != TransactionStatus::Idle
    }

    /// 0 for a transaction, n for a savepoint n levels down.
    pub fn depth(&self) -> u32 {
        self.depth
    }
}

fn savepoint(depth: u32) -> String {
    format!("pgtusk_savepoint_{depth}")
}

fn rollback_sql(depth: u32) -> String {
    match depth {
        0 => "ROLLBACK".to_owned(),
        depth => {
            let name = savepoint(depth);
            format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}")
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            let sql = rollback_sql(self.depth);
            self.conn.session_mut().queue_prelude(sql);
        }
    }
}

impl Deref for Transaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("depth", &self.depth)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Sends COMMIT for the transaction block the connection is in, for a block begun with
    /// SQL of one's own (`execute_script("BEGIN …")`); a [`Transaction`] does this in
    /// [`Transaction::commit`]. It reports the outcome as that does: `Ok` only when the
    /// server committed, [`Error::TransactionRolledBack`] when COMMIT found the block failed,
    /// and [`Error::CommitOutcomeUnknown`] when the answer to a COMMIT that went out was lost.
    pub async fn commit_block(&mut self) -> Result<()> {
        match self.commit_command("COMMIT").await? {
            tag if tag == "ROLLBACK" => Err(Error::TransactionRolledBack),
            _ => Ok(()),
        }
    }

    /// Starts a transaction with the server's default options. BEGIN goes out with its first
    /// statement.
    pub async fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.build_transaction().start().await
    }

    /// Options for a transaction: isolation level, read only, deferrable, and retries for
    /// [`TransactionBuilder::run`].
    pub fn build_transaction(&mut self) -> TransactionBuilder<'_> {
        TransactionBuilder {
            conn: self,
            isolation: None,
            read_only: None,
            deferrable: None,
            max_attempts: 3,
        }
    }

    /// [`TransactionBuilder::run`] with default options: commit on `Ok`, roll back on `Err`,
    /// retry serialization failures and deadlocks.
    pub async fn run_transaction<T, F>(&mut self, f: F) -> Result<T>
    where
        F: for<'t> FnMut(&'t mut Transaction<'_>) -> TransactionFuture<'t, T>,
    {
        self.build_transaction().run(f).await
    }
}
