//! The PostgreSQL wire protocol (version 3.0), sans-IO.
//!
//! [`frontend`] appends client messages to a `BytesMut`; [`backend`] splits server messages off
//! the front of a read buffer without copying their bodies; `session` keeps the session's
//! state (what was sent, what the server still owes). Nothing here touches a socket: the
//! connection reads and writes, this module only knows the bytes.

pub mod backend;
pub mod copy_binary;
pub mod frontend;
pub(crate) mod session;
pub(crate) mod session_state;

use std::fmt;

/// The largest backend message [`backend::parse_message`] accepts by default (1 GiB, the
/// server's own limit for a single field).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 30;

/// Bytes that are not valid protocol, or a value that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(String);

impl ProtocolError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> ProtocolError {
        ProtocolError(message.into())
    }

    /// The message, without the "protocol error" prefix.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

impl From<ProtocolError> for crate::error::Error {
    fn from(e: ProtocolError) -> Self {
        crate::error::Error::Protocol(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_error_converts_to_error_protocol() {
        let e = ProtocolError::new("bad tag");
        assert_eq!(e.to_string(), "bad tag");
        assert_eq!(e.message(), "bad tag");
        match crate::error::Error::from(e) {
            crate::error::Error::Protocol(m) => assert_eq!(m, "bad tag"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
