//! json and jsonb ↔ [`serde_json::Value`], [`Json<T>`] for any serde type, and a borrowed
//! [`serde_json::value::RawValue`] (feature "json").
//!
//! json travels as its text; jsonb as a version byte (1) followed by the text (`jsonb_send`).
//! Every Rust side here can be sent as either.

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::text::{JSONB_VERSION, jsonb_text};
use super::{Decode, Encode, IsNull, Type};
use crate::error::BoxError;

fn is_json(ty: &Type) -> bool {
    *ty == Type::JSON || *ty == Type::JSONB
}

/// The JSON text of a json or jsonb value.
fn json_bytes<'r>(ty: &Type, raw: &'r [u8]) -> Result<&'r [u8], BoxError> {
    if *ty == Type::JSONB {
        jsonb_text(raw)
    } else {
        Ok(raw)
    }
}

fn put_json<T: Serialize + ?Sized>(
    value: &T,
    ty: &Type,
    buf: &mut BytesMut,
) -> Result<IsNull, BoxError> {
    if *ty == Type::JSONB {
        buf.put_u8(JSONB_VERSION);
    }
    serde_json::to_writer(buf.writer(), value)?;
    Ok(IsNull::No)
}

/// Any `Serialize` / `DeserializeOwned` type, sent and read as json or jsonb through serde.
///
/// ```no_run
/// use pgtusk::types::Json;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Settings { theme: String, font_size: u8 }
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let s = Json(Settings { theme: "dark".into(), font_size: 12 });
/// conn.execute("UPDATE users SET settings = $1 WHERE id = 1", &[&s]).await?;
/// let Json(back): Json<Settings> = conn.fetch_value("SELECT settings FROM users WHERE id = 1", &[]).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> Encode for Json<T> {
    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        put_json(&self.0, ty, buf)
    }
}

impl<T: DeserializeOwned> Decode<'_> for Json<T> {
    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(Json(serde_json::from_slice(json_bytes(ty, raw)?)?))
    }
}

impl Encode for Value {
    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        put_json(self, ty, buf)
    }
}

impl Decode<'_> for Value {
    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        Ok(serde_json::from_slice(json_bytes(ty, raw)?)?)
    }
}

/// The JSON text, checked to be valid JSON, borrowed from the row without a copy.
impl<'r> Decode<'r> for &'r RawValue {
    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        let text = std::str::from_utf8(json_bytes(ty, raw)?)?;
        Ok(serde_json::from_str(text)?)
    }
}

impl Encode for &RawValue {
    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        if *ty == Type::JSONB {
            buf.put_u8(JSONB_VERSION);
        }
        buf.put_slice(self.get().as_bytes());
        Ok(IsNull::No)
    }
}

impl Encode for Box<RawValue> {
    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        (&**self).encode(ty, buf)
    }
}

impl Decode<'_> for Box<RawValue> {
    fn accepts(ty: &Type) -> bool {
        is_json(ty)
    }

    fn decode(ty: &Type, raw: &[u8]) -> Result<Self, BoxError> {
        <&RawValue>::decode(ty, raw).map(RawValue::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzz/ (decode): serde_json's default float parsing may miss the nearest f64
    /// by one ulp, so a number the server sent came back changed; `float_roundtrip` parses
    /// exactly.
    #[test]
    fn floats_decode_to_the_nearest_f64() {
        for text in [
            "5.533333333333332e46",
            "2.2250738585072014e-308",
            "0.1",
            "-1.7976931348623157e308",
        ] {
            let mut raw = vec![1u8];
            raw.extend_from_slice(text.as_bytes());
            let value = Value::decode(&Type::JSONB, &raw).unwrap();
            let expected: f64 = text.parse().unwrap();
            assert_eq!(
                value.as_f64().map(f64::to_bits),
                Some(expected.to_bits()),
                "{text}"
            );
        }
    }
}
