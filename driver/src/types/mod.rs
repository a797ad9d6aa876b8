//! Binary codecs: the [`Encode`] and [`Decode`] traits, [`Type`], and one file per family of types.
//!
//! Every type below travels in binary. Wrapping any Rust type in `Option` sends and reads NULL.
//!
//! | PostgreSQL | Rust | feature |
//! |---|---|---|
//! | bool | `bool` | |
//! | int2, int4, int8 | `i16`, `i32`, `i64` (decoding widens, never narrows) | |
//! | oid | `u32` | |
//! | xid8 | `u64` | |
//! | float4, float8 | `f32`, `f64` (NaN, ±Infinity) | |
//! | "char" | `i8` | |
//! | numeric | `String` (exact, any size, NaN and ±Infinity), `rust_decimal::Decimal` (where it fits) | decimal |
//! | text, varchar, bpchar, name, citext, unknown | `&str`, `String`, `Box<str>`, `Cow<str>` | |
//! | bytea | `&[u8]`, `Vec<u8>`, `Box<[u8]>`, `[u8; N]` (encode), `bytes::Bytes` | |
//! | uuid | `uuid::Uuid` | uuid |
//! | json, jsonb | `serde_json::Value`, [`Json<T>`](Json), `&RawValue`, `Box<RawValue>`, `&str`, `String` | json |
//! | date | `chrono::NaiveDate`, [`MaybeInfinite<NaiveDate>`](MaybeInfinite) | chrono |
//! | time | `chrono::NaiveTime` | chrono |
//! | timetz | [`TimeTz`] | chrono |
//! | timestamp | `chrono::NaiveDateTime`, `MaybeInfinite<NaiveDateTime>` | chrono |
//! | timestamptz | `chrono::DateTime<Utc>`, `DateTime<FixedOffset>`, `DateTime<Local>`, `MaybeInfinite<..>` | chrono |
//! | interval | [`Interval`] | |
//! | inet, cidr | `std::net::IpAddr` (full prefix only), [`IpNetwork`] | |
//! | macaddr, macaddr8 | [`MacAddr`], [`MacAddr8`] | |
//! | bit, varbit | [`Bits`] | |
//! | money | [`Money`] | |
//! | point, line, lseg, box, path, polygon, circle | [`Point`], [`Line`], [`LineSegment`], [`PgBox`], [`Path`], [`Polygon`], [`Circle`] | |
//! | pg_lsn | [`PgLsn`] | |
//! | arrays of any type above | `Vec<T>`, `Vec<Option<T>>`, `&[T]`, `[T; N]` (encode), [`Array<T>`] (any dimensions and lower bounds) | |
//! | int4range, int8range, numrange, daterange, tsrange, tstzrange, custom ranges | [`Range<T>`] | |
//! | their multiranges (PostgreSQL 14+) | [`Multirange<T>`] | |
//! | composites whose fields all travel in binary, anonymous records | tuples up to 12 fields, [`CompositeReader`] / [`CompositeWriter`] for own types (records: decode only); not `String` — cast to text in SQL | |
//! | hstore (extension) | `HashMap<String, Option<String>>` | |
//! | enums | `&str`, `String` (the label), `#[derive(pgtusk::Type)]` enums | |
//! | everything else (tsvector, tsquery, xml, jsonpath, reg*, tid, xid, cid, ...) | `&str`, `String` (text format) | |
//!
//! A type whose feature is off travels as text and reads as `String`; so does an array, range or
//! composite of a type that travels as text. int2vector and oidvector keep their text form.

mod array;
mod bits;
mod builtin;
mod composite;
#[cfg(feature = "chrono")]
mod datetime;
mod geometry;
mod hstore;
mod infinite;
mod interval;
#[cfg(feature = "json")]
mod json;
mod lsn;
#[cfg(test)]
mod malformed;
mod money;
mod network;
mod numbers;
mod numeric;
mod range;
mod text;
#[cfg(feature = "uuid")]
mod uuid;

pub use array::{Array, Dimension, MAX_DIMENSIONS};
pub use bits::Bits;
pub use builtin::Kind;
pub use composite::{CompositeReader, CompositeWriter};
#[cfg(feature = "chrono")]
pub use datetime::TimeTz;
pub use geometry::{Circle, Line, LineSegment, Path, PgBox, Point, Polygon};
pub use infinite::MaybeInfinite;
pub use interval::{Interval, IntervalConversionError};
#[cfg(feature = "json")]
pub use json::Json;
pub use lsn::PgLsn;
pub use money::Money;
pub use network::{IpNetwork, MacAddr, MacAddr8};
pub use range::{Multirange, Range};

use std::fmt;
use std::sync::Arc;

use bytes::BytesMut;

use crate::error::BoxError;

/// A PostgreSQL object identifier.
pub type Oid = u32;

/// A PostgreSQL type as the server knows it: its OID, name and kind.
///
/// Built-in types are constants (`Type::INT4`, `Type::TEXT_ARRAY`, ...) and cost nothing to
/// clone; a type the driver does not know is described by the server and cached per connection.
#[derive(Clone)]
pub struct Type(Inner);

#[derive(Clone)]
enum Inner {
    Builtin(&'static builtin::Builtin),
    Custom(Arc<CustomType>),
}

/// A type found in `pg_type` at run time (enums, composites, domains, extension types, ...).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CustomType {
    pub oid: Oid,
    pub name: String,
    pub schema: String,
    pub kind: Kind,
}

impl Type {
    pub(crate) const fn from_builtin(b: &'static builtin::Builtin) -> Type {
        Type(Inner::Builtin(b))
    }

    /// A type described at run time.
    pub fn custom(custom: CustomType) -> Type {
        Type(Inner::Custom(Arc::new(custom)))
    }

    /// The built-in type with this OID, if there is one: a `pg_catalog` type with an OID below
    /// 10000 (those are the same in every PostgreSQL version). A connection looks up every
    /// other type in `pg_type` when it first meets it.
    pub fn from_oid(oid: Oid) -> Option<Type> {
        builtin::lookup(oid).map(Type::from_builtin)
    }

    /// The type's OID.
    pub fn oid(&self) -> Oid {
        match &self.0 {
            Inner::Builtin(b) => b.oid,
            Inner::Custom(c) => c.oid,
        }
    }

    /// The type's name, as in `pg_type.typname` (`int4`, `_text`, `mood`).
    pub fn name(&self) -> &str {
        match &self.0 {
            Inner::Builtin(b) => b.name,
            Inner::Custom(c) => &c.name,
        }
    }

    /// The schema the type lives in (`pg_catalog` for built-ins).
    pub fn schema(&self) -> &str {
        match &self.0 {
            Inner::Builtin(_) => "pg_catalog",
            Inner::Custom(c) => &c.schema,
        }
    }

    /// What kind of type this is: simple, array, range, enum, composite, domain ...
    pub fn kind(&self) -> &Kind {
        match &self.0 {
            Inner::Builtin(b) => &b.kind,
            Inner::Custom(c) => &c.kind,
        }
    }

    /// The type itself, or for a domain the base type it is built on (through every level):
    /// values of a domain travel in their base type's format.
    pub fn base_type(&self) -> &Type {
        let mut ty = self;
        while let Kind::Domain(base) = ty.kind() {
            ty = base;
        }
        ty
    }

    /// Whether values of this type travel in binary format (otherwise in text format).
    pub fn is_binary(&self) -> bool {
        match &self.0 {
            Inner::Builtin(b) => match &b.kind {
                // int2vector and oidvector keep their own text form ("1 2 3").
                Kind::Array(_) if matches!(b.oid, 22 | 30) => false,
                // record and record[]: the composite codec reads fields by their wire OIDs.
                Kind::Pseudo if matches!(b.oid, 2249 | 2287) => true,
                // Arrays, ranges and multiranges travel in binary when what they hold does.
                Kind::Array(elem) | Kind::Range(elem) | Kind::Multirange(elem) => elem.is_binary(),
                _ => b.binary,
            },
            Inner::Custom(c) => match &c.kind {
                Kind::Domain(base) => base.is_binary(),
                Kind::Array(elem) | Kind::Range(elem) | Kind::Multirange(elem) => elem.is_binary(),
                // An enum's binary form is its label.
                Kind::Enum(_) => true,
                // A composite travels in binary when every field does.
                Kind::Composite(fields) => fields.iter().all(|f| f.ty.is_binary()),
                // Extension types travel in text, except hstore, which has a codec.
                Kind::Simple => hstore::is_hstore(self),
                Kind::Pseudo => false,
            },
        }
    }
}

/// Types are equal when their OIDs are: an OID names one type on a server. Comparing OIDs
/// keeps `*ty == Type::INT4` in every codec's `accepts` a single integer compare.
impl PartialEq for Type {
    fn eq(&self, other: &Type) -> bool {
        self.oid() == other.oid()
    }
}

impl Eq for Type {}

impl std::hash::Hash for Type {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.oid().hash(state);
    }
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.oid())
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.schema() {
            "pg_catalog" | "public" => f.write_str(self.name()),
            schema => write!(f, "{schema}.{}", self.name()),
        }
    }
}

/// A field of a composite type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    pub name: String,
    pub ty: Type,
}

/// Whether an encoded value is SQL NULL.
pub use crate::protocol::frontend::IsNull;

/// A Rust value that can be sent as a parameter, in binary.
///
/// `accepts` says which PostgreSQL types the value can become; `encode` appends the binary
/// form for the type the server asked for. The driver checks `accepts` before it encodes, so
/// `encode` may assume the type is one it accepts.
///
/// ```
/// use pgtusk::types::{Encode, IsNull, Type};
/// use pgtusk::BoxError;
///
/// struct Celsius(f64);
///
/// impl Encode for Celsius {
///     fn accepts(ty: &Type) -> bool {
///         *ty == Type::FLOAT8
///     }
///     fn encode(&self, _ty: &Type, buf: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
///         buf.extend_from_slice(&self.0.to_be_bytes());
///         Ok(IsNull::No)
///     }
/// }
/// ```
pub trait Encode: AcceptsDyn {
    /// Whether this Rust type can be sent as a value of `ty`.
    fn accepts(ty: &Type) -> bool
    where
        Self: Sized;

    /// Append the binary form of `self` as a value of `ty` to `buf`; [`IsNull::Yes`] writes nothing.
    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError>;

    /// The Rust type's name for error messages.
    fn rust_type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// The object-safe face of [`Encode::accepts`], so `&dyn Encode` parameters can be checked.
/// Implemented for every `Encode` type; never implement it by hand.
pub trait AcceptsDyn {
    #[doc(hidden)]
    fn accepts_dyn(&self, ty: &Type) -> bool;
}

impl<T: Encode> AcceptsDyn for T {
    fn accepts_dyn(&self, ty: &Type) -> bool {
        T::accepts(ty)
    }
}

/// A Rust value that can be read from a column, in binary (or text for types with a text path).
///
/// `'r` is the row's lifetime: `&'r str` and `&'r [u8]` borrow from the row without a copy.
pub trait Decode<'r>: Sized {
    /// Whether a value of `ty` can become this Rust type.
    fn accepts(ty: &Type) -> bool;

    /// Read a non-NULL value of `ty`.
    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError>;

    /// What a NULL becomes; an error unless the type is an `Option`.
    fn decode_null(_ty: &Type) -> Result<Self, BoxError> {
        Err(Box::new(UnexpectedNull))
    }

    /// The Rust type's name for error messages.
    fn rust_type_name() -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// The error a non-`Option` decoder returns for NULL.
#[derive(Debug, Clone, Copy)]
pub struct UnexpectedNull;

impl fmt::Display for UnexpectedNull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unexpected NULL: decode into an Option to accept NULLs")
    }
}

impl std::error::Error for UnexpectedNull {}

impl<T: Encode> Encode for Option<T> {
    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Some(v) => v.encode(ty, buf),
            None => Ok(IsNull::Yes),
        }
    }
}

impl<'r, T: Decode<'r>> Decode<'r> for Option<T> {
    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }

    fn decode(ty: &Type, raw: &'r [u8]) -> Result<Self, BoxError> {
        T::decode(ty, raw).map(Some)
    }

    fn decode_null(_ty: &Type) -> Result<Self, BoxError> {
        Ok(None)
    }
}

impl<T: Encode> Encode for &T {
    fn accepts(ty: &Type) -> bool {
        T::accepts(ty)
    }

    fn encode(&self, ty: &Type, buf: &mut BytesMut) -> Result<IsNull, BoxError> {
        (**self).encode(ty, buf)
    }

    fn rust_type_name(&self) -> &'static str {
        (**self).rust_type_name()
    }
}

/// Reads exactly `N` bytes for a fixed-size binary value, or says how many were there.
#[inline(always)]
pub(crate) fn fixed<const N: usize>(ty: &Type, raw: &[u8]) -> Result<[u8; N], BoxError> {
    match raw.try_into() {
        Ok(bytes) => Ok(bytes),
        Err(_) => Err(wrong_width(ty, N, raw.len())),
    }
}

#[cold]
fn wrong_width(ty: &Type, expected: usize, got: usize) -> BoxError {
    format!(
        "invalid {} value: expected {expected} bytes, got {got}",
        ty.name()
    )
    .into()
}
