//! money ↔ [`Money`].

use bytes::{BufMut, BytesMut};

use super::{Decode, Encode, IsNull, Type, fixed};
use crate::error::BoxError;

/// A `money` value in the currency's smallest unit (cents for most locales: `Money(150)` is
/// `$1.50` under `lc_monetary = 'en_US'`). How many fractional digits a unit has depends on the
/// server's `lc_monetary`; the binary form is just this integer (`cash_send`).
///
/// ```
/// use pgtusk::types::Money;
/// let price = Money(12_345); // $123.45
/// assert_eq!(price.0, 12_345);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Money(pub i64);

impl Encode for Money {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::MONEY
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_i64(self.0);
        Ok(IsNull::No)
    }
}

impl Decode<'_> for Money {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::MONEY
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(Money(i64::from_be_bytes(fixed(ty, raw)?)))
    }
}
