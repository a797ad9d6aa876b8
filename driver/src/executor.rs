//! [`Executor`]: what runs SQL, so that code written once takes a connection, a transaction or
//! a pool.

use std::future::Future;

use crate::{Connection, Encode, Record, Result};

/// Something that runs SQL with parameters: a [`Connection`] or a
/// [`Transaction`](crate::Transaction) (and the pool, when it lands), so code generic over
/// `Executor` (a query builder, a repository, a helper) takes any of them.
///
/// The methods are those of [`Connection`] with the SQL as `&str`: each statement goes through
/// the statement cache, and its parameters are encoded for the types the server asks for. The
/// futures are `Send`, so generic code can be spawned. `&mut E` is an `Executor` too, so a
/// function that takes `&mut impl Executor` can be handed a reborrow.
///
/// The inherent methods of [`Connection`] come first when both are in scope:
/// `conn.fetch(&statement, …)` still takes a prepared [`Statement`](crate::Statement).
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
pub trait Executor {
    /// Runs a query and returns every row ([`Connection::fetch`]).
    fn fetch(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<Record>>> + Send;

    /// Runs a query and returns its first row, if any; only one row travels
    /// ([`Connection::fetch_optional`]).
    fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<Record>>> + Send;

    /// Runs a statement and returns the number of rows it affected ([`Connection::execute`]).
    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<u64>> + Send;
}

impl Executor for Connection {
    fn fetch(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<Record>>> + Send {
        Connection::fetch(self, sql, params)
    }

    fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<Record>>> + Send {
        Connection::fetch_optional(self, sql, params)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<u64>> + Send {
        Connection::execute(self, sql, params)
    }
}

impl<E: Executor + Send> Executor for &mut E {
    fn fetch(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<Record>>> + Send {
        (**self).fetch(sql, params)
    }

    fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<Record>>> + Send {
        (**self).fetch_optional(sql, params)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<u64>> + Send {
        (**self).execute(sql, params)
    }
}

/// A transaction runs its statements on its connection, inside the transaction.
impl Executor for crate::Transaction<'_> {
    fn fetch(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Vec<Record>>> + Send {
        Connection::fetch(self, sql, params)
    }

    fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<Option<Record>>> + Send {
        Connection::fetch_optional(self, sql, params)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn Encode + Sync)],
    ) -> impl Future<Output = Result<u64>> + Send {
        Connection::execute(self, sql, params)
    }
}
