//! Typed COPY TO STDOUT: a query's rows in COPY's binary format, read as [`Record`]s that
//! share the received bytes, or decoded straight into [`FromRecord`] structs.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_util::TryStreamExt;

use super::{CopyOut, check_binary_columns};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::from_record::FromRecord;
use crate::protocol::copy_binary::BinaryCopyReader;
use crate::record::{Columns, Record};

impl Connection {
    /// Runs `query` (a SELECT, VALUES or `TABLE name`, without parameters) as
    /// `COPY (query) TO STDOUT (FORMAT binary)` and streams its rows as [`Record`]s.
    ///
    /// The result's columns come from a cached description of `query`, so the records decode
    /// as a [`fetch`](Connection::fetch) of the same query would; COPY skips the per-row
    /// protocol overhead of a query, which pays for large results. Dropping the stream before
    /// its end cancels the server's work, as for any dropped query.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let mut rows = conn.copy_out_rows("SELECT id, name FROM animals").await?;
    /// while let Some(row) = rows.try_next().await? {
    ///     let name: &str = row.get("name");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn copy_out_rows(&mut self, query: &str) -> Result<CopyOutRows<'_>> {
        let query = query.trim_end().trim_end_matches(';').trim_end();
        self.ready().await?;
        let stmt = self.cached_or_prepare(query).await?;
        if !stmt.params().is_empty() {
            return Err(Error::Interface(format!(
                "copy_out_rows: the query takes {} parameter(s), and COPY cannot bind \
                 parameters; write the values into the query, or use fetch_stream",
                stmt.params().len()
            )));
        }
        let columns = stmt.columns_arc().clone();
        check_binary_columns(&columns, "copy_out_rows")?;
        let sql = format!("COPY ({query}) TO STDOUT (FORMAT binary)");
        let max_tuple = self.max_message_size;
        let out = self.copy_out(&sql).await?;
        Ok(CopyOutRows {
            reader: BinaryCopyReader::new(columns.len(), max_tuple),
            columns,
            out,
            checked: false,
        })
    }

    /// Runs `query` as a binary COPY (see [`Connection::copy_out_rows`]) and decodes every
    /// row into `T`.
    ///
    /// ```no_run
    /// #[derive(pgtusk::FromRecord)]
    /// struct Animal {
    ///     id: i64,
    ///     name: String,
    /// }
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let animals: Vec<Animal> = conn.copy_out_as("SELECT id, name FROM animals").await?;
    /// # Ok(()) }
    /// ```
    pub async fn copy_out_as<T>(&mut self, query: &str) -> Result<Vec<T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        let mut rows = self.copy_out_rows(query).await?;
        let plan = T::plan(rows.columns())?;
        let mut out = Vec::with_capacity(rows.columns.row_count_hint());
        while let Some(record) = rows.try_next().await? {
            out.push(T::from_record(&record, &plan)?);
        }
        rows.columns.set_row_count_hint(out.len());
        Ok(out)
    }
}

/// The rows of a binary `COPY (query) TO STDOUT`, from [`Connection::copy_out_rows`]: a
/// `Stream` of `Result<Record>`.
#[must_use = "streams do nothing unless polled"]
pub struct CopyOutRows<'c> {
    out: CopyOut<'c>,
    reader: BinaryCopyReader,
    columns: Arc<Columns>,
    /// The end was checked (or an error ended the stream): nothing more to say.
    checked: bool,
}

impl CopyOutRows<'_> {
    /// The query's columns.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The number of rows copied, once the stream has ended.
    pub fn rows_copied(&self) -> Option<u64> {
        self.out.rows_copied()
    }
}

impl Stream for CopyOutRows<'_> {
    type Item = Result<Record>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Record>>> {
        let this = self.get_mut();
        loop {
            match this.reader.next_tuple() {
                Ok(Some(row)) => {
                    return Poll::Ready(Some(Ok(Record::from_data_row(row, this.columns.clone()))));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            }
            match ready!(this.out.poll_chunk(cx)) {
                Some(Ok(data)) => {
                    if let Err(e) = this.reader.feed(data) {
                        return Poll::Ready(Some(Err(e.into())));
                    }
                }
                Some(Err(e)) => {
                    this.checked = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None if this.checked => return Poll::Ready(None),
                None => {
                    // The data must have ended with its trailer; said once.
                    this.checked = true;
                    return Poll::Ready(this.reader.finish().err().map(|e| Err(e.into())));
                }
            }
        }
    }
}

impl std::fmt::Debug for CopyOutRows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOutRows")
            .field("columns", &self.columns.as_slice())
            .finish_non_exhaustive()
    }
}
