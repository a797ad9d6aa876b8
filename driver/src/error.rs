//! One error type for the whole driver.

use std::fmt;

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
    /// The socket failed (connect, read or write).
    Io(std::io::Error),
    /// The server sent bytes that are not valid protocol, or sent them out of order.
    Protocol(String),
    /// A connection option or DSN is wrong; the message names the key.
    Config(String),
    /// Authentication could not proceed on our side (unsupported method, bad SCRAM exchange).
    Auth(String),
    /// A parameter could not be encoded; the message names `$n` and both types.
    Encode(String),
    /// A column could not be decoded; the message names the column and both types.
    Decode(String),
    /// The API was used in a way that cannot work (wrong parameter count, no rows for fetch_one, ...).
    Interface(String),
    /// The connection is closed or was marked broken by an earlier failure.
    Closed,
    /// A connect or operation timeout expired.
    Timeout,
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Db(e) => fmt::Display::fmt(e, f),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Config(m) => write!(f, "configuration error: {m}"),
            Error::Auth(m) => write!(f, "authentication error: {m}"),
            Error::Encode(m) => write!(f, "encode error: {m}"),
            Error::Decode(m) => write!(f, "decode error: {m}"),
            Error::Interface(m) => write!(f, "{m}"),
            Error::Closed => f.write_str("the connection is closed"),
            Error::Timeout => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Db(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// Placeholder until the error module lands: the server's error fields.
#[derive(Debug, Clone)]
pub struct DbError {
    pub message: String,
    code: SqlState,
    routine: Option<String>,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlState([u8; 5]);
impl SqlState { pub fn code(&self) -> &str { std::str::from_utf8(&self.0).unwrap_or("") } }
impl DbError {
    pub fn from_fields<'a>(f: impl IntoIterator<Item = (u8, &'a str)>) -> Result<DbError, String> {
        let mut e = DbError { message: String::new(), code: SqlState(*b"00000"), routine: None };
        for (c, v) in f { match c { b'M' => e.message = v.into(), b'C' => e.code = SqlState(v.as_bytes().try_into().unwrap()), b'R' => e.routine = Some(v.into()), _ => {} } }
        Ok(e)
    }
    pub fn code(&self) -> SqlState { self.code }
    pub fn routine(&self) -> Option<&str> { self.routine.as_deref() }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {}
