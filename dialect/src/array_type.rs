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
//! | `String`, `Char` | `text` |
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
//! The cast picks the comparison: a `citext` column compared with `text[]` compares
//! case-sensitively, and a domain with its own operators compares as its base type. Use
//! [`TuskQueryBuilder::without_casts`](crate::TuskQueryBuilder::without_casts) for such columns.

use sea_query::{ArrayType, Value};

/// The element type of a rewritten list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementType {
    /// The SQL name of the element type (`int4`); for enums, `text`.
    pub sql_name: &'static str,
    /// The sea-query array type of the bound parameter.
    pub array_type: ArrayType,
    /// For enums: the enum's type name, cast to after `text[]`.
    pub enum_name: Option<String>,
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
