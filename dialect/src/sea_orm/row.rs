//! pgtusk records as sea-orm rows: a [`ProxyRow`] per record, each column the
//! [`Value`] variant the model field sea-orm generates for its type reads.
//!
//! A `ProxyRow` is read by name (a model, `try_get`) and by position in key order
//! (`into_tuple`, `try_get_by_index`), and a field reads only its own variant: sea-query's
//! `DateTime<FixedOffset>: ValueType` takes `ChronoDateTimeWithTimeZone` and nothing else.
//! So the variant per PostgreSQL type is the one for the Rust type sea-orm's code generator
//! picks for that column type:
//!
//! | PostgreSQL (a domain reads as its base type) | `Value` | model field |
//! |---|---|---|
//! | bool | `Bool` | `bool` |
//! | int2, int4, int8 | `SmallInt`, `Int`, `BigInt` | `i16`, `i32`, `i64` |
//! | float4, float8 | `Float`, `Double` | `f32`, `f64` |
//! | numeric | `Decimal` | `Decimal` |
//! | text, varchar, bpchar, name, citext, enums (sea-orm selects them `::text`), types read as text | `String` | `String`, an `ActiveEnum` |
//! | "char" | `TinyInt` | `i8` |
//! | oid | `Unsigned` | `u32` |
//! | bytea | `Bytes` | `Vec<u8>` |
//! | uuid | `Uuid` | `Uuid` |
//! | date, time, timestamp | `ChronoDate`, `ChronoTime`, `ChronoDateTime` | `Date`, `Time`, `DateTime` |
//! | timestamptz | `ChronoDateTimeWithTimeZone` (offset +00:00, as sqlx decodes it) | `DateTimeWithTimeZone` |
//! | json, jsonb | `Json` | `Json`, a `FromJsonQueryResult` type |
//! | arrays of the types above | `Array` of the element's variant | `Vec<T>` |
//!
//! NULL is the column type's variant holding `None`. Two columns with the same name keep
//! the last one, as sqlx's lookup by name does.

use std::collections::BTreeMap;

use ::sea_orm::sea_query::{ArrayType, Value};
use ::sea_orm::{ProxyRow, QueryResult};
use pgtusk::Record;

use crate::value::column_value;

/// One record as a sea-orm row.
pub(crate) fn query_result(record: &Record) -> pgtusk::Result<QueryResult> {
    let mut values = BTreeMap::new();
    for (index, column) in record.columns().iter().enumerate() {
        let value = column_value(record, index)?;
        values.insert(column.name().to_owned(), for_model(value));
    }
    Ok(ProxyRow::new(values).into())
}

/// Every record as a sea-orm row.
pub(crate) fn query_results(records: &[Record]) -> pgtusk::Result<Vec<QueryResult>> {
    records.iter().map(query_result).collect()
}

/// The variant a model field reads, where it differs from [`column_value`]'s.
fn for_model(value: Value) -> Value {
    match value {
        Value::ChronoDateTimeUtc(v) => Value::ChronoDateTimeWithTimeZone(v.map(|t| t.into())),
        Value::Array(ArrayType::ChronoDateTimeUtc, items) => Value::Array(
            ArrayType::ChronoDateTimeWithTimeZone,
            items.map(|items| Box::new(items.into_iter().map(for_model).collect())),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset, TimeZone, Utc};

    #[test]
    fn timestamptz_reads_as_a_fixed_offset_datetime_at_utc() {
        let t = Utc.with_ymd_and_hms(2024, 2, 29, 12, 30, 0).unwrap();
        let Value::ChronoDateTimeWithTimeZone(Some(v)) =
            for_model(Value::ChronoDateTimeUtc(Some(t)))
        else {
            panic!("not a ChronoDateTimeWithTimeZone");
        };
        assert_eq!(v, t);
        assert_eq!(v.offset(), &FixedOffset::east_opt(0).unwrap());
        assert_eq!(
            for_model(Value::ChronoDateTimeUtc(None)),
            Value::ChronoDateTimeWithTimeZone(None)
        );
        let array = Value::Array(
            ArrayType::ChronoDateTimeUtc,
            Some(Box::new(vec![
                Value::ChronoDateTimeUtc(Some(t)),
                Value::ChronoDateTimeUtc(None),
            ])),
        );
        let fixed: DateTime<FixedOffset> = t.into();
        assert_eq!(
            for_model(array),
            Value::Array(
                ArrayType::ChronoDateTimeWithTimeZone,
                Some(Box::new(vec![
                    Value::ChronoDateTimeWithTimeZone(Some(fixed)),
                    Value::ChronoDateTimeWithTimeZone(None)
                ]))
            )
        );
    }
}
