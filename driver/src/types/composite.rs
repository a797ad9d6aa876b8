//! Composite (row) types, in PostgreSQL's binary format (`record_send` / `record_recv`).
//!
//! | PostgreSQL | Rust |
//! |---|---|
//! | a composite type (`CREATE TYPE t AS (...)`, a table's row type) | tuples `(A,)` to 12 fields (decode and encode) |
//! | an anonymous `record` (`SELECT ROW(1, 'a')`) | tuples (decode only) |
//!
//! The binary form: the field count (i32), then per field its type's OID, a length (i32, -1 for
//! NULL) and the field's binary value. A composite travels in binary when every field's type
//! does, and then it reads only into a tuple (or a type built on [`CompositeReader`]), not into
//! `String`: cast it to `text` in SQL for its text form. A composite with a field whose type
//! travels in text (`xml`, `tsvector`, ...) stays on the text path and reads as `String`.
//!
//! An anonymous record names its fields' types only by OID on the wire: fields of built-in
//! types decode; for a field of an enum or composite type, cast the row to a named composite.

use bytes::{BufMut, BytesMut};

use super::array::{read_i32, read_value};
use super::{Decode, Encode, Field, IsNull, Kind, Type, UnexpectedNull};
use crate::error::BoxError;

/// The fields of a composite type, if `ty` is one.
fn composite_fields(ty: &Type) -> Option<&[Field]> {
    match ty.kind() {
        Kind::Composite(fields) => Some(fields),
        _ => None,
    }
}

/// Reads the fields of a composite value one by one, checking each field's type.
///
/// What a decoder for a user's struct (or a `#[derive]`) uses:
///
/// ```
/// use pgtusk::types::{CompositeReader, Decode, Type};
/// use pgtusk::BoxError;
///
/// struct Point3 { x: f64, y: f64, label: Option<String> }
///
/// impl<'r> Decode<'r> for Point3 {
///     fn accepts(ty: &Type) -> bool {
///         CompositeReader::is_composite(ty)
///     }
///     fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
///         let mut fields = CompositeReader::new(ty, raw)?;
///         let value = Point3 { x: fields.read()?, y: fields.read()?, label: fields.read()? };
///         fields.finish()?;
///         Ok(value)
///     }
/// }
/// ```
#[derive(Debug)]
pub struct CompositeReader<'a, 'r> {
    ty: &'a Type,
    fields: Option<&'a [Field]>,
    raw: &'r [u8],
    count: usize,
    next: usize,
}

impl<'a, 'r> CompositeReader<'a, 'r> {
    /// Whether `ty` is a composite type (or the anonymous `record`) travelling in binary.
    pub fn is_composite(ty: &Type) -> bool {
        ty.is_binary() && (composite_fields(ty).is_some() || *ty == Type::RECORD)
    }

    /// Starts reading a composite value of `ty`: checks the field count.
    pub fn new(ty: &'a Type, mut raw: &'r [u8]) -> Result<Self, BoxError> {
        let fields = composite_fields(ty);
        if fields.is_none() && *ty != Type::RECORD {
            return Err(format!("{ty} is not a composite type").into());
        }
        let count = read_i32(&mut raw, "composite field count")?;
        let count = usize::try_from(count)
            .ok()
            // Each field takes at least its OID and length.
            .filter(|&c| c <= raw.len() / 8)
            .ok_or_else(|| format!("invalid composite: {count} fields in {} bytes", raw.len()))?;
        if let Some(fields) = fields {
            if fields.len() != count {
                return Err(
                    format!("{ty} has {} fields but the value has {count}", fields.len()).into(),
                );
            }
        }
        Ok(CompositeReader {
            ty,
            fields,
            raw,
            count,
            next: 0,
        })
    }

    /// The number of fields in the value.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the value has no fields.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The number of fields not read yet.
    pub fn remaining(&self) -> usize {
        self.count - self.next
    }

    /// Reads the next field into T, after checking that T accepts the field's type.
    pub fn read<T: Decode<'r>>(&mut self) -> Result<T, BoxError> {
        let i = self.next;
        if i >= self.count {
            return Err(format!(
                "{} has {} fields; Rust asks for field {}",
                self.ty,
                self.count,
                i + 1
            )
            .into());
        }
        let oid = read_i32(&mut self.raw, "a composite field's type")? as u32;
        let value = read_value(&mut self.raw, "a composite field")?;
        self.next += 1;
        let (name, field_ty): (String, Type) = match self.fields {
            Some(fields) => {
                let field = &fields[i];
                if oid != field.ty.oid() && oid != field.ty.base_type().oid() {
                    return Err(format!(
                        "field {i} \"{}\" of {} should be {} but the value has type OID {oid}",
                        field.name, self.ty, field.ty
                    )
                    .into());
                }
                (format!(" \"{}\"", field.name), field.ty.base_type().clone())
            }
            None => {
                let ty = Type::from_oid(oid).ok_or_else(|| {
                    format!(
                        "field {i} of an anonymous record has type OID {oid}, which is not built in; \
                         cast the row to a named composite type"
                    )
                })?;
                (String::new(), ty.base_type().clone())
            }
        };
        if !field_ty.is_binary() {
            return Err(format!(
                "field {i}{name} of {} has type {field_ty}, which the driver reads only as text; \
                 cast it to text in SQL",
                self.ty
            )
            .into());
        }
        // A bare NULL in a record (`ROW(1, NULL)`) has type unknown: any Option takes it.
        let untyped_null = value.is_none() && field_ty == Type::UNKNOWN;
        if !untyped_null && !T::accepts(&field_ty) {
            return Err(format!(
                "field {i}{name} of {} has type {field_ty}, which cannot decode into Rust type {}",
                self.ty,
                T::rust_type_name()
            )
            .into());
        }
        match value {
            Some(bytes) => {
                T::decode(&field_ty, bytes).map_err(|e| format!("field {i}{name}: {e}").into())
            }
            None => T::decode_null(&field_ty).map_err(|e| {
                if e.is::<UnexpectedNull>() {
                    format!(
                        "field {i}{name} is NULL but Rust type {} cannot hold NULL; use an Option",
                        T::rust_type_name()
                    )
                    .into()
                } else {
                    e
                }
            }),
        }
    }

    /// Checks that every field was read and no bytes are left.
    pub fn finish(self) -> Result<(), BoxError> {
        if self.next != self.count {
            return Err(format!(
                "{} has {} fields but Rust read {}",
                self.ty, self.count, self.next
            )
            .into());
        }
        if !self.raw.is_empty() {
            return Err(format!(
                "invalid composite: {} bytes after the last field",
                self.raw.len()
            )
            .into());
        }
        Ok(())
    }
}

/// Writes the fields of a composite value one by one, checking each field's type.
///
/// What an encoder for a user's struct (or a `#[derive]`) uses:
///
/// ```
/// use pgtusk::types::{CompositeWriter, Encode, IsNull, Type};
/// use pgtusk::BoxError;
///
/// struct Point3 { x: f64, y: f64, label: Option<String> }
///
/// impl Encode for Point3 {
///     fn accepts(ty: &Type) -> bool {
///         CompositeWriter::field_count(ty) == Some(3)
///     }
///     fn encode(&self, ty: &Type, buf: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
///         let mut fields = CompositeWriter::new(ty, buf)?;
///         fields.write(&self.x)?;
///         fields.write(&self.y)?;
///         fields.write(&self.label)?;
///         fields.finish()
///     }
/// }
/// ```
#[derive(Debug)]
pub struct CompositeWriter<'a> {
    ty: &'a Type,
    fields: &'a [Field],
    buf: &'a mut BytesMut,
    next: usize,
}

impl<'a> CompositeWriter<'a> {
    /// The number of fields of `ty` if it is a named composite type travelling in binary.
    pub fn field_count(ty: &Type) -> Option<usize> {
        composite_fields(ty)
            .filter(|_| ty.is_binary())
            .map(<[Field]>::len)
    }

    /// Starts writing a value of the composite type `ty`.
    pub fn new(ty: &'a Type, buf: &'a mut BytesMut) -> Result<Self, BoxError> {
        let fields = composite_fields(ty).ok_or_else(|| {
            format!("{ty} is not a named composite type (an anonymous record cannot be sent)")
        })?;
        buf.put_i32(i32::try_from(fields.len()).map_err(|_| "too many fields")?);
        Ok(CompositeWriter {
            ty,
            fields,
            buf,
            next: 0,
        })
    }

    /// Writes the next field, after checking that T can be the field's type.
    pub fn write<T: Encode>(&mut self, value: &T) -> Result<(), BoxError> {
        let i = self.next;
        let field = self.fields.get(i).ok_or_else(|| {
            format!(
                "{} has {} fields; Rust writes a field {}",
                self.ty,
                self.fields.len(),
                i + 1
            )
        })?;
        let field_ty = field.ty.base_type();
        if !field_ty.is_binary() || !T::accepts(field_ty) {
            return Err(format!(
                "field {i} \"{}\" of {}: Rust type {} cannot be sent as {}",
                field.name,
                self.ty,
                value.rust_type_name(),
                field.ty
            )
            .into());
        }
        self.buf.put_u32(field.ty.oid());
        let at = self.buf.len();
        self.buf.put_i32(0);
        match value
            .encode(field_ty, self.buf)
            .map_err(|e| format!("field {i} \"{}\": {e}", field.name))?
        {
            IsNull::Yes => {
                self.buf.truncate(at);
                self.buf.put_i32(-1);
            }
            IsNull::No => {
                let len = i32::try_from(self.buf.len() - at - 4)
                    .map_err(|_| format!("field {i} is larger than 2 GiB"))?;
                self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
        self.next += 1;
        Ok(())
    }

    /// Checks that every field was written.
    pub fn finish(self) -> Result<IsNull, BoxError> {
        if self.next != self.fields.len() {
            return Err(format!(
                "{} has {} fields but Rust wrote {}",
                self.ty,
                self.fields.len(),
                self.next
            )
            .into());
        }
        Ok(IsNull::No)
    }
}

/// Whether Rust fields that accept `accepts` (in order) can be the composite `ty`; an
/// anonymous record (decode only) is checked field by field when read.
fn accepts_fields(ty: &Type, accepts: &[fn(&Type) -> bool], record: bool) -> bool {
    if !ty.is_binary() {
        return false;
    }
    if record && *ty == Type::RECORD {
        return true;
    }
    composite_fields(ty).is_some_and(|fields| {
        fields.len() == accepts.len()
            && fields
                .iter()
                .zip(accepts)
                .all(|(f, accepts)| accepts(f.ty.base_type()))
    })
}

macro_rules! tuples {
    ($( ($($t:ident $i:tt),+) )+) => {$(
        impl<'r, $($t: Decode<'r>),+> Decode<'r> for ($($t,)+) {
            fn accepts(ty: &Type) -> bool {
                accepts_fields(ty, &[$(<$t as Decode<'r>>::accepts),+], true)
            }

            fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
                let mut fields = CompositeReader::new(ty, raw)?;
                let value = ($(fields.read::<$t>()?,)+);
                fields.finish()?;
                Ok(value)
            }
        }

        impl<$($t: Encode),+> Encode for ($($t,)+) {
            fn accepts(ty: &Type) -> bool {
                accepts_fields(ty, &[$(<$t as Encode>::accepts),+], false)
            }

            fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
                let mut fields = CompositeWriter::new(ty, buf)?;
                $(fields.write(&self.$i)?;)+
                fields.finish()
            }
        }
    )+};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ROW(7, 'hi') as record_send writes it.
    fn record() -> Vec<u8> {
        let mut b = BytesMut::new();
        b.put_i32(2);
        b.put_u32(23);
        b.put_i32(4);
        b.put_i32(7);
        b.put_u32(25);
        b.put_i32(2);
        b.put_slice(b"hi");
        b.to_vec()
    }

    #[test]
    fn anonymous_records_decode_by_wire_oids() {
        let raw = record();
        let (n, s): (i32, String) = Decode::decode(&Type::RECORD, &raw).unwrap();
        assert_eq!((n, s.as_str()), (7, "hi"));
        let err = <(i32,) as Decode>::decode(&Type::RECORD, &raw).unwrap_err();
        assert!(err.to_string().contains("read 1"), "{err}");
        let err = <(String, String) as Decode>::decode(&Type::RECORD, &raw).unwrap_err();
        assert!(err.to_string().contains("field 0"), "{err}");
    }

    #[test]
    fn malformed_records_are_errors() {
        let raw = record();
        for len in 0..raw.len() {
            assert!(<(i32, String) as Decode>::decode(&Type::RECORD, &raw[..len]).is_err());
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert!(<(i32, String) as Decode>::decode(&Type::RECORD, &longer).is_err());
        let mut huge = raw.clone();
        huge[..4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(<(i32, String) as Decode>::decode(&Type::RECORD, &huge).is_err());
        let mut unknown = raw;
        unknown[4..8].copy_from_slice(&999_999u32.to_be_bytes());
        let err = <(i32, String) as Decode>::decode(&Type::RECORD, &unknown).unwrap_err();
        assert!(err.to_string().contains("named composite"), "{err}");
    }
}
