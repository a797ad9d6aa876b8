//! Derive macros for pgtusk, re-exported by it (feature "derive", on by default). Use them
//! through `pgtusk`: `#[derive(pgtusk::FromRecord)]`, `#[derive(pgtusk::Type)]`.
//!
//! Each derive works in three steps, each in its own place: parse the input and its attributes
//! into a small model (`ast`, `attr`), check the model and collect every error with its
//! span, then generate code that names everything through `::pgtusk::...`.

mod ast;
mod attr;
mod from_record;
mod pg_type;

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
