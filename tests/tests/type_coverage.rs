//! No built-in type is left without a codec: the test walks `pg_type` (the base, range and
//! multirange types of pg_catalog, arrays and pseudo-types aside: 80 in PostgreSQL 15) and
//! requires each to be either a binary type with a Rust codec — proven by decoding a sample
//! through its Rust type and sending it back, with the server's text as the oracle — or a
//! declared text-path type that decodes to `String`. A type PostgreSQL gains that is in
//! neither list fails the test.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use pgtusk::types::{
    Bits, Circle, Interval, IpNetwork, Line, LineSegment, MacAddr, MacAddr8, Money, Multirange,
    Path, PgBox, PgLsn, Point, Polygon, Range, TimeTz,
};
use pgtusk::{Connection, Decode, Encode, Type};
use pgtusk_tests::connect;
use uuid::Uuid;

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Decodes the sample `'lit'::ty` through T and sends it back: the server's text of both
/// must agree, and the column must travel in binary.
async fn binary<T>(conn: &mut Connection, ty: &str, lit: &str)
where
    T: Encode + Sync + for<'r> Decode<'r> + Debug,
{
    let sql = format!(
        "SELECT {}::\"{ty}\", {}::\"{ty}\"::text",
        literal(lit),
        literal(lit)
    );
    let row = conn
        .fetch_one(&*sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let column = row.columns().get(0).unwrap().type_().clone();
    assert!(column.is_binary(), "{ty} should travel in binary");
    let value: T = row.try_get(0).unwrap_or_else(|e| panic!("{ty}: {e}"));
    let text: String = row.get(1);
    let back: String = conn
        .fetch_value(&*format!("SELECT $1::\"{ty}\"::text"), &[&value])
        .await
        .unwrap_or_else(|e| panic!("{ty}: sending {value:?} back: {e}"));
    assert_eq!(back, text, "{ty}: {value:?} went back as different text");
}

/// A text-path type: `expr::ty` (or NULL when no value can be made) decodes to String and
/// the text goes back through the server's input function.
async fn text_path(conn: &mut Connection, ty: &str, expr: Option<&str>) {
    let sql = format!("SELECT ({})::\"{ty}\"", expr.unwrap_or("NULL"));
    let row = conn
        .fetch_one(&*sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert!(
        !row.columns().get(0).unwrap().type_().is_binary(),
        "{ty} is declared text-path but travels in binary"
    );
    let value: Option<String> = row.try_get(0).unwrap_or_else(|e| panic!("{ty}: {e}"));
    match (expr, value) {
        (None, value) => assert_eq!(value, None, "{ty}"),
        (Some(_), None) => panic!("{sql} is NULL"),
        (Some(_), Some(text)) => {
            assert!(!text.is_empty(), "{ty}");
            let back: String = conn
                .fetch_value(&*format!("SELECT $1::\"{ty}\"::text"), &[&text])
                .await
                .unwrap_or_else(|e| panic!("{ty}: sending {text:?} back: {e}"));
            assert_eq!(back, text, "{ty}");
        }
    }
}

#[tokio::test]
async fn every_builtin_type_has_a_binary_codec_or_a_declared_text_path() {
    let mut conn = connect().await;
    conn.execute("SET TIME ZONE 'UTC'", &[]).await.unwrap();
    let catalog: Vec<(String, u32)> = conn
        .fetch_as(
            "SELECT typname::text, oid::int8 FROM pg_catalog.pg_type \
             WHERE typnamespace = 'pg_catalog'::regnamespace \
               AND typtype IN ('b', 'r', 'm') AND typcategory <> 'A' ORDER BY typname",
            &[],
        )
        .await
        .map(|rows: Vec<(String, i64)>| {
            rows.into_iter()
                .map(|(name, oid)| (name, oid as u32))
                .collect()
        })
        .unwrap();
    assert!(catalog.len() >= 80, "{} types", catalog.len());

    let mut binary_types = BTreeSet::new();
    macro_rules! binary {
        ($($ty:literal => $lit:literal as $rust:ty),+ $(,)?) => {$(
            binary::<$rust>(&mut conn, $ty, $lit).await;
            binary_types.insert($ty);
        )+};
    }
    binary! {
        "bool" => "true" as bool,
        "bytea" => "\\x00ff" as Vec<u8>,
        "char" => "a" as i8,
        "name" => "pg_class" as String,
        "int8" => "-9223372036854775808" as i64,
        "int2" => "-32768" as i16,
        "int4" => "2147483647" as i32,
        "text" => "ünïcødé" as String,
        "oid" => "4294967295" as u32,
        "json" => "{\"a\":[1,null]}" as serde_json::Value,
        "point" => "(1.5,-2)" as Point,
        "lseg" => "[(0,0),(1,1)]" as LineSegment,
        "path" => "[(0,0),(1,1),(2,0)]" as Path,
        "box" => "(1,2),(0,0)" as PgBox,
        "polygon" => "((0,0),(1,1),(1,0))" as Polygon,
        "line" => "{1,-1,0}" as Line,
        "float4" => "-Infinity" as f32,
        "float8" => "1.5e300" as f64,
        "circle" => "<(1,2),3>" as Circle,
        "money" => "-12.34" as Money,
        "macaddr" => "08:00:2b:01:02:03" as MacAddr,
        "inet" => "10.0.0.1" as IpAddr,
        "cidr" => "10.1.0.0/16" as IpNetwork,
        "macaddr8" => "08:00:2b:01:02:03:04:05" as MacAddr8,
        "bpchar" => "ab" as String,
        "varchar" => "xyz" as String,
        "date" => "2024-02-29" as NaiveDate,
        "time" => "12:34:56.789" as NaiveTime,
        "timestamp" => "2020-01-01 00:00:00.5" as NaiveDateTime,
        "timestamptz" => "2020-01-01 00:00:00+00" as DateTime<Utc>,
        "interval" => "1 year 2 mons -3 days 04:05:06" as Interval,
        "timetz" => "12:34:56+02" as TimeTz,
        "bit" => "1" as Bits,
        "varbit" => "10110" as Bits,
        "numeric" => "-123.4500" as String,
        "uuid" => "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" as Uuid,
        "pg_lsn" => "16/B374D848" as PgLsn,
        "jsonb" => "{\"a\": [1, null]}" as serde_json::Value,
        "xid8" => "18446744073709551615" as u64,
        "int4range" => "[1,10)" as Range<i32>,
        "numrange" => "(1.5,)" as Range<String>,
        "tsrange" => "[2020-01-01 00:00:00,2021-01-01 00:00:00]" as Range<NaiveDateTime>,
        "tstzrange" => "empty" as Range<DateTime<Utc>>,
        "daterange" => "(,2000-01-01)" as Range<NaiveDate>,
        "int8range" => "[1,2)" as Range<i64>,
        "int4multirange" => "{[1,3),[5,7)}" as Multirange<i32>,
        "nummultirange" => "{}" as Multirange<String>,
        "tsmultirange" => "{[2020-01-01 00:00:00,)}" as Multirange<NaiveDateTime>,
        "tstzmultirange" => "{(,2020-01-01 00:00:00+00]}" as Multirange<DateTime<Utc>>,
        "datemultirange" => "{[2024-01-01,2024-02-01)}" as Multirange<NaiveDate>,
        "int8multirange" => "{[-5,5)}" as Multirange<i64>,
    }

    let mut text_types = BTreeSet::new();
    macro_rules! text {
        ($($ty:literal => $expr:expr),+ $(,)?) => {$(
            text_path(&mut conn, $ty, $expr).await;
            text_types.insert($ty);
        )+};
    }
    text! {
        "aclitem" => Some("makeaclitem('pg_monitor'::regrole, 'pg_monitor'::regrole, 'SELECT', false)"),
        "cid" => Some("'7'"),
        "gtsvector" => None,
        "jsonpath" => Some("'$.a[*] ? (@ > 1)'"),
        "pg_brin_bloom_summary" => None,
        "pg_brin_minmax_multi_summary" => None,
        "pg_dependencies" => None,
        "pg_mcv_list" => None,
        "pg_ndistinct" => None,
        "pg_node_tree" => None,
        "pg_snapshot" => Some("'10:20:10,14,15'"),
        "refcursor" => Some("'portal 1'"),
        "regclass" => Some("'pg_class'"),
        "regcollation" => Some("'\"C\"'"),
        "regconfig" => Some("'english'"),
        "regdictionary" => Some("'simple'"),
        "regnamespace" => Some("'pg_catalog'"),
        "regoper" => Some("'||/'"),
        "regoperator" => Some("'+(integer,integer)'"),
        "regproc" => Some("'now'"),
        "regprocedure" => Some("'now()'"),
        "regrole" => Some("'pg_monitor'"),
        "regtype" => Some("'integer'"),
        "tid" => Some("'(1,2)'"),
        "tsquery" => Some("'fat & (rat | cat)'"),
        "tsvector" => Some("'a fat cat'"),
        "txid_snapshot" => Some("'10:20:10,14,15'"),
        "xid" => Some("'42'"),
        "xml" => Some("'<a>b</a>'"),
    }

    let mut missing = Vec::new();
    for (name, oid) in &catalog {
        let ty = Type::from_oid(*oid).unwrap_or_else(|| {
            panic!("built-in type {name} (OID {oid}) is not in the driver's table")
        });
        assert_eq!(ty.name(), name, "OID {oid}");
        let declared_binary = binary_types.contains(name.as_str());
        let declared_text = text_types.contains(name.as_str());
        if !declared_binary && !declared_text {
            missing.push(format!("{name} ({oid})"));
            continue;
        }
        assert_eq!(
            ty.is_binary(),
            declared_binary,
            "{name}: the driver's format differs from the declared one"
        );
    }
    assert!(
        missing.is_empty(),
        "built-in types with neither a binary codec nor a declared text path: {missing:?}"
    );
    let in_catalog: BTreeSet<&str> = catalog.iter().map(|(n, _)| n.as_str()).collect();
    for declared in binary_types.iter().chain(&text_types) {
        assert!(
            in_catalog.contains(declared),
            "{declared} is declared but not in pg_type"
        );
    }
}

/// Every built-in array whose element has a binary codec travels in binary, and its element
/// type is the one the catalog names.
#[tokio::test]
async fn builtin_arrays_follow_their_element_format() {
    let mut conn = connect().await;
    let arrays: Vec<(String, i64, i64)> = conn
        .fetch_as(
            "SELECT a.typname::text, a.oid::int8, a.typelem::int8 FROM pg_catalog.pg_type a \
             JOIN pg_catalog.pg_type e ON e.oid = a.typelem \
             WHERE a.typnamespace = 'pg_catalog'::regnamespace AND a.typcategory = 'A' \
               AND e.typtype IN ('b', 'r', 'm', 'p') AND a.typname LIKE '\\_%' ORDER BY a.oid",
            &[],
        )
        .await
        .unwrap();
    assert!(arrays.len() >= 70, "{} arrays", arrays.len());
    for (name, oid, elem) in arrays {
        let ty = Type::from_oid(oid as u32).unwrap_or_else(|| panic!("{name} is not built in"));
        let Some(element) = Type::from_oid(elem as u32) else {
            panic!("{name}'s element is not built in");
        };
        match ty.kind() {
            pgtusk::types::Kind::Array(e) => assert_eq!(*e, element, "{name}"),
            // record[]'s element is the pseudo-type record.
            _ => assert_eq!(oid, 2287, "{name} is not an array in the driver's table"),
        }
        assert_eq!(ty.is_binary(), element.is_binary(), "{name}");
    }
}

/// The driver's table holds only OIDs below 10000, which PostgreSQL fixes in its catalog
/// headers; the others (the row types of system views and their arrays) differ between
/// versions and are looked up in `pg_type` at run time, like any type the driver does not know.
#[tokio::test]
async fn types_with_oids_from_initdb_are_looked_up_at_run_time() {
    let mut conn = connect().await;
    let late: Vec<(String, i64)> = conn
        .fetch_as(
            "SELECT typname::text, oid::int8 FROM pg_catalog.pg_type \
             WHERE typnamespace = 'pg_catalog'::regnamespace AND oid >= 10000 ORDER BY oid",
            &[],
        )
        .await
        .unwrap();
    assert!(late.len() > 100, "{} types", late.len());
    for (name, oid) in &late {
        assert!(
            Type::from_oid(*oid as u32).is_none(),
            "{name} (OID {oid}) is in the driver's table, but its OID differs between versions"
        );
    }
    // An array of a system view's row type: an array of a composite, read as one.
    let sql =
        "SELECT ARRAY[ROW('ext', '1.0', NULL, 'a comment')::pg_catalog.pg_available_extensions]";
    let row = conn.fetch_one(sql, &[]).await.unwrap();
    let ty = row.columns().get(0).unwrap().type_().clone();
    assert_eq!(ty.name(), "_pg_available_extensions");
    let pgtusk::types::Kind::Array(element) = ty.kind() else {
        panic!("{ty} is not an array: {:?}", ty.kind());
    };
    assert!(
        matches!(element.kind(), pgtusk::types::Kind::Composite(fields) if fields.len() == 4),
        "{element}: {:?}",
        element.kind()
    );
    type Extension = (String, Option<String>, Option<String>, Option<String>);
    let value: Vec<Extension> = row.get(0);
    assert_eq!(
        value,
        [(
            "ext".to_owned(),
            Some("1.0".to_owned()),
            None,
            Some("a comment".to_owned())
        )]
    );
    // The same for an array of a catalog's row type (a fixed OID, but an element the table
    // cannot describe).
    let ty = conn
        .fetch_one(
            "SELECT ARRAY(SELECT t FROM pg_catalog.pg_type t LIMIT 0)",
            &[],
        )
        .await
        .unwrap()
        .columns()
        .get(0)
        .unwrap()
        .type_()
        .clone();
    assert_eq!((ty.name(), ty.oid()), ("_pg_type", 210));
    assert!(
        matches!(ty.kind(), pgtusk::types::Kind::Array(e) if matches!(e.kind(), pgtusk::types::Kind::Composite(_))),
        "{ty}: {:?}",
        ty.kind()
    );
}
