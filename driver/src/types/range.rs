//! Ranges and multiranges, in PostgreSQL's binary format (`range_send` / `range_recv`,
//! `multirange_send` / `multirange_recv`).
//!
//! | PostgreSQL | Rust |
//! |---|---|
//! | int4range, int8range, numrange, daterange, tsrange, tstzrange, custom ranges | [`Range<T>`] with T the subtype's Rust type |
//! | int4multirange, ..., custom multiranges (PostgreSQL 14+) | [`Multirange<T>`] |
//!
//! A range is a flags byte (empty 0x01, lower inclusive 0x02, upper inclusive 0x04, lower
//! infinite 0x08, upper infinite 0x10), then each finite bound as a length (i32) and the
//! subtype's binary value. A multirange is a count (i32), then each range as a length and a
//! range. The server normalizes discrete ranges: `[1,5]` comes back as `[1,6)`.

use std::ops::Bound;

use bytes::{BufMut, BytesMut};

use super::array::{read_i32, read_value};
use super::{Decode, Encode, IsNull, Kind, Type};
use crate::error::BoxError;

const EMPTY: u8 = 0x01;
const LB_INC: u8 = 0x02;
const UB_INC: u8 = 0x04;
const LB_INF: u8 = 0x08;
const UB_INF: u8 = 0x10;

/// A range value: empty, or between two bounds (each inclusive, exclusive or unbounded).
///
/// ```
/// use std::ops::Bound;
/// use pgtusk::types::Range;
///
/// // '[1,10)'::int4range
/// let r = Range::Bounded { lower: Bound::Included(1), upper: Bound::Excluded(10) };
/// assert!(!r.is_empty());
/// // '(,5]': unbounded below
/// let _ = Range::Bounded { lower: Bound::Unbounded, upper: Bound::Included(5) };
/// let _ = Range::<i32>::Empty;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Range<T> {
    /// The empty range (`'empty'`).
    Empty,
    /// A range with its lower and upper bounds.
    Bounded {
        /// The lower bound.
        lower: Bound<T>,
        /// The upper bound.
        upper: Bound<T>,
    },
}

impl<T> Range<T> {
    /// A range between two bounds.
    pub fn new(lower: Bound<T>, upper: Bound<T>) -> Self {
        Range::Bounded { lower, upper }
    }

    /// Whether this is the empty range.
    pub fn is_empty(&self) -> bool {
        matches!(self, Range::Empty)
    }
}

/// The subtype of a range type, if `ty` is one.
fn subtype(ty: &Type) -> Option<&Type> {
    match ty.kind() {
        Kind::Range(sub) => Some(sub),
        _ => None,
    }
}

/// The range type of a multirange type, if `ty` is one.
fn range_of(ty: &Type) -> Option<&Type> {
    match ty.kind() {
        Kind::Multirange(range) => Some(range.base_type()),
        _ => None,
    }
}

fn accepts_range(ty: &Type, sub_accepts: fn(&Type) -> bool) -> bool {
    ty.is_binary() && subtype(ty).is_some_and(|sub| sub_accepts(sub.base_type()))
}

fn decode_range<'r, T: Decode<'r>>(ty: &Type, raw: &'r [u8]) -> Result<Range<T>, BoxError> {
    let sub = subtype(ty)
        .ok_or_else(|| format!("{ty} is not a range type"))?
        .base_type();
    let Some((&flags, mut rest)) = raw.split_first() else {
        return Err("invalid range: empty value".into());
    };
    if flags & EMPTY != 0 {
        if !rest.is_empty() {
            return Err("invalid range: bytes after an empty range".into());
        }
        return Ok(Range::Empty);
    }
    let mut bound = |infinite: u8, inclusive: u8, what: &str| -> Result<Bound<T>, BoxError> {
        if flags & infinite != 0 {
            return Ok(Bound::Unbounded);
        }
        let bytes =
            read_value(&mut rest, what)?.ok_or_else(|| format!("invalid range: NULL {what}"))?;
        let value = T::decode(sub, bytes).map_err(|e| format!("range {what}: {e}"))?;
        Ok(if flags & inclusive != 0 {
            Bound::Included(value)
        } else {
            Bound::Excluded(value)
        })
    };
    let lower = bound(LB_INF, LB_INC, "lower bound")?;
    let upper = bound(UB_INF, UB_INC, "upper bound")?;
    if !rest.is_empty() {
        return Err(format!("invalid range: {} bytes after the bounds", rest.len()).into());
    }
    Ok(Range::Bounded { lower, upper })
}

fn encode_range<T: Encode>(
    range: &Range<T>,
    ty: &Type,
    buf: &mut BytesMut,
) -> Result<IsNull, BoxError> {
    let sub = subtype(ty)
        .ok_or_else(|| format!("{ty} is not a range type"))?
        .base_type();
    let (lower, upper) = match range {
        Range::Empty => {
            buf.put_u8(EMPTY);
            return Ok(IsNull::No);
        }
        Range::Bounded { lower, upper } => (lower, upper),
    };
    let flag = |b: &Bound<T>, inf: u8, inc: u8| match b {
        Bound::Unbounded => inf,
        Bound::Included(_) => inc,
        Bound::Excluded(_) => 0,
    };
    buf.put_u8(flag(lower, LB_INF, LB_INC) | flag(upper, UB_INF, UB_INC));
    for (b, what) in [(lower, "lower bound"), (upper, "upper bound")] {
        if let Bound::Included(v) | Bound::Excluded(v) = b {
            let at = buf.len();
            buf.put_i32(0);
            if v.encode(sub, buf)
                .map_err(|e| format!("range {what}: {e}"))?
                == IsNull::Yes
            {
                return Err(format!("a range {what} cannot be NULL; use Bound::Unbounded").into());
            }
            let len = i32::try_from(buf.len() - at - 4).map_err(|_| "range bound too large")?;
            buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(IsNull::No)
}

impl<'r, T: Decode<'r>> Decode<'r> for Range<T> {
    fn accepts(ty: &Type) -> bool {
        accepts_range(ty, T::accepts)
    }

    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        decode_range(ty, raw)
    }
}

impl<T: Encode> Encode for Range<T> {
    fn accepts(ty: &Type) -> bool {
        accepts_range(ty, T::accepts)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        encode_range(self, ty, buf)
    }
}

/// A multirange (PostgreSQL 14+): ranges in order, as the server normalizes them (sorted,
/// merged, without empties).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Multirange<T>(pub Vec<Range<T>>);

fn accepts_multirange(ty: &Type, sub_accepts: fn(&Type) -> bool) -> bool {
    ty.is_binary() && range_of(ty).is_some_and(|range| accepts_range(range, sub_accepts))
}

impl<'r, T: Decode<'r>> Decode<'r> for Multirange<T> {
    fn accepts(ty: &Type) -> bool {
        accepts_multirange(ty, T::accepts)
    }

    fn decode(ty: &Type, mut raw: &'r [u8]) -> Result<Self, BoxError> {
        let range_ty = range_of(ty).ok_or_else(|| format!("{ty} is not a multirange type"))?;
        let count = read_i32(&mut raw, "multirange count")?;
        let count = usize::try_from(count)
            .ok()
            // Each range takes at least its length (4) and flags (1).
            .filter(|&c| c <= raw.len() / 5)
            .ok_or_else(|| format!("invalid multirange: {count} ranges in {} bytes", raw.len()))?;
        let mut ranges = Vec::with_capacity(count);
        for i in 0..count {
            let bytes = read_value(&mut raw, "a multirange's range")?
                .ok_or_else(|| format!("invalid multirange: range {i} is NULL"))?;
            ranges.push(decode_range(range_ty, bytes).map_err(|e| format!("range {i}: {e}"))?);
        }
        if !raw.is_empty() {
            return Err(format!("invalid multirange: {} bytes after the ranges", raw.len()).into());
        }
        Ok(Multirange(ranges))
    }
}

impl<T: Encode> Encode for Multirange<T> {
    fn accepts(ty: &Type) -> bool {
        accepts_multirange(ty, T::accepts)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        let range_ty = range_of(ty).ok_or_else(|| format!("{ty} is not a multirange type"))?;
        buf.put_i32(i32::try_from(self.0.len()).map_err(|_| "too many ranges")?);
        for (i, range) in self.0.iter().enumerate() {
            let at = buf.len();
            buf.put_i32(0);
            encode_range(range, range_ty, buf).map_err(|e| format!("range {i}: {e}"))?;
            let len = i32::try_from(buf.len() - at - 4).map_err(|_| "range too large")?;
            buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ranges_are_errors() {
        let ty = Type::INT4RANGE;
        let mut valid = BytesMut::new();
        Range::new(Bound::Included(1), Bound::Excluded(5))
            .encode(&ty, &mut valid)
            .unwrap();
        let back: Range<i32> = Decode::decode(&ty, &valid).unwrap();
        assert_eq!(back, Range::new(Bound::Included(1), Bound::Excluded(5)));
        for len in 0..valid.len() {
            assert!(<Range<i32> as Decode>::decode(&ty, &valid[..len]).is_err());
        }
        let mut longer = valid.to_vec();
        longer.push(0);
        assert!(<Range<i32> as Decode>::decode(&ty, &longer).is_err());
        assert!(<Range<i32> as Decode>::decode(&ty, &[EMPTY, 0]).is_err());
        assert!(<Range<i32> as Decode>::decode(&ty, &[0, 0xFF, 0xFF, 0xFF, 0xFE]).is_err());
        assert_eq!(
            <Range<i32> as Decode>::decode(&ty, &[LB_INF | UB_INF]).unwrap(),
            Range::new(Bound::Unbounded, Bound::Unbounded)
        );
    }

    #[test]
    fn malformed_multiranges_are_errors() {
        let ty = Type::INT4MULTIRANGE;
        let mut valid = BytesMut::new();
        Multirange(vec![
            Range::new(Bound::Included(1), Bound::Excluded(2)),
            Range::Empty,
        ])
        .encode(&ty, &mut valid)
        .unwrap();
        assert_eq!(
            <Multirange<i32> as Decode>::decode(&ty, &valid)
                .unwrap()
                .0
                .len(),
            2
        );
        for len in 0..valid.len() {
            assert!(<Multirange<i32> as Decode>::decode(&ty, &valid[..len]).is_err());
        }
        assert!(<Multirange<i32> as Decode>::decode(&ty, &[0x7F, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(<Multirange<i32> as Decode>::decode(&ty, &[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    }
}
