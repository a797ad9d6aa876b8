//! Strings (text, varchar, bpchar, name, citext, unknown, and every type with a text path),
//! bytea, and the string sides of numeric and json / jsonb.
//!
//! | PostgreSQL                         | `&str` | `String`, `Box<str>`, `Cow<str>` |
//! |------------------------------------|--------|----------------------------------|
//! | text, varchar, bpchar, name, citext, unknown, enums, text-path types | both | both |
//! | json                               | both   | both                             |
//! | jsonb (version byte 1 + text)      | both   | both                             |
//! | numeric (exact, any size)          | encode | both                             |

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Decode, Encode, IsNull, Kind, Type, numeric};
use crate::error::BoxError;

/// The jsonb binary format version PostgreSQL writes and reads (`jsonb_send`).
pub(crate) const JSONB_VERSION: u8 = 1;

/// Types whose binary form is their UTF-8 text (enums: the label).
fn is_text_like(ty: &Type) -> bool {
    matches!(ty.oid(), 25 | 1043 | 1042 | 19 | 705)
        || ty.name() == "citext"
        || matches!(ty.kind(), Kind::Enum(_))
}

/// A string can be read without a copy from a text-like type, json, jsonb, or any type that
/// travels in text format (the types without a binary codec).
fn accepts_borrowed(ty: &Type) -> bool {
    is_text_like(ty) || !ty.is_binary() || *ty == Type::JSON || *ty == Type::JSONB
}

/// An owned string (or any string to encode) also reads and writes numeric, as text.
fn accepts_str(ty: &Type) -> bool {
    accepts_borrowed(ty) || *ty == Type::NUMERIC
}

fn put_str(s: &str, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
    if *ty == Type::NUMERIC {
        numeric::encode_str(s, buf)?;
        return Ok(IsNull::No);
    }
    if s.as_bytes().contains(&0) {
        return Err("a string with a NUL byte (\\0) cannot be stored in PostgreSQL text".into());
    }
    if *ty == Type::JSONB {
        buf.put_u8(JSONB_VERSION);
    }
    buf.put_slice(s.as_bytes());
    Ok(IsNull::No)
}

/// The text of a borrowed value: jsonb drops its version byte.
fn borrowed_str<'r>(ty: &Type, raw: &'r [u8]) -> Result<&'r str, BoxError> {
    let raw = if *ty == Type::JSONB {
        jsonb_text(raw)?
    } else {
        raw
    };
    std::str::from_utf8(raw).map_err(|e| {
        format!(
            "the text is not UTF-8 ({e}); a database with encoding SQL_ASCII keeps bytes as \
             written: read them with Record::raw, or select convert_to(column, 'SQL_ASCII'), a \
             bytea"
        )
        .into()
    })
}

/// The JSON text inside a binary jsonb value, after checking its version byte.
pub(crate) fn jsonb_text(raw: &[u8]) -> Result<&[u8], BoxError> {
    match raw.split_first() {
        Some((&JSONB_VERSION, text)) => Ok(text),
        Some((v, _)) => {
            Err(format!("unsupported jsonb binary format version {v} (expected 1)").into())
        }
        None => Err("invalid jsonb value: empty".into()),
    }
}

fn owned_str<'r>(ty: &Type, raw: &'r [u8]) -> Result<Cow<'r, str>, BoxError> {
    if *ty == Type::NUMERIC {
        return Ok(Cow::Owned(numeric::NumericView::parse(raw)?.to_text()));
    }
    borrowed_str(ty, raw).map(Cow::Borrowed)
}

macro_rules! encode_str {
    ($($rust:ty),+) => {$(
        impl Encode for $rust {
            fn accepts(ty: &Type) -> bool {
                accepts_str(ty)
            }

            fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
                put_str(self, ty, buf)
            }
        }
    )+};
}

encode_str!(&str, String, Box<str>, Cow<'_, str>);

impl<'r> Decode<'r> for &'r str {
    fn accepts(ty: &Type) -> bool {
        accepts_borrowed(ty)
    }

    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        borrowed_str(ty, raw)
    }
}

impl<'r> Decode<'r> for Cow<'r, str> {
    fn accepts(ty: &Type) -> bool {
        accepts_str(ty)
    }

    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        owned_str(ty, raw)
    }
}

impl Decode<'_> for String {
    fn accepts(ty: &Type) -> bool {
        accepts_str(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        owned_str(ty, raw).map(Cow::into_owned)
    }
}

impl Decode<'_> for Box<str> {
    fn accepts(ty: &Type) -> bool {
        accepts_str(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        owned_str(ty, raw).map(|s| s.into_owned().into_boxed_str())
    }
}

macro_rules! encode_bytes {
    ($($rust:ty),+) => {$(
        impl Encode for $rust {
            fn accepts(ty: &Type) -> bool {
                *ty == Type::BYTEA
            }

            fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
                buf.put_slice(self);
                Ok(IsNull::No)
            }
        }
    )+};
}

encode_bytes!(&[u8], Vec<u8>, Box<[u8]>, Bytes);

impl<const N: usize> Encode for [u8; N] {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_slice(self);
        Ok(IsNull::No)
    }
}

impl<'r> Decode<'r> for &'r [u8] {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn decode(_ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        Ok(raw)
    }
}

impl Decode<'_> for Vec<u8> {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn decode(_ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(raw.to_vec())
    }
}

impl Decode<'_> for Box<[u8]> {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn decode(_ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(raw.into())
    }
}

/// A copy of the value (the row's buffer is not shared out).
impl Decode<'_> for Bytes {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn decode(_ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(Bytes::copy_from_slice(raw))
    }
}
