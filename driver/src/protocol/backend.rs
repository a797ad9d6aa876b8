//! Backend (server to client) messages: [`parse_message`] splits one off a read buffer.
//!
//! Every message is validated when it is parsed, so the accessors of the body types cannot fail
//! on bytes that came through [`parse_message`]. Bodies keep the `Bytes` they arrived in (a
//! slice of the read buffer's allocation), so a [`DataRow`] is never copied field by field.
//!
//! The one-byte answer to an SSLRequest (`S` or `N`) is not a message; the connection reads it
//! before any message arrives.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::str;

use bytes::{Buf, Bytes, BytesMut};

use super::ProtocolError;

/// Tag of every Authentication* message (`R`).
pub const AUTHENTICATION_TAG: u8 = b'R';
/// Tag of BackendKeyData (`K`).
pub const BACKEND_KEY_DATA_TAG: u8 = b'K';
/// Tag of BindComplete (`2`).
pub const BIND_COMPLETE_TAG: u8 = b'2';
/// Tag of CloseComplete (`3`).
pub const CLOSE_COMPLETE_TAG: u8 = b'3';
/// Tag of CommandComplete (`C`).
pub const COMMAND_COMPLETE_TAG: u8 = b'C';
/// Tag of CopyData (`d`).
pub const COPY_DATA_TAG: u8 = b'd';
/// Tag of CopyDone (`c`).
pub const COPY_DONE_TAG: u8 = b'c';
/// Tag of CopyInResponse (`G`).
pub const COPY_IN_RESPONSE_TAG: u8 = b'G';
/// Tag of CopyOutResponse (`H`).
pub const COPY_OUT_RESPONSE_TAG: u8 = b'H';
/// Tag of CopyBothResponse (`W`).
pub const COPY_BOTH_RESPONSE_TAG: u8 = b'W';
/// Tag of DataRow (`D`).
pub const DATA_ROW_TAG: u8 = b'D';
/// Tag of EmptyQueryResponse (`I`).
pub const EMPTY_QUERY_RESPONSE_TAG: u8 = b'I';
/// Tag of ErrorResponse (`E`).
pub const ERROR_RESPONSE_TAG: u8 = b'E';
/// Tag of NegotiateProtocolVersion (`v`).
pub const NEGOTIATE_PROTOCOL_VERSION_TAG: u8 = b'v';
/// Tag of NoData (`n`).
pub const NO_DATA_TAG: u8 = b'n';
/// Tag of NoticeResponse (`N`).
pub const NOTICE_RESPONSE_TAG: u8 = b'N';
/// Tag of NotificationResponse (`A`).
pub const NOTIFICATION_RESPONSE_TAG: u8 = b'A';
/// Tag of ParameterDescription (`t`).
pub const PARAMETER_DESCRIPTION_TAG: u8 = b't';
/// Tag of ParameterStatus (`S`).
pub const PARAMETER_STATUS_TAG: u8 = b'S';
/// Tag of ParseComplete (`1`).
pub const PARSE_COMPLETE_TAG: u8 = b'1';
/// Tag of PortalSuspended (`s`).
pub const PORTAL_SUSPENDED_TAG: u8 = b's';
/// Tag of ReadyForQuery (`Z`).
pub const READY_FOR_QUERY_TAG: u8 = b'Z';
/// Tag of RowDescription (`T`).
pub const ROW_DESCRIPTION_TAG: u8 = b'T';

// Authentication request codes (the Int32 after the `R` header).
const AUTH_OK: i32 = 0;
const AUTH_KERBEROS_V5: i32 = 2;
const AUTH_CLEARTEXT_PASSWORD: i32 = 3;
const AUTH_MD5_PASSWORD: i32 = 5;
const AUTH_SCM_CREDENTIAL: i32 = 6;
const AUTH_GSS: i32 = 7;
const AUTH_GSS_CONTINUE: i32 = 8;
const AUTH_SSPI: i32 = 9;
const AUTH_SASL: i32 = 10;
const AUTH_SASL_CONTINUE: i32 = 11;
const AUTH_SASL_FINAL: i32 = 12;

/// Tag byte plus the Int32 length.
const HEADER_LEN: usize = 5;

/// One message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// Authentication succeeded.
    AuthenticationOk,
    /// The server asks for Kerberos V5 (unsupported by servers since 9.4).
    AuthenticationKerberosV5,
    /// The server asks for the password in clear text.
    AuthenticationCleartextPassword,
    /// The server asks for an MD5-hashed password with this salt.
    AuthenticationMd5Password {
        /// The salt to hash with.
        salt: [u8; 4],
    },
    /// The server asks for an SCM credential message.
    AuthenticationScmCredential,
    /// The server asks for GSSAPI authentication.
    AuthenticationGss,
    /// GSSAPI or SSPI data from the server.
    AuthenticationGssContinue(Bytes),
    /// The server asks for SSPI authentication.
    AuthenticationSspi,
    /// The server asks for SASL and lists the mechanisms it accepts.
    AuthenticationSasl(SaslMechanisms),
    /// A SASL challenge (SCRAM's server-first-message).
    AuthenticationSaslContinue(Bytes),
    /// The SASL outcome (SCRAM's server-final-message).
    AuthenticationSaslFinal(Bytes),
    /// The key to cancel queries on this connection with.
    BackendKeyData {
        /// The backend's process id.
        process_id: i32,
        /// The secret key.
        secret_key: i32,
    },
    /// A Bind succeeded.
    BindComplete,
    /// A Close succeeded.
    CloseComplete,
    /// A command finished; its tag says what it did.
    CommandComplete(CommandComplete),
    /// The server is ready to receive COPY data.
    CopyInResponse(CopyResponse),
    /// The server is about to send COPY data.
    CopyOutResponse(CopyResponse),
    /// Both directions of COPY (streaming replication).
    CopyBothResponse(CopyResponse),
    /// A chunk of COPY data.
    CopyData(Bytes),
    /// The server finished sending COPY data.
    CopyDone,
    /// One result row.
    DataRow(DataRow),
    /// The query string was empty.
    EmptyQueryResponse,
    /// The server reports an error.
    ErrorResponse(ErrorFields),
    /// The server reports a notice or warning.
    NoticeResponse(ErrorFields),
    /// The described statement or portal returns no rows.
    NoData,
    /// A NOTIFY on a channel this session listens to.
    NotificationResponse(Notification),
    /// The parameter types of a described statement.
    ParameterDescription(ParameterDescription),
    /// A run-time parameter changed (or is reported at startup).
    ParameterStatus(ParameterStatus),
    /// A Parse succeeded.
    ParseComplete,
    /// An Execute stopped at its row limit; the portal has more rows.
    PortalSuspended,
    /// The server is ready for a new query cycle.
    ReadyForQuery(TransactionStatus),
    /// The columns a statement or portal returns.
    RowDescription(RowDescription),
    /// The server does not support the requested minor version or some protocol options.
    NegotiateProtocolVersion {
        /// The newest minor protocol version the server supports.
        newest_minor: i32,
        /// The protocol options (`_pq_.*`) the server did not recognize.
        unrecognized: Vec<String>,
    },
}

/// Splits one whole message off the front of `buf`.
///
/// Returns `Ok(None)` and leaves `buf` untouched when it holds only part of a message. The
/// header alone decides an unknown tag (from its first byte), a length below 4 or a length over
/// `max_len`, so a bad header is refused before anything waits for or allocates its body. The message is consumed
/// from `buf` even when its body is then found malformed (the connection is broken anyway).
#[inline]
pub fn parse_message(buf: &mut BytesMut, max_len: usize) -> Result<Option<Message>, ProtocolError> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    if !is_known_tag(tag) {
        return Err(ProtocolError::new(format!(
            "unknown backend message tag {}",
            show_tag(tag)
        )));
    }
    let Some(&[_, a, b, c, d]) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let len = i32::from_be_bytes([a, b, c, d]);
    let len = match usize::try_from(len) {
        Ok(len) if len >= 4 => len,
        _ => {
            return Err(ProtocolError::new(format!(
                "message {} has invalid length {len}",
                show_tag(tag)
            )));
        }
    };
    if len > max_len {
        return Err(ProtocolError::new(format!(
            "message {} is {len} bytes long, more than the limit of {max_len} \
             (max_message_size): if the server's data is really this large, raise \
             max_message_size in the connection options",
            show_tag(tag)
        )));
    }
    // `len` fits in an i32, so adding 1 cannot overflow a usize of 32 bits or more.
    let total = len + 1;
    if buf.len() < total {
        return Ok(None);
    }
    // Skip the header in place (a pointer bump), then share the body with the read buffer.
    buf.advance(HEADER_LEN);
    let body = buf.split_to(len - 4).freeze();
    parse_body(tag, body).map(Some)
}

fn is_known_tag(tag: u8) -> bool {
    matches!(
        tag,
        AUTHENTICATION_TAG
            | BACKEND_KEY_DATA_TAG
            | BIND_COMPLETE_TAG
            | CLOSE_COMPLETE_TAG
            | COMMAND_COMPLETE_TAG
            | COPY_DATA_TAG
            | COPY_DONE_TAG
            | COPY_IN_RESPONSE_TAG
            | COPY_OUT_RESPONSE_TAG
            | COPY_BOTH_RESPONSE_TAG
            | DATA_ROW_TAG
            | EMPTY_QUERY_RESPONSE_TAG
            | ERROR_RESPONSE_TAG
            | NEGOTIATE_PROTOCOL_VERSION_TAG
            | NO_DATA_TAG
            | NOTICE_RESPONSE_TAG
            | NOTIFICATION_RESPONSE_TAG
            | PARAMETER_DESCRIPTION_TAG
            | PARAMETER_STATUS_TAG
            | PARSE_COMPLETE_TAG
            | PORTAL_SUSPENDED_TAG
            | READY_FOR_QUERY_TAG
            | ROW_DESCRIPTION_TAG
    )
}

/// `'D' (0x44)` for printable tags, `0x07` for the rest.
fn show_tag(tag: u8) -> String {
    if tag.is_ascii_graphic() {
        format!("'{}' (0x{tag:02x})", tag as char)
    } else {
        format!("0x{tag:02x}")
    }
}

fn parse_body(tag: u8, body: Bytes) -> Result<Message, ProtocolError> {
    let message = match tag {
        DATA_ROW_TAG => Message::DataRow(DataRow::parse(body)?),
        COMMAND_COMPLETE_TAG => Message::CommandComplete(CommandComplete::parse(body)?),
        READY_FOR_QUERY_TAG => {
            let mut r = Reader::new(&body, "ReadyForQuery");
            let status = match r.u8()? {
                b'I' => TransactionStatus::Idle,
                b'T' => TransactionStatus::InTransaction,
                b'E' => TransactionStatus::Failed,
                other => {
                    return Err(r.error(format_args!(
                        "unknown transaction status {}",
                        show_tag(other)
                    )));
                }
            };
            r.finish()?;
            Message::ReadyForQuery(status)
        }
        BIND_COMPLETE_TAG => empty(body, "BindComplete", Message::BindComplete)?,
        PARSE_COMPLETE_TAG => empty(body, "ParseComplete", Message::ParseComplete)?,
        CLOSE_COMPLETE_TAG => empty(body, "CloseComplete", Message::CloseComplete)?,
        NO_DATA_TAG => empty(body, "NoData", Message::NoData)?,
        PORTAL_SUSPENDED_TAG => empty(body, "PortalSuspended", Message::PortalSuspended)?,
        EMPTY_QUERY_RESPONSE_TAG => empty(body, "EmptyQueryResponse", Message::EmptyQueryResponse)?,
        COPY_DONE_TAG => empty(body, "CopyDone", Message::CopyDone)?,
        COPY_DATA_TAG => Message::CopyData(body),
        ROW_DESCRIPTION_TAG => Message::RowDescription(RowDescription::parse(body)?),
        PARAMETER_DESCRIPTION_TAG => {
            Message::ParameterDescription(ParameterDescription::parse(body)?)
        }
        ERROR_RESPONSE_TAG => Message::ErrorResponse(ErrorFields::parse(body, "ErrorResponse")?),
        NOTICE_RESPONSE_TAG => Message::NoticeResponse(ErrorFields::parse(body, "NoticeResponse")?),
        PARAMETER_STATUS_TAG => Message::ParameterStatus(ParameterStatus::parse(body)?),
        NOTIFICATION_RESPONSE_TAG => Message::NotificationResponse(Notification::parse(body)?),
        BACKEND_KEY_DATA_TAG => {
            let mut r = Reader::new(&body, "BackendKeyData");
            let process_id = r.i32()?;
            let secret_key = r.i32()?;
            r.finish()?;
            Message::BackendKeyData {
                process_id,
                secret_key,
            }
        }
        AUTHENTICATION_TAG => parse_authentication(body)?,
        COPY_IN_RESPONSE_TAG => {
            Message::CopyInResponse(CopyResponse::parse(body, "CopyInResponse")?)
        }
        COPY_OUT_RESPONSE_TAG => {
            Message::CopyOutResponse(CopyResponse::parse(body, "CopyOutResponse")?)
        }
        COPY_BOTH_RESPONSE_TAG => {
            Message::CopyBothResponse(CopyResponse::parse(body, "CopyBothResponse")?)
        }
        NEGOTIATE_PROTOCOL_VERSION_TAG => parse_negotiate_protocol_version(&body)?,
        other => {
            return Err(ProtocolError::new(format!(
                "unknown backend message tag {}",
                show_tag(other)
            )));
        }
    };
    Ok(message)
}

fn empty(body: Bytes, what: &'static str, message: Message) -> Result<Message, ProtocolError> {
    Reader::new(&body, what).finish()?;
    Ok(message)
}

fn parse_authentication(body: Bytes) -> Result<Message, ProtocolError> {
    let mut r = Reader::new(&body, "Authentication");
    let code = r.i32()?;
    let message = match code {
        AUTH_OK => Message::AuthenticationOk,
        AUTH_KERBEROS_V5 => Message::AuthenticationKerberosV5,
        AUTH_CLEARTEXT_PASSWORD => Message::AuthenticationCleartextPassword,
        AUTH_MD5_PASSWORD => Message::AuthenticationMd5Password { salt: r.array()? },
        AUTH_SCM_CREDENTIAL => Message::AuthenticationScmCredential,
        AUTH_GSS => Message::AuthenticationGss,
        AUTH_SSPI => Message::AuthenticationSspi,
        AUTH_GSS_CONTINUE => return Ok(Message::AuthenticationGssContinue(body.slice(4..))),
        AUTH_SASL_CONTINUE => return Ok(Message::AuthenticationSaslContinue(body.slice(4..))),
        AUTH_SASL_FINAL => return Ok(Message::AuthenticationSaslFinal(body.slice(4..))),
        AUTH_SASL => {
            loop {
                if r.cstr()?.is_empty() {
                    break;
                }
            }
            r.finish()?;
            return Ok(Message::AuthenticationSasl(SaslMechanisms {
                buf: body.slice(4..),
            }));
        }
        other => return Err(r.error(format_args!("unknown authentication request {other}"))),
    };
    r.finish()?;
    Ok(message)
}

fn parse_negotiate_protocol_version(body: &[u8]) -> Result<Message, ProtocolError> {
    let mut r = Reader::new(body, "NegotiateProtocolVersion");
    let newest_minor = r.i32()?;
    let count = r.i32()?;
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| n <= r.remaining())
        .ok_or_else(|| {
            r.error(format_args!(
                "option count {count} does not fit the message"
            ))
        })?;
    // The Vec grows only as strings are actually found in the body.
    let mut unrecognized = Vec::new();
    for _ in 0..count {
        unrecognized.push(r.cstr()?.to_owned());
    }
    r.finish()?;
    Ok(Message::NegotiateProtocolVersion {
        newest_minor,
        unrecognized,
    })
}

/// Whether the session is in a transaction, as ReadyForQuery reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Not in a transaction block (`I`).
    Idle,
    /// In a transaction block (`T`).
    InTransaction,
    /// In a failed transaction block; queries are refused until it ends (`E`).
    Failed,
}

/// The SASL mechanisms of an AuthenticationSASL message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslMechanisms {
    /// NUL-terminated names followed by an empty name; validated at parse.
    buf: Bytes,
}

impl SaslMechanisms {
    /// The mechanism names, in the server's order of preference.
    pub fn iter(&self) -> SaslMechanismsIter<'_> {
        SaslMechanismsIter { rest: &self.buf }
    }
}

/// Iterator over [`SaslMechanisms`].
#[derive(Debug, Clone)]
pub struct SaslMechanismsIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SaslMechanismsIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let nul = self.rest.iter().position(|&b| b == 0)?;
        if nul == 0 {
            self.rest = &[];
            return None;
        }
        let (name, rest) = self.rest.split_at(nul);
        self.rest = rest.get(1..).unwrap_or(&[]);
        Some(str_or_empty(name))
    }
}

/// The body of CommandComplete: the command tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandComplete {
    /// The tag without its NUL; validated UTF-8.
    tag: Bytes,
}

impl CommandComplete {
    fn parse(body: Bytes) -> Result<CommandComplete, ProtocolError> {
        let mut r = Reader::new(&body, "CommandComplete");
        let tag = r.cstr_range()?;
        r.finish()?;
        Ok(CommandComplete {
            tag: body.slice(tag),
        })
    }

    /// The command tag, such as `INSERT 0 3` or `CREATE TABLE`.
    pub fn tag(&self) -> &str {
        str_or_empty(&self.tag)
    }

    /// The command tag's bytes, for comparing without another UTF-8 check.
    pub fn tag_bytes(&self) -> &[u8] {
        &self.tag
    }

    /// The row count of an INSERT, UPDATE, DELETE, SELECT, MOVE, FETCH, COPY or MERGE tag.
    pub fn rows(&self) -> Option<u64> {
        let tag = self.tag();
        let (command, _) = tag.split_once(' ')?;
        match command {
            "INSERT" | "UPDATE" | "DELETE" | "SELECT" | "MOVE" | "FETCH" | "COPY" | "MERGE" => {
                tag.rsplit(' ').next()?.parse().ok()
            }
            _ => None,
        }
    }
}

/// The body of CopyInResponse, CopyOutResponse and CopyBothResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResponse {
    format: i8,
    /// The Int16 count followed by that many Int16 formats; validated at parse.
    buf: Bytes,
}

impl CopyResponse {
    fn parse(body: Bytes, what: &'static str) -> Result<CopyResponse, ProtocolError> {
        let mut r = Reader::new(&body, what);
        let format = r.u8()? as i8;
        if !matches!(format, 0 | 1) {
            return Err(r.error(format_args!("unknown overall format {format}")));
        }
        let count = usize::from(r.count()?);
        if r.remaining() != count * 2 {
            return Err(r.error(format_args!(
                "{count} column formats need {} bytes, {} present",
                count * 2,
                r.remaining()
            )));
        }
        Ok(CopyResponse {
            format,
            buf: body.slice(1..),
        })
    }

    /// The overall format: 0 text, 1 binary.
    pub fn format(&self) -> i8 {
        self.format
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        read_count(&self.buf)
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The format of each column: 0 text, 1 binary.
    pub fn column_formats(&self) -> impl ExactSizeIterator<Item = i16> + '_ {
        self.buf
            .get(2..)
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
    }
}

/// The body of a DataRow: the field count and the fields, kept as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRow {
    len: u16,
    /// The body after the 2-byte field count.
    buf: Bytes,
}

impl DataRow {
    #[inline]
    fn parse(mut body: Bytes) -> Result<DataRow, ProtocolError> {
        let Some(&[hi, lo]) = body.first_chunk::<2>() else {
            return Err(ProtocolError::new(
                "DataRow: message ends before the field count",
            ));
        };
        // Unsigned, as PostgreSQL writes it (pq_sendint16); at most 1664 in practice.
        let len = u16::from_be_bytes([hi, lo]);
        // The count was read above, so these two bytes are there.
        body.advance(2);
        let row = DataRow { len, buf: body };
        // One pass over the lengths: a row that parsed never fails in `ranges`.
        let mut ranges = row.ranges();
        for range in &mut ranges {
            range?;
        }
        if ranges.pos != row.buf.len() {
            return Err(ProtocolError::new(format!(
                "DataRow: {} bytes left after the last of {} fields",
                row.buf.len() - ranges.pos.min(row.buf.len()),
                row.len
            )));
        }
        Ok(row)
    }

    /// A row whose fields were already checked against `buf` (a binary COPY tuple).
    #[inline]
    pub(crate) fn from_checked(len: u16, buf: Bytes) -> DataRow {
        DataRow { len, buf }
    }

    /// The number of fields.
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the row has no fields.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The body after the 2-byte field count; [`DataRow::ranges`] index into it.
    #[inline]
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    /// The body after the field count, kept (no copy) by whoever holds the row.
    #[inline]
    pub fn into_buffer(self) -> Bytes {
        self.buf
    }

    /// Each field's byte range in [`DataRow::buffer`], `None` for NULL.
    #[inline]
    pub fn ranges(&self) -> DataRowRanges<'_> {
        DataRowRanges {
            buf: &self.buf,
            pos: 0,
            remaining: self.len,
        }
    }
}

/// Iterator over the fields of a [`DataRow`].
#[derive(Debug, Clone)]
pub struct DataRowRanges<'a> {
    buf: &'a [u8],
    pos: usize,
    remaining: u16,
}

impl Iterator for DataRowRanges<'_> {
    type Item = Result<Option<Range<usize>>, ProtocolError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let start = self.pos + 4;
        let Some(&[a, b, c, d]) = self.buf.get(self.pos..).and_then(<[u8]>::first_chunk::<4>)
        else {
            return Some(Err(self.fail("message ends before a field length")));
        };
        let len = i32::from_be_bytes([a, b, c, d]);
        if len < 0 {
            if len == -1 {
                self.pos = start;
                return Some(Ok(None));
            }
            return Some(Err(self.fail(format_args!("invalid field length {len}"))));
        }
        // `start` <= buf.len() and `len` < 2^31, so this cannot overflow.
        let end = start + len as usize;
        if end > self.buf.len() {
            return Some(Err(self.fail(format_args!(
                "field of {len} bytes runs past the end of the message"
            ))));
        }
        self.pos = end;
        Some(Ok(Some(start..end)))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.remaining);
        (n, Some(n))
    }
}

impl DataRowRanges<'_> {
    #[cold]
    fn fail(&mut self, detail: impl fmt::Display) -> ProtocolError {
        self.remaining = 0;
        ProtocolError::new(format!("DataRow: {detail}"))
    }
}

/// The body of ErrorResponse and NoticeResponse: (code, value) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    /// The fields and the terminating zero byte; validated at parse.
    buf: Bytes,
}

impl ErrorFields {
    fn parse(body: Bytes, what: &'static str) -> Result<ErrorFields, ProtocolError> {
        let mut r = Reader::new(&body, what);
        while r.u8()? != 0 {
            // Not checked as UTF-8: a SQL_ASCII database sends its bytes unconverted, and the
            // error must still reach the caller (its values are decoded lossily).
            r.cstr_bytes()?;
        }
        r.finish()?;
        Ok(ErrorFields { buf: body })
    }

    /// The fields in the order the server sent them.
    pub fn iter(&self) -> ErrorFieldsIter<'_> {
        ErrorFieldsIter {
            reader: Reader::new(&self.buf, "ErrorResponse"),
            done: false,
        }
    }
}

/// One field of an ErrorResponse or NoticeResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorField<'a> {
    /// The field type: `S` severity, `C` SQLSTATE, `M` message, `D` detail, `H` hint, ...
    pub code: u8,
    /// The field's value: borrowed from the message when it is UTF-8, otherwise decoded
    /// lossily (each invalid sequence becomes U+FFFD), as a SQL_ASCII database may send
    /// bytes in any encoding.
    pub value: Cow<'a, str>,
}

/// Iterator over [`ErrorFields`].
#[derive(Debug, Clone)]
pub struct ErrorFieldsIter<'a> {
    reader: Reader<'a>,
    done: bool,
}

impl<'a> Iterator for ErrorFieldsIter<'a> {
    type Item = Result<ErrorField<'a>, ProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let field = match self.reader.u8() {
            Ok(0) => {
                self.done = true;
                return None;
            }
            Ok(code) => self
                .reader
                .cstr_lossy()
                .map(|value| ErrorField { code, value }),
            Err(e) => Err(e),
        };
        self.done = field.is_err();
        Some(field)
    }
}

/// The body of NotificationResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    process_id: i32,
    channel: Bytes,
    payload: Bytes,
}

impl Notification {
    fn parse(body: Bytes) -> Result<Notification, ProtocolError> {
        let mut r = Reader::new(&body, "NotificationResponse");
        let process_id = r.i32()?;
        let channel = r.cstr_range()?;
        let payload = r.cstr_range()?;
        r.finish()?;
        Ok(Notification {
            process_id,
            channel: body.slice(channel),
            payload: body.slice(payload),
        })
    }

    /// The process id of the backend that sent the notification.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }

    /// The channel the notification was sent on.
    pub fn channel(&self) -> &str {
        str_or_empty(&self.channel)
    }

    /// The payload (empty when NOTIFY had none).
    pub fn payload(&self) -> &str {
        str_or_empty(&self.payload)
    }
}

/// The body of ParameterDescription: one type OID per statement parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterDescription {
    /// The Int32 OIDs after the count; validated at parse.
    buf: Bytes,
}

impl ParameterDescription {
    fn parse(body: Bytes) -> Result<ParameterDescription, ProtocolError> {
        let mut r = Reader::new(&body, "ParameterDescription");
        // Unsigned: a statement may have up to 65535 parameters.
        let count = usize::from(r.count()?);
        if r.remaining() != count * 4 {
            return Err(r.error(format_args!(
                "{count} parameter types need {} bytes, {} present",
                count * 4,
                r.remaining()
            )));
        }
        Ok(ParameterDescription {
            buf: body.slice(2..),
        })
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.buf.len() / 4
    }

    /// Whether the statement has no parameters.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The parameters' type OIDs.
    pub fn types(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.buf
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// The body of ParameterStatus: a run-time parameter's name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterStatus {
    name: Bytes,
    value: Bytes,
}

impl ParameterStatus {
    fn parse(body: Bytes) -> Result<ParameterStatus, ProtocolError> {
        let mut r = Reader::new(&body, "ParameterStatus");
        let name = r.cstr_bytes()?;
        let value = r.cstr_bytes()?;
        r.finish()?;
        Ok(ParameterStatus {
            name: utf8_or_lossy(&body, name),
            value: utf8_or_lossy(&body, value),
        })
    }

    /// The parameter's name, such as `server_version`.
    pub fn name(&self) -> &str {
        str_or_empty(&self.name)
    }

    /// The parameter's value.
    pub fn value(&self) -> &str {
        str_or_empty(&self.value)
    }
}

/// The body of RowDescription: one description per result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDescription {
    len: u16,
    /// The field descriptions after the count; validated at parse.
    buf: Bytes,
}

/// The bytes after a field name: table OID, column id, type OID, size, modifier, format.
const FIELD_FIXED_LEN: usize = 4 + 2 + 4 + 2 + 4 + 2;

impl RowDescription {
    fn parse(body: Bytes) -> Result<RowDescription, ProtocolError> {
        let mut r = Reader::new(&body, "RowDescription");
        // Unsigned, as PostgreSQL writes it; at most 1664 (MaxTupleAttributeNumber) in practice.
        let len = r.count()?;
        // Each field takes at least its name's NUL and the fixed part.
        if usize::from(len) * (1 + FIELD_FIXED_LEN) > r.remaining() {
            return Err(r.error(format_args!(
                "{len} fields do not fit in {} bytes",
                r.remaining()
            )));
        }
        let description = RowDescription {
            len,
            buf: body.slice(2..),
        };
        let mut fields = description.fields();
        for field in &mut fields {
            field?;
        }
        fields.reader.finish()?;
        Ok(description)
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The column descriptions, in order.
    pub fn fields(&self) -> FieldDescriptions<'_> {
        FieldDescriptions {
            reader: Reader::new(&self.buf, "RowDescription"),
            remaining: self.len,
        }
    }
}

/// One column of a [`RowDescription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDescription<'a> {
    /// The column name: borrowed from the message when it is UTF-8, otherwise decoded lossily
    /// (each invalid sequence becomes U+FFFD), as a SQL_ASCII database may send any bytes.
    pub name: Cow<'a, str>,
    /// The OID of the table the column comes from, or 0.
    pub table_oid: u32,
    /// The column's attribute number in that table, or 0.
    pub column_id: i16,
    /// The OID of the column's type.
    pub type_oid: u32,
    /// `pg_type.typlen`: the type's size, negative for variable-length types.
    pub type_size: i16,
    /// The type modifier (`atttypmod`), -1 when there is none.
    pub type_modifier: i32,
    /// The format code: 0 text, 1 binary (0 for a statement Describe).
    pub format: i16,
}

/// Iterator over the fields of a [`RowDescription`].
#[derive(Debug, Clone)]
pub struct FieldDescriptions<'a> {
    reader: Reader<'a>,
    remaining: u16,
}

impl<'a> FieldDescriptions<'a> {
    fn read(&mut self) -> Result<FieldDescription<'a>, ProtocolError> {
        let r = &mut self.reader;
        Ok(FieldDescription {
            name: r.cstr_lossy()?,
            table_oid: r.u32()?,
            column_id: r.i16()?,
            type_oid: r.u32()?,
            type_size: r.i16()?,
            type_modifier: r.i32()?,
            format: r.i16()?,
        })
    }
}

impl<'a> Iterator for FieldDescriptions<'a> {
    type Item = Result<FieldDescription<'a>, ProtocolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let field = self.read();
        if field.is_err() {
            self.remaining = 0;
        }
        Some(field)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.remaining);
        (n, Some(n))
    }
}

/// `part` of `body` shared when it is UTF-8, else a lossy copy (U+FFFD for each bad sequence):
/// a server whose client_encoding is SQL_ASCII reports values as stored (a role name in
/// `session_authorization`), and such a report must not end the session, as a lossy error
/// message does not.
fn utf8_or_lossy(body: &Bytes, part: &[u8]) -> Bytes {
    match String::from_utf8_lossy(part) {
        Cow::Borrowed(_) => body.slice_ref(part),
        Cow::Owned(lossy) => Bytes::from(lossy),
    }
}

/// The text of bytes that were validated (or made) UTF-8 at parse time.
fn str_or_empty(bytes: &[u8]) -> &str {
    str::from_utf8(bytes).unwrap_or_default()
}

/// The unsigned Int16 count at the start of `buf` (0 if absent; only used on validated bodies).
fn read_count(buf: &[u8]) -> usize {
    match buf.first_chunk::<2>() {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        None => 0,
    }
}

/// A bounds-checked cursor over a message body; every error names the message.
#[derive(Debug, Clone)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    #[cold]
    fn error(&self, detail: impl fmt::Display) -> ProtocolError {
        ProtocolError::new(format!("{}: {detail}", self.what))
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        match self.rest().first_chunk::<N>() {
            Some(bytes) => {
                self.pos += N;
                Ok(*bytes)
            }
            None => Err(self.error(format_args!(
                "message ends early: {N} bytes needed at offset {}, {} left",
                self.pos,
                self.remaining()
            ))),
        }
    }

    fn u8(&mut self) -> Result<u8, ProtocolError> {
        self.array::<1>().map(|[b]| b)
    }

    fn i16(&mut self) -> Result<i16, ProtocolError> {
        self.array().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, ProtocolError> {
        self.array().map(i32::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, ProtocolError> {
        self.array().map(u32::from_be_bytes)
    }

    /// A count of parameters, columns or formats. The protocol calls it Int16, but PostgreSQL
    /// writes it with `pq_sendint16` and libpq reads it unsigned (`pqGetInt`), so 65535
    /// parameters arrive as 0xffff. Callers check it against the bytes present.
    fn count(&mut self) -> Result<u16, ProtocolError> {
        self.array().map(u16::from_be_bytes)
    }

    /// The bytes of a NUL-terminated string (without the NUL), in any encoding; moves past
    /// the NUL.
    fn cstr_bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let rest = self.rest();
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return Err(self.error(format_args!(
                "string at offset {} has no NUL terminator",
                self.pos
            )));
        };
        self.pos += nul + 1;
        Ok(&rest[..nul])
    }

    /// A NUL-terminated string, borrowed when it is UTF-8 and decoded lossily otherwise;
    /// moves past the NUL.
    fn cstr_lossy(&mut self) -> Result<Cow<'a, str>, ProtocolError> {
        self.cstr_bytes().map(String::from_utf8_lossy)
    }

    /// The range of a NUL-terminated UTF-8 string (without the NUL); moves past the NUL.
    fn cstr_range(&mut self) -> Result<Range<usize>, ProtocolError> {
        let rest = self.rest();
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return Err(self.error(format_args!(
                "string at offset {} has no NUL terminator",
                self.pos
            )));
        };
        if let Err(e) = str::from_utf8(&rest[..nul]) {
            return Err(self.error(format_args!(
                "string at offset {} is not valid UTF-8: {e}",
                self.pos
            )));
        }
        let range = self.pos..self.pos + nul;
        self.pos = range.end + 1;
        Ok(range)
    }

    /// A NUL-terminated UTF-8 string; moves past the NUL.
    fn cstr(&mut self) -> Result<&'a str, ProtocolError> {
        let buf = self.buf;
        let range = self.cstr_range()?;
        Ok(buf.get(range).map(str_or_empty).unwrap_or_default())
    }

    /// Errors if any bytes are left.
    fn finish(&self) -> Result<(), ProtocolError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(format_args!(
                "{n} unexpected bytes at the end of the message"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::protocol::DEFAULT_MAX_MESSAGE_SIZE;

    /// A message body, built by hand.
    #[derive(Default)]
    struct Body(Vec<u8>);

    impl Body {
        fn new() -> Body {
            Body::default()
        }
        fn u8(mut self, v: u8) -> Body {
            self.0.push(v);
            self
        }
        fn i16(mut self, v: i16) -> Body {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i32(mut self, v: i32) -> Body {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn u32(mut self, v: u32) -> Body {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn bytes(mut self, v: &[u8]) -> Body {
            self.0.extend_from_slice(v);
            self
        }
        fn cstr(self, v: &str) -> Body {
            self.bytes(v.as_bytes()).u8(0)
        }
        /// A DataRow field: length then bytes, or -1 for NULL.
        fn field(self, v: Option<&[u8]>) -> Body {
            match v {
                Some(v) => self.i32(v.len() as i32).bytes(v),
                None => self.i32(-1),
            }
        }
    }

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn parse_one(tag: u8, body: &[u8]) -> Result<Message, ProtocolError> {
        let mut buf = BytesMut::from(&frame(tag, body)[..]);
        let message = parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE)?;
        assert!(buf.is_empty(), "the whole message is consumed");
        Ok(message.expect("a whole message is in the buffer"))
    }

    fn ok(tag: u8, body: Body) -> Message {
        parse_one(tag, &body.0).expect("valid message")
    }

    fn err(tag: u8, body: Body) -> ProtocolError {
        match parse_one(tag, &body.0) {
            Ok(m) => panic!("expected an error, parsed {m:?}"),
            Err(e) => e,
        }
    }

    // ---- Authentication ----

    #[test]
    fn authentication_simple_requests() {
        let cases = [
            (0, Message::AuthenticationOk),
            (2, Message::AuthenticationKerberosV5),
            (3, Message::AuthenticationCleartextPassword),
            (6, Message::AuthenticationScmCredential),
            (7, Message::AuthenticationGss),
            (9, Message::AuthenticationSspi),
        ];
        for (code, expected) in cases {
            assert_eq!(ok(b'R', Body::new().i32(code)), expected);
            // Trailing bytes are not part of these messages.
            err(b'R', Body::new().i32(code).u8(0));
        }
    }

    #[test]
    fn authentication_md5_password() {
        let m = ok(b'R', Body::new().i32(5).bytes(&[1, 2, 3, 4]));
        assert_eq!(m, Message::AuthenticationMd5Password { salt: [1, 2, 3, 4] });
        err(b'R', Body::new().i32(5).bytes(&[1, 2, 3]));
        err(b'R', Body::new().i32(5).bytes(&[1, 2, 3, 4, 5]));
    }

    #[test]
    fn authentication_data_carrying_requests() {
        let data = b"r=abc,s=c2FsdA==,i=4096";
        match ok(b'R', Body::new().i32(8).bytes(data)) {
            Message::AuthenticationGssContinue(d) => assert_eq!(&d[..], data),
            m => panic!("{m:?}"),
        }
        match ok(b'R', Body::new().i32(11).bytes(data)) {
            Message::AuthenticationSaslContinue(d) => assert_eq!(&d[..], data),
            m => panic!("{m:?}"),
        }
        match ok(b'R', Body::new().i32(12).bytes(b"v=xyz")) {
            Message::AuthenticationSaslFinal(d) => assert_eq!(&d[..], b"v=xyz"),
            m => panic!("{m:?}"),
        }
        match ok(b'R', Body::new().i32(12)) {
            Message::AuthenticationSaslFinal(d) => assert!(d.is_empty()),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn authentication_sasl_lists_mechanisms() {
        let body = Body::new()
            .i32(10)
            .cstr("SCRAM-SHA-256-PLUS")
            .cstr("SCRAM-SHA-256")
            .u8(0);
        match ok(b'R', body) {
            Message::AuthenticationSasl(m) => assert_eq!(
                m.iter().collect::<Vec<_>>(),
                ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
            ),
            m => panic!("{m:?}"),
        }
        match ok(b'R', Body::new().i32(10).u8(0)) {
            Message::AuthenticationSasl(m) => assert_eq!(m.iter().count(), 0),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn authentication_malformed() {
        err(b'R', Body::new());
        err(b'R', Body::new().bytes(&[0, 0]));
        let e = err(b'R', Body::new().i32(4));
        assert!(
            e.message().contains("unknown authentication request 4"),
            "{e}"
        );
        err(b'R', Body::new().i32(-1));
        // SASL: missing final empty name, missing NUL, bad UTF-8, bytes after the list.
        err(b'R', Body::new().i32(10).cstr("SCRAM-SHA-256"));
        err(b'R', Body::new().i32(10).bytes(b"SCRAM"));
        err(b'R', Body::new().i32(10).bytes(&[0xff, 0xfe, 0]).u8(0));
        err(b'R', Body::new().i32(10).cstr("SCRAM-SHA-256").u8(0).u8(7));
        err(b'R', Body::new().i32(10));
    }

    // ---- BackendKeyData ----

    #[test]
    fn backend_key_data() {
        assert_eq!(
            ok(b'K', Body::new().i32(4242).i32(-7)),
            Message::BackendKeyData {
                process_id: 4242,
                secret_key: -7
            }
        );
        err(b'K', Body::new().i32(4242));
        err(b'K', Body::new().i32(4242).i32(1).u8(0));
    }

    // ---- messages without a body ----

    #[test]
    fn empty_messages() {
        let cases = [
            (b'2', Message::BindComplete),
            (b'3', Message::CloseComplete),
            (b'1', Message::ParseComplete),
            (b'n', Message::NoData),
            (b's', Message::PortalSuspended),
            (b'I', Message::EmptyQueryResponse),
            (b'c', Message::CopyDone),
        ];
        for (tag, expected) in cases {
            assert_eq!(ok(tag, Body::new()), expected);
            let e = err(tag, Body::new().u8(0));
            assert!(e.message().contains("unexpected bytes"), "{e}");
        }
    }

    // ---- CommandComplete ----

    #[test]
    fn command_complete_tag_and_rows() {
        let cases: [(&str, Option<u64>); 14] = [
            ("INSERT 0 3", Some(3)),
            ("UPDATE 12", Some(12)),
            ("DELETE 0", Some(0)),
            ("SELECT 5", Some(5)),
            ("MOVE 4", Some(4)),
            ("FETCH 1", Some(1)),
            ("COPY 100000", Some(100_000)),
            ("MERGE 2", Some(2)),
            ("SELECT 18446744073709551615", Some(u64::MAX)),
            ("CREATE TABLE", None),
            ("BEGIN", None),
            ("SELECT", None),
            ("SELECT x", None),
            ("", None),
        ];
        for (tag, rows) in cases {
            match ok(b'C', Body::new().cstr(tag)) {
                Message::CommandComplete(c) => {
                    assert_eq!(c.tag(), tag);
                    assert_eq!(c.rows(), rows, "{tag}");
                }
                m => panic!("{m:?}"),
            }
        }
    }

    #[test]
    fn command_complete_malformed() {
        err(b'C', Body::new());
        err(b'C', Body::new().bytes(b"SELECT 1"));
        err(b'C', Body::new().cstr("SELECT 1").u8(b'x'));
        err(b'C', Body::new().bytes(&[b'S', 0xc3, 0x28, 0]));
    }

    // ---- Copy*Response, CopyData ----

    #[test]
    fn copy_responses() {
        let body = || Body::new().u8(1).i16(3).i16(1).i16(1).i16(0);
        for tag in [b'G', b'H', b'W'] {
            let r = match ok(tag, body()) {
                Message::CopyInResponse(r) if tag == b'G' => r,
                Message::CopyOutResponse(r) if tag == b'H' => r,
                Message::CopyBothResponse(r) if tag == b'W' => r,
                m => panic!("{m:?}"),
            };
            assert_eq!(r.format(), 1);
            assert_eq!(r.len(), 3);
            assert!(!r.is_empty());
            assert_eq!(r.column_formats().collect::<Vec<_>>(), [1, 1, 0]);
        }
        match ok(b'H', Body::new().u8(0).i16(0)) {
            Message::CopyOutResponse(r) => {
                assert_eq!(r.format(), 0);
                assert!(r.is_empty());
                assert_eq!(r.column_formats().count(), 0);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn copy_response_malformed() {
        err(b'G', Body::new());
        err(b'G', Body::new().u8(0));
        err(b'G', Body::new().u8(2).i16(0));
        err(b'G', Body::new().u8(0).i16(-1));
        err(b'G', Body::new().u8(0).i16(1000).i16(0));
        err(b'G', Body::new().u8(0).i16(1).i16(0).u8(0));
        err(b'G', Body::new().u8(0).i16(2).i16(0));
    }

    #[test]
    fn copy_data() {
        match ok(b'd', Body::new().bytes(b"1\tone\n")) {
            Message::CopyData(d) => assert_eq!(&d[..], b"1\tone\n"),
            m => panic!("{m:?}"),
        }
        match ok(b'd', Body::new()) {
            Message::CopyData(d) => assert!(d.is_empty()),
            m => panic!("{m:?}"),
        }
    }

    // ---- DataRow ----

    fn data_row(body: Body) -> DataRow {
        match ok(b'D', body) {
            Message::DataRow(row) => row,
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn data_row_fields() {
        let row = data_row(
            Body::new()
                .i16(4)
                .field(Some(b"abc"))
                .field(None)
                .field(Some(b""))
                .field(Some(&[0, 0, 0, 42])),
        );
        assert_eq!(row.len(), 4);
        assert!(!row.is_empty());
        let ranges: Vec<_> = row.ranges().collect::<Result<_, _>>().unwrap();
        assert_eq!(ranges, [Some(4..7), None, Some(15..15), Some(19..23)]);
        assert_eq!(row.ranges().size_hint(), (4, Some(4)));
        let buf = row.buffer();
        assert_eq!(buf.len(), 23);
        assert_eq!(&buf[4..7], b"abc");
        assert_eq!(&buf[19..23], &[0, 0, 0, 42]);
    }

    #[test]
    fn data_row_without_fields() {
        let row = data_row(Body::new().i16(0));
        assert_eq!(row.len(), 0);
        assert!(row.is_empty());
        assert!(row.buffer().is_empty());
        assert_eq!(row.ranges().count(), 0);
    }

    #[test]
    fn data_row_body_shares_the_read_buffer() {
        let mut buf =
            BytesMut::from(&frame(b'D', &Body::new().i16(1).field(Some(b"zero-copy")).0)[..]);
        let start = buf.as_ptr() as usize;
        let Some(Message::DataRow(row)) = parse_message(&mut buf, 1024).unwrap() else {
            panic!("expected a DataRow");
        };
        // Header (5) and field count (2) precede the buffer in the same allocation.
        assert_eq!(row.buffer().as_ptr() as usize, start + 7);
    }

    #[test]
    fn data_row_malformed() {
        // No field count; a count of 1000 in 10 bytes; a count of 65535 with no fields.
        err(b'D', Body::new());
        err(b'D', Body::new().u8(0));
        let e = err(b'D', Body::new().i16(1000).bytes(&[0; 10]));
        assert!(e.message().starts_with("DataRow"), "{e}");
        err(b'D', Body::new().i16(-1));
        // Field length -2, a length past the end, a cut length, a missing field.
        let e = err(b'D', Body::new().i16(1).i32(-2));
        assert!(e.message().contains("-2"), "{e}");
        err(b'D', Body::new().i16(1).i32(i32::MIN));
        err(b'D', Body::new().i16(1).i32(5).bytes(b"abcd"));
        err(b'D', Body::new().i16(1).i32(i32::MAX).bytes(b"abcd"));
        err(b'D', Body::new().i16(1).bytes(&[0, 0]));
        err(b'D', Body::new().i16(2).field(Some(b"x")));
        // Bytes after the last field.
        let e = err(b'D', Body::new().i16(1).field(Some(b"x")).u8(0));
        assert!(e.message().contains("left after the last"), "{e}");
    }

    // ---- ErrorResponse / NoticeResponse ----

    #[test]
    fn error_and_notice_fields() {
        let body = || {
            Body::new()
                .u8(b'S')
                .cstr("ERROR")
                .u8(b'C')
                .cstr("42P01")
                .u8(b'M')
                .cstr("relation \"nope\" does not exist")
                .u8(b'P')
                .cstr("15")
                .u8(0)
        };
        for tag in [b'E', b'N'] {
            let fields = match ok(tag, body()) {
                Message::ErrorResponse(f) if tag == b'E' => f,
                Message::NoticeResponse(f) if tag == b'N' => f,
                m => panic!("{m:?}"),
            };
            let fields: Vec<_> = fields.iter().collect::<Result<_, _>>().unwrap();
            assert_eq!(
                fields,
                [
                    ErrorField {
                        code: b'S',
                        value: "ERROR".into()
                    },
                    ErrorField {
                        code: b'C',
                        value: "42P01".into()
                    },
                    ErrorField {
                        code: b'M',
                        value: "relation \"nope\" does not exist".into()
                    },
                    ErrorField {
                        code: b'P',
                        value: "15".into()
                    },
                ]
            );
        }
        match ok(b'E', Body::new().u8(0)) {
            Message::ErrorResponse(f) => assert_eq!(f.iter().count(), 0),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn error_response_malformed() {
        // No terminator at all, a field without its terminator, a value without NUL.
        err(b'E', Body::new());
        err(b'E', Body::new().u8(b'S').cstr("ERROR"));
        err(b'E', Body::new().u8(b'S').bytes(b"ERROR"));
        err(b'N', Body::new().u8(b'S'));
        // Bytes after the terminator (invalid UTF-8 is decoded lossily, not refused).
        err(b'N', Body::new().u8(b'S').cstr("NOTICE").u8(0).u8(0));
    }

    #[test]
    fn error_and_notice_fields_decode_non_utf8_lossily() {
        // A SQL_ASCII database sends its bytes unconverted: 0xe9 is "é" in LATIN1.
        let body = || {
            Body::new()
                .u8(b'S')
                .cstr("ERROR")
                .u8(b'C')
                .cstr("P0001")
                .u8(b'M')
                .bytes(b"caf\xe9 \xff\xfe!")
                .u8(0)
                .u8(b'D')
                .cstr("fine")
                .u8(0)
        };
        for tag in [b'E', b'N'] {
            let fields = match ok(tag, body()) {
                Message::ErrorResponse(f) | Message::NoticeResponse(f) => f,
                m => panic!("{m:?}"),
            };
            let fields: Vec<_> = fields.iter().collect::<Result<_, _>>().unwrap();
            assert_eq!(fields.len(), 4);
            assert_eq!(fields[1].value, "P0001");
            assert_eq!(fields[2].value, "caf\u{fffd} \u{fffd}\u{fffd}!");
            assert!(matches!(fields[2].value, Cow::Owned(_)));
            // Valid UTF-8 is still borrowed from the message, not copied.
            assert!(matches!(fields[3].value, Cow::Borrowed("fine")));
        }
    }

    // ---- NotificationResponse ----

    #[test]
    fn notification() {
        match ok(b'A', Body::new().i32(99).cstr("jobs").cstr("{\"id\":1}")) {
            Message::NotificationResponse(n) => {
                assert_eq!(n.process_id(), 99);
                assert_eq!(n.channel(), "jobs");
                assert_eq!(n.payload(), "{\"id\":1}");
            }
            m => panic!("{m:?}"),
        }
        match ok(b'A', Body::new().i32(1).cstr("ch").cstr("")) {
            Message::NotificationResponse(n) => assert_eq!(n.payload(), ""),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn notification_malformed() {
        err(b'A', Body::new().i32(1));
        err(b'A', Body::new().i32(1).cstr("ch"));
        err(b'A', Body::new().i32(1).cstr("ch").bytes(b"payload"));
        err(b'A', Body::new().i32(1).cstr("ch").cstr("p").u8(1));
        err(b'A', Body::new().i32(1).bytes(&[0xc0, 0]).cstr("p"));
        err(b'A', Body::new().bytes(&[0, 0]));
    }

    // ---- ParameterDescription ----

    #[test]
    fn parameter_description() {
        match ok(b't', Body::new().i16(3).u32(23).u32(25).u32(u32::MAX)) {
            Message::ParameterDescription(p) => {
                assert_eq!(p.len(), 3);
                assert!(!p.is_empty());
                assert_eq!(p.types().collect::<Vec<_>>(), [23, 25, u32::MAX]);
            }
            m => panic!("{m:?}"),
        }
        match ok(b't', Body::new().i16(0)) {
            Message::ParameterDescription(p) => {
                assert!(p.is_empty());
                assert_eq!(p.types().count(), 0);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn parameter_description_malformed() {
        err(b't', Body::new());
        err(b't', Body::new().i16(-1));
        err(b't', Body::new().i16(1000).u32(23));
        err(b't', Body::new().i16(1).u32(23).u8(0));
        err(b't', Body::new().i16(1).bytes(&[0, 0, 0]));
    }

    // ---- ParameterStatus ----

    #[test]
    fn parameter_status() {
        match ok(b'S', Body::new().cstr("server_version").cstr("17.2")) {
            Message::ParameterStatus(p) => {
                assert_eq!(p.name(), "server_version");
                assert_eq!(p.value(), "17.2");
            }
            m => panic!("{m:?}"),
        }
        match ok(b'S', Body::new().cstr("application_name").cstr("")) {
            Message::ParameterStatus(p) => assert_eq!(p.value(), ""),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn parameter_status_malformed() {
        err(b'S', Body::new());
        err(b'S', Body::new().cstr("TimeZone"));
        err(b'S', Body::new().cstr("TimeZone").bytes(b"UTC"));
        err(b'S', Body::new().cstr("TimeZone").cstr("UTC").u8(0));
    }

    #[test]
    fn parameter_status_not_utf8_is_lossy() {
        let body = Body::new()
            .cstr("session_authorization")
            .bytes(&[b'c', b'a', b'f', 0xe9, 0]);
        match ok(b'S', body) {
            Message::ParameterStatus(p) => {
                assert_eq!(p.name(), "session_authorization");
                assert_eq!(p.value(), "caf\u{fffd}");
            }
            m => panic!("{m:?}"),
        }
    }

    // ---- ReadyForQuery ----

    #[test]
    fn ready_for_query() {
        let cases = [
            (b'I', TransactionStatus::Idle),
            (b'T', TransactionStatus::InTransaction),
            (b'E', TransactionStatus::Failed),
        ];
        for (status, expected) in cases {
            assert_eq!(
                ok(b'Z', Body::new().u8(status)),
                Message::ReadyForQuery(expected)
            );
        }
    }

    #[test]
    fn ready_for_query_malformed() {
        let e = err(b'Z', Body::new().u8(b'X'));
        assert!(e.message().contains("transaction status"), "{e}");
        err(b'Z', Body::new().u8(0));
        err(b'Z', Body::new());
        err(b'Z', Body::new().u8(b'I').u8(b'I'));
    }

    // ---- RowDescription ----

    fn field_bytes(body: Body, name: &str, type_oid: u32, format: i16) -> Body {
        body.cstr(name)
            .u32(16_384)
            .i16(2)
            .u32(type_oid)
            .i16(-1)
            .i32(-1)
            .i16(format)
    }

    #[test]
    fn row_description() {
        let body = field_bytes(Body::new().i16(2), "id", 23, 1);
        let body = field_bytes(body, "naïve", 25, 0);
        let d = match ok(b'T', body) {
            Message::RowDescription(d) => d,
            m => panic!("{m:?}"),
        };
        assert_eq!(d.len(), 2);
        assert!(!d.is_empty());
        assert_eq!(d.fields().size_hint(), (2, Some(2)));
        let fields: Vec<_> = d.fields().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            fields[0],
            FieldDescription {
                name: "id".into(),
                table_oid: 16_384,
                column_id: 2,
                type_oid: 23,
                type_size: -1,
                type_modifier: -1,
                format: 1,
            }
        );
        assert_eq!(fields[1].name, "naïve");
        assert_eq!(fields[1].type_oid, 25);
        assert_eq!(fields[1].format, 0);

        match ok(b'T', Body::new().i16(0)) {
            Message::RowDescription(d) => {
                assert!(d.is_empty());
                assert_eq!(d.fields().count(), 0);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn row_description_malformed() {
        err(b'T', Body::new());
        err(b'T', Body::new().i16(-3));
        // 1000 fields claimed in one field's worth of bytes.
        err(b'T', field_bytes(Body::new().i16(1000), "a", 23, 0));
        // Two claimed, one present.
        err(b'T', field_bytes(Body::new().i16(2), "a", 23, 0));
        // Name without NUL, fixed part cut short, trailing bytes.
        err(b'T', Body::new().i16(1).bytes(&[b'a'; 30]));
        err(b'T', Body::new().i16(1).cstr("a").bytes(&[0; 17]));
        err(b'T', field_bytes(Body::new().i16(1), "a", 23, 0).u8(0));
    }

    #[test]
    fn row_description_decodes_a_non_utf8_name_lossily() {
        let body = field_bytes(Body::new().i16(2).bytes(b"caf\xe9"), "", 25, 0);
        let body = field_bytes(body, "ok", 23, 1);
        let d = match ok(b'T', body) {
            Message::RowDescription(d) => d,
            m => panic!("{m:?}"),
        };
        let fields: Vec<_> = d.fields().collect::<Result<_, _>>().unwrap();
        assert_eq!(fields[0].name, "caf\u{fffd}");
        assert_eq!(fields[0].type_oid, 25);
        assert!(matches!(fields[1].name, Cow::Borrowed("ok")));
        assert_eq!(fields[1].type_oid, 23);
    }

    #[test]
    fn counts_are_unsigned_int16() {
        // PostgreSQL writes every count with pq_sendint16 and libpq reads it unsigned:
        // a statement may have up to 65535 parameters.
        for count in [32_768u16, 40_000, 65_535] {
            let mut body = Body::new().bytes(&count.to_be_bytes());
            for i in 0..u32::from(count) {
                body = body.u32(i);
            }
            match ok(b't', body) {
                Message::ParameterDescription(p) => {
                    assert_eq!(p.len(), usize::from(count));
                    assert_eq!(p.types().len(), usize::from(count));
                    assert_eq!(p.types().last(), Some(u32::from(count) - 1));
                }
                m => panic!("{m:?}"),
            }
        }
        // DataRow and RowDescription never carry more than 1664 columns, but an unsigned
        // count over 32767 is read as what it says, and then refused when the bytes are not there.
        let mut body = Body::new().bytes(&40_000u16.to_be_bytes());
        for _ in 0..40_000 {
            body = body.field(None);
        }
        match ok(b'D', body) {
            Message::DataRow(row) => {
                assert_eq!(row.len(), 40_000);
                assert_eq!(
                    row.ranges().filter(|r| matches!(r, Ok(None))).count(),
                    40_000
                );
            }
            m => panic!("{m:?}"),
        }
        let mut body = Body::new().bytes(&32_768u16.to_be_bytes());
        for _ in 0..32_768 {
            body = field_bytes(body, "c", 23, 1);
        }
        match ok(b'T', body) {
            Message::RowDescription(d) => assert_eq!(d.fields().count(), 32_768),
            m => panic!("{m:?}"),
        }
        let mut body = Body::new().u8(0).bytes(&32_768u16.to_be_bytes());
        for _ in 0..32_768 {
            body = body.i16(0);
        }
        match ok(b'H', body) {
            Message::CopyOutResponse(r) => {
                assert_eq!(r.len(), 32_768);
                assert_eq!(r.column_formats().len(), 32_768);
            }
            m => panic!("{m:?}"),
        }
        // Impossible lengths are still refused.
        let e = err(b't', Body::new().bytes(&65_535u16.to_be_bytes()).u32(23));
        assert!(
            e.message()
                .contains("65535 parameter types need 262140 bytes, 4 present"),
            "{e}"
        );
        err(
            b'D',
            Body::new().bytes(&65_535u16.to_be_bytes()).field(None),
        );
        err(
            b'T',
            field_bytes(Body::new().bytes(&65_535u16.to_be_bytes()), "a", 23, 0),
        );
        err(
            b'G',
            Body::new().u8(0).bytes(&65_535u16.to_be_bytes()).i16(0),
        );
    }

    // ---- NegotiateProtocolVersion ----

    #[test]
    fn negotiate_protocol_version() {
        let body = Body::new().i32(0).i32(2).cstr("_pq_.a").cstr("_pq_.b");
        assert_eq!(
            ok(b'v', body),
            Message::NegotiateProtocolVersion {
                newest_minor: 0,
                unrecognized: vec!["_pq_.a".to_owned(), "_pq_.b".to_owned()],
            }
        );
        assert_eq!(
            ok(b'v', Body::new().i32(2).i32(0)),
            Message::NegotiateProtocolVersion {
                newest_minor: 2,
                unrecognized: vec![],
            }
        );
    }

    #[test]
    fn negotiate_protocol_version_malformed() {
        err(b'v', Body::new().i32(0));
        err(b'v', Body::new().i32(0).i32(-1));
        err(b'v', Body::new().i32(0).i32(i32::MAX).cstr("_pq_.a"));
        err(b'v', Body::new().i32(0).i32(3).cstr("a").cstr("b"));
        err(b'v', Body::new().i32(0).i32(1).bytes(b"_pq_.a"));
        err(b'v', Body::new().i32(0).i32(1).cstr("a").u8(0));
    }

    // ---- framing ----

    /// One valid message of every kind, back to back.
    fn valid_stream() -> Vec<Vec<u8>> {
        vec![
            frame(b'R', &Body::new().i32(0).0),
            frame(b'R', &Body::new().i32(5).bytes(b"salt").0),
            frame(b'R', &Body::new().i32(10).cstr("SCRAM-SHA-256").u8(0).0),
            frame(b'R', &Body::new().i32(11).bytes(b"r=x").0),
            frame(b'K', &Body::new().i32(1).i32(2).0),
            frame(b'2', &[]),
            frame(b'C', &Body::new().cstr("SELECT 1").0),
            frame(b'G', &Body::new().u8(0).i16(1).i16(0).0),
            frame(b'd', b"data"),
            frame(b'D', &Body::new().i16(2).field(Some(b"ab")).field(None).0),
            frame(b'E', &Body::new().u8(b'M').cstr("boom").u8(0).0),
            frame(b'A', &Body::new().i32(7).cstr("ch").cstr("hi").0),
            frame(b't', &Body::new().i16(1).u32(23).0),
            frame(b'S', &Body::new().cstr("a").cstr("b").0),
            frame(b'Z', b"I"),
            frame(b'T', &field_bytes(Body::new().i16(1), "c", 23, 1).0),
            frame(b'v', &Body::new().i32(0).i32(1).cstr("_pq_.x").0),
        ]
    }

    #[test]
    fn every_prefix_of_a_message_is_incomplete() {
        for message in valid_stream() {
            for cut in 0..message.len() {
                let mut buf = BytesMut::from(&message[..cut]);
                assert_eq!(
                    parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE),
                    Ok(None),
                    "prefix {cut} of {message:?}"
                );
                assert_eq!(&buf[..], &message[..cut], "buffer untouched");
            }
            let mut buf = BytesMut::from(&message[..]);
            assert!(matches!(
                parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE),
                Ok(Some(_))
            ));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn messages_are_split_off_one_at_a_time() {
        let stream = valid_stream();
        let mut buf = BytesMut::new();
        for m in &stream {
            buf.extend_from_slice(m);
        }
        // Half of the next message stays behind.
        let last = &stream[0];
        buf.extend_from_slice(&last[..3]);
        for m in &stream {
            let parsed = parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE)
                .unwrap()
                .unwrap_or_else(|| panic!("{m:?}"));
            let _ = parsed;
        }
        assert_eq!(parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE), Ok(None));
        assert_eq!(&buf[..], &last[..3]);
    }

    #[test]
    fn length_below_four_is_refused() {
        for len in [3, 2, 1, 0, -1, -4, i32::MIN] {
            let mut buf = BytesMut::from(&[b'Z'][..]);
            buf.extend_from_slice(&len.to_be_bytes());
            let e = parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE).unwrap_err();
            assert!(e.message().contains("invalid length"), "{e}");
        }
    }

    #[test]
    fn length_over_the_limit_is_refused_from_the_header() {
        // Only the header has arrived: the error does not wait for the body.
        let mut buf = BytesMut::from(&[b'D', 0, 0, 0, 101][..]);
        let e = parse_message(&mut buf, 100).unwrap_err();
        assert!(e.message().contains("more than the limit of 100"), "{e}");
        let mut buf = BytesMut::from(&[b'D', 0x7f, 0xff, 0xff, 0xff][..]);
        assert!(parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE).is_err());
        // Exactly at the limit is fine.
        let message = frame(b'd', &[7; 96]);
        let mut buf = BytesMut::from(&message[..]);
        assert!(matches!(
            parse_message(&mut buf, 100),
            Ok(Some(Message::CopyData(_)))
        ));
    }

    #[test]
    fn unknown_tag_is_refused_from_the_header() {
        for tag in [b'x', b'V', b'P', 0, 0xff] {
            // The tag byte alone is enough to refuse.
            for header in [&[tag][..], &[tag, 0, 0, 0, 8]] {
                let mut buf = BytesMut::from(header);
                let e = parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE).unwrap_err();
                assert!(e.message().contains("unknown backend message tag"), "{e}");
            }
        }
        // An HTTP server's answer is refused at once.
        let mut buf = BytesMut::from(&b"HTTP/1.1 400 Bad Request"[..]);
        assert!(parse_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE).is_err());
    }

    #[test]
    fn every_body_truncation_is_an_error_or_a_message() {
        // Cut each valid body short and fix the length up: never a panic, and bodies that
        // cannot be shortened (everything but CopyData and the SASL data) are refused.
        for message in valid_stream() {
            let tag = message[0];
            let body = &message[5..];
            for cut in 0..body.len() {
                let result = parse_one(tag, &body[..cut]);
                if let Ok(m) = &result {
                    exercise(m);
                }
                let may_shrink = tag == b'd' || (tag == b'R' && body[3] == 11 && cut >= 4);
                assert!(
                    may_shrink || result.is_err(),
                    "{tag:?} cut to {cut}: {result:?}"
                );
            }
        }
    }

    /// Touches every accessor and asserts the parse-time validation holds.
    fn exercise(message: &Message) {
        match message {
            Message::AuthenticationSasl(m) => {
                for name in m.iter() {
                    assert!(!name.is_empty());
                }
            }
            Message::CommandComplete(c) => {
                let _ = (c.tag(), c.rows());
            }
            Message::CopyInResponse(r)
            | Message::CopyOutResponse(r)
            | Message::CopyBothResponse(r) => {
                assert_eq!(r.column_formats().count(), r.len());
                let _ = r.format();
            }
            Message::DataRow(row) => {
                let mut n = 0;
                for range in row.ranges() {
                    if let Some(range) = range.expect("validated at parse") {
                        assert!(range.end <= row.buffer().len());
                    }
                    n += 1;
                }
                assert_eq!(n, row.len());
            }
            Message::ErrorResponse(f) | Message::NoticeResponse(f) => {
                for field in f.iter() {
                    field.expect("validated at parse");
                }
            }
            Message::NotificationResponse(n) => {
                let _ = (n.process_id(), n.channel(), n.payload());
            }
            Message::ParameterDescription(p) => assert_eq!(p.types().count(), p.len()),
            Message::ParameterStatus(p) => {
                let _ = (p.name(), p.value());
            }
            Message::RowDescription(d) => {
                let mut n = 0;
                for field in d.fields() {
                    field.expect("validated at parse");
                    n += 1;
                }
                assert_eq!(n, d.len());
            }
            _ => {}
        }
    }

    /// A tiny xorshift64* generator: deterministic, no dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn byte(&mut self) -> u8 {
            self.next() as u8
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        const TAGS: &[u8] = b"RK23CdcGHWDIEvnNAtS1sZT";
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut parsed = 0;
        for round in 0..5000 {
            let mut bytes = Vec::new();
            if round % 4 == 0 {
                // Raw noise, header included.
                for _ in 0..rng.below(40) {
                    bytes.push(rng.byte());
                }
            } else {
                // A known tag, a consistent length and a noisy body, often built from small
                // values so counts and lengths land near the real ones.
                let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
                let mut body = Vec::new();
                for _ in 0..rng.below(48) {
                    body.push(match rng.below(4) {
                        0 => 0,
                        1 => rng.below(4) as u8,
                        2 => 0xff,
                        _ => rng.byte(),
                    });
                }
                bytes = frame(tag, &body);
            }
            let mut buf = BytesMut::from(&bytes[..]);
            // Keep parsing until the buffer runs dry or an error stops it.
            while let Ok(Some(m)) = parse_message(&mut buf, 1 << 16) {
                exercise(&m);
                parsed += 1;
            }
        }
        assert!(
            parsed > 100,
            "the generator reaches valid messages ({parsed})"
        );
    }
}
