//! [`Transaction`]: BEGIN … COMMIT with blocking methods, savepoints, a rollback that happens
//! however the transaction is left, and the retrying closure form.

use std::fmt;

use super::queries::query_methods;
use super::{Connection, Runtime};
use crate::IsolationLevel;
use crate::error::{Error, Result};
use crate::pool::ConnectionRef;
use crate::transaction::{backoff, begin_on, is_retryable};

/// A transaction (or, nested, a savepoint) on a blocking [`Connection`]; from
/// [`Connection::transaction`]. It has the connection's query methods, which run inside it.
///
/// End it with [`commit`](Transaction::commit) or [`rollback`](Transaction::rollback).
/// Dropped without either (an early `?`), it rolls back there and then, so its locks are
/// released at once and the connection is idle again; the exceptions, where it queues the
/// ROLLBACK for the connection's next operation as the async transaction does, are a drop
/// during a panic and a drop inside an async runtime.
///
/// ```no_run
/// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
/// let mut tx = conn.transaction()?;
/// tx.execute("INSERT INTO animals (id, name) VALUES ($1, $2)", &[&1i64, &"walrus"])?;
/// {
///     let mut inner = tx.transaction()?; // SAVEPOINT
///     inner.execute("DELETE FROM animals", &[])?;
///     inner.rollback()?; // ROLLBACK TO SAVEPOINT: the walrus stays
/// }
/// tx.commit()?;
/// # Ok(()) }
/// ```
pub struct Transaction<'c> {
    /// `None` only once committed or rolled back (both consume the transaction).
    tx: Option<crate::Transaction<'c>>,
    rt: &'c Runtime,
}

impl<'c> Transaction<'c> {
    fn new(tx: crate::Transaction<'c>, rt: &'c Runtime) -> Transaction<'c> {
        Transaction { tx: Some(tx), rt }
    }

    #[inline]
    pub(super) fn parts(&mut self) -> (&mut crate::Connection, &Runtime) {
        let tx = self
            .tx
            .as_mut()
            .expect("a blocking Transaction holds its transaction until it ends");
        (&mut **tx, self.rt)
    }

    #[inline]
    fn connection(&self) -> &crate::Connection {
        self.tx
            .as_ref()
            .expect("a blocking Transaction holds its transaction until it ends")
    }

    /// The async transaction and the runtime, for a cursor that borrows both.
    pub(super) fn inner(&mut self) -> (&mut crate::Transaction<'c>, &'c Runtime) {
        let tx = self
            .tx
            .as_mut()
            .expect("a blocking Transaction holds its transaction until it ends");
        (tx, self.rt)
    }

    query_methods!("Transaction");

    /// A nested transaction: a savepoint, released by `commit`, rolled back to by
    /// `rollback` or when dropped.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        let (tx, rt) = self.inner();
        let nested = rt.block_on("Transaction::transaction", tx.transaction())?;
        Ok(Transaction::new(nested, rt))
    }

    /// Commits (a savepoint: releases it). When COMMIT finds the transaction failed,
    /// PostgreSQL rolls it back; this returns [`Error::TransactionRolledBack`] then. When the
    /// answer to a COMMIT that went out is lost, it may have committed:
    /// [`Error::CommitOutcomeUnknown`] (see [`crate::Transaction::commit`]).
    pub fn commit(mut self) -> Result<()> {
        match self.tx.take() {
            Some(tx) => self.rt.block_on("Transaction::commit", tx.commit()),
            None => Err(Error::Closed),
        }
    }

    /// Rolls back (a savepoint: rolls back to it and releases it).
    pub fn rollback(mut self) -> Result<()> {
        match self.tx.take() {
            Some(tx) => self.rt.block_on("Transaction::rollback", tx.rollback()),
            None => Err(Error::Closed),
        }
    }

    /// 0 for a transaction, n for a savepoint n levels down.
    pub fn depth(&self) -> u32 {
        self.tx.as_ref().map_or(0, |tx| tx.depth())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        // Rolled back now, so the locks go now; during a panic or inside a runtime, the
        // async transaction's drop queues the ROLLBACK for the next operation instead.
        if !std::thread::panicking() && super::outside_runtime("Transaction::drop").is_ok() {
            // An error here (a broken connection) is the next operation's to report.
            let _ = self.rt.block_on("Transaction::drop", tx.rollback());
        }
    }
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Transaction")
            .field("tx", &self.tx)
            .finish()
    }
}

/// Options for a transaction; from [`Connection::build_transaction`].
///
/// ```no_run
/// use pgtusk::IsolationLevel;
/// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
/// let total: i64 = conn
///     .build_transaction()
///     .isolation(IsolationLevel::Serializable)
///     .max_attempts(5)
///     .run(|tx| tx.fetch_value("SELECT sum(balance)::int8 FROM accounts", &[]))?;
/// # Ok(()) }
/// ```
pub struct TransactionBuilder<'c> {
    builder: crate::TransactionBuilder<'c>,
    rt: &'c Runtime,
}

impl<'c> TransactionBuilder<'c> {
    /// The isolation level (default: the server's, normally READ COMMITTED).
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.builder = self.builder.isolation(level);
        self
    }

    /// `READ ONLY` (true) or `READ WRITE` (false); default: the server's.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.builder = self.builder.read_only(read_only);
        self
    }

    /// `DEFERRABLE` (only matters for SERIALIZABLE READ ONLY); default: the server's.
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.builder = self.builder.deferrable(deferrable);
        self
    }

    /// How many times [`run`](TransactionBuilder::run) runs the closure after a
    /// serialization failure (40001) or a deadlock (40P01); default 3, at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.builder = self.builder.max_attempts(attempts);
        self
    }

    /// Starts the transaction; BEGIN goes out with its first statement.
    pub fn start(self) -> Result<Transaction<'c>> {
        let tx = self
            .rt
            .block_on("TransactionBuilder::start", self.builder.start())?;
        Ok(Transaction::new(tx, self.rt))
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back when it returns
    /// `Err`, and runs it again in a new transaction (after a short jittered pause) when the
    /// transaction failed with a serialization failure or a deadlock, up to
    /// [`max_attempts`](TransactionBuilder::max_attempts) times. `f` may run more than once:
    /// keep side effects outside the database out of it. An [`Error::CommitOutcomeUnknown`]
    /// is returned, not retried: the transaction may have committed.
    pub fn run<T, F>(self, mut f: F) -> Result<T>
    where
        F: FnMut(&mut Transaction<'_>) -> Result<T>,
    {
        let rt = self.rt;
        let (conn, begin, max_attempts) = self.builder.into_parts();
        let mut attempt = 1;
        loop {
            let mut once = || {
                let tx = rt.block_on(
                    "TransactionBuilder::run",
                    begin_on(ConnectionRef::Borrowed(&mut *conn), begin.clone()),
                )?;
                let mut tx = Transaction::new(tx, rt);
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok(value)
            };
            match once() {
                Err(e) if attempt < max_attempts && is_retryable(&e) => {
                    tracing::debug!(attempt, "transaction failed ({e}); running it again");
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

impl fmt::Debug for TransactionBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::TransactionBuilder")
            .field("builder", &self.builder)
            .finish()
    }
}

impl Connection {
    /// Starts a transaction with the server's default options.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.build_transaction().start()
    }

    /// Options for a transaction: isolation level, read only, deferrable, and retries for
    /// [`TransactionBuilder::run`].
    pub fn build_transaction(&mut self) -> TransactionBuilder<'_> {
        let (conn, rt) = self.parts();
        TransactionBuilder {
            builder: conn.build_transaction(),
            rt,
        }
    }

    /// [`TransactionBuilder::run`] with default options: commit on `Ok`, roll back on `Err`,
    /// retry serialization failures and deadlocks.
    ///
    /// ```no_run
    /// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
    /// conn.run_transaction(|tx| {
    ///     tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[])?;
    ///     tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[])
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn run_transaction<T, F>(&mut self, f: F) -> Result<T>
    where
        F: FnMut(&mut Transaction<'_>) -> Result<T>,
    {
        self.build_transaction().run(f)
    }
}
