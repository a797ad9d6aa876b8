//! Strings (text, varchar, bpchar, name, unknown, and every type with a text path) and bytea.

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type};
use crate::error::BoxError;

/// Types whose binary form is their UTF-8 text.
fn is_text_like(ty: &Type) -> bool {
    matches!(ty.oid(), 25 | 1043 | 1042 | 19 | 705) || ty.name() == "citext"
}

/// A string can be sent as, or read from, a text-like type or any type that travels in text
/// format (the types without a binary codec).
fn accepts_str(ty: &Type) -> bool {
    is_text_like(ty) || !ty.is_binary()
}

fn put_str(s: &str, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
    if s.as_bytes().contains(&0) {
        return Err("a string with a NUL byte (\\0) cannot be stored in PostgreSQL text".into());
    }
    buf.put_slice(s.as_bytes());
    Ok(IsNull::No)
}

impl Encode for &str {
    fn accepts(ty: &Type) -> bool {
        accepts_str(ty)
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        put_str(self, buf)
    }
}

impl Encode for String {
    fn accepts(ty: &Type) -> bool {
        accepts_str(ty)
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        put_str(self, buf)
    }
}

impl<'r> Decode<'r> for &'r str {
    fn accepts(ty: &Type) -> bool {
        accepts_str(ty)
    }

    fn decode(_ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        Ok(std::str::from_utf8(raw)?)
    }
}

impl Decode<'_> for String {
    fn accepts(ty: &Type) -> bool {
        accepts_str(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        <&str>::decode(ty, raw).map(str::to_owned)
    }
}

impl Encode for &[u8] {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BYTEA
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_slice(self);
        Ok(IsNull::No)
    }
}

impl Encode for Vec<u8> {
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
