//! [`TuskDatabase`]: sea-orm's `ConnectionTrait` and `TransactionTrait` over a pgtusk
//! [`Pool`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use ::sea_orm::{
    AccessMode, ConnectionTrait, DbBackend, DbErr, ExecResult, IsolationLevel, QueryResult,
    Statement, TransactionError, TransactionOptions, TransactionTrait,
};
use pgtusk::{Pool, PooledConnection};

use super::error::{Stage, db_err};
use super::statement;
use super::transaction::TuskTransaction;

/// A pgtusk [`Pool`] as a sea-orm database: pass `&db` wherever sea-orm takes a
/// connection (`Entity::find().all(&db)`, `model.insert(&db)`, `db.transaction(…)`).
///
/// Each statement runs on whichever connection of the pool is free, after
/// [`rewrite`](crate::rewrite), with binary parameters and the statement cached on that
/// connection. Cheap to clone (clones share the pool).
///
/// ```no_run
/// use pgtusk_dialect::sea_orm::TuskDatabase;
/// use sea_orm::{ConnectionTrait, Statement, DbBackend};
///
/// # async fn demo() -> Result<(), sea_orm::DbErr> {
/// let db = TuskDatabase::connect("postgres://postgres@localhost/postgres").await?;
/// let row = db
///     .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT 1 AS one"))
///     .await?
///     .expect("one row");
/// let one: i32 = row.try_get("", "one")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TuskDatabase {
    pool: Pool,
}

impl TuskDatabase {
    /// sea-orm on this pool.
    pub fn new(pool: Pool) -> TuskDatabase {
        TuskDatabase { pool }
    }

    /// A pool with default options for `dsn` (a URL or `key=value` DSN), as sea-orm.
    pub async fn connect(dsn: &str) -> Result<TuskDatabase, DbErr> {
        let pool = Pool::connect(dsn)
            .await
            .map_err(|e| db_err(Stage::Exec, e))?;
        Ok(TuskDatabase { pool })
    }

    /// The pool, for pgtusk's own API (`pool.acquire()`, `(&pool).fetch(…)`, …).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Closes the pool gracefully, as sea-orm's `DatabaseConnection::close` does: see
    /// [`Pool::close`]. Clones of this database share the pool and are closed too.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

impl TuskDatabase {
    /// A pooled connection for one statement; a failure is the `DbErr` of `stage`.
    async fn acquire(&self, stage: Stage) -> Result<PooledConnection, DbErr> {
        self.pool.acquire().await.map_err(|e| db_err(stage, e))
    }
}

impl From<Pool> for TuskDatabase {
    fn from(pool: Pool) -> TuskDatabase {
        TuskDatabase::new(pool)
    }
}

impl fmt::Debug for TuskDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TuskDatabase")
            .field("pool", &self.pool)
            .finish()
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for TuskDatabase {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut conn = self.acquire(Stage::Exec).await?;
        statement::execute(&mut conn, stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut conn = self.acquire(Stage::Exec).await?;
        statement::execute_unprepared(&mut conn, sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut conn = self.acquire(Stage::Query).await?;
        statement::query_one(&mut conn, stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut conn = self.acquire(Stage::Query).await?;
        statement::query_all(&mut conn, stmt).await
    }
}

/// Transactions pin one connection of the pool until they end; see [`TuskTransaction`].
#[async_trait::async_trait]
impl TransactionTrait for TuskDatabase {
    type Transaction = TuskTransaction;

    async fn begin(&self) -> Result<TuskTransaction, DbErr> {
        TuskTransaction::begin(&self.pool, None, None).await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<TuskTransaction, DbErr> {
        TuskTransaction::begin(&self.pool, isolation_level, access_mode).await
    }

    /// `sqlite_transaction_mode` is SQLite's; PostgreSQL ignores it, as sqlx's backend does.
    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<TuskTransaction, DbErr> {
        TuskTransaction::begin(&self.pool, options.isolation_level, options.access_mode).await
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
        let tx = TuskTransaction::begin(&self.pool, isolation_level, access_mode)
            .await
            .map_err(TransactionError::Connection)?;
        tx.run(callback).await
    }
}
