//! Container codecs against a real server — arrays, enums, ranges, multiranges, composites,
//! domains, hstore — in the manner of `codecs.rs`: each value is sent as `$1::T` and decoded
//! back, compared with the server's own text `$1::T::text`, and decoded from the server's
//! literal `'text'::T`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::IpAddr;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::str::FromStr;

use chrono::{NaiveDate, TimeZone, Utc};
use pgtusk::types::{
    Array, CompositeReader, CompositeWriter, Dimension, Interval, Multirange, Range,
};
use pgtusk::{Connection, Decode, Encode};
use pgtusk_tests::codec_table::{check_cases as check, decode_error, norm, same};
use pgtusk_tests::connect;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

fn s(v: &str) -> String {
    v.to_owned()
}

fn dim(len: i32, lower_bound: i32) -> Dimension {
    Dimension { len, lower_bound }
}

// ------------------------------------------------------------------------------------ arrays

#[tokio::test]
async fn arrays_of_integers_floats_and_bools_with_nulls_and_empty() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "int4[]",
        vec![
            same(
                vec![Some(1), None, Some(i32::MIN), Some(i32::MAX)],
                "{1,NULL,-2147483648,2147483647}",
            ),
            same(vec![], "{}"),
            same(vec![None], "{NULL}"),
        ],
    )
    .await;
    check(
        &mut conn,
        "int2[]",
        vec![same(vec![1i16, -2, 3], "{1,-2,3}")],
    )
    .await;
    check(
        &mut conn,
        "int8[]",
        vec![same(vec![i64::MAX, 0], "{9223372036854775807,0}")],
    )
    .await;
    check(&mut conn, "bool[]", vec![same(vec![true, false], "{t,f}")]).await;
    check(
        &mut conn,
        "float8[]",
        vec![same(vec![1.5f64, f64::INFINITY, -0.0], "{1.5,Infinity,-0}")],
    )
    .await;
    check(
        &mut conn,
        "float4[]",
        vec![same(vec![Some(0.25f32), None], "{0.25,NULL}")],
    )
    .await;
    check(
        &mut conn,
        "oid[]",
        vec![same(vec![0u32, u32::MAX], "{0,4294967295}")],
    )
    .await;
    check(&mut conn, "\"char\"[]", vec![same(vec![b'a' as i8], "{a}")]).await;
}

#[tokio::test]
async fn arrays_of_strings_escape_like_the_server() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "text[]",
        vec![
            same(
                vec![
                    Some(s("a")),
                    None,
                    Some(s("")),
                    Some(s("NULL")),
                    Some(s("with \"quotes\", {braces}")),
                    Some(s("ünïcødé ☃")),
                ],
                r#"{a,NULL,"","NULL","with \"quotes\", {braces}","ünïcødé ☃"}"#,
            ),
            same(vec![], "{}"),
        ],
    )
    .await;
    check(
        &mut conn,
        "varchar[]",
        vec![same(vec![s("x"), s("y")], "{x,y}")],
    )
    .await;
    check(
        &mut conn,
        "name[]",
        vec![same(vec![s("pg_class")], "{pg_class}")],
    )
    .await;
    check(
        &mut conn,
        "bpchar(3)[]",
        vec![norm(vec![s("a")], vec![s("a  ")], "{\"a  \"}")],
    )
    .await;
    let borrowed: Vec<&str> = vec!["one", "two"];
    let row = conn
        .fetch_one("SELECT $1::text[]", &[&borrowed.as_slice()])
        .await
        .unwrap();
    let back: Vec<&str> = row.get(0);
    assert_eq!(back, borrowed, "&[&str] encode, Vec<&str> borrowed decode");
    let fixed: [i64; 3] = [1, 2, 3];
    let back: Vec<i64> = conn
        .fetch_value("SELECT $1::int8[]", &[&fixed])
        .await
        .unwrap();
    assert_eq!(back, fixed);
}

#[tokio::test]
async fn arrays_of_the_other_scalar_families() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "bytea[]",
        vec![same(vec![vec![0u8, 255], vec![]], r#"{"\\x00ff","\\x"}"#)],
    )
    .await;
    check(
        &mut conn,
        "numeric[]",
        vec![same(
            vec![s("1.50"), s("NaN"), s("-Infinity")],
            "{1.50,NaN,-Infinity}",
        )],
    )
    .await;
    check(
        &mut conn,
        "numeric[]",
        vec![same(
            vec![Some(Decimal::from_str("-12.345").unwrap()), None],
            "{-12.345,NULL}",
        )],
    )
    .await;
    let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    check(
        &mut conn,
        "uuid[]",
        vec![same(vec![id], "{01234567-89ab-cdef-0123-456789abcdef}")],
    )
    .await;
    check(
        &mut conn,
        "jsonb[]",
        vec![same(
            vec![json!({"a": [1, null]}), json!("x")],
            r#"{"{\"a\": [1, null]}","\"x\""}"#,
        )],
    )
    .await;
    check(
        &mut conn,
        "date[]",
        vec![same(
            vec![
                NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
                NaiveDate::from_ymd_opt(-44, 3, 15).unwrap(),
            ],
            "{2024-02-29,\"0045-03-15 BC\"}",
        )],
    )
    .await;
    conn.execute("SET TIME ZONE 'UTC'", &[]).await.unwrap();
    check(
        &mut conn,
        "timestamptz[]",
        vec![same(
            vec![Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()],
            "{\"2000-01-01 00:00:00+00\"}",
        )],
    )
    .await;
    check(
        &mut conn,
        "interval[]",
        vec![same(
            vec![Interval {
                months: 14,
                days: 3,
                microseconds: 4_000_000,
            }],
            "{\"1 year 2 mons 3 days 00:00:04\"}",
        )],
    )
    .await;
    check(
        &mut conn,
        "inet[]",
        vec![same(
            vec![IpAddr::from([10, 0, 0, 1]), "::1".parse().unwrap()],
            "{10.0.0.1,::1}",
        )],
    )
    .await;
}

#[tokio::test]
async fn multi_dimensional_arrays_keep_their_shape_and_lower_bounds() {
    let mut conn = connect().await;
    let matrix = Array::new(vec![dim(2, 1), dim(3, 1)], vec![1, 2, 3, 4, 5, 6]).unwrap();
    let shifted = Array::new(vec![dim(2, 0)], vec![Some(1), None]).unwrap();
    let cube = Array::new(vec![dim(1, -3), dim(2, 5), dim(1, 1)], vec![s("a"), s("b")]).unwrap();
    check(&mut conn, "int4[]", vec![same(matrix, "{{1,2,3},{4,5,6}}")]).await;
    check(&mut conn, "int4[]", vec![same(shifted, "[0:1]={1,NULL}")]).await;
    check(
        &mut conn,
        "text[]",
        vec![same(cube, "[-3:-3][5:6][1:1]={{{a},{b}}}")],
    )
    .await;
    check(
        &mut conn,
        "int8[]",
        vec![same(Array::<i64>::from_vec(vec![]).unwrap(), "{}")],
    )
    .await;

    // A Vec drops the lower bound of one dimension and refuses several.
    let v: Vec<i32> = conn
        .fetch_value("SELECT '[0:1]={1,2}'::int4[]", &[])
        .await
        .unwrap();
    assert_eq!(v, [1, 2]);
    let err = decode_error::<Vec<i32>>(&mut conn, "SELECT '{{1,2},{3,4}}'::int4[]").await;
    assert!(
        err.contains("2-dimensional") && err.contains("Array<T>"),
        "{err}"
    );

    // Six dimensions is PostgreSQL's limit and ours.
    let six = Array::new(vec![dim(1, 1); 6], vec![7]).unwrap();
    check(&mut conn, "int4[]", vec![same(six, "{{{{{{7}}}}}}")]).await;
    assert!(Array::new(vec![dim(1, 1); 7], vec![7]).is_err());
}

#[tokio::test]
async fn a_null_element_into_a_non_option_names_its_index() {
    let mut conn = connect().await;
    let err = decode_error::<Vec<i32>>(&mut conn, "SELECT '{1,2,NULL}'::int4[]").await;
    assert!(err.contains("element 2 is NULL"), "{err}");
    let err = decode_error::<Vec<i32>>(&mut conn, "SELECT '{x}'::text[]").await;
    assert!(err.contains("text[]") || err.contains("_text"), "{err}");
}

#[tokio::test]
async fn arrays_of_text_path_types_read_as_text() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one(
            "SELECT '{<a/>,<b/>}'::xml[], '1 2'::int2vector, '{''a'' ''b''}'::tsvector[]",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<String>(0), "{<a/>,<b/>}");
    assert_eq!(
        row.get::<String>(1),
        "1 2",
        "int2vector keeps its own text form"
    );
    assert_eq!(row.get::<String>(2), r#"{"'a' 'b'"}"#);
}

#[tokio::test]
async fn arrays_are_sent_and_read_in_binary() {
    let mut conn = connect().await;
    let stmt = conn.prepare("SELECT $1::int4[], $1::int4[]").await.unwrap();
    assert!(stmt.params()[0].is_binary());
    assert!(stmt.columns().iter().all(|c| c.type_().is_binary()));
}

// ------------------------------------------------------------------------------------- enums

#[derive(Debug, Clone, Copy, PartialEq, pgtusk::Type)]
#[pg(name = "mood", rename_all = "snake_case")]
enum Mood {
    Happy,
    VerySad,
}

#[tokio::test]
async fn enums_travel_in_binary_as_strings_and_user_enums() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TYPE pg_temp.mood AS ENUM ('happy', 'very_sad', 'ünï ☃')")
        .await
        .unwrap();
    check(
        &mut conn,
        "pg_temp.mood",
        vec![same(s("happy"), "happy"), same(s("ünï ☃"), "ünï ☃")],
    )
    .await;
    check(
        &mut conn,
        "pg_temp.mood[]",
        vec![same(
            vec![Some(s("very_sad")), None, Some(s("ünï ☃"))],
            "{very_sad,NULL,\"ünï ☃\"}",
        )],
    )
    .await;
    check(
        &mut conn,
        "pg_temp.mood[]",
        vec![same(vec![Mood::Happy, Mood::VerySad], "{happy,very_sad}")],
    )
    .await;
    let borrowed: &str = "happy";
    let row = conn
        .fetch_one("SELECT $1::pg_temp.mood", &[&borrowed])
        .await
        .unwrap();
    assert!(row.columns().iter().all(|c| c.type_().is_binary()));
    assert_eq!(row.get::<&str>(0), "happy");
    let err = conn
        .fetch_one("SELECT $1::pg_temp.mood", &[&"nope"])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid input value for enum"),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------ ranges

fn r<T>(lower: Bound<T>, upper: Bound<T>) -> Range<T> {
    Range::new(lower, upper)
}

#[tokio::test]
async fn integer_ranges_empty_unbounded_inclusive_exclusive() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "int4range",
        vec![
            same(r(Included(1), Excluded(10)), "[1,10)"),
            norm(
                r(Included(1), Included(10)),
                r(Included(1), Excluded(11)),
                "[1,11)",
            ),
            norm(
                r(Excluded(1), Excluded(10)),
                r(Included(2), Excluded(10)),
                "[2,10)",
            ),
            same(r(Unbounded, Excluded(0)), "(,0)"),
            same(r(Included(-5), Unbounded), "[-5,)"),
            same(r(Unbounded, Unbounded), "(,)"),
            same(Range::Empty, "empty"),
            norm(r(Included(3), Excluded(3)), Range::Empty, "empty"),
        ],
    )
    .await;
    check(
        &mut conn,
        "int8range",
        vec![same(
            r(Included(i64::MIN), Excluded(i64::MAX)),
            "[-9223372036854775808,9223372036854775807)",
        )],
    )
    .await;
    let err = conn
        .fetch_one("SELECT $1::int4range", &[&r(Included(5), Excluded(1))])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("lower bound"), "{err}");
}

#[tokio::test]
async fn numeric_date_and_timestamp_ranges() {
    let mut conn = connect().await;
    check(
        &mut conn,
        "numrange",
        vec![
            same(r(Included(s("1.5")), Included(s("2.25"))), "[1.5,2.25]"),
            same(r(Excluded(s("-Infinity")), Unbounded), "(-Infinity,)"),
        ],
    )
    .await;
    check(
        &mut conn,
        "numrange",
        vec![same(
            r(
                Excluded(Decimal::from_str("0.1").unwrap()),
                Excluded(Decimal::from(1)),
            ),
            "(0.1,1)",
        )],
    )
    .await;
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    check(
        &mut conn,
        "daterange",
        vec![
            norm(
                r(Included(day(2024, 1, 1)), Included(day(2024, 12, 31))),
                r(Included(day(2024, 1, 1)), Excluded(day(2025, 1, 1))),
                "[2024-01-01,2025-01-01)",
            ),
            same(r(Unbounded, Excluded(day(2000, 1, 1))), "(,2000-01-01)"),
        ],
    )
    .await;
    check(
        &mut conn,
        "tsrange",
        vec![same(
            r(
                Included(day(2020, 5, 1).and_hms_opt(12, 0, 0).unwrap()),
                Unbounded,
            ),
            "[\"2020-05-01 12:00:00\",)",
        )],
    )
    .await;
    conn.execute("SET TIME ZONE 'UTC'", &[]).await.unwrap();
    check(
        &mut conn,
        "tstzrange",
        vec![same(
            r(
                Included(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()),
                Included(Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap()),
            ),
            "[\"2020-01-01 00:00:00+00\",\"2021-01-01 00:00:00+00\"]",
        )],
    )
    .await;
}

#[tokio::test]
async fn custom_ranges_multiranges_and_arrays_of_ranges() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TYPE pg_temp.floatrange AS RANGE (subtype = float8)")
        .await
        .unwrap();
    check(
        &mut conn,
        "pg_temp.floatrange",
        vec![
            same(r(Included(1.5), Excluded(2.5)), "[1.5,2.5)"),
            same(r(Included(f64::NEG_INFINITY), Unbounded), "[-Infinity,)"),
        ],
    )
    .await;
    check(
        &mut conn,
        "int4multirange",
        vec![
            same(
                Multirange(vec![r(Included(1), Excluded(3)), r(Included(5), Unbounded)]),
                "{[1,3),[5,)}",
            ),
            same(Multirange(vec![]), "{}"),
            norm(
                Multirange(vec![
                    r(Included(5), Excluded(7)),
                    Range::Empty,
                    r(Included(1), Excluded(6)),
                ]),
                Multirange(vec![r(Included(1), Excluded(7))]),
                "{[1,7)}",
            ),
        ],
    )
    .await;
    check(
        &mut conn,
        "pg_temp.floatmultirange",
        vec![same(
            Multirange(vec![r(Unbounded, Included(0.5))]),
            "{(,0.5]}",
        )],
    )
    .await;
    check(
        &mut conn,
        "int8range[]",
        vec![same(
            vec![
                Some(r(Included(1i64), Excluded(2))),
                None,
                Some(Range::Empty),
            ],
            "{\"[1,2)\",NULL,empty}",
        )],
    )
    .await;
}

// -------------------------------------------------------------------------------- composites

#[tokio::test]
async fn named_composites_round_trip_as_tuples_also_nested_and_in_arrays() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TYPE pg_temp.item AS (id int4, name text, tags text[]);
         CREATE TYPE pg_temp.box_of AS (label varchar, item pg_temp.item, at_ timestamptz);",
    )
    .await
    .unwrap();
    type Item = (i32, Option<String>, Vec<String>);
    check::<Item>(
        &mut conn,
        "pg_temp.item",
        vec![
            same(
                (1, Some(s("widget")), vec![s("a"), s("b c")]),
                r#"(1,widget,"{a,""b c""}")"#,
            ),
            same((-2, None, vec![]), "(-2,,{})"),
        ],
    )
    .await;
    check::<Vec<Option<Item>>>(
        &mut conn,
        "pg_temp.item[]",
        vec![same(
            vec![Some((1, Some(s("x")), vec![])), None],
            r#"{"(1,x,{})",NULL}"#,
        )],
    )
    .await;
    conn.execute("SET TIME ZONE 'UTC'", &[]).await.unwrap();
    check(
        &mut conn,
        "pg_temp.box_of",
        vec![same(
            (
                s("crate"),
                (7, Some(s("y")), vec![s("t")]),
                Utc.with_ymd_and_hms(2001, 2, 3, 4, 5, 6).unwrap(),
            ),
            r#"(crate,"(7,y,{t})","2001-02-03 04:05:06+00")"#,
        )],
    )
    .await;

    // Field types and counts are checked, before sending and after reading.
    let err = conn
        .fetch_one("SELECT $1::pg_temp.item", &[&(1i32, s("x"))])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("$1"), "{err}");
    let err =
        decode_error::<(i32, String)>(&mut conn, "SELECT ROW(1, 'x', '{}')::pg_temp.item").await;
    assert!(
        err.contains("pg_temp.item") || err.contains("item"),
        "{err}"
    );
    let err = decode_error::<(i32, String, Vec<String>)>(
        &mut conn,
        "SELECT ROW(1, NULL, NULL)::pg_temp.item",
    )
    .await;
    assert!(err.contains("field 1") && err.contains("NULL"), "{err}");
}

#[tokio::test]
async fn anonymous_records_decode_by_their_wire_types() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one(
            "SELECT ROW(1, 'a'::text, NULL::int8), ARRAY[ROW(1, 2.5::float8), ROW(2, NULL)], ROW(ROW(true))",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<(i32, String, Option<i64>)>(0), (1, s("a"), None));
    assert_eq!(
        row.get::<Vec<(i32, Option<f64>)>>(1),
        [(1, Some(2.5)), (2, None)]
    );
    assert_eq!(row.get::<((bool,),)>(2), ((true,),));
    let err = decode_error::<(i32, i32)>(&mut conn, "SELECT ROW(1, 'a'::text)").await;
    assert!(err.contains("field 1") && err.contains("text"), "{err}");
    let err = decode_error::<(i32,)>(&mut conn, "SELECT ROW(1, 2)").await;
    assert!(err.contains("2 fields"), "{err}");
    // The text form is one cast away.
    let text: String = conn
        .fetch_value("SELECT ROW(1, 'a b')::text", &[])
        .await
        .unwrap();
    assert_eq!(text, r#"(1,"a b")"#);
}

#[tokio::test]
async fn composites_with_a_text_path_field_read_as_text() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TYPE pg_temp.doc AS (id int4, body xml)")
        .await
        .unwrap();
    let row = conn
        .fetch_one("SELECT ROW(1, '<a/>')::pg_temp.doc", &[])
        .await
        .unwrap();
    assert!(!row.columns().get(0).unwrap().type_().is_binary());
    assert_eq!(row.get::<String>(0), "(1,<a/>)");
}

// ----------------------------------------------------------------------------------- domains

#[tokio::test]
async fn domains_travel_as_their_base_type() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE DOMAIN pg_temp.posint AS int4 CHECK (VALUE > 0);
         CREATE DOMAIN pg_temp.intlist AS int4[] CHECK (cardinality(VALUE) < 4);
         CREATE TYPE pg_temp.pair AS (a pg_temp.posint, b pg_temp.intlist);",
    )
    .await
    .unwrap();
    check(&mut conn, "pg_temp.posint", vec![same(5, "5")]).await;
    check(
        &mut conn,
        "pg_temp.intlist",
        vec![same(vec![1, 2, 3], "{1,2,3}"), same(vec![], "{}")],
    )
    .await;
    check(
        &mut conn,
        "pg_temp.posint[]",
        vec![same(vec![Some(1), None, Some(3)], "{1,NULL,3}")],
    )
    .await;
    check(
        &mut conn,
        "pg_temp.pair",
        vec![same((1, vec![2]), "(1,{2})")],
    )
    .await;
    let err = conn
        .fetch_one("SELECT $1::pg_temp.posint", &[&0])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("posint"), "{err}");
    let err = conn
        .fetch_one("SELECT $1::pg_temp.posint[]", &[&vec![1, -1]])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("posint"), "{err}");
    let err = conn
        .fetch_one("SELECT $1::pg_temp.intlist", &[&vec![1, 2, 3, 4]])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("intlist"), "{err}");
}

// ----------------------------------------------------------------------------------- hstore

#[tokio::test]
async fn hstore_maps_to_a_hash_map_when_the_extension_exists() {
    let mut conn = connect().await;
    if let Err(e) = conn
        .execute("CREATE EXTENSION IF NOT EXISTS hstore", &[])
        .await
    {
        eprintln!("skipped: the hstore extension is not available: {e}");
        return;
    }
    // A fresh connection looks the extension's types up.
    let mut conn = connect().await;
    let map: HashMap<String, Option<String>> = [
        (s("a"), Some(s("1"))),
        (s("k e\"y"), None),
        (s("ünï"), Some(s(""))),
    ]
    .into();
    let row = conn
        .fetch_one(
            "SELECT $1::hstore, $1::hstore -> 'a', $1::hstore ? 'k e\"y', '\"x\"=>NULL'::hstore",
            &[&map],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<HashMap<String, Option<String>>>(0), map);
    assert_eq!(row.get::<String>(1), "1");
    assert!(row.get::<bool>(2));
    assert_eq!(
        row.get::<HashMap<String, Option<String>>>(3),
        HashMap::from([(s("x"), None)])
    );
    let empty: HashMap<String, Option<String>> =
        conn.fetch_value("SELECT ''::hstore", &[]).await.unwrap();
    assert!(empty.is_empty());
    let arr: Vec<HashMap<String, Option<String>>> = conn
        .fetch_value("SELECT ARRAY['a=>b'::hstore]", &[])
        .await
        .unwrap();
    assert_eq!(arr, [HashMap::from([(s("a"), Some(s("b")))])]);
}

// ------------------------------------------------------------------------- property tests

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

/// Arrays of any shape (up to 4 dimensions, any lower bounds, NULLs): the server reports the
/// dimensions we sent, its text form parses back to the same array, and the value round-trips.
#[test]
// One connection serves every case; block_on is its only user.
#[allow(clippy::await_holding_refcell_ref)]
fn array_property_server_agrees_on_shape_and_content() {
    let (rt, conn, mut runner) = proptest_runner();
    let shape = proptest::collection::vec((1i32..=3, -5i32..=5), 0..=4);
    let strategy = shape.prop_flat_map(|dims| {
        let count: usize = if dims.is_empty() {
            0
        } else {
            dims.iter().map(|&(len, _)| len as usize).product()
        };
        (
            Just(dims),
            proptest::collection::vec(proptest::option::of(any::<i64>()), count),
        )
    });
    runner
        .run(&strategy, |(dims, elements)| {
            let dimensions: Vec<Dimension> = dims.iter().map(|&(len, lb)| dim(len, lb)).collect();
            let array = Array::new(dimensions, elements).unwrap();
            let expected_dims: String = dims
                .iter()
                .map(|&(len, lb)| format!("[{lb}:{}]", lb + len - 1))
                .collect();
            let (back, server_dims, reparsed): (Array<Option<i64>>, Option<String>, bool) =
                rt.block_on(async {
                    let row = conn
                        .borrow_mut()
                        .fetch_one(
                            "SELECT $1::int8[], array_dims($1::int8[]), $1::int8[]::text::int8[] = $1::int8[]",
                            &[&array],
                        )
                        .await
                        .unwrap();
                    (row.get(0), row.get(1), row.get(2))
                });
            prop_assert_eq!(&back, &array);
            prop_assert_eq!(server_dims.unwrap_or_default(), expected_dims);
            prop_assert!(reparsed);
            Ok(())
        })
        .unwrap();
}

#[test]
#[allow(clippy::await_holding_refcell_ref)]
fn text_array_property_round_trips_any_string() {
    let (rt, conn, mut runner) = proptest_runner();
    let strategy = proptest::collection::vec(proptest::option::of("[^\0]{0,12}"), 0..8);
    runner
        .run(&strategy, |values| {
            let (back, count): (Vec<Option<String>>, i32) = rt.block_on(async {
                let row = conn
                    .borrow_mut()
                    .fetch_one("SELECT $1::text[], cardinality($1::text[])", &[&values])
                    .await
                    .unwrap();
                (row.get(0), row.get(1))
            });
            prop_assert_eq!(&back, &values);
            prop_assert_eq!(count as usize, values.len());
            Ok(())
        })
        .unwrap();
}

// ------------------------------------------------- own composite types on the reader/writer

#[derive(Debug, Clone, PartialEq)]
struct Item {
    id: i32,
    name: Option<String>,
    tags: Vec<String>,
}

impl<'r> Decode<'r> for Item {
    fn accepts(ty: &pgtusk::Type) -> bool {
        CompositeReader::is_composite(ty)
    }

    fn decode(ty: &pgtusk::Type, raw: &'r [u8]) -> Result<Self, pgtusk::BoxError> {
        let mut fields = CompositeReader::new(ty, raw)?;
        let item = Item {
            id: fields.read()?,
            name: fields.read()?,
            tags: fields.read()?,
        };
        fields.finish()?;
        Ok(item)
    }
}

impl Encode for Item {
    fn accepts(ty: &pgtusk::Type) -> bool {
        CompositeWriter::field_count(ty) == Some(3)
    }

    fn encode(
        &self,
        ty: &pgtusk::Type,
        buf: &mut bytes::BytesMut,
    ) -> Result<pgtusk::types::IsNull, pgtusk::BoxError> {
        let mut fields = CompositeWriter::new(ty, buf)?;
        fields.write(&self.id)?;
        fields.write(&self.name)?;
        fields.write(&self.tags)?;
        fields.finish()
    }
}

#[tokio::test]
async fn own_types_read_and_write_composites_field_by_field() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TYPE pg_temp.item AS (id int4, name text, tags text[])")
        .await
        .unwrap();
    let item = Item {
        id: 3,
        name: None,
        tags: vec![s("x")],
    };
    check(
        &mut conn,
        "pg_temp.item",
        vec![same(item.clone(), "(3,,{x})")],
    )
    .await;
    check(
        &mut conn,
        "pg_temp.item[]",
        vec![same(
            vec![item.clone(), item],
            "{\"(3,,{x})\",\"(3,,{x})\"}",
        )],
    )
    .await;
    // The reader checks each field's type: text is not an int4.
    let err =
        decode_error::<Item>(&mut conn, "SELECT ROW('a'::text, 'b'::text, '{}'::text[])").await;
    assert!(err.contains("field 0") && err.contains("i32"), "{err}");
}
