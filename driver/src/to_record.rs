//! [`ToRecord`]: one row of values from a Rust value (a struct's fields, a tuple), the mirror
//! of [`FromRecord`](crate::FromRecord). COPY writes rows with it, a batch's parameter sets
//! can be structs or tuples, and [`Connection::insert`](crate::Connection::insert) builds its
//! INSERT from a struct's column names.
//!
//! A value is written straight into the outgoing message by a [`ValueWriter`], which knows the
//! PostgreSQL type of every column: no intermediate `Vec` of values per row, and a call per
//! value that the compiler sees through (no `dyn` dispatch for a derived struct or a tuple).
//!
//! ```
//! use pgtusk::{Result, ToRecord, ValueWriter};
//!
//! struct Point {
//!     x: f64,
//!     y: f64,
//! }
//!
//! impl ToRecord for Point {
//!     fn column_names() -> Option<Vec<&'static str>> {
//!         Some(vec!["x", "y"])
//!     }
//!
//!     fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()> {
//!         out.write(&self.x)?;
//!         out.write(&self.y)
//!     }
//! }
//! ```

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::error::{Error, Result};
use crate::from_record::short_type_name;
use crate::types::{Encode, IsNull, Type};

/// The most bytes one value may take: PostgreSQL's limit for one message field.
const MAX_VALUE_LEN: usize = 0x3fff_ffff;

/// A type that is one row of values: the fields of a `#[derive(ToRecord)]` struct, a tuple,
/// an array, slice or `Vec` of `&dyn Encode`, or a reference to any of them.
///
/// Rows go to [`Connection::execute_many`](crate::Connection::execute_many) (one parameter
/// set each), [`Connection::insert`](crate::Connection::insert) and
/// [`insert_many`](crate::Connection::insert_many) (which need [`column_names`]) and COPY.
///
/// Usually derived, with the attributes of [`FromRecord`](crate::FromRecord)'s derive, so one
/// struct can derive both and make the round trip:
///
/// ```no_run
/// #[derive(pgtusk::ToRecord, pgtusk::FromRecord)]
/// #[record(rename_all = "camelCase")]
/// struct Order {
///     order_id: i64,                  // column "orderId"
///     #[record(rename = "note")]
///     comment: Option<String>,        // column "note"; None is NULL
///     #[record(try_from = "i64")]
///     quantity: u32,                  // written as an int8 (u32 has no PostgreSQL type)
///     #[record(json)]
///     details: serde_json::Value,     // a json or jsonb column, through serde
///     #[record(flatten)]
///     address: Address,               // its columns, in place
///     #[record(skip)]
///     dirty: bool,                    // not written; Default when read
/// }
///
/// #[derive(pgtusk::ToRecord, pgtusk::FromRecord)]
/// struct Address {
///     city: String,
///     zip: String,
/// }
///
/// # async fn demo(conn: &mut pgtusk::Connection, orders: Vec<Order>) -> pgtusk::Result<()> {
/// use pgtusk::ToRecord;
/// assert_eq!(
///     Order::column_names().unwrap(),
///     ["orderId", "note", "quantity", "details", "city", "zip"]
/// );
/// // INSERT INTO orders ("orderId", "note", "quantity", "details", "city", "zip")
/// // VALUES ($1, $2, $3, $4, $5, $6), once per order, pipelined.
/// conn.insert_many("orders", &orders).await?;
/// let back: Vec<Order> = conn.fetch_as("SELECT * FROM orders", &[]).await?;
/// # Ok(()) }
/// ```
///
/// The derive takes `#[record(default)]` too, which only matters when reading: the field is
/// written as usual.
///
/// [`column_names`]: ToRecord::column_names
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a row of values: it does not implement `ToRecord`",
    label = "not a row",
    note = "derive `pgtusk::ToRecord` on a struct, or pass a tuple, or an array or `Vec` of \
            `&(dyn Encode + Sync)`"
)]
pub trait ToRecord {
    /// The column each value goes to, in the order [`ToRecord::write_values`] writes them;
    /// `None` when the values are positional (tuples, arrays, tuple structs) and the caller
    /// names the columns.
    fn column_names() -> Option<Vec<&'static str>>
    where
        Self: Sized,
    {
        None
    }

    /// Writes each value, in column order, with [`ValueWriter::write`].
    fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()>;
}

/// Where [`ToRecord::write_values`] puts values: each is checked against its column's
/// PostgreSQL type, then encoded in binary as a length-prefixed field (the layout a Bind
/// parameter and a binary COPY field share).
#[derive(Debug)]
pub struct ValueWriter<'w> {
    buf: &'w mut BytesMut,
    types: &'w [Type],
    targets: Targets<'w>,
    written: usize,
}

/// What the values are, for errors.
#[derive(Debug, Clone, Copy)]
enum Targets<'w> {
    /// A table's columns (COPY).
    Columns(&'w [String]),
    /// A statement's parameters, with the row type's column names when it has them.
    Params(Option<&'w [&'static str]>),
}

impl<'w> ValueWriter<'w> {
    /// A writer appending to `buf`, the `n`th value being of `types[n]`; with `names`, errors
    /// name the `n`th value `column "names[n]"`, else `parameter $n`.
    pub(crate) fn new(
        buf: &'w mut BytesMut,
        types: &'w [Type],
        names: Option<&'w [String]>,
    ) -> ValueWriter<'w> {
        let targets = match names {
            Some(names) => Targets::Columns(names),
            None => Targets::Params(None),
        };
        ValueWriter {
            buf,
            types,
            targets,
            written: 0,
        }
    }

    /// A writer of a statement's parameters (a Bind message): errors name `parameter $n`,
    /// followed by the row type's column name when it has one.
    pub(crate) fn params(
        buf: &'w mut BytesMut,
        types: &'w [Type],
        names: Option<&'w [&'static str]>,
    ) -> ValueWriter<'w> {
        ValueWriter {
            buf,
            types,
            targets: Targets::Params(names),
            written: 0,
        }
    }

    /// Checks that the row wrote a value for every column (or parameter).
    pub(crate) fn finish(&self) -> Result<()> {
        if self.written == self.types.len() {
            return Ok(());
        }
        Err(match self.targets {
            Targets::Columns(_) => Error::encode(format!(
                "the row has {} value(s) but goes to {} column(s)",
                self.written,
                self.types.len()
            )),
            Targets::Params(_) => Error::Interface(format!(
                "the statement takes {} parameter(s) but the row has {} value(s)",
                self.types.len(),
                self.written
            )),
        })
    }

    /// Checks `value` against the next column's type and appends it (NULL for
    /// [`IsNull::Yes`]). A value past the last column, of a type the column cannot take, or
    /// that fails to encode is an error naming the column (or parameter `$n`); then nothing
    /// of it is left in the output.
    #[inline]
    pub fn write<T: Encode + ?Sized>(&mut self, value: &T) -> Result<()> {
        let index = self.written;
        let Some(ty) = self.types.get(index) else {
            return Err(self.too_many(value.rust_type_name()));
        };
        let ty = ty.base_type();
        if !value.accepts_dyn(ty) {
            return Err(Error::encode(format!(
                "{}: Rust type {} cannot be sent as PostgreSQL type {ty}",
                self.target(index),
                short_type_name(value.rust_type_name())
            )));
        }
        let len_at = self.buf.len();
        self.buf.put_i32(-1);
        let is_null = value.encode(ty, self.buf).map_err(|e| {
            let message = format!(
                "{}: cannot encode Rust type {} as PostgreSQL type {ty}: {e}",
                self.target(index),
                short_type_name(value.rust_type_name())
            );
            Error::encode_with(message, e)
        });
        let is_null = match is_null {
            Ok(is_null) => is_null,
            Err(e) => {
                self.buf.truncate(len_at);
                return Err(e);
            }
        };
        let value_start = len_at + 4;
        match is_null {
            IsNull::Yes => self.buf.truncate(value_start),
            IsNull::No => {
                let Some(len) = self.buf.len().checked_sub(value_start) else {
                    self.buf.truncate(len_at);
                    return Err(Error::encode(format!(
                        "{}: the encoder of Rust type {} removed bytes it did not write",
                        self.target(index),
                        value.rust_type_name()
                    )));
                };
                if len > MAX_VALUE_LEN {
                    self.buf.truncate(len_at);
                    return Err(Error::encode(format!(
                        "{}: the value is {len} bytes; PostgreSQL takes at most 1 GiB in one \
                         field (send it in parts, e.g. with lo_put)",
                        self.target(index)
                    )));
                }
                self.buf[len_at..value_start].copy_from_slice(&(len as i32).to_be_bytes());
            }
        }
        self.written += 1;
        Ok(())
    }

    /// What the `index`th value is, for an error: `column "name"`, `parameter $n` or
    /// `parameter $n (column "name")`.
    fn target(&self, index: usize) -> String {
        match self.targets {
            Targets::Columns(names) => match names.get(index) {
                Some(name) => format!("column \"{name}\""),
                None => format!("value {}", index + 1),
            },
            Targets::Params(names) => match names.and_then(|names| names.get(index)) {
                Some(name) => format!("parameter ${} (column \"{name}\")", index + 1),
                None => format!("parameter ${}", index + 1),
            },
        }
    }

    #[cold]
    fn too_many(&self, rust_type: &str) -> Error {
        let rust_type = short_type_name(rust_type);
        match self.targets {
            Targets::Columns(_) => Error::encode(format!(
                "the row has more values than the {} column(s) it goes to (the extra one is a \
                 {rust_type})",
                self.types.len(),
            )),
            Targets::Params(_) => Error::Interface(format!(
                "the statement takes {} parameter(s) but the row has more values (the extra \
                 one is a {rust_type})",
                self.types.len(),
            )),
        }
    }
}

/// Writes a `#[record(try_from = "D")]` field: converted into `D` with `TryFrom`, then
/// written; a value that does not convert is an error naming its column or parameter.
#[doc(hidden)]
#[inline]
pub fn write_try_from<D, T>(out: &mut ValueWriter<'_>, value: &T) -> Result<()>
where
    T: Clone,
    D: TryFrom<T> + Encode,
    D::Error: fmt::Display,
{
    match D::try_from(value.clone()) {
        Ok(converted) => out.write(&converted),
        Err(e) => Err(Error::encode(format!(
            "{}: the {} value does not convert into {}: {e}",
            out.target(out.written),
            short_type_name(std::any::type_name::<T>()),
            short_type_name(std::any::type_name::<D>()),
        ))),
    }
}

/// A `#[record(json)]` field: serialized with serde into a `json` or `jsonb` column, and SQL
/// NULL for what serializes to JSON `null` (`None`), the mirror of reading, where SQL NULL
/// deserializes as JSON `null`.
#[cfg(feature = "json")]
#[doc(hidden)]
#[derive(Debug)]
pub struct JsonField<'a, T: ?Sized>(pub &'a T);

#[cfg(feature = "json")]
impl<T: serde::Serialize + ?Sized> Encode for JsonField<'_, T> {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, crate::BoxError> {
        let start = buf.len();
        crate::types::Json(self.0).encode(ty, buf)?;
        let text = buf.get(start..).unwrap_or_default();
        let text = if *ty == Type::JSONB {
            text.get(1..).unwrap_or_default()
        } else {
            text
        };
        Ok(if text == b"null" {
            IsNull::Yes
        } else {
            IsNull::No
        })
    }

    fn rust_type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

impl<T: ToRecord> ToRecord for &T {
    fn column_names() -> Option<Vec<&'static str>> {
        T::column_names()
    }

    #[inline]
    fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()> {
        (**self).write_values(out)
    }
}

impl ToRecord for &[&(dyn Encode + Sync)] {
    #[inline]
    fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()> {
        self.iter().try_for_each(|value| out.write(*value))
    }
}

impl<const N: usize> ToRecord for [&(dyn Encode + Sync); N] {
    #[inline]
    fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()> {
        self.iter().try_for_each(|value| out.write(*value))
    }
}

impl ToRecord for Vec<&(dyn Encode + Sync)> {
    #[inline]
    fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()> {
        self.iter().try_for_each(|value| out.write(*value))
    }
}

macro_rules! tuple_to_record {
    ($($name:ident)+) => {
        impl<$($name: Encode),+> ToRecord for ($($name,)+) {
            #[allow(non_snake_case)]
            #[inline]
            fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()> {
                let ($($name,)+) = self;
                $(out.write($name)?;)+
                Ok(())
            }
        }
    };
}

tuple_to_record!(A);
tuple_to_record!(A B);
tuple_to_record!(A B C);
tuple_to_record!(A B C D);
tuple_to_record!(A B C D E);
tuple_to_record!(A B C D E F);
tuple_to_record!(A B C D E F G);
tuple_to_record!(A B C D E F G H);
tuple_to_record!(A B C D E F G H I);
tuple_to_record!(A B C D E F G H I J);
tuple_to_record!(A B C D E F G H I J K);
tuple_to_record!(A B C D E F G H I J K L);
tuple_to_record!(A B C D E F G H I J K L M);
tuple_to_record!(A B C D E F G H I J K L M N);
tuple_to_record!(A B C D E F G H I J K L M N O);
tuple_to_record!(A B C D E F G H I J K L M N O P);

#[cfg(test)]
mod tests {
    use super::*;

    fn row<R: ToRecord>(types: &[Type], names: Option<&[String]>, row: R) -> (Result<()>, Vec<u8>) {
        let mut buf = BytesMut::from(&b"xx"[..]);
        let result = {
            let mut out = ValueWriter::new(&mut buf, types, names);
            row.write_values(&mut out).and_then(|()| out.finish())
        };
        assert_eq!(&buf[..2], b"xx", "earlier bytes are kept");
        (result, buf[2..].to_vec())
    }

    fn message(result: Result<()>) -> String {
        result.expect_err("an error").to_string()
    }

    #[test]
    fn values_are_length_prefixed_and_none_is_null() {
        let (result, bytes) = row(&[Type::INT4, Type::TEXT], None, (7i32, None::<&str>));
        result.unwrap();
        assert_eq!(bytes, [0, 0, 0, 4, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn a_wrong_type_names_the_column_or_parameter_and_leaves_nothing_of_the_value() {
        let names = ["id".to_owned(), "label".to_owned()];
        let (result, bytes) = row(&[Type::INT4, Type::TEXT], Some(&names), (1i32, 2.5f64));
        assert_eq!(
            message(result),
            "encode error: column \"label\": Rust type f64 cannot be sent as PostgreSQL type text"
        );
        assert_eq!(bytes, [0, 0, 0, 4, 0, 0, 0, 1], "only the value before it");

        let mut buf = BytesMut::new();
        let types = [Type::INT4];
        let mut out = ValueWriter::params(&mut buf, &types, Some(&["id"]));
        let e = out.write(&"seven").unwrap_err();
        assert_eq!(
            e.to_string(),
            "encode error: parameter $1 (column \"id\"): Rust type &str cannot be sent as \
             PostgreSQL type int4"
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn a_row_of_the_wrong_length_is_refused() {
        let names = ["a".to_owned()];
        let (result, _) = row(&[Type::INT4], Some(&names), (1i32, 2i32));
        assert_eq!(
            message(result),
            "encode error: the row has more values than the 1 column(s) it goes to (the extra \
             one is a i32)"
        );
        let (result, _) = row(&[Type::INT4, Type::INT4], Some(&names), (1i32,));
        assert_eq!(
            message(result),
            "encode error: the row has 1 value(s) but goes to 2 column(s)"
        );

        let mut buf = BytesMut::new();
        let types = [Type::INT4, Type::INT4];
        let mut out = ValueWriter::params(&mut buf, &types, None);
        out.write(&1i32).unwrap();
        assert!(matches!(out.finish(), Err(Error::Interface(m))
            if m == "the statement takes 2 parameter(s) but the row has 1 value(s)"));
    }

    #[test]
    fn try_from_converts_or_names_the_value() {
        let mut buf = BytesMut::new();
        let types = [Type::INT8, Type::INT8];
        let mut out = ValueWriter::params(&mut buf, &types, Some(&["a", "b"]));
        write_try_from::<i64, u64>(&mut out, &5).unwrap();
        let e = write_try_from::<i64, u64>(&mut out, &u64::MAX).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "encode error: parameter $2 (column \"b\"): the u64 value does not convert into \
                 i64: "
            ),
            "{e}"
        );
        // Only the value that converted was written.
        assert!(out.finish().is_err());
        assert_eq!(&buf[..], [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5]);
    }

    #[cfg(feature = "json")]
    #[test]
    fn a_json_field_that_serializes_to_null_is_sql_null() {
        let mut buf = BytesMut::new();
        let types = [Type::JSONB, Type::JSONB, Type::JSONB];
        let mut out = ValueWriter::params(&mut buf, &types, None);
        out.write(&JsonField(&None::<i32>)).unwrap();
        out.write(&JsonField(&Some(1))).unwrap();
        out.write(&JsonField(&"null")).unwrap();
        assert_eq!(
            &buf[..],
            [
                &[0xff, 0xff, 0xff, 0xff][..],
                &[0, 0, 0, 2, 1, b'1'],
                &[0, 0, 0, 7, 1, b'"', b'n', b'u', b'l', b'l', b'"'],
            ]
            .concat()
        );
    }
}
