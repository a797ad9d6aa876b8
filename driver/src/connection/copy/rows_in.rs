//! Typed COPY FROM STDIN: rows ([`ToRecord`] structs, tuples) encoded in COPY's binary format
//! with the column types the server reports, straight into the outgoing CopyData message.

use std::future::poll_fn;
use std::marker::PhantomData;

use bytes::BufMut;
use futures_core::Stream;
use futures_util::StreamExt;

use super::{COPY_CHUNK, Direction, check_binary_columns, ended_earlier};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::identifier::identifier_list;
use crate::protocol::{copy_binary, frontend};
use crate::to_record::{ToRecord, ValueWriter};
use crate::types::Type;

impl Connection {
    /// Copies `rows` into `table` with a binary COPY and returns the number of rows copied.
    ///
    /// `columns` names the columns the values go to; empty means the row type's own names
    /// (a `#[derive(ToRecord)]` struct) or, for tuples, every column of the table in order.
    /// The column types come from the server (one cached description of
    /// `SELECT <columns> FROM <table>`), and the first row is checked against them before the
    /// COPY starts: a Rust type that does not fit is an error naming the column, and nothing
    /// is sent. Rows are encoded and written in chunks, so any number of rows takes bounded
    /// memory. The COPY is all or nothing: an error in any row (on either side) rolls it back.
    ///
    /// `table` is SQL (a possibly schema-qualified name, quoted by the caller where needed);
    /// column names are quoted here.
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let rows = (0..100_000).map(|i| (i, format!("item {i}")));
    /// let copied = conn.copy_in_rows("items", &["id", "name"], rows).await?;
    /// assert_eq!(copied, 100_000);
    /// # Ok(()) }
    /// ```
    pub async fn copy_in_rows<R, I>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: I,
    ) -> Result<u64>
    where
        R: ToRecord,
        I: IntoIterator<Item = R>,
    {
        let mut rows = rows.into_iter().peekable();
        let target = self.copy_target::<R>(table, columns).await?;
        if let Some(first) = rows.peek() {
            target.check_row(first)?;
        }
        let mut writer = self.start_copy_in_rows(target).await?;
        for row in rows {
            if let Err(e) = writer.write(&row).await {
                return Err(writer.fail(e).await);
            }
        }
        writer.finish().await
    }

    /// [`Connection::copy_in_rows`] from a `Stream` of rows: each row is encoded as it
    /// arrives, and the stream's pace decides the COPY's.
    pub async fn copy_in_stream<R, S>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: S,
    ) -> Result<u64>
    where
        R: ToRecord,
        S: Stream<Item = R>,
    {
        let target = self.copy_target::<R>(table, columns).await?;
        let mut writer = self.start_copy_in_rows(target).await?;
        let mut rows = std::pin::pin!(rows);
        while let Some(row) = rows.next().await {
            if let Err(e) = writer.write(&row).await {
                return Err(writer.fail(e).await);
            }
        }
        writer.finish().await
    }

    /// Starts a binary COPY into `table` and returns a writer that takes one row at a time:
    /// for rows produced by the caller's own loop. `columns` as in
    /// [`Connection::copy_in_rows`].
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let mut writer = conn.copy_in_writer::<(i32, &str)>("items", &["id", "name"]).await?;
    /// writer.write(&(1, "one")).await?;
    /// writer.write(&(2, "two")).await?;
    /// assert_eq!(writer.finish().await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn copy_in_writer<R: ToRecord>(
        &mut self,
        table: &str,
        columns: &[&str],
    ) -> Result<CopyInWriter<'_, R>> {
        let target = self.copy_target::<R>(table, columns).await?;
        self.start_copy_in_rows(target).await
    }

    /// The columns of a typed COPY into `table` and their types, from the server.
    async fn copy_target<R: ToRecord>(&mut self, table: &str, columns: &[&str]) -> Result<Target> {
        let names: Option<Vec<&str>> = if columns.is_empty() {
            R::column_names()
        } else {
            Some(columns.to_vec())
        };
        let list = names.map(|names| identifier_list(&names));
        let select = format!("SELECT {} FROM {table}", list.as_deref().unwrap_or("*"));
        self.ready().await?;
        let stmt = self.cached_or_prepare(&select).await?;
        let described = stmt.columns();
        check_binary_columns(described, "copy_in_rows")?;
        let copy = match &list {
            Some(list) => format!("COPY {table} ({list}) FROM STDIN (FORMAT binary)"),
            None => format!("COPY {table} FROM STDIN (FORMAT binary)"),
        };
        Ok(Target {
            copy,
            types: described.iter().map(|c| c.type_().clone()).collect(),
            names: described.iter().map(|c| c.name().to_owned()).collect(),
        })
    }

    async fn start_copy_in_rows<R: ToRecord>(
        &mut self,
        target: Target,
    ) -> Result<CopyInWriter<'_, R>> {
        self.start_copy(&target.copy, Direction::In).await?;
        let out = self.session.out();
        let message = frontend::begin_copy_data(out);
        copy_binary::put_header(out);
        Ok(CopyInWriter {
            conn: self,
            target,
            message: Some(message),
            rows: 0,
            ended: None,
            row_type: PhantomData,
        })
    }
}

/// What a typed COPY writes to: its statement, and each column's name and type.
#[derive(Debug)]
struct Target {
    copy: String,
    types: Vec<Type>,
    names: Vec<String>,
}

impl Target {
    /// Encodes `row` into `buf` as one binary COPY tuple; on error `buf` is as it was.
    #[inline]
    fn encode(&self, row: &impl ToRecord, buf: &mut bytes::BytesMut) -> Result<()> {
        let start = buf.len();
        // At most 1664 columns in a table: the count fits.
        buf.put_i16(self.types.len() as i16);
        let mut values = ValueWriter::new(buf, &self.types, Some(&self.names));
        let written = row.write_values(&mut values).and_then(|()| values.finish());
        if written.is_err() {
            buf.truncate(start);
        }
        written
    }

    /// Encodes `row` aside, to find a misfit before anything is sent.
    fn check_row(&self, row: &impl ToRecord) -> Result<()> {
        self.encode(row, &mut bytes::BytesMut::new())
            .map_err(|e| at_row(e, 0))
    }
}

/// Says which row an error belongs to (0-based, in the order written).
fn at_row(error: Error, row: u64) -> Error {
    match error {
        Error::Encode(e) => Error::Encode(e.prefixed(format_args!("row {row}"))),
        other => other,
    }
}

/// Writes rows of type `R` into a binary COPY, from [`Connection::copy_in_writer`].
///
/// Rows are encoded straight into the outgoing CopyData message and written to the socket a
/// chunk at a time. A row that does not fit (a value of the wrong type, a count that differs
/// from the columns) is an error naming the row and column, and is left out; the COPY stays
/// open. [`CopyInWriter::finish`] commits the COPY; dropping the writer rolls it back.
#[must_use = "a COPY that is not finished is rolled back"]
pub struct CopyInWriter<'c, R> {
    conn: &'c mut Connection,
    target: Target,
    /// Where the CopyData message being filled starts in the session's output.
    message: Option<usize>,
    rows: u64,
    /// Why the copy can take no more rows (the server's error, a lost connection).
    ended: Option<String>,
    row_type: PhantomData<fn(&R)>,
}

impl<R: ToRecord> CopyInWriter<'_, R> {
    /// Encodes one row; writes to the socket once a chunk is queued.
    #[inline]
    pub async fn write(&mut self, row: &R) -> Result<()> {
        if let Some(reason) = &self.ended {
            return Err(ended_earlier(reason));
        }
        let out = self.conn.session.out();
        let message = *self
            .message
            .get_or_insert_with(|| frontend::begin_copy_data(out));
        self.target
            .encode(row, out)
            .map_err(|e| at_row(e, self.rows))?;
        self.rows += 1;
        if out.len() - message >= COPY_CHUNK {
            self.send_chunk().await?;
        }
        Ok(())
    }

    /// The rows written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Ends the data and returns the number of rows the server copied, or its error (the COPY
    /// is then rolled back).
    pub async fn finish(mut self) -> Result<u64> {
        if let Some(reason) = self.ended.take() {
            self.conn.finish_copy().await.ok();
            return Err(ended_earlier(&reason));
        }
        let out = self.conn.session.out();
        self.message
            .get_or_insert_with(|| frontend::begin_copy_data(out));
        copy_binary::put_trailer(out);
        self.close_message()?;
        self.conn.session.end_copy_in(None)?;
        self.conn.flush().await?;
        self.conn.finish_copy().await
    }

    /// Ends the COPY with CopyFail: nothing of it is kept. The connection stays usable.
    pub async fn abort(mut self) -> Result<()> {
        self.abort_with("pgtusk: COPY aborted by the client").await
    }

    /// Aborts after `error` and returns it (the abort's own failure is only logged).
    async fn fail(mut self, error: Error) -> Error {
        if let Err(e) = self.abort_with("pgtusk: a row could not be encoded").await {
            tracing::debug!("aborting the COPY after an error failed: {e}");
        }
        error
    }

    async fn abort_with(&mut self, reason: &str) -> Result<()> {
        self.close_message()?;
        if self.ended.take().is_none() {
            self.conn.session.end_copy_in(Some(reason))?;
            self.conn.flush().await?;
        }
        match self.conn.finish_copy().await {
            Ok(_) | Err(Error::Db(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Closes the CopyData being filled and writes what is queued, watching the server's
    /// replies.
    async fn send_chunk(&mut self) -> Result<()> {
        self.close_message()?;
        let sent = poll_fn(|cx| self.conn.poll_copy_in_send(cx, COPY_CHUNK)).await;
        if let Err(e) = &sent {
            self.ended = Some(e.to_string());
        }
        sent
    }

    /// Patches the length of the CopyData being filled (dropped when empty).
    fn close_message(&mut self) -> Result<()> {
        match self.message.take() {
            Some(start) => frontend::finish_copy_data(self.conn.session.out(), start)
                .map_err(|e| Error::Interface(format!("cannot send COPY data: {}", e.message()))),
            None => Ok(()),
        }
    }
}

impl<R> Drop for CopyInWriter<'_, R> {
    /// A message left open is closed (its rows then go out and are rolled back with the
    /// CopyFail the session sends for an unfinished copy).
    fn drop(&mut self) {
        if let Some(start) = self.message.take()
            && frontend::finish_copy_data(self.conn.session.out(), start).is_err()
        {
            self.conn.session.set_broken();
        }
    }
}

impl<R> std::fmt::Debug for CopyInWriter<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyInWriter")
            .field("columns", &self.target.names)
            .field("rows", &self.rows)
            .field("ended", &self.ended)
            .finish()
    }
}
