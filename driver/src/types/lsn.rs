//! pg_lsn ↔ [`PgLsn`].

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, fixed};
use crate::error::BoxError;

/// A write-ahead log position (`pg_lsn`), printed as PostgreSQL prints it: two hex numbers,
/// the high and low 32 bits.
///
/// ```
/// use pgtusk::types::PgLsn;
/// let lsn: PgLsn = "16/B374D848".parse().unwrap();
/// assert_eq!(lsn, PgLsn(0x16_B374_D848));
/// assert_eq!(lsn.to_string(), "16/B374D848");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PgLsn(pub u64);

impl fmt::Display for PgLsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for PgLsn {
    type Err = BoxError;

    fn from_str(s: &str) -> Result<PgLsn, BoxError> {
        let invalid =
            || format!("{s:?} is not a pg_lsn (expected two hex numbers like 16/B374D848)");
        let (hi, lo) = s.split_once('/').ok_or_else(invalid)?;
        let part = |p: &str| {
            if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid());
            }
            u32::from_str_radix(p, 16).map_err(|_| invalid())
        };
        Ok(PgLsn((u64::from(part(hi)?) << 32) | u64::from(part(lo)?)))
    }
}

impl Encode for PgLsn {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::PG_LSN
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_u64(self.0);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for PgLsn {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::PG_LSN
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(PgLsn(u64::from_be_bytes(fixed(ty, raw)?)))
    }
}
