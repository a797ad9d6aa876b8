//! [`Cursor`] (a portal inside a blocking [`Transaction`]) and [`HoldCursor`] (`WITH HOLD`,
//! on the connection): a query's rows read a few at a time, as an [`Iterator`].

use std::fmt;

use super::{Runtime, Transaction};
use crate::error::Result;
use crate::{Columns, FromRecord, IntoQuery, Record};

/// Implements the methods both cursors share over their async twin `$inner`.
macro_rules! cursor_methods {
    ($name:literal) => {
        /// Rows the iterator asks for per round trip: 50 unless set here. At least 1.
        pub fn prefetch(self, rows: u32) -> Self {
            let Self { cursor, rt } = self;
            Self {
                cursor: cursor.prefetch(rows),
                rt,
            }
        }

        /// The next `n` rows (fewer at the end, none after it): one round trip, none when
        /// prefetched rows cover them.
        pub fn fetch(&mut self, n: u32) -> Result<Vec<Record>> {
            self.rt
                .block_on(concat!($name, "::fetch"), self.cursor.fetch(n))
        }

        /// The next row, if there is one.
        pub fn fetch_one(&mut self) -> Result<Option<Record>> {
            self.rt
                .block_on(concat!($name, "::fetch_one"), self.cursor.fetch_one())
        }

        /// The next `n` rows decoded into `T`, checked against the columns first.
        pub fn fetch_as<T>(&mut self, n: u32) -> Result<Vec<T>>
        where
            T: for<'r> FromRecord<'r>,
        {
            self.rt
                .block_on(concat!($name, "::fetch_as"), self.cursor.fetch_as(n))
        }

        /// Skips `n` rows on the server (`MOVE FORWARD n`) and returns how many were skipped.
        pub fn forward(&mut self, n: u32) -> Result<u64> {
            self.rt
                .block_on(concat!($name, "::forward"), self.cursor.forward(n))
        }

        /// The result's columns.
        pub fn columns(&self) -> &Columns {
            self.cursor.columns()
        }

        /// The cursor's name on the server, as `pg_cursors` shows it.
        pub fn name(&self) -> &str {
            self.cursor.name()
        }

        /// Closes the cursor now (one round trip) instead of with the next request.
        pub fn close(self) -> Result<()> {
            self.rt
                .block_on(concat!($name, "::close"), self.cursor.close())
        }
    };
}

/// A cursor inside a blocking [`Transaction`], from [`Transaction::cursor`]: an [`Iterator`]
/// over the remaining rows that reads [`prefetch`](Cursor::prefetch) rows per round trip, so
/// memory stays bounded whatever the result's size.
///
/// ```no_run
/// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
/// let mut tx = conn.transaction()?;
/// let mut cursor = tx
///     .cursor("SELECT g FROM generate_series(1, $1) g", &[&1_000_000i32])?
///     .prefetch(1000);
/// let first = cursor.fetch(10)?; // rows 1..=10
/// cursor.forward(90)?; // skips 11..=100 on the server
/// for row in &mut cursor {
///     let g: i32 = row?.get(0); // the rest, 1000 per round trip
/// }
/// drop(cursor);
/// tx.commit()?;
/// # Ok(()) }
/// ```
pub struct Cursor<'t> {
    cursor: crate::Cursor<'t>,
    rt: &'t Runtime,
}

impl Cursor<'_> {
    cursor_methods!("Cursor");
}

impl Iterator for Cursor<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        self.rt
            .block_on("Cursor::next", self.cursor.next_row())
            .transpose()
    }
}

impl fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Cursor")
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl Transaction<'_> {
    /// Opens a cursor over `query` inside this transaction (a named portal); read it with
    /// [`Cursor::fetch`], [`Cursor::forward`] or as an [`Iterator`]. The query must return
    /// rows.
    pub fn cursor<'a>(
        &mut self,
        query: impl IntoQuery<'a>,
        params: &[&(dyn crate::Encode + Sync)],
    ) -> Result<Cursor<'_>> {
        let (tx, rt) = self.inner();
        let cursor = rt.block_on("Transaction::cursor", tx.cursor(query, params))?;
        Ok(Cursor { cursor, rt })
    }
}

/// A `DECLARE … CURSOR WITH HOLD` cursor on a blocking connection, from
/// [`Connection::hold_cursor`](super::Connection::hold_cursor): it needs no transaction and
/// stays open across commits. An [`Iterator`] like [`Cursor`].
///
/// ```no_run
/// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
/// let mut cursor = conn.hold_cursor("SELECT id FROM jobs", &[])?.prefetch(500);
/// let ids: Vec<i64> = cursor.by_ref().map(|row| row.map(|r| r.get(0))).collect::<Result<_, _>>()?;
/// cursor.close()?;
/// # Ok(()) }
/// ```
pub struct HoldCursor<'c> {
    cursor: crate::HoldCursor<'c>,
    rt: &'c Runtime,
}

impl<'c> HoldCursor<'c> {
    pub(crate) fn new(cursor: crate::HoldCursor<'c>, rt: &'c Runtime) -> HoldCursor<'c> {
        HoldCursor { cursor, rt }
    }

    cursor_methods!("HoldCursor");
}

impl Iterator for HoldCursor<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        self.rt
            .block_on("HoldCursor::next", self.cursor.next_row())
            .transpose()
    }
}

impl fmt::Debug for HoldCursor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::HoldCursor")
            .field("cursor", &self.cursor)
            .finish()
    }
}
