//! What may leave state behind in a session: the pool resets a connection before another
//! user gets it only when the connection did something that can (a reset is a round trip
//! and four statements on the server, too dear for every release).
//!
//! Two signs, both conservative: a command tag that is not plain data access or transaction
//! control (`SET`, `LISTEN`, `DECLARE CURSOR`, `PREPARE`, `CREATE TABLE` (a temp table), `DO`,
//! `CALL` …), and SQL text that calls the built-in functions that change the session from
//! inside a `SELECT` (`pg_advisory_lock`, `set_config`). A user function that does the same
//! internally is invisible to both: such an application gives the pool a `reset` hook.

/// Whether a command with this tag may have left state in the session that outlives it.
/// Unknown tags count as yes.
pub(crate) fn tag_leaves_state(tag: &[u8]) -> bool {
    let command = match tag.iter().position(|&b| b == b' ') {
        Some(space) => &tag[..space],
        None => tag,
    };
    !matches!(
        command,
        b"SELECT"
            | b"INSERT"
            | b"UPDATE"
            | b"DELETE"
            | b"MERGE"
            | b"FETCH"
            | b"MOVE"
            | b"COPY"
            | b"BEGIN"
            | b"START"
            | b"COMMIT"
            | b"ROLLBACK"
            | b"SAVEPOINT"
            | b"RELEASE"
            | b"CLOSE"
            | b"SHOW"
            | b"EXPLAIN"
    )
}

/// Whether SQL text calls a built-in function that changes the session from inside an
/// ordinary statement (its tag says `SELECT`): advisory locks and `set_config`.
pub(crate) fn sql_changes_session(sql: &str) -> bool {
    contains_ignore_ascii_case(sql.as_bytes(), b"advisory")
        || contains_ignore_ascii_case(sql.as_bytes(), b"set_config")
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_access_and_transaction_control_leave_nothing() {
        for tag in [
            &b"SELECT 1"[..],
            b"INSERT 0 3",
            b"UPDATE 2",
            b"DELETE 0",
            b"MERGE 1",
            b"FETCH 10",
            b"MOVE 0",
            b"COPY 5",
            b"BEGIN",
            b"START TRANSACTION",
            b"COMMIT",
            b"ROLLBACK",
            b"SAVEPOINT",
            b"RELEASE",
            b"CLOSE CURSOR",
            b"SHOW",
        ] {
            assert!(!tag_leaves_state(tag), "{}", String::from_utf8_lossy(tag));
        }
    }

    #[test]
    fn session_commands_and_unknown_tags_leave_state() {
        for tag in [
            &b"SET"[..],
            b"RESET",
            b"LISTEN",
            b"UNLISTEN",
            b"DECLARE CURSOR",
            b"PREPARE",
            b"CREATE TABLE",
            b"DO",
            b"CALL",
            b"DISCARD ALL",
            b"SELECTED",
            b"",
        ] {
            assert!(tag_leaves_state(tag), "{}", String::from_utf8_lossy(tag));
        }
    }

    #[test]
    fn advisory_locks_and_set_config_are_found_in_any_case() {
        assert!(sql_changes_session("SELECT pg_advisory_lock($1)"));
        assert!(sql_changes_session("select PG_TRY_ADVISORY_LOCK(1, 2)"));
        assert!(sql_changes_session("SELECT set_config('a.b', $1, false)"));
        assert!(!sql_changes_session(
            "SELECT id, name FROM animals WHERE id = $1"
        ));
        assert!(!sql_changes_session(""));
    }
}
