//! Backend (server to client) messages: [`parse_message`] splits one off a read buffer.
//!
//! Every message is validated when it is parsed, so the accessors of the body types cannot fail
//! on bytes that came through [`parse_message`]. Bodies keep the `Bytes` they arrived in (a
//! slice of the read buffer's allocation), so a [`DataRow`] is never copied field by field.
//!
//! The one-byte answer to an SSLRequest (`S` or `N`) is not a message; the connection reads it
//! before any message arrives.

use std::fmt;
use std::ops::Range;
use std::str;

use bytes::{Bytes, BytesMut};

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
/// header alone decides a length below 4, a length over `max_len` or an unknown tag, so a bad
/// length is refused before anything waits for or allocates its body. The message is consumed
/// from `buf` even when its body is then found malformed (the connection is broken anyway).
#[inline]
pub fn parse_message(buf: &mut BytesMut, max_len: usize) -> Result<Option<Message>, ProtocolError> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let tag = header[0];
    let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    if !is_known_tag(tag) {
        return Err(ProtocolError::new(format!(
            "unknown backend message tag {}",
            show_tag(tag)
        )));
    }
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
            "message {} is {len} bytes long, more than the limit of {max_len}",
            show_tag(tag)
        )));
    }
    // `len` fits in an i32, so adding 1 cannot overflow a usize of 32 bits or more.
    let total = len + 1;
    if buf.len() < total {
        return Ok(None);
    }
    let mut body = buf.split_to(total).freeze();
    let body = body.split_off(HEADER_LEN);
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
        let count = r.count()?;
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
        let count = i16::from_be_bytes([hi, lo]);
        let Ok(len) = u16::try_from(count) else {
            return Err(ProtocolError::new(format!(
                "DataRow: negative field count {count}"
            )));
        };
        let buf = body.split_off(2);
        let row = DataRow { len, buf };
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
            r.cstr()?;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorField<'a> {
    /// The field type: `S` severity, `C` SQLSTATE, `M` message, `D` detail, `H` hint, ...
    pub code: u8,
    /// The field's value.
    pub value: &'a str,
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
            Ok(code) => self.reader.cstr().map(|value| ErrorField { code, value }),
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
        let count = r.count()?;
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
        let name = r.cstr_range()?;
        let value = r.cstr_range()?;
        r.finish()?;
        Ok(ParameterStatus {
            name: body.slice(name),
            value: body.slice(value),
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
        let count = r.count()?;
        // Each field takes at least its name's NUL and the fixed part.
        if count * (1 + FIELD_FIXED_LEN) > r.remaining() {
            return Err(r.error(format_args!(
                "{count} fields do not fit in {} bytes",
                r.remaining()
            )));
        }
        let len = u16::try_from(count).map_err(|_| r.error("field count out of range"))?;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription<'a> {
    /// The column name.
    pub name: &'a str,
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
            name: r.cstr()?,
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

/// The text of a range that was validated as UTF-8 at parse time.
fn str_or_empty(bytes: &[u8]) -> &str {
    str::from_utf8(bytes).unwrap_or_default()
}

/// A non-negative Int16 count at the start of `buf` (0 if absent; only used on validated bodies).
fn read_count(buf: &[u8]) -> usize {
    match buf.first_chunk::<2>() {
        Some(&[hi, lo]) => usize::try_from(i16::from_be_bytes([hi, lo])).unwrap_or(0),
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

    /// An Int16 count that must not be negative.
    fn count(&mut self) -> Result<usize, ProtocolError> {
        let count = self.i16()?;
        usize::try_from(count).map_err(|_| self.error(format_args!("negative count {count}")))
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
