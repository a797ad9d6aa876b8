//! The `hstore` extension type ↔ `HashMap<String, Option<String>>`, in its binary format
//! (`hstore_send` / `hstore_recv`): a pair count (i32), then per pair the key as a length (i32)
//! and UTF-8 bytes, and the value the same way (length -1 for NULL).
//!
//! hstore is found by name (`hstore`, in any schema) once the connection has looked it up.

use std::collections::HashMap;
use std::hash::BuildHasher;

use bytes::{BufMut, BytesMut};

use super::array::{read_i32, read_value};
use super::{Decode, Encode, IsNull, Kind, Type};
use crate::error::BoxError;

/// Whether `ty` is the hstore extension type.
pub(crate) fn is_hstore(ty: &Type) -> bool {
    matches!(ty.kind(), Kind::Simple) && ty.name() == "hstore"
}

fn put_text(s: &str, what: &str, buf: &mut BytesMut) -> Result<(), BoxError> {
    if s.as_bytes().contains(&0) {
        return Err(format!("an hstore {what} cannot contain a NUL byte (\\0)").into());
    }
    buf.put_i32(i32::try_from(s.len()).map_err(|_| format!("hstore {what} too long"))?);
    buf.put_slice(s.as_bytes());
    Ok(())
}

impl<S: BuildHasher> Encode for HashMap<String, Option<String>, S> {
    fn accepts(ty: &Type) -> bool {
        is_hstore(ty)
    }

    fn encode(&self, _ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        buf.put_i32(i32::try_from(self.len()).map_err(|_| "too many hstore pairs")?);
        for (key, value) in self {
            put_text(key, "key", buf)?;
            match value {
                Some(v) => put_text(v, "value", buf)?,
                None => buf.put_i32(-1),
            }
        }
        Ok(IsNull::No)
    }
}

impl<S: BuildHasher + Default> Decode<'_> for HashMap<String, Option<String>, S> {
    fn accepts(ty: &Type) -> bool {
        is_hstore(ty)
    }

    fn decode(_ty: &Type, mut raw: &[u8]) -> Result<Self, BoxError> {
        let count = read_i32(&mut raw, "hstore pair count")?;
        let count = usize::try_from(count)
            .ok()
            // Each pair takes at least two lengths.
            .filter(|&c| c <= raw.len() / 8)
            .ok_or_else(|| format!("invalid hstore: {count} pairs in {} bytes", raw.len()))?;
        let mut map = HashMap::with_capacity_and_hasher(count, S::default());
        for i in 0..count {
            let key = read_value(&mut raw, "an hstore key")?
                .ok_or_else(|| format!("invalid hstore: key {i} is NULL"))?;
            let value = read_value(&mut raw, "an hstore value")?;
            let key = std::str::from_utf8(key)?.to_owned();
            let value = value
                .map(|v| std::str::from_utf8(v).map(str::to_owned))
                .transpose()?;
            map.insert(key, value);
        }
        if !raw.is_empty() {
            return Err(format!("invalid hstore: {} bytes after the last pair", raw.len()).into());
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CustomType;

    #[test]
    fn malformed_hstores_are_errors() {
        let ty = Type::custom(CustomType {
            oid: 99_999,
            name: "hstore".into(),
            schema: "public".into(),
            kind: Kind::Simple,
        });
        assert!(ty.is_binary());
        let map: HashMap<String, Option<String>> =
            [("a".into(), Some("1".into())), ("b".into(), None)].into();
        let mut buf = BytesMut::new();
        map.encode(&ty, &mut buf).unwrap();
        let back: HashMap<String, Option<String>> = Decode::decode(&ty, &buf).unwrap();
        assert_eq!(back, map);
        for len in 0..buf.len() {
            assert!(<HashMap<String, Option<String>> as Decode>::decode(&ty, &buf[..len]).is_err());
        }
        assert!(
            <HashMap<String, Option<String>> as Decode>::decode(&ty, &[0x7F, 0, 0, 0]).is_err()
        );
        // A NULL key.
        let raw = [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(<HashMap<String, Option<String>> as Decode>::decode(&ty, &raw).is_err());
    }
}
