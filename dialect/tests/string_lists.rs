//! A list of strings compares in the type of what it is compared with, as `IN ('a', 'b')` does:
//! char(n) ignores trailing spaces, citext ignores case, a domain compares as its base type,
//! `"char"` reads the first byte. Every answer (true, false or NULL, per row) is checked against
//! PostgreSQL's own answer for the same statement with its values written inline.

mod common;

use pgtusk_dialect::sea_query::{
    BinOper, Expr, ExprTrait, Func, Order, PostgresQueryBuilder, Query, SelectStatement, Value,
};
use pgtusk_dialect::{TuskQueryBuilder, bind};

type Rows = Vec<Vec<Option<Vec<u8>>>>;

/// The stored values: trailing spaces, case, empty, non-ASCII, NULL.
const STORED: [Option<&str>; 6] = [
    Some("a"),
    Some("b  "),
    Some("Ab"),
    Some(""),
    Some("é"),
    None,
];

fn lists() -> Vec<Vec<Option<&'static str>>> {
    vec![
        vec![Some("a")],
        vec![Some("a  ")],
        vec![Some("A")],
        vec![Some("b")],
        vec![Some("B  ")],
        vec![Some("ab"), Some("AB ")],
        vec![Some("")],
        vec![Some(" ")],
        vec![Some("a"), None],
        vec![Some("zz"), None],
        vec![None],
        vec![],
        vec![Some("a"), Some("a"), Some("b ")],
        vec![Some("É"), Some("é  ")],
        vec![Some("\\141")],
    ]
}

fn string(s: Option<&str>) -> Value {
    Value::String(s.map(str::to_owned))
}

/// Left sides typed by the column: the column, a function call and an expression on it.
fn column_left_sides() -> Vec<(&'static str, Expr)> {
    vec![
        ("column", Expr::col("v")),
        (
            "coalesce(column, value)",
            Func::coalesce([Expr::col("v"), Expr::val("zz")]).into(),
        ),
        ("lower(column)", Func::lower(Expr::col("v")).into()),
    ]
}

/// Left sides with no column: a parameter, an untyped literal, a typed one, NULL.
fn other_left_sides() -> Vec<(&'static str, Expr)> {
    vec![
        ("a parameter", Expr::val("a  ")),
        ("an untyped literal", Expr::cust("'b'")),
        ("a bpchar literal", Expr::cust("'b '::bpchar")),
        ("NULL", Expr::val(Value::String(None))),
    ]
}

async fn run(conn: &mut pgtusk::Connection, sql: &str, values: Vec<Value>) -> Result<Rows, String> {
    let params = bind(values).map_err(|e| e.to_string())?;
    conn.fetch(sql, &params.as_refs())
        .await
        .map(|rows| common::raw_rows(&rows))
        .map_err(|e| format!("{sql}: {e}"))
}

/// What the server answers for the statement with its values inline, and what it answers for
/// the dialect's renderings (with and without casts); one line per difference.
async fn compare(
    conn: &mut pgtusk::Connection,
    what: &str,
    select: &SelectStatement,
) -> Vec<String> {
    let inline = select.to_string(PostgresQueryBuilder);
    let want = run(conn, &inline, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("the inline statement fails: {e}"));
    let mut wrong = Vec::new();
    for builder in [
        TuskQueryBuilder::new(),
        TuskQueryBuilder::new().without_casts(),
    ] {
        let (sql, values) = select.build(builder);
        let got = run(conn, &sql, values.0).await;
        if got.as_ref() != Ok(&want) {
            wrong.push(format!(
                "{what}, casts: {}\n    inline: {inline}\n    want {want:?}\n    tusk: {sql}\n    got  {got:?}",
                builder.casts()
            ));
        }
    }
    wrong
}

/// Creates the domains and the citext extension once per server; whether citext exists.
async fn shared_types(conn: &mut pgtusk::Connection) -> bool {
    let citext = conn
        .fetch_optional(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'citext'",
            &[],
        )
        .await
        .unwrap()
        .is_some();
    // Test binaries share the server: one at a time creates the types.
    conn.execute_script("SELECT pg_advisory_lock(727170)")
        .await
        .unwrap();
    let mut script = String::from(
        "DO $$ BEGIN CREATE DOMAIN tusk_text AS text;
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         DO $$ BEGIN CREATE DOMAIN tusk_bpchar4 AS char(4);
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
    );
    if citext {
        script.push_str(
            "CREATE EXTENSION IF NOT EXISTS citext;
             DO $$ BEGIN CREATE DOMAIN tusk_citext AS citext;
             EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
        );
    }
    let created = conn.execute_script(&script).await;
    conn.execute_script("SELECT pg_advisory_unlock(727170)")
        .await
        .unwrap();
    created.unwrap();
    citext
}

/// Every list against every left side, IN and NOT IN, on a table whose `v` is `sql_type`.
async fn check(sql_type: &str) {
    check_with(sql_type, column_left_sides()).await
}

async fn check_with(sql_type: &str, left_sides: Vec<(&'static str, Expr)>) {
    let mut conn = common::connect().await;
    shared_types(&mut conn).await;
    conn.execute_script(&format!(
        "CREATE TEMP TABLE t (k int4 PRIMARY KEY, v {sql_type})"
    ))
    .await
    .unwrap();
    let mut insert = Query::insert();
    insert.into_table("t").columns(["k", "v"]);
    for (k, s) in (1..).zip(STORED) {
        insert.values_panic([k.into(), string(s).into()]);
    }
    conn.execute_script(&insert.to_string(PostgresQueryBuilder))
        .await
        .unwrap();

    let mut wrong = Vec::new();
    let count = left_sides.len() * lists().len() * 4;
    for (left_name, left) in left_sides {
        for list in lists() {
            for not in [false, true] {
                let items = list.iter().map(|s| string(*s));
                let test = if not {
                    left.clone().is_not_in(items)
                } else {
                    left.clone().is_in(items)
                };
                let select = Query::select()
                    .column("k")
                    .expr_as(test, "r")
                    .from("t")
                    .order_by("k", Order::Asc)
                    .to_owned();
                let op = if not { "NOT IN" } else { "IN" };
                let what = format!("{sql_type}: {left_name} {op} {list:?}");
                wrong.extend(compare(&mut conn, &what, &select).await);
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} comparisons differ from inline IN:\n{}",
        wrong.len(),
        count,
        wrong.join("\n")
    );
}

#[tokio::test]
async fn left_sides_without_a_column_type() {
    check_with("text", other_left_sides()).await;
}

#[tokio::test]
async fn bpchar_ignores_trailing_spaces() {
    check("char(4)").await;
    check("bpchar").await;
}

#[tokio::test]
async fn varchar_and_text_compare_as_text() {
    check("varchar(8)").await;
    check("text").await;
}

#[tokio::test]
async fn citext_ignores_case() {
    let mut conn = common::connect().await;
    if !shared_types(&mut conn).await {
        eprintln!("skipped: the server has no citext extension");
        return;
    }
    check("citext").await;
    check("tusk_citext").await;
}

#[tokio::test]
async fn domains_compare_as_their_base_type() {
    check("tusk_text").await;
    check("tusk_bpchar4").await;
}

#[tokio::test]
async fn name_and_internal_char() {
    check("name").await;
    // "char" keeps a string's first byte (or the byte of a `\ooo` escape). Not coalesce: a
    // single string parameter is a Rust String, which the driver does not send as "char".
    let left_sides = column_left_sides()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("coalesce"))
        .collect();
    check_with("\"char\"", left_sides).await;
}

/// `(a, b) IN ((1, 'x'), …)` compares each position in its column's type, too.
#[tokio::test]
async fn row_values_with_a_bpchar_column() {
    let mut conn = common::connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE pairs (k int4 PRIMARY KEY, a int4, b char(3));
         INSERT INTO pairs VALUES (1, 1, 'x'), (2, 2, 'y  '), (3, 3, NULL), (4, NULL, 'z')",
    )
    .await
    .unwrap();
    let lists: Vec<Vec<(i32, &str)>> = vec![
        vec![(1, "x  ")],
        vec![(1, "x"), (2, "y ")],
        vec![(3, "c"), (4, "z")],
        vec![(2, "Y")],
    ];
    let mut wrong = Vec::new();
    for list in &lists {
        for not in [false, true] {
            let rows = list.iter().map(|&(a, b)| (a, b.to_owned()));
            let test = match Expr::tuple([Expr::col("a"), Expr::col("b")]).in_tuples(rows) {
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
            let what = format!("(int4, char(3)) not: {not} {list:?}");
            wrong.extend(compare(&mut conn, &what, &select).await);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
