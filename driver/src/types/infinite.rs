//! [`MaybeInfinite<T>`]: date, timestamp and timestamptz values that may be `infinity` or
//! `-infinity`.

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type};
use crate::error::BoxError;

/// A date or timestamp that may be PostgreSQL's `infinity` or `-infinity`.
///
/// The chrono types cannot hold the infinities, so decoding them into `NaiveDate` or
/// `DateTime<Utc>` is an error; wrap the Rust type in `MaybeInfinite` to accept them. Works for
/// `date`, `timestamp` and `timestamptz` with any `T` that can be that type.
///
/// ```no_run
/// use chrono::NaiveDate;
/// use pgtusk::types::MaybeInfinite;
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let d: MaybeInfinite<NaiveDate> = conn.fetch_value("SELECT 'infinity'::date", &[]).await?;
/// assert_eq!(d, MaybeInfinite::Infinity);
/// let back: String = conn.fetch_value("SELECT $1::date::text", &[&MaybeInfinite::<NaiveDate>::NegInfinity]).await?;
/// assert_eq!(back, "-infinity");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MaybeInfinite<T> {
    /// `-infinity`: before every other value.
    NegInfinity,
    /// A finite value.
    Value(T),
    /// `infinity`: after every other value.
    Infinity,
}

impl<T> MaybeInfinite<T> {
    /// The finite value, if it is one.
    pub fn value(self) -> Option<T> {
        match self {
            MaybeInfinite::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<T> From<T> for MaybeInfinite<T> {
    fn from(value: T) -> Self {
        MaybeInfinite::Value(value)
    }
}

const DATE_INF: [u8; 4] = i32::MAX.to_be_bytes();
const DATE_NEG_INF: [u8; 4] = i32::MIN.to_be_bytes();
const TS_INF: [u8; 8] = i64::MAX.to_be_bytes();
const TS_NEG_INF: [u8; 8] = i64::MIN.to_be_bytes();

/// The binary `infinity` and `-infinity` of a type that has them.
pub(crate) fn infinities(ty: &Type) -> Option<(&'static [u8], &'static [u8])> {
    if !ty.is_binary() {
        None
    } else if *ty == Type::DATE {
        Some((&DATE_INF, &DATE_NEG_INF))
    } else if *ty == Type::TIMESTAMP || *ty == Type::TIMESTAMPTZ {
        Some((&TS_INF, &TS_NEG_INF))
    } else {
        None
    }
}

/// The error a chrono decoder gives for an infinity (`positive`: `infinity`, else
/// `-infinity`). Decoders compare the integer they read with `i32`/`i64::MAX` and `MIN`, the
/// infinities' binary form, and call this only then.
#[cfg(feature = "chrono")]
#[cold]
pub(crate) fn infinity_error(ty: &Type, positive: bool, rust: &str) -> BoxError {
    let which = if positive { "infinity" } else { "-infinity" };
    format!("{ty} '{which}' cannot be a {rust}; decode into pgtusk::types::MaybeInfinite<{rust}>")
        .into()
}

impl<T: Encode> Encode for MaybeInfinite<T> {
    fn accepts(ty: &Type) -> bool {
        T::accepts(ty) && infinities(ty).is_some()
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        let (inf, neg_inf) = infinities(ty).ok_or_else(|| format!("{ty} has no infinity"))?;
        match self {
            MaybeInfinite::Value(v) => return v.encode(ty, buf),
            MaybeInfinite::Infinity => buf.put_slice(inf),
            MaybeInfinite::NegInfinity => buf.put_slice(neg_inf),
        }
        Ok(IsNull::No)
    }
}

impl<'r, T: Decode<'r>> Decode<'r> for MaybeInfinite<T> {
    fn accepts(ty: &Type) -> bool {
        T::accepts(ty) && infinities(ty).is_some()
    }

    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        match infinities(ty) {
            Some((inf, _)) if raw == inf => Ok(MaybeInfinite::Infinity),
            Some((_, neg_inf)) if raw == neg_inf => Ok(MaybeInfinite::NegInfinity),
            _ => T::decode(ty, raw).map(MaybeInfinite::Value),
        }
    }
}
