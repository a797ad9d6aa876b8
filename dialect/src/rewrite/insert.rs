//! `INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), …` as
//! `INSERT INTO t (a, b) SELECT * FROM unnest(…a's array…, …b's array…)`.
//!
//! Each array is typed as its column's array, the very type the server gives each `$i` of a
//! multi-row `VALUES` (it types them from the target columns), so every value is encoded for
//! the same type as before and stored through the same assignment: char(n) pads, varchar(n)
//! checks its length, a domain its constraints, json keeps its text, an enum takes its label.
//! The array of a column's type is written without naming the type, which the statement does
//! not say:
//!
//! ```sql
//! unnest(CASE WHEN false THEN ARRAY[(NULL::"t")."a"] ELSE $1 END, …)
//! ```
//!
//! `(NULL::"t")."a"` is an expression of column `a`'s type (every table has a row type of its
//! name), `CASE` gives `$1` the type of its other branch, and the planner drops the branch that
//! is never taken: the plan scans `unnest($1, …)`. A column whose values sea-query casts
//! (`CAST($1 AS "mood")`, `$1::"mood"`) gets that cast on its array instead, as before.

use sea_query::Value;

use super::edit::{Edit, Piece};
use super::syntax::{Item, Sql};
use super::tokenizer::Kind;
use super::uniform;

/// The edit for a multi-row `INSERT … VALUES` of placeholders, if the statement is one.
pub(crate) fn edit(sql: &Sql<'_>, values: &[Value]) -> Option<Edit> {
    let insert = insert_keyword(sql)?;
    if !sql.is_word(insert + 1, "INTO") {
        return None;
    }
    // The table: names joined by dots, then the column list.
    let table_first = insert + 2;
    let mut table_last = table_first;
    if !is_ident(sql, table_last) {
        return None;
    }
    while sql.kind(table_last + 1) == Some(Kind::Dot) && is_ident(sql, table_last + 2) {
        table_last += 2;
    }
    let cols_open = table_last + 1;
    if sql.kind(cols_open) != Some(Kind::LParen) {
        return None;
    }
    let cols_close = sql.pair(cols_open);
    let mut columns = Vec::new();
    let mut i = cols_open + 1;
    while i < cols_close {
        if !is_ident(sql, i) || !matches!(sql.kind(i + 1), Some(Kind::Comma | Kind::RParen)) {
            return None;
        }
        columns.push(sql.text(i));
        i += 2;
    }
    let values_kw = cols_close + 1;
    if columns.is_empty() || !sql.is_word(values_kw, "VALUES") {
        return None;
    }
    // The rows, then the end of the statement, `ON CONFLICT` or `RETURNING`.
    let mut by_column: Vec<Vec<Item<'_>>> = vec![Vec::new(); columns.len()];
    let mut i = values_kw + 1;
    loop {
        if sql.kind(i) != Some(Kind::LParen) {
            return None;
        }
        let mut j = 0;
        let width = sql.each_item(i, |item| {
            if let Some(column) = by_column.get_mut(j) {
                column.push(item);
            }
            j += 1;
        })?;
        if width != columns.len() {
            return None;
        }
        i = sql.pair(i) + 1;
        if sql.kind(i) != Some(Kind::Comma) {
            break;
        }
        i += 1;
    }
    let rows_close = i - 1;
    let ends = match sql.kind(i) {
        None => true,
        Some(Kind::Semicolon) => i + 1 == sql.len(),
        Some(Kind::Word) => sql.is_word(i, "ON") || sql.is_word(i, "RETURNING"),
        _ => false,
    };
    // One row is one statement already; the rewrite would only add a function scan.
    if !ends || by_column[0].len() < 2 {
        return None;
    }
    let table = sql.span(table_first, table_last);
    let mut pieces = vec![Piece::text("SELECT * FROM unnest(")];
    for (j, (name, column)) in columns.iter().zip(&by_column).enumerate() {
        let cast = column[0].cast;
        if column.iter().any(|item| item.cast != cast) {
            return None;
        }
        let params: Vec<u32> = column.iter().map(|item| item.param).collect();
        let ty = uniform(values, &params)?;
        let (before, after) = match cast {
            Some(c) => c.array_around(),
            None => (
                format!("CASE WHEN false THEN ARRAY[(NULL::{table}).{name}] ELSE "),
                " END".to_owned(),
            ),
        };
        Piece::push_argument(&mut pieces, j, before, ty.array_type, params, after);
    }
    pieces.push(Piece::text(")"));
    Some(Edit {
        start: sql.start(values_kw),
        end: sql.end(rows_close),
        pieces,
    })
}

/// The `INSERT` that starts the statement, or follows its `WITH` clause.
fn insert_keyword(sql: &Sql<'_>) -> Option<usize> {
    if sql.is_word(0, "INSERT") {
        return Some(0);
    }
    if !sql.is_word(0, "WITH") {
        return None;
    }
    let mut i = 1;
    while i < sql.len() {
        match sql.kind(i) {
            Some(Kind::LParen | Kind::LBracket) => i = sql.pair(i),
            Some(Kind::Word) if sql.is_word(i, "INSERT") => return Some(i),
            Some(Kind::Word) if sql.is_any_word(i, &["SELECT", "UPDATE", "DELETE", "VALUES"]) => {
                return None;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A table or column name: a quoted identifier or a word that is not a keyword.
fn is_ident(sql: &Sql<'_>, i: usize) -> bool {
    match sql.kind(i) {
        Some(Kind::Quoted) => true,
        Some(Kind::Word) => !sql.is_reserved(i),
        _ => false,
    }
}
