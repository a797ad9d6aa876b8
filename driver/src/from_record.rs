//! [`FromRecord`]: a row decoded straight into a struct.
//!
//! A result's column names are resolved to indices (and each column's type checked against
//! its field) once per result set, into the type's [`RecordPlan::Plan`]; each row then only
//! decodes. `#[derive(FromRecord)]` writes both halves; see the derive's documentation for
//! the attributes.
//!
//! ```no_run
//! #[derive(pgtusk::FromRecord)]
//! struct User {
//!     id: i64,
//!     name: String,
//!     #[record(default)]
//!     email: Option<String>,
//! }
//!
//! # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
//! let users: Vec<User> = conn.fetch_as("SELECT id, name FROM users WHERE id > $1", &[&0i64]).await?;
//! # Ok(()) }
//! ```

use std::fmt;

use crate::error::{BoxError, Error, Result};
use crate::record::{Column, Columns, Record};
use crate::types::{Decode, Oid, Type};

/// The lifetime-free half of [`FromRecord`]: the type of the plan a result's columns resolve
/// to. It is separate so that one plan serves every row, whatever each row's lifetime.
pub trait RecordPlan {
    /// Column indices (and whatever else `from_record` needs), resolved once per result.
    type Plan: Send + Sync + 'static;
}

/// A type built from one result row.
///
/// `'r` is the row's lifetime: a struct may borrow `&'r str` / `&'r [u8]` from a [`Record`]
/// the caller holds. [`Connection::fetch_as`](crate::Connection::fetch_as) returns owned
/// values, so it asks for `T: for<'r> FromRecord<'r>`.
///
/// Usually derived (`#[derive(pgtusk::FromRecord)]`). A hand-written implementation resolves
/// what it needs from the [`Columns`] in `plan` and reads each row with it in `from_record`:
///
/// ```
/// use pgtusk::{Columns, Error, FromRecord, Record, RecordPlan, Result};
///
/// struct Label(String);
///
/// impl RecordPlan for Label {
///     type Plan = usize;
/// }
///
/// impl<'r> FromRecord<'r> for Label {
///     fn plan(columns: &Columns) -> Result<usize> {
///         columns
///             .index_of("label")
///             .ok_or_else(|| Error::decode("Label: no column \"label\""))
///     }
///
///     fn from_record(record: &'r Record, plan: &usize) -> Result<Self> {
///         record.try_get(*plan).map(Label)
///     }
/// }
/// ```
pub trait FromRecord<'r>: RecordPlan + Sized {
    /// Resolves column names to indices and checks each column's type: once per result.
    fn plan(columns: &Columns) -> Result<Self::Plan>;

    /// Builds a value from one row of the result the plan was made for.
    fn from_record(record: &'r Record, plan: &Self::Plan) -> Result<Self>;

    /// Plans from the row's own columns, then builds: for a single row.
    fn from_record_unplanned(record: &'r Record) -> Result<Self> {
        let plan = Self::plan(record.columns())?;
        Self::from_record(record, &plan)
    }
}

impl Record {
    /// Decodes the whole row into `T` (a `#[derive(FromRecord)]` struct, a tuple, ...).
    ///
    /// Plans from this row's columns on every call; for many rows of one result, make the
    /// plan once with [`FromRecord::plan`] and call [`FromRecord::from_record`] per row (or use
    /// [`Connection::fetch_as`](crate::Connection::fetch_as)).
    ///
    /// ```no_run
    /// #[derive(pgtusk::FromRecord)]
    /// struct Name<'r> {
    ///     name: &'r str,
    /// }
    ///
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let row = conn.fetch_one("SELECT 'tusk' AS name", &[]).await?;
    /// let borrowed: Name<'_> = row.decode()?;
    /// assert_eq!(borrowed.name, "tusk");
    /// # Ok(()) }
    /// ```
    pub fn decode<'r, T: FromRecord<'r>>(&'r self) -> Result<T> {
        T::from_record_unplanned(self)
    }
}

macro_rules! tuple_from_record {
    ($n:literal: $($T:ident $i:tt),+) => {
        impl<$($T),+> RecordPlan for ($($T,)+) {
            type Plan = [__private::FieldPlan; $n];
        }

        /// Columns by position: the first column into the first element, and so on.
        impl<'r, $($T: Decode<'r>),+> FromRecord<'r> for ($($T,)+) {
            fn plan(columns: &Columns) -> Result<Self::Plan> {
                Ok([$(
                    __private::plan_field(
                        columns,
                        &__private::Ctx { struct_name: "tuple", field: stringify!($i) },
                        __private::At::Position($i),
                        false,
                        $T::accepts,
                        $T::rust_type_name(),
                    )?
                ),+])
            }

            fn from_record(record: &'r Record, plan: &Self::Plan) -> Result<Self> {
                Ok(($(
                    __private::decode::<$T>(
                        &plan[$i],
                        record,
                        &__private::Ctx { struct_name: "tuple", field: stringify!($i) },
                    )?,
                )+))
            }
        }
    };
}

tuple_from_record!(1: A 0);
tuple_from_record!(2: A 0, B 1);
tuple_from_record!(3: A 0, B 1, C 2);
tuple_from_record!(4: A 0, B 1, C 2, D 3);
tuple_from_record!(5: A 0, B 1, C 2, D 3, E 4);
tuple_from_record!(6: A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_record!(7: A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_record!(8: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_from_record!(9: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_from_record!(10: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_from_record!(11: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_from_record!(12: A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// `std::any::type_name` without module paths: `Option<String>`, not
/// `core::option::Option<alloc::string::String>`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.truncate(segment_start);
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                segment_start = out.len();
            }
        }
    }
    out
}

/// What the derive's generated code calls. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    use super::*;

    #[cfg(feature = "json")]
    pub use serde;

    #[cfg(feature = "json")]
    pub use crate::to_record::JsonField;
    pub use crate::to_record::write_try_from;

    /// The struct and field a plan or a value belongs to, for error messages.
    #[derive(Debug, Clone, Copy)]
    pub struct Ctx {
        pub struct_name: &'static str,
        pub field: &'static str,
    }

    impl fmt::Display for Ctx {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}.{}", self.struct_name, self.field)
        }
    }

    /// How a field finds its column.
    #[derive(Debug, Clone, Copy)]
    pub enum At {
        Name(&'static str),
        Position(usize),
    }

    /// One field's column: its index and type, or absent for a `#[record(default)]` field
    /// whose column is not in the result.
    #[derive(Debug, Clone, Copy)]
    pub struct FieldPlan {
        index: usize,
        oid: Oid,
        present: bool,
    }

    /// Finds the field's column and checks that its type can become the field's type.
    pub fn plan_field(
        columns: &Columns,
        ctx: &Ctx,
        at: At,
        default: bool,
        accepts: fn(&Type) -> bool,
        rust_type: &'static str,
    ) -> Result<FieldPlan> {
        let index = match at {
            At::Name(name) => columns.index_of(name),
            At::Position(i) => (i < columns.len()).then_some(i),
        };
        let Some(index) = index else {
            if default {
                return Ok(FieldPlan {
                    index: 0,
                    oid: 0,
                    present: false,
                });
            }
            let list = column_list(columns);
            return Err(Error::decode(match at {
                At::Name(name) => {
                    format!("{ctx}: no column \"{name}\" in the result (columns: {list})")
                }
                At::Position(i) => format!(
                    "{ctx}: no column at position {i} in the result ({} column(s): {list})",
                    columns.len()
                ),
            }));
        };
        let column = &columns.as_slice()[index];
        let ty = column.type_();
        if !accepts(ty.base_type()) {
            return Err(Error::decode(format!(
                "{ctx}: column \"{}\" (index {index}) is {ty}, which Rust type {} cannot decode",
                column.name(),
                short_type_name(rust_type)
            )));
        }
        Ok(FieldPlan {
            index,
            oid: ty.oid(),
            present: true,
        })
    }

    fn column_list(columns: &Columns) -> String {
        let names: Vec<&str> = columns.iter().map(Column::name).collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }

    /// The column a plan points at in this record, checked to be the one planned for.
    #[inline]
    fn column<'r>(plan: &FieldPlan, record: &'r Record, ctx: &Ctx) -> Result<&'r Column> {
        match record.columns().get(plan.index) {
            Some(column) if column.type_().oid() == plan.oid => Ok(column),
            _ => Err(Error::decode(format!(
                "{ctx}: this record does not have the columns its plan was made for; \
                 make the plan from this result's columns"
            ))),
        }
    }

    /// Decodes a planned field.
    #[inline]
    pub fn decode<'r, T: Decode<'r>>(plan: &FieldPlan, record: &'r Record, ctx: &Ctx) -> Result<T> {
        let column = column(plan, record, ctx)?;
        let ty = column.type_().base_type();
        let result = match record.raw(plan.index) {
            Some(raw) => T::decode(ty, raw),
            None => T::decode_null(ty),
        };
        result.map_err(|e| {
            if e.is::<crate::types::UnexpectedNull>() {
                null_error(ctx, column, T::rust_type_name(), e)
            } else {
                let message = format!(
                    "{ctx}: column \"{}\" (index {}): invalid {ty} value for Rust type {}: {e}",
                    column.name(),
                    plan.index,
                    short_type_name(T::rust_type_name())
                );
                Error::decode_with(message, e)
            }
        })
    }

    /// `source` is the decoder's error: [`UnexpectedNull`](crate::types::UnexpectedNull), or
    /// serde_json's for a `#[record(json)]` field.
    fn null_error(ctx: &Ctx, column: &Column, rust_type: &str, source: BoxError) -> Error {
        let rust_type = short_type_name(rust_type);
        let message = format!(
            "{ctx}: column \"{}\" is NULL but {rust_type} cannot hold NULL; use Option<{rust_type}>",
            column.name()
        );
        Error::decode_with(message, source)
    }

    /// Decodes a `#[record(default)]` field: `Default::default()` when its column is absent.
    #[inline]
    pub fn decode_or_default<'r, T: Decode<'r> + Default>(
        plan: &FieldPlan,
        record: &'r Record,
        ctx: &Ctx,
    ) -> Result<T> {
        if plan.present {
            decode(plan, record, ctx)
        } else {
            Ok(T::default())
        }
    }

    /// Decodes a `#[record(try_from = "D")]` field: `D` from the column, then `T::try_from`.
    #[inline]
    pub fn decode_try_from<'r, D, T>(plan: &FieldPlan, record: &'r Record, ctx: &Ctx) -> Result<T>
    where
        D: Decode<'r>,
        T: TryFrom<D>,
        T::Error: fmt::Display,
    {
        let value: D = decode(plan, record, ctx)?;
        T::try_from(value).map_err(|e| {
            let name = record.columns().get(plan.index).map_or("", |c| c.name());
            Error::decode(format!(
                "{ctx}: column \"{name}\" (index {}): the {} value does not convert into {}: {e}",
                plan.index,
                short_type_name(D::rust_type_name()),
                short_type_name(std::any::type_name::<T>())
            ))
        })
    }

    /// [`decode_try_from`], or `Default::default()` when the column is absent.
    #[inline]
    pub fn decode_try_from_or_default<'r, D, T>(
        plan: &FieldPlan,
        record: &'r Record,
        ctx: &Ctx,
    ) -> Result<T>
    where
        D: Decode<'r>,
        T: TryFrom<D> + Default,
        T::Error: fmt::Display,
    {
        if plan.present {
            decode_try_from::<D, T>(plan, record, ctx)
        } else {
            Ok(T::default())
        }
    }

    pub use bytes::BytesMut;

    /// What a newtype accepts: what its inner type accepts, also under a domain.
    pub fn newtype_accepts(ty: &Type, inner: fn(&Type) -> bool) -> bool {
        inner(ty) || (matches!(ty.kind(), crate::types::Kind::Domain(_)) && inner(ty.base_type()))
    }

    /// Whether `ty` is the enum type `name` (`"mood"`, or `"schema.mood"` to pin the schema).
    pub fn enum_accepts(ty: &Type, name: &str) -> bool {
        if !matches!(ty.kind(), crate::types::Kind::Enum(_)) {
            return false;
        }
        match name.split_once('.') {
            Some((schema, name)) => ty.schema() == schema && ty.name() == name,
            None => ty.name() == name,
        }
    }

    /// Whether `ty` is the composite type `name` (schema-qualified or not) with exactly these
    /// attributes in this order, travelling in binary.
    pub fn composite_accepts(ty: &Type, name: &str, fields: &[&str]) -> bool {
        let crate::types::Kind::Composite(attrs) = ty.kind() else {
            return false;
        };
        let named = match name.split_once('.') {
            Some((schema, name)) => ty.schema() == schema && ty.name() == name,
            None => ty.name() == name,
        };
        named
            && ty.is_binary()
            && attrs.len() == fields.len()
            && attrs
                .iter()
                .zip(fields)
                .all(|(attr, field)| attr.name == *field)
    }

    /// The error for a label the Rust enum does not have.
    pub fn unknown_label(ty: &Type, raw: &[u8], rust_type: &str) -> crate::error::BoxError {
        format!(
            "{ty} label \"{}\" has no variant in Rust enum {}",
            String::from_utf8_lossy(raw),
            short_type_name(rust_type)
        )
        .into()
    }

    /// The Rust type's name, for `#[record(json)]` fields.
    pub fn type_name<T: ?Sized>() -> &'static str {
        std::any::type_name::<T>()
    }

    /// `json` and `jsonb` columns (and domains over them) can hold a `#[record(json)]` field.
    pub fn json_accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }

    /// Decodes a `#[record(json)]` field with serde_json: text for `json` (and `jsonb` in text
    /// format), a version byte (1) then text for `jsonb` in binary format.
    #[cfg(feature = "json")]
    pub fn decode_json<'r, T: serde::Deserialize<'r>>(
        plan: &FieldPlan,
        record: &'r Record,
        ctx: &Ctx,
    ) -> Result<T> {
        let column = column(plan, record, ctx)?;
        let ty = column.type_().base_type();
        let invalid = |e: &dyn fmt::Display| {
            format!(
                "{ctx}: column \"{}\" (index {}): invalid JSON for Rust type {}: {e}",
                column.name(),
                plan.index,
                short_type_name(std::any::type_name::<T>())
            )
        };
        let Some(mut raw) = record.raw(plan.index) else {
            // SQL NULL: what JSON null becomes (None for an Option), else a NULL error.
            return serde_json::from_str::<T>("null")
                .map_err(|e| null_error(ctx, column, std::any::type_name::<T>(), e.into()));
        };
        if *ty == Type::JSONB && ty.is_binary() {
            match raw.split_first() {
                Some((1, rest)) => raw = rest,
                Some((version, _)) => {
                    let message = invalid(&format_args!("unknown jsonb version {version}"));
                    return Err(Error::decode(message));
                }
                None => return Err(Error::decode(invalid(&"empty jsonb value"))),
            }
        }
        serde_json::from_slice(raw).map_err(|e| Error::decode_with(invalid(&e), e))
    }

    /// [`decode_json`], or `Default::default()` when the column is absent.
    #[cfg(feature = "json")]
    pub fn decode_json_or_default<'r, T: serde::Deserialize<'r> + Default>(
        plan: &FieldPlan,
        record: &'r Record,
        ctx: &Ctx,
    ) -> Result<T> {
        if plan.present {
            decode_json(plan, record, ctx)
        } else {
            Ok(T::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn short_type_names_drop_module_paths() {
        assert_eq!(short_type_name("i32"), "i32");
        assert_eq!(short_type_name("alloc::string::String"), "String");
        assert_eq!(
            short_type_name("core::option::Option<alloc::string::String>"),
            "Option<String>"
        );
        assert_eq!(short_type_name("&str"), "&str");
        assert_eq!(
            short_type_name("(i64, alloc::vec::Vec<u8>, &[u8])"),
            "(i64, Vec<u8>, &[u8])"
        );
        assert_eq!(
            short_type_name("std::collections::hash::map::HashMap<alloc::string::String, i32>"),
            "HashMap<String, i32>"
        );
    }
}
