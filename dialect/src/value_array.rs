//! Array columns as `Value::Array`, from either wire format: binary once the driver sends the
//! array type in binary, text until then.

use pgtusk::types::{Decode, Type};
use pgtusk::{Error, Record, Result};
use sea_query::Value;

use crate::value::{Scalar, array_type, scalar_kind};

pub(crate) fn array_value(record: &Record, index: usize, ty: &Type, elem: &Type) -> Result<Value> {
    let scalar = scalar_kind(elem);
    let at = array_type(scalar);
    let Some(raw) = record.raw(index) else {
        return Ok(Value::Array(at, None));
    };
    let fail = |m: String| Error::decode(format!("column {index} ({ty}): {m}"));
    let items = if ty.is_binary() {
        binary_items(raw)
            .map_err(fail)?
            .into_iter()
            .map(|item| from_binary(scalar, elem, item))
            .collect::<std::result::Result<Vec<_>, _>>()
    } else {
        let text = std::str::from_utf8(raw).map_err(|e| fail(e.to_string()))?;
        text_items(text)
            .map_err(fail)?
            .into_iter()
            .map(|item| from_text(scalar, item.as_deref()))
            .collect::<std::result::Result<Vec<_>, _>>()
    }
    .map_err(fail)?;
    Ok(Value::Array(at, Some(Box::new(items))))
}

/// The elements of a one-dimensional binary array; `None` for NULL.
fn binary_items(raw: &[u8]) -> std::result::Result<Vec<Option<&[u8]>>, String> {
    let mut pos = 0;
    fn int(raw: &[u8], pos: &mut usize) -> std::result::Result<i32, String> {
        let b = raw.get(*pos..*pos + 4).ok_or("array value ends early")?;
        *pos += 4;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    let ndim = int(raw, &mut pos)?;
    let _flags = int(raw, &mut pos)?;
    let _elem_oid = int(raw, &mut pos)?;
    if ndim == 0 {
        return Ok(Vec::new());
    }
    if ndim != 1 {
        return Err(format!("{ndim}-dimensional arrays have no sea-query value"));
    }
    let len = int(raw, &mut pos)?;
    let _lower = int(raw, &mut pos)?;
    let mut items = Vec::with_capacity(len.max(0) as usize);
    for _ in 0..len {
        let n = int(raw, &mut pos)?;
        if n < 0 {
            items.push(None);
        } else {
            let start = pos;
            let end = start + n as usize;
            items.push(Some(raw.get(start..end).ok_or("array element ends early")?));
            pos = end;
        }
    }
    Ok(items)
}

fn decode<'r, T: Decode<'r>>(elem: &Type, raw: &'r [u8]) -> std::result::Result<T, String> {
    if !T::accepts(elem) {
        return Err(format!("cannot read {elem} elements"));
    }
    T::decode(elem, raw).map_err(|e| e.to_string())
}

fn from_binary(s: Scalar, elem: &Type, raw: Option<&[u8]>) -> std::result::Result<Value, String> {
    macro_rules! v {
        ($variant:ident, $t:ty) => {
            Value::$variant(raw.map(|r| decode::<$t>(elem, r)).transpose()?)
        };
    }
    Ok(match s {
        Scalar::Bool => v!(Bool, bool),
        Scalar::Int2 => v!(SmallInt, i16),
        Scalar::Int4 => v!(Int, i32),
        Scalar::Int8 => v!(BigInt, i64),
        Scalar::Oid => v!(Unsigned, u32),
        Scalar::Char => v!(TinyInt, i8),
        Scalar::Float4 => v!(Float, f32),
        Scalar::Float8 => v!(Double, f64),
        Scalar::Bytes => v!(Bytes, Vec<u8>),
        Scalar::Uuid => v!(Uuid, uuid::Uuid),
        Scalar::Decimal => v!(Decimal, rust_decimal::Decimal),
        Scalar::Date => v!(ChronoDate, chrono::NaiveDate),
        Scalar::Time => v!(ChronoTime, chrono::NaiveTime),
        Scalar::Timestamp => v!(ChronoDateTime, chrono::NaiveDateTime),
        Scalar::Timestamptz => v!(ChronoDateTimeUtc, chrono::DateTime<chrono::Utc>),
        Scalar::Json => Value::Json(
            raw.map(|r| decode::<serde_json::Value>(elem, r).map(Box::new))
                .transpose()?,
        ),
        Scalar::String => v!(String, String),
    })
}

/// The elements of a one-dimensional array in text form (`{1,"a b",NULL}`); `None` for NULL.
fn text_items(text: &str) -> std::result::Result<Vec<Option<String>>, String> {
    // A lower bound other than 1 is written `[0:2]={...}`.
    let body = match text.find('=') {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let inner = body
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(|| format!("not an array: {text}"))?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Ok(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        match chars.peek() {
            Some('{') => return Err("multi-dimensional arrays have no sea-query value".into()),
            Some('"') => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => s.extend(chars.next()),
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => return Err(format!("unterminated quote in {text}")),
                    }
                }
                items.push(Some(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                let s = s.trim();
                items.push((!s.eq_ignore_ascii_case("NULL")).then(|| s.to_owned()));
            }
        }
        match chars.next() {
            Some(',') => continue,
            None => return Ok(items),
            Some(c) => return Err(format!("unexpected {c:?} in {text}")),
        }
    }
}

fn parse<T: std::str::FromStr>(s: &str) -> std::result::Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| format!("{s:?}: {e}"))
}

fn float<T: std::str::FromStr>(s: &str) -> std::result::Result<T, String>
where
    T::Err: std::fmt::Display,
{
    match s {
        "Infinity" => parse("inf"),
        "-Infinity" => parse("-inf"),
        _ => parse(s),
    }
}

fn from_text(s: Scalar, text: Option<&str>) -> std::result::Result<Value, String> {
    macro_rules! v {
        ($variant:ident, $f:expr) => {
            Value::$variant(text.map($f).transpose()?)
        };
    }
    Ok(match s {
        Scalar::Bool => v!(Bool, |t: &str| match t {
            "t" => Ok(true),
            "f" => Ok(false),
            other => Err(format!("not a bool: {other}")),
        }),
        Scalar::Int2 => v!(SmallInt, parse::<i16>),
        Scalar::Int4 => v!(Int, parse::<i32>),
        Scalar::Int8 => v!(BigInt, parse::<i64>),
        Scalar::Oid => v!(Unsigned, parse::<u32>),
        Scalar::Char => v!(TinyInt, |t: &str| Ok::<_, String>(
            t.bytes().next().unwrap_or(0) as i8
        )),
        Scalar::Float4 => v!(Float, float::<f32>),
        Scalar::Float8 => v!(Double, float::<f64>),
        Scalar::Bytes => v!(Bytes, |t: &str| {
            let hex = t
                .strip_prefix("\\x")
                .ok_or_else(|| format!("not hex bytea: {t}"))?;
            (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or_else(|| format!("bad hex in {t}"))
                })
                .collect::<std::result::Result<Vec<u8>, String>>()
        }),
        Scalar::Uuid => v!(Uuid, parse::<uuid::Uuid>),
        Scalar::Decimal => v!(Decimal, parse::<rust_decimal::Decimal>),
        Scalar::Date => v!(ChronoDate, parse::<chrono::NaiveDate>),
        Scalar::Time => v!(ChronoTime, parse::<chrono::NaiveTime>),
        Scalar::Timestamp => v!(ChronoDateTime, |t: &str| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
                .map_err(|e| format!("{t:?}: {e}"))
        }),
        Scalar::Timestamptz => v!(ChronoDateTimeUtc, |t: &str| {
            chrono::DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z")
                .map(|d| d.to_utc())
                .map_err(|e| format!("{t:?}: {e}"))
        }),
        Scalar::Json => v!(Json, |t: &str| serde_json::from_str::<serde_json::Value>(t)
            .map(Box::new)
            .map_err(|e| e.to_string())),
        Scalar::String => v!(String, |t: &str| Ok::<_, String>(t.to_owned())),
    })
}
