//! [`ToRecord`]: one row of values from a Rust value (a struct's fields, a tuple), the mirror
//! of [`FromRecord`](crate::FromRecord). COPY writes rows with it, and a batch's parameter
//! sets can be structs.
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

use bytes::{BufMut, BytesMut};

use crate::error::{Error, Result};
use crate::types::{Encode, IsNull, Type};

/// The most bytes one value may take: PostgreSQL's limit for one message field.
const MAX_VALUE_LEN: usize = 0x3fff_ffff;

/// A type that is one row of values: the fields of a `#[derive(ToRecord)]` struct, a tuple,
/// an array or slice of `&dyn Encode`.
///
/// Usually derived; the derive takes the attributes of
/// [`FromRecord`](crate::FromRecord)'s (`rename`, `rename_all`, `skip`, `json`, `flatten`).
pub trait ToRecord {
    /// The column each value goes to, in the order [`ToRecord::write_values`] writes them;
    /// `None` when the values are positional (tuples, arrays) and the caller names the
    /// columns.
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
    /// Column names for errors (COPY); without them a value is parameter `$n`.
    names: Option<&'w [String]>,
    written: usize,
}

impl<'w> ValueWriter<'w> {
    /// A writer appending to `buf`, the `n`th value being of `types[n]`.
    pub(crate) fn new(
        buf: &'w mut BytesMut,
        types: &'w [Type],
        names: Option<&'w [String]>,
    ) -> ValueWriter<'w> {
        ValueWriter {
            buf,
            types,
            names,
            written: 0,
        }
    }

    /// How many values were written.
    pub(crate) fn written(&self) -> usize {
        self.written
    }

    /// Checks `value` against the next column's type and appends it (NULL for
    /// [`IsNull::Yes`]). A value past the last column, of a type the column cannot take, or
    /// that fails to encode is an error naming the column (or parameter `$n`).
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
                value.rust_type_name()
            )));
        }
        let len_at = self.buf.len();
        self.buf.put_i32(-1);
        let is_null = value.encode(ty, self.buf).map_err(|e| {
            let message = format!(
                "{}: cannot encode Rust type {} as PostgreSQL type {ty}: {e}",
                self.target(index),
                value.rust_type_name()
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
                let len = self.buf.len().saturating_sub(value_start);
                if len > MAX_VALUE_LEN {
                    self.buf.truncate(len_at);
                    return Err(Error::encode(format!(
                        "{}: the value is {len} bytes; PostgreSQL takes at most 1 GiB in one \
                         field",
                        self.target(index)
                    )));
                }
                self.buf[len_at..value_start].copy_from_slice(&(len as i32).to_be_bytes());
            }
        }
        self.written += 1;
        Ok(())
    }

    /// What the `index`th value is, for an error: `column "name"` or `parameter $n`.
    fn target(&self, index: usize) -> String {
        match self.names.and_then(|names| names.get(index)) {
            Some(name) => format!("column \"{name}\""),
            None => format!("parameter ${}", index + 1),
        }
    }

    #[cold]
    fn too_many(&self, rust_type: &str) -> Error {
        Error::encode(format!(
            "the row has more values than the {} column(s) it goes to (the extra one is a {})",
            self.types.len(),
            rust_type
        ))
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
    fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()> {
        self.iter().try_for_each(|value| out.write(*value))
    }
}

impl<const N: usize> ToRecord for [&(dyn Encode + Sync); N] {
    fn write_values(&self, out: &mut ValueWriter<'_>) -> Result<()> {
        self.iter().try_for_each(|value| out.write(*value))
    }
}

impl ToRecord for Vec<&(dyn Encode + Sync)> {
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
