//! Derive macros for pgtusk, re-exported by it (feature "derive", on by default). Use them
//! through `pgtusk`: `#[derive(pgtusk::FromRecord)]`, `#[derive(pgtusk::ToRecord)]`,
//! `#[derive(pgtusk::Type)]`.
//!
//! Each derive works in three steps, each in its own place: parse the input and its attributes
//! into a small model (`ast`, `attr`), check the model and collect every error with its
//! span, then generate code that names everything through `::pgtusk::...`.

mod ast;
mod attr;
mod from_record;
mod pg_type;
mod to_record;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Builds a struct from a result row; see `pgtusk::FromRecord`.
///
/// Named fields read the column of the same name, tuple struct fields the column at their
/// position. Column names are resolved to indices, and column types checked, once per result.
///
/// Container attribute:
/// - `#[record(rename_all = "...")]`: columns are named after the fields in this case:
///   `"snake_case"`, `"camelCase"`, `"PascalCase"`, `"SCREAMING_SNAKE_CASE"`, `"lowercase"`,
///   `"UPPERCASE"`.
///
/// Field attributes:
/// - `#[record(rename = "col")]`: read column `col`.
/// - `#[record(default)]`: when the result has no such column, `Default::default()`.
/// - `#[record(flatten)]`: a nested `FromRecord` type, read from the same columns.
/// - `#[record(try_from = "i64")]`: decode the column as `i64`, then `TryFrom` it.
/// - `#[record(json)]`: deserialize a `json` / `jsonb` column with serde (feature "json").
/// - `#[record(skip)]`: read nothing; `Default::default()`.
#[proc_macro_derive(FromRecord, attributes(record))]
pub fn derive_from_record(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    from_record::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Writes a struct as one row of values; see `pgtusk::ToRecord`. The mirror of FromRecord,
/// with the same attributes, so one struct can derive both and make the round trip.
///
/// Named fields are written in order, each to the column of its name
/// (`ToRecord::column_names`), which `insert` and `insert_many` build their INSERT from;
/// tuple struct fields are positional (no names), as a tuple's. Each value is checked against
/// its column's (or parameter's) PostgreSQL type before anything is sent, and an error names
/// the column. Generic and borrowing structs work (`struct Row<'a> { name: &'a str }`).
///
/// (This crate cannot compile examples that use pgtusk; `pgtusk::ToRecord`'s documentation
/// has compiled ones.)
///
/// ```ignore
/// #[derive(pgtusk::ToRecord, pgtusk::FromRecord)]
/// #[record(rename_all = "camelCase")]
/// struct Order {
///     order_id: i64,               // column "orderId"
///     #[record(rename = "note")]
///     comment: Option<String>,     // column "note"; None is NULL
///     #[record(try_from = "i64")]
///     quantity: u32,               // written as an int8
///     #[record(flatten)]
///     address: Address,            // its columns, in place
///     #[record(skip)]
///     dirty: bool,                 // not written (and read as Default)
/// }
///
/// #[derive(pgtusk::ToRecord, pgtusk::FromRecord)]
/// struct Address {
///     city: String,
///     zip: String,
/// }
///
/// # async fn demo(conn: &mut pgtusk::Connection, orders: Vec<Order>) -> pgtusk::Result<()> {
/// // INSERT INTO orders ("orderId", "note", "quantity", "city", "zip") VALUES ($1, …, $5)
/// conn.insert_many("orders", &orders).await?;
/// # Ok(()) }
/// ```
///
/// Container attribute:
/// - `#[record(rename_all = "...")]`: columns are named after the fields in this case, as for
///   FromRecord.
///
/// Field attributes:
/// - `#[record(rename = "col")]`: write column `col`.
/// - `#[record(flatten)]`: a nested `ToRecord` type, whose columns come in place (a type
///   without column names, such as a tuple struct, leaves the whole struct without names).
/// - `#[record(try_from = "i64")]`: convert a clone of the field into `i64` with `TryFrom`,
///   then write that; a value that does not convert is an error naming the column.
/// - `#[record(json)]`: serialize with serde into a `json` / `jsonb` column (feature "json");
///   what serializes to JSON `null` (`None`) is SQL NULL, the mirror of reading.
/// - `#[record(skip)]`: write nothing; the column is not named, so an INSERT gives it its
///   default.
/// - `#[record(default)]` only matters when reading (a column absent from the result); the
///   field is written as usual.
#[proc_macro_derive(ToRecord, attributes(record))]
pub fn derive_to_record(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    to_record::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `Encode` and `Decode` for a user type; see `pgtusk::Type`.
///
/// - A struct with one field (a newtype, e.g. over a domain) travels as its inner type;
///   `#[pg(transparent)]` says so explicitly.
/// - A fieldless enum is a PostgreSQL enum: `#[pg(name = "mood")]` names the type (default:
///   the Rust name in snake_case), each variant travels as its label: the variant's name, or
///   `#[pg(rename_all = "...")]` / `#[pg(rename = "label")]`.
#[proc_macro_derive(Type, attributes(pg))]
pub fn derive_type(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    pg_type::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
