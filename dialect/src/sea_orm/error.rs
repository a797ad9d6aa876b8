//! pgtusk errors as sea-orm's [`DbErr`], and the SQLSTATE read back from one.
//!
//! sea-orm's error type has no variant for an outside driver's error: a server error travels
//! as `RuntimeErr::Internal` holding its text, which starts with the severity and the
//! SQLSTATE (`ERROR 23505 (unique_violation): …`). [`sql_err`] and [`sqlstate`] read that
//! back, since `DbErr::sql_err` only knows sqlx's errors.

use ::sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlErr};

/// Which of sea-orm's error kinds a failure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `execute`, `execute_unprepared`, BEGIN / COMMIT / ROLLBACK / SAVEPOINT.
    Exec,
    /// `query_one`, `query_all`, streams.
    Query,
}

/// A pgtusk error as the [`DbErr`] sea-orm's own backends give for the same failure.
pub(crate) fn db_err(stage: Stage, err: pgtusk::Error) -> DbErr {
    match err {
        pgtusk::Error::PoolTimedOut(_) => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        pgtusk::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        e @ (pgtusk::Error::Io(_)
        | pgtusk::Error::Closed
        | pgtusk::Error::Auth(_)
        | pgtusk::Error::Config(_)) => DbErr::Conn(RuntimeErr::Internal(e.to_string())),
        e => {
            let runtime = RuntimeErr::Internal(e.to_string());
            match stage {
                Stage::Exec => DbErr::Exec(runtime),
                Stage::Query => DbErr::Query(runtime),
            }
        }
    }
}

/// An error of the backend's own, not the server's: a misuse or a state it cannot run in.
pub(crate) fn backend_err(stage: Stage, message: impl Into<String>) -> DbErr {
    let runtime = RuntimeErr::Internal(message.into());
    match stage {
        Stage::Exec => DbErr::Exec(runtime),
        Stage::Query => DbErr::Query(runtime),
    }
}

/// The SQLSTATE of a server error that came through this backend (`"23505"`), if `err` is
/// one.
///
/// ```
/// use pgtusk_dialect::sea_orm::sqlstate;
/// use ::sea_orm::{DbErr, RuntimeErr};
///
/// let err = DbErr::Exec(RuntimeErr::Internal(
///     "ERROR 23505 (unique_violation): duplicate key value violates unique constraint \"users_pkey\"".into(),
/// ));
/// assert_eq!(sqlstate(&err), Some("23505"));
/// ```
pub fn sqlstate(err: &DbErr) -> Option<&str> {
    let (DbErr::Exec(RuntimeErr::Internal(text)) | DbErr::Query(RuntimeErr::Internal(text))) = err
    else {
        return None;
    };
    let mut words = text.split(' ');
    let severity = words.next()?;
    let code = words.next()?;
    let is_severity = matches!(
        severity,
        "ERROR" | "FATAL" | "PANIC" | "WARNING" | "NOTICE" | "DEBUG" | "INFO" | "LOG"
    );
    let is_code = code.len() == 5 && code.bytes().all(|b| b.is_ascii_alphanumeric());
    (is_severity && is_code).then_some(code)
}

/// What [`DbErr::sql_err`] gives on sqlx: a unique or foreign key violation, for errors that
/// came through this backend (on which `DbErr::sql_err` itself returns `None`).
pub fn sql_err(err: &DbErr) -> Option<SqlErr> {
    let message = || match err {
        DbErr::Exec(RuntimeErr::Internal(text)) | DbErr::Query(RuntimeErr::Internal(text)) => {
            // sqlx's SqlErr holds the server's message alone.
            text.split_once(": ").map_or(text.clone(), |(_, m)| {
                m.split("; ").next().unwrap_or(m).to_owned()
            })
        }
        _ => String::new(),
    };
    match sqlstate(err)? {
        "23505" => Some(SqlErr::UniqueConstraintViolation(message())),
        "23503" => Some(SqlErr::ForeignKeyConstraintViolation(message())),
        _ => None,
    }
}
