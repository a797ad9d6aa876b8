//! Typed queries: rows decoded straight into a [`FromRecord`] type, with one plan (column
//! names resolved to indices, column types checked) per result.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_util::TryStreamExt;

use std::sync::Arc;

use super::Connection;
use super::query::{Current, IntoQuery, Params, RowStream, no_rows};
use crate::error::{Error, Result};
use crate::from_record::{FromRecord, RecordPlan};
use crate::record::Columns;

impl Connection {
    /// Runs a query and decodes every row into `T`.
    ///
    /// The result's columns are matched to `T`'s fields once, before the first row is read:
    /// a missing column or a column type `T` cannot decode is an error even for an empty result.
    ///
    /// ```no_run
    /// #[derive(pgtusk::FromRecord)]
    /// struct Animal {
    ///     id: i64,
    ///     name: String,
    /// }
    ///
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let animals: Vec<Animal> = conn.fetch_as("SELECT id, name FROM animals", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Vec<T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        let mut plan = None;
        let mut rows = self
            .stream_checked(
                query.into_query(),
                params,
                &mut Current(plan_into::<T>(&mut plan)),
            )
            .await?;
        let plan = planned(plan)?;
        let mut out = Vec::with_capacity(rows.columns().row_count_hint());
        while let Some(record) = rows.try_next().await? {
            out.push(T::from_record(&record, &plan)?);
        }
        Ok(out)
    }

    /// Runs a query and decodes its first row into `T`; an error when there is none.
    /// Only one row travels.
    pub async fn fetch_one_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<T>
    where
        T: for<'r> FromRecord<'r>,
    {
        let query = query.into_query();
        match self.fetch_optional_as(query, params).await? {
            Some(row) => Ok(row),
            None => Err(no_rows(query)),
        }
    }

    /// Runs a query and decodes its first row into `T`, if there is one. Only one row travels.
    /// The columns are checked against `T` before the query runs, also when no row comes.
    pub async fn fetch_optional_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Option<T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        let mut plan = None;
        let record = self
            .fetch_first_checked(
                query.into_query(),
                params,
                &mut Current(plan_into::<T>(&mut plan)),
            )
            .await?;
        match record {
            Some(record) => T::from_record(&record, &planned(plan)?).map(Some),
            None => Ok(None),
        }
    }

    /// Runs a query and streams its rows decoded into `T`, without buffering the result. The
    /// plan is made from the result's columns before the first row.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    ///
    /// #[derive(pgtusk::FromRecord)]
    /// struct Point {
    ///     x: i32,
    ///     y: i32,
    /// }
    ///
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let mut points = conn
    ///     .fetch_stream_as::<Point>("SELECT g AS x, g * g AS y FROM generate_series(1, 1000) g", &[])
    ///     .await?;
    /// while let Some(p) = points.try_next().await? {
    ///     println!("{} {}", p.x, p.y);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn fetch_stream_as<'a, T>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<TypedRowStream<'_, T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        let mut plan = None;
        let rows = self
            .stream_checked(
                query.into_query(),
                params,
                &mut Current(plan_into::<T>(&mut plan)),
            )
            .await?;
        let plan = planned(plan)?;
        Ok(TypedRowStream {
            rows,
            plan,
            _rows: PhantomData,
        })
    }
}

/// A column check that makes `T`'s plan before the query runs: a struct that does not fit the
/// result is an error before anything executes (an `UPDATE … RETURNING` included).
fn plan_into<T>(slot: &mut Option<T::Plan>) -> impl FnMut(&Arc<Columns>) -> Result<()> + Send + '_
where
    T: for<'r> FromRecord<'r>,
    T::Plan: Send,
{
    move |columns| {
        *slot = Some(T::plan(columns)?);
        Ok(())
    }
}

/// The plan the check made; the check runs before any row can arrive.
fn planned<P>(plan: Option<P>) -> Result<P> {
    plan.ok_or_else(|| Error::Interface("the result was not planned before its rows".to_owned()))
}

/// Rows of a query decoded into `T` as they arrive; see [`Connection::fetch_stream_as`].
///
/// Dropping it early is safe: the connection drains the rest before its next operation.
pub struct TypedRowStream<'c, T: RecordPlan> {
    rows: RowStream<'c>,
    plan: T::Plan,
    _rows: PhantomData<fn() -> T>,
}

impl<'c, T: RecordPlan> TypedRowStream<'c, T> {
    /// The underlying rows, with the result's columns and, at the end, the rows affected.
    pub fn rows(&self) -> &RowStream<'c> {
        &self.rows
    }
}

// Nothing in the stream is pinned structurally: the plan is only read.
impl<T: RecordPlan> Unpin for TypedRowStream<'_, T> {}

impl<T> Stream for TypedRowStream<'_, T>
where
    T: for<'r> FromRecord<'r>,
{
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        let next = ready!(Pin::new(&mut this.rows).poll_next(cx));
        Poll::Ready(next.map(|record| T::from_record(&record?, &this.plan)))
    }
}

impl<T: RecordPlan> fmt::Debug for TypedRowStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedRowStream")
            .field("rows", &self.rows)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}
