//! One error type for the whole driver.
//!
//! [`Error`] says what kind of failure happened; a server error keeps every
//! field PostgreSQL sent in a [`DbError`], and its [`SqlState`] (generated
//! from PostgreSQL's errcodes.txt by `scripts/gen_sqlstate.py`) is matchable:
//!
//! ```
//! use pgtusk::{Error, SqlState};
//!
//! fn insert_or_ignore(result: Result<u64, Error>) -> Result<u64, Error> {
//!     match result {
//!         Err(err) if err.sqlstate() == Some(SqlState::UNIQUE_VIOLATION) => Ok(0),
//!         other => other,
//!     }
//! }
//! # let _ = insert_or_ignore;
//! ```

use std::fmt;

mod conversion;
mod query_hint;
mod sqlstate;

pub use conversion::ConversionError;
pub use sqlstate::SqlState;

/// A boxed error from a codec or a user callback.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure pgtusk reports.
///
/// Match on the variant for the broad kind; a server error keeps every field
/// PostgreSQL sent in [`DbError`], and [`Error::sqlstate`] makes it matchable.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an ErrorResponse.
    Db(Box<DbError>),
    /// A cached prepared statement became invalid on the server inside a transaction (a DDL
    /// changed its result type, or it was deallocated). Outside a transaction pgtusk prepares it
    /// again and retries; inside one the transaction is already aborted, so this error says to
    /// roll back and run the transaction again. The server's error is kept.
    StatementInvalidated(Box<DbError>),
    /// The socket failed (connect, read or write).
    Io(std::io::Error),
    /// The server sent bytes that are not valid protocol, or sent them out of order.
    Protocol(String),
    /// A connection option or DSN is wrong; the message names the key.
    Config(String),
    /// Authentication could not proceed on our side (unsupported method, bad SCRAM exchange,
    /// channel binding required but not possible).
    Auth(String),
    /// TLS could not be set up: the server does not support it, its certificate failed a
    /// check (unknown CA, name mismatch, expired), or it refused ours. The message says which
    /// check failed and what to set.
    Tls(String),
    /// A parameter could not be encoded; the message names `$n` and both types, and
    /// [`source`](std::error::Error::source) is the codec's error when there was one.
    /// Build one with [`Error::encode`] or [`Error::encode_with`].
    Encode(ConversionError),
    /// A column could not be decoded; the message names the column and both types, and
    /// [`source`](std::error::Error::source) is the codec's error when there was one
    /// (a serde_json error, [`UnexpectedNull`](crate::types::UnexpectedNull), an overflow).
    /// Build one with [`Error::decode`] or [`Error::decode_with`].
    Decode(ConversionError),
    /// The API was used in a way that cannot work (wrong parameter count, ...).
    Interface(String),
    /// `fetch_one` found no row. Use `fetch_optional` to accept none.
    NoRows {
        /// The query's SQL text.
        query: String,
    },
    /// COMMIT found the transaction failed (a statement in it had an error), so PostgreSQL
    /// rolled it back instead: nothing of it was kept.
    TransactionRolledBack,
    /// COMMIT went out whole but its answer never came: the connection broke, the server
    /// ended the session, or `command_timeout` passed. The server may have committed (it got
    /// COMMIT and the answer was lost) or not (COMMIT was lost on the way, or the session ended
    /// first); the driver cannot tell. Do not run the transaction again blindly: look on the
    /// server first (a row with a unique key the transaction wrote, or `txid_status()` of a
    /// `txid_current()` read inside the transaction). [`source`](std::error::Error::source)
    /// is the failure itself ([`Error::Io`], [`Error::Closed`], a FATAL [`Error::Db`], ...).
    ///
    /// When the driver knows COMMIT did not go out whole (the connection was already broken,
    /// or the write failed before the last byte), the transaction was not committed and the
    /// failure is returned as it is, not as this.
    CommitOutcomeUnknown(Box<Error>),
    /// More notifications arrived than the connection keeps unread (see
    /// [`Connection::set_notification_buffer`](crate::Connection::set_notification_buffer)):
    /// the oldest `dropped` of them were thrown away. Reported once by
    /// [`Connection::notifications`](crate::Connection::notifications), before the ones that
    /// were kept; the connection stays usable.
    NotificationsDropped {
        /// How many notifications were dropped.
        dropped: u64,
        /// How many the connection keeps unread.
        capacity: usize,
    },
    /// The connection is closed or was marked broken by an earlier failure.
    Closed,
    /// A statement ran longer than `command_timeout` and was cancelled; the message names the
    /// statement and the limit. When the server did not end it within `connect_timeout` of the
    /// cancel request (a server that stopped answering), the message says so and the
    /// connection is closed.
    Timeout(String),
    /// [`Pool::acquire`](crate::Pool::acquire) found no connection within `acquire_timeout`
    /// (or a new connection did not open within it); the message gives the pool's state
    /// (size, idle, in use, waiting) and what to change.
    PoolTimedOut(String),
    /// The pool was closed ([`Pool::close`](crate::Pool::close),
    /// [`Pool::terminate`](crate::Pool::terminate)): it hands out no more connections.
    PoolClosed,
    /// Another statement of an [atomic pipeline](crate::Connection::atomic_pipeline) failed,
    /// so this one's work was not committed: it was not run, or it ran and was rolled back with
    /// the rest. The failed statement's own result has the server's error.
    PipelineAborted {
        /// This statement's position in the pipeline, from 0.
        statement: usize,
        /// The position of the statement that failed.
        failed: usize,
        /// Whether this statement ran (before the failure) and was rolled back, rather than
        /// not run at all.
        ran: bool,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Db(e) => fmt::Display::fmt(e, f),
            Error::StatementInvalidated(e) => write!(
                f,
                "a cached statement became invalid inside a transaction, which is now aborted: \
                 roll back and run the transaction again ({e})"
            ),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Config(m) => write!(f, "configuration error: {m}"),
            Error::Auth(m) => write!(f, "authentication error: {m}"),
            Error::Tls(m) => write!(f, "TLS error: {m}"),
            Error::Encode(m) => write!(f, "encode error: {m}"),
            Error::Decode(m) => write!(f, "decode error: {m}"),
            Error::Interface(m) => write!(f, "{m}"),
            Error::NoRows { query } => write!(
                f,
                "fetch_one: the query returned no rows ({query}); use fetch_optional to accept none"
            ),
            Error::Closed => f.write_str("the connection is closed"),
            Error::TransactionRolledBack => f.write_str(
                "COMMIT rolled the transaction back: a statement in it had failed, so nothing \
                 of it was kept (the error of that statement was returned when it ran)",
            ),
            Error::CommitOutcomeUnknown(e) => write!(
                f,
                "COMMIT was sent but no answer came ({e}), so the transaction may or may not have \
                 committed: check on the server before running it again (a row with a unique key \
                 it wrote, or txid_status() of its txid_current())"
            ),
            Error::NotificationsDropped { dropped, capacity } => write!(
                f,
                "{dropped} notification(s) were dropped: more than {capacity} arrived before they \
                 were read, and the oldest went first. Read conn.notifications() sooner, or raise \
                 the limit with Connection::set_notification_buffer"
            ),
            Error::Timeout(m) => write!(f, "timed out: {m}"),
            Error::PoolTimedOut(m) => write!(f, "pool timed out: {m}"),
            Error::PoolClosed => {
                f.write_str("the pool is closed: it hands out no more connections")
            }
            Error::PipelineAborted {
                statement,
                failed,
                ran,
            } => {
                if *ran {
                    write!(
                        f,
                        "rolled back: statement {statement} ran, but statement {failed} of the \
                         atomic pipeline failed, so nothing of the pipeline was committed"
                    )
                } else if failed < statement {
                    write!(
                        f,
                        "not run: an earlier statement in the atomic pipeline failed (statement \
                         {failed})"
                    )
                } else {
                    write!(
                        f,
                        "not run: statement {failed} of the atomic pipeline failed before anything \
                         was sent, so none of it ran"
                    )
                }
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Db(e) | Error::StatementInvalidated(e) => Some(&**e),
            Error::Encode(e) | Error::Decode(e) => e.cause(),
            Error::CommitOutcomeUnknown(e) => Some(&**e),
            _ => None,
        }
    }
}

impl Error {
    /// The SQLSTATE of a server error ([`Error::Db`]); `None` for every other kind.
    ///
    /// ```
    /// use pgtusk::{Error, SqlState};
    ///
    /// fn is_duplicate(err: &Error) -> bool {
    ///     err.sqlstate() == Some(SqlState::UNIQUE_VIOLATION)
    /// }
    /// # let _ = is_duplicate;
    /// ```
    pub fn sqlstate(&self) -> Option<SqlState> {
        self.as_db_error().map(DbError::code)
    }

    /// The server's error with all its fields, if this is an [`Error::Db`] or
    /// [`Error::StatementInvalidated`].
    pub fn as_db_error(&self) -> Option<&DbError> {
        match self {
            Error::Db(e) | Error::StatementInvalidated(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this error left the connection unusable: it must be dropped (a pool discards
    /// it), not reused.
    ///
    /// True for [`Error::Closed`]; for every [`Error::Io`] (a failed read or write leaves
    /// the exchange with the server in an unknown state); and for an [`Error::Db`] whose
    /// severity is `FATAL` or `PANIC`, with which the server ends the session (an
    /// administrator's `pg_terminate_backend`, a shutdown, a crash). An `ERROR` leaves the
    /// connection usable. [`Error::CommitOutcomeUnknown`] is as its source. A protocol error
    /// usually breaks the connection too, without saying so here: the next operation then
    /// fails with [`Error::Closed`]. So does an [`Error::Timeout`] whose cancel did not finish
    /// within `connect_timeout` (its message says the connection was closed):
    /// [`Connection::is_closed`](crate::Connection::is_closed) tells.
    pub fn is_closed(&self) -> bool {
        match self {
            Error::Closed | Error::Io(_) => true,
            Error::Db(e) => e.ends_session(),
            Error::CommitOutcomeUnknown(e) => e.is_closed(),
            _ => false,
        }
    }

    /// An [`Error::Encode`] with this message and no underlying cause.
    pub fn encode(message: impl Into<String>) -> Error {
        Error::Encode(ConversionError::new(message))
    }

    /// An [`Error::Encode`] with this message, whose [`source`](std::error::Error::source) is
    /// the codec's error.
    pub fn encode_with(message: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Encode(ConversionError::with_source(message, source))
    }

    /// An [`Error::Decode`] with this message and no underlying cause.
    ///
    /// ```
    /// let err = pgtusk::Error::decode("Label: no column \"label\"");
    /// assert_eq!(err.to_string(), "decode error: Label: no column \"label\"");
    /// ```
    pub fn decode(message: impl Into<String>) -> Error {
        Error::Decode(ConversionError::new(message))
    }

    /// An [`Error::Decode`] with this message, whose [`source`](std::error::Error::source) is
    /// the codec's error.
    pub fn decode_with(message: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Decode(ConversionError::with_source(message, source))
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        Error::Db(Box::new(e))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// An error or notice the server sent (ErrorResponse / NoticeResponse), with
/// every field it carried.
///
/// Only severity, code and message are always present; which of the other
/// fields appear depends on the error (a unique violation names its schema,
/// table and constraint; a syntax error its position). See "Error and Notice
/// Message Fields" in the PostgreSQL protocol documentation.
///
/// `Display` writes one line, made for logs:
/// `ERROR 23505 (unique_violation): duplicate key value violates unique constraint "t_pkey"; detail: Key (id)=(1) already exists.`
/// The alternate form (`{:#}`) writes psql-like lines instead: the same first
/// line, then `DETAIL:`, `HINT:` and `CONTEXT:` lines for the fields present.
///
/// ```
/// use pgtusk::{DbError, SqlState};
///
/// let err = DbError::from_fields([
///     (b'S', "ERROR"),
///     (b'C', "23505"),
///     (b'M', "duplicate key value violates unique constraint \"t_pkey\""),
///     (b'D', "Key (id)=(1) already exists."),
///     (b'n', "t_pkey"),
/// ])
/// .unwrap();
/// assert_eq!(err.code(), SqlState::UNIQUE_VIOLATION);
/// assert_eq!(err.constraint(), Some("t_pkey"));
/// assert_eq!(
///     err.to_string(),
///     "ERROR 23505 (unique_violation): duplicate key value violates unique constraint \"t_pkey\"; \
///      detail: Key (id)=(1) already exists."
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    severity: String,
    severity_nonlocalized: Option<String>,
    code: SqlState,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
    position: Option<u32>,
    internal_position: Option<u32>,
    internal_query: Option<String>,
    where_: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    column: Option<String>,
    datatype: Option<String>,
    constraint: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    routine: Option<String>,
    /// Not from the server: what pgtusk suggests from the query text (see `query_hint.rs`).
    driver_hint: Option<String>,
}

/// Where in a query an error is, as [`DbError::position`] reports it.
///
/// Positions count characters (not bytes) from 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorPosition {
    /// A position in the query the client sent (field `P`); see
    /// [`DbError::position_in`] for its line and column.
    Original(u32),
    /// A position in a query the server generated internally, e.g. a statement
    /// inside a PL/pgSQL function (fields `p` and `q`).
    Internal {
        /// The position in `query`.
        position: u32,
        /// The text of the internally generated query.
        query: String,
    },
}

impl DbError {
    /// Builds the error from the fields of an ErrorResponse or NoticeResponse:
    /// `(field type byte, value)` pairs in the order the server sent them.
    ///
    /// Fails, naming what is missing, when severity (`S`), code (`C`) or
    /// message (`M`) is absent. Unknown field types are ignored (the protocol
    /// says they may be added). A position or line (`P`, `p`, `L`) that is not
    /// a number is kept as `None`. A code that is not five ASCII letters or
    /// digits becomes `?????` (see [`SqlState::from_code`]) rather than
    /// losing the message. When a field repeats, the last value wins.
    ///
    /// ```
    /// use pgtusk::DbError;
    ///
    /// let err = DbError::from_fields([(b'S', "ERROR"), (b'M', "boom")]).unwrap_err();
    /// assert_eq!(err, "error or notice is missing field C (code)");
    /// ```
    pub fn from_fields<V: AsRef<str>>(
        fields: impl IntoIterator<Item = (u8, V)>,
    ) -> Result<DbError, String> {
        let mut severity = None;
        let mut code = None;
        let mut message = None;
        let mut err = DbError {
            severity: String::new(),
            severity_nonlocalized: None,
            code: SqlState::from_code(""),
            message: String::new(),
            detail: None,
            hint: None,
            position: None,
            internal_position: None,
            internal_query: None,
            where_: None,
            schema: None,
            table: None,
            column: None,
            datatype: None,
            constraint: None,
            file: None,
            line: None,
            routine: None,
            driver_hint: None,
        };
        for (field, value) in fields {
            let value = value.as_ref();
            let text = || Some(value.to_owned());
            match field {
                b'S' => severity = text(),
                b'V' => err.severity_nonlocalized = text(),
                b'C' => code = Some(SqlState::from_code(value)),
                b'M' => message = text(),
                b'D' => err.detail = text(),
                b'H' => err.hint = text(),
                b'P' => err.position = value.parse().ok(),
                b'p' => err.internal_position = value.parse().ok(),
                b'q' => err.internal_query = text(),
                b'W' => err.where_ = text(),
                b's' => err.schema = text(),
                b't' => err.table = text(),
                b'c' => err.column = text(),
                b'd' => err.datatype = text(),
                b'n' => err.constraint = text(),
                b'F' => err.file = text(),
                b'L' => err.line = value.parse().ok(),
                b'R' => err.routine = text(),
                _ => {}
            }
        }
        match (severity, code, message) {
            (Some(severity), Some(code), Some(message)) => {
                err.severity = severity;
                err.code = code;
                err.message = message;
                Ok(err)
            }
            (severity, code, message) => {
                let missing: Vec<&str> = [
                    (severity.is_none(), "S (severity)"),
                    (code.is_none(), "C (code)"),
                    (message.is_none(), "M (message)"),
                ]
                .into_iter()
                .filter_map(|(absent, name)| absent.then_some(name))
                .collect();
                let plural = if missing.len() == 1 { "" } else { "s" };
                Err(format!(
                    "error or notice is missing field{plural} {}",
                    missing.join(", ")
                ))
            }
        }
    }

    /// The severity as the server's `lc_messages` words it (`S`): `ERROR`,
    /// `FATAL` or `PANIC` in an error; `WARNING`, `NOTICE`, `DEBUG`, `INFO` or
    /// `LOG` in a notice; or a translation of one of these.
    pub fn severity(&self) -> &str {
        &self.severity
    }

    /// The severity never translated (`V`, PostgreSQL 9.6 and later): one of
    /// the English words [`severity`](DbError::severity) lists.
    pub fn severity_nonlocalized(&self) -> Option<&str> {
        self.severity_nonlocalized.as_deref()
    }

    /// The SQLSTATE (`C`).
    pub fn code(&self) -> SqlState {
        self.code
    }

    /// The primary message (`M`), typically one line.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A secondary message with more detail (`D`); may run to several lines.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// A suggestion what to do about the problem (`H`); may run to several lines.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Where the error is: in the client's query (`P`) or, when the server
    /// sent no such position, in an internally generated query (`p` with `q`).
    ///
    /// This builds the value (cloning the internal query); the raw fields are
    /// [`internal_position`](DbError::internal_position) and
    /// [`internal_query`](DbError::internal_query).
    pub fn position(&self) -> Option<ErrorPosition> {
        match (self.position, self.internal_position, &self.internal_query) {
            (Some(position), _, _) => Some(ErrorPosition::Original(position)),
            (None, Some(position), Some(query)) => Some(ErrorPosition::Internal {
                position,
                query: query.clone(),
            }),
            _ => None,
        }
    }

    /// The position in the internally generated query (`p`), in characters from 1.
    pub fn internal_position(&self) -> Option<u32> {
        self.internal_position
    }

    /// The text of the failed internally generated query (`q`), e.g. a
    /// statement inside a PL/pgSQL function.
    pub fn internal_query(&self) -> Option<&str> {
        self.internal_query.as_deref()
    }

    /// The context (`W`): a traceback of PL/pgSQL functions and internal
    /// queries, one entry per line, most recent first.
    pub fn where_(&self) -> Option<&str> {
        self.where_.as_deref()
    }

    /// The schema of the object the error concerns (`s`).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The table the error concerns (`t`); its schema is [`schema`](DbError::schema).
    pub fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }

    /// The column the error concerns (`c`), in [`table`](DbError::table).
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }

    /// The data type the error concerns (`d`); its schema is [`schema`](DbError::schema).
    pub fn datatype(&self) -> Option<&str> {
        self.datatype.as_deref()
    }

    /// The constraint the error concerns (`n`); indexes count as constraints.
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    /// The server source file that reported the error (`F`).
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// The line in [`file`](DbError::file) that reported the error (`L`).
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// The server source routine that reported the error (`R`).
    pub fn routine(&self) -> Option<&str> {
        self.routine.as_deref()
    }

    /// A suggestion pgtusk added, not the server: what to write instead when the query
    /// text shows a known mistake (such as `x IN $1` for an array parameter). The server's
    /// own suggestion stays in [`hint`](DbError::hint). `Display` shows both.
    pub fn driver_hint(&self) -> Option<&str> {
        self.driver_hint.as_deref()
    }

    /// Whether the server ends the session with this error (severity `FATAL` or `PANIC`).
    fn ends_session(&self) -> bool {
        // `V` is never translated; `S` is, but servers before 9.6 send only `S`.
        let severity = self
            .severity_nonlocalized
            .as_deref()
            .unwrap_or(&self.severity);
        matches!(severity, "FATAL" | "PANIC")
    }

    /// The line and column, both counted from 1, of the error position (`P`)
    /// in `sql`, which must be the query text the client sent.
    ///
    /// Columns count characters, as PostgreSQL counts positions; `\n`, `\r\n`
    /// and `\r` each end a line. A position just past the end (a syntax error
    /// "at end of input") is the column after the last character. `None` when
    /// the server sent no `P` or the position does not fit in `sql`.
    ///
    /// ```
    /// use pgtusk::DbError;
    ///
    /// let sql = "select *\nfrom tabel";
    /// let err = DbError::from_fields([
    ///     (b'S', "ERROR"),
    ///     (b'C', "42P01"),
    ///     (b'M', "relation \"tabel\" does not exist"),
    ///     (b'P', "15"),
    /// ])
    /// .unwrap();
    /// assert_eq!(err.position_in(sql), Some((2, 6)));
    /// ```
    pub fn position_in(&self, sql: &str) -> Option<(usize, usize)> {
        let target = usize::try_from(self.position?).ok()?.checked_sub(1)?;
        let (mut line, mut column) = (1, 1);
        let mut chars = sql.chars().peekable();
        for _ in 0..target {
            match chars.next()? {
                '\n' => (line, column) = (line + 1, 1),
                '\r' if chars.peek() != Some(&'\n') => (line, column) = (line + 1, 1),
                _ => column += 1,
            }
        }
        Some((line, column))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = self
            .severity_nonlocalized
            .as_deref()
            .unwrap_or(&self.severity);
        write!(f, "{severity} {}", self.code)?;
        if let Some(name) = self.code.name() {
            write!(f, " ({name})")?;
        }
        write!(f, ": {}", self.message)?;
        if f.alternate() {
            for (label, value) in [
                ("DETAIL", &self.detail),
                ("HINT", &self.hint),
                ("HINT (pgtusk)", &self.driver_hint),
                ("CONTEXT", &self.where_),
            ] {
                if let Some(value) = value {
                    write!(f, "\n{label}: {value}")?;
                }
            }
        } else {
            for (label, value) in [
                ("detail", &self.detail),
                ("hint", &self.hint),
                ("hint (pgtusk)", &self.driver_hint),
            ] {
                if let Some(value) = value {
                    write!(f, "; {label}: {value}")?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

#[cfg(test)]
mod tests {
    use super::sqlstate::ALL_CONSTS;
    use super::*;

    fn full_fields() -> Vec<(u8, &'static str)> {
        vec![
            (b'S', "FEHLER"),
            (b'V', "ERROR"),
            (b'C', "23505"),
            (
                b'M',
                "duplicate key value violates unique constraint \"t_pkey\"",
            ),
            (b'D', "Key (id)=(1) already exists."),
            (b'H', "Pick another id."),
            (b'P', "12"),
            (b'p', "3"),
            (b'q', "insert into t values (1)"),
            (b'W', "PL/pgSQL function f() line 3 at SQL statement"),
            (b's', "public"),
            (b't', "t"),
            (b'c', "id"),
            (b'd', "int4"),
            (b'n', "t_pkey"),
            (b'F', "nbtinsert.c"),
            (b'L', "664"),
            (b'R', "_bt_check_unique"),
        ]
    }

    fn minimal(extra: &[(u8, &str)]) -> DbError {
        let mut fields = vec![(b'S', "ERROR"), (b'C', "42601"), (b'M', "syntax error")];
        fields.extend_from_slice(extra);
        DbError::from_fields(fields).unwrap()
    }

    /// errcodes.txt as shipped with the server the tests run against; set
    /// PGTUSK_ERRCODES to check the table against another copy.
    fn errcodes_txt() -> Option<String> {
        let path = std::env::var("PGTUSK_ERRCODES")
            .unwrap_or_else(|_| "/usr/share/postgresql/15/errcodes.txt".to_owned());
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) => {
                eprintln!("skipping the comparison with {path}: {e}");
                None
            }
        }
    }

    #[test]
    fn sqlstate_table_matches_errcodes_txt() {
        let Some(text) = errcodes_txt() else { return };
        let lines: Vec<Vec<&str>> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("Section:") && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(ALL_CONSTS.len(), lines.len(), "one constant per code line");
        for (fields, (_, state)) in lines.iter().zip(ALL_CONSTS.iter()) {
            assert_eq!(state.code(), fields[0]);
            let macro_name = fields[2].trim_start_matches("ERRCODE_");
            match fields.get(3) {
                Some(&name) => assert_eq!(state.name(), Some(name), "{}", fields[0]),
                // An alias line: its code is named by another line.
                None => assert!(
                    state.name().is_some(),
                    "alias {macro_name} names an unknown code"
                ),
            }
        }
    }

    #[test]
    fn sqlstate_table_is_consistent() {
        assert_eq!(
            ALL_CONSTS.len(),
            267,
            "PostgreSQL 15's errcodes.txt has 267 code lines"
        );
        let mut names = std::collections::HashSet::new();
        for (name, state) in ALL_CONSTS.iter() {
            assert!(names.insert(*name), "{name} twice");
            assert!(state.name().is_some(), "{name} has no condition name");
            assert_eq!(SqlState::from_code(state.code()), *state);
            assert_eq!(state.to_string(), state.code());
            assert_eq!(state.class_code(), &state.code()[..2]);
        }
        let distinct: std::collections::HashSet<_> = ALL_CONSTS.iter().map(|(_, s)| *s).collect();
        assert_eq!(distinct.len(), 261, "six constants are aliases");
    }

    #[test]
    fn sqlstate_well_known_codes() {
        assert_eq!(SqlState::UNIQUE_VIOLATION.code(), "23505");
        assert_eq!(SqlState::UNIQUE_VIOLATION.name(), Some("unique_violation"));
        assert_eq!(SqlState::SERIALIZATION_FAILURE.code(), "40001");
        assert_eq!(SqlState::DEADLOCK_DETECTED.code(), "40P01");
        assert_eq!(SqlState::QUERY_CANCELED.code(), "57014");
        assert_eq!(SqlState::RAISE_EXCEPTION.code(), "P0001");
        assert_eq!(SqlState::INTERNAL_ERROR.code(), "XX000");
        // Shared condition names keep PostgreSQL's macro names.
        assert_eq!(
            SqlState::WARNING_STRING_DATA_RIGHT_TRUNCATION.code(),
            "01004"
        );
        assert_eq!(SqlState::STRING_DATA_RIGHT_TRUNCATION.code(), "22001");
        assert_eq!(SqlState::NULL_VALUE_NOT_ALLOWED.code(), "22004");
        assert_eq!(SqlState::E_R_I_E_NULL_VALUE_NOT_ALLOWED.code(), "39004");
        assert_eq!(
            SqlState::S_R_E_MODIFYING_SQL_DATA_NOT_PERMITTED.code(),
            "2F002"
        );
        assert_eq!(
            SqlState::E_R_E_MODIFYING_SQL_DATA_NOT_PERMITTED.code(),
            "38002"
        );
        // Aliases are the same value as the code they alias.
        assert_eq!(SqlState::UNDEFINED_DATABASE, SqlState::INVALID_CATALOG_NAME);
        assert_eq!(
            SqlState::UNDEFINED_DATABASE.name(),
            Some("invalid_catalog_name")
        );
        assert_eq!(
            format!("{:?}", SqlState::UNIQUE_VIOLATION),
            "SqlState(23505 unique_violation)"
        );
    }

    #[test]
    fn sqlstate_unknown_and_malformed_codes() {
        let ext = SqlState::from_code("XY123");
        assert_eq!(ext.code(), "XY123");
        assert_eq!(ext.name(), None);
        assert_eq!(ext.class_code(), "XY");
        assert_eq!(format!("{ext:?}"), "SqlState(XY123)");
        for bad in ["", "2350", "235050", "2350 ", "2350é", "23-05"] {
            let state = SqlState::from_code(bad);
            assert_eq!(state.code(), "?????", "{bad:?}");
            assert_eq!(state.name(), None);
            assert!(!state.is_integrity_constraint_violation());
        }
        const CUSTOM: SqlState = SqlState::from_code("P0001");
        assert_eq!(CUSTOM, SqlState::RAISE_EXCEPTION);
    }

    #[test]
    fn sqlstate_class_helpers() {
        assert!(SqlState::UNIQUE_VIOLATION.is_integrity_constraint_violation());
        assert!(SqlState::FOREIGN_KEY_VIOLATION.is_integrity_constraint_violation());
        assert!(!SqlState::UNIQUE_VIOLATION.is_transaction_rollback());
        assert!(SqlState::SERIALIZATION_FAILURE.is_transaction_rollback());
        assert!(SqlState::DEADLOCK_DETECTED.is_transaction_rollback());
        assert!(SqlState::SYNTAX_ERROR.is_syntax_error_or_access_rule_violation());
        assert!(SqlState::UNDEFINED_TABLE.is_syntax_error_or_access_rule_violation());
        assert!(SqlState::CONNECTION_FAILURE.is_connection_exception());
        assert!(SqlState::PROTOCOL_VIOLATION.is_connection_exception());
        assert!(SqlState::TOO_MANY_CONNECTIONS.is_insufficient_resources());
        assert!(SqlState::INVALID_PASSWORD.is_invalid_authorization());
        assert!(SqlState::DIVISION_BY_ZERO.is_data_exception());
        assert!(SqlState::IN_FAILED_SQL_TRANSACTION.is_invalid_transaction_state());
        assert!(SqlState::QUERY_CANCELED.is_operator_intervention());
        assert!(SqlState::ADMIN_SHUTDOWN.is_operator_intervention());
        assert!(SqlState::LOCK_NOT_AVAILABLE.is_object_not_in_prerequisite_state());
        assert!(SqlState::STATEMENT_TOO_COMPLEX.is_program_limit_exceeded());
        assert!(SqlState::IO_ERROR.is_system_error());
        assert!(SqlState::DATA_CORRUPTED.is_internal_error());
        assert!(SqlState::DEPRECATED_FEATURE.is_warning());
        assert!(SqlState::FEATURE_NOT_SUPPORTED.is_feature_not_supported());
        assert!(SqlState::RAISE_EXCEPTION.is_class("P0"));
        // Class membership is by code, so it holds for codes PostgreSQL does not define.
        assert!(SqlState::from_code("23ZZZ").is_integrity_constraint_violation());
    }

    #[test]
    fn from_fields_keeps_every_field() {
        let err = DbError::from_fields(full_fields()).unwrap();
        assert_eq!(err.severity(), "FEHLER");
        assert_eq!(err.severity_nonlocalized(), Some("ERROR"));
        assert_eq!(err.code(), SqlState::UNIQUE_VIOLATION);
        assert_eq!(
            err.message(),
            "duplicate key value violates unique constraint \"t_pkey\""
        );
        assert_eq!(err.detail(), Some("Key (id)=(1) already exists."));
        assert_eq!(err.hint(), Some("Pick another id."));
        assert_eq!(err.position(), Some(ErrorPosition::Original(12)));
        assert_eq!(err.internal_position(), Some(3));
        assert_eq!(err.internal_query(), Some("insert into t values (1)"));
        assert_eq!(
            err.where_(),
            Some("PL/pgSQL function f() line 3 at SQL statement")
        );
        assert_eq!(err.schema(), Some("public"));
        assert_eq!(err.table(), Some("t"));
        assert_eq!(err.column(), Some("id"));
        assert_eq!(err.datatype(), Some("int4"));
        assert_eq!(err.constraint(), Some("t_pkey"));
        assert_eq!(err.file(), Some("nbtinsert.c"));
        assert_eq!(err.line(), Some(664));
        assert_eq!(err.routine(), Some("_bt_check_unique"));
    }

    #[test]
    fn from_fields_minimal_leaves_the_rest_empty() {
        let err = minimal(&[]);
        assert_eq!(err.severity(), "ERROR");
        assert_eq!(err.severity_nonlocalized(), None);
        assert_eq!(err.code(), SqlState::SYNTAX_ERROR);
        assert_eq!(err.detail(), None);
        assert_eq!(err.position(), None);
        assert_eq!(err.line(), None);
        assert_eq!(err.routine(), None);
    }

    #[test]
    fn from_fields_names_what_is_missing() {
        let without = |skip: &[u8]| {
            DbError::from_fields(full_fields().into_iter().filter(|(f, _)| !skip.contains(f)))
                .unwrap_err()
        };
        assert_eq!(
            without(b"S"),
            "error or notice is missing field S (severity)"
        );
        assert_eq!(without(b"C"), "error or notice is missing field C (code)");
        assert_eq!(
            without(b"M"),
            "error or notice is missing field M (message)"
        );
        assert_eq!(
            without(b"SCM"),
            "error or notice is missing fields S (severity), C (code), M (message)"
        );
        assert_eq!(
            DbError::from_fields::<&str>([]).unwrap_err(),
            "error or notice is missing fields S (severity), C (code), M (message)"
        );
    }

    #[test]
    fn from_fields_ignores_unknown_field_types() {
        let err = minimal(&[(b'Z', "future field"), (0, ""), (b'x', "?")]);
        assert_eq!(err, minimal(&[]));
    }

    #[test]
    fn from_fields_keeps_bad_numbers_as_none() {
        for bad in ["", "abc", "-1", "1.5", "99999999999", " 12"] {
            let err = minimal(&[(b'P', bad), (b'p', bad), (b'q', "select 1"), (b'L', bad)]);
            assert_eq!(err.position(), None, "{bad:?}");
            assert_eq!(err.internal_position(), None);
            assert_eq!(err.internal_query(), Some("select 1"));
            assert_eq!(err.line(), None);
            assert_eq!(err.position_in("select 1"), None);
        }
    }

    #[test]
    fn from_fields_keeps_a_malformed_code() {
        let err = DbError::from_fields([(b'S', "ERROR"), (b'C', "bogus!"), (b'M', "still here")])
            .unwrap();
        assert_eq!(err.code().code(), "?????");
        assert_eq!(err.message(), "still here");
        assert_eq!(err.to_string(), "ERROR ?????: still here");
    }

    #[test]
    fn from_fields_last_repeat_wins() {
        let err = minimal(&[(b'D', "first"), (b'D', "second")]);
        assert_eq!(err.detail(), Some("second"));
    }

    #[test]
    fn position_prefers_original_then_internal() {
        let internal = minimal(&[(b'p', "8"), (b'q', "select 1/0")]);
        assert_eq!(
            internal.position(),
            Some(ErrorPosition::Internal {
                position: 8,
                query: "select 1/0".to_owned()
            })
        );
        assert_eq!(
            internal.position_in("select 1/0"),
            None,
            "not a position in the client's SQL"
        );
        // `p` without `q` gives no position, but the raw field stays readable.
        let no_query = minimal(&[(b'p', "8")]);
        assert_eq!(no_query.position(), None);
        assert_eq!(no_query.internal_position(), Some(8));
    }

    #[test]
    fn display_is_one_line_for_logs() {
        let err = DbError::from_fields(full_fields()).unwrap();
        assert_eq!(
            err.to_string(),
            "ERROR 23505 (unique_violation): duplicate key value violates unique constraint \"t_pkey\"; \
             detail: Key (id)=(1) already exists.; hint: Pick another id."
        );
        // Without `V` the localized severity is used; an unknown code has no name.
        let ext =
            DbError::from_fields([(b'S', "FEHLER"), (b'C', "XY123"), (b'M', "kaputt")]).unwrap();
        assert_eq!(ext.to_string(), "FEHLER XY123: kaputt");
        // Error::Db displays the same.
        assert_eq!(Error::from(err.clone()).to_string(), err.to_string());
    }

    #[test]
    fn display_alternate_is_psql_like() {
        let err = DbError::from_fields(full_fields()).unwrap();
        assert_eq!(
            format!("{err:#}"),
            "ERROR 23505 (unique_violation): duplicate key value violates unique constraint \"t_pkey\"\n\
             DETAIL: Key (id)=(1) already exists.\n\
             HINT: Pick another id.\n\
             CONTEXT: PL/pgSQL function f() line 3 at SQL statement"
        );
        assert_eq!(
            format!("{:#}", Error::from(err.clone())),
            format!("{err:#}")
        );
    }

    #[test]
    fn position_in_counts_lines_and_characters() {
        let at = |p: &str, sql: &str| minimal(&[(b'P', p)]).position_in(sql);
        assert_eq!(at("1", "selec 1"), Some((1, 1)));
        assert_eq!(at("8", "select 1 frm t"), Some((1, 8)));
        // Multi-line: \n, \r\n and a lone \r each end a line.
        let sql = "select a,\n       b\nfrom tabel";
        assert_eq!(at("25", sql), Some((3, 6)));
        assert_eq!(
            at("10", sql),
            Some((1, 10)),
            "the newline itself ends line 1"
        );
        assert_eq!(at("11", sql), Some((2, 1)));
        assert_eq!(at("13", "select 1\r\nfrm t"), Some((2, 3)));
        assert_eq!(at("12", "select 1\rfrm t"), Some((2, 3)));
        // Characters, not bytes: 'é' is two bytes, '😀' four, each one position.
        let sql = "select 'é😀',\n  nom_café frm t";
        assert_eq!(sql.chars().nth(24), Some('f'), "position 25 is \"frm\"");
        assert_eq!(at("25", sql), Some((2, 12)));
        let sql = "select 'ü' frm t";
        assert_eq!(at("12", sql), Some((1, 12)));
        // Just past the end ("at end of input") is allowed; beyond is not.
        assert_eq!(at("9", "select ("), Some((1, 9)));
        assert_eq!(at("10", "select ("), None);
        assert_eq!(at("0", "select"), None);
        assert_eq!(minimal(&[]).position_in("select"), None);
    }

    #[test]
    fn commit_outcome_unknown_says_so_and_keeps_its_cause() {
        use std::error::Error as _;
        let lost = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed");
        let err = Error::CommitOutcomeUnknown(Box::new(Error::Io(lost)));
        let text = err.to_string();
        assert!(
            text.contains("COMMIT was sent but no answer came")
                && text.contains("may or may not have committed")
                && text.contains("the server closed")
                && text.contains("txid_status()"),
            "{text}"
        );
        assert!(err.is_closed());
        assert_eq!(err.sqlstate(), None);
        let source = err.source().expect("the failure is the source");
        assert!(source.to_string().starts_with("I/O error"), "{source}");
        let timed_out = Error::CommitOutcomeUnknown(Box::new(Error::Timeout("COMMIT".into())));
        assert!(
            !timed_out.is_closed(),
            "a timeout leaves the connection usable"
        );
    }

    #[test]
    fn is_closed_when_the_connection_is_unusable() {
        let with_severity = |fields: &[(u8, &str)]| {
            let mut all = vec![(b'C', "57P01"), (b'M', "terminating connection")];
            all.extend_from_slice(fields);
            Error::from(DbError::from_fields(all).unwrap())
        };
        for fields in [
            &[(b'S', "FATAL"), (b'V', "FATAL")][..],
            &[(b'S', "PANIC"), (b'V', "PANIC")],
            // Localized `S` with the untranslated `V`; or `S` alone (before 9.6).
            &[(b'S', "SCHWERWIEGEND"), (b'V', "FATAL")],
            &[(b'S', "FATAL")],
        ] {
            assert!(with_severity(fields).is_closed(), "{fields:?}");
        }
        for fields in [
            &[(b'S', "ERROR"), (b'V', "ERROR")][..],
            &[(b'S', "FEHLER"), (b'V', "ERROR")],
            &[(b'S', "WARNING")],
        ] {
            assert!(!with_severity(fields).is_closed(), "{fields:?}");
        }
        let io = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof");
        assert!(Error::from(io).is_closed());
        assert!(Error::Closed.is_closed());
        for open in [
            Error::Timeout("limit".into()),
            Error::Protocol("p".into()),
            Error::decode("d"),
            Error::encode("e"),
            Error::Interface("i".into()),
            Error::NoRows { query: "q".into() },
        ] {
            assert!(!open.is_closed(), "{open}");
        }
    }

    #[test]
    fn no_rows_names_the_query_and_the_way_out() {
        let err = Error::NoRows {
            query: "SELECT 1 WHERE false".into(),
        };
        assert_eq!(
            err.to_string(),
            "fetch_one: the query returned no rows (SELECT 1 WHERE false); use fetch_optional to accept none"
        );
        assert!(matches!(err, Error::NoRows { ref query } if query == "SELECT 1 WHERE false"));
    }

    #[test]
    fn encode_and_decode_keep_their_source() {
        use std::error::Error as _;

        let overflow = u8::try_from(300i32).unwrap_err();
        let err = Error::decode_with("column 0 \"n\": 300 does not fit", overflow);
        assert!(matches!(err, Error::Decode(_)));
        assert_eq!(
            err.to_string(),
            "decode error: column 0 \"n\": 300 does not fit"
        );
        let source = err.source().expect("the codec's error");
        assert!(source.is::<std::num::TryFromIntError>(), "{source:?}");

        let null: BoxError = Box::new(crate::types::UnexpectedNull);
        let err = Error::encode_with("parameter $1: no", null);
        assert!(matches!(err, Error::Encode(_)));
        assert_eq!(err.to_string(), "encode error: parameter $1: no");
        assert!(err.source().unwrap().is::<crate::types::UnexpectedNull>());

        // Without a cause there is no source; the message is the same either way.
        let err = Error::decode("no column \"x\"");
        assert!(err.source().is_none());
        assert_eq!(err.to_string(), "decode error: no column \"x\"");
        let Error::Decode(inner) = err else {
            unreachable!()
        };
        assert_eq!(inner.message(), "no column \"x\"");
        assert!(inner.into_source().is_none());

        // A prefix keeps the source.
        let prefixed = ConversionError::with_source("m", u8::try_from(-1i32).unwrap_err())
            .prefixed(format_args!("parameter set {}", 3));
        assert_eq!(prefixed.to_string(), "parameter set 3: m");
        assert!(prefixed.source().is_some());
    }

    #[test]
    fn error_conveniences() {
        let db = Error::from(DbError::from_fields(full_fields()).unwrap());
        assert_eq!(db.sqlstate(), Some(SqlState::UNIQUE_VIOLATION));
        assert_eq!(
            db.as_db_error().and_then(DbError::constraint),
            Some("t_pkey")
        );
        assert!(!db.is_closed());
        let closed = Error::Closed;
        assert_eq!(closed.sqlstate(), None);
        assert!(closed.as_db_error().is_none());
        assert!(closed.is_closed());
        assert_eq!(Error::Timeout("limit".into()).sqlstate(), None);
    }
}
