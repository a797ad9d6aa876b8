//! The statement rewrite: `IN` lists as arrays, multi-row `INSERT … VALUES` as `unnest`.
//!
//! This is the identity placeholder the sea-orm backend builds on; the real rewrite replaces
//! this file.

/// Rewrites a rendered statement (SQL with `$n` placeholders and its values) into one that
/// gives the same rows with fewer, array-valued parameters.
pub fn rewrite(sql: &str, values: sea_query::Values) -> (String, sea_query::Values) {
    (sql.to_owned(), values)
}
