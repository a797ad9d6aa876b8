//! Records read back as sea-query values, typed by each column's PostgreSQL type.

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use pgtusk_dialect::sea_query::{ArrayType, Value};
use pgtusk_dialect::value::{column_value, record_values};
use pgtusk_dialect::{bind, params::param};
use rust_decimal::Decimal;

#[tokio::test]
async fn scalars_and_nulls_take_the_column_types_variant() {
    let mut conn = common::connect().await;
    let row = conn
        .fetch_one(
            "SELECT true, 2::int2, 4::int4, 8::int8, 1.5::float4, 2.5::float8, 'hé'::text,
                    'v'::varchar, '\\x00ff'::bytea, '00000000-0000-0000-0000-000000000001'::uuid,
                    12.345::numeric, '2024-02-29'::date, '13:14:15.5'::time,
                    '2024-02-29 13:14:15'::timestamp, '2024-02-29 13:14:15+00'::timestamptz,
                    '{\"a\": [1]}'::jsonb, '[2]'::json, 26::oid,
                    NULL::int4, NULL::text, NULL::timestamptz, NULL::jsonb",
            &[],
        )
        .await
        .unwrap();
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let time = chrono::NaiveTime::from_hms_milli_opt(13, 14, 15, 500).unwrap();
    let ts = date.and_hms_opt(13, 14, 15).unwrap();
    let want = vec![
        Value::Bool(Some(true)),
        Value::SmallInt(Some(2)),
        Value::Int(Some(4)),
        Value::BigInt(Some(8)),
        Value::Float(Some(1.5)),
        Value::Double(Some(2.5)),
        Value::String(Some("hé".into())),
        Value::String(Some("v".into())),
        Value::Bytes(Some(vec![0, 255])),
        Value::Uuid(Some(uuid::Uuid::from_u128(1))),
        Value::Decimal(Some(Decimal::new(12345, 3))),
        Value::ChronoDate(Some(date)),
        Value::ChronoTime(Some(time)),
        Value::ChronoDateTime(Some(ts)),
        Value::ChronoDateTimeUtc(Some(Utc.from_utc_datetime(&ts))),
        Value::Json(Some(Box::new(serde_json::json!({"a": [1]})))),
        Value::Json(Some(Box::new(serde_json::json!([2])))),
        Value::Unsigned(Some(26)),
        Value::Int(None),
        Value::String(None),
        Value::ChronoDateTimeUtc(None),
        Value::Json(None),
    ];
    assert_eq!(record_values(&row).unwrap(), want);
    assert_eq!(column_value(&row, 2).unwrap(), Value::Int(Some(4)));
    assert!(column_value(&row, 99).is_err());
}

#[tokio::test]
async fn arrays_round_trip_through_the_server() {
    let mut conn = common::connect().await;
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let ts = date.and_hms_micro_opt(1, 2, 3, 456_789).unwrap();
    let arrays = [
        (
            "int4[]",
            ArrayType::Int,
            vec![Value::Int(Some(1)), Value::Int(None), Value::Int(Some(-3))],
        ),
        (
            "int8[]",
            ArrayType::BigInt,
            vec![Value::BigInt(Some(i64::MIN))],
        ),
        ("int2[]", ArrayType::SmallInt, vec![]),
        (
            "bool[]",
            ArrayType::Bool,
            vec![Value::Bool(Some(true)), Value::Bool(Some(false))],
        ),
        (
            "float8[]",
            ArrayType::Double,
            vec![Value::Double(Some(0.1)), Value::Double(Some(f64::INFINITY))],
        ),
        (
            "text[]",
            ArrayType::String,
            vec![
                Value::String(Some("a b".into())),
                Value::String(Some("q\"u\\o,te{}".into())),
                Value::String(Some("NULL".into())),
                Value::String(None),
                Value::String(Some(String::new())),
            ],
        ),
        (
            "bytea[]",
            ArrayType::Bytes,
            vec![Value::Bytes(Some(vec![0, 1, 254]))],
        ),
        (
            "uuid[]",
            ArrayType::Uuid,
            vec![Value::Uuid(Some(uuid::Uuid::from_u128(7)))],
        ),
        (
            "numeric[]",
            ArrayType::Decimal,
            vec![Value::Decimal(Some(Decimal::new(-15, 1)))],
        ),
        (
            "date[]",
            ArrayType::ChronoDate,
            vec![Value::ChronoDate(Some(date))],
        ),
        (
            "timestamp[]",
            ArrayType::ChronoDateTime,
            vec![Value::ChronoDateTime(Some(ts))],
        ),
        (
            "timestamptz[]",
            ArrayType::ChronoDateTimeUtc,
            vec![Value::ChronoDateTimeUtc(Some(Utc.from_utc_datetime(&ts)))],
        ),
        (
            "jsonb[]",
            ArrayType::Json,
            vec![Value::Json(Some(Box::new(
                serde_json::json!({"k": "v\"}"}),
            )))],
        ),
    ];
    for (sql_type, at, items) in arrays {
        let value = Value::Array(at.clone(), Some(Box::new(items)));
        let params = bind(vec![value.clone()]).unwrap();
        let row = conn
            .fetch_one(&format!("SELECT $1::{sql_type}"), &params.as_refs())
            .await
            .unwrap_or_else(|e| panic!("{sql_type}: {e}"));
        assert_eq!(column_value(&row, 0).unwrap(), value, "{sql_type}");
        // A NULL array reads back as the same variant's None.
        let null = param(Value::Array(at.clone(), None)).unwrap();
        let row = conn
            .fetch_one(&format!("SELECT $1::{sql_type}"), &[null.as_ref()])
            .await
            .unwrap();
        assert_eq!(
            column_value(&row, 0).unwrap(),
            Value::Array(at, None),
            "{sql_type}"
        );
    }
}
