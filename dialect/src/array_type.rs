//! Which PostgreSQL array type a list of sea-query [`Value`]s travels as.
//!
//! | `Value` variant | element type `T` (the list is `T[]`) |
//! |---|---|
//! | `Bool` | `bool` |
//! | `TinyInt`, `SmallInt` | `int2` |
//! | `Int` | `int4` |
//! | `BigInt` | `int8` |
//! | `TinyUnsigned` (u8) | `int2` |
//! | `SmallUnsigned` (u16) | `int4` |
//! | `Unsigned` (u32) | `int8` |
//! | `BigUnsigned` (u64) | `numeric` |
//! | `Float` | `float4` |
//! | `Double` | `float8` |
//! | `String`, `Char` | no cast: `$1`, of the left-hand side's array type (below) |
//! | `Bytes` | `bytea` |
//! | `Json` | `jsonb` (`json` has no `=` operator) |
//! | `Uuid` | `uuid` |
//! | `Decimal` | `numeric` |
//! | `ChronoDate` | `date` |
//! | `ChronoTime` | `time` |
//! | `ChronoDateTime` | `timestamp` |
//! | `ChronoDateTimeUtc`, `ChronoDateTimeLocal`, `ChronoDateTimeWithTimeZone` | `timestamptz` |
//! | `Enum` (one type name) | the enum's own type: `$1::text[]::"mood"[]` |
//! | `Array` and anything else | none: the list keeps `IN (…)` |
//!
//! Unsigned variants map to the smallest signed type that holds every value of theirs.
//!
//! # Strings take the type of the left-hand side
//!
//! In `x IN ('a', 'b')` the literals have no type of their own: they take `x`'s, so the
//! comparison is `x`'s own `=` — char(n) ignores trailing spaces, citext ignores case, a domain
//! compares as its base type, `"char"` keeps the first byte. A cast would pick another operator
//! (`bpchar = text` compares as text, where `'a  '` and `'a'` differ), so a list of strings is
//! bound as `x = ANY($1)` with no cast, and the server infers `$1`'s type from `x` exactly as it
//! types the literals: `bpchar[]`, `citext[]`, `name[]`, the base type's array for a domain, and
//! `text[]` for `varchar`, for any text expression and for a left side with no type of its own
//! (a parameter, `'b'`, `NULL`). The strings are encoded for the type the server asked for.
//! Against a column that is not a string type (`uuid_col IN ('…')`) the server asks for that
//! type's array, which strings do not encode as: an encode error naming both types, where the
//! inline literal would be parsed (and where the old `text[]` cast found no `uuid = text`).
//!
//! The other variants keep their cast: it types a left side that has no type of its own (a
//! parameter), their inline literals are typed (`1` is an int4, `1.5` a numeric), and the
//! cross-type operators the cast picks compare exactly (`int2 = int4`, `numeric = int8`: a value
//! past the column's range is not equal, as inline). Where a cast and an inline literal part:
//!
//! - floating point: a `Float`/`Double` list compares its binary value as float4/float8, where
//!   sea-query's inline `0.1` is a decimal literal. An `f32` `0.1` against a float8 column is
//!   `0.100000001…`, not float8 `0.1`; an `f64` list against a numeric column compares as float8.
//! - the quoted literals of dates, times, uuids, bytea and json take the column's type inline;
//!   with the cast they compare as the list's type (a date column against a timestamp list
//!   compares timestamps), or fail where no operator exists (a text column against uuids).

use sea_query::{ArrayType, Value};

/// The element type of a rewritten list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementType {
    /// The SQL name of the element type (`int4`); for enums and strings, `text` (strings are
    /// bound without it: [`ElementType::takes_left_type`]).
    pub sql_name: &'static str,
    /// The sea-query array type of the bound parameter.
    pub array_type: ArrayType,
    /// For enums: the enum's type name, cast to after `text[]`.
    pub enum_name: Option<String>,
}

impl ElementType {
    /// Whether the list is bound with no cast, so that it takes the type of the left-hand side
    /// as inline string literals do: lists of `String` and `Char`.
    pub fn takes_left_type(&self) -> bool {
        self.enum_name.is_none() && matches!(self.array_type, ArrayType::String | ArrayType::Char)
    }
}

/// The element type for lists of this value's variant; `None` when the variant has no array
/// rendering (the list keeps `IN (…)`).
pub fn element_type(value: &Value) -> Option<ElementType> {
    let (sql_name, array_type) = match value {
        Value::Bool(_) => ("bool", ArrayType::Bool),
        Value::TinyInt(_) => ("int2", ArrayType::TinyInt),
        Value::SmallInt(_) => ("int2", ArrayType::SmallInt),
        Value::Int(_) => ("int4", ArrayType::Int),
        Value::BigInt(_) => ("int8", ArrayType::BigInt),
        Value::TinyUnsigned(_) => ("int2", ArrayType::TinyUnsigned),
        Value::SmallUnsigned(_) => ("int4", ArrayType::SmallUnsigned),
        Value::Unsigned(_) => ("int8", ArrayType::Unsigned),
        Value::BigUnsigned(_) => ("numeric", ArrayType::BigUnsigned),
        Value::Float(_) => ("float4", ArrayType::Float),
        Value::Double(_) => ("float8", ArrayType::Double),
        Value::String(_) => ("text", ArrayType::String),
        Value::Char(_) => ("text", ArrayType::Char),
        Value::Bytes(_) => ("bytea", ArrayType::Bytes),
        Value::Json(_) => ("jsonb", ArrayType::Json),
        Value::Uuid(_) => ("uuid", ArrayType::Uuid),
        Value::Decimal(_) => ("numeric", ArrayType::Decimal),
        Value::ChronoDate(_) => ("date", ArrayType::ChronoDate),
        Value::ChronoTime(_) => ("time", ArrayType::ChronoTime),
        Value::ChronoDateTime(_) => ("timestamp", ArrayType::ChronoDateTime),
        Value::ChronoDateTimeUtc(_) => ("timestamptz", ArrayType::ChronoDateTimeUtc),
        Value::ChronoDateTimeLocal(_) => ("timestamptz", ArrayType::ChronoDateTimeLocal),
        Value::ChronoDateTimeWithTimeZone(_) => {
            ("timestamptz", ArrayType::ChronoDateTimeWithTimeZone)
        }
        Value::Enum(e) => {
            let name = match e {
                sea_query::OptionEnum::Some(e) => e.type_name.to_string(),
                sea_query::OptionEnum::None(name) => name.to_string(),
            };
            return Some(ElementType {
                sql_name: "text",
                array_type: ArrayType::String,
                enum_name: Some(name),
            });
        }
        _ => return None,
    };
    Some(ElementType {
        sql_name,
        array_type,
        enum_name: None,
    })
}
