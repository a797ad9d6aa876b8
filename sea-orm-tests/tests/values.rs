//! Every value sea-orm's Postgres backend binds, NULLs of each included, sent through both
//! backends and read back as the field type a model would use.

use std::fmt::Debug;

use chrono::{FixedOffset, Local, NaiveDate, TimeZone, Utc};
use pgtusk_sea_orm_tests::{Backends, fresh};
use rust_decimal::Decimal;
use sea_orm::sea_query::{ArrayType, Value};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TryGetable};

/// `sql` (one `$1`, its result column `v`) on both backends, `v` read as `Option<T>`.
async fn both<T: TryGetable + Debug>(db: &Backends, sql: &str, value: Value) -> (String, String) {
    async fn one<C: ConnectionTrait, T: TryGetable + Debug>(
        db: &C,
        sql: &str,
        value: Value,
    ) -> String {
        let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, [value]);
        match db.query_one_raw(stmt).await {
            Ok(Some(row)) => format!("{:?}", row.try_get::<Option<T>>("", "v")),
            other => format!("{other:?}"),
        }
    }
    (
        one::<_, T>(&db.tusk, sql, value.clone()).await,
        one::<_, T>(&db.sqlx, sql, value).await,
    )
}

macro_rules! check {
    ($db:expr, $t:ty, $sql:expr, $($value:expr),+ $(,)?) => {$(
        let (tusk, sqlx) = both::<$t>(&$db, $sql, $value).await;
        assert_eq!(tusk, sqlx, "{} with {:?}", $sql, $value);
        assert!(tusk.starts_with("Ok("), "{} with {:?}: {tusk}", $sql, $value);
    )+};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bound_value_round_trips_as_on_sqlx() {
    let db = fresh("so_values", false).await;
    db.tusk
        .execute_unprepared("CREATE TYPE so_feeling AS ENUM ('up', 'down')")
        .await
        .unwrap();
    check!(
        db,
        bool,
        "SELECT $1::bool AS v",
        Value::Bool(Some(true)),
        Value::Bool(None)
    );
    check!(
        db,
        i16,
        "SELECT $1::int2 AS v",
        Value::SmallInt(Some(-32768)),
        Value::SmallInt(None)
    );
    check!(
        db,
        i32,
        "SELECT $1::int4 AS v",
        Value::Int(Some(i32::MAX)),
        Value::Int(None)
    );
    check!(
        db,
        i64,
        "SELECT $1::int8 AS v",
        Value::BigInt(Some(i64::MIN)),
        Value::BigInt(None)
    );
    check!(
        db,
        f32,
        "SELECT $1::float4 AS v",
        Value::Float(Some(1.5)),
        Value::Float(None)
    );
    check!(
        db,
        f64,
        "SELECT $1::float8 AS v",
        Value::Double(Some(-0.1)),
        Value::Double(None)
    );
    check!(
        db,
        String,
        "SELECT $1::text AS v",
        Value::String(Some("O'Brien ✓".into())),
        Value::String(None)
    );
    check!(
        db,
        String,
        "SELECT $1::varchar(20) AS v",
        Value::String(Some("v".into()))
    );
    check!(
        db,
        Vec<u8>,
        "SELECT $1::bytea AS v",
        Value::Bytes(Some(vec![0, 255, 10])),
        Value::Bytes(None)
    );
    check!(
        db,
        serde_json::Value,
        "SELECT $1::jsonb AS v",
        Value::Json(Some(Box::new(
            serde_json::json!({"a": [1, null, "x"], "b": 1.25})
        ))),
        Value::Json(None)
    );
    check!(
        db,
        serde_json::Value,
        "SELECT $1::json AS v",
        Value::Json(Some(Box::new(serde_json::json!([true]))))
    );
    check!(
        db,
        uuid::Uuid,
        "SELECT $1::uuid AS v",
        Value::Uuid(Some(uuid::Uuid::from_u128(7))),
        Value::Uuid(None)
    );
    check!(
        db,
        Decimal,
        "SELECT $1::numeric AS v",
        Value::Decimal(Some(Decimal::new(-1234567890123, 4))),
        Value::Decimal(None)
    );
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let time = chrono::NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap();
    check!(
        db,
        NaiveDate,
        "SELECT $1::date AS v",
        Value::ChronoDate(Some(date)),
        Value::ChronoDate(None)
    );
    check!(
        db,
        chrono::NaiveTime,
        "SELECT $1::time AS v",
        Value::ChronoTime(Some(time)),
        Value::ChronoTime(None)
    );
    check!(
        db,
        chrono::NaiveDateTime,
        "SELECT $1::timestamp AS v",
        Value::ChronoDateTime(Some(date.and_time(time))),
        Value::ChronoDateTime(None)
    );
    let utc = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
    let fixed = FixedOffset::west_opt(3 * 3600)
        .unwrap()
        .with_ymd_and_hms(2024, 3, 1, 9, 0, 1)
        .unwrap();
    // Read back as DateTimeWithTimeZone: the variant a timestamptz column arrives as.
    check!(
        db,
        chrono::DateTime<FixedOffset>,
        "SELECT $1::timestamptz AS v",
        Value::ChronoDateTimeUtc(Some(utc)),
        Value::ChronoDateTimeUtc(None),
        Value::ChronoDateTimeWithTimeZone(Some(fixed)),
        Value::ChronoDateTimeWithTimeZone(None),
        Value::ChronoDateTimeLocal(Some(utc.with_timezone(&Local))),
        Value::ChronoDateTimeLocal(None),
    );
    check!(
        db,
        Vec<i32>,
        "SELECT $1::int4[] AS v",
        Value::Array(
            ArrayType::Int,
            Some(Box::new(vec![Value::Int(Some(1)), Value::Int(Some(-2))]))
        ),
        Value::Array(ArrayType::Int, Some(Box::new(vec![]))),
        Value::Array(ArrayType::Int, None),
    );
    check!(
        db,
        Vec<String>,
        "SELECT $1::text[] AS v",
        Value::Array(
            ArrayType::String,
            Some(Box::new(vec![
                Value::String(Some("a,b".into())),
                Value::String(Some("{\"}".into()))
            ]))
        ),
        Value::Array(ArrayType::String, None),
    );
    check!(
        db,
        Vec<uuid::Uuid>,
        "SELECT $1::uuid[] AS v",
        Value::Array(
            ArrayType::Uuid,
            Some(Box::new(vec![Value::Uuid(Some(uuid::Uuid::nil()))]))
        ),
    );
    check!(
        db,
        Vec<chrono::DateTime<FixedOffset>>,
        "SELECT $1::timestamptz[] AS v",
        Value::Array(
            ArrayType::ChronoDateTimeUtc,
            Some(Box::new(vec![Value::ChronoDateTimeUtc(Some(utc))]))
        ),
    );
    // Enums as sea-orm binds them: a string cast to the enum type; read back as text.
    check!(
        db,
        String,
        "SELECT CAST($1 AS so_feeling)::text AS v",
        Value::String(Some("down".into())),
        Value::String(None),
    );
    // Unsigned integers: whatever integer type the server asks for.
    check!(
        db,
        i64,
        "SELECT $1::int8 AS v",
        Value::Unsigned(Some(u32::MAX)),
        Value::BigUnsigned(Some(1 << 40))
    );
    check!(
        db,
        i32,
        "SELECT $1::int4 AS v",
        Value::SmallUnsigned(Some(65535))
    );
    // sqlx sends a u8 as an int2, which fails (08P01) on a connection where this SQL's
    // statement is already cached with an int4 parameter; pgtusk always sends the type the
    // server asked for.
    let (tusk, _) = both::<i32>(&db, "SELECT $1::int4 AS v", Value::TinyUnsigned(Some(255))).await;
    assert_eq!(tusk, "Ok(Some(255))");
    // sqlx sends an i8 as "char": the server will not cast that to int2 (42846), or, where
    // the statement is cached with an int2 parameter, finds one byte where it wants two
    // (08P01).
    let (tusk, sqlx) = both::<i16>(&db, "SELECT $1::int2 AS v", Value::TinyInt(Some(-128))).await;
    assert_eq!(tusk, "Ok(Some(-128))");
    assert!(sqlx.contains("42846") || sqlx.contains("08P01"), "{sqlx}");
}
