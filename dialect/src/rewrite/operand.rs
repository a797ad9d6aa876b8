//! The left operand of `IN`, found by walking back from it, and whether `= ANY(…)` may take
//! `IN`'s place there as it stands or needs parentheses.
//!
//! `IN` binds tighter than `=` (PostgreSQL's precedence table: `::`, `[ ]`, `.`, unary minus,
//! `^ * / % + -`, any other operator, then `BETWEEN IN LIKE`, then `< > = <= >= <>`, then `IS`,
//! `NOT`, `AND`, `OR`). So the operand of `x IN (…)` is the longest run of what binds tighter
//! than `IN` before it, and `x = ANY(…)` means the same wherever the tokens on both sides bind
//! looser than `=` (`WHERE`, `AND`, `(`, `,` …). Next to a comparison it is wrapped:
//! `a = (x = ANY(…))`. Anywhere else the statement keeps its `IN`.

use super::syntax::Sql;
use super::tokenizer::Kind;

/// How `x = ANY(…)` fits where `x IN (…)` was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// As it stands.
    Bare,
    /// In parentheses.
    Wrapped,
}

/// The first token of the operand that ends at token `end`: operands (columns, literals,
/// placeholders, function calls, brackets) joined by operators that bind tighter than `IN`,
/// with their casts, subscripts and field selections. `None` if the walk meets anything else
/// first (a keyword such as `END` or `NULLS`).
pub(crate) fn operand_start(sql: &Sql<'_>, end: usize) -> Option<usize> {
    let mut last = end;
    loop {
        let start = primary_start(sql, last)?;
        let Some(op) = start.checked_sub(1) else {
            return Some(start);
        };
        if sql.kind(op) != Some(Kind::Op) || is_comparison(sql.text(op)) {
            return Some(start);
        }
        // A binary operator if an operand ends before it, else a prefix one (`- x`).
        match op.checked_sub(1) {
            Some(before) if ends_operand(sql, before) => last = before,
            _ => return Some(op),
        }
    }
}

/// The first token of the primary expression ending at `last`, with its postfixes.
fn primary_start(sql: &Sql<'_>, mut last: usize) -> Option<usize> {
    loop {
        let start = match sql.kind(last)? {
            Kind::RParen => {
                let open = sql.pair(last);
                // A function call: the name before the parenthesis (qualified: see below).
                match open.checked_sub(1) {
                    Some(name) if is_name(sql, name) => name,
                    _ => open,
                }
            }
            Kind::RBracket => {
                let open = sql.pair(last);
                match open.checked_sub(1) {
                    Some(a) if sql.is_word(a, "ARRAY") => a,
                    // A subscript, or the `[]` of an array type: the expression before it.
                    Some(base) if ends_operand(sql, base) => {
                        last = base;
                        continue;
                    }
                    _ => return None,
                }
            }
            Kind::Word if sql.is_reserved(last) => return None,
            Kind::Word
            | Kind::Quoted
            | Kind::String
            | Kind::Dollar
            | Kind::Number
            | Kind::Param(_) => last,
            _ => return None,
        };
        // `x::T` (we stand on `T`), `"t"."c"`, `(r).f`, `"s"."f"(…)`: go on before it.
        match sql.kind_before(start) {
            Some(Kind::Cast | Kind::Dot) if start >= 2 => last = start - 2,
            Some(Kind::Cast | Kind::Dot) => return None,
            _ => return Some(start),
        }
    }
}

/// A name that can stand before `(` as a function's: an identifier, not a keyword such as
/// `AND (` or `OVER (`.
fn is_name(sql: &Sql<'_>, i: usize) -> bool {
    match sql.kind(i) {
        Some(Kind::Word) => !sql.is_reserved(i),
        Some(Kind::Quoted) => true,
        _ => false,
    }
}

/// Whether an operand can end at token `i`.
pub(crate) fn ends_operand(sql: &Sql<'_>, i: usize) -> bool {
    match sql.kind(i) {
        Some(Kind::Word) => !sql.is_reserved(i),
        Some(
            Kind::RParen
            | Kind::RBracket
            | Kind::Quoted
            | Kind::String
            | Kind::Dollar
            | Kind::Number
            | Kind::Param(_),
        ) => true,
        _ => false,
    }
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "=" | "<" | ">" | "<=" | ">=" | "<>" | "!=")
}

/// Words after which an expression starts that nothing to its left binds.
const OPENS_EXPRESSION: &[&str] = &[
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "ON",
    "WHEN",
    "THEN",
    "ELSE",
    "HAVING",
    "SELECT",
    "DISTINCT",
    "RETURNING",
    "BY",
];

/// Words before which an expression has ended whatever it was.
const CLOSES_EXPRESSION: &[&str] = &[
    "AND",
    "OR",
    "THEN",
    "ELSE",
    "END",
    "WHEN",
    "ORDER",
    "GROUP",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "RETURNING",
    "FROM",
    "AS",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "WINDOW",
    "FOR",
    "WHERE",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "ON",
    "ASC",
    "DESC",
    "NULLS",
    "IS",
    "USING",
    "FETCH",
    "DO",
];

/// How `x = ANY(…)` fits in place of `x IN (…)`, where `x` starts at token `start` and the
/// list's `)` is token `close`; `None` where the statement keeps its `IN`.
pub(crate) fn fit(sql: &Sql<'_>, start: usize, close: usize) -> Option<Fit> {
    let left = match start.checked_sub(1) {
        None => Fit::Bare,
        Some(p) => match sql.kind(p)? {
            // `position(x IN y)` is not a list.
            Kind::LParen if p > 0 && sql.is_word(p - 1, "POSITION") => return None,
            Kind::LParen | Kind::LBracket | Kind::Comma => Fit::Bare,
            // `x IS NOT TRUE IN (…)`: the operand is `x IS NOT TRUE`, not `TRUE`.
            Kind::Word if sql.is_word(p, "NOT") && p > 0 && sql.is_word(p - 1, "IS") => {
                return None;
            }
            // `a BETWEEN b AND x IN (…)` does not parse; its rewrite must not either.
            Kind::Word if sql.is_word(p, "AND") && between_pending(sql, p) => return None,
            Kind::Word if sql.is_any_word(p, OPENS_EXPRESSION) => Fit::Bare,
            Kind::Op if is_comparison(sql.text(p)) => Fit::Wrapped,
            _ => return None,
        },
    };
    let right = match sql.kind(close + 1) {
        None | Some(Kind::RParen | Kind::RBracket | Kind::Comma | Kind::Semicolon) => Fit::Bare,
        Some(Kind::Word) if sql.is_any_word(close + 1, CLOSES_EXPRESSION) => Fit::Bare,
        _ => Fit::Wrapped,
    };
    Some(if left == Fit::Bare && right == Fit::Bare {
        Fit::Bare
    } else {
        Fit::Wrapped
    })
}

/// Whether the `AND` at `and` is the one of a `BETWEEN … AND`: a `BETWEEN` before it at the
/// same depth, with no other `AND` or clause between them.
fn between_pending(sql: &Sql<'_>, and: usize) -> bool {
    let mut i = and;
    while let Some(p) = i.checked_sub(1) {
        i = p;
        match sql.kind(i) {
            Some(Kind::RParen | Kind::RBracket) => i = sql.pair(i),
            Some(Kind::LParen | Kind::LBracket | Kind::Comma | Kind::Semicolon) | None => {
                return false;
            }
            Some(Kind::Word) if sql.is_word(i, "BETWEEN") => return true,
            Some(Kind::Word) if sql.is_any_word(i, OPENS_EXPRESSION) => return false,
            _ => {}
        }
    }
    false
}
