//! Arrays, in PostgreSQL's binary format (`array_send` / `array_recv`).
//!
//! | PostgreSQL | Rust |
//! |---|---|
//! | one-dimensional (or empty) array of `T` | `Vec<T>`, `Vec<Option<T>>` (decode and encode), `&[T]`, `[T; N]` (encode) |
//! | any array, any dimensions and lower bounds | [`Array<T>`] |
//!
//! The binary form: `ndim` (i32), a has-NULLs flag (i32), the element type's OID, then per
//! dimension its length and lower bound (i32 each), then every element as a length (i32, -1 for
//! NULL) and that many bytes, in row-major order.
//!
//! Decoding into `Vec<T>` drops the lower bound of a one-dimensional array (`'[0:1]={1,2}'`
//! reads as `[1, 2]`) and refuses a multi-dimensional one: read those into [`Array<T>`].
//! An array whose element type travels in text format (`xml[]`, `tsvector[]`, ...) travels in
//! text format itself and reads as `String`.

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Kind, Type, UnexpectedNull};
use crate::error::BoxError;

/// PostgreSQL's `MAXDIM`: an array has at most 6 dimensions.
pub const MAX_DIMENSIONS: usize = 6;

/// The anonymous `record` type, the element of `record[]` (`_record`, a pseudo-type in the
/// catalog whose values are arrays of records).
static RECORD: Type = Type::RECORD;

/// The element type of an array type, if `ty` is one.
pub(crate) fn element_type(ty: &Type) -> Option<&Type> {
    match ty.kind() {
        Kind::Array(elem) => Some(elem),
        _ if ty.oid() == Type::RECORD_ARRAY.oid() => Some(&RECORD),
        _ => None,
    }
}

/// Whether a Rust element type that accepts `elem_accepts` can be an array of type `ty`.
fn accepts_array(ty: &Type, elem_accepts: fn(&Type) -> bool) -> bool {
    ty.is_binary() && element_type(ty).is_some_and(|elem| elem_accepts(elem.base_type()))
}

/// One dimension of an [`Array`]: how many elements it has and the index of the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dimension {
    /// The number of elements along this dimension.
    pub len: i32,
    /// The subscript of the first element (1 unless the array was written `'[0:1]={..}'`).
    pub lower_bound: i32,
}

/// An array of any number of dimensions (0 to 6) with its lower bounds.
///
/// `elements` holds every element in row-major order (the last subscript varies fastest), so
/// its length is the product of the dimensions' lengths. An empty array has no dimensions.
///
/// ```
/// use pgtusk::types::{Array, Dimension};
///
/// // '{{1,2,3},{4,5,6}}'::int4[]
/// let matrix = Array::new(
///     vec![Dimension { len: 2, lower_bound: 1 }, Dimension { len: 3, lower_bound: 1 }],
///     vec![1, 2, 3, 4, 5, 6],
/// )
/// .unwrap();
/// assert_eq!(matrix.elements()[4], 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Array<T> {
    dimensions: Vec<Dimension>,
    elements: Vec<T>,
}

impl<T> Array<T> {
    /// An array with these dimensions and elements, after checking that they fit together.
    pub fn new(dimensions: Vec<Dimension>, elements: Vec<T>) -> Result<Self, BoxError> {
        if dimensions.len() > MAX_DIMENSIONS {
            return Err(format!(
                "an array has at most {MAX_DIMENSIONS} dimensions, not {}",
                dimensions.len()
            )
            .into());
        }
        let count = element_count(&dimensions)?;
        if count != elements.len() {
            return Err(format!(
                "the dimensions hold {count} elements but {} were given",
                elements.len()
            )
            .into());
        }
        Ok(Array {
            dimensions,
            elements,
        })
    }

    /// A one-dimensional array starting at subscript 1 (empty when `elements` is).
    pub fn from_vec(elements: Vec<T>) -> Result<Self, BoxError> {
        let dimensions = if elements.is_empty() {
            Vec::new()
        } else {
            let len = i32::try_from(elements.len()).map_err(|_| "too many array elements")?;
            vec![Dimension {
                len,
                lower_bound: 1,
            }]
        };
        Array::new(dimensions, elements)
    }

    /// The dimensions, outermost first; empty for an empty array.
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    /// Every element in row-major order.
    pub fn elements(&self) -> &[T] {
        &self.elements
    }

    /// The dimensions and the elements.
    pub fn into_parts(self) -> (Vec<Dimension>, Vec<T>) {
        (self.dimensions, self.elements)
    }
}

/// The number of elements dimensions hold, with overflow and sign checks. A dimension of
/// length 0 makes the array empty.
fn element_count(dimensions: &[Dimension]) -> Result<usize, BoxError> {
    let mut count: usize = 1;
    for (i, d) in dimensions.iter().enumerate() {
        let len = usize::try_from(d.len)
            .map_err(|_| format!("array dimension {} has a negative length {}", i + 1, d.len))?;
        if d.lower_bound.checked_add(d.len).is_none() {
            return Err(format!(
                "array dimension {}: lower bound {} + length {} overflows",
                i + 1,
                d.lower_bound,
                d.len
            )
            .into());
        }
        count = count
            .checked_mul(len)
            .filter(|&c| c <= i32::MAX as usize)
            .ok_or("the array has too many elements")?;
    }
    Ok(if dimensions.is_empty() { 0 } else { count })
}

/// A parsed array header and its element bytes, every count checked against the bytes.
pub(crate) struct RawArray<'r> {
    /// `dimensions[..ndim]` are the array's; kept inline so a `Vec<T>` decode allocates once.
    dimensions: [Dimension; MAX_DIMENSIONS],
    ndim: usize,
    pub(crate) count: usize,
    elements: &'r [u8],
}

#[inline]
pub(crate) fn read_i32(raw: &mut &[u8], what: &str) -> Result<i32, BoxError> {
    let Some((head, rest)) = raw.split_first_chunk::<4>() else {
        return Err(missing(what));
    };
    *raw = rest;
    Ok(i32::from_be_bytes(*head))
}

/// A length-prefixed value (-1 is NULL).
#[inline]
pub(crate) fn read_value<'r>(raw: &mut &'r [u8], what: &str) -> Result<Option<&'r [u8]>, BoxError> {
    let len = read_i32(raw, what)?;
    if len == -1 {
        return Ok(None);
    }
    match usize::try_from(len) {
        Ok(len) if len <= raw.len() => {
            let (value, rest) = raw.split_at(len);
            *raw = rest;
            Ok(Some(value))
        }
        _ => Err(bad_length(len, raw.len(), what)),
    }
}

#[cold]
fn missing(what: &str) -> BoxError {
    format!("truncated value: {what} missing").into()
}

#[cold]
fn bad_length(len: i32, remaining: usize, what: &str) -> BoxError {
    if len < 0 {
        format!("invalid length {len} of {what}").into()
    } else {
        format!("truncated value: {what} has {len} bytes but only {remaining} remain").into()
    }
}

impl<'r> RawArray<'r> {
    pub(crate) fn parse(ty: &Type, mut raw: &'r [u8]) -> Result<Self, BoxError> {
        let elem = element_type(ty).ok_or_else(|| format!("{ty} is not an array type"))?;
        let ndim = read_i32(&mut raw, "array dimensions")?;
        let ndim = usize::try_from(ndim)
            .ok()
            .filter(|&n| n <= MAX_DIMENSIONS)
            .ok_or_else(|| {
                format!("invalid array: {ndim} dimensions (0 to {MAX_DIMENSIONS} allowed)")
            })?;
        let flags = read_i32(&mut raw, "array flags")?;
        if flags != 0 && flags != 1 {
            return Err(format!("invalid array flags {flags}").into());
        }
        let elem_oid = read_i32(&mut raw, "array element type")? as u32;
        if elem_oid != elem.oid() && elem_oid != elem.base_type().oid() {
            return Err(format!(
                "array element type OID {elem_oid} does not match {ty}'s element type {elem} (OID {})",
                elem.oid()
            )
            .into());
        }
        let mut dimensions = [Dimension {
            len: 0,
            lower_bound: 0,
        }; MAX_DIMENSIONS];
        for d in &mut dimensions[..ndim] {
            d.len = read_i32(&mut raw, "array dimension length")?;
            d.lower_bound = read_i32(&mut raw, "array lower bound")?;
        }
        let count = element_count(&dimensions[..ndim])?;
        // Each element takes at least its 4-byte length: refuse a count the bytes cannot hold
        // before anything is allocated from it.
        if count > raw.len() / 4 {
            return Err(format!(
                "invalid array: {count} elements cannot fit in {} bytes",
                raw.len()
            )
            .into());
        }
        Ok(RawArray {
            dimensions,
            // An array with a zero-length dimension is the empty array, which has none.
            ndim: if count == 0 { 0 } else { ndim },
            count,
            elements: raw,
        })
    }

    /// The dimensions, outermost first; none for an empty array.
    pub(crate) fn dimensions(&self) -> &[Dimension] {
        &self.dimensions[..self.ndim]
    }

    /// Decodes every element into T, refusing NULLs that T cannot hold and trailing bytes.
    pub(crate) fn decode_elements<T: Decode<'r>>(&self, ty: &Type) -> Result<Vec<T>, BoxError> {
        let elem = element_type(ty)
            .ok_or_else(|| format!("{ty} is not an array type"))?
            .base_type();
        let mut raw = self.elements;
        let mut out = Vec::with_capacity(self.count);
        for i in 0..self.count {
            let value = match read_value(&mut raw, "an array element")? {
                Some(bytes) => T::decode(elem, bytes),
                None => T::decode_null(elem).map_err(|e| null_element::<T>(i, e)),
            };
            match value {
                Ok(v) => out.push(v),
                Err(e) => return Err(element_error(i, e)),
            }
        }
        if !raw.is_empty() {
            return Err(
                format!("invalid array: {} bytes after the last element", raw.len()).into(),
            );
        }
        Ok(out)
    }
}

#[cold]
fn null_element<'r, T: Decode<'r>>(i: usize, e: BoxError) -> BoxError {
    if e.is::<UnexpectedNull>() {
        format!(
            "array element {i} is NULL but Rust type {} cannot hold NULL; decode into Vec<Option<_>>",
            T::rust_type_name()
        )
        .into()
    } else {
        e
    }
}

#[cold]
fn element_error(i: usize, e: BoxError) -> BoxError {
    format!("array element {i}: {e}").into()
}

impl<'r, T: Decode<'r>> Decode<'r> for Vec<T> {
    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        let array = RawArray::parse(ty, raw)?;
        if array.ndim > 1 {
            return Err(format!(
                "a {}-dimensional array cannot decode into a Vec; decode into pgtusk::types::Array<T>",
                array.ndim
            )
            .into());
        }
        array.decode_elements(ty)
    }
}

impl<'r, T: Decode<'r>> Decode<'r> for Array<T> {
    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        let array = RawArray::parse(ty, raw)?;
        let elements = array.decode_elements(ty)?;
        Ok(Array {
            dimensions: array.dimensions().to_vec(),
            elements,
        })
    }
}

/// Writes an array of `ty` with these dimensions (already checked against the elements).
fn encode_array<'a, T: Encode + 'a>(
    ty: &Type,
    dimensions: &[Dimension],
    elements: impl IntoIterator<Item = &'a T>,
    buf: &mut BytesMut,
) -> Result<IsNull, BoxError> {
    let elem = element_type(ty).ok_or_else(|| format!("{ty} is not an array type"))?;
    let ndim = i32::try_from(dimensions.len()).map_err(|_| "too many array dimensions")?;
    buf.put_i32(ndim);
    let flags_at = buf.len();
    buf.put_i32(0);
    buf.put_u32(elem.oid());
    for d in dimensions {
        buf.put_i32(d.len);
        buf.put_i32(d.lower_bound);
    }
    let mut has_nulls = false;
    for (i, value) in elements.into_iter().enumerate() {
        let len_at = buf.len();
        buf.put_i32(0);
        match value
            .encode(elem.base_type(), buf)
            .map_err(|e| format!("array element {i}: {e}"))?
        {
            IsNull::Yes => {
                buf.truncate(len_at);
                buf.put_i32(-1);
                has_nulls = true;
            }
            IsNull::No => {
                let len = i32::try_from(buf.len() - len_at - 4)
                    .map_err(|_| format!("array element {i} is larger than 2 GiB"))?;
                buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    if has_nulls {
        buf[flags_at..flags_at + 4].copy_from_slice(&1i32.to_be_bytes());
    }
    Ok(IsNull::No)
}

fn encode_slice<T: Encode>(
    ty: &Type,
    values: &[T],
    buf: &mut BytesMut,
) -> Result<IsNull, BoxError> {
    let dimensions = if values.is_empty() {
        Vec::new()
    } else {
        vec![Dimension {
            len: i32::try_from(values.len()).map_err(|_| "too many array elements")?,
            lower_bound: 1,
        }]
    };
    encode_array(ty, &dimensions, values, buf)
}

impl<T: Encode> Encode for Vec<T> {
    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        encode_slice(ty, self, buf)
    }
}

impl<T: Encode> Encode for &[T] {
    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        encode_slice(ty, self, buf)
    }
}

impl<T: Encode> Encode for Box<[T]> {
    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        encode_slice(ty, self, buf)
    }
}

impl<T: Encode, const N: usize> Encode for [T; N] {
    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        encode_slice(ty, self, buf)
    }
}

impl<T: Encode> Encode for Array<T> {
    fn accepts(ty: &Type) -> bool {
        accepts_array(ty, T::accepts)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        // The fields are private and checked by `new`; an empty array has no dimensions.
        let dimensions: &[Dimension] = if self.elements.is_empty() {
            &[]
        } else {
            &self.dimensions
        };
        encode_array(ty, dimensions, &self.elements, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int4_array(ndim: i32, dims: &[(i32, i32)], elems: &[Option<i32>]) -> Vec<u8> {
        let mut b = BytesMut::new();
        b.put_i32(ndim);
        b.put_i32(0);
        b.put_u32(23);
        for &(len, lb) in dims {
            b.put_i32(len);
            b.put_i32(lb);
        }
        for e in elems {
            match e {
                Some(v) => {
                    b.put_i32(4);
                    b.put_i32(*v);
                }
                None => b.put_i32(-1),
            }
        }
        b.to_vec()
    }

    #[test]
    fn round_trips_one_dimension() {
        let mut buf = BytesMut::new();
        vec![Some(1), None, Some(3)]
            .encode(&Type::INT4_ARRAY, &mut buf)
            .unwrap();
        let back: Vec<Option<i32>> = Decode::decode(&Type::INT4_ARRAY, &buf).unwrap();
        assert_eq!(back, [Some(1), None, Some(3)]);
        let err = <Vec<i32> as Decode>::decode(&Type::INT4_ARRAY, &buf).unwrap_err();
        assert!(err.to_string().contains("element 1 is NULL"), "{err}");
    }

    #[test]
    fn malformed_arrays_are_errors() {
        let ty = Type::INT4_ARRAY;
        let valid = int4_array(1, &[(2, 1)], &[Some(1), Some(2)]);
        for len in 0..valid.len() {
            assert!(<Vec<i32> as Decode>::decode(&ty, &valid[..len]).is_err());
        }
        let bad = [
            int4_array(7, &[(1, 1); 7], &[Some(1)]),
            int4_array(-1, &[], &[]),
            int4_array(1, &[(-1, 1)], &[]),
            int4_array(1, &[(i32::MAX, 1)], &[Some(1)]),
            int4_array(2, &[(65536, 1), (65536, 1)], &[]),
            int4_array(1, &[(1, i32::MAX)], &[Some(1)]),
            int4_array(1, &[(1, 1)], &[Some(1), Some(2)]),
        ];
        for raw in &bad {
            assert!(<Array<i32> as Decode>::decode(&ty, raw).is_err(), "{raw:?}");
        }
        let mut wrong_elem = valid.clone();
        wrong_elem[8..12].copy_from_slice(&25u32.to_be_bytes());
        assert!(<Vec<i32> as Decode>::decode(&ty, &wrong_elem).is_err());
        let two_d = int4_array(2, &[(1, 1), (2, 1)], &[Some(1), Some(2)]);
        let err = <Vec<i32> as Decode>::decode(&ty, &two_d).unwrap_err();
        assert!(err.to_string().contains("Array<T>"), "{err}");
        let a = <Array<i32> as Decode>::decode(&ty, &two_d).unwrap();
        assert_eq!(a.dimensions().len(), 2);
    }

    #[test]
    fn array_new_checks_dimensions() {
        assert!(
            Array::new(
                vec![Dimension {
                    len: 2,
                    lower_bound: 1
                }],
                vec![1]
            )
            .is_err()
        );
        assert!(
            Array::new(
                vec![
                    Dimension {
                        len: 1,
                        lower_bound: 1
                    };
                    7
                ],
                vec![1]
            )
            .is_err()
        );
        assert!(
            Array::<i32>::from_vec(vec![])
                .unwrap()
                .dimensions()
                .is_empty()
        );
    }
}
