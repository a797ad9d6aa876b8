//! Frontend (client to server) messages: free functions that append one message to a `BytesMut`.
//!
//! Each function writes the tag and a length placeholder, then the body, then patches the
//! length. A function that can fail leaves the buffer exactly as it found it when it fails, so
//! nothing half-written is ever sent.
//!
//! Strings become NUL-terminated C strings on the wire, so a string holding a NUL byte is
//! refused, naming the argument. Counts are Int16 on the wire and read as unsigned by the
//! server, so up to 65535 parameters, formats or types are accepted.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::ProtocolError;

/// Tag of Bind (`B`).
pub const BIND_TAG: u8 = b'B';
/// Tag of Close (`C`).
pub const CLOSE_TAG: u8 = b'C';
/// Tag of CopyData (`d`).
pub const COPY_DATA_TAG: u8 = b'd';
/// Tag of CopyDone (`c`).
pub const COPY_DONE_TAG: u8 = b'c';
/// Tag of CopyFail (`f`).
pub const COPY_FAIL_TAG: u8 = b'f';
/// Tag of Describe (`D`).
pub const DESCRIBE_TAG: u8 = b'D';
/// Tag of Execute (`E`).
pub const EXECUTE_TAG: u8 = b'E';
/// Tag of Flush (`H`).
pub const FLUSH_TAG: u8 = b'H';
/// Tag of Parse (`P`).
pub const PARSE_TAG: u8 = b'P';
/// Tag of PasswordMessage (`p`).
pub const PASSWORD_MESSAGE_TAG: u8 = b'p';
/// Tag of SASLInitialResponse (`p`, shared with PasswordMessage).
pub const SASL_INITIAL_RESPONSE_TAG: u8 = b'p';
/// Tag of SASLResponse (`p`, shared with PasswordMessage).
pub const SASL_RESPONSE_TAG: u8 = b'p';
/// Tag of Query (`Q`).
pub const QUERY_TAG: u8 = b'Q';
/// Tag of Sync (`S`).
pub const SYNC_TAG: u8 = b'S';
/// Tag of Terminate (`X`).
pub const TERMINATE_TAG: u8 = b'X';

/// The protocol version a StartupMessage asks for: 3.0.
pub const PROTOCOL_VERSION_3_0: i32 = 196_608;
/// The code that makes a startup packet an SSLRequest.
pub const SSL_REQUEST_CODE: i32 = 80_877_103;
/// The code that makes a startup packet a CancelRequest.
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;

/// The longest message the server reads (`PQ_LARGE_MESSAGE_LIMIT`, 1 GiB less 2 bytes, length
/// field included): a longer one makes it close the connection, so it is refused here first.
pub const MAX_MESSAGE_LEN: usize = 0x3fff_fffe;

/// Whether a parameter [`bind`] wrote is SQL NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsNull {
    /// NULL: the bytes written for it are discarded.
    Yes,
    /// A value.
    No,
}

/// Describe or Close a prepared statement.
pub const KIND_STATEMENT: u8 = b'S';
/// Describe or Close a portal.
pub const KIND_PORTAL: u8 = b'P';

/// Why [`bind`] or [`bind_values`] failed; the buffer is left as it was before the call.
#[derive(Debug)]
pub enum BindError<E> {
    /// `write_param` failed for the parameter at `index` (0-based).
    Param {
        /// The 0-based index of the parameter.
        index: usize,
        /// What `write_param` returned.
        error: E,
    },
    /// `write_values` of [`bind_values`] failed.
    Values(E),
    /// A name held a NUL byte, a count or length did not fit, or `write_param` removed bytes
    /// it did not write.
    Protocol(ProtocolError),
}

impl<E> From<ProtocolError> for BindError<E> {
    fn from(e: ProtocolError) -> Self {
        BindError::Protocol(e)
    }
}

impl<E: fmt::Display> fmt::Display for BindError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Param { index, error } => write!(f, "parameter ${}: {error}", index + 1),
            BindError::Values(error) => fmt::Display::fmt(error, f),
            BindError::Protocol(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for BindError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BindError::Param { error, .. } | BindError::Values(error) => Some(error),
            BindError::Protocol(e) => Some(e),
        }
    }
}

/// StartupMessage for protocol 3.0 with these (name, value) parameters (`user`, `database`, ...).
pub fn startup_message(params: &[(&str, &str)], buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(None, buf, |buf| {
        buf.put_i32(PROTOCOL_VERSION_3_0);
        for &(name, value) in params {
            if name.is_empty() {
                return Err(ProtocolError::new("startup parameter name is empty"));
            }
            put_cstr(buf, name.as_bytes(), "startup parameter name")?;
            if value.as_bytes().contains(&0) {
                return Err(ProtocolError::new(format!(
                    "value of startup parameter {name:?} contains a NUL byte"
                )));
            }
            put_cstr(buf, value.as_bytes(), "startup parameter value")?;
        }
        buf.put_u8(0);
        Ok(())
    })
}

/// SSLRequest: asks the server whether it will speak TLS on this connection.
pub fn ssl_request(buf: &mut BytesMut) {
    buf.put_i32(8);
    buf.put_i32(SSL_REQUEST_CODE);
}

/// CancelRequest: sent on a new connection to cancel the query running on another.
pub fn cancel_request(process_id: i32, secret_key: i32, buf: &mut BytesMut) {
    buf.put_i32(16);
    buf.put_i32(CANCEL_REQUEST_CODE);
    buf.put_i32(process_id);
    buf.put_i32(secret_key);
}

/// PasswordMessage: a cleartext or MD5 password; the terminating NUL is added here.
pub fn password_message(password: &[u8], buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(Some(PASSWORD_MESSAGE_TAG), buf, |buf| {
        put_cstr(buf, password, "password")
    })
}

/// SASLInitialResponse: the chosen mechanism and the client's first message.
pub fn sasl_initial_response(
    mechanism: &str,
    data: &[u8],
    buf: &mut BytesMut,
) -> Result<(), ProtocolError> {
    message(Some(SASL_INITIAL_RESPONSE_TAG), buf, |buf| {
        put_cstr(buf, mechanism.as_bytes(), "SASL mechanism")?;
        put_len(buf, data.len(), "SASL data")?;
        buf.put_slice(data);
        Ok(())
    })
}

/// SASLResponse: the client's next SASL message.
pub fn sasl_response(data: &[u8], buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(Some(SASL_RESPONSE_TAG), buf, |buf| {
        buf.put_slice(data);
        Ok(())
    })
}

/// Query: one or more SQL statements for the simple query protocol.
pub fn query(sql: &str, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(Some(QUERY_TAG), buf, |buf| {
        put_cstr(buf, sql.as_bytes(), "query")
    })
}

/// Parse: prepares `sql` as statement `name` (empty for the unnamed statement).
///
/// `param_types` may be shorter than the statement's parameter count; 0 lets the server infer.
pub fn parse(
    name: &str,
    sql: &str,
    param_types: &[u32],
    buf: &mut BytesMut,
) -> Result<(), ProtocolError> {
    message(Some(PARSE_TAG), buf, |buf| {
        put_cstr(buf, name.as_bytes(), "statement name")?;
        put_cstr(buf, sql.as_bytes(), "query")?;
        put_count(buf, param_types.len(), "parameter types")?;
        for &oid in param_types {
            buf.put_u32(oid);
        }
        Ok(())
    })
}

/// Describe: `kind` is [`KIND_STATEMENT`] (`S`) or [`KIND_PORTAL`] (`P`).
pub fn describe(kind: u8, name: &str, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(Some(DESCRIBE_TAG), buf, |buf| {
        put_kind(buf, kind, "Describe")?;
        put_cstr(buf, name.as_bytes(), "name")
    })
}

/// Bind: binds parameters to `statement`, creating `portal` (empty names for the unnamed ones).
///
/// For each of `param_count` parameters a 4-byte length is reserved, `write_param(index, buf)`
/// appends the value, and the length is patched; `IsNull::Yes` sends NULL (-1) and discards
/// anything the closure appended. On any error the buffer is truncated back to where the
/// message started.
#[inline]
pub fn bind<E>(
    portal: &str,
    statement: &str,
    param_formats: &[i16],
    param_count: usize,
    mut write_param: impl FnMut(usize, &mut BytesMut) -> Result<IsNull, E>,
    result_formats: &[i16],
    buf: &mut BytesMut,
) -> Result<(), BindError<E>> {
    message(Some(BIND_TAG), buf, |buf| {
        put_cstr(buf, portal.as_bytes(), "portal name")?;
        put_cstr(buf, statement.as_bytes(), "statement name")?;
        put_count(buf, param_formats.len(), "parameter formats")?;
        for &format in param_formats {
            buf.put_i16(format);
        }
        put_count(buf, param_count, "parameters")?;
        for index in 0..param_count {
            let len_at = buf.len();
            buf.put_i32(0);
            let is_null =
                write_param(index, buf).map_err(|error| BindError::Param { index, error })?;
            let value_start = len_at + 4;
            let Some(value_len) = buf.len().checked_sub(value_start) else {
                return Err(ProtocolError::new(format!(
                    "the encoder of parameter ${} removed bytes it did not write",
                    index + 1
                ))
                .into());
            };
            let len = match is_null {
                IsNull::Yes => {
                    buf.truncate(value_start);
                    -1
                }
                IsNull::No if value_len < MAX_MESSAGE_LEN => value_len as i32,
                IsNull::No => {
                    return Err(ProtocolError::new(format!(
                        "parameter ${} is {value_len} bytes; PostgreSQL accepts at most 1 GiB \
                         in one message (send it in parts, e.g. with COPY or lo_put)",
                        index + 1
                    ))
                    .into());
                }
            };
            patch_i32(buf, len_at, len)?;
        }
        put_count(buf, result_formats.len(), "result formats")?;
        for &format in result_formats {
            buf.put_i16(format);
        }
        Ok(())
    })
}

/// Bind whose parameter values `write_values` appends all at once, each an Int32 length (-1
/// for NULL) followed by its bytes: the layout [`bind`] writes one parameter at a time. The
/// message announces `param_count` values, so `write_values` must append exactly that many
/// (refusing otherwise is its job: it knows how many it wrote). On any error the buffer is
/// truncated back to where the message started.
#[inline]
pub fn bind_values<E>(
    portal: &str,
    statement: &str,
    param_formats: &[i16],
    param_count: usize,
    write_values: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    result_formats: &[i16],
    buf: &mut BytesMut,
) -> Result<(), BindError<E>> {
    message(Some(BIND_TAG), buf, |buf| {
        put_cstr(buf, portal.as_bytes(), "portal name")?;
        put_cstr(buf, statement.as_bytes(), "statement name")?;
        put_count(buf, param_formats.len(), "parameter formats")?;
        for &format in param_formats {
            buf.put_i16(format);
        }
        put_count(buf, param_count, "parameters")?;
        let values_start = buf.len();
        write_values(buf).map_err(BindError::Values)?;
        if buf.len() < values_start {
            return Err(
                ProtocolError::new("the parameter writer removed bytes it did not write").into(),
            );
        }
        put_count(buf, result_formats.len(), "result formats")?;
        for &format in result_formats {
            buf.put_i16(format);
        }
        Ok(())
    })
}

/// Execute: runs `portal`, returning at most `max_rows` rows (0 for no limit).
#[inline]
pub fn execute(portal: &str, max_rows: i32, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(Some(EXECUTE_TAG), buf, |buf| {
        put_cstr(buf, portal.as_bytes(), "portal name")?;
        buf.put_i32(max_rows);
        Ok(())
    })
}

/// Close: `kind` is [`KIND_STATEMENT`] (`S`) or [`KIND_PORTAL`] (`P`).
pub fn close(kind: u8, name: &str, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(Some(CLOSE_TAG), buf, |buf| {
        put_kind(buf, kind, "Close")?;
        put_cstr(buf, name.as_bytes(), "name")
    })
}

/// Sync: ends an extended-query cycle; the server answers with ReadyForQuery.
#[inline]
pub fn sync(buf: &mut BytesMut) {
    buf.put_slice(&[SYNC_TAG, 0, 0, 0, 4]);
}

/// Flush: asks the server to send what it has buffered.
pub fn flush(buf: &mut BytesMut) {
    buf.put_slice(&[FLUSH_TAG, 0, 0, 0, 4]);
}

/// Terminate: closes the session.
pub fn terminate(buf: &mut BytesMut) {
    buf.put_slice(&[TERMINATE_TAG, 0, 0, 0, 4]);
}

/// CopyData: a chunk of COPY FROM STDIN data.
pub fn copy_data(data: &[u8], buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(Some(COPY_DATA_TAG), buf, |buf| {
        buf.put_slice(data);
        Ok(())
    })
}

/// Starts a CopyData message whose body the caller appends, and returns where it starts for
/// [`finish_copy_data`]: rows are encoded straight into the message, with no copy.
#[inline]
pub fn begin_copy_data(buf: &mut BytesMut) -> usize {
    let start = buf.len();
    buf.put_u8(COPY_DATA_TAG);
    buf.put_i32(0);
    start
}

/// Patches the length of the CopyData begun at `start` by [`begin_copy_data`]; one with an
/// empty body is removed.
pub fn finish_copy_data(buf: &mut BytesMut, start: usize) -> Result<(), ProtocolError> {
    let len_at = start + 1;
    let len = buf
        .len()
        .checked_sub(len_at)
        .ok_or_else(|| ProtocolError::new("CopyData: the message header is missing"))?;
    if len == 4 {
        buf.truncate(start);
        return Ok(());
    }
    if len > MAX_MESSAGE_LEN {
        return Err(ProtocolError::new(format!(
            "a CopyData of {len} bytes is longer than the 1 GiB PostgreSQL accepts"
        )));
    }
    patch_i32(buf, len_at, len as i32)
}

/// CopyDone: the COPY FROM STDIN data is complete.
pub fn copy_done(buf: &mut BytesMut) {
    buf.put_slice(&[COPY_DONE_TAG, 0, 0, 0, 4]);
}

/// CopyFail: aborts COPY FROM STDIN with this error message.
pub fn copy_fail(message_text: &str, buf: &mut BytesMut) -> Result<(), ProtocolError> {
    message(Some(COPY_FAIL_TAG), buf, |buf| {
        put_cstr(buf, message_text.as_bytes(), "CopyFail message")
    })
}

/// Writes `tag` (if any), a length placeholder and the body, then patches the length.
/// On error, truncates `buf` back to its length on entry.
#[inline]
fn message<E: From<ProtocolError>>(
    tag: Option<u8>,
    buf: &mut BytesMut,
    body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<(), E> {
    let start = buf.len();
    if let Some(tag) = tag {
        buf.put_u8(tag);
    }
    let len_at = buf.len();
    buf.put_i32(0);
    let result = body(buf).and_then(|()| {
        let len = buf
            .len()
            .checked_sub(len_at)
            .ok_or_else(|| ProtocolError::new("message body removed its own header"))?;
        if len > MAX_MESSAGE_LEN {
            return Err(ProtocolError::new(format!(
                "a message of {len} bytes is longer than the 1 GiB PostgreSQL accepts"
            ))
            .into());
        }
        patch_i32(buf, len_at, len as i32).map_err(E::from)
    });
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// Overwrites the 4 bytes at `at` with `value`.
#[inline]
fn patch_i32(buf: &mut BytesMut, at: usize, value: i32) -> Result<(), ProtocolError> {
    match buf.get_mut(at..).and_then(<[u8]>::first_chunk_mut::<4>) {
        Some(slot) => {
            *slot = value.to_be_bytes();
            Ok(())
        }
        None => Err(ProtocolError::new("length placeholder is missing")),
    }
}

/// Appends `s` and a NUL; refuses `s` if it contains a NUL, naming `what`.
#[inline]
fn put_cstr(buf: &mut BytesMut, s: &[u8], what: &str) -> Result<(), ProtocolError> {
    if s.contains(&0) {
        return Err(ProtocolError::new(format!(
            "{what} contains a NUL byte, which PostgreSQL cannot receive in it (remove it; \
             binary data goes in a bytea parameter)"
        )));
    }
    buf.put_slice(s);
    buf.put_u8(0);
    Ok(())
}

/// Appends an Int16 count, read as unsigned by the server.
#[inline]
fn put_count(buf: &mut BytesMut, count: usize, what: &str) -> Result<(), ProtocolError> {
    let count = u16::try_from(count).map_err(|_| {
        ProtocolError::new(format!(
            "too many {what}: {count}, the protocol allows 65535"
        ))
    })?;
    buf.put_u16(count);
    Ok(())
}

/// Appends an Int32 length.
fn put_len(buf: &mut BytesMut, len: usize, what: &str) -> Result<(), ProtocolError> {
    let len = i32::try_from(len).map_err(|_| {
        ProtocolError::new(format!(
            "{what} is {len} bytes long, more than the protocol allows"
        ))
    })?;
    buf.put_i32(len);
    Ok(())
}

/// Appends `S` or `P`; anything else is refused.
fn put_kind(buf: &mut BytesMut, kind: u8, message: &str) -> Result<(), ProtocolError> {
    if !matches!(kind, KIND_STATEMENT | KIND_PORTAL) {
        return Err(ProtocolError::new(format!(
            "{message} kind must be b'S' or b'P', not 0x{kind:02x}"
        )));
    }
    buf.put_u8(kind);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `write` on a buffer that already holds two bytes and returns what it appended.
    fn written(write: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut buf = BytesMut::from(&b"xx"[..]);
        write(&mut buf);
        assert_eq!(&buf[..2], b"xx", "earlier bytes are kept");
        buf[2..].to_vec()
    }

    /// Asserts `write` fails, leaves the buffer as it was, and mentions `needle`.
    fn refused(needle: &str, write: impl FnOnce(&mut BytesMut) -> Result<(), ProtocolError>) {
        let mut buf = BytesMut::from(&b"xx"[..]);
        let e = write(&mut buf).expect_err("refused");
        assert!(
            e.message().contains(needle),
            "{e:?} should mention {needle:?}"
        );
        assert_eq!(&buf[..], b"xx", "nothing half-written stays");
    }

    #[test]
    fn startup_message_bytes() {
        let bytes =
            written(|b| startup_message(&[("user", "postgres"), ("database", "db")], b).unwrap());
        let mut expected = vec![0, 0, 0, 35, 0, 3, 0, 0];
        expected.extend_from_slice(b"user\0postgres\0database\0db\0\0");
        assert_eq!(bytes, expected);
        assert_eq!(
            written(|b| startup_message(&[], b).unwrap()),
            [0, 0, 0, 9, 0, 3, 0, 0, 0]
        );
    }

    #[test]
    fn startup_message_refusals() {
        refused("startup parameter name contains a NUL", |b| {
            startup_message(&[("us\0er", "x")], b)
        });
        refused("value of startup parameter \"user\" contains a NUL", |b| {
            startup_message(&[("user", "x\0y")], b)
        });
        refused("name is empty", |b| startup_message(&[("", "x")], b));
    }

    #[test]
    fn ssl_and_cancel_request_bytes() {
        assert_eq!(written(ssl_request), [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        assert_eq!(
            written(|b| cancel_request(0x0102_0304, -1, b)),
            [
                0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff
            ]
        );
    }

    #[test]
    fn password_message_bytes() {
        assert_eq!(
            written(|b| password_message(b"secret", b).unwrap()),
            b"p\0\0\0\x0bsecret\0"
        );
        assert_eq!(
            written(|b| password_message(b"", b).unwrap()),
            b"p\0\0\0\x05\0"
        );
        refused("password contains a NUL", |b| {
            password_message(b"se\0cret", b)
        });
    }

    #[test]
    fn sasl_message_bytes() {
        let mut expected = b"p\0\0\0\x21SCRAM-SHA-256\0\0\0\0\x0b".to_vec();
        expected.extend_from_slice(b"n,,n=,r=abc");
        assert_eq!(
            written(|b| sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=abc", b).unwrap()),
            expected
        );
        assert_eq!(
            written(|b| sasl_response(b"c=biws", b).unwrap()),
            b"p\0\0\0\x0ac=biws"
        );
        refused("SASL mechanism contains a NUL", |b| {
            sasl_initial_response("SCRAM\0", b"", b)
        });
    }

    #[test]
    fn query_bytes() {
        assert_eq!(
            written(|b| query("SELECT 1", b).unwrap()),
            b"Q\0\0\0\x0dSELECT 1\0"
        );
        refused("query contains a NUL", |b| query("SELECT '\0'", b));
    }

    #[test]
    fn parse_bytes() {
        assert_eq!(
            written(|b| parse("s1", "SELECT $1", &[23], b).unwrap()),
            b"P\0\0\0\x17s1\0SELECT $1\0\0\x01\0\0\0\x17"
        );
        assert_eq!(
            written(|b| parse("", "SELECT 1", &[], b).unwrap()),
            b"P\0\0\0\x10\0SELECT 1\0\0\0"
        );
        refused("statement name contains a NUL", |b| {
            parse("s\0x", "SELECT 1", &[], b)
        });
        refused("query contains a NUL", |b| parse("s1", "SELECT\0", &[], b));
    }

    #[test]
    fn parse_accepts_65535_types_and_no_more() {
        let mut buf = BytesMut::new();
        parse("", "", &vec![0; 65_535], &mut buf).unwrap();
        assert_eq!(&buf[7..9], &[0xff, 0xff]);
        refused("too many parameter types: 65536", |b| {
            parse("", "", &vec![0; 65_536], b)
        });
    }

    #[test]
    fn describe_and_close_bytes() {
        assert_eq!(
            written(|b| describe(KIND_STATEMENT, "s1", b).unwrap()),
            b"D\0\0\0\x08Ss1\0"
        );
        assert_eq!(
            written(|b| describe(KIND_PORTAL, "", b).unwrap()),
            b"D\0\0\0\x06P\0"
        );
        assert_eq!(
            written(|b| close(KIND_PORTAL, "p1", b).unwrap()),
            b"C\0\0\0\x08Pp1\0"
        );
        assert_eq!(
            written(|b| close(KIND_STATEMENT, "s1", b).unwrap()),
            b"C\0\0\0\x08Ss1\0"
        );
        refused("name contains a NUL", |b| describe(b'S', "a\0", b));
        refused("name contains a NUL", |b| close(b'P', "a\0", b));
        refused("Describe kind must be", |b| describe(b'X', "a", b));
        refused("Close kind must be", |b| close(0, "a", b));
    }

    fn int4(v: i32) -> impl Fn(&mut BytesMut) -> Result<IsNull, String> {
        move |b: &mut BytesMut| {
            b.put_i32(v);
            Ok(IsNull::No)
        }
    }

    #[test]
    fn bind_bytes() {
        let bytes = written(|b| {
            bind(
                "",
                "s1",
                &[1],
                2,
                |i, b| match i {
                    0 => int4(42)(b),
                    _ => Ok::<_, String>(IsNull::Yes),
                },
                &[1],
                b,
            )
            .unwrap()
        });
        assert_eq!(
            bytes,
            [
                b'B', 0, 0, 0, 30, // tag, length
                0,  // portal ""
                b's', b'1', 0, // statement "s1"
                0, 1, 0, 1, // 1 parameter format: binary
                0, 2, // 2 parameters
                0, 0, 0, 4, 0, 0, 0, 42, // $1 = 42
                0xff, 0xff, 0xff, 0xff, // $2 = NULL
                0, 1, 0, 1, // 1 result format: binary
            ]
        );
    }

    #[test]
    fn bind_without_parameters() {
        let bytes =
            written(|b| bind("p", "s", &[], 0, |_, _| Ok::<_, ()>(IsNull::No), &[], b).unwrap());
        assert_eq!(bytes, b"B\0\0\0\x0ep\0s\0\0\0\0\0\0\0");
    }

    #[test]
    fn bind_null_discards_what_the_encoder_wrote() {
        let bytes = written(|b| {
            bind(
                "",
                "",
                &[],
                1,
                |_, b| {
                    b.put_slice(b"junk");
                    Ok::<_, ()>(IsNull::Yes)
                },
                &[],
                b,
            )
            .unwrap()
        });
        assert_eq!(bytes, b"B\0\0\0\x10\0\0\0\0\0\x01\xff\xff\xff\xff\0\0");
    }

    #[test]
    fn bind_encoder_error_names_the_parameter_and_leaves_nothing() {
        let mut buf = BytesMut::from(&b"xx"[..]);
        let result = bind(
            "",
            "s1",
            &[1],
            3,
            |i, b| {
                if i == 1 {
                    b.put_slice(b"half");
                    Err("out of range")
                } else {
                    b.put_i32(7);
                    Ok(IsNull::No)
                }
            },
            &[],
            &mut buf,
        );
        match result {
            Err(BindError::Param { index: 1, error }) => assert_eq!(error, "out of range"),
            other => panic!("{other:?}"),
        }
        assert_eq!(&buf[..], b"xx");
        let e: BindError<&str> = BindError::Param {
            index: 1,
            error: "out of range",
        };
        assert_eq!(e.to_string(), "parameter $2: out of range");
    }

    #[test]
    fn bind_refusals_leave_nothing() {
        let never = |_: usize, _: &mut BytesMut| -> Result<IsNull, ()> { unreachable!() };
        let check = |needle: &str, result: Result<(), BindError<()>>, buf: &BytesMut| {
            match result {
                Err(BindError::Protocol(e)) => {
                    assert!(e.message().contains(needle), "{e} should mention {needle}")
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(&buf[..], b"xx");
        };
        let mut buf = BytesMut::from(&b"xx"[..]);
        let r = bind("p\0", "", &[], 0, never, &[], &mut buf);
        check("portal name contains a NUL", r, &buf);
        let r = bind("", "s\0", &[], 0, never, &[], &mut buf);
        check("statement name contains a NUL", r, &buf);
        let r = bind("", "", &vec![0; 70_000], 0, never, &[], &mut buf);
        check("too many parameter formats", r, &buf);
        let r = bind("", "", &[], 70_000, never, &[], &mut buf);
        check("too many parameters", r, &buf);
        let r = bind("", "", &[], 0, never, &vec![1; 65_536], &mut buf);
        check("too many result formats", r, &buf);
        // An encoder that eats into the length placeholder.
        let r = bind(
            "",
            "",
            &[],
            1,
            |_, b| {
                let keep = b.len() - 2;
                b.truncate(keep);
                Ok(IsNull::No)
            },
            &[],
            &mut buf,
        );
        check("parameter $1 removed bytes", r, &buf);
    }

    #[test]
    fn bind_values_writes_what_bind_writes() {
        let one_by_one = written(|b| {
            bind(
                "",
                "s1",
                &[1],
                2,
                |i, b| match i {
                    0 => int4(42)(b),
                    _ => Ok::<_, String>(IsNull::Yes),
                },
                &[1],
                b,
            )
            .unwrap()
        });
        let all_at_once = written(|b| {
            bind_values(
                "",
                "s1",
                &[1],
                2,
                |b| {
                    b.put_i32(4);
                    b.put_i32(42);
                    b.put_i32(-1);
                    Ok::<_, String>(())
                },
                &[1],
                b,
            )
            .unwrap()
        });
        assert_eq!(one_by_one, all_at_once);
    }

    #[test]
    fn bind_values_errors_leave_nothing() {
        let mut buf = BytesMut::from(&b"xx"[..]);
        let result = bind_values(
            "",
            "s1",
            &[],
            2,
            |b| {
                b.put_slice(b"half");
                Err("wrong type")
            },
            &[],
            &mut buf,
        );
        assert!(
            matches!(result, Err(BindError::Values("wrong type"))),
            "{result:?}"
        );
        assert_eq!(&buf[..], b"xx");

        let result = bind_values(
            "",
            "",
            &[],
            1,
            |b| {
                let keep = b.len() - 2;
                b.truncate(keep);
                Ok::<_, ()>(())
            },
            &[],
            &mut buf,
        );
        match result {
            Err(BindError::Protocol(e)) => assert!(e.message().contains("removed bytes"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(&buf[..], b"xx");
    }

    #[test]
    fn execute_bytes() {
        assert_eq!(
            written(|b| execute("", 0, b).unwrap()),
            b"E\0\0\0\x09\0\0\0\0\0"
        );
        assert_eq!(
            written(|b| execute("p1", 100, b).unwrap()),
            b"E\0\0\0\x0bp1\0\0\0\0\x64"
        );
        refused("portal name contains a NUL", |b| execute("\0", 0, b));
    }

    #[test]
    fn fixed_messages_bytes() {
        assert_eq!(written(sync), b"S\0\0\0\x04");
        assert_eq!(written(flush), b"H\0\0\0\x04");
        assert_eq!(written(terminate), b"X\0\0\0\x04");
        assert_eq!(written(copy_done), b"c\0\0\0\x04");
    }

    #[test]
    fn copy_messages_bytes() {
        assert_eq!(
            written(|b| copy_data(b"1\t2\n", b).unwrap()),
            b"d\0\0\0\x081\t2\n"
        );
        assert_eq!(written(|b| copy_data(b"", b).unwrap()), b"d\0\0\0\x04");
        assert_eq!(
            written(|b| copy_fail("boom", b).unwrap()),
            b"f\0\0\0\x09boom\0"
        );
        refused("CopyFail message contains a NUL", |b| {
            copy_fail("bo\0om", b)
        });
    }

    #[test]
    fn messages_append_in_sequence() {
        let mut buf = BytesMut::new();
        parse("", "SELECT $1", &[], &mut buf).unwrap();
        bind("", "", &[], 1, |_, b| int4(1)(b), &[1], &mut buf).unwrap();
        execute("", 0, &mut buf).unwrap();
        sync(&mut buf);
        let mut expected = b"P\0\0\0\x11\0SELECT $1\0\0\0".to_vec();
        expected.extend_from_slice(b"B\0\0\0\x16\0\0\0\0\0\x01\0\0\0\x04\0\0\0\x01\0\x01\0\x01");
        expected.extend_from_slice(b"E\0\0\0\x09\0\0\0\0\0");
        expected.extend_from_slice(b"S\0\0\0\x04");
        assert_eq!(&buf[..], &expected[..]);
    }
}
