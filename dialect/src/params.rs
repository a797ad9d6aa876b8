//! sea-query [`Value`]s as binary pgtusk parameters.
//!
//! Every value becomes the Rust type pgtusk encodes for it, NULLs included, so the driver's
//! type check sees the real type: `Value::Int(None)` is an `Option::<i32>::None`, and a
//! `Value::Array` of `Int` is an `int4[]` sent in the binary array format.
//!
//! | `Value` | Rust type sent |
//! |---|---|
//! | `Bool` | `bool` |
//! | every integer variant, signed or not | [`WideInt`]: whichever of `int2`, `int4`, `int8`, `numeric` the server asks for, if the value fits |
//! | `Float`, `Double` | `f32`, `f64` |
//! | `String`, `Char`, `Enum` | `String` (enums as their label) |
//! | `Bytes` | `Vec<u8>` |
//! | `Json` | `serde_json::Value` |
//! | `Uuid`, `Decimal` | `uuid::Uuid`, `rust_decimal::Decimal` |
//! | `ChronoDate`, `ChronoTime`, `ChronoDateTime` | `NaiveDate`, `NaiveTime`, `NaiveDateTime` |
//! | `ChronoDateTimeUtc`, `…Local`, `…WithTimeZone` | `DateTime<Utc>`, `DateTime<Local>`, `DateTime<FixedOffset>` |
//! | `Array(T, …)` | [`PgArray`] of the element's type (strings: of a string that also encodes as `"char"`, for `IN` lists the server types from a `"char"` column) |

use bytes::{BufMut, BytesMut};
use pgtusk::types::{IsNull, Kind, Type};
use pgtusk::{BoxError, Encode};
use rust_decimal::Decimal;
use sea_query::{ArrayType, Value, Values};

use crate::list_string::ListString;

/// One parameter: a boxed Rust value pgtusk can encode.
pub type Param = Box<dyn Encode + Send + Sync>;

/// The parameters of one statement, ready for [`Params::as_refs`].
#[derive(Default)]
pub struct Params(Vec<Param>);

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|p| p.rust_type_name()))
            .finish()
    }
}

impl Params {
    /// The parameters as pgtusk takes them: `conn.fetch(sql, &params.as_refs())`.
    pub fn as_refs(&self) -> Vec<&(dyn Encode + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn Encode + Sync))
            .collect()
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Turns a statement's values into pgtusk parameters.
///
/// ```
/// use pgtusk_dialect::{bind, sea_query::Value};
///
/// let params = bind(vec![Value::Int(Some(7)), Value::String(None)]).unwrap();
/// assert_eq!(params.len(), 2);
/// ```
pub fn bind(values: impl Into<BindValues>) -> pgtusk::Result<Params> {
    let values = values.into().0;
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.into_iter().enumerate() {
        out.push(param(v).map_err(|m| pgtusk::Error::encode(format!("${}: {m}", i + 1)))?);
    }
    Ok(Params(out))
}

/// What [`bind`] takes: sea-query [`Values`] or a `Vec<Value>`.
#[derive(Debug)]
pub struct BindValues(Vec<Value>);

impl From<Values> for BindValues {
    fn from(v: Values) -> Self {
        BindValues(v.0)
    }
}

impl From<Vec<Value>> for BindValues {
    fn from(v: Vec<Value>) -> Self {
        BindValues(v)
    }
}

impl From<&Values> for BindValues {
    fn from(v: &Values) -> Self {
        BindValues(v.0.clone())
    }
}

/// An integer of any sea-query integer variant, sent as whichever integer type the server
/// asks for (`int2`, `int4`, `int8`, `numeric`): `Expr::col("id").eq(5)` works on a `bigint`
/// column as it does on an `int4` one. A value that does not fit the asked-for type is an
/// encode error naming both, never a wrapped number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WideInt(pub i128);

impl Encode for WideInt {
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INT2 || *ty == Type::INT4 || *ty == Type::INT8 || *ty == Type::NUMERIC
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        let range = || format!("{} is out of range for {ty}", self.0);
        if *ty == Type::INT2 {
            buf.put_i16(i16::try_from(self.0).map_err(|_| range())?);
        } else if *ty == Type::INT4 {
            buf.put_i32(i32::try_from(self.0).map_err(|_| range())?);
        } else if *ty == Type::INT8 {
            buf.put_i64(i64::try_from(self.0).map_err(|_| range())?);
        } else {
            let d = Decimal::try_from_i128_with_scale(self.0, 0).map_err(|_| range())?;
            return d.encode(ty, buf);
        }
        Ok(IsNull::No)
    }
}

impl Element for WideInt {
    fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{}", self.0);
    }
}

fn wide<T: Into<i128>>(v: Option<T>) -> Option<WideInt> {
    v.map(|x| WideInt(x.into()))
}

/// One value as a parameter.
pub fn param(value: Value) -> Result<Param, String> {
    Ok(match value {
        Value::Bool(v) => Box::new(v),
        Value::TinyInt(v) => Box::new(wide(v)),
        Value::SmallInt(v) => Box::new(wide(v)),
        Value::Int(v) => Box::new(wide(v)),
        Value::BigInt(v) => Box::new(wide(v)),
        Value::TinyUnsigned(v) => Box::new(wide(v)),
        Value::SmallUnsigned(v) => Box::new(wide(v)),
        Value::Unsigned(v) => Box::new(wide(v)),
        Value::BigUnsigned(v) => Box::new(wide(v)),
        Value::Float(v) => Box::new(v),
        Value::Double(v) => Box::new(v),
        Value::String(v) => Box::new(v),
        Value::Char(v) => Box::new(v.map(String::from)),
        Value::Enum(sea_query::OptionEnum::Some(e)) => Box::new(Some(e.value.into_owned())),
        Value::Enum(sea_query::OptionEnum::None(_)) => Box::new(None::<String>),
        Value::Bytes(v) => Box::new(v),
        Value::Json(v) => Box::new(v.map(|j| *j)),
        Value::Uuid(v) => Box::new(v),
        Value::Decimal(v) => Box::new(v),
        Value::ChronoDate(v) => Box::new(v),
        Value::ChronoTime(v) => Box::new(v),
        Value::ChronoDateTime(v) => Box::new(v),
        Value::ChronoDateTimeUtc(v) => Box::new(v),
        Value::ChronoDateTimeLocal(v) => Box::new(v),
        Value::ChronoDateTimeWithTimeZone(v) => Box::new(v),
        Value::Array(ty, v) => array(ty, v.map(|b| *b))?,
        #[allow(unreachable_patterns)]
        other => return Err(format!("sea-query value {other:?} has no pgtusk encoding")),
    })
}

macro_rules! elems {
    ($values:expr, $variant:ident, $map:expr) => {{
        let mut out = Vec::with_capacity($values.len());
        for v in $values {
            match v {
                Value::$variant(x) => out.push(x.map($map)),
                other => return Err(format!("array of {} holds {other:?}", stringify!($variant))),
            }
        }
        out
    }};
}

fn typed<T: Element>(v: Option<Vec<Option<T>>>) -> Param {
    Box::new(v.map(PgArray))
}

/// A typed `None` whose element type is what `_map` returns.
fn none_of<A, B>(_map: impl Fn(A) -> B) -> Option<Vec<Option<B>>> {
    None
}

fn array(ty: ArrayType, values: Option<Vec<Value>>) -> Result<Param, String> {
    macro_rules! arm {
        ($variant:ident, $map:expr) => {
            match values {
                None => typed(none_of($map)),
                Some(values) => typed(Some(elems!(values, $variant, $map))),
            }
        };
    }
    Ok(match ty {
        ArrayType::Bool => arm!(Bool, |x: bool| x),
        ArrayType::TinyInt => arm!(TinyInt, |x: i8| WideInt(x.into())),
        ArrayType::SmallInt => arm!(SmallInt, |x: i16| WideInt(x.into())),
        ArrayType::Int => arm!(Int, |x: i32| WideInt(x.into())),
        ArrayType::BigInt => arm!(BigInt, |x: i64| WideInt(x.into())),
        ArrayType::TinyUnsigned => arm!(TinyUnsigned, |x: u8| WideInt(x.into())),
        ArrayType::SmallUnsigned => arm!(SmallUnsigned, |x: u16| WideInt(x.into())),
        ArrayType::Unsigned => arm!(Unsigned, |x: u32| WideInt(x.into())),
        ArrayType::BigUnsigned => arm!(BigUnsigned, |x: u64| WideInt(x.into())),
        ArrayType::Float => arm!(Float, |x: f32| x),
        ArrayType::Double => arm!(Double, |x: f64| x),
        ArrayType::String => arm!(String, ListString),
        ArrayType::Char => arm!(Char, |x: char| ListString(String::from(x))),
        ArrayType::Bytes => arm!(Bytes, |x: Vec<u8>| x),
        ArrayType::Json => arm!(Json, |x: Box<serde_json::Value>| *x),
        ArrayType::Uuid => arm!(Uuid, |x: uuid::Uuid| x),
        ArrayType::Decimal => arm!(Decimal, |x: Decimal| x),
        ArrayType::ChronoDate => arm!(ChronoDate, |x: chrono::NaiveDate| x),
        ArrayType::ChronoTime => arm!(ChronoTime, |x: chrono::NaiveTime| x),
        ArrayType::ChronoDateTime => arm!(ChronoDateTime, |x: chrono::NaiveDateTime| x),
        ArrayType::ChronoDateTimeUtc => {
            arm!(ChronoDateTimeUtc, |x: chrono::DateTime<chrono::Utc>| x)
        }
        ArrayType::ChronoDateTimeLocal => {
            arm!(ChronoDateTimeLocal, |x: chrono::DateTime<chrono::Local>| x)
        }
        ArrayType::ChronoDateTimeWithTimeZone => {
            arm!(ChronoDateTimeWithTimeZone, |x: chrono::DateTime<
                chrono::FixedOffset,
            >| x)
        }
        ArrayType::Enum(_) => match values {
            None => typed(None::<Vec<Option<String>>>),
            Some(values) => {
                let mut out = Vec::with_capacity(values.len());
                for v in values {
                    match v {
                        Value::Enum(sea_query::OptionEnum::Some(e)) => {
                            out.push(Some(e.value.into_owned()))
                        }
                        Value::Enum(sea_query::OptionEnum::None(_)) => out.push(None),
                        other => return Err(format!("array of Enum holds {other:?}")),
                    }
                }
                typed(Some(out))
            }
        },
        #[allow(unreachable_patterns)]
        other => {
            return Err(format!(
                "sea-query array of {other:?} has no pgtusk encoding"
            ));
        }
    })
}

/// A one-dimensional PostgreSQL array, sent in the binary array format; `None` items are NULL.
///
/// It encodes as whatever array type the server asks for whose element type `T` encodes, and
/// writes that element type's OID, so `PgArray<String>` serves `text[]`, `varchar[]` and
/// `citext[]` alike (an array of a domain: its elements encode as the domain's base type).
#[derive(Debug, Clone, PartialEq)]
pub struct PgArray<T>(pub Vec<Option<T>>);

impl<T: Element> Encode for PgArray<T> {
    fn accepts(ty: &Type) -> bool {
        match ty.base_type().kind() {
            Kind::Array(elem) => T::accepts(elem.base_type()),
            _ => false,
        }
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        let Kind::Array(elem) = ty.base_type().kind() else {
            return Err(format!("{ty} is not an array type").into());
        };
        // Elements of a domain travel as its base type; the header names the element type.
        let elem_oid = elem.oid();
        let elem = elem.base_type();
        if !ty.is_binary() {
            // The driver sends this array type in text format.
            self.encode_text(buf);
            return Ok(IsNull::No);
        }
        let len = i32::try_from(self.0.len()).map_err(|_| "array longer than 2^31 items")?;
        let has_null = self.0.iter().any(Option::is_none);
        if len == 0 {
            buf.put_i32(0);
            buf.put_i32(0);
            buf.put_u32(elem_oid);
            return Ok(IsNull::No);
        }
        buf.put_i32(1);
        buf.put_i32(i32::from(has_null));
        buf.put_u32(elem_oid);
        buf.put_i32(len);
        buf.put_i32(1);
        for item in &self.0 {
            let at = buf.len();
            buf.put_i32(0);
            match item {
                None => patch(buf, at, -1),
                Some(v) => match v.encode(elem, buf)? {
                    IsNull::Yes => {
                        buf.truncate(at + 4);
                        patch(buf, at, -1)
                    }
                    IsNull::No => {
                        let n = buf.len() - at - 4;
                        let n = i32::try_from(n).map_err(|_| "array element over 2 GiB")?;
                        patch(buf, at, n)
                    }
                },
            }
        }
        Ok(IsNull::No)
    }

    fn rust_type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

impl<T: Element> PgArray<T> {
    /// The text form: `{"1","2",NULL}`, every element quoted.
    fn encode_text(&self, buf: &mut BytesMut) {
        let mut out = String::with_capacity(2 + self.0.len() * 8);
        out.push('{');
        let mut text = String::new();
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match item {
                None => out.push_str("NULL"),
                Some(v) => {
                    text.clear();
                    v.write_text(&mut text);
                    out.push('"');
                    for c in text.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            }
        }
        out.push('}');
        buf.extend_from_slice(out.as_bytes());
    }
}

/// An array element: encodes in binary through pgtusk, and writes its text form for servers
/// (or driver versions) that send the array type in text format.
pub trait Element: Encode + Send + Sync + 'static {
    /// The element's PostgreSQL text input form, unquoted.
    fn write_text(&self, out: &mut String);
}

macro_rules! display_element {
    ($($ty:ty),*) => {$(
        impl Element for $ty {
            fn write_text(&self, out: &mut String) {
                use std::fmt::Write;
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

display_element!(
    bool,
    i16,
    i32,
    i64,
    String,
    Decimal,
    uuid::Uuid,
    chrono::NaiveDate,
    chrono::NaiveTime,
    chrono::NaiveDateTime,
    serde_json::Value
);

macro_rules! float_element {
    ($($ty:ty),*) => {$(
        impl Element for $ty {
            fn write_text(&self, out: &mut String) {
                use std::fmt::Write;
                if self.is_nan() {
                    out.push_str("NaN");
                } else if self.is_infinite() {
                    out.push_str(if *self > 0.0 { "Infinity" } else { "-Infinity" });
                } else {
                    let _ = write!(out, "{self:?}");
                }
            }
        }
    )*};
}

float_element!(f32, f64);

impl Element for Vec<u8> {
    fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        out.push_str("\\x");
        for b in self {
            let _ = write!(out, "{b:02x}");
        }
    }
}

impl<Tz: chrono::TimeZone + 'static> Element for chrono::DateTime<Tz>
where
    chrono::DateTime<Tz>: Encode + Send + Sync,
    Tz::Offset: std::fmt::Display,
{
    fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{}", self.format("%Y-%m-%d %H:%M:%S%.f%:z"));
    }
}

fn patch(buf: &mut BytesMut, at: usize, n: i32) {
    buf[at..at + 4].copy_from_slice(&n.to_be_bytes());
}
