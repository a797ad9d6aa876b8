//! Cursors: a query's rows read a few at a time, so a large result never sits in memory.
//!
//! [`Cursor`] is a named portal inside a transaction: the query is bound once, then each
//! fetch is one Execute with a row limit. Only a [`Transaction`] opens one (on a
//! [`Connection`] `cursor` does not compile), and the borrow checker keeps it from outliving
//! its transaction, which is where its portal lives. [`HoldCursor`] is a
//! `DECLARE … CURSOR WITH HOLD`: it lives on the connection, outside transactions and across
//! their commits, and is read with prepared `FETCH` statements.
//!
//! No I/O happens in `Drop`: a dropped cursor's portal is closed by a Close message at the
//! front of the connection's next request (closing a portal that is already gone is not an
//! error, so this is safe whatever became of the transaction).

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;

use crate::connection::{Connection, IntoQuery, Params, QueryRef};
use crate::error::{Error, Result};
use crate::from_record::FromRecord;
use crate::record::{Columns, Record};
use crate::statement::Statement;
use crate::transaction::Transaction;

/// Rows a stream asks for per round trip unless told otherwise (asyncpg's default too).
const DEFAULT_PREFETCH: u32 = 50;

/// The most rows one Execute, FETCH or MOVE can ask for: the protocol counts in an i32.
const MAX_ROWS: u32 = i32::MAX as u32;

/// Only a transaction opens a [`Cursor`]: this trait is the bound that makes
/// `Connection::cursor` a compile error (E0277) whose message says what to do instead.
/// Nothing implements it.
#[diagnostic::on_unimplemented(
    message = "cursors live inside a transaction: use conn.transaction(), or conn.hold_cursor(…) for a WITH HOLD cursor",
    label = "`cursor` called on a Connection, outside a transaction",
    note = "a cursor's portal lives until its transaction ends: `let mut tx = conn.transaction().await?; let mut cursor = tx.cursor(sql, params).await?;`"
)]
pub trait InTransaction: sealed::Sealed {
    /// Never called: no type implements this trait.
    fn refuse<T>(self) -> T;
}

mod sealed {
    /// Keeps [`InTransaction`](super::InTransaction) unimplementable outside this crate.
    pub trait Sealed {}
}

/// What both kinds of cursor share: the name on the server, the columns, rows prefetched but
/// not handed out yet, and where the cursor stands.
struct Core {
    name: String,
    columns: Arc<Columns>,
    buffer: VecDeque<Record>,
    prefetch: u32,
    /// The server has no rows left for this cursor.
    exhausted: bool,
    /// A fetch or move was sent and its future dropped before the answer: the rows it
    /// brought are lost, so the cursor's position is unknown.
    interrupted: bool,
    /// Closed by `close()`: nothing to queue when dropped.
    closed: bool,
    /// A WITH HOLD cursor's `FETCH` as described once (its columns, their formats); `None`
    /// for a portal, which is read with Execute.
    fetch: Option<Statement>,
}

impl Core {
    fn new(name: String) -> Core {
        Core {
            name,
            columns: Arc::new(Columns::new(Vec::new())),
            buffer: VecDeque::new(),
            prefetch: DEFAULT_PREFETCH,
            exhausted: false,
            interrupted: false,
            closed: false,
            fetch: None,
        }
    }

    /// `n` as a row count for the server, once the cursor's position is known.
    fn rows(&self, n: u32, method: &str) -> Result<i32> {
        if self.interrupted {
            return Err(Error::Interface(format!(
                "cursor {}: an earlier fetch was cancelled (its future dropped) before its \
                 rows arrived, so they are lost and the cursor's position is unknown; open a \
                 new cursor",
                self.name
            )));
        }
        i32::try_from(n).map_err(|_| {
            Error::Interface(format!(
                "{method}({n}): a cursor moves at most {MAX_ROWS} rows per call"
            ))
        })
    }

    /// Up to `n` (at least 1) more rows from the server, appended to `rows`.
    async fn pull(&mut self, conn: &mut Connection, n: i32, rows: &mut Vec<Record>) -> Result<()> {
        if self.exhausted {
            return Ok(());
        }
        let more = if let Some(fetch) = &self.fetch {
            let before = rows.len();
            self.interrupted = true;
            let fetched = conn
                .parse_execute(&fetch_sql(&self.name, n), fetch, rows)
                .await;
            self.interrupted = false;
            fetched?;
            rows.len() - before == n as usize
        } else {
            self.interrupted = true;
            let more = conn
                .execute_portal(&self.name, n, &self.columns, rows)
                .await;
            self.interrupted = false;
            more?
        };
        self.exhausted = !more;
        Ok(())
    }

    async fn fetch(&mut self, conn: &mut Connection, n: u32) -> Result<Vec<Record>> {
        let rows = self.rows(n, "fetch")?;
        let wanted = rows as usize;
        if wanted <= self.buffer.len() {
            return Ok(self.buffer.drain(..wanted).collect());
        }
        let mut more = Vec::new();
        self.pull(conn, (wanted - self.buffer.len()) as i32, &mut more)
            .await?;
        let mut all: Vec<Record> = self.buffer.drain(..).collect();
        all.append(&mut more);
        Ok(all)
    }

    async fn fetch_one(&mut self, conn: &mut Connection) -> Result<Option<Record>> {
        self.rows(1, "fetch_one")?;
        if let Some(row) = self.buffer.pop_front() {
            return Ok(Some(row));
        }
        let mut rows = Vec::with_capacity(1);
        self.pull(conn, 1, &mut rows).await?;
        Ok(rows.pop())
    }

    async fn fetch_as<T>(&mut self, conn: &mut Connection, n: u32) -> Result<Vec<T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        // Planned before anything moves: a struct that does not fit costs no rows.
        let plan = T::plan(&self.columns)?;
        let rows = self.fetch(conn, n).await?;
        rows.iter().map(|row| T::from_record(row, &plan)).collect()
    }

    /// Skips `n` rows: those prefetched first, the rest with `MOVE` on the server, which
    /// sends none of them.
    async fn forward(&mut self, conn: &mut Connection, n: u32) -> Result<u64> {
        let rows = self.rows(n, "forward")?;
        let from_buffer = (rows as usize).min(self.buffer.len());
        let rest = rows - from_buffer as i32;
        let mut moved = 0;
        if rest > 0 && !self.exhausted {
            self.interrupted = true;
            let result = conn.move_forward(&self.name, rest).await;
            self.interrupted = false;
            moved = result?;
            self.exhausted = moved < rest as u64;
        }
        self.buffer.drain(..from_buffer);
        Ok(from_buffer as u64 + moved)
    }

    /// The next row for a stream: from the buffer, refilled `prefetch` rows at a time.
    async fn next(&mut self, conn: &mut Connection) -> Result<Option<Record>> {
        let prefetch = self.rows(self.prefetch, "prefetch")?;
        if self.buffer.is_empty() && !self.exhausted {
            let mut rows = Vec::new();
            self.pull(conn, prefetch, &mut rows).await?;
            self.buffer = rows.into();
        }
        Ok(self.buffer.pop_front())
    }
}

/// A hold cursor's FETCH of `n` rows.
fn fetch_sql(cursor: &str, n: i32) -> String {
    format!("FETCH FORWARD {n} FROM \"{cursor}\"")
}

/// The rows of a cursor as a [`Stream`], `prefetch` rows per round trip; from
/// [`Cursor::stream`], [`Cursor::stream_as`] and their [`HoldCursor`] twins.
///
/// Dropping it keeps the cursor where it is: rows prefetched and not yet taken stay in the
/// cursor for its next fetch.
pub struct CursorStream<'c, T = Record> {
    inner: Pin<Box<dyn Stream<Item = Result<T>> + Send + 'c>>,
}

impl<T> Stream for CursorStream<'_, T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T> fmt::Debug for CursorStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CursorStream").finish_non_exhaustive()
    }
}

fn stream<'s>(core: &'s mut Core, conn: &'s mut Connection) -> CursorStream<'s, Record> {
    let rows = futures_util::stream::try_unfold((core, conn), |(core, conn)| async move {
        Ok(core.next(conn).await?.map(|row| (row, (core, conn))))
    });
    CursorStream {
        inner: Box::pin(rows),
    }
}

fn stream_as<'s, T>(core: &'s mut Core, conn: &'s mut Connection) -> Result<CursorStream<'s, T>>
where
    T: for<'r> FromRecord<'r> + 's,
{
    let plan = T::plan(&core.columns)?;
    let rows = stream(core, conn)
        .inner
        .map(move |row| row.and_then(|row| T::from_record(&row, &plan)));
    Ok(CursorStream {
        inner: Box::pin(rows),
    })
}

/// A cursor inside a transaction: a named portal on the server, read a few rows at a time.
/// From [`Transaction::cursor`].
///
/// [`fetch`](Cursor::fetch) and [`fetch_one`](Cursor::fetch_one) cost one round trip each
/// (an Execute with a row limit); [`forward`](Cursor::forward) skips rows on the server with
/// `MOVE`; [`stream`](Cursor::stream) reads [`prefetch`](Cursor::prefetch) rows per round
/// trip (50 unless set), so memory stays bounded by the prefetch whatever the result's size.
/// The cursor borrows the transaction: it cannot outlive it. Dropped, it closes its portal
/// with the connection's next request; [`close`](Cursor::close) closes it now.
///
/// ```no_run
/// use futures_util::TryStreamExt;
///
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let mut tx = conn.transaction().await?;
/// let mut cursor = tx
///     .cursor("SELECT g FROM generate_series(1, $1) g", &[&1_000_000i32])
///     .await?
///     .prefetch(1000);
/// let first = cursor.fetch(10).await?; // rows 1..=10
/// cursor.forward(90).await?; // skips 11..=100 on the server
/// let mut rows = cursor.stream(); // the rest, 1000 per round trip
/// while let Some(row) = rows.try_next().await? {
///     let g: i32 = row.get(0);
/// }
/// drop(rows);
/// drop(cursor);
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct Cursor<'t> {
    conn: &'t mut Connection,
    core: Core,
}

impl<'t> Cursor<'t> {
    /// Binds `query` to a new portal on `conn`, which is inside a transaction.
    async fn open(
        conn: &'t mut Connection,
        query: QueryRef<'_>,
        params: Params<'_>,
    ) -> Result<Cursor<'t>> {
        let name = conn.next_object_name("pgtusk_portal");
        // Made before the Bind goes out: if this future is dropped, the portal is closed.
        let mut cursor = Cursor {
            conn,
            core: Core::new(name),
        };
        cursor.core.columns = cursor
            .conn
            .open_portal(&cursor.core.name, query, params)
            .await?;
        Ok(cursor)
    }

    /// Rows a [`stream`](Cursor::stream) asks for per round trip: 50 unless set here.
    /// At least 1, at most `i32::MAX`.
    pub fn prefetch(mut self, rows: u32) -> Self {
        self.core.prefetch = rows.clamp(1, MAX_ROWS);
        self
    }

    /// The next `n` rows (fewer at the end, none after it): one round trip, none when
    /// prefetched rows cover them.
    pub async fn fetch(&mut self, n: u32) -> Result<Vec<Record>> {
        self.core.fetch(self.conn, n).await
    }

    /// The next row, if there is one.
    pub async fn fetch_one(&mut self) -> Result<Option<Record>> {
        self.core.fetch_one(self.conn).await
    }

    /// The next `n` rows decoded into `T`. `T` is checked against the columns before any row
    /// is fetched, once per call.
    pub async fn fetch_as<T>(&mut self, n: u32) -> Result<Vec<T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        self.core.fetch_as(self.conn, n).await
    }

    /// Skips `n` rows and returns how many were skipped (fewer at the end). The server skips
    /// them (`MOVE FORWARD n`): they are never sent.
    pub async fn forward(&mut self, n: u32) -> Result<u64> {
        self.core.forward(self.conn, n).await
    }

    /// The remaining rows as a [`Stream`], [`prefetch`](Cursor::prefetch) rows per round
    /// trip.
    pub fn stream(&mut self) -> CursorStream<'_, Record> {
        stream(&mut self.core, self.conn)
    }

    /// The remaining rows decoded into `T`, as a [`Stream`]; `T` is planned once, here.
    pub fn stream_as<'s, T>(&'s mut self) -> Result<CursorStream<'s, T>>
    where
        T: for<'r> FromRecord<'r> + 's,
    {
        stream_as(&mut self.core, self.conn)
    }

    /// The next row for an iterator: from the prefetched rows, refilled
    /// [`prefetch`](Self::prefetch) rows at a time (what [`stream`](Self::stream) yields,
    /// without a stream's allocation per call).
    #[cfg(feature = "blocking")]
    pub(crate) async fn next_row(&mut self) -> Result<Option<Record>> {
        self.core.next(self.conn).await
    }

    /// The result's columns.
    pub fn columns(&self) -> &Columns {
        &self.core.columns
    }

    /// The portal's name on the server (`pgtusk_portal_N`), as `pg_cursors` shows it.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// Opens another cursor in the same transaction while this one stays open (its portal
    /// keeps its place): a cursor per row of this one, say.
    pub async fn cursor<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Cursor<'_>> {
        Cursor::open(self.conn, query.into_query(), params).await
    }

    /// The transaction's connection, to run other statements between fetches; the cursor
    /// keeps its place.
    pub fn connection(&mut self) -> &mut Connection {
        self.conn
    }

    /// Closes the portal now (one round trip) instead of with the next request.
    pub async fn close(mut self) -> Result<()> {
        self.conn.close_portal(&self.core.name).await?;
        self.core.closed = true;
        Ok(())
    }
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        if !self.core.closed {
            self.conn.queue_portal_close(&self.core.name);
        }
    }
}

impl fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("name", &self.core.name)
            .field("prefetch", &self.core.prefetch)
            .field("prefetched", &self.core.buffer.len())
            .field("exhausted", &self.core.exhausted)
            .finish_non_exhaustive()
    }
}

/// A `DECLARE … CURSOR WITH HOLD` cursor: usable outside a transaction, and it stays open
/// when the transaction it was declared in commits. From [`Connection::hold_cursor`].
///
/// Read it like a [`Cursor`]: [`fetch`](HoldCursor::fetch) runs `FETCH FORWARD n` (described
/// once when the cursor opens, then Parse + Bind + Execute in one write), [`forward`](HoldCursor::forward) a `MOVE FORWARD n`, and
/// [`stream`](HoldCursor::stream) fetches [`prefetch`](HoldCursor::prefetch) rows per round
/// trip. Between fetches, [`connection`](HoldCursor::connection) runs anything else,
/// transactions included. Dropped, it is closed with the connection's next request;
/// [`close`](HoldCursor::close) closes it now.
///
/// The server computes the whole result when the declaring transaction commits (at once when
/// declared outside a transaction) and keeps it until the cursor is closed: the client's
/// memory stays bounded by the prefetch, the server's holds the result (on disk past
/// `work_mem`).
///
/// ```no_run
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let mut cursor = conn
///     .hold_cursor("SELECT id FROM jobs WHERE queued_before < $1", &[&1_700_000_000i64])
///     .await?;
/// loop {
///     let batch = cursor.fetch(100).await?;
///     if batch.is_empty() {
///         break;
///     }
///     // Each batch in a transaction of its own; the cursor stays open across the commits.
///     let mut tx = cursor.connection().transaction().await?;
///     for row in &batch {
///         tx.execute("UPDATE jobs SET done = true WHERE id = $1", &[&row.get::<i64>(0)])
///             .await?;
///     }
///     tx.commit().await?;
/// }
/// cursor.close().await?;
/// # Ok(()) }
/// ```
pub struct HoldCursor<'c> {
    conn: &'c mut Connection,
    core: Core,
}

impl HoldCursor<'_> {
    /// Rows a [`stream`](HoldCursor::stream) asks for per round trip: 50 unless set here.
    /// At least 1, at most `i32::MAX`.
    pub fn prefetch(mut self, rows: u32) -> Self {
        self.core.prefetch = rows.clamp(1, MAX_ROWS);
        self
    }

    /// The next `n` rows (fewer at the end, none after it): one round trip, none when
    /// prefetched rows cover them.
    pub async fn fetch(&mut self, n: u32) -> Result<Vec<Record>> {
        self.core.fetch(self.conn, n).await
    }

    /// The next row, if there is one.
    pub async fn fetch_one(&mut self) -> Result<Option<Record>> {
        self.core.fetch_one(self.conn).await
    }

    /// The next `n` rows decoded into `T`. `T` is checked against the columns before any row
    /// is fetched, once per call.
    pub async fn fetch_as<T>(&mut self, n: u32) -> Result<Vec<T>>
    where
        T: for<'r> FromRecord<'r>,
    {
        self.core.fetch_as(self.conn, n).await
    }

    /// Skips `n` rows on the server (`MOVE FORWARD n`) and returns how many were skipped.
    pub async fn forward(&mut self, n: u32) -> Result<u64> {
        self.core.forward(self.conn, n).await
    }

    /// The remaining rows as a [`Stream`], [`prefetch`](HoldCursor::prefetch) rows per round
    /// trip.
    pub fn stream(&mut self) -> CursorStream<'_, Record> {
        stream(&mut self.core, self.conn)
    }

    /// The remaining rows decoded into `T`, as a [`Stream`]; `T` is planned once, here.
    pub fn stream_as<'s, T>(&'s mut self) -> Result<CursorStream<'s, T>>
    where
        T: for<'r> FromRecord<'r> + 's,
    {
        stream_as(&mut self.core, self.conn)
    }

    /// The next row for an iterator: from the prefetched rows, refilled
    /// [`prefetch`](Self::prefetch) rows at a time (what [`stream`](Self::stream) yields,
    /// without a stream's allocation per call).
    #[cfg(feature = "blocking")]
    pub(crate) async fn next_row(&mut self) -> Result<Option<Record>> {
        self.core.next(self.conn).await
    }

    /// The result's columns.
    pub fn columns(&self) -> &Columns {
        &self.core.columns
    }

    /// The cursor's name on the server (`pgtusk_cursor_N`), as `pg_cursors` shows it.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The connection, to run other statements (and transactions) between fetches.
    pub fn connection(&mut self) -> &mut Connection {
        self.conn
    }

    /// Closes the cursor now (one round trip) instead of with the next request.
    pub async fn close(mut self) -> Result<()> {
        self.conn.close_portal(&self.core.name).await?;
        self.core.closed = true;
        Ok(())
    }
}

impl Drop for HoldCursor<'_> {
    fn drop(&mut self) {
        if !self.core.closed {
            // A DECLAREd cursor is a portal: Close('P') drops it, and is no error when the
            // cursor is already gone (declared in a transaction that rolled back), where a
            // CLOSE statement would fail and abort the transaction it ran in.
            self.conn.queue_portal_close(&self.core.name);
        }
    }
}

impl fmt::Debug for HoldCursor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HoldCursor")
            .field("name", &self.core.name)
            .field("prefetch", &self.core.prefetch)
            .field("prefetched", &self.core.buffer.len())
            .field("exhausted", &self.core.exhausted)
            .finish_non_exhaustive()
    }
}

impl Transaction<'_> {
    /// Opens a cursor over `query` inside this transaction: the query is bound to a named
    /// portal (one round trip for a cached statement) and its rows are read with
    /// [`Cursor::fetch`], [`Cursor::forward`] or [`Cursor::stream`]. Works with any
    /// `statement_cache_size`, 0 included. The query must return rows.
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let mut tx = conn.transaction().await?;
    /// let mut cursor = tx.cursor("SELECT id, name FROM animals ORDER BY id", &[]).await?;
    /// while let Some(row) = cursor.fetch_one().await? {
    ///     let name: &str = row.get("name");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn cursor<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> Result<Cursor<'_>> {
        Cursor::open(self, query.into_query(), params).await
    }
}

impl Connection {
    /// Cursors live inside a transaction, so on a `Connection` this does not compile; the
    /// error says what to do: open a [`Transaction`] and call [`Transaction::cursor`], or use
    /// [`Connection::hold_cursor`] for a cursor outside a transaction.
    ///
    /// ```compile_fail,E0277
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let cursor = conn.cursor("SELECT 1", &[]).await?; // error: cursors live inside a transaction
    /// # Ok(()) }
    /// ```
    pub fn cursor<'c, 'a>(
        &'c mut self,
        query: impl IntoQuery<'a>,
        params: Params<'_>,
    ) -> std::future::Ready<Result<Cursor<'c>>>
    where
        &'c mut Connection: InTransaction,
    {
        let _ = (query, params);
        self.refuse()
    }

    /// Declares `DECLARE pgtusk_cursor_N CURSOR WITH HOLD FOR sql` with `params` bound in
    /// binary, and returns it as a [`HoldCursor`]: a cursor that needs no transaction and
    /// stays open across commits. Opening costs three round trips (describe and run the
    /// DECLARE, describe its FETCH); each fetch then costs one, and no named statement is
    /// made.
    pub async fn hold_cursor(&mut self, sql: &str, params: Params<'_>) -> Result<HoldCursor<'_>> {
        let name = self.next_object_name("pgtusk_cursor");
        // Made before the DECLARE goes out: if this future is dropped, the cursor is closed.
        let mut cursor = HoldCursor {
            conn: self,
            core: Core::new(name),
        };
        cursor
            .conn
            .declare_hold(&cursor.core.name, sql, params)
            .await?;
        let fetch = cursor
            .conn
            .describe(&fetch_sql(&cursor.core.name, 1))
            .await?;
        cursor.core.columns = fetch.columns_arc().clone();
        cursor.core.fetch = Some(fetch);
        Ok(cursor)
    }
}
