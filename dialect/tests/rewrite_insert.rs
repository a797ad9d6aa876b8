//! `rewrite` on multi-row inserts: `INSERT … SELECT * FROM unnest(…)` stores exactly what
//! sea-query's `VALUES` stores (compared byte for byte), for every column type, with NULLs,
//! `ON CONFLICT` and `RETURNING`; fails where `VALUES` fails; and takes 200,000 rows in one
//! statement, past the 65,535 parameters `VALUES` can have.

mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use pgtusk_dialect::sea_query::{
    Expr, ExprTrait, InsertStatement, OnConflict, PostgresQueryBuilder, Query, ReturningClause,
    Value,
};
use pgtusk_dialect::{StatementExt, bind, rewrite};
use rust_decimal::Decimal;
use serde_json::json;

const COLUMNS: &[&str] = &[
    "k", "i2", "i8", "t", "vc", "c3", "ci", "d", "u", "b", "ts", "tsl", "dt", "n", "ns", "m", "m2",
    "j", "js", "jb", "tv", "f8", "f4", "by", "nul",
];

/// A table of every kind of column; `ci` is citext where the server has it.
fn create(name: &str, citext: bool) -> String {
    let ci = if citext { "citext" } else { "text" };
    format!(
        "CREATE TEMP TABLE {name} (
           id int8 GENERATED ALWAYS AS IDENTITY,
           k int4 PRIMARY KEY, i2 int2, i8 int8, t text, vc varchar(5), c3 char(3), ci {ci},
           d rw_text, u uuid, b bool, ts timestamptz, tsl timestamp, dt date, n numeric(6,2),
           ns numeric, m rw_mood, m2 rw_mood, j json, js json, jb jsonb, tv tsvector,
           f8 float8, f4 float4, by bytea, nul int4)"
    )
}

fn s(v: &str) -> Expr {
    Expr::val(v)
}

fn null_string() -> Expr {
    Expr::val(Value::String(None))
}

/// One row: `k`, and a variation `i` of every other column (i = 4 is mostly NULLs).
fn row(k: i32, i: usize) -> Vec<Expr> {
    let pick = |xs: &[&str]| s(xs[i % xs.len()]);
    let null = i == 4;
    let or_null = |e: Expr, n: Value| if null { Expr::val(n) } else { e };
    vec![
        Expr::val(k),
        or_null(Expr::val(i as i32 - 2), Value::Int(None)),
        or_null(Expr::val(i64::MAX - i as i64), Value::BigInt(None)),
        or_null(
            pick(&["", "a b", "ünï", "x'y\"z", "-"]),
            Value::String(None),
        ),
        // varchar(5): trailing spaces past the length are cut, as on assignment.
        or_null(
            pick(&["ab   ", "abcde  ", "a", "", "x"]),
            Value::String(None),
        ),
        // char(3): padded, and spaces past 3 cut.
        or_null(pick(&["a", "ab ", "", "abc   ", "z"]), Value::String(None)),
        or_null(pick(&["Abc", "ABC", "x", "Ünï", "q"]), Value::String(None)),
        or_null(pick(&["dom", "a", "b", "c", "d"]), Value::String(None)),
        or_null(
            Expr::val(uuid::Uuid::from_u128(i as u128 * 7919)),
            Value::Uuid(None),
        ),
        or_null(Expr::val(i % 2 == 0), Value::Bool(None)),
        or_null(
            Expr::val(Utc.with_ymd_and_hms(2024, 2, 29, i as u32, 59, 58).unwrap()),
            Value::ChronoDateTimeUtc(None),
        ),
        or_null(
            Expr::val(
                NaiveDate::from_ymd_opt(1999, 12, 31)
                    .unwrap()
                    .and_hms_micro_opt(23, 59, 59, i as u32 * 111_111)
                    .unwrap(),
            ),
            Value::ChronoDateTime(None),
        ),
        or_null(
            Expr::val(NaiveDate::from_ymd_opt(2000 + i as i32, 1, 1).unwrap()),
            Value::ChronoDate(None),
        ),
        // numeric(6,2) rounds 1.235 to 1.24 on assignment.
        or_null(
            Expr::val(
                ["1.235", "-9999.99", "0", "12.3", "1"][i]
                    .parse::<Decimal>()
                    .unwrap(),
            ),
            Value::Decimal(None),
        ),
        // A string into numeric: pgtusk sends it as a numeric.
        or_null(
            pick(&["1e3", "-0.000001", "NaN", "3.14159", "0"]),
            Value::String(None),
        ),
        // sea-orm's ActiveEnum: `CAST($n AS "rw_mood")`.
        if null {
            null_string().as_enum("rw_mood")
        } else {
            pick(&["sad", "ok", "happy", "meh"]).as_enum("rw_mood")
        },
        // A plain string into an enum column, no cast.
        or_null(pick(&["happy", "sad", "meh", "ok"]), Value::String(None)),
        or_null(
            Expr::val(json!({"b": i, "a": [1, null, "x"], "u": "ü"})),
            Value::Json(None),
        ),
        // json keeps its text: spaces and key order as sent.
        or_null(
            pick(&[r#"{"b": 1,  "a": 2}"#, "[]", "1.50", r#""s""#, "null"]),
            Value::String(None),
        ),
        or_null(Expr::val(json!({"z": [i], "a": {}})), Value::Json(None)),
        // tsvector travels as text.
        or_null(
            pick(&["a fat cat", "sat:2 on:3", "", "x y z", "q"]),
            Value::String(None),
        ),
        or_null(
            Expr::val([0.1f64, -0.0, f64::INFINITY, 1e300, f64::NAN][i]),
            Value::Double(None),
        ),
        or_null(
            Expr::val([0.1f32, f32::MIN_POSITIVE, -1.5, 3.0, 7.0][i]),
            Value::Float(None),
        ),
        or_null(Expr::val(vec![0u8, i as u8, 255]), Value::Bytes(None)),
        Expr::val(Value::Int(None)),
    ]
}

fn insert(table: &str, rows: impl IntoIterator<Item = Vec<Expr>>) -> InsertStatement {
    let mut insert = Query::insert();
    insert
        .into_table(table.to_owned())
        .columns(COLUMNS.iter().copied());
    for row in rows {
        insert.values_panic(row);
    }
    insert
}

async fn setup() -> pgtusk::Connection {
    let mut conn = common::connect().await;
    let citext = common::rewrite_types(&mut conn).await;
    if !citext {
        eprintln!("citext is not available on this server: column ci is text");
    }
    conn.execute_script(&format!("{}; {}", create("a", citext), create("b", citext)))
        .await
        .unwrap();
    conn
}

/// Runs `stmt` on table `a` as PostgresQueryBuilder renders it and on `b` rewritten; the rows
/// each returned (both must succeed).
async fn both(
    conn: &mut pgtusk::Connection,
    stmt: impl Fn(&str) -> InsertStatement,
) -> [Vec<Vec<Option<Vec<u8>>>>; 2] {
    let (sql, values) = stmt("a").build(PostgresQueryBuilder);
    let original = common::run(conn, &sql, values)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let (sql, values) = stmt("b").build(PostgresQueryBuilder);
    let (new_sql, new_values) = rewrite(&sql, values);
    assert!(new_sql.contains("unnest("), "not rewritten: {sql}");
    let rewritten = common::run(conn, &new_sql, new_values)
        .await
        .unwrap_or_else(|e| panic!("{new_sql}: {e}"));
    [original, rewritten]
}

async fn contents(conn: &mut pgtusk::Connection, table: &str) -> Vec<Vec<Option<Vec<u8>>>> {
    let rows = conn
        .fetch(&format!("SELECT * FROM {table} ORDER BY id"), &[])
        .await
        .unwrap();
    common::raw_rows(&rows)
}

#[tokio::test]
async fn stored_rows_are_identical_to_values() {
    let mut conn = setup().await;
    let [a, b] = both(&mut conn, |t| {
        insert(t, (0..5).map(|i| row(i as i32 + 1, i)))
            .returning(ReturningClause::All)
            .to_owned()
    })
    .await;
    assert_eq!(a.len(), 5);
    assert_eq!(b, a, "RETURNING *");
    let stored = contents(&mut conn, "a").await;
    assert_eq!(contents(&mut conn, "b").await, stored);
    // The checks above compare like with like; these pin what both stored.
    let text = conn
        .fetch(
            "SELECT c3::bytea, vc, n::text, j::text, js::text, m::text, m2::text FROM b ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let c3: Vec<u8> = text[1].get(0);
    assert_eq!(c3, b"ab ");
    let vc: String = text[1].get(1);
    assert_eq!(vc, "abcde");
    let n: String = text[0].get(2);
    assert_eq!(n, "1.24");
    let js: String = text[0].get(4);
    assert_eq!(js, r#"{"b": 1,  "a": 2}"#);
    let m: String = text[2].get(5);
    assert_eq!(m, "happy");
    let m2: String = text[2].get(6);
    assert_eq!(m2, "meh");
}

#[tokio::test]
async fn on_conflict_and_returning_match() {
    let mut conn = setup().await;
    both(&mut conn, |t| {
        insert(t, (0..4).map(|i| row(i as i32 + 1, i)))
    })
    .await;
    // Keys 3 and 4 exist: updated; 5 and 6 are new.
    let [a, b] = both(&mut conn, |t| {
        insert(t, (0..4).map(|i| row(i as i32 + 3, 4 - i)))
            .on_conflict(
                OnConflict::column("k")
                    .update_columns(["t", "m", "ts", "j"])
                    .to_owned(),
            )
            .returning(Query::returning().columns(["id", "k", "t", "m", "ts", "j"]))
            .to_owned()
    })
    .await;
    assert_eq!(a.len(), 4);
    assert_eq!(b, a);
    assert_eq!(
        contents(&mut conn, "b").await,
        contents(&mut conn, "a").await
    );
    // DO NOTHING: RETURNING has the inserted rows only.
    let [a, b] = both(&mut conn, |t| {
        insert(t, (0..4).map(|i| row(i as i32 + 5, i)))
            .on_conflict(OnConflict::column("k").do_nothing().to_owned())
            .returning(Query::returning().columns(["id", "k"]))
            .to_owned()
    })
    .await;
    assert_eq!(a.len(), 2);
    assert_eq!(b, a);
    assert_eq!(
        contents(&mut conn, "b").await,
        contents(&mut conn, "a").await
    );
}

/// A value its column refuses fails the rewritten insert with the same SQLSTATE, and neither
/// stores anything.
#[tokio::test]
async fn refused_values_fail_alike() {
    let mut conn = setup().await;
    let column = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
    let cases: Vec<(&str, usize, Expr, &str)> = vec![
        (
            "too long for varchar(5)",
            column("vc"),
            s("abcdef"),
            "22001",
        ),
        ("too long for char(3)", column("c3"), s("abcd"), "22001"),
        ("the domain's check", column("d"), s("forbidden"), "23514"),
        ("not a label", column("m2"), s("nope"), "22P02"),
        (
            "not a label, cast",
            column("m"),
            s("nope").as_enum("rw_mood"),
            "22P02",
        ),
        ("not json", column("js"), s("{"), "22P02"),
        (
            "past numeric(6,2)",
            column("n"),
            Expr::val("12345.6".parse::<Decimal>().unwrap()),
            "22003",
        ),
    ];
    for (what, col, bad, state) in cases {
        let rows = || {
            let mut second = row(2, 1);
            second[col] = bad.clone();
            [row(1, 0), second]
        };
        let mut errors = Vec::new();
        for table in ["a", "b"] {
            let (sql, values) = insert(table, rows()).build(PostgresQueryBuilder);
            let (sql, values) = if table == "b" {
                rewrite(&sql, values)
            } else {
                (sql, values)
            };
            let e = common::run(&mut conn, &sql, values).await.expect_err(what);
            errors.push(e.sqlstate().map(|s| s.to_string()));
        }
        assert_eq!(
            errors,
            [Some(state.to_owned()), Some(state.to_owned())],
            "{what}"
        );
    }
    assert!(contents(&mut conn, "a").await.is_empty());
    assert!(contents(&mut conn, "b").await.is_empty());
}

#[tokio::test]
async fn every_row_count_is_one_statement() {
    let mut conn = setup().await;
    let before = conn.cached_statements();
    let mut k = 0;
    for n in 2..=40 {
        let (sql, values) = insert(
            "b",
            (0..n).map(|i| {
                k += 1;
                row(k, i % 5)
            }),
        )
        .build(PostgresQueryBuilder);
        let (sql, values) = rewrite(&sql, values);
        assert_eq!(values.0.len(), COLUMNS.len());
        let params = bind(values).unwrap();
        assert_eq!(
            conn.execute(&sql, &params.as_refs()).await.unwrap(),
            n as u64
        );
    }
    assert_eq!(conn.cached_statements() - before, 1);
}

#[tokio::test]
async fn two_hundred_thousand_rows_in_one_statement() {
    let mut conn = common::connect().await;
    common::rewrite_types(&mut conn).await;
    conn.execute_script(
        "CREATE TEMP TABLE big (k int4 PRIMARY KEY, t text, m rw_mood, ts timestamptz)",
    )
    .await
    .unwrap();
    let moods = ["sad", "ok", "happy", "meh"];
    let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let mut stmt = Query::insert();
    stmt.into_table("big").columns(["k", "t", "m", "ts"]);
    for k in 0..200_000i32 {
        stmt.values_panic([
            Expr::val(k),
            Expr::val(format!("row {k}")),
            Expr::val(moods[k as usize % 4]).as_enum("rw_mood"),
            Expr::val(t0 + chrono::Duration::seconds(k.into())),
        ]);
    }
    let (sql, values) = stmt.build(PostgresQueryBuilder);
    assert_eq!(values.0.len(), 800_000);
    // As rendered, it cannot run: the protocol counts parameters in 16 bits. (On its own
    // connection: today the driver finds out from the server's ParameterDescription, whose
    // count wrapped, and closes the connection.)
    let mut other = common::connect().await;
    assert!(common::run(&mut other, &sql, values.clone()).await.is_err());
    let (sql, values) = rewrite(&sql, values);
    assert_eq!(values.0.len(), 4);
    let params = bind(values).unwrap();
    assert_eq!(
        conn.execute(&sql, &params.as_refs()).await.unwrap(),
        200_000
    );
    let row = conn
        .fetch_one(
            "SELECT count(*), sum(k), count(DISTINCT t), count(*) FILTER (WHERE m = 'meh'),
                    max(ts) = $1
             FROM big",
            &[&(t0 + chrono::Duration::seconds(199_999))],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<i64>(0), 200_000);
    assert_eq!(row.get::<i64>(1), 19_999_900_000);
    assert_eq!(row.get::<i64>(2), 200_000);
    assert_eq!(row.get::<i64>(3), 50_000);
    assert!(row.get::<bool>(4));
}

/// `StatementExt` on an insert of several rows runs it through the rewrite.
#[tokio::test]
async fn statement_ext_inserts_through_the_rewrite() {
    let mut conn = setup().await;
    let stmt = insert("b", (0..5).map(|i| row(i as i32 + 1, i)));
    let (sql, values) = stmt.build_tusk();
    assert!(sql.contains("SELECT * FROM unnest("), "{sql}");
    assert_eq!(values.0.len(), COLUMNS.len());
    assert_eq!(stmt.execute(&mut conn).await.unwrap(), 5);
    let (sql, values) =
        insert("a", (0..5).map(|i| row(i as i32 + 1, i))).build(PostgresQueryBuilder);
    common::run(&mut conn, &sql, values).await.unwrap();
    assert_eq!(
        contents(&mut conn, "b").await,
        contents(&mut conn, "a").await
    );
    // One row stays a plain VALUES.
    let (sql, _) = insert("b", [row(9, 0)]).build_tusk();
    assert!(sql.contains(" VALUES ("), "{sql}");
}
