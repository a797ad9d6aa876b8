//! A rewrite as a list of edits to the statement's text, and their application: the SQL and
//! its values rebuilt, every placeholder renumbered in order.

use sea_query::{ArrayType, Value, Values};

use super::tokenizer::{Kind, Token};

/// Text to write in place of the source bytes `start..end` (an insertion if they are equal).
#[derive(Debug)]
pub(crate) struct Edit {
    pub start: usize,
    pub end: usize,
    pub pieces: Vec<Piece>,
}

/// A part of an edit's text.
#[derive(Debug)]
pub(crate) enum Piece {
    Text(String),
    /// A new placeholder, bound to the array of the values of the old placeholders `params`
    /// (their numbers `n` in `$n`), as `ty`.
    Array {
        ty: ArrayType,
        params: Vec<u32>,
    },
}

impl Piece {
    pub fn text(s: impl Into<String>) -> Piece {
        Piece::Text(s.into())
    }

    /// Appends argument `index` of an `unnest(…)` call: `before`, the array of `params` as
    /// `ty`, `after`, with a comma ahead of every argument but the first.
    pub fn push_argument(
        pieces: &mut Vec<Piece>,
        index: usize,
        before: String,
        ty: ArrayType,
        params: Vec<u32>,
        after: String,
    ) {
        if index > 0 {
            pieces.push(Piece::text(", "));
        }
        pieces.push(Piece::Text(before));
        pieces.push(Piece::Array { ty, params });
        pieces.push(Piece::Text(after));
    }
}

/// `sql` with `edits` applied, and its values: placeholders outside the edits keep their
/// values and are numbered in the order they now appear, each array placeholder among them.
/// The values come back untouched if the edits overlap, or do not take each placeholder
/// they replace exactly once.
pub(crate) fn apply(
    sql: &str,
    tokens: &[Token],
    mut edits: Vec<Edit>,
    values: Values,
) -> Result<(String, Values), Values> {
    // Insertions before the replacement that starts at the same place.
    edits.sort_by_key(|e| (e.start, e.end > e.start));
    if edits.windows(2).any(|w| w[1].start < w[0].end) || !takes_each_once(tokens, &edits, &values)
    {
        return Err(values);
    }
    let mut old = values.0;
    let mut out = String::with_capacity(sql.len());
    let mut new = Vec::new();
    let mut next = edits.iter().peekable();
    // Copied up to `at`; the text before `skip_to` is replaced.
    let mut at = 0;
    let mut skip_to = 0;
    for t in tokens {
        // Spaces and comments between tokens, unless replaced.
        if at >= skip_to {
            out.push_str(&sql[at..t.start()]);
        }
        while let Some(e) = next.next_if(|e| e.start <= t.start()) {
            for piece in &e.pieces {
                match piece {
                    Piece::Text(s) => out.push_str(s),
                    Piece::Array { ty, params } => {
                        let items = params
                            .iter()
                            .map(|&n| take(&mut old, n).map(array_item))
                            .collect::<Option<Vec<_>>>();
                        let value = Value::Array(ty.clone(), items.map(Box::new));
                        push(&mut out, &mut new, value);
                    }
                }
            }
            skip_to = skip_to.max(e.end);
        }
        at = t.end();
        if t.start() < skip_to {
            continue;
        }
        match t.kind {
            // Checked above: every placeholder is still there.
            Kind::Param(n) => push(
                &mut out,
                &mut new,
                take(&mut old, n).unwrap_or(Value::Bool(None)),
            ),
            _ => out.push_str(&sql[t.start()..t.end()]),
        }
    }
    out.push_str(&sql[at..]);
    Ok((out, Values(new)))
}

fn push(out: &mut String, new: &mut Vec<Value>, value: Value) {
    use std::fmt::Write;
    new.push(value);
    // Writing into a String does not fail.
    let _ = write!(out, "${}", new.len());
}

/// Whether the arrays of `edits` take exactly the placeholders inside the text they replace,
/// each once, and every one of them a placeholder with a value.
fn takes_each_once(tokens: &[Token], edits: &[Edit], values: &Values) -> bool {
    let n = values.0.len();
    let mut inside = vec![false; n + 1];
    let mut e = 0;
    for t in tokens {
        while e < edits.len() && edits[e].end <= t.start() {
            e += 1;
        }
        if let (Kind::Param(p), Some(edit)) = (t.kind, edits.get(e)) {
            if edit.start <= t.start() && t.start() < edit.end {
                match inside.get_mut(p as usize) {
                    Some(slot) if p > 0 => *slot = true,
                    _ => return false,
                }
            }
        }
    }
    for edit in edits {
        for piece in &edit.pieces {
            if let Piece::Array { params, .. } = piece {
                for &p in params {
                    match inside.get_mut(p as usize) {
                        Some(slot) if *slot => *slot = false,
                        _ => return false,
                    }
                }
            }
        }
    }
    !inside.contains(&true)
}

/// The value of `$n` (taken once each: checked by `takes_each_once`).
fn take(old: &mut [Value], n: u32) -> Option<Value> {
    let slot = old.get_mut(usize::try_from(n).ok()?.checked_sub(1)?)?;
    Some(std::mem::replace(slot, Value::Bool(None)))
}

/// A value as an item of an array parameter: an enum travels as its label, which the server
/// reads as the enum type the statement casts the array to.
pub(crate) fn array_item(value: Value) -> Value {
    match value {
        Value::Enum(sea_query::OptionEnum::Some(e)) => Value::String(Some(e.value.into_owned())),
        Value::Enum(sea_query::OptionEnum::None(_)) => Value::String(None),
        other => other,
    }
}
