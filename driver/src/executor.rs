//! [`Executor`]: what runs SQL, so that code written once takes a connection, a transaction or
//! a pool.

use std::future::Future;

use crate::connection::RowStream;
use crate::pool::{ConnectionRef, PooledConnection};
use crate::{
    Connection, Decode, Encode, Error, FromRecord, IntoQuery, Pool, Record, Result, Statement,
    ToRecord, Transaction,
};

/// Something that runs SQL with parameters: a [`Connection`], a
/// [`Transaction`](crate::Transaction), a [`Pool`] (each call acquires a connection and
/// releases it) or a [`PooledConnection`], so code generic over
/// `Executor` (a query builder, a repository, a helper) takes any of them.
///
/// The methods are [`Connection`]'s query methods: SQL text (through the statement cache) or
/// a prepared [`Statement`], parameters encoded for the types the server asks for, rows as
/// [`Record`]s or decoded into a [`FromRecord`] type. The futures are `Send`, so generic code
/// can be spawned. `&mut E` is an `Executor` too, so a function that takes
/// `&mut impl Executor` can be handed a reborrow.
///
/// ```no_run
/// use pgtusk::{Connection, Executor, Result};
///
/// /// Renames an animal; runs on a connection, and on whatever else runs SQL.
/// async fn rename(db: &mut impl Executor, id: i64, name: &str) -> Result<bool> {
///     let n = db
///         .execute("UPDATE animals SET name = $2 WHERE id = $1", &[&id, &name])
///         .await?;
///     Ok(n == 1)
/// }
///
/// async fn names(db: &mut impl Executor) -> Result<Vec<String>> {
///     let rows = db.fetch("SELECT name FROM animals ORDER BY id", &[]).await?;
///     rows.iter().map(|r| r.try_get("name")).collect()
/// }
///
/// # async fn demo() -> Result<()> {
/// let mut conn = Connection::connect("postgres://postgres@localhost/postgres").await?;
/// rename(&mut conn, 1, "walrus").await?;
/// let all = names(&mut conn).await?;
/// # Ok(()) }
/// ```
pub trait Executor: Send {
    /// Runs a statement and returns the rows it affected ([`Connection::execute`]).
    fn execute<'a>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Runs a query and returns every row ([`Connection::fetch`]).
    fn fetch<'a>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<Record>>> + Send;

    /// Runs a query and returns its first row; [`Error::NoRows`](crate::Error::NoRows) when
    /// there is none ([`Connection::fetch_one`]).
    fn fetch_one<'a>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Record>> + Send;

    /// Runs a query and returns its first row, if any; only one row travels
    /// ([`Connection::fetch_optional`]).
    fn fetch_optional<'a>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<Record>>> + Send;

    /// The first column of the first row ([`Connection::fetch_value`]).
    fn fetch_value<'a, T>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<T>> + Send
    where
        T: for<'r> Decode<'r> + Send;

    /// Every row decoded into `T` ([`Connection::fetch_as`]).
    fn fetch_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<T>>> + Send
    where
        T: for<'r> FromRecord<'r> + Send;

    /// The first row decoded into `T` ([`Connection::fetch_one_as`]).
    fn fetch_one_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<T>> + Send
    where
        T: for<'r> FromRecord<'r> + Send;

    /// The first row decoded into `T`, if any ([`Connection::fetch_optional_as`]).
    fn fetch_optional_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<T>>> + Send
    where
        T: for<'r> FromRecord<'r> + Send;

    /// The rows as they arrive, without buffering them ([`Connection::fetch_stream`]).
    fn fetch_stream<'s, 'a>(
        &'s mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<RowStream<'s>>> + Send;

    /// Prepares a named statement ([`Connection::prepare`]).
    fn prepare(&mut self, sql: &str) -> impl Future<Output = Result<Statement>> + Send;

    /// One statement run once per parameter set, pipelined ([`Connection::execute_many`]).
    fn execute_many<'a, I, P>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        param_sets: I,
    ) -> impl Future<Output = Result<u64>> + Send
    where
        I: IntoIterator<Item = P> + Send,
        I::IntoIter: Send,
        P: ToRecord + Send;

    /// Inserts one row into `table`, its columns named by `T` ([`Connection::insert`]).
    fn insert<T>(&mut self, table: &str, row: &T) -> impl Future<Output = Result<u64>> + Send
    where
        T: ToRecord + Sync;

    /// Inserts every row into `table` in one pipelined, all-or-nothing batch
    /// ([`Connection::insert_many`]).
    fn insert_many<I>(&mut self, table: &str, rows: I) -> impl Future<Output = Result<u64>> + Send
    where
        I: IntoIterator + Send,
        I::IntoIter: Send,
        I::Item: ToRecord + Send;
}

/// Implements [`Executor`] for a type by running each method on the [`Connection`] that
/// `$conn` reaches from `$this`.
macro_rules! executor_via_connection {
    ($ty:ty, |$this:ident| $conn:expr) => {
        impl Executor for $ty {
            fn execute<'a>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<u64>> + Send {
                let $this = self;
                Connection::execute($conn, query, params)
            }

            fn fetch<'a>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Vec<Record>>> + Send {
                let $this = self;
                Connection::fetch($conn, query, params)
            }

            fn fetch_one<'a>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Record>> + Send {
                let $this = self;
                Connection::fetch_one($conn, query, params)
            }

            fn fetch_optional<'a>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Option<Record>>> + Send {
                let $this = self;
                Connection::fetch_optional($conn, query, params)
            }

            fn fetch_value<'a, T>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<T>> + Send
            where
                T: for<'r> Decode<'r> + Send,
            {
                let $this = self;
                Connection::fetch_value($conn, query, params)
            }

            fn fetch_as<'a, T>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Vec<T>>> + Send
            where
                T: for<'r> FromRecord<'r> + Send,
            {
                let $this = self;
                Connection::fetch_as($conn, query, params)
            }

            fn fetch_one_as<'a, T>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<T>> + Send
            where
                T: for<'r> FromRecord<'r> + Send,
            {
                let $this = self;
                Connection::fetch_one_as($conn, query, params)
            }

            fn fetch_optional_as<'a, T>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Option<T>>> + Send
            where
                T: for<'r> FromRecord<'r> + Send,
            {
                let $this = self;
                Connection::fetch_optional_as($conn, query, params)
            }

            fn fetch_stream<'s, 'a>(
                &'s mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<RowStream<'s>>> + Send {
                let $this = self;
                Connection::fetch_stream($conn, query, params)
            }

            fn prepare(&mut self, sql: &str) -> impl Future<Output = Result<Statement>> + Send {
                let $this = self;
                Connection::prepare($conn, sql)
            }

            fn execute_many<'a, I, P>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                param_sets: I,
            ) -> impl Future<Output = Result<u64>> + Send
            where
                I: IntoIterator<Item = P> + Send,
                I::IntoIter: Send,
                P: ToRecord + Send,
            {
                let $this = self;
                Connection::execute_many($conn, query, param_sets)
            }

            fn insert<T>(
                &mut self,
                table: &str,
                row: &T,
            ) -> impl Future<Output = Result<u64>> + Send
            where
                T: ToRecord + Sync,
            {
                let $this = self;
                Connection::insert($conn, table, row)
            }

            fn insert_many<I>(
                &mut self,
                table: &str,
                rows: I,
            ) -> impl Future<Output = Result<u64>> + Send
            where
                I: IntoIterator + Send,
                I::IntoIter: Send,
                I::Item: ToRecord + Send,
            {
                let $this = self;
                Connection::insert_many($conn, table, rows)
            }
        }
    };
}

executor_via_connection!(Connection, |conn| conn);
executor_via_connection!(Transaction<'_>, |tx| &mut **tx);
executor_via_connection!(PooledConnection, |conn| &mut **conn);

/// Implements [`Executor`] for a pool: each method acquires a connection, runs on it, and
/// releases it (a row stream keeps its connection until it is dropped).
macro_rules! executor_via_pool {
    ($ty:ty, |$this:ident| $pool:expr) => {
        impl Executor for $ty {
            fn execute<'a>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<u64>> + Send {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.execute(query, params).await }
            }

            fn fetch<'a>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Vec<Record>>> + Send {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.fetch(query, params).await }
            }

            fn fetch_one<'a>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Record>> + Send {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.fetch_one(query, params).await }
            }

            fn fetch_optional<'a>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Option<Record>>> + Send {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.fetch_optional(query, params).await }
            }

            fn fetch_value<'a, T>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<T>> + Send
            where
                T: for<'r> Decode<'r> + Send,
            {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.fetch_value(query, params).await }
            }

            fn fetch_as<'a, T>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Vec<T>>> + Send
            where
                T: for<'r> FromRecord<'r> + Send,
            {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.fetch_as(query, params).await }
            }

            fn fetch_one_as<'a, T>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<T>> + Send
            where
                T: for<'r> FromRecord<'r> + Send,
            {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.fetch_one_as(query, params).await }
            }

            fn fetch_optional_as<'a, T>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<Option<T>>> + Send
            where
                T: for<'r> FromRecord<'r> + Send,
            {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.fetch_optional_as(query, params).await }
            }

            /// The stream owns the connection it runs on, which goes back to the pool when
            /// the stream is dropped.
            fn fetch_stream<'s, 'a>(
                &'s mut self,
                query: impl IntoQuery<'a> + Send,
                params: &[&(dyn Encode + Sync)],
            ) -> impl Future<Output = Result<RowStream<'s>>> + Send {
                let $this = self;
                let pool: &Pool = $pool;
                async move {
                    let mut conn = pool.acquire().await?;
                    let stream = conn.fetch_stream(query, params).await?.detach();
                    Ok(stream.attach(ConnectionRef::Pooled(Box::new(conn))))
                }
            }

            /// A [`Statement`] belongs to one connection, and a pool's queries each run on
            /// whichever connection is free: this returns an error that says so. Queries on
            /// the pool are prepared and cached on each connection by themselves; to use a
            /// statement of your own, acquire a connection and prepare it there.
            fn prepare(&mut self, sql: &str) -> impl Future<Output = Result<Statement>> + Send {
                let message = format!(
                    "a prepared Statement belongs to one connection, and the pool runs each \
                     query on whichever is free: acquire a connection (pool.acquire()) and \
                     prepare on it. Queries on the pool are prepared and cached on every \
                     connection anyway ({})",
                    crate::connection::truncated(sql)
                );
                std::future::ready(Err(Error::Interface(message)))
            }

            fn execute_many<'a, I, P>(
                &mut self,
                query: impl IntoQuery<'a> + Send,
                param_sets: I,
            ) -> impl Future<Output = Result<u64>> + Send
            where
                I: IntoIterator<Item = P> + Send,
                I::IntoIter: Send,
                P: ToRecord + Send,
            {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.execute_many(query, param_sets).await }
            }

            fn insert<T>(
                &mut self,
                table: &str,
                row: &T,
            ) -> impl Future<Output = Result<u64>> + Send
            where
                T: ToRecord + Sync,
            {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.insert(table, row).await }
            }

            fn insert_many<I>(
                &mut self,
                table: &str,
                rows: I,
            ) -> impl Future<Output = Result<u64>> + Send
            where
                I: IntoIterator + Send,
                I::IntoIter: Send,
                I::Item: ToRecord + Send,
            {
                let $this = self;
                let pool: &Pool = $pool;
                async move { pool.acquire().await?.insert_many(table, rows).await }
            }
        }
    };
}

executor_via_pool!(Pool, |pool| pool);
executor_via_pool!(&Pool, |pool| *pool);

impl<E: Executor> Executor for &mut E {
    fn execute<'a>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<u64>> + Send {
        (**self).execute(query, params)
    }

    fn fetch<'a>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<Record>>> + Send {
        (**self).fetch(query, params)
    }

    fn fetch_one<'a>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Record>> + Send {
        (**self).fetch_one(query, params)
    }

    fn fetch_optional<'a>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<Record>>> + Send {
        (**self).fetch_optional(query, params)
    }

    fn fetch_value<'a, T>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<T>> + Send
    where
        T: for<'r> Decode<'r> + Send,
    {
        (**self).fetch_value(query, params)
    }

    fn fetch_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<T>>> + Send
    where
        T: for<'r> FromRecord<'r> + Send,
    {
        (**self).fetch_as(query, params)
    }

    fn fetch_one_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<T>> + Send
    where
        T: for<'r> FromRecord<'r> + Send,
    {
        (**self).fetch_one_as(query, params)
    }

    fn fetch_optional_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<T>>> + Send
    where
        T: for<'r> FromRecord<'r> + Send,
    {
        (**self).fetch_optional_as(query, params)
    }

    fn fetch_stream<'s, 'a>(
        &'s mut self,
        query: impl IntoQuery<'a> + Send,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<RowStream<'s>>> + Send {
        (**self).fetch_stream(query, params)
    }

    fn prepare(&mut self, sql: &str) -> impl Future<Output = Result<Statement>> + Send {
        (**self).prepare(sql)
    }

    fn execute_many<'a, I, P>(
        &mut self,
        query: impl IntoQuery<'a> + Send,
        param_sets: I,
    ) -> impl Future<Output = Result<u64>> + Send
    where
        I: IntoIterator<Item = P> + Send,
        I::IntoIter: Send,
        P: ToRecord + Send,
    {
        (**self).execute_many(query, param_sets)
    }

    fn insert<T>(&mut self, table: &str, row: &T) -> impl Future<Output = Result<u64>> + Send
    where
        T: ToRecord + Sync,
    {
        (**self).insert(table, row)
    }

    fn insert_many<I>(&mut self, table: &str, rows: I) -> impl Future<Output = Result<u64>> + Send
    where
        I: IntoIterator + Send,
        I::IntoIter: Send,
        I::Item: ToRecord + Send,
    {
        (**self).insert_many(table, rows)
    }
}
