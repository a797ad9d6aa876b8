//! Records as sea-query values, for ORM backends that work with dynamic values.
//!
//! | PostgreSQL (a domain reads as its base type) | `Value` |
//! |---|---|
//! | bool | `Bool` |
//! | int2, int4, int8 | `SmallInt`, `Int`, `BigInt` |
//! | oid | `Unsigned` |
//! | float4, float8 | `Float`, `Double` |
//! | text, varchar, bpchar, name, citext, enums, and every type read as text | `String` |
//! | "char" | `TinyInt` |
//! | bytea | `Bytes` |
//! | uuid | `Uuid` |
//! | numeric | `Decimal` (an error for NaN, ±Infinity and values past 28 digits) |
//! | date, time, timestamp, timestamptz | `ChronoDate`, `ChronoTime`, `ChronoDateTime`, `ChronoDateTimeUtc` |
//! | json, jsonb | `Json` |
//! | arrays of the types above | `Array` of the element's variant |
//!
//! NULL becomes the column type's variant holding `None` (`Value::Int(None)` for an int4 NULL).

use pgtusk::types::{Kind, Type};
use pgtusk::{Error, Record, Result};
use sea_query::{ArrayType, Value};

/// Every column of the record, in order.
pub fn record_values(record: &Record) -> Result<Vec<Value>> {
    (0..record.len()).map(|i| column_value(record, i)).collect()
}

/// Column `index` of the record as a [`Value`], chosen by the column's type.
pub fn column_value(record: &Record, index: usize) -> Result<Value> {
    let column = record
        .columns()
        .get(index)
        .ok_or_else(|| Error::decode(format!("no column {index} in this row")))?;
    let ty = column.type_().base_type().clone();
    if let Kind::Array(elem) = ty.kind() {
        return crate::value_array::array_value(record, index, &ty, elem.base_type());
    }
    Ok(match scalar_kind(&ty) {
        Scalar::Bool => Value::Bool(record.try_get(index)?),
        Scalar::Int2 => Value::SmallInt(record.try_get(index)?),
        Scalar::Int4 => Value::Int(record.try_get(index)?),
        Scalar::Int8 => Value::BigInt(record.try_get(index)?),
        Scalar::Oid => Value::Unsigned(record.try_get(index)?),
        Scalar::Char => Value::TinyInt(record.try_get(index)?),
        Scalar::Float4 => Value::Float(record.try_get(index)?),
        Scalar::Float8 => Value::Double(record.try_get(index)?),
        Scalar::Bytes => Value::Bytes(record.try_get(index)?),
        Scalar::Uuid => Value::Uuid(record.try_get(index)?),
        Scalar::Decimal => Value::Decimal(record.try_get(index)?),
        Scalar::Date => Value::ChronoDate(record.try_get(index)?),
        Scalar::Time => Value::ChronoTime(record.try_get(index)?),
        Scalar::Timestamp => Value::ChronoDateTime(record.try_get(index)?),
        Scalar::Timestamptz => Value::ChronoDateTimeUtc(record.try_get(index)?),
        Scalar::Json => Value::Json(
            record
                .try_get::<Option<serde_json::Value>>(index)?
                .map(Box::new),
        ),
        Scalar::String => Value::String(record.try_get(index)?),
    })
}

/// How a scalar type reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Char,
    Float4,
    Float8,
    Bytes,
    Uuid,
    Decimal,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Json,
    String,
}

pub(crate) fn scalar_kind(ty: &Type) -> Scalar {
    // Built-in OIDs (pg_type.dat): Type constants cannot be patterns.
    match ty.oid() {
        16 => Scalar::Bool,
        21 => Scalar::Int2,
        23 => Scalar::Int4,
        20 => Scalar::Int8,
        26 => Scalar::Oid,
        18 => Scalar::Char,
        700 => Scalar::Float4,
        701 => Scalar::Float8,
        17 => Scalar::Bytes,
        2950 => Scalar::Uuid,
        1700 => Scalar::Decimal,
        1082 => Scalar::Date,
        1083 => Scalar::Time,
        1114 => Scalar::Timestamp,
        1184 => Scalar::Timestamptz,
        114 | 3802 => Scalar::Json,
        _ => Scalar::String,
    }
}

pub(crate) fn array_type(s: Scalar) -> ArrayType {
    match s {
        Scalar::Bool => ArrayType::Bool,
        Scalar::Int2 => ArrayType::SmallInt,
        Scalar::Int4 => ArrayType::Int,
        Scalar::Int8 => ArrayType::BigInt,
        Scalar::Oid => ArrayType::Unsigned,
        Scalar::Char => ArrayType::TinyInt,
        Scalar::Float4 => ArrayType::Float,
        Scalar::Float8 => ArrayType::Double,
        Scalar::Bytes => ArrayType::Bytes,
        Scalar::Uuid => ArrayType::Uuid,
        Scalar::Decimal => ArrayType::Decimal,
        Scalar::Date => ArrayType::ChronoDate,
        Scalar::Time => ArrayType::ChronoTime,
        Scalar::Timestamp => ArrayType::ChronoDateTime,
        Scalar::Timestamptz => ArrayType::ChronoDateTimeUtc,
        Scalar::Json => ArrayType::Json,
        Scalar::String => ArrayType::String,
    }
}
