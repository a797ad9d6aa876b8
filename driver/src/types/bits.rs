//! bit and varbit ↔ [`Bits`]: a length in bits and the bytes that hold them.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type};
use crate::error::BoxError;

/// A string of bits, for `bit(n)` and `bit varying`: the first bit is the high bit of the
/// first byte. Bits past `len` in the last byte are always zero.
///
/// ```
/// use pgtusk::types::Bits;
/// let b: Bits = "10110".parse().unwrap();
/// assert_eq!(b.len(), 5);
/// assert_eq!(b.as_bytes(), &[0b1011_0000]);
/// assert_eq!(b.get(2), Some(true));
/// assert_eq!(b.to_string(), "10110");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bits {
    len: usize,
    bytes: Vec<u8>,
}

impl Bits {
    /// `len` bits held in `bytes` (exactly `len.div_ceil(8)` of them); bits past `len` are
    /// cleared.
    pub fn from_bytes(len: usize, mut bytes: Vec<u8>) -> Result<Bits, BoxError> {
        if bytes.len() != len.div_ceil(8) {
            return Err(format!(
                "{len} bits need {} bytes, got {}",
                len.div_ceil(8),
                bytes.len()
            )
            .into());
        }
        if len % 8 != 0 {
            if let Some(last) = bytes.last_mut() {
                *last &= 0xFFu8 << (8 - len % 8);
            }
        }
        Ok(Bits { len, bytes })
    }

    /// The bits in order.
    pub fn from_bools(bits: impl IntoIterator<Item = bool>) -> Bits {
        let mut out = Bits::default();
        for bit in bits {
            out.push(bit);
        }
        out
    }

    /// Appends a bit.
    pub fn push(&mut self, bit: bool) {
        if self.len % 8 == 0 {
            self.bytes.push(0);
        }
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 0x80 >> (self.len % 8);
            }
        }
        self.len += 1;
    }

    /// The number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<bool> {
        if i >= self.len {
            return None;
        }
        self.bytes.get(i / 8).map(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// The bits in order.
    pub fn iter(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.len).map(|i| self.get(i).unwrap_or(false))
    }

    /// The bytes that hold the bits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Display for Bits {
    /// `0` and `1` characters, as PostgreSQL prints a bit string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for bit in self.iter() {
            f.write_str(if bit { "1" } else { "0" })?;
        }
        Ok(())
    }
}

impl FromStr for Bits {
    type Err = BoxError;

    fn from_str(s: &str) -> Result<Bits, BoxError> {
        s.chars()
            .map(|c| match c {
                '0' => Ok(false),
                '1' => Ok(true),
                _ => Err(format!("{c:?} is not a bit (0 or 1)").into()),
            })
            .collect::<Result<Vec<bool>, BoxError>>()
            .map(Bits::from_bools)
    }
}

fn is_bit(ty: &Type) -> bool {
    *ty == Type::BIT || *ty == Type::VARBIT
}

impl Encode for Bits {
    fn accepts(ty: &Type) -> bool {
        is_bit(ty)
    }

    /// `bit_send`: the length in bits (`i32`), then the bytes.
    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        let len = i32::try_from(self.len)
            .map_err(|_| format!("{} bits are too many for a bit string", self.len))?;
        buf.put_i32(len);
        buf.put_slice(&self.bytes);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for Bits {
    fn accepts(ty: &Type) -> bool {
        is_bit(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        let Some((len, bytes)) = raw.split_first_chunk::<4>() else {
            return Err(format!("invalid {ty} value: {} bytes", raw.len()).into());
        };
        let len = i32::from_be_bytes(*len);
        let len = usize::try_from(len).map_err(|_| format!("invalid {ty} value: length {len}"))?;
        Bits::from_bytes(len, bytes.to_vec()).map_err(|e| format!("invalid {ty} value: {e}").into())
    }
}
