//! Suggestions pgtusk adds to a server error from the query text, for mistakes the server
//! cannot explain because it only sees a syntax error.
//!
//! `x IN $1`: SQL's `IN` takes a parenthesized list, so a parameter right after it is a syntax
//! error at `$1`; comparing with each element of an array parameter is `x = ANY($1)` (and
//! `NOT IN` is `<> ALL($1)`). And a statement name of ours that already exists on the server:
//! the server connection is shared (pgbouncer in transaction mode).

use super::{DbError, Error, SqlState};

impl Error {
    /// This error with a pgtusk hint added when the query text shows a known mistake; the
    /// server's fields, its own hint included, are kept. Any other error comes back as it is.
    ///
    /// `sql` must be the text the server reported the error position in.
    pub(crate) fn with_query_hint(self, sql: &str) -> Error {
        match self {
            Error::Db(mut db) => {
                if db.driver_hint.is_none() {
                    db.driver_hint = query_hint(&db, sql);
                }
                Error::Db(db)
            }
            other => other,
        }
    }
}

/// The hint for `db` raised by `sql`, if pgtusk has one.
fn query_hint(db: &DbError, sql: &str) -> Option<String> {
    if db.message.contains("\"pgtusk_") {
        if db.code == SqlState::DUPLICATE_PREPARED_STATEMENT {
            return Some(format!("{NAME_TAKEN}{SHARED_CONNECTION_REMEDY}"));
        }
        if db.code == SqlState::INVALID_SQL_STATEMENT_NAME {
            return Some(format!("{NAME_MISSING}{SHARED_CONNECTION_REMEDY}"));
        }
    }
    if db.code != SqlState::SYNTAX_ERROR {
        return None;
    }
    // The position counts characters from 1.
    let index = usize::try_from(db.position?).ok()?.checked_sub(1)?;
    let (at, _) = sql.char_indices().nth(index)?;
    let (before, after) = sql.split_at(at);
    let digits = after
        .strip_prefix('$')?
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits == 0 {
        return None;
    }
    let param = &after[..1 + digits];
    let before = strip_keyword(before.trim_end(), "in")?;
    let negated = strip_keyword(before.trim_end(), "not").is_some();
    let (written, instead) = if negated {
        ("NOT IN", "<> ALL")
    } else {
        ("IN", "= ANY")
    };
    Some(format!(
        "`{written} {param}` needs a parenthesized list, not a parameter; to compare with each \
         element of an array parameter write `{instead}({param}::T[])` with T the element type \
         (e.g. `{instead}({param}::int4[])`), or build the list with pgtusk-dialect"
    ))
}

/// pgtusk names its statements per connection, so the server holding one of our names already,
/// or missing one we prepared (and retried once), is a server connection shared with other
/// clients: a transaction-pooling pgbouncer.
const NAME_TAKEN: &str = "another client already prepared this statement name on the same \
     server connection, as happens behind pgbouncer in transaction pooling mode";
const NAME_MISSING: &str = "a statement this connection prepared is missing on the server, as \
     happens behind pgbouncer in transaction pooling mode (the next request went to another \
     server connection)";
const SHARED_CONNECTION_REMEDY: &str = ": set statement_cache_size=0 (uncached queries are safe \
     there), or use pool_mode=session, or connect pgtusk's Pool to PostgreSQL directly instead \
     of pgbouncer";

/// `text` without the SQL keyword `keyword` at its end (any case, a whole word), or `None`.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let split = text.len().checked_sub(keyword.len())?;
    let (rest, word) = (text.get(..split)?, text.get(split..)?);
    if !word.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let glued = rest
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
    (!glued).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A syntax error at `position`, as the server reports `... IN $1`.
    fn syntax_error(position: &str, extra: &[(u8, &str)]) -> Error {
        let mut fields = vec![
            (b'S', "ERROR"),
            (b'V', "ERROR"),
            (b'C', "42601"),
            (b'M', "syntax error at or near \"$1\""),
            (b'P', position),
        ];
        fields.extend_from_slice(extra);
        Error::from(DbError::from_fields(fields).unwrap())
    }

    fn hint_of(err: &Error) -> Option<&str> {
        err.as_db_error().and_then(DbError::driver_hint)
    }

    #[test]
    fn a_statement_name_of_ours_taken_on_the_server_points_at_pgbouncer() {
        let duplicate = |name: &str| {
            let message = format!("prepared statement \"{name}\" already exists");
            let fields = [(b'S', "ERROR"), (b'C', "42P05"), (b'M', message.as_str())];
            Error::from(DbError::from_fields(fields).unwrap()).with_query_hint("SELECT 1")
        };
        let hint = hint_of(&duplicate("pgtusk_3"))
            .map(str::to_owned)
            .expect("a hint");
        assert!(hint.contains("statement_cache_size=0"), "{hint}");
        assert!(hint.contains("pgbouncer"), "{hint}");
        assert!(hint.contains("pgtusk's Pool"), "{hint}");
        // A name the user chose (PREPARE by hand) is not ours to explain.
        assert_eq!(hint_of(&duplicate("mine")), None);
        let missing = |name: &str| {
            let message = format!("prepared statement \"{name}\" does not exist");
            let fields = [(b'S', "ERROR"), (b'C', "26000"), (b'M', message.as_str())];
            Error::from(DbError::from_fields(fields).unwrap()).with_query_hint("SELECT 1")
        };
        let err = missing("pgtusk_7");
        let hint = hint_of(&err).expect("a hint");
        assert!(hint.contains("statement_cache_size=0"), "{hint}");
        assert_eq!(hint_of(&missing("mine")), None);
    }

    #[test]
    fn in_parameter_gets_the_any_hint() {
        let sql = "SELECT 1 WHERE 1 IN $1";
        let err = syntax_error("21", &[]).with_query_hint(sql);
        let hint = hint_of(&err).expect("a hint");
        assert!(
            hint.starts_with("`IN $1` needs a parenthesized list"),
            "{hint}"
        );
        assert!(hint.contains("`= ANY($1::T[])`"), "{hint}");
        assert!(hint.contains("pgtusk-dialect"), "{hint}");
        // Every server field is kept, and Display shows the hint after the server's fields.
        let db = err.as_db_error().unwrap();
        assert_eq!(db.code(), SqlState::SYNTAX_ERROR);
        assert_eq!(db.message(), "syntax error at or near \"$1\"");
        assert_eq!(db.position_in(sql), Some((1, 21)));
        assert_eq!(db.hint(), None);
        assert_eq!(
            err.to_string(),
            format!(
                "ERROR 42601 (syntax_error): syntax error at or near \"$1\"; hint (pgtusk): {hint}"
            )
        );
        assert!(format!("{err:#}").ends_with(&format!("\nHINT (pgtusk): {hint}")));
    }

    #[test]
    fn in_parameter_hint_keeps_the_servers_hint() {
        let sql = "select * from t where id in $12";
        let err = syntax_error("29", &[(b'H', "server says")]).with_query_hint(sql);
        let db = err.as_db_error().unwrap();
        assert_eq!(db.hint(), Some("server says"));
        let hint = db.driver_hint().expect("a hint");
        assert!(
            hint.contains("`IN $12`") && hint.contains("`= ANY($12::T[])`"),
            "{hint}"
        );
        let shown = err.to_string();
        assert!(
            shown.ends_with(&format!("; hint: server says; hint (pgtusk): {hint}")),
            "{shown}"
        );
    }

    #[test]
    fn in_parameter_hint_reads_case_spacing_and_not() {
        let hinted = |sql: &str| {
            let position = sql.chars().position(|c| c == '$').unwrap() + 1;
            hint_of(&syntax_error(&position.to_string(), &[]).with_query_hint(sql))
                .map(str::to_owned)
        };
        for sql in [
            "SELECT 1 WHERE 1 in$1",
            "SELECT 1 WHERE 1 In\n\t $1",
            "select (1)IN $1",
        ] {
            let hint = hinted(sql).unwrap_or_else(|| panic!("no hint for {sql:?}"));
            assert!(hint.contains("`= ANY($1::T[])`"), "{hint}");
        }
        let hint = hinted("SELECT 1 WHERE 1 NOT IN $2").unwrap();
        assert!(
            hint.starts_with("`NOT IN $2`") && hint.contains("`<> ALL($2::T[])`"),
            "{hint}"
        );
        let hint = hinted("SELECT 1 WHERE 1 not\nin $2").unwrap();
        assert!(hint.contains("<> ALL"), "{hint}");
        // `in` inside a word, or a parameter after something else: no hint.
        for sql in [
            "SELECT min $1",
            "SELECT 1 WHERE x_in $1",
            "SELECT $1",
            "SELECT 1 IN ($1 $2)",
        ] {
            assert_eq!(hinted(sql), None, "{sql:?}");
        }
        // Character positions, not bytes.
        assert!(hinted("SELECT 'é' WHERE 1 IN $1").is_some());
    }

    #[test]
    fn other_errors_are_left_alone() {
        let sql = "SELECT 1 WHERE 1 IN $1";
        // Not a syntax error, no position, a position elsewhere, past the end, not a parameter.
        let not_syntax = Error::from(
            DbError::from_fields([(b'S', "ERROR"), (b'C', "42P01"), (b'M', "m"), (b'P', "21")])
                .unwrap(),
        );
        let unplaced = Error::from(
            DbError::from_fields([(b'S', "ERROR"), (b'C', "42601"), (b'M', "m")]).unwrap(),
        );
        for err in [
            not_syntax,
            unplaced,
            syntax_error("1", &[]),
            syntax_error("99", &[]),
        ] {
            assert_eq!(hint_of(&err.with_query_hint(sql)), None);
        }
        assert_eq!(hint_of(&syntax_error("18", &[]).with_query_hint(sql)), None);
        assert_eq!(
            hint_of(&syntax_error("21", &[]).with_query_hint("SELECT 1 WHERE 1 IN $x")),
            None
        );
        assert!(matches!(Error::Closed.with_query_hint(sql), Error::Closed));
        // A statement the server found invalid is not a syntax error in the client's text.
        let invalidated = Error::StatementInvalidated(Box::new(
            DbError::from_fields([(b'S', "ERROR"), (b'C', "42601"), (b'M', "m"), (b'P', "21")])
                .unwrap(),
        ));
        assert_eq!(hint_of(&invalidated.with_query_hint(sql)), None);
    }
}
