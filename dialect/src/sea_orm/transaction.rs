//! [`TuskTransaction`]: a sea-orm transaction that pins one pooled connection.
//!
//! sea-orm asks that a transaction's nested transaction be the same type
//! (`TransactionTrait<Transaction = Self>`) and be owned, not borrowed from its parent: so
//! every level shares the pinned connection through an `Arc`, and a level is a depth
//! (0 the transaction, n the savepoint n levels down), as in sea-orm's own
//! `DatabaseTransaction`.
//!
//! No I/O happens in `Drop`. A savepoint dropped open owes its `ROLLBACK TO SAVEPOINT`, which
//! goes out before the connection's next statement. The transaction dropped open gives its
//! connection back: pgtusk rolls it back (a transaction begun with the server's defaults
//! queues its ROLLBACK ahead of the connection's next operation; one begun with options is
//! rolled back by the pool, which cleans every connection released inside a transaction).

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use ::sea_orm::{
    AccessMode, ConnectionTrait, DbBackend, DbErr, ExecResult, IsolationLevel, QueryResult,
    Statement, TransactionError, TransactionOptions, TransactionSession, TransactionTrait,
};
use pgtusk::{Connection, PooledConnection, TransactionStatus};
use tokio::sync::{
    MappedMutexGuard, Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard, OwnedMappedMutexGuard,
    OwnedMutexGuard,
};

use super::error::{Stage, backend_err, db_err};
use super::statement;

/// A sea-orm transaction on one connection of a pgtusk [`Pool`](pgtusk::Pool), from
/// [`TuskDatabase::begin`](super::TuskDatabase) (or `transaction`, `begin_with_config`, …).
///
/// It implements [`ConnectionTrait`], so every sea-orm query runs inside it, and
/// [`TransactionTrait`]: `begin` on it starts a nested transaction, a savepoint on the same
/// connection. End it with [`commit`](TransactionSession::commit) or
/// [`rollback`](TransactionSession::rollback); dropped without either, it rolls back.
///
/// ```no_run
/// use pgtusk_dialect::sea_orm::TuskDatabase;
/// use sea_orm::{ConnectionTrait, TransactionSession, TransactionTrait};
///
/// # async fn demo(db: &TuskDatabase) -> Result<(), sea_orm::DbErr> {
/// let tx = db.begin().await?;
/// tx.execute_unprepared("UPDATE accounts SET balance = balance - 10 WHERE id = 1").await?;
/// {
///     let inner = tx.begin().await?; // SAVEPOINT
///     inner.execute_unprepared("DELETE FROM accounts").await?;
///     // dropped: rolled back to the savepoint
/// }
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct TuskTransaction {
    shared: Arc<Shared>,
    /// 0 for the transaction itself, n for the savepoint n levels down.
    depth: u32,
    /// Neither committed nor rolled back yet: dropping it rolls back.
    open: bool,
}

/// What every level of one transaction shares.
struct Shared {
    /// The connection; `None` once the transaction ended. In an `Arc` of its own so that a
    /// row stream can hold the lock for as long as it lives.
    conn: Arc<AsyncMutex<Option<Pinned>>>,
    /// Kept apart from `conn` so that `Drop`, which cannot wait, can always reach it.
    levels: Mutex<Levels>,
}

#[derive(Debug, Default)]
struct Levels {
    /// The innermost level still open (0: the transaction itself); `None` once the
    /// transaction ended.
    innermost: Option<u32>,
    /// SQL owed before the connection's next statement: savepoints dropped open.
    owed: Vec<String>,
}

/// The pinned connection.
pub(crate) enum Pinned {
    /// BEGIN with the server's defaults: pgtusk queues it to go out with the first statement
    /// and rolls back when dropped open.
    Deferred(pgtusk::Transaction<'static>),
    /// BEGIN with an isolation level or access mode, sent when the transaction began; the
    /// pool rolls it back if the connection comes back inside it.
    Begun(PooledConnection),
}

impl Deref for Pinned {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Pinned::Deferred(tx) => tx,
            Pinned::Begun(conn) => conn,
        }
    }
}

impl DerefMut for Pinned {
    fn deref_mut(&mut self) -> &mut Connection {
        match self {
            Pinned::Deferred(tx) => tx,
            Pinned::Begun(conn) => conn,
        }
    }
}

fn savepoint(depth: u32) -> String {
    format!("pgtusk_sea_orm_{depth}")
}

/// `SET TRANSACTION …` for the options given, as sea-orm's sqlx backend sends it; `None`
/// when there are none.
fn characteristics(
    isolation_level: Option<IsolationLevel>,
    access_mode: Option<AccessMode>,
) -> Option<String> {
    let mut modes = Vec::new();
    if let Some(level) = isolation_level {
        modes.push(format!("ISOLATION LEVEL {level}"));
    }
    if let Some(mode) = access_mode {
        modes.push(mode.to_string());
    }
    (!modes.is_empty()).then(|| modes.join(" "))
}

impl TuskTransaction {
    /// Begins a transaction on a connection of `pool`.
    pub(crate) async fn begin(
        pool: &pgtusk::Pool,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<TuskTransaction, DbErr> {
        let pinned = match characteristics(isolation_level, access_mode) {
            // No round trip: BEGIN goes out with the first statement.
            None => Pinned::Deferred(pool.transaction().await.map_err(exec_err)?),
            // One round trip (sqlx's backend takes two: BEGIN, then SET TRANSACTION).
            Some(modes) => {
                let mut conn = pool.acquire().await.map_err(exec_err)?;
                conn.execute_script(&format!("BEGIN {modes}"))
                    .await
                    .map_err(exec_err)?;
                Pinned::Begun(conn)
            }
        };
        Ok(TuskTransaction {
            shared: Arc::new(Shared {
                conn: Arc::new(AsyncMutex::new(Some(pinned))),
                levels: Mutex::new(Levels {
                    innermost: Some(0),
                    owed: Vec::new(),
                }),
            }),
            depth: 0,
            open: true,
        })
    }

    /// 0 for a transaction, n for a savepoint n levels down.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    fn levels(&self) -> MutexGuard<'_, Levels> {
        // A panic while the lock was held left nothing half-done in `Levels`.
        self.shared
            .levels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Refuses a level that an outer level's end has already ended.
    fn check_open(&self, stage: Stage) -> Result<(), DbErr> {
        match self.levels().innermost {
            None => Err(ended(stage)),
            Some(innermost) if innermost < self.depth => Err(backend_err(
                stage,
                format!(
                    "this nested transaction (savepoint {}) has ended: the transaction around \
                     it committed or rolled back first",
                    savepoint(self.depth)
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// The lock on the pinned connection, once the SQL owed by dropped savepoints has run.
    async fn lock(&self, stage: Stage) -> Result<AsyncMutexGuard<'_, Option<Pinned>>, DbErr> {
        self.check_open(stage)?;
        let mut guard = self.shared.conn.lock().await;
        self.pay_owed(stage, &mut guard).await?;
        Ok(guard)
    }

    /// [`lock`](Self::lock), held by its owner (a row stream) rather than borrowed.
    pub(crate) async fn lock_owned(
        &self,
        stage: Stage,
    ) -> Result<OwnedMappedMutexGuard<Option<Pinned>, Pinned>, DbErr> {
        self.check_open(stage)?;
        let mut guard = Arc::clone(&self.shared.conn).lock_owned().await;
        self.pay_owed(stage, &mut guard).await?;
        OwnedMutexGuard::try_map(guard, Option::as_mut).map_err(|_| ended(stage))
    }

    /// Runs the SQL owed by savepoints dropped open.
    async fn pay_owed(&self, stage: Stage, pinned: &mut Option<Pinned>) -> Result<(), DbErr> {
        let Some(conn) = pinned.as_mut() else {
            return Err(ended(stage));
        };
        let owed = std::mem::take(&mut self.levels().owed);
        if owed.is_empty() {
            return Ok(());
        }
        if let Err(e) = conn.execute_script(&owed.join("; ")).await {
            // Still owed: no statement (COMMIT included) runs before these rollbacks have,
            // so a dropped savepoint's work is never committed.
            let mut levels = self.levels();
            let later = std::mem::replace(&mut levels.owed, owed);
            levels.owed.extend(later);
            return Err(db_err(stage, e));
        }
        Ok(())
    }

    /// The pinned connection, once the SQL owed by dropped savepoints has run.
    pub(crate) async fn conn(&self, stage: Stage) -> Result<MappedMutexGuard<'_, Pinned>, DbErr> {
        let guard = self.lock(stage).await?;
        AsyncMutexGuard::try_map(guard, Option::as_mut).map_err(|_| ended(stage))
    }

    /// A savepoint inside this transaction (or inside its innermost savepoint).
    async fn begin_nested(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<TuskTransaction, DbErr> {
        let mut conn = self.conn(Stage::Exec).await?;
        let depth = self.levels().innermost.unwrap_or(self.depth) + 1;
        let mut sql = format!("SAVEPOINT {}", savepoint(depth));
        // As sea-orm on sqlx does: the server refuses an isolation level in a savepoint.
        if let Some(modes) = characteristics(isolation_level, access_mode) {
            sql.push_str("; SET TRANSACTION ");
            sql.push_str(&modes);
        }
        conn.execute_script(&sql).await.map_err(exec_err)?;
        self.levels().innermost = Some(depth);
        Ok(TuskTransaction {
            shared: Arc::clone(&self.shared),
            depth,
            open: true,
        })
    }

    /// Runs `callback` in a nested transaction: commits on `Ok`, rolls back on `Err`.
    pub(crate) async fn run<F, T, E>(self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c TuskTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: fmt::Display + fmt::Debug + Send,
    {
        let outcome = callback(&self).await;
        match outcome {
            Ok(value) => {
                self.commit_level()
                    .await
                    .map_err(TransactionError::Connection)?;
                Ok(value)
            }
            Err(e) => {
                self.rollback_level()
                    .await
                    .map_err(TransactionError::Connection)?;
                Err(TransactionError::Transaction(e))
            }
        }
    }

    /// Marks this level and every level inside it as ended.
    fn end_level(&mut self) {
        self.open = false;
        let mut levels = self.levels();
        if self.depth == 0 {
            levels.innermost = None;
            levels.owed.clear();
        } else if levels.innermost.is_some_and(|i| i >= self.depth) {
            levels.innermost = Some(self.depth - 1);
        }
    }

    async fn commit_level(mut self) -> Result<(), DbErr> {
        if self.depth > 0 {
            let mut conn = self.conn(Stage::Exec).await?;
            conn.execute_script(&format!("RELEASE SAVEPOINT {}", savepoint(self.depth)))
                .await
                .map_err(exec_err)?;
            drop(conn);
            self.end_level();
            return Ok(());
        }
        let taken = self.lock(Stage::Exec).await?.take();
        self.end_level();
        match taken {
            Some(Pinned::Deferred(tx)) => tx.commit().await.map_err(exec_err),
            Some(Pinned::Begun(mut conn)) => {
                if conn.transaction_status() == TransactionStatus::Failed {
                    // COMMIT would roll back without an error; say so instead.
                    conn.execute_script("ROLLBACK").await.map_err(exec_err)?;
                    return Err(exec_err(pgtusk::Error::TransactionRolledBack));
                }
                // As Transaction::commit: a lost answer is an unknown outcome, not a failure.
                conn.commit_block().await.map_err(exec_err)
            }
            None => Err(ended(Stage::Exec)),
        }
    }

    async fn rollback_level(mut self) -> Result<(), DbErr> {
        if self.depth > 0 {
            let mut conn = self.conn(Stage::Exec).await?;
            let name = savepoint(self.depth);
            conn.execute_script(&format!(
                "ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"
            ))
            .await
            .map_err(exec_err)?;
            drop(conn);
            self.end_level();
            return Ok(());
        }
        self.check_open(Stage::Exec)?;
        let taken = self.shared.conn.lock().await.take();
        self.end_level();
        match taken {
            Some(Pinned::Deferred(tx)) => tx.rollback().await.map_err(exec_err),
            Some(Pinned::Begun(mut conn)) => {
                conn.execute_script("ROLLBACK").await.map_err(exec_err)
            }
            None => Err(ended(Stage::Exec)),
        }
    }
}

fn ended(stage: Stage) -> DbErr {
    backend_err(
        stage,
        "the transaction has ended (committed, rolled back, or dropped): begin a new one",
    )
}

fn exec_err(e: pgtusk::Error) -> DbErr {
    db_err(Stage::Exec, e)
}

impl Drop for TuskTransaction {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let depth = self.depth;
        let mut levels = self.levels();
        if depth == 0 {
            levels.innermost = None;
            levels.owed.clear();
            drop(levels);
            // The connection goes back now, unless another level is using it this moment;
            // then it goes back when the last level is dropped.
            if let Ok(mut conn) = self.shared.conn.try_lock() {
                drop(conn.take());
            }
        } else if levels.innermost.is_some_and(|i| i >= depth) {
            let name = savepoint(depth);
            levels.owed.push(format!(
                "ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"
            ));
            levels.innermost = Some(depth - 1);
        }
    }
}

impl fmt::Debug for TuskTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TuskTransaction")
            .field("depth", &self.depth)
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for TuskTransaction {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn(Stage::Exec).await?;
        statement::execute(&mut conn, stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn(Stage::Exec).await?;
        statement::execute_unprepared(&mut conn, sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut conn = self.conn(Stage::Query).await?;
        statement::query_one(&mut conn, stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut conn = self.conn(Stage::Query).await?;
        statement::query_all(&mut conn, stmt).await
    }
}

#[async_trait::async_trait]
impl TransactionSession for TuskTransaction {
    /// Commits (a nested transaction: releases its savepoint). A transaction that failed
    /// is rolled back and this returns an error that says so, where sqlx returns `Ok`.
    async fn commit(self) -> Result<(), DbErr> {
        self.commit_level().await
    }

    /// Rolls back (a nested transaction: to its savepoint).
    async fn rollback(self) -> Result<(), DbErr> {
        self.rollback_level().await
    }
}

/// `begin` on a transaction nests: a savepoint on the same connection.
#[async_trait::async_trait]
impl TransactionTrait for TuskTransaction {
    type Transaction = TuskTransaction;

    async fn begin(&self) -> Result<TuskTransaction, DbErr> {
        self.begin_nested(None, None).await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<TuskTransaction, DbErr> {
        self.begin_nested(isolation_level, access_mode).await
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<TuskTransaction, DbErr> {
        self.begin_nested(options.isolation_level, options.access_mode)
            .await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c TuskTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: fmt::Display + fmt::Debug + Send,
    {
        self.transaction_with_config(callback, None, None).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c TuskTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: fmt::Display + fmt::Debug + Send,
    {
        let nested = self
            .begin_nested(isolation_level, access_mode)
            .await
            .map_err(TransactionError::Connection)?;
        nested.run(callback).await
    }
}

/// What sea-orm asks of a transaction type, checked when this crate builds.
const _: fn() = || {
    fn is_sea_orm_transaction<T>()
    where
        T: ConnectionTrait
            + TransactionTrait<Transaction = T>
            + TransactionSession
            + ::sea_orm::StreamTrait
            + Send
            + Sync,
    {
    }
    is_sea_orm_transaction::<TuskTransaction>();
};
