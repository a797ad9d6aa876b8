//! Running sea-query statements on pgtusk: [`StatementExt`] runs them on any [`Executor`]
//! (pgtusk's own trait, re-exported here): a connection, a transaction, a pooled connection,
//! or the pool itself (`&mut &pool`: each statement acquires a connection and releases it).
//!
//! ```no_run
//! use pgtusk_dialect::StatementExt;
//! use pgtusk_dialect::sea_query::{Expr, ExprTrait, Query};
//!
//! #[derive(pgtusk::FromRecord)]
//! struct Animal {
//!     id: i32,
//!     name: String,
//! }
//!
//! # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
//! let animals: Vec<Animal> = Query::select()
//!     .columns(["id", "name"])
//!     .from("animals")
//!     .and_where(Expr::col("id").is_in([1, 2, 3]))
//!     .fetch_all_as(conn)
//!     .await?;
//! # Ok(()) }
//! ```

use std::future::Future;

pub use pgtusk::Executor;
use pgtusk::{Error, FromRecord, Record, Result};
use sea_query::{DeleteStatement, InsertStatement, SelectStatement, UpdateStatement, Values};

use crate::{TuskQueryBuilder, bind};

/// Decodes every record into `T`, planning once.
fn decode_all<T>(records: &[Record]) -> Result<Vec<T>>
where
    T: for<'r> FromRecord<'r>,
{
    let Some(first) = records.first() else {
        return Ok(Vec::new());
    };
    let plan = T::plan(first.columns())?;
    records.iter().map(|r| T::from_record(r, &plan)).collect()
}

/// Runs a sea-query statement, rendered by [`TuskQueryBuilder`], in one line.
///
/// Implemented for Select, Insert, Update and Delete statements and for a built
/// `(String, Values)` pair (built with any builder whose placeholders are `$n`). An insert of
/// several rows, and a built pair, also go through [`rewrite`](crate::rewrite): `VALUES` rows
/// become one array per column (`INSERT … SELECT * FROM unnest(…)`: one statement for every
/// row count, past 65,535 parameters), and a pair's `IN` lists become arrays as
/// TuskQueryBuilder renders them.
pub trait StatementExt {
    /// The SQL and its values, as [`TuskQueryBuilder`] renders them.
    fn build_tusk(&self) -> (String, Values);

    /// Every row, as records.
    fn fetch_all<E: Executor + Send>(
        &self,
        executor: &mut E,
    ) -> impl Future<Output = Result<Vec<Record>>> + Send {
        let (sql, values) = self.build_tusk();
        async move {
            let params = bind(values)?;
            executor.fetch(&sql, &params.as_refs()).await
        }
    }

    /// The first row, if any.
    fn fetch_optional<E: Executor + Send>(
        &self,
        executor: &mut E,
    ) -> impl Future<Output = Result<Option<Record>>> + Send {
        let (sql, values) = self.build_tusk();
        async move {
            let params = bind(values)?;
            executor.fetch_optional(&sql, &params.as_refs()).await
        }
    }

    /// Every row, decoded into `T`.
    fn fetch_all_as<T, E>(&self, executor: &mut E) -> impl Future<Output = Result<Vec<T>>> + Send
    where
        T: for<'r> FromRecord<'r>,
        E: Executor + Send,
    {
        let rows = self.fetch_all(executor);
        async move { decode_all(&rows.await?) }
    }

    /// The first row decoded into `T`; an error when there is none.
    fn fetch_one_as<T, E>(&self, executor: &mut E) -> impl Future<Output = Result<T>> + Send
    where
        T: for<'r> FromRecord<'r>,
        E: Executor + Send,
    {
        let row = self.fetch_optional(executor);
        async move {
            match row.await? {
                Some(r) => T::from_record_unplanned(&r),
                None => Err(Error::Interface(
                    "fetch_one_as: the query returned no rows; use fetch_optional_as to accept none"
                        .into(),
                )),
            }
        }
    }

    /// The first row decoded into `T`, if there is one.
    fn fetch_optional_as<T, E>(
        &self,
        executor: &mut E,
    ) -> impl Future<Output = Result<Option<T>>> + Send
    where
        T: for<'r> FromRecord<'r>,
        E: Executor + Send,
    {
        let row = self.fetch_optional(executor);
        async move {
            match row.await? {
                Some(r) => T::from_record_unplanned(&r).map(Some),
                None => Ok(None),
            }
        }
    }

    /// Runs the statement; the number of rows it affected.
    fn execute<E: Executor + Send>(
        &self,
        executor: &mut E,
    ) -> impl Future<Output = Result<u64>> + Send {
        let (sql, values) = self.build_tusk();
        async move {
            let params = bind(values)?;
            executor.execute(&sql, &params.as_refs()).await
        }
    }
}

macro_rules! statement_ext {
    ($($ty:ty),*) => {$(
        impl StatementExt for $ty {
            fn build_tusk(&self) -> (String, Values) {
                self.build(TuskQueryBuilder::default())
            }
        }
    )*};
}

statement_ext!(SelectStatement, UpdateStatement, DeleteStatement);

impl StatementExt for InsertStatement {
    fn build_tusk(&self) -> (String, Values) {
        let (sql, values) = self.build(TuskQueryBuilder::default());
        crate::rewrite(&sql, values)
    }
}

impl StatementExt for (String, Values) {
    fn build_tusk(&self) -> (String, Values) {
        crate::rewrite(&self.0, self.1.clone())
    }
}
