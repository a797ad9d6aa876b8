//! The payload of [`Error::Encode`](super::Error::Encode) and
//! [`Error::Decode`](super::Error::Decode): what could not be converted, and why.

use std::fmt;

use super::BoxError;

/// A value that could not be converted between Rust and PostgreSQL: a message that names it
/// (parameter `$n`, column, field) and both types, and the codec's own error when there was
/// one (a serde_json error, [`UnexpectedNull`](crate::types::UnexpectedNull), an overflow).
///
/// `Display` writes the message only; [`source`](std::error::Error::source) returns the
/// codec's error, so error reporters can walk the chain and callers can downcast it:
///
/// ```
/// use pgtusk::error::ConversionError;
/// use std::error::Error as _;
///
/// let overflow = u8::try_from(300i32).unwrap_err();
/// let e = ConversionError::with_source("column 0 \"n\": 300 does not fit in u8", overflow);
/// assert_eq!(e.to_string(), "column 0 \"n\": 300 does not fit in u8");
/// assert!(e.source().unwrap().is::<std::num::TryFromIntError>());
/// ```
#[derive(Debug)]
pub struct ConversionError {
    message: String,
    source: Option<BoxError>,
}

impl ConversionError {
    /// An error with a message and no underlying cause.
    pub fn new(message: impl Into<String>) -> Self {
        ConversionError {
            message: message.into(),
            source: None,
        }
    }

    /// An error with a message and the codec's error that caused it.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        ConversionError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The message: what could not be converted, where, and between which types.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The codec's error, taken out.
    pub fn into_source(self) -> Option<BoxError> {
        self.source
    }

    /// The codec's error, with the `'static` bound [`Error::source`](std::error::Error::source) needs.
    pub(crate) fn cause(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.source {
            Some(e) => Some(&**e),
            None => None,
        }
    }

    /// The same error with `prefix: ` in front of its message (the source is kept).
    pub(crate) fn prefixed(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConversionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause()
    }
}

impl From<String> for ConversionError {
    fn from(message: String) -> Self {
        ConversionError::new(message)
    }
}

impl From<&str> for ConversionError {
    fn from(message: &str) -> Self {
        ConversionError::new(message)
    }
}
