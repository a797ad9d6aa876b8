//! The statement rewrite: SQL rendered by sea-query's `PostgresQueryBuilder` with its lists
//! bound as arrays. See [`rewrite`].

mod edit;
mod in_list;
mod insert;
mod operand;
mod syntax;
mod tokenizer;

use sea_query::{Value, Values};

use crate::array_type::{ElementType, element_type};

/// Rewrites SQL rendered by sea-query's `PostgresQueryBuilder` (placeholders `$1..$n`, one per
/// value, in order) so that lists travel as one array parameter. Anything it does not
/// recognise passes unchanged.
///
/// | rendered by PostgresQueryBuilder | rewritten |
/// |---|---|
/// | `x IN ($1, $2, $3)` | `x = ANY($1)` |
/// | `x NOT IN ($1, $2, $3)` | `x <> ALL($1)` |
/// | `x IN (CAST($1 AS "mood"), CAST($2 AS "mood"))` | `x = ANY(CAST($1 AS "mood"[]))` |
/// | `x IN ($1::"mood", $2::"mood")` | `x = ANY($1::"mood"[])` |
/// | `("t"."a") IN (($1), ($2))` (sea-orm's loader, one-column keys) | `("t"."a") = ANY($1)` |
/// | `("t"."a", "t"."b") IN (($1, $2), ($3, $4))` | `("t"."a", "t"."b") IN (SELECT * FROM unnest($1::int4[], $2::uuid[]))` |
/// | `INSERT INTO "t" ("a", "b") VALUES ($1, $2), ($3, $4) [ON CONFLICT …] [RETURNING …]` | `INSERT INTO "t" ("a", "b") SELECT * FROM unnest(CASE WHEN false THEN ARRAY[(NULL::"t")."a"] ELSE $1 END, …) [ON CONFLICT …] [RETURNING …]` |
///
/// Every list length is then one statement text (one prepared statement, one plan) and one
/// parameter per list or column, however many values: a 200,000-row insert is as many
/// parameters as it has columns, where `VALUES` stops at 65,535. Rows keep their order
/// (identity and serial values, `RETURNING`), and `ON CONFLICT` and `RETURNING` stay as
/// they are, their own placeholders renumbered.
///
/// # Types: the same as the original statement's
///
/// - `x = ANY($k)` has no cast: the server types `$k` as the array of `x`'s type, as it types
///   each `$i` of `x IN ($1, …)` (it turns that list into `x = ANY(ARRAY[$1, …])` itself), so
///   the values are encoded for the same type and compared by the same operator: char(n)
///   ignores trailing spaces, citext case, a domain compares as its base type, an `int8`
///   value against an `int4` column is encoded as `int4` (and is an error past its range, as
///   before). `NULL`s and duplicates in the list keep their meaning.
/// - A list cast by sea-query (enums) keeps the cast, on the array: `CAST($k AS "mood"[])`.
/// - Row lists need typed arrays (`unnest` cannot infer them), so each position is cast to its
///   values' type ([`crate::array_type`]: `Int` is `int4`, `Uuid` is `uuid` …). For every
///   variant but strings a pgtusk value is encoded for that one type (or, integers, for
///   `int2`/`int4`/`int8`/`numeric`, which compare exactly with each other), so where the
///   original ran it compared the same values. A position of strings would compare as `text`
///   (`bpchar = text` is not char(n)'s `=`): such row lists stay unchanged.
/// - An inserted array is typed as its column's array, the type the server gives each `$i`
///   of a `VALUES` row (it types them from the target columns), so the values are encoded for
///   the same types and stored through the same assignments: char(n) pads, varchar(n) checks
///   its length, a domain its constraints, json keeps its text, an enum or a type that
///   travels as text (tsvector, a `String` into numeric) reads the same string. The statement
///   does not name the column's type, so the array gets it without naming it:
///   `CASE WHEN false THEN ARRAY[(NULL::"t")."a"] ELSE $1 END` — `(NULL::"t")."a"` has column
///   `a`'s type (every table has a row type of its name), `CASE` gives `$1` its other
///   branch's type, and the planner drops the branch never taken (the plan scans
///   `unnest($1, …)`). A column sea-query casts (`CAST($1 AS "mood")`) gets the cast on its
///   array instead, as before. Values the column refuses fail with the same SQLSTATE.
///
/// # What passes unchanged
///
/// SQL whose placeholders are not exactly `$1..$n` once each, in order, with `n` values;
/// unterminated literals or unbalanced brackets; more than one statement; lists with anything
/// but placeholders (columns, literals, `DEFAULT`, subqueries), placeholders written in
/// different ways, or values of different [`Value`] variants or of array values; `IN` where
/// the left operand cannot be told exactly (after `IS NOT`, `BETWEEN … AND`, `LIKE`, a
/// `CASE … END` …); row lists with a position of strings; single-row inserts, inserts without
/// a column list. Literals, quoted identifiers, dollar quotes and comments are never looked
/// into.
///
/// ```
/// use pgtusk_dialect::rewrite;
/// use pgtusk_dialect::sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Query};
///
/// let (sql, values) = Query::select()
///     .column("name")
///     .from("users")
///     .and_where(Expr::col("id").is_in([3, 1, 4]))
///     .and_where(Expr::col("team").eq("red"))
///     .build(PostgresQueryBuilder);
/// assert_eq!(
///     sql,
///     r#"SELECT "name" FROM "users" WHERE "id" IN ($1, $2, $3) AND "team" = $4"#
/// );
/// let (sql, values) = rewrite(&sql, values);
/// assert_eq!(sql, r#"SELECT "name" FROM "users" WHERE "id" = ANY($1) AND "team" = $2"#);
/// assert_eq!(values.0.len(), 2);
/// ```
pub fn rewrite(sql: &str, values: Values) -> (String, Values) {
    if values.0.is_empty() || !may_have_a_list(sql) {
        return (sql.to_owned(), values);
    }
    let Some(tokens) = tokenizer::tokenize(sql) else {
        return (sql.to_owned(), values);
    };
    if !numbered_in_order(&tokens, values.0.len()) {
        return (sql.to_owned(), values);
    }
    let Some(code) = syntax::Sql::new(sql, tokens) else {
        return (sql.to_owned(), values);
    };
    // One statement: nothing after a `;` but the end.
    if (0..code.len())
        .any(|i| code.kind(i) == Some(tokenizer::Kind::Semicolon) && i + 1 < code.len())
    {
        return (sql.to_owned(), values);
    }
    let mut edits = Vec::new();
    in_list::edits(&code, &values.0, &mut edits);
    edits.extend(insert::edit(&code, &values.0));
    if edits.is_empty() {
        return (sql.to_owned(), values);
    }
    edit::apply(sql, code.tokens(), edits, values).unwrap_or_else(|values| (sql.to_owned(), values))
}

/// Whether `sql` has an `(` after the word `IN` or `VALUES` (spaces between): where the
/// rewrites start. Most statements have neither and skip the tokenizer; one that has them,
/// even in a literal, goes through it.
fn may_have_a_list(sql: &str) -> bool {
    let b = sql.as_bytes();
    let ends_with_word = |end: usize, word: &[u8]| {
        end >= word.len()
            && b[end - word.len()..end].eq_ignore_ascii_case(word)
            && (end == word.len() || {
                let c = b[end - word.len() - 1];
                !(c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80)
            })
    };
    b.iter().enumerate().any(|(i, &c)| {
        if c != b'(' {
            return false;
        }
        let mut end = i;
        while end > 0 && b[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        ends_with_word(end, b"IN") || ends_with_word(end, b"VALUES")
    })
}

/// Whether the placeholders are `$1`, `$2`, … `$count`, each once, in that order.
fn numbered_in_order(tokens: &[tokenizer::Token], count: usize) -> bool {
    let mut seen = 0usize;
    for t in tokens {
        if let tokenizer::Kind::Param(n) = t.kind {
            seen += 1;
            if usize::try_from(n).ok() != Some(seen) {
                return false;
            }
        }
    }
    seen == count
}

/// The element type of the values of placeholders `params`, if they are all of one variant
/// that arrays carry (enums count as strings: they travel as their labels).
fn uniform(values: &[Value], params: &[u32]) -> Option<ElementType> {
    let value = |n: u32| values.get(usize::try_from(n).ok()?.checked_sub(1)?);
    let first = value(*params.first()?)?;
    let ty = element_type(first)?;
    let string = |v: &Value| matches!(v, Value::String(_) | Value::Enum(_));
    for &n in &params[1..] {
        let v = value(n)?;
        let same = if string(first) {
            string(v)
        } else {
            std::mem::discriminant(v) == std::mem::discriminant(first)
        };
        if !same {
            return None;
        }
    }
    Some(ty)
}

#[cfg(test)]
mod tests;
