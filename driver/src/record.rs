//! [`Record`]: one result row that shares the message bytes, and [`Columns`], the result
//! description every row of a statement shares.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use crate::error::{BoxError, Error, Result};
use crate::from_record::short_type_name;
use crate::protocol::backend::DataRow;
use crate::types::{Decode, Type, UnexpectedNull};

/// One column of a result: its name and type as the server described them.
#[derive(Debug, Clone)]
pub struct Column {
    name: String,
    ty: Type,
    table_oid: u32,
    column_id: i16,
    type_modifier: i32,
}

impl Column {
    pub(crate) fn new(
        name: String,
        ty: Type,
        table_oid: u32,
        column_id: i16,
        type_modifier: i32,
    ) -> Self {
        Column {
            name,
            ty,
            table_oid,
            column_id,
            type_modifier,
        }
    }

    /// The column's name (its alias in the query, or `?column?`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's PostgreSQL type.
    pub fn type_(&self) -> &Type {
        &self.ty
    }

    /// The OID of the table the column comes from, or 0 for a computed column.
    pub fn table_oid(&self) -> u32 {
        self.table_oid
    }

    /// The column's attribute number in that table, or 0.
    pub fn column_id(&self) -> i16 {
        self.column_id
    }

    /// The type modifier (e.g. `varchar(n)` length + 4), or -1.
    pub fn type_modifier(&self) -> i32 {
        self.type_modifier
    }
}

/// The columns of a result, shared by every row through an `Arc`, with an O(1) name lookup
/// built once per statement. With duplicate names, the name finds the first; every column
/// stays reachable by index.
#[derive(Debug, Default)]
pub struct Columns {
    columns: Vec<Column>,
    by_name: HashMap<String, usize>,
    /// How many rows the last complete result with these columns had: the next one reserves
    /// that many up front instead of growing (and copying) its row vector step by step.
    row_count_hint: AtomicUsize,
}

impl Columns {
    pub(crate) fn new(columns: Vec<Column>) -> Self {
        let mut by_name = HashMap::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            by_name.entry(c.name.clone()).or_insert(i);
        }
        Columns {
            columns,
            by_name,
            row_count_hint: AtomicUsize::new(0),
        }
    }

    /// Rows to reserve for the next result (the size of the last one, capped).
    pub(crate) fn row_count_hint(&self) -> usize {
        self.row_count_hint
            .load(Ordering::Relaxed)
            .min(MAX_ROW_COUNT_HINT)
    }

    pub(crate) fn set_row_count_hint(&self, rows: usize) {
        self.row_count_hint.store(rows, Ordering::Relaxed);
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the result has no columns (e.g. an INSERT without RETURNING).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The index of the first column called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The column at `index`.
    pub fn get(&self, index: usize) -> Option<&Column> {
        self.columns.get(index)
    }

    /// The columns in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Column> {
        self.columns.iter()
    }

    /// The column list as a slice.
    pub fn as_slice(&self) -> &[Column] {
        &self.columns
    }
}

impl<'a> IntoIterator for &'a Columns {
    type Item = &'a Column;
    type IntoIter = std::slice::Iter<'a, Column>;

    fn into_iter(self) -> Self::IntoIter {
        self.columns.iter()
    }
}

/// How a column is named in `Record::get`: by position (`usize`) or by name (`&str`).
pub trait ColumnIndex: fmt::Debug + private::Sealed {
    #[doc(hidden)]
    fn index_in(&self, columns: &Columns) -> Option<usize>;
}

impl ColumnIndex for usize {
    fn index_in(&self, columns: &Columns) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl ColumnIndex for &str {
    fn index_in(&self, columns: &Columns) -> Option<usize> {
        columns.index_of(self)
    }
}

impl ColumnIndex for String {
    fn index_in(&self, columns: &Columns) -> Option<usize> {
        columns.index_of(self)
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for &str {}
    impl Sealed for String {}
}

/// Where each field sits in the row body: start and length, length -1 for NULL.
type FieldSpan = (u32, i32);

/// A hint never reserves more rows than this: one huge result must not make every later
/// result of the statement allocate for it.
const MAX_ROW_COUNT_HINT: usize = 8 * 1024;

/// Rows up to this wide keep their field positions inside the Record: no allocation per row.
const INLINE_FIELDS: usize = 8;

/// The field positions of one row: inline for narrow rows, on the heap for wide ones.
#[derive(Clone)]
pub(crate) enum Spans {
    Inline {
        len: u8,
        spans: [FieldSpan; INLINE_FIELDS],
    },
    Heap(Box<[FieldSpan]>),
}

impl Spans {
    fn as_slice(&self) -> &[FieldSpan] {
        match self {
            Spans::Inline { len, spans } => &spans[..usize::from(*len)],
            Spans::Heap(spans) => spans,
        }
    }
}

/// One result row.
///
/// It keeps the DataRow message's bytes (shared with the connection's read buffer, no copy per
/// field) and the statement's [`Columns`]; values are decoded only when asked for. Its methods
/// never collide with column names: columns are reached through `get`.
///
/// ```no_run
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let row = conn.fetch_one("SELECT 1::int4 AS id, 'tusk' AS name", &[]).await?;
/// let id: i32 = row.get("id");
/// let name: &str = row.get(1);
/// let missing: Option<i32> = row.try_get("nope").ok();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Record {
    body: Bytes,
    spans: Spans,
    columns: Arc<Columns>,
}

impl Record {
    /// The record of a DataRow that parsed, with the columns its statement describes.
    pub(crate) fn from_data_row(row: DataRow, columns: Arc<Columns>) -> Self {
        let spans = Record::spans_of(&row);
        Record {
            body: row.into_buffer(),
            spans,
            columns,
        }
    }

    /// The number of values in the row.
    pub fn len(&self) -> usize {
        self.spans.as_slice().len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.spans.as_slice().is_empty()
    }

    /// The result's columns (names and types), shared by every row.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The raw value of column `index` as the server sent it (binary or text format), `None`
    /// for NULL.
    #[inline]
    pub fn raw(&self, index: usize) -> Option<&[u8]> {
        let &(start, len) = self.spans.as_slice().get(index)?;
        let start = start as usize;
        (len >= 0).then(|| &self.body[start..start + len as usize])
    }

    /// Decodes column `idx` (position or name).
    ///
    /// # Panics
    /// When the column does not exist or cannot become `T`; the message names the column and
    /// both types. Use [`Record::try_get`] to get the error instead.
    #[track_caller]
    pub fn get<'r, T: Decode<'r>>(&'r self, idx: impl ColumnIndex) -> T {
        match self.try_get(idx) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Decodes column `idx` (position or name), or says why it cannot.
    #[inline]
    pub fn try_get<'r, T: Decode<'r>>(&'r self, idx: impl ColumnIndex) -> Result<T> {
        match idx.index_in(&self.columns) {
            Some(index) => self.decode_at(index),
            None => Err(self.no_such_column(&idx)),
        }
    }

    /// Decodes the column at a known-good `index`: the path `FromRecord` takes after it has
    /// resolved names to indices once per statement.
    #[doc(hidden)]
    #[inline]
    pub fn decode_at<'r, T: Decode<'r>>(&'r self, index: usize) -> Result<T> {
        let Some(column) = self.columns.columns.get(index) else {
            return Err(self.no_such_index(index));
        };
        let ty = column.ty.base_type();
        if !T::accepts(ty) {
            return Err(wrong_type::<T>(index, column));
        }
        let result = match self.raw(index) {
            Some(raw) => T::decode(ty, raw),
            None => T::decode_null(ty),
        };
        result.map_err(|e| invalid_value::<T>(index, column, e))
    }

    #[cold]
    fn no_such_column(&self, idx: &dyn fmt::Debug) -> Error {
        Error::decode(format!(
            "no column {idx:?} in this row (columns: {})",
            column_list(&self.columns)
        ))
    }

    #[cold]
    fn no_such_index(&self, index: usize) -> Error {
        Error::decode(format!(
            "no column {index} in this row ({} columns)",
            self.len()
        ))
    }

    /// The raw values with their columns, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Column, Option<&[u8]>)> + '_ {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c, self.raw(i)))
    }

    /// The field positions of a DataRow that parsed: `DataRow::parse` checked every length
    /// against the body, so this pass only records them. (Walking `DataRow::ranges`, which
    /// checks again, costs ~20 instructions more per row: +5 % on `generate_series` rows.)
    pub(crate) fn spans_of(row: &DataRow) -> Spans {
        let body: &[u8] = row.buffer();
        let mut pos = 0usize;
        let mut next = || {
            // Never short after parse; a NULL rather than a panic if it ever were.
            let len = body
                .get(pos..)
                .and_then(<[u8]>::first_chunk::<4>)
                .map_or(-1, |b| i32::from_be_bytes(*b));
            pos += 4;
            let span = (pos as u32, len);
            pos += len.max(0) as usize;
            span
        };
        let count = row.len();
        if count <= INLINE_FIELDS {
            let mut spans = [(0, -1); INLINE_FIELDS];
            for slot in &mut spans[..count] {
                *slot = next();
            }
            return Spans::Inline {
                len: count as u8,
                spans,
            };
        }
        Spans::Heap((0..count).map(|_| next()).collect())
    }
}

#[cold]
fn wrong_type<'r, T: Decode<'r>>(index: usize, column: &Column) -> Error {
    Error::decode(format!(
        "column {index} \"{}\": cannot decode PostgreSQL type {} into Rust type {}",
        column.name,
        column.ty.base_type(),
        short_type_name(T::rust_type_name())
    ))
}

#[cold]
fn invalid_value<'r, T: Decode<'r>>(index: usize, column: &Column, e: BoxError) -> Error {
    let ty = column.ty.base_type();
    let message = if e.is::<UnexpectedNull>() {
        format!(
            "column {index} \"{}\" ({ty}) is NULL but Rust type {} cannot hold NULL; decode into an Option",
            column.name,
            short_type_name(T::rust_type_name())
        )
    } else {
        format!(
            "column {index} \"{}\": invalid {ty} value for Rust type {}: {e}",
            column.name,
            short_type_name(T::rust_type_name())
        )
    };
    Error::decode_with(message, e)
}

fn column_list(columns: &Columns) -> String {
    let names: Vec<&str> = columns.iter().map(Column::name).collect();
    names.join(", ")
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (i, column) in self.columns.iter().enumerate() {
            match self.raw(i) {
                None => map.entry(&column.name, &"NULL"),
                Some(raw)
                    if !column.ty.is_binary()
                        || matches!(column.ty.oid(), 25 | 1043 | 1042 | 19) =>
                {
                    map.entry(&column.name, &String::from_utf8_lossy(raw))
                }
                Some(raw) => map.entry(
                    &column.name,
                    &format_args!("<{} {} bytes>", column.ty, raw.len()),
                ),
            };
        }
        map.finish()
    }
}
