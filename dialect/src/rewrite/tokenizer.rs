//! PostgreSQL's lexical rules, enough to tell code from data. Spaces and comments between the
//! tokens are skipped, not dropped: a rewrite copies the text between tokens as it is.
//!
//! Literals, quoted identifiers, dollar quotes and comments are single tokens, so nothing
//! inside them (`'IN ($1)'`, `$$ $1 $$`, `/* $1 */`) is ever seen as code. The rules are the
//! server's (`scan.l`) with `standard_conforming_strings` on, its default since 9.1 and what
//! sea-query writes for: a backslash escapes only in `E'…'`.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare identifier or keyword (`SELECT`, `id`, `a$b`).
    Word,
    /// A quoted identifier, `"a""b"` or `U&"…"`.
    Quoted,
    /// A string literal: `'…'`, `E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`.
    String,
    /// A dollar-quoted string, `$$…$$` or `$tag$…$tag$`.
    Dollar,
    /// A numeric literal.
    Number,
    /// A positional parameter `$n`.
    Param(u32),
    /// An operator (`=`, `<>`, `||`, `->>`, `+`).
    Op,
    /// `::`
    Cast,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Semicolon,
    Colon,
    Dot,
    /// Any other byte (`\`, `{`, a `$` that starts nothing).
    Other,
    /// Spaces or a comment: never in the list [`tokenize`] returns.
    Skip,
}

/// One token: its kind and its bytes `start..end` in the input (16 bytes: a statement of
/// 200,000 rows has millions of tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    start: u32,
    end: u32,
}

impl Token {
    pub fn start(&self) -> usize {
        self.start as usize
    }

    pub fn end(&self) -> usize {
        self.end as usize
    }
}

/// The tokens of `sql` in order, without the spaces and comments between them; `None` if a
/// literal, quoted identifier, dollar quote or block comment is not closed, or `sql` is past
/// 4 GiB (the server takes at most 1 GiB).
pub(crate) fn tokenize(sql: &str) -> Option<Vec<Token>> {
    let b = sql.as_bytes();
    u32::try_from(b.len()).ok()?;
    let mut tokens = Vec::with_capacity(b.len() / 4 + 1);
    let mut i = 0;
    while i < b.len() {
        let (kind, end, closed) = next(b, i);
        if !closed {
            return None;
        }
        if let Some(kind) = kind {
            // Both fit: checked against the length above.
            tokens.push(Token {
                kind,
                start: i as u32,
                end: end as u32,
            });
        }
        i = end;
    }
    Some(tokens)
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn ident_cont(c: u8) -> bool {
    ident_start(c) || c.is_ascii_digit() || c == b'$'
}

fn op_char(c: u8) -> bool {
    matches!(
        c,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

/// The token at `i` (`None` for spaces and comments), where it ends, and whether it was
/// closed.
fn next(b: &[u8], i: usize) -> (Option<Kind>, usize, bool) {
    let (kind, end, closed) = code(b, i);
    (Some(kind).filter(|k| *k != Kind::Skip), end, closed)
}

/// The token at `i`, [`Kind::Skip`] for spaces and comments.
fn code(b: &[u8], i: usize) -> (Kind, usize, bool) {
    let c = b[i];
    let at = |j: usize| b.get(j).copied();
    match c {
        c if is_space(c) => {
            let mut j = i + 1;
            while j < b.len() && is_space(b[j]) {
                j += 1;
            }
            (Kind::Skip, j, true)
        }
        b'-' if at(i + 1) == Some(b'-') => {
            let j = b[i..]
                .iter()
                .position(|&c| c == b'\n' || c == b'\r')
                .map_or(b.len(), |p| i + p);
            (Kind::Skip, j, true)
        }
        b'/' if at(i + 1) == Some(b'*') => {
            let (end, ok) = block_comment(b, i);
            (Kind::Skip, end, ok)
        }
        b'\'' => {
            let (end, ok) = quoted(b, i, b'\'', false);
            (Kind::String, end, ok)
        }
        b'"' => {
            let (end, ok) = quoted(b, i, b'"', false);
            (Kind::Quoted, end, ok)
        }
        b'$' => dollar(b, i),
        b'0'..=b'9' => (Kind::Number, number(b, i), true),
        b'.' if at(i + 1).is_some_and(|c| c.is_ascii_digit()) => (Kind::Number, number(b, i), true),
        c if ident_start(c) => {
            // String prefixes: E'…' (backslash escapes), B'…', X'…', N'…', U&'…', U&"…".
            match (c.to_ascii_uppercase(), at(i + 1), at(i + 2)) {
                (b'E', Some(b'\''), _) => {
                    let (end, ok) = quoted(b, i + 1, b'\'', true);
                    return (Kind::String, end, ok);
                }
                (b'B' | b'X' | b'N', Some(b'\''), _) => {
                    let (end, ok) = quoted(b, i + 1, b'\'', false);
                    return (Kind::String, end, ok);
                }
                (b'U', Some(b'&'), Some(q @ (b'\'' | b'"'))) => {
                    let (end, ok) = quoted(b, i + 2, q, false);
                    let kind = if q == b'"' {
                        Kind::Quoted
                    } else {
                        Kind::String
                    };
                    return (kind, end, ok);
                }
                _ => {}
            }
            let mut j = i + 1;
            while j < b.len() && ident_cont(b[j]) {
                j += 1;
            }
            (Kind::Word, j, true)
        }
        b':' if at(i + 1) == Some(b':') => (Kind::Cast, i + 2, true),
        b':' => (Kind::Colon, i + 1, true),
        b'(' => (Kind::LParen, i + 1, true),
        b')' => (Kind::RParen, i + 1, true),
        b'[' => (Kind::LBracket, i + 1, true),
        b']' => (Kind::RBracket, i + 1, true),
        b',' => (Kind::Comma, i + 1, true),
        b';' => (Kind::Semicolon, i + 1, true),
        b'.' => (Kind::Dot, i + 1, true),
        c if op_char(c) => (Kind::Op, operator(b, i), true),
        _ => (Kind::Other, i + 1, true),
    }
}

/// `/* … */` with nesting, from `i` (at `/*`): its end and whether it was closed.
fn block_comment(b: &[u8], i: usize) -> (usize, bool) {
    let mut depth = 0usize;
    let mut j = i;
    while j + 1 < b.len() {
        match (b[j], b[j + 1]) {
            (b'/', b'*') => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return (j, true);
                }
            }
            _ => j += 1,
        }
    }
    (b.len(), false)
}

/// A literal or identifier quoted by `q` from `i` (at the opening quote), where a doubled
/// quote stands for one and, with `backslash`, `\` escapes the next byte.
fn quoted(b: &[u8], i: usize, q: u8, backslash: bool) -> (usize, bool) {
    let mut j = i + 1;
    while j < b.len() {
        let c = b[j];
        if backslash && c == b'\\' {
            j += 2;
        } else if c == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
            } else {
                return (j + 1, true);
            }
        } else {
            j += 1;
        }
    }
    (b.len(), false)
}

/// At a `$`: a parameter `$n`, a dollar quote `$tag$…$tag$`, or a lone `$`.
fn dollar(b: &[u8], i: usize) -> (Kind, usize, bool) {
    let mut j = i + 1;
    if b.get(j).is_some_and(u8::is_ascii_digit) {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let n = b[i + 1..j].iter().try_fold(0u32, |n, &d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        });
        return match n {
            Some(n) => (Kind::Param(n), j, true),
            None => (Kind::Other, j, true),
        };
    }
    // The tag: an identifier without `$`, possibly empty.
    if b.get(j).is_some_and(|&c| ident_start(c)) {
        j += 1;
        while j < b.len() && (ident_start(b[j]) || b[j].is_ascii_digit()) {
            j += 1;
        }
    }
    if b.get(j) != Some(&b'$') {
        return (Kind::Other, i + 1, true);
    }
    let delim = &b[i..=j];
    let body = j + 1;
    match b[body..].windows(delim.len()).position(|w| w == delim) {
        Some(p) => (Kind::Dollar, body + p + delim.len(), true),
        None => (Kind::Dollar, b.len(), false),
    }
}

/// A number from `i`: digits, a fraction, an exponent, and any identifier characters the
/// server would reject as trailing junk (kept in the token, never split into a word).
fn number(b: &[u8], i: usize) -> usize {
    let digits = |mut j: usize| {
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    let mut j = digits(i);
    if b.get(j) == Some(&b'.') && b.get(j + 1) != Some(&b'.') {
        j = digits(j + 1);
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        let k = if matches!(b.get(j + 1), Some(b'+' | b'-')) {
            j + 2
        } else {
            j + 1
        };
        if b.get(k).is_some_and(u8::is_ascii_digit) {
            j = digits(k);
        }
    }
    while j < b.len() && ident_cont(b[j]) {
        j += 1;
    }
    j
}

/// An operator from `i`, as `scan.l` cuts it: the longest run of operator characters, ended
/// before a comment start, and without trailing `+`/`-` unless it holds one of `~!@#%^&|`?`
/// (so `=-1` is `=` then `-`).
fn operator(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() && op_char(b[j]) {
        if j > i
            && matches!(
                (b[j], b.get(j + 1)),
                (b'-', Some(b'-')) | (b'/', Some(b'*'))
            )
        {
            break;
        }
        j += 1;
    }
    let op = &b[i..j];
    if op.len() > 1
        && !op.iter().any(|c| {
            matches!(
                c,
                b'~' | b'!' | b'@' | b'#' | b'%' | b'^' | b'&' | b'|' | b'`' | b'?'
            )
        })
    {
        while j > i + 1 && matches!(b[j - 1], b'+' | b'-') {
            j -= 1;
        }
    }
    j
}

#[cfg(test)]
mod tests {
    use super::{Kind, tokenize};

    /// The tokens, as (kind, text).
    fn toks(sql: &str) -> Vec<(Kind, &str)> {
        tokenize(sql)
            .unwrap_or_else(|| panic!("unterminated: {sql}"))
            .iter()
            .map(|t| (t.kind, &sql[t.start()..t.end()]))
            .collect()
    }

    #[test]
    fn between_tokens_only_spaces_and_comments() {
        for sql in [
            "SELECT 1",
            "  x IN ($1, $2) -- c\n",
            "é'ü' \"ß\" $$ü$$ /* ü */ ü",
            "a/* x */b--y\n\tc",
        ] {
            let tokens = tokenize(sql).unwrap();
            let mut at = 0;
            for t in &tokens {
                assert!(t.start() >= at && t.end() > t.start(), "{sql}");
                assert!(sql.is_char_boundary(t.start()) && sql.is_char_boundary(t.end()));
                let gap = sql[at..t.start()].trim();
                assert!(
                    gap.is_empty() || gap.starts_with("--") || gap.starts_with("/*"),
                    "{sql}: {gap:?}"
                );
                at = t.end();
            }
        }
    }

    #[test]
    fn string_literals_with_doubled_quotes() {
        assert_eq!(
            toks("'it''s IN ($1)' x"),
            [(Kind::String, "'it''s IN ($1)'"), (Kind::Word, "x")]
        );
        assert_eq!(toks("''''"), [(Kind::String, "''''")]);
        assert_eq!(
            toks("'a' 'b'"),
            [(Kind::String, "'a'"), (Kind::String, "'b'")]
        );
        // Standard strings: a backslash is an ordinary character.
        assert_eq!(
            toks(r"'a\' $1"),
            [(Kind::String, r"'a\'"), (Kind::Param(1), "$1")]
        );
    }

    #[test]
    fn escape_strings_with_backslashes() {
        assert_eq!(
            toks(r"E'a\'b $1' $2"),
            [(Kind::String, r"E'a\'b $1'"), (Kind::Param(2), "$2")]
        );
        assert_eq!(
            toks(r"e'\\' $1"),
            [(Kind::String, r"e'\\'"), (Kind::Param(1), "$1")]
        );
        assert_eq!(toks(r"E'it''s'"), [(Kind::String, r"E'it''s'")]);
        assert_eq!(
            toks("B'101' X'ff' N'n' U&'\\0041'"),
            [
                (Kind::String, "B'101'"),
                (Kind::String, "X'ff'"),
                (Kind::String, "N'n'"),
                (Kind::String, "U&'\\0041'")
            ]
        );
        // A word ending in e before a quote is not a prefix unless it is the whole word.
        assert_eq!(
            toks("name'x'"),
            [(Kind::Word, "name"), (Kind::String, "'x'")]
        );
    }

    #[test]
    fn quoted_identifiers() {
        assert_eq!(
            toks(r#""a""b" IN "x$1""#),
            [
                (Kind::Quoted, r#""a""b""#),
                (Kind::Word, "IN"),
                (Kind::Quoted, r#""x$1""#)
            ]
        );
        assert_eq!(toks(r#"U&"d\0061t""#), [(Kind::Quoted, r#"U&"d\0061t""#)]);
    }

    #[test]
    fn dollar_quotes_and_parameters() {
        assert_eq!(
            toks("$$ IN ($1) $$ $1"),
            [(Kind::Dollar, "$$ IN ($1) $$"), (Kind::Param(1), "$1")]
        );
        assert_eq!(
            toks("$fn$ $$ $1 $fn$ $2"),
            [(Kind::Dollar, "$fn$ $$ $1 $fn$"), (Kind::Param(2), "$2")]
        );
        assert_eq!(toks("$a$x$b$y$a$"), [(Kind::Dollar, "$a$x$b$y$a$")]);
        assert_eq!(toks("$12"), [(Kind::Param(12), "$12")]);
        assert_eq!(
            toks("$1,$2)"),
            [
                (Kind::Param(1), "$1"),
                (Kind::Comma, ","),
                (Kind::Param(2), "$2"),
                (Kind::RParen, ")")
            ]
        );
        // `$` continues an identifier: no dollar quote starts inside a word.
        assert_eq!(
            toks("a$b$ $1"),
            [(Kind::Word, "a$b$"), (Kind::Param(1), "$1")]
        );
        // Past u32: not a parameter the rewrite knows.
        assert_eq!(toks("$99999999999"), [(Kind::Other, "$99999999999")]);
        assert_eq!(toks("$ 1"), [(Kind::Other, "$"), (Kind::Number, "1")]);
    }

    #[test]
    fn comments_line_and_nested_block() {
        assert_eq!(
            toks("a -- $1 IN (\n$2"),
            [(Kind::Word, "a"), (Kind::Param(2), "$2")]
        );
        assert_eq!(toks("/* a /* $1 */ b */ $2"), [(Kind::Param(2), "$2")]);
        // An operator ends where a comment starts.
        assert_eq!(
            toks("a=-- c\n1"),
            [(Kind::Word, "a"), (Kind::Op, "="), (Kind::Number, "1")]
        );
        assert_eq!(
            toks("a*/* c */b"),
            [(Kind::Word, "a"), (Kind::Op, "*"), (Kind::Word, "b")]
        );
    }

    #[test]
    fn unterminated_literals_and_comments_are_refused() {
        for sql in [
            "'abc", "E'a\\'", "\"x", "$$ a", "$t$ a $$", "/* /* */", "x 'y",
        ] {
            assert!(tokenize(sql).is_none(), "{sql}");
        }
    }

    #[test]
    fn operators_numbers_and_punctuation() {
        assert_eq!(
            toks("a=-1"),
            [
                (Kind::Word, "a"),
                (Kind::Op, "="),
                (Kind::Op, "-"),
                (Kind::Number, "1")
            ]
        );
        assert_eq!(
            toks("j->>'k' @- x"),
            [
                (Kind::Word, "j"),
                (Kind::Op, "->>"),
                (Kind::String, "'k'"),
                (Kind::Op, "@-"),
                (Kind::Word, "x")
            ]
        );
        assert_eq!(
            toks("x::int4[] <> 1.5e-3"),
            [
                (Kind::Word, "x"),
                (Kind::Cast, "::"),
                (Kind::Word, "int4"),
                (Kind::LBracket, "["),
                (Kind::RBracket, "]"),
                (Kind::Op, "<>"),
                (Kind::Number, "1.5e-3")
            ]
        );
        assert_eq!(
            toks(r#""t"."c" .5 a[1:2];"#),
            [
                (Kind::Quoted, r#""t""#),
                (Kind::Dot, "."),
                (Kind::Quoted, r#""c""#),
                (Kind::Number, ".5"),
                (Kind::Word, "a"),
                (Kind::LBracket, "["),
                (Kind::Number, "1"),
                (Kind::Colon, ":"),
                (Kind::Number, "2"),
                (Kind::RBracket, "]"),
                (Kind::Semicolon, ";")
            ]
        );
    }
}
