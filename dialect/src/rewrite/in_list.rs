//! `x IN ($1, …, $n)` (or `(x) IN (($1), …, ($n))`) as `x = ANY($k)`, and
//! `(a, b) IN (($1, $2), …)` as
//! `(a, b) IN (SELECT * FROM unnest($k::T1[], $k+1::T2[]))`.

use sea_query::Value;

use super::edit::{Edit, Piece};
use super::operand::{Fit, fit, operand_start};
use super::syntax::{Item, Sql};
use super::tokenizer::Kind;
use super::uniform;

/// The edits for every `IN` list the rewrite recognises.
pub(crate) fn edits(sql: &Sql<'_>, values: &[Value], out: &mut Vec<Edit>) {
    for i in 0..sql.len() {
        if sql.is_word(i, "IN") && sql.kind(i + 1) == Some(Kind::LParen) {
            list(sql, values, i, out);
        }
    }
}

/// The list after the `IN` at `in_`.
fn list(sql: &Sql<'_>, values: &[Value], in_: usize, out: &mut Vec<Edit>) {
    let not = in_ > 0 && sql.is_word(in_ - 1, "NOT");
    let op = if not { in_ - 1 } else { in_ };
    let Some(left_end) = op.checked_sub(1) else {
        return;
    };
    let open = in_ + 1;
    if let Some(width) = row_width(sql, left_end) {
        if let Some(edit) = rows(sql, values, open, width) {
            out.push(edit);
        }
        return;
    }
    // sea-orm's loader writes a one-column key list as one-element rows,
    // `("t"."a") IN (($1), ($2))`: brackets around one expression are only grouping, so that
    // is `"t"."a" IN ($1, $2)`.
    let Some(items) = sql.items(open).or_else(|| bracketed_items(sql, open)) else {
        return;
    };
    let Some((params, cast)) = one_form(&items) else {
        return;
    };
    let Some(ty) = uniform(values, &params) else {
        return;
    };
    let Some(start) = operand_start(sql, left_end) else {
        return;
    };
    // A row on the left (`(a, b) IN ($1)`) compares with records: not a list of values.
    if sql.kind(start) == Some(Kind::LParen)
        && sql.pair(start) == left_end
        && !sql.commas(start).is_empty()
    {
        return;
    }
    let close = sql.pair(open);
    let Some(fit) = fit(sql, start, close) else {
        return;
    };
    if fit == Fit::Wrapped {
        out.push(Edit {
            start: sql.start(start),
            end: sql.start(start),
            pieces: vec![Piece::text("(")],
        });
    }
    // No cast on a plain list: the server gives the array the left side's type, as it gives
    // each `$i` of the list, and the values are encoded for that type exactly as before.
    let (before, after) = cast.map(|c| c.array_around()).unwrap_or_default();
    let mut pieces = vec![
        Piece::text(format!("{}({before}", if not { "<> ALL" } else { "= ANY" })),
        Piece::Array {
            ty: ty.array_type,
            params,
        },
        Piece::text(format!("{after})")),
    ];
    if fit == Fit::Wrapped {
        pieces.push(Piece::text(")"));
    }
    out.push(Edit {
        start: sql.start(op),
        end: sql.end(close),
        pieces,
    });
}

/// The items of `(($1), ($2), …)` at `open`: one placeholder item in each pair of brackets.
fn bracketed_items<'a>(sql: &Sql<'a>, open: usize) -> Option<Vec<Item<'a>>> {
    let close = sql.pair(open);
    let mut items = Vec::new();
    let mut i = open + 1;
    while i < close {
        if sql.kind(i) != Some(Kind::LParen) {
            return None;
        }
        let (item, last) = sql.item(i + 1)?;
        if sql.pair(i) != last + 1 {
            return None;
        }
        items.push(item);
        i = last + 2;
        match sql.kind(i) {
            Some(Kind::Comma) if i + 1 < close => i += 1,
            _ if i == close => {}
            _ => return None,
        }
    }
    (!items.is_empty()).then_some(items)
}

/// The placeholders of items that are all written alike (all `$n`, or all cast to one type),
/// and that cast.
fn one_form<'a>(items: &[Item<'a>]) -> Option<(Vec<u32>, Option<super::syntax::Cast<'a>>)> {
    let cast = items.first()?.cast;
    items
        .iter()
        .all(|i| i.cast == cast)
        .then(|| (items.iter().map(|i| i.param).collect(), cast))
}

/// The width of the row constructor `(a, b, …)` that ends at `close`, if it is one: two or
/// more expressions in parentheses that are not a function's arguments.
fn row_width(sql: &Sql<'_>, close: usize) -> Option<usize> {
    if sql.kind(close) != Some(Kind::RParen) {
        return None;
    }
    let open = sql.pair(close);
    let commas = sql.commas(open).len();
    if commas == 0 {
        return None;
    }
    match sql.kind_before(open) {
        Some(Kind::Word) if !sql.is_reserved(open - 1) => None,
        Some(Kind::Quoted | Kind::RParen | Kind::RBracket | Kind::Dot) => None,
        _ => Some(commas + 1),
    }
}

/// `((…), (…), …)` at `open`, each row `width` placeholders, as
/// `(SELECT * FROM unnest($k::T1[], …))`; `None` unless every position can be typed.
fn rows(sql: &Sql<'_>, values: &[Value], open: usize, width: usize) -> Option<Edit> {
    let close = sql.pair(open);
    let mut columns: Vec<Vec<Item<'_>>> = vec![Vec::new(); width];
    let mut i = open + 1;
    while i < close {
        if sql.kind(i) != Some(Kind::LParen) {
            return None;
        }
        let row = sql.items(i)?;
        if row.len() != width {
            return None;
        }
        for (column, item) in columns.iter_mut().zip(row) {
            column.push(item);
        }
        i = sql.pair(i) + 1;
        match sql.kind(i) {
            Some(Kind::Comma) if i + 1 < close => i += 1,
            _ if i == close => {}
            _ => return None,
        }
    }
    if columns[0].is_empty() {
        return None;
    }
    let mut pieces = vec![Piece::text("(SELECT * FROM unnest(")];
    for (j, column) in columns.iter().enumerate() {
        let (params, cast) = one_form(column)?;
        let ty = uniform(values, &params)?;
        let (before, after) = match cast {
            Some(c) => c.array_around(),
            // `unnest` needs its arrays typed, and a string must compare in its column's type
            // (`bpchar = text` compares as text): rows with strings keep their list.
            None if ty.takes_left_type() || ty.enum_name.is_some() => return None,
            None => (String::new(), format!("::{}[]", ty.sql_name)),
        };
        Piece::push_argument(&mut pieces, j, before, ty.array_type, params, after);
    }
    pieces.push(Piece::text("))"));
    Some(Edit {
        start: sql.start(open),
        end: sql.end(close),
        pieces,
    })
}
