//! Every scalar codec against a real server, one table per family, in the manner of asyncpg's
//! test_codecs: each value is (a) sent as `$1::T` and decoded back, (b) compared with the
//! server's own text output `$1::T::text`, and (c) decoded from the server's literal
//! `'text'::T`, so the server is the oracle in both directions.

use std::borrow::Cow;
use std::fmt::Debug;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use pgtusk::types::{
    Bits, Circle, Interval, IpNetwork, Json, Line, LineSegment, MacAddr, MacAddr8, MaybeInfinite,
    Money, Path, PgBox, PgLsn, Point, Polygon, TimeTz,
};
use pgtusk::{Connection, Decode, Encode};
use pgtusk_tests::codec_table::{Case, check_cases, decode_error, literal, norm, same};
use pgtusk_tests::connect;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use serde_json::json;
use serde_json::value::RawValue;
use uuid::Uuid;

/// Runs a table for PostgreSQL type `ty` (see `check_cases`), then checks that NULL into a
/// non-Option is an error.
async fn check<T>(conn: &mut Connection, ty: &str, cases: Vec<Case<T>>)
where
    T: Encode + Sync + for<'r> Decode<'r> + PartialEq + Debug,
{
    check_cases(conn, ty, cases).await;
    let err = conn
        .fetch_one(&*format!("SELECT NULL::{ty}"), &[])
        .await
        .unwrap()
        .try_get::<T>(0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("NULL"), "{ty}: NULL into a non-Option: {err}");
}

/// The error text of sending `value` where the server wants `sql`'s parameter.
async fn encode_error(conn: &mut Connection, sql: &str, value: &(dyn Encode + Sync)) -> String {
    let err = conn
        .fetch_one(sql, &[value])
        .await
        .expect_err(sql)
        .to_string();
    assert!(err.contains("$1"), "{sql}: {err}");
    err
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn s(v: &str) -> String {
    v.to_owned()
}

// ---------------------------------------------------------------------------------- numeric

#[tokio::test]
async fn numeric_as_string_is_exact_at_any_size() {
    let mut conn = connect().await;
    let nines: &'static str =
        Box::leak(format!("-{}.{}", "9".repeat(1000), "9".repeat(1000)).into_boxed_str());
    let tiny: &'static str = Box::leak(format!("0.{}1", "0".repeat(999)).into_boxed_str());
    let huge: &'static str = Box::leak(format!("1{}", "0".repeat(1000)).into_boxed_str());
    check(
        &mut conn,
        "numeric",
        vec![
            same(s("0"), "0"),
            same(s("0.000"), "0.000"),
            same(s("1"), "1"),
            same(s("-1"), "-1"),
            same(s("123.4500"), "123.4500"),
            same(s("9999.9999"), "9999.9999"),
            same(s("10000.0001"), "10000.0001"),
            same(s("0.00001"), "0.00001"),
            same(s("NaN"), "NaN"),
            same(s("Infinity"), "Infinity"),
            same(s("-Infinity"), "-Infinity"),
            same(s(nines), nines),
            same(s(tiny), tiny),
            same(s(huge), huge),
            norm(s("-0"), s("0"), "0"),
            norm(s("1e-1000"), s(tiny), tiny),
            norm(s("12345e10"), s("123450000000000"), "123450000000000"),
            norm(s("1.5E+3"), s("1500"), "1500"),
            norm(s(" 42 "), s("42"), "42"),
            norm(s("+.5"), s("0.5"), "0.5"),
        ],
    )
    .await;
    // Negative display scale (PostgreSQL 15): the server rounds left of the point.
    let rounded: String = conn
        .fetch_value("SELECT $1::numeric(5,-2)", &[&"12345"])
        .await
        .unwrap();
    assert_eq!(rounded, "12300");
    let rounded: Decimal = conn
        .fetch_value("SELECT 98765::numeric(5,-3)", &[])
        .await
        .unwrap();
    assert_eq!(rounded, dec("99000"));
    // Borrowed &str cannot read numeric (it is binary), Cow and Box<str> can.
    let row = conn.fetch_one("SELECT 1.25::numeric", &[]).await.unwrap();
    assert_eq!(row.get::<Cow<'_, str>>(0), "1.25");
    assert_eq!(&*row.get::<Box<str>>(0), "1.25");
    assert!(row.try_get::<&str>(0).is_err());
    for bad in ["", "1.2.3", "abc", "1e", "0x10"] {
        let err = encode_error(&mut conn, "SELECT $1::numeric", &bad).await;
        assert!(err.contains("not a valid numeric"), "{bad:?}: {err}");
    }
}

/// More than 32,767 base-10000 groups: `numeric_send` writes the count with `pq_sendint16`, so
/// it arrives as a wrapped int16, and `numeric_recv` reads it back as a uint16.
#[tokio::test]
async fn numeric_with_more_than_32767_digit_groups_round_trips() {
    let mut conn = connect().await;
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    // 131,072 nines: 32,768 groups, weight 32,767.
    let nines = leak("9".repeat(131_072));
    // The largest numeric PostgreSQL allows: 131,072 digits before the point, 16,383 after.
    let largest = leak(format!("{}.{}", "9".repeat(131_072), "9".repeat(16_383)));
    let smallest = leak(format!("-{largest}"));
    let one_then_zeros = leak(format!("1{}", "0".repeat(131_071)));
    check(
        &mut conn,
        "numeric",
        vec![
            same(s(nines), nines),
            same(s(largest), largest),
            same(s(smallest), smallest),
            same(s(one_then_zeros), one_then_zeros),
        ],
    )
    .await;
    // One digit more than PostgreSQL allows is a clear error before anything is sent.
    let err = encode_error(&mut conn, "SELECT $1::numeric", &"1e131072").await;
    assert!(err.contains("out of range"), "{err}");
    // rust_decimal::Decimal cannot hold them: a clear error that points at String.
    for literal in [nines, largest, smallest] {
        let err = decode_error::<Decimal>(&mut conn, &format!("SELECT {literal}::numeric")).await;
        assert!(
            err.contains("out of range") && err.contains("String"),
            "{}: {err}",
            &literal[..20]
        );
    }
}

#[tokio::test]
async fn numeric_as_decimal_refuses_what_it_cannot_hold() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "numeric",
        vec![
            same(Decimal::ZERO, "0"),
            same(dec("0.00"), "0.00"),
            same(dec("1"), "1"),
            same(dec("-1.50"), "-1.50"),
            same(dec("1234567890.0123456789"), "1234567890.0123456789"),
            same(
                dec("0.0000000000000000000000000001"),
                "0.0000000000000000000000000001",
            ),
            same(Decimal::MAX, "79228162514264337593543950335"),
            same(Decimal::MIN, "-79228162514264337593543950335"),
            same(dec("10000"), "10000"),
            same(dec("0.0001"), "0.0001"),
            norm(dec("-0"), Decimal::ZERO, "0"),
        ],
    )
    .await;
    // Trailing zeros past 28 places are dropped, the value is exact.
    let one: Decimal = conn
        .fetch_value(&*format!("SELECT 1.{}::numeric", "0".repeat(40)), &[])
        .await
        .unwrap();
    assert_eq!(one, Decimal::ONE);
    for (literal, needle) in [
        ("'NaN'", "NaN"),
        ("'Infinity'", "Infinity"),
        ("'-Infinity'", "-Infinity"),
        ("1e30", "out of range"),
        ("79228162514264337593543950336", "out of range"),
        ("1e-29", "28"),
        ("1.00000000000000000000000000001", "28"),
    ] {
        let err = decode_error::<Decimal>(&mut conn, &format!("SELECT {literal}::numeric")).await;
        assert!(
            err.contains(needle) && err.contains("String"),
            "{literal}: {err}"
        );
    }
}

fn proptest_runner() -> (
    tokio::runtime::Runtime,
    std::cell::RefCell<Connection>,
    TestRunner,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conn = rt.block_on(connect());
    let runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    (rt, std::cell::RefCell::new(conn), runner)
}

#[test]
// One connection serves every case; block_on is its only user, so the borrow held across
// the await cannot conflict.
#[allow(clippy::await_holding_refcell_ref)]
fn numeric_decimal_property_server_agrees() {
    let (rt, conn, mut runner) = proptest_runner();
    let max = (1i128 << 96) - 1;
    runner
        .run(&(-max..=max, 0u32..=28), |(m, scale)| {
            let d = Decimal::from_i128_with_scale(m, scale);
            let (back, text): (Decimal, String) = rt.block_on(async {
                let row = conn
                    .borrow_mut()
                    .fetch_one("SELECT $1::numeric, $1::numeric::text", &[&d])
                    .await
                    .unwrap();
                (row.get(0), row.get(1))
            });
            prop_assert_eq!(back, d);
            prop_assert_eq!(back.scale(), d.scale());
            prop_assert_eq!(text, d.to_string());
            Ok(())
        })
        .unwrap();
}

#[test]
// One connection serves every case; block_on is its only user, so the borrow held across
// the await cannot conflict.
#[allow(clippy::await_holding_refcell_ref)]
fn numeric_string_property_server_agrees() {
    let (rt, conn, mut runner) = proptest_runner();
    let strategy = (
        any::<bool>(),
        "[0-9]{1,120}",
        proptest::option::of("[0-9]{0,120}"),
    );
    runner
        .run(&strategy, |(negative, int, frac)| {
            let input = match &frac {
                Some(f) => format!("{}{int}.{f}", if negative { "-" } else { "" }),
                None => format!("{}{int}", if negative { "-" } else { "" }),
            };
            // The server's parse of the same text is the oracle for ours.
            let (ours, theirs): (String, String) = rt.block_on(async {
                let row = conn
                    .borrow_mut()
                    .fetch_one("SELECT $1::numeric, $2::text::numeric", &[&input, &input])
                    .await
                    .unwrap();
                (row.get(0), row.get(1))
            });
            prop_assert_eq!(&ours, &theirs);
            let d: Result<Decimal, _> = Decimal::from_str_exact(&input);
            if let Ok(d) = d {
                let back: Decimal = rt
                    .block_on(
                        conn.borrow_mut()
                            .fetch_value("SELECT $1::numeric", &[&input]),
                    )
                    .unwrap();
                prop_assert_eq!(back, d);
            }
            Ok(())
        })
        .unwrap();
}

// ------------------------------------------------------------------------------------- text

#[tokio::test]
async fn text_family_reads_and_writes_every_string_type() {
    let mut conn = connect().await;
    for ty in ["text", "varchar", "name"] {
        check(
            &mut conn,
            ty,
            vec![
                same(s(""), ""),
                same(s("hello"), "hello"),
                same(s("héllo wörld ☃ 🦀"), "héllo wörld ☃ 🦀"),
                same(s("it's \"quoted\"\n\ttab"), "it's \"quoted\"\n\ttab"),
            ],
        )
        .await;
    }
    check(
        &mut conn,
        "char(5)",
        // bpchar pads; its cast to text drops the padding.
        vec![norm(s("ab"), s("ab   "), "ab"), same(s("☃☃☃☃☃"), "☃☃☃☃☃")],
    )
    .await;
    let long = "x".repeat(100);
    let err = conn
        .fetch_value::<String>("SELECT $1::name", &[&long])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("too long"),
        "name holds 63 bytes: {err}"
    );

    // unknown: the server resolves an unknown result column to text (PostgreSQL 10+); the
    // decoder for unknown (oid 705) is the text one.
    let row = conn.fetch_one("SELECT 'lit'::unknown", &[]).await.unwrap();
    assert_eq!(row.get::<&str>(0), "lit");

    // Every owned and borrowed string type.
    let row = conn
        .fetch_one(
            "SELECT $1::text, $2::text, $3::varchar, $4::text",
            &[
                &"borrowed",
                &Box::<str>::from("boxed"),
                &Cow::Borrowed("cow"),
                &Cow::<str>::Owned("owned cow".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0), "borrowed");
    assert_eq!(&*row.get::<Box<str>>(1), "boxed");
    assert!(matches!(row.get::<Cow<'_, str>>(2), Cow::Borrowed("cow")));
    assert_eq!(row.get::<String>(3), "owned cow");

    let err = encode_error(&mut conn, "SELECT $1::text", &"nul\0byte").await;
    assert!(err.contains("NUL"), "{err}");
    let err = encode_error(&mut conn, "SELECT $1::int4", &"1").await;
    assert!(err.contains("int4") && err.contains("str"), "{err}");
}

#[tokio::test]
async fn citext_an_extension_type_is_a_string() {
    let mut conn = connect().await;
    let available: Option<String> = conn
        .fetch_value(
            "SELECT max(name) FROM pg_available_extensions WHERE name = 'citext'",
            &[],
        )
        .await
        .unwrap();
    if available.is_none() {
        eprintln!("citext is not installed on this server; skipping");
        return;
    }
    conn.execute_script("BEGIN; CREATE EXTENSION IF NOT EXISTS citext")
        .await
        .unwrap();
    let row = conn
        .fetch_one(
            "SELECT $1::citext, $1::citext = 'HELLO'::citext, pg_typeof($1::citext)::text",
            &[&"Hello"],
        )
        .await
        .unwrap();
    assert_eq!(row.columns().get(0).unwrap().type_().name(), "citext");
    assert_eq!(row.get::<&str>(0), "Hello");
    assert!(row.get::<bool>(1));
    conn.execute_script("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn bytea_reads_and_writes_vec_slice_and_bytes() {
    let mut conn = connect().await;
    let all: Vec<u8> = (0..=255).collect();
    let all_text: &'static str = Box::leak(
        format!(
            "\\x{}",
            all.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
        .into_boxed_str(),
    );
    check(
        &mut conn,
        "bytea",
        vec![
            same(vec![], "\\x"),
            same(vec![0u8], "\\x00"),
            same(b"hello".to_vec(), "\\x68656c6c6f"),
            same(all.clone(), all_text),
        ],
    )
    .await;
    check(
        &mut conn,
        "bytea",
        vec![same(
            bytes::Bytes::from_static(b"\xde\xad\xbe\xef"),
            "\\xdeadbeef",
        )],
    )
    .await;
    let row = conn
        .fetch_one(
            "SELECT $1::bytea, $2::bytea",
            &[&&b"slice"[..], &[1u8, 2, 3]],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<&[u8]>(0), b"slice");
    assert_eq!(&*row.get::<Box<[u8]>>(1), &[1, 2, 3]);
}

// ------------------------------------------------------------------------------------- uuid

#[tokio::test]
async fn uuid_round_trips() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "uuid",
        vec![
            same(Uuid::nil(), "00000000-0000-0000-0000-000000000000"),
            same(Uuid::max(), "ffffffff-ffff-ffff-ffff-ffffffffffff"),
            same(
                Uuid::from_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap(),
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            ),
        ],
    )
    .await;
    let err = decode_error::<Uuid>(&mut conn, "SELECT 'x'::text").await;
    assert!(err.contains("text") && err.contains("Uuid"), "{err}");
}

// ------------------------------------------------------------------------------------- json

#[tokio::test]
async fn json_and_jsonb_round_trip_values() {
    let mut conn = connect().await;
    let values = [
        (json!(null), "null", "null"),
        (json!(true), "true", "true"),
        (json!(0), "0", "0"),
        (json!(-1.5), "-1.5", "-1.5"),
        (json!(""), "\"\"", "\"\""),
        (
            json!("héllo ☃ 🦀 \"q\""),
            "\"héllo ☃ 🦀 \\\"q\\\"\"",
            "\"héllo ☃ 🦀 \\\"q\\\"\"",
        ),
        (json!([]), "[]", "[]"),
        (json!({}), "{}", "{}"),
        (
            json!({"a": [1, 2, {"b": null}], "c": "d"}),
            "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}",
            "{\"a\": [1, 2, {\"b\": null}], \"c\": \"d\"}",
        ),
    ];
    check(
        &mut conn,
        "json",
        values
            .iter()
            .map(|(v, json, _)| same(v.clone(), json))
            .collect(),
    )
    .await;
    check(
        &mut conn,
        "jsonb",
        values
            .iter()
            .map(|(v, _, jsonb)| same(v.clone(), jsonb))
            .collect(),
    )
    .await;
}

#[tokio::test]
async fn json_wrapper_raw_value_and_strings() {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Settings {
        theme: String,
        font_size: u8,
        tags: Vec<String>,
    }
    let mut conn = connect().await;
    let settings = Settings {
        theme: "dark ☾".into(),
        font_size: 12,
        tags: vec![],
    };
    check(
        &mut conn,
        "jsonb",
        vec![same(
            Json(settings.clone()),
            "{\"tags\": [], \"theme\": \"dark ☾\", \"font_size\": 12}",
        )],
    )
    .await;
    check(
        &mut conn,
        "json",
        vec![same(
            Json(settings.clone()),
            "{\"theme\":\"dark ☾\",\"font_size\":12,\"tags\":[]}",
        )],
    )
    .await;
    let row = conn
        .fetch_one(
            "SELECT $1::jsonb, $1::json, '{\"x\": [1,2]}'::jsonb, $2::jsonb",
            &[
                &"{\"k\": 1}",
                &RawValue::from_string("[1, 2]".into()).unwrap(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0), "{\"k\": 1}");
    assert_eq!(row.get::<&RawValue>(1).get(), "{\"k\": 1}");
    assert_eq!(row.get::<&RawValue>(2).get(), "{\"x\": [1, 2]}");
    assert_eq!(row.get::<serde_json::Value>(3), json!([1, 2]));
    let err = decode_error::<Json<Settings>>(&mut conn, "SELECT '{\"theme\": 1}'::jsonb").await;
    assert!(err.contains("invalid type"), "{err}");
}

// --------------------------------------------------------------------------------- datetime

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn time(h: u32, m: u32, s: u32, us: u32) -> NaiveTime {
    NaiveTime::from_hms_micro_opt(h, m, s, us).unwrap()
}

#[tokio::test]
async fn dates_bc_far_future_and_infinity() {
    let mut conn = connect().await;
    conn.execute_script("SET DateStyle = 'ISO, YMD'")
        .await
        .unwrap();
    check(
        &mut conn,
        "date",
        vec![
            same(date(2000, 1, 1), "2000-01-01"),
            same(date(1999, 12, 31), "1999-12-31"),
            same(date(1970, 1, 1), "1970-01-01"),
            same(date(2024, 2, 29), "2024-02-29"),
            // Year 0 is 1 BC; PostgreSQL's first day is 4714-11-24 BC.
            same(date(0, 12, 31), "0001-12-31 BC"),
            same(date(-4713, 11, 24), "4714-11-24 BC"),
            same(date(262_142, 12, 31), "262142-12-31"),
        ],
    )
    .await;
    check(
        &mut conn,
        "date",
        vec![
            same(MaybeInfinite::Infinity, "infinity"),
            same(MaybeInfinite::NegInfinity, "-infinity"),
            same(MaybeInfinite::Value(date(2024, 6, 1)), "2024-06-01"),
        ],
    )
    .await;
    let err = decode_error::<NaiveDate>(&mut conn, "SELECT 'infinity'::date").await;
    assert!(
        err.contains("infinity") && err.contains("MaybeInfinite"),
        "{err}"
    );
    let err = decode_error::<NaiveDate>(&mut conn, "SELECT '5874897-12-31'::date").await;
    assert!(err.contains("range"), "{err}");
}

#[tokio::test]
async fn times_and_times_with_zone() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "time",
        vec![
            same(NaiveTime::MIN, "00:00:00"),
            same(time(12, 34, 56, 789_000), "12:34:56.789"),
            same(time(23, 59, 59, 999_999), "23:59:59.999999"),
            same(time(0, 0, 0, 1), "00:00:00.000001"),
        ],
    )
    .await;
    let tz = |h: i32, m: i32, s: i32| FixedOffset::east_opt(h * 3600 + m * 60 + s).unwrap();
    check(
        &mut conn,
        "timetz",
        vec![
            same(
                TimeTz {
                    time: time(12, 30, 0, 0),
                    offset: tz(2, 0, 0),
                },
                "12:30:00+02",
            ),
            same(
                TimeTz {
                    time: time(12, 30, 0, 0),
                    offset: tz(-5, -30, 0),
                },
                "12:30:00-05:30",
            ),
            same(
                TimeTz {
                    time: time(23, 59, 59, 999_999),
                    offset: tz(0, 0, 0),
                },
                "23:59:59.999999+00",
            ),
            same(
                TimeTz {
                    time: NaiveTime::MIN,
                    offset: tz(15, 59, 0),
                },
                "00:00:00+15:59",
            ),
        ],
    )
    .await;
    let err = decode_error::<NaiveTime>(&mut conn, "SELECT '24:00:00'::time").await;
    assert!(err.contains("24:00:00"), "{err}");
}

#[tokio::test]
async fn timestamps_bc_far_future_and_infinity() {
    let mut conn = connect().await;
    conn.execute_script("SET DateStyle = 'ISO, YMD'")
        .await
        .unwrap();
    let ts = |y, mo, d, h, mi, s, us| date(y, mo, d).and_time(time(h, mi, s, us));
    check(
        &mut conn,
        "timestamp",
        vec![
            same(ts(2000, 1, 1, 0, 0, 0, 0), "2000-01-01 00:00:00"),
            same(
                ts(1999, 12, 31, 23, 59, 59, 999_999),
                "1999-12-31 23:59:59.999999",
            ),
            same(ts(1970, 1, 1, 0, 0, 0, 1), "1970-01-01 00:00:00.000001"),
            same(ts(0, 1, 1, 12, 0, 0, 0), "0001-01-01 12:00:00 BC"),
            same(ts(-4713, 11, 24, 0, 0, 0, 0), "4714-11-24 00:00:00 BC"),
            same(
                ts(262_142, 12, 31, 23, 59, 59, 999_999),
                "262142-12-31 23:59:59.999999",
            ),
        ],
    )
    .await;
    check(
        &mut conn,
        "timestamp",
        vec![
            same(MaybeInfinite::<NaiveDateTime>::Infinity, "infinity"),
            same(MaybeInfinite::NegInfinity, "-infinity"),
            same(
                MaybeInfinite::Value(ts(2024, 1, 2, 3, 4, 5, 6)),
                "2024-01-02 03:04:05.000006",
            ),
        ],
    )
    .await;
    let err = decode_error::<NaiveDateTime>(&mut conn, "SELECT '-infinity'::timestamp").await;
    assert!(
        err.contains("-infinity") && err.contains("MaybeInfinite"),
        "{err}"
    );
    let err =
        decode_error::<NaiveDateTime>(&mut conn, "SELECT '294276-12-31 23:59:59'::timestamp").await;
    assert!(err.contains("range"), "{err}");
    let err = decode_error::<DateTime<Utc>>(&mut conn, "SELECT 'infinity'::timestamptz").await;
    assert!(err.contains("MaybeInfinite"), "{err}");
    // Wrong chrono type for the column: the error names both types.
    let err = encode_error(
        &mut conn,
        "SELECT $1::timestamptz",
        &ts(2020, 1, 1, 0, 0, 0, 0),
    )
    .await;
    assert!(
        err.contains("timestamptz") && err.contains("NaiveDateTime"),
        "{err}"
    );
}

#[tokio::test]
async fn timestamptz_across_dst_offsets() {
    let mut conn = connect().await;
    let utc = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
    conn.execute_script("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'America/New_York'")
        .await
        .unwrap();
    check(
        &mut conn,
        "timestamptz",
        vec![
            // Spring forward: 01:59:59 EST, then 03:00:00 EDT.
            same(utc(2024, 3, 10, 6, 59, 59), "2024-03-10 01:59:59-05"),
            same(utc(2024, 3, 10, 7, 0, 0), "2024-03-10 03:00:00-04"),
            // Fall back: 01:30 happens twice.
            same(utc(2024, 11, 3, 5, 30, 0), "2024-11-03 01:30:00-04"),
            same(utc(2024, 11, 3, 6, 30, 0), "2024-11-03 01:30:00-05"),
            same(utc(2000, 1, 1, 5, 0, 0), "2000-01-01 00:00:00-05"),
        ],
    )
    .await;
    conn.execute_script("SET TimeZone = 'Asia/Kolkata'")
        .await
        .unwrap();
    check(
        &mut conn,
        "timestamptz",
        vec![same(utc(2024, 7, 1, 0, 0, 0), "2024-07-01 05:30:00+05:30")],
    )
    .await;
    conn.execute_script("SET TimeZone = 'UTC'").await.unwrap();
    check(
        &mut conn,
        "timestamptz",
        vec![
            same(MaybeInfinite::<DateTime<Utc>>::Infinity, "infinity"),
            same(MaybeInfinite::NegInfinity, "-infinity"),
            same(
                MaybeInfinite::Value(utc(1, 1, 1, 0, 0, 0)),
                "0001-01-01 00:00:00+00",
            ),
        ],
    )
    .await;
    // Every chrono zone sends and reads the same instant.
    let instant = utc(2024, 3, 10, 7, 0, 0);
    let fixed = instant.with_timezone(&FixedOffset::east_opt(-4 * 3600).unwrap());
    let local = instant.with_timezone(&Local);
    let row = conn
        .fetch_one(
            "SELECT $1::timestamptz, $2::timestamptz, $3::timestamptz",
            &[&instant, &fixed, &local],
        )
        .await
        .unwrap();
    for i in 0..3 {
        assert_eq!(row.get::<DateTime<Utc>>(i), instant);
        assert_eq!(row.get::<DateTime<FixedOffset>>(i), instant);
        assert_eq!(row.get::<DateTime<Local>>(i), instant);
    }
}

/// Sub-microsecond nanoseconds are truncated: the stored value keeps the digits it had, it never
/// rounds up across a second, day or year boundary, before 2000 (negative offsets from
/// PostgreSQL's epoch) and 1970 as after.
#[tokio::test]
async fn sub_microsecond_nanoseconds_are_truncated_never_rounded_up() {
    let mut conn = connect().await;
    conn.execute_script("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'")
        .await
        .unwrap();
    let nano = |h, mi, s, ns| NaiveTime::from_hms_nano_opt(h, mi, s, ns).unwrap();
    let ts = |y, mo, d, t| date(y, mo, d).and_time(t);
    check(
        &mut conn,
        "timestamp",
        vec![
            norm(
                ts(1999, 12, 31, nano(23, 59, 59, 999_999_999)),
                ts(1999, 12, 31, time(23, 59, 59, 999_999)),
                "1999-12-31 23:59:59.999999",
            ),
            norm(
                ts(1969, 12, 31, nano(23, 59, 59, 999_999_500)),
                ts(1969, 12, 31, time(23, 59, 59, 999_999)),
                "1969-12-31 23:59:59.999999",
            ),
            norm(
                ts(1899, 6, 30, nano(12, 0, 0, 1)),
                ts(1899, 6, 30, time(12, 0, 0, 0)),
                "1899-06-30 12:00:00",
            ),
            norm(
                ts(0, 12, 31, nano(23, 59, 59, 999_999_001)),
                ts(0, 12, 31, time(23, 59, 59, 999_999)),
                "0001-12-31 23:59:59.999999 BC",
            ),
            norm(
                ts(2024, 12, 31, nano(23, 59, 59, 999_999_999)),
                ts(2024, 12, 31, time(23, 59, 59, 999_999)),
                "2024-12-31 23:59:59.999999",
            ),
            // A chrono leap second counts as the second after it, as chrono's own arithmetic does.
            norm(
                ts(1999, 12, 31, nano(23, 59, 59, 1_500_000_000)),
                ts(2000, 1, 1, time(0, 0, 0, 500_000)),
                "2000-01-01 00:00:00.5",
            ),
        ],
    )
    .await;
    check(
        &mut conn,
        "timestamptz",
        vec![
            norm(
                ts(1999, 12, 31, nano(23, 59, 59, 999_999_999)).and_utc(),
                ts(1999, 12, 31, time(23, 59, 59, 999_999)).and_utc(),
                "1999-12-31 23:59:59.999999+00",
            ),
            norm(
                ts(1901, 1, 1, nano(0, 0, 0, 999)).and_utc(),
                ts(1901, 1, 1, NaiveTime::MIN).and_utc(),
                "1901-01-01 00:00:00+00",
            ),
        ],
    )
    .await;
    // An instant in another zone is the same instant, truncated the same way.
    let berlin = FixedOffset::east_opt(3600)
        .unwrap()
        .from_local_datetime(&ts(1970, 1, 1, nano(0, 59, 59, 999_999_999)))
        .unwrap();
    let back: DateTime<Utc> = conn
        .fetch_value("SELECT $1::timestamptz", &[&berlin])
        .await
        .unwrap();
    assert_eq!(back, ts(1969, 12, 31, time(23, 59, 59, 999_999)).and_utc());
    check(
        &mut conn,
        "time",
        vec![norm(
            nano(23, 59, 59, 999_999_999),
            time(23, 59, 59, 999_999),
            "23:59:59.999999",
        )],
    )
    .await;
    check(
        &mut conn,
        "timetz",
        vec![norm(
            TimeTz {
                time: nano(23, 59, 59, 999_999_999),
                offset: FixedOffset::west_opt(3600).unwrap(),
            },
            TimeTz {
                time: time(23, 59, 59, 999_999),
                offset: FixedOffset::west_opt(3600).unwrap(),
            },
            "23:59:59.999999-01",
        )],
    )
    .await;
}

#[test]
// One connection serves every case; block_on is its only user, so the borrow held across
// the await cannot conflict.
#[allow(clippy::await_holding_refcell_ref)]
fn timestamp_property_server_agrees() {
    let (rt, conn, mut runner) = proptest_runner();
    // PostgreSQL's first timestamp (4714-11-24 BC) to chrono's last (262142 AD).
    let first = NaiveDate::from_ymd_opt(-4713, 11, 24)
        .unwrap()
        .and_time(NaiveTime::MIN);
    let last = NaiveDate::from_ymd_opt(262_142, 12, 31)
        .unwrap()
        .and_time(time(23, 59, 59, 999_999));
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap()
        .and_time(NaiveTime::MIN);
    let lo = (first - epoch).num_microseconds().unwrap();
    let hi = (last - epoch).num_microseconds().unwrap();
    rt.block_on(
        conn.borrow_mut()
            .execute_script("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'Europe/Berlin'"),
    )
    .unwrap();
    runner
        .run(&(lo..=hi), |us| {
            let naive = epoch + chrono::Duration::microseconds(us);
            let aware = naive.and_utc();
            let (back, back_tz, since_epoch, reparsed): (NaiveDateTime, DateTime<Utc>, Interval, NaiveDateTime) =
                rt.block_on(async {
                    let mut conn = conn.borrow_mut();
                    let row = conn
                        .fetch_one(
                            "SELECT $1::timestamp, $2::timestamptz, $1::timestamp - '2000-01-01'::timestamp, $1::timestamp::text::timestamp",
                            &[&naive, &aware],
                        )
                        .await
                        .unwrap();
                    (row.get(0), row.get(1), row.get(2), row.get(3))
                });
            prop_assert_eq!(back, naive);
            prop_assert_eq!(back_tz, aware);
            prop_assert_eq!(reparsed, naive);
            prop_assert_eq!(since_epoch.months, 0);
            prop_assert_eq!(i64::from(since_epoch.days) * 86_400_000_000 + since_epoch.microseconds, us);
            Ok(())
        })
        .unwrap();
}

// --------------------------------------------------------------------------------- interval

#[tokio::test]
async fn intervals_keep_months_days_and_microseconds_apart() {
    let mut conn = connect().await;
    conn.execute_script("SET IntervalStyle = 'postgres'")
        .await
        .unwrap();
    let iv = |months, days, microseconds| Interval {
        months,
        days,
        microseconds,
    };
    check(
        &mut conn,
        "interval",
        vec![
            same(iv(0, 0, 0), "00:00:00"),
            same(iv(0, 0, 1), "00:00:00.000001"),
            same(iv(0, 0, -1), "-00:00:00.000001"),
            same(iv(14, 0, 0), "1 year 2 mons"),
            same(iv(0, -3, 0), "-3 days"),
            same(
                iv(14, -3, 14_706_789_000),
                "1 year 2 mons -3 days +04:05:06.789",
            ),
            same(iv(0, 1, 0), "1 day"),
            same(iv(0, 0, 86_400_000_000), "24:00:00"),
            same(iv(i32::MAX, 0, 0), "178956970 years 7 mons"),
            same(
                iv(i32::MIN, i32::MIN, 0),
                "-178956970 years -8 mons -2147483648 days",
            ),
            same(iv(0, 0, i64::MAX), "2562047788:00:54.775807"),
        ],
    )
    .await;
    let exact: chrono::Duration = iv(0, 0, 90_000_000).try_into().unwrap();
    assert_eq!(exact, chrono::Duration::seconds(90));
    assert!(chrono::Duration::try_from(iv(0, 1, 0)).is_err());
    assert!(chrono::Duration::try_from(iv(1, 0, 0)).is_err());
    assert_eq!(
        iv(0, 2, 1).to_duration_assuming_24h_days().unwrap(),
        chrono::Duration::hours(48) + chrono::Duration::microseconds(1)
    );
    assert!(iv(1, 0, 0).to_duration_assuming_24h_days().is_err());
    let from: Interval = chrono::Duration::milliseconds(1500).try_into().unwrap();
    let text: String = conn
        .fetch_value("SELECT $1::interval::text", &[&from])
        .await
        .unwrap();
    assert_eq!(text, "00:00:01.5");
}

// ---------------------------------------------------------------------------------- network

#[tokio::test]
async fn inet_and_cidr_as_addresses_and_networks() {
    let mut conn = connect().await;
    let ip = |s: &str| IpAddr::from_str(s).unwrap();
    let net = |s: &str| IpNetwork::from_str(s).unwrap();
    check(
        &mut conn,
        "inet",
        vec![
            same(ip("127.0.0.1"), "127.0.0.1/32"),
            same(ip("0.0.0.0"), "0.0.0.0/32"),
            same(ip("255.255.255.255"), "255.255.255.255/32"),
            same(ip("::1"), "::1/128"),
            same(ip("2001:db8::ff00:42:8329"), "2001:db8::ff00:42:8329/128"),
            same(ip("::ffff:1.2.3.4"), "::ffff:1.2.3.4/128"),
        ],
    )
    .await;
    check(
        &mut conn,
        "inet",
        vec![
            same(net("10.1.2.3/8"), "10.1.2.3/8"),
            same(net("192.168.0.1"), "192.168.0.1/32"),
            same(net("0.0.0.0/0"), "0.0.0.0/0"),
            same(net("2001:db8::1/64"), "2001:db8::1/64"),
        ],
    )
    .await;
    check(
        &mut conn,
        "cidr",
        vec![
            same(net("10.0.0.0/8"), "10.0.0.0/8"),
            same(net("1.2.3.4/32"), "1.2.3.4/32"),
            same(net("2001:db8::/32"), "2001:db8::/32"),
            same(net("::/0"), "::/0"),
        ],
    )
    .await;
    check(&mut conn, "cidr", vec![same(ip("1.2.3.4"), "1.2.3.4/32")]).await;
    let err = decode_error::<IpAddr>(&mut conn, "SELECT '10.0.0.1/8'::inet").await;
    assert!(err.contains("IpNetwork"), "{err}");
    let err = encode_error(&mut conn, "SELECT $1::cidr", &net("10.0.0.1/8")).await;
    assert!(err.contains("10.0.0.0/8"), "{err}");
    assert!(IpNetwork::new(ip("::1"), 129).is_err());
    assert!(IpNetwork::from_str("1.2.3.4/33").is_err());
}

#[tokio::test]
async fn mac_addresses() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "macaddr",
        vec![
            same(MacAddr([8, 0, 0x2b, 1, 2, 3]), "08:00:2b:01:02:03"),
            same(MacAddr([0; 6]), "00:00:00:00:00:00"),
            same(MacAddr([0xff; 6]), "ff:ff:ff:ff:ff:ff"),
        ],
    )
    .await;
    check(
        &mut conn,
        "macaddr8",
        vec![
            same(
                MacAddr8([8, 0, 0x2b, 1, 2, 3, 4, 5]),
                "08:00:2b:01:02:03:04:05",
            ),
            same(MacAddr8([0xff; 8]), "ff:ff:ff:ff:ff:ff:ff:ff"),
        ],
    )
    .await;
}

// ------------------------------------------------------------------------------------- bits

#[tokio::test]
async fn bit_strings_of_every_length() {
    let mut conn = connect().await;
    let b = |s: &str| Bits::from_str(s).unwrap();
    let mut cases = vec![same(b(""), "")];
    for (text, _) in [
        ("0", ()),
        ("1", ()),
        ("10110", ()),
        ("11111111", ()),
        ("100000001", ()),
        ("10101010101010101", ()),
    ] {
        cases.push(same(b(text), text));
    }
    check(&mut conn, "varbit", cases).await;
    check(&mut conn, "bit(5)", vec![same(b("10110"), "10110")]).await;
    let long: &'static str = Box::leak("10".repeat(500).into_boxed_str());
    check(&mut conn, "varbit", vec![same(b(long), long)]).await;
    // A bit(n) column checks the length on the server.
    conn.execute_script("CREATE TEMP TABLE bits3 (b bit(3))")
        .await
        .unwrap();
    let err = conn
        .execute("INSERT INTO bits3 VALUES ($1)", &[&b("1")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("length"), "{err}");
}

// ------------------------------------------------------------------------------------ money

#[tokio::test]
async fn money_in_cents() {
    let mut conn = connect().await;
    conn.execute_script("SET lc_monetary = 'C'").await.unwrap();
    check(
        &mut conn,
        "money",
        vec![
            same(Money(0), "$0.00"),
            same(Money(123), "$1.23"),
            same(Money(-5), "-$0.05"),
            same(Money(i64::MAX), "$92,233,720,368,547,758.07"),
            same(Money(i64::MIN), "-$92,233,720,368,547,758.08"),
        ],
    )
    .await;
}

// --------------------------------------------------------------------------------- geometry

#[tokio::test]
async fn geometric_types() {
    let mut conn = connect().await;
    let p = |x, y| Point { x, y };
    check(
        &mut conn,
        "point",
        vec![
            same(p(0.0, 0.0), "(0,0)"),
            same(p(1.5, -2.0), "(1.5,-2)"),
            same(
                p(f64::MAX, f64::MIN_POSITIVE),
                "(1.7976931348623157e+308,2.2250738585072014e-308)",
            ),
            same(p(f64::INFINITY, f64::NEG_INFINITY), "(Infinity,-Infinity)"),
        ],
    )
    .await;
    check(
        &mut conn,
        "line",
        vec![same(
            Line {
                a: 1.0,
                b: -1.0,
                c: 0.0,
            },
            "{1,-1,0}",
        )],
    )
    .await;
    check(
        &mut conn,
        "lseg",
        vec![same(
            LineSegment {
                start: p(0.0, 0.0),
                end: p(1.0, 1.0),
            },
            "[(0,0),(1,1)]",
        )],
    )
    .await;
    check(
        &mut conn,
        "box",
        vec![
            same(
                PgBox {
                    high: p(2.0, 2.0),
                    low: p(0.0, 0.0),
                },
                "(2,2),(0,0)",
            ),
            // The server puts the upper-right corner first.
            norm(
                PgBox {
                    high: p(0.0, 0.0),
                    low: p(2.0, 2.0),
                },
                PgBox {
                    high: p(2.0, 2.0),
                    low: p(0.0, 0.0),
                },
                "(2,2),(0,0)",
            ),
        ],
    )
    .await;
    check(
        &mut conn,
        "path",
        vec![
            same(
                Path {
                    closed: false,
                    points: vec![p(0.0, 0.0), p(1.0, 1.0)],
                },
                "[(0,0),(1,1)]",
            ),
            same(
                Path {
                    closed: true,
                    points: vec![p(0.0, 0.0), p(1.0, 1.0), p(1.0, 0.0)],
                },
                "((0,0),(1,1),(1,0))",
            ),
            same(
                Path {
                    closed: false,
                    points: vec![p(3.0, 4.0)],
                },
                "[(3,4)]",
            ),
        ],
    )
    .await;
    check(
        &mut conn,
        "polygon",
        vec![same(
            Polygon {
                points: vec![p(0.0, 0.0), p(1.0, 0.0), p(0.0, 1.0)],
            },
            "((0,0),(1,0),(0,1))",
        )],
    )
    .await;
    check(
        &mut conn,
        "circle",
        vec![same(
            Circle {
                center: p(0.0, 0.0),
                radius: 1.0,
            },
            "<(0,0),1>",
        )],
    )
    .await;
    let err = encode_error(
        &mut conn,
        "SELECT $1::path",
        &Path {
            closed: false,
            points: vec![],
        },
    )
    .await;
    assert!(err.contains("at least one point"), "{err}");
}

// ------------------------------------------------------------------------- lsn, xid8, oid

#[tokio::test]
async fn lsn_xid8_and_oid() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "pg_lsn",
        vec![
            same(PgLsn(0), "0/0"),
            same(PgLsn(0x16_B374_D848), "16/B374D848"),
            same(PgLsn(u64::MAX), "FFFFFFFF/FFFFFFFF"),
        ],
    )
    .await;
    assert_eq!(
        PgLsn::from_str("16/B374D848").unwrap().to_string(),
        "16/B374D848"
    );
    assert!(PgLsn::from_str("16B374D848").is_err());
    check(
        &mut conn,
        "xid8",
        vec![same(0u64, "0"), same(u64::MAX, "18446744073709551615")],
    )
    .await;
    check(
        &mut conn,
        "oid",
        vec![same(0u32, "0"), same(u32::MAX, "4294967295")],
    )
    .await;
}

// ------------------------------------------------------------------------- the text path

/// Types without a binary codec travel as text and decode to String (and borrowed &str).
#[tokio::test]
async fn types_without_a_binary_codec_decode_as_text() {
    let mut conn = connect().await;
    for (ty, literal, text) in [
        ("tsvector", "a fat cat", "'a' 'cat' 'fat'"),
        ("tsquery", "fat & rat", "'fat' & 'rat'"),
        ("xml", "<a>b</a>", "<a>b</a>"),
        ("jsonpath", "$.a", "$.\"a\""),
        ("regtype", "integer", "integer"),
        ("regclass", "pg_class", "pg_class"),
        ("tid", "(1,2)", "(1,2)"),
        ("xid", "42", "42"),
        ("cid", "7", "7"),
        ("int2vector", "1 2 3", "1 2 3"),
        ("txid_snapshot", "10:20:10,14,15", "10:20:10,14,15"),
        ("pg_snapshot", "10:20:10,14,15", "10:20:10,14,15"),
    ] {
        let sql = format!("SELECT {}::{ty}", literal_sql(literal));
        let row = conn
            .fetch_one(&*sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(!row.columns().get(0).unwrap().type_().is_binary(), "{ty}");
        assert_eq!(row.get::<String>(0), text, "{ty}");
        assert_eq!(row.get::<&str>(0), text, "{ty}");
        // And a string parameter reaches the server's text input function.
        let back: String = conn
            .fetch_value(&*format!("SELECT $1::{ty}::text"), &[&text])
            .await
            .unwrap_or_else(|e| panic!("{ty} parameter: {e}"));
        assert_eq!(back, text, "{ty}");
    }
}

fn literal_sql(text: &str) -> String {
    literal(text)
}

// -------------------------------------------------------------------------------- errors

#[tokio::test]
async fn wrong_types_name_the_parameter_column_and_both_types() {
    let mut conn = connect().await;
    let err = encode_error(&mut conn, "SELECT $1::text", &dec("1")).await;
    assert!(err.contains("Decimal") && err.contains("text"), "{err}");
    let err = encode_error(
        &mut conn,
        "SELECT $1::uuid",
        &"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    )
    .await;
    assert!(err.contains("uuid"), "{err}");
    let err = decode_error::<Money>(&mut conn, "SELECT 1::int8").await;
    assert!(err.contains("int8") && err.contains("Money"), "{err}");
    let err = decode_error::<Interval>(&mut conn, "SELECT now()").await;
    assert!(
        err.contains("timestamptz") && err.contains("Interval"),
        "{err}"
    );
}
