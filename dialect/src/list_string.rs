//! A string in a rewritten `IN` list: it encodes as every type a string literal can become.

use bytes::{BufMut, BytesMut};
use pgtusk::types::{IsNull, Type};
use pgtusk::{BoxError, Encode};

use crate::params::Element;

/// One string of a list bound as `x = ANY($1)`, whose array type the server infers from `x`.
///
/// It encodes as whatever a Rust `String` encodes as (text, varchar, bpchar, name, citext,
/// enums, the types that travel as text), and also as `"char"`: the literals of
/// `relkind IN ('r', 'v')` become `"char"`, so the server asks for `"char"[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListString(pub(crate) String);

impl Encode for ListString {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::CHAR || String::accepts(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        if *ty == Type::CHAR {
            buf.put_u8(char_byte(&self.0)?);
            return Ok(IsNull::No);
        }
        self.0.encode(ty, buf)
    }

    fn rust_type_name(&self) -> &'static str {
        "String"
    }
}

impl Element for ListString {
    fn write_text(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

/// The byte `"char"` keeps of a string, as PostgreSQL's `charin` reads a literal: a `\ooo`
/// octal escape is that byte, anything else its first byte (0 for the empty string).
fn char_byte(s: &str) -> Result<u8, BoxError> {
    if s.as_bytes().contains(&0) {
        return Err("a string with a NUL byte (\\0) cannot be sent as \"char\"".into());
    }
    match s.as_bytes() {
        [b'\\', d @ ..] if d.len() == 3 && d.iter().all(|c| (b'0'..=b'7').contains(c)) => {
            let value = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
            // `\400` and above wrap, as the C char they are stored in does.
            Ok(value as u8)
        }
        bytes => Ok(bytes.first().copied().unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::char_byte;

    #[test]
    fn char_keeps_the_first_byte_or_an_octal_escape() {
        assert_eq!(char_byte("r").unwrap(), b'r');
        assert_eq!(char_byte("ab").unwrap(), b'a');
        assert_eq!(char_byte("").unwrap(), 0);
        assert_eq!(char_byte("é").unwrap(), 0xc3);
        assert_eq!(char_byte("\\141").unwrap(), b'a');
        assert_eq!(char_byte("\\777").unwrap(), 0xff);
        assert_eq!(char_byte("\\18").unwrap(), b'\\');
        assert_eq!(char_byte("\\1411").unwrap(), b'\\');
        assert!(char_byte("a\0").is_err());
    }
}
