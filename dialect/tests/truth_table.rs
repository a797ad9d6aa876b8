//! `IN`/`NOT IN` and the dialect's `= ANY`/`<> ALL` give the same truth value (true, false or
//! NULL) for every variant in the type table, for lists with NULLs, duplicates, and no items,
//! against columns holding NULLs.

mod common;

use chrono::{FixedOffset, Local, NaiveDate, TimeZone, Utc};
use pgtusk_dialect::sea_query::{
    BinOper, Enum, Expr, ExprTrait, OptionEnum, Order, PostgresQueryBuilder, Query,
    QueryStatementWriter, Value, Values,
};
use pgtusk_dialect::{TuskQueryBuilder, bind};
use rust_decimal::Decimal;

async fn rows(
    conn: &mut pgtusk::Connection,
    stmt: &impl QueryStatementWriter,
    b: Builder,
) -> Vec<Vec<Option<Vec<u8>>>> {
    let (sql, values) = match b {
        Builder::Postgres => stmt.build(PostgresQueryBuilder),
        Builder::Tusk => stmt.build(TuskQueryBuilder::new()),
        Builder::NoCasts => stmt.build(TuskQueryBuilder::new().without_casts()),
        Builder::Inline => (stmt.to_string(PostgresQueryBuilder), Values(Vec::new())),
    };
    let params = bind(values).unwrap();
    let rows = conn
        .fetch(&sql, &params.as_refs())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    common::raw_rows(&rows)
}

#[derive(Clone, Copy, Debug)]
enum Builder {
    Postgres,
    Tusk,
    NoCasts,
    /// PostgresQueryBuilder with the values written inline: `IN (1, 2)`.
    Inline,
}

/// Table `t` of `sql_type` holds a, b, c and NULL; every list of a, b, c, d (not in the table)
/// and NULL is compared, IN and NOT IN, as a projected boolean so NULL and false differ.
async fn check(sql_type: &str, [a, b, c, d]: [Value; 4], null: Value) {
    let mut conn = common::connect().await;
    conn.execute_script(&format!(
        "CREATE TEMP TABLE t (k int4 PRIMARY KEY, v {sql_type})"
    ))
    .await
    .unwrap();
    let insert = Query::insert()
        .into_table("t")
        .columns(["k", "v"])
        .values_panic([1.into(), a.clone().into()])
        .values_panic([2.into(), b.clone().into()])
        .values_panic([3.into(), c.clone().into()])
        .values_panic([4.into(), null.clone().into()])
        .to_owned();
    let (sql, values) = insert.build(TuskQueryBuilder::new());
    conn.execute(&sql, &bind(values).unwrap().as_refs())
        .await
        .unwrap_or_else(|e| panic!("{sql_type}: {sql}: {e}"));

    let lists: Vec<Vec<Value>> = vec![
        vec![a.clone()],
        vec![a.clone(), b.clone()],
        vec![a.clone(), a.clone()],
        vec![d.clone()],
        vec![a.clone(), null.clone()],
        vec![d.clone(), null.clone()],
        vec![null.clone()],
        vec![c.clone(), b.clone(), a.clone(), d.clone()],
    ];
    for list in &lists {
        for not in [false, true] {
            let test = if not {
                Expr::col("v").is_not_in(list.iter().cloned())
            } else {
                Expr::col("v").is_in(list.iter().cloned())
            };
            let select = Query::select()
                .column("k")
                .expr_as(test, "r")
                .from("t")
                .order_by("k", Order::Asc)
                .to_owned();
            let want = rows(&mut conn, &select, Builder::Postgres).await;
            assert_eq!(want.len(), 4);
            for b in [Builder::Tusk, Builder::NoCasts] {
                let got = rows(&mut conn, &select, b).await;
                assert_eq!(got, want, "{sql_type}, not: {not}, list {list:?}, {b:?}");
            }
        }
    }
    // Empty lists: IN () is false, NOT IN () is true, whatever the left side.
    for (not, truth) in [(false, 0u8), (true, 1u8)] {
        let test = if not {
            Expr::col("v").is_not_in(Vec::<Value>::new())
        } else {
            Expr::col("v").is_in(Vec::<Value>::new())
        };
        let select = Query::select().expr_as(test, "r").from("t").to_owned();
        for b in [Builder::Tusk, Builder::NoCasts] {
            let got = rows(&mut conn, &select, b).await;
            assert_eq!(
                got,
                vec![vec![Some(vec![truth])]; 4],
                "{sql_type}: empty, not: {not}"
            );
        }
    }
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 2, d).unwrap()
}

#[tokio::test]
async fn bool() {
    // Only two values: d repeats b.
    check(
        "bool",
        [true.into(), false.into(), true.into(), false.into()],
        Value::Bool(None),
    )
    .await;
}

#[tokio::test]
async fn integers() {
    check(
        "int2",
        [1i8.into(), (-2i8).into(), 3i8.into(), 9i8.into()],
        Value::TinyInt(None),
    )
    .await;
    check(
        "int2",
        [1i16.into(), (-2i16).into(), 3i16.into(), 9i16.into()],
        Value::SmallInt(None),
    )
    .await;
    check(
        "int4",
        [1i32.into(), (-2i32).into(), 3i32.into(), 9i32.into()],
        Value::Int(None),
    )
    .await;
    check(
        "int8",
        [1i64.into(), (-2i64).into(), i64::MAX.into(), 9i64.into()],
        Value::BigInt(None),
    )
    .await;
}

#[tokio::test]
async fn unsigned_integers() {
    check(
        "int2",
        [1u8.into(), u8::MAX.into(), 3u8.into(), 9u8.into()],
        Value::TinyUnsigned(None),
    )
    .await;
    check(
        "int4",
        [1u16.into(), u16::MAX.into(), 3u16.into(), 9u16.into()],
        Value::SmallUnsigned(None),
    )
    .await;
    check(
        "int8",
        [1u32.into(), u32::MAX.into(), 3u32.into(), 9u32.into()],
        Value::Unsigned(None),
    )
    .await;
    check(
        "numeric",
        [1u64.into(), u64::MAX.into(), 3u64.into(), 9u64.into()],
        Value::BigUnsigned(None),
    )
    .await;
}

#[tokio::test]
async fn floats() {
    check(
        "float4",
        [
            1.5f32.into(),
            (-0.25f32).into(),
            f32::INFINITY.into(),
            9.0f32.into(),
        ],
        Value::Float(None),
    )
    .await;
    check(
        "float8",
        [1.5f64.into(), 0.1f64.into(), f64::NAN.into(), 9.0f64.into()],
        Value::Double(None),
    )
    .await;
}

#[tokio::test]
async fn text_and_bytes() {
    check(
        "text",
        [
            "ann".into(),
            "a \"quoted\" \\ back,slash".into(),
            "ünï{}".into(),
            "NULL".into(),
        ],
        Value::String(None),
    )
    .await;
    check(
        "text",
        ['a'.into(), '"'.into(), 'ü'.into(), 'z'.into()],
        Value::Char(None),
    )
    .await;
    check(
        "bytea",
        [
            vec![0u8, 1].into(),
            vec![255u8].into(),
            Vec::<u8>::new().into(),
            vec![9u8].into(),
        ],
        Value::Bytes(None),
    )
    .await;
}

#[tokio::test]
async fn json_uuid_decimal() {
    check(
        "jsonb",
        [
            serde_json::json!({"a": 1}).into(),
            serde_json::json!([1, "two"]).into(),
            serde_json::json!("s\"q").into(),
            serde_json::json!(null).into(),
        ],
        Value::Json(None),
    )
    .await;
    check(
        "uuid",
        [
            uuid::Uuid::from_u128(1).into(),
            uuid::Uuid::from_u128(u128::MAX).into(),
            uuid::Uuid::from_u128(3).into(),
            uuid::Uuid::from_u128(9).into(),
        ],
        Value::Uuid(None),
    )
    .await;
    check(
        "numeric",
        [
            Decimal::new(15, 1).into(),
            Decimal::new(-1, 28).into(),
            Decimal::MAX.into(),
            Decimal::new(9, 0).into(),
        ],
        Value::Decimal(None),
    )
    .await;
}

#[tokio::test]
async fn dates_and_times() {
    check(
        "date",
        [
            date(1).into(),
            date(2).into(),
            date(29).into(),
            date(9).into(),
        ],
        Value::ChronoDate(None),
    )
    .await;
    let t = |h, m| chrono::NaiveTime::from_hms_micro_opt(h, m, 5, 123_456).unwrap();
    check(
        "time",
        [
            t(1, 2).into(),
            t(23, 59).into(),
            t(0, 0).into(),
            t(9, 9).into(),
        ],
        Value::ChronoTime(None),
    )
    .await;
    let dt = |d| date(d).and_time(t(3, 4));
    check(
        "timestamp",
        [dt(1).into(), dt(2).into(), dt(3).into(), dt(9).into()],
        Value::ChronoDateTime(None),
    )
    .await;
    let utc = |d| Utc.from_utc_datetime(&dt(d));
    check(
        "timestamptz",
        [utc(1).into(), utc(2).into(), utc(3).into(), utc(9).into()],
        Value::ChronoDateTimeUtc(None),
    )
    .await;
    let local = |d| Local.from_utc_datetime(&dt(d));
    check(
        "timestamptz",
        [
            local(1).into(),
            local(2).into(),
            local(3).into(),
            local(9).into(),
        ],
        Value::ChronoDateTimeLocal(None),
    )
    .await;
    let off = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    let fixed = |d| off.from_utc_datetime(&dt(d));
    check(
        "timestamptz",
        [
            fixed(1).into(),
            fixed(2).into(),
            fixed(3).into(),
            fixed(9).into(),
        ],
        Value::ChronoDateTimeWithTimeZone(None),
    )
    .await;
}

fn mood(label: &'static str) -> Value {
    Value::Enum(OptionEnum::Some(Box::new(Enum {
        type_name: "mood".into(),
        value: label.into(),
    })))
}

#[tokio::test]
async fn enums() {
    let mut conn = common::connect().await;
    conn.execute_script(
        "DO $$ BEGIN CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic');
         EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    .await
    .unwrap();
    check(
        "mood",
        [mood("sad"), mood("ok"), mood("happy"), mood("ecstatic")],
        Value::Enum(OptionEnum::None("mood".into())),
    )
    .await;
}

#[tokio::test]
async fn row_values_with_nulls() {
    let mut conn = common::connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE pairs (k int4 PRIMARY KEY, a int4, b int8);
         INSERT INTO pairs VALUES (1, 1, 10), (2, 2, NULL), (3, NULL, 30), (4, 4, 40), (5, NULL, NULL)",
    )
    .await
    .unwrap();
    // (Strings take their column's type, so rows with strings keep IN: tests/string_lists.rs.)
    let lists: Vec<Vec<(Option<i32>, Option<i64>)>> = vec![
        vec![(Some(1), Some(10))],
        vec![(Some(1), Some(10)), (Some(1), Some(10))],
        vec![(Some(2), None), (None, Some(30))],
        vec![(Some(4), Some(99)), (None, None)],
        vec![(Some(9), Some(90))],
    ];
    for list in &lists {
        for not in [false, true] {
            let left = Expr::tuple([Expr::col("a"), Expr::col("b")]);
            let test = match left.in_tuples(list.iter().cloned()) {
                // sea-query has no not_in_tuples: the same tree with NOT IN.
                Expr::Binary(l, _, r) if not => Expr::Binary(l, BinOper::NotIn, r),
                other => other,
            };
            let select = Query::select()
                .column("k")
                .expr_as(test, "r")
                .from("pairs")
                .order_by("k", Order::Asc)
                .to_owned();
            assert!(
                select.build(TuskQueryBuilder::new()).0.contains("unnest("),
                "not rewritten"
            );
            let want = rows(&mut conn, &select, Builder::Postgres).await;
            assert_eq!(want.len(), 5);
            let got = rows(&mut conn, &select, Builder::Tusk).await;
            assert_eq!(got, want, "not: {not}, list {list:?}");
        }
    }
}

/// A list of one number type against a column of another compares as the inline `IN (1, 2.5)`
/// does: the cast picks exact cross-type operators (`int2 = int4`, `numeric = int8`), and a
/// value past the column's range is simply not equal.
#[tokio::test]
async fn numbers_of_another_type_compare_as_inline_in() {
    let ints = |v: &[Option<i32>]| v.iter().map(|&x| Value::Int(x)).collect::<Vec<_>>();
    let bigs = |v: &[i64]| {
        v.iter()
            .map(|&x| Value::BigInt(Some(x)))
            .collect::<Vec<_>>()
    };
    let smalls = |v: &[i16]| {
        v.iter()
            .map(|&x| Value::SmallInt(Some(x)))
            .collect::<Vec<_>>()
    };
    let decimals = |v: &[(i64, u32)]| {
        v.iter()
            .map(|&(m, s)| Value::Decimal(Some(Decimal::new(m, s))))
            .collect::<Vec<_>>()
    };
    let doubles = |v: &[f64]| {
        v.iter()
            .map(|&x| Value::Double(Some(x)))
            .collect::<Vec<_>>()
    };
    let floats = |v: &[f32]| v.iter().map(|&x| Value::Float(Some(x))).collect::<Vec<_>>();
    let cases: Vec<(&str, &str, Vec<Vec<Value>>)> = vec![
        (
            "int2",
            "1, -2, 32767, NULL",
            vec![
                ints(&[Some(1)]),
                ints(&[Some(70000), Some(1)]),
                ints(&[Some(32767), None]),
                bigs(&[1, 5_000_000_000]),
                decimals(&[(10, 1), (15, 1)]),
                doubles(&[1.0, -2.5]),
            ],
        ),
        (
            "int4",
            "1, -2, 2147483647, NULL",
            vec![
                smalls(&[1, -2]),
                bigs(&[2147483647, 5_000_000_000]),
                decimals(&[(-20, 1), (15, 1)]),
                doubles(&[1.0, 2.5]),
            ],
        ),
        (
            "int8",
            "1, -2, 5000000000, NULL",
            vec![
                ints(&[Some(1), None]),
                smalls(&[-2]),
                decimals(&[(5_000_000_000, 0)]),
            ],
        ),
        (
            "numeric",
            "1, 1.5, 0.1, 70000, NULL",
            vec![
                ints(&[Some(1), Some(70000)]),
                smalls(&[1]),
                bigs(&[70000]),
                decimals(&[(150, 2), (1, 1)]),
                doubles(&[1.5, 0.25]),
            ],
        ),
        (
            "float8",
            "1, 1.5, 0.25, NULL",
            vec![ints(&[Some(1)]), floats(&[1.5, 0.25]), decimals(&[(15, 1)])],
        ),
    ];
    let mut conn = common::connect().await;
    for (sql_type, stored, lists) in cases {
        conn.execute_script(&format!(
            "DROP TABLE IF EXISTS n; CREATE TEMP TABLE n (k serial PRIMARY KEY, v {sql_type});
             INSERT INTO n (v) SELECT unnest('{{{stored}}}'::{sql_type}[])"
        ))
        .await
        .unwrap();
        for list in &lists {
            for not in [false, true] {
                let items = list.iter().cloned();
                let test = if not {
                    Expr::col("v").is_not_in(items)
                } else {
                    Expr::col("v").is_in(items)
                };
                let select = Query::select()
                    .column("k")
                    .expr_as(test, "r")
                    .from("n")
                    .order_by("k", Order::Asc)
                    .to_owned();
                let want = rows(&mut conn, &select, Builder::Inline).await;
                let got = rows(&mut conn, &select, Builder::Tusk).await;
                assert_eq!(got, want, "{sql_type}, not: {not}, list {list:?}");
            }
        }
    }
}
