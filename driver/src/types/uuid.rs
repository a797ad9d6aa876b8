//! uuid ↔ [`uuid::Uuid`] (feature "uuid"): 16 bytes, as `uuid_send` writes them.

use bytes::{BufMut, BytesMut};
use uuid::Uuid;

use super::{Decode, Encode, IsNull, Type, fixed};
use crate::error::BoxError;

impl Encode for Uuid {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_slice(self.as_bytes());
        Ok(IsNull::No)
    }
}

impl Decode<'_> for Uuid {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(Uuid::from_bytes(fixed(ty, raw)?))
    }
}
