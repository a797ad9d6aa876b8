//! bool, int2/int4/int8, oid, xid8, float4/float8 and "char".

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, fixed};
use crate::error::BoxError;

macro_rules! fixed_width {
    ($rust:ty, encode: $enc:ident, decode: [$($dec:ident => $src:ty),+]) => {
        impl Encode for $rust {
            fn accepts(ty: &Type) -> bool {
                *ty == Type::$enc
            }

            fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
                buf.put_slice(&self.to_be_bytes());
                Ok(IsNull::No)
            }
        }

        /// Decoding widens losslessly (an `int2` column into `i64`), never narrows.
        impl Decode<'_> for $rust {
            fn accepts(ty: &Type) -> bool {
                $(*ty == Type::$dec)||+
            }

            // Always inlined: arrays decode one per element, and the type test folds away.
            #[inline(always)]
            fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
                $(
                    if *ty == Type::$dec {
                        return Ok(<$src>::from_be_bytes(fixed(ty, raw)?).into());
                    }
                )+
                Err(format!("{} cannot decode {}", stringify!($rust), ty).into())
            }
        }
    };
}

fixed_width!(i16, encode: INT2, decode: [INT2 => i16]);
fixed_width!(i32, encode: INT4, decode: [INT4 => i32, INT2 => i16]);
fixed_width!(i64, encode: INT8, decode: [INT8 => i64, INT4 => i32, INT2 => i16]);
fixed_width!(u32, encode: OID, decode: [OID => u32]);
fixed_width!(u64, encode: XID8, decode: [XID8 => u64]);
fixed_width!(f32, encode: FLOAT4, decode: [FLOAT4 => f32]);
fixed_width!(f64, encode: FLOAT8, decode: [FLOAT8 => f64, FLOAT4 => f32]);

impl Encode for bool {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BOOL
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_u8(u8::from(*self));
        Ok(IsNull::No)
    }
}

impl Decode<'_> for bool {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::BOOL
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        let [b] = fixed::<1>(ty, raw)?;
        Ok(b != 0)
    }
}

/// `"char"`, PostgreSQL's one-byte internal type.
impl Encode for i8 {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::CHAR
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_i8(*self);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for i8 {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::CHAR
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(i8::from_be_bytes(fixed(ty, raw)?))
    }
}
