//! The code tokens of a statement (no spaces, no comments) with their brackets paired, and
//! the small pieces of grammar the rewrites recognise: keywords, placeholders, type names.

use super::tokenizer::{Kind, Token};

/// A statement's code tokens, indexed from 0, each bracket knowing its partner.
#[derive(Debug)]
pub(crate) struct Sql<'a> {
    pub src: &'a str,
    toks: Vec<Token>,
    /// For a bracket, the index of its partner.
    pair: Vec<u32>,
}

impl<'a> Sql<'a> {
    /// `tokens` with their brackets paired; `None` if a bracket has no partner (the statement
    /// is left alone: the server will say what is wrong with it).
    pub fn new(src: &'a str, toks: Vec<Token>) -> Option<Self> {
        // Fewer tokens than bytes, and the bytes fit in u32 (see `tokenize`).
        let mut pair = vec![u32::MAX; toks.len()];
        let mut open = Vec::new();
        for (i, t) in toks.iter().enumerate() {
            match t.kind {
                Kind::LParen | Kind::LBracket => open.push(i),
                Kind::RParen | Kind::RBracket => {
                    let o = open.pop()?;
                    let want = if t.kind == Kind::RParen {
                        Kind::LParen
                    } else {
                        Kind::LBracket
                    };
                    if toks[o].kind != want {
                        return None;
                    }
                    pair[o] = i as u32;
                    pair[i] = o as u32;
                }
                _ => {}
            }
        }
        open.is_empty().then_some(Sql { src, toks, pair })
    }

    pub fn len(&self) -> usize {
        self.toks.len()
    }

    /// The kind of token `i`; `None` past either end.
    pub fn kind(&self, i: usize) -> Option<Kind> {
        self.toks.get(i).map(|t| t.kind)
    }

    /// The kind of the token before `i`; `None` at the start.
    pub fn kind_before(&self, i: usize) -> Option<Kind> {
        i.checked_sub(1).and_then(|p| self.kind(p))
    }

    pub fn text(&self, i: usize) -> &'a str {
        let t = self.toks[i];
        &self.src[t.start()..t.end()]
    }

    /// The source text from the start of token `a` to the end of token `b`.
    pub fn span(&self, a: usize, b: usize) -> &'a str {
        &self.src[self.toks[a].start()..self.toks[b].end()]
    }

    /// Byte offset where token `i` starts.
    pub fn start(&self, i: usize) -> usize {
        self.toks[i].start()
    }

    /// Byte offset where token `i` ends.
    pub fn end(&self, i: usize) -> usize {
        self.toks[i].end()
    }

    /// All the tokens.
    pub fn tokens(&self) -> &[Token] {
        &self.toks
    }

    /// The partner of the bracket at `i`.
    pub fn pair(&self, i: usize) -> usize {
        self.pair[i] as usize
    }

    /// Whether token `i` is the bare word `word` (any case).
    pub fn is_word(&self, i: usize, word: &str) -> bool {
        self.kind(i) == Some(Kind::Word) && self.text(i).eq_ignore_ascii_case(word)
    }

    /// Whether token `i` is a bare word among `words` (upper case).
    pub fn is_any_word(&self, i: usize, words: &[&str]) -> bool {
        self.kind(i) == Some(Kind::Word)
            && words.iter().any(|w| self.text(i).eq_ignore_ascii_case(w))
    }

    /// Whether token `i` is a word that is a keyword of the grammar around expressions, never
    /// a value, a column or a function name.
    pub fn is_reserved(&self, i: usize) -> bool {
        self.is_any_word(i, RESERVED)
    }

    /// The indices of the top-level commas inside the brackets `open..pair(open)`.
    pub fn commas(&self, open: usize) -> Vec<usize> {
        let close = self.pair(open);
        let mut out = Vec::new();
        let mut i = open + 1;
        while i < close {
            match self.kind(i) {
                Some(Kind::LParen | Kind::LBracket) => i = self.pair(i),
                Some(Kind::Comma) => out.push(i),
                _ => {}
            }
            i += 1;
        }
        out
    }

    /// A type name from `i`: words or quoted identifiers joined by dots (`"mood"`,
    /// `"s"."mood"`, `int4`); the index of its last token. Anything longer (`varchar(10)`,
    /// `double precision`, `int4[]`) is not one: the caller then sees what follows.
    fn type_name(&self, i: usize) -> Option<usize> {
        let name = |j: usize| {
            matches!(self.kind(j), Some(Kind::Word | Kind::Quoted)) && !self.is_reserved(j)
        };
        if !name(i) {
            return None;
        }
        let mut last = i;
        while self.kind(last + 1) == Some(Kind::Dot) && name(last + 2) {
            last += 2;
        }
        Some(last)
    }

    /// The placeholder item at `i` (`$n`, `$n::T`, `CAST($n AS T)`) and the index of its last
    /// token, if it is one and ends where an item ends (at `,` or `)`).
    pub fn item(&self, i: usize) -> Option<(Item<'a>, usize)> {
        let (item, last) = match self.kind(i)? {
            Kind::Param(n) if self.kind(i + 1) == Some(Kind::Cast) => {
                let last = self.type_name(i + 2)?;
                let cast = Cast {
                    form: CastForm::Colons,
                    ty: self.span(i + 2, last),
                };
                (
                    Item {
                        param: n,
                        cast: Some(cast),
                    },
                    last,
                )
            }
            Kind::Param(n) => (
                Item {
                    param: n,
                    cast: None,
                },
                i,
            ),
            Kind::Word if self.is_word(i, "CAST") && self.kind(i + 1) == Some(Kind::LParen) => {
                let Some(Kind::Param(n)) = self.kind(i + 2) else {
                    return None;
                };
                if !self.is_word(i + 3, "AS") {
                    return None;
                }
                let last = self.type_name(i + 4)?;
                if self.pair(i + 1) != last + 1 {
                    return None;
                }
                let cast = Cast {
                    form: CastForm::Function,
                    ty: self.span(i + 4, last),
                };
                (
                    Item {
                        param: n,
                        cast: Some(cast),
                    },
                    last + 1,
                )
            }
            _ => return None,
        };
        matches!(self.kind(last + 1), Some(Kind::Comma | Kind::RParen)).then_some((item, last))
    }

    /// The items of the list in brackets at `open`, if every one is a placeholder item.
    pub fn items(&self, open: usize) -> Option<Vec<Item<'a>>> {
        let mut out = Vec::new();
        self.each_item(open, |item| out.push(item))?;
        Some(out)
    }

    /// Calls `f` with each item of the list in brackets at `open`, and says how many there
    /// were; `None` as soon as one is not a placeholder item (`f` may have seen some).
    pub fn each_item(&self, open: usize, mut f: impl FnMut(Item<'a>)) -> Option<usize> {
        let close = self.pair(open);
        // `()` and `($1,)` are not lists of items.
        if close == open + 1 || self.kind(close - 1) == Some(Kind::Comma) {
            return None;
        }
        let mut count = 0;
        let mut i = open + 1;
        while i < close {
            let (item, last) = self.item(i)?;
            f(item);
            count += 1;
            i = last + 2; // past the comma
        }
        Some(count)
    }
}

/// One placeholder of a list, with the cast sea-query writes around enum values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    /// The placeholder's number `n` in `$n`.
    pub param: u32,
    pub cast: Option<Cast<'a>>,
}

/// A cast of a placeholder to a named type: `$n::"mood"` or `CAST($n AS "mood")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cast<'a> {
    pub form: CastForm,
    /// The type's name as written.
    pub ty: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CastForm {
    /// `$n::T`
    Colons,
    /// `CAST($n AS T)`
    Function,
}

impl Cast<'_> {
    /// The text around an array parameter cast to this type's array: `::T[]` after it, or
    /// `CAST(` before it and ` AS T[])` after it.
    pub fn array_around(&self) -> (String, String) {
        match self.form {
            CastForm::Colons => (String::new(), format!("::{}[]", self.ty)),
            CastForm::Function => ("CAST(".into(), format!(" AS {}[])", self.ty)),
        }
    }
}

/// Keywords that end an expression or join clauses, never a value or a function name. A word
/// not here, in a value's place, is taken for an identifier (`NULL`, `TRUE`, `now`, `lower`
/// before its parenthesis).
const RESERVED: &[&str] = &[
    "ALL",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "ASYMMETRIC",
    "AT",
    "BETWEEN",
    "BOTH",
    "BY",
    "CASE",
    "CHECK",
    "COLLATE",
    "CONFLICT",
    "CONSTRAINT",
    "CROSS",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DISTINCT",
    "DO",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "FETCH",
    "FILTER",
    "FOR",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "ILIKE",
    "IN",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "LATERAL",
    "LEADING",
    "LEFT",
    "LIKE",
    "LIMIT",
    "NATURAL",
    "NOT",
    "NOTNULL",
    "NULLS",
    "OFFSET",
    "ON",
    "ONLY",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "OVERLAPS",
    "PLACING",
    "RETURNING",
    "RIGHT",
    "SELECT",
    "SET",
    "SIMILAR",
    "SOME",
    "SYMMETRIC",
    "TABLE",
    "THEN",
    "TO",
    "TRAILING",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VALUES",
    "VARIADIC",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHIN",
    "ZONE",
];
