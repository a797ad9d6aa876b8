//! `rewrite` on `IN` lists: the rewritten statement returns exactly the rows of the statement
//! PostgresQueryBuilder rendered, for every column type, for lists with NULLs, duplicates and
//! values the table lacks, `IN` and `NOT IN`, as a projected truth value (true, false and NULL
//! differ) and as a filter.

mod common;

use chrono::{TimeZone, Utc};
use pgtusk_dialect::sea_query::{
    Enum, Expr, ExprTrait, OptionEnum, Order, PostgresQueryBuilder, Query, QueryStatementWriter,
    Value, Values,
};
use pgtusk_dialect::{TuskQueryBuilder, rewrite};
use rust_decimal::Decimal;

/// Runs the statement as rendered and as rewritten; asserts the rewrite happened and both
/// return the same rows.
async fn same_rows(conn: &mut pgtusk::Connection, stmt: &impl QueryStatementWriter, what: &str) {
    let (sql, values) = stmt.build(PostgresQueryBuilder);
    let (new_sql, new_values) = rewrite(&sql, values.clone());
    assert!(
        new_sql.contains("ANY(") || new_sql.contains("ALL("),
        "{what}: not rewritten: {sql}"
    );
    let want = common::run(conn, &sql, values)
        .await
        .unwrap_or_else(|e| panic!("{what}: {sql}: {e}"));
    let got = common::run(conn, &new_sql, new_values)
        .await
        .unwrap_or_else(|e| panic!("{what}: {new_sql}: {e}"));
    assert_eq!(got, want, "{what}\n{sql}\n{new_sql}");
    // TuskQueryBuilder renders the same lists as arrays itself (enum casts included), and the
    // rewrite leaves its output as it is.
    let (tusk_sql, tusk_values) = stmt.build(TuskQueryBuilder::new());
    assert!(
        tusk_sql.contains("ANY(") || tusk_sql.contains("ALL("),
        "{what}: {tusk_sql}"
    );
    let again = rewrite(&tusk_sql, tusk_values.clone());
    assert_eq!(again, (tusk_sql.clone(), tusk_values.clone()));
    let tusk = common::run(conn, &tusk_sql, tusk_values)
        .await
        .unwrap_or_else(|e| panic!("{what}: {tusk_sql}: {e}"));
    assert_eq!(tusk, want, "{what}\n{sql}\n{tusk_sql}");
}

/// How a list item is written: a plain value, or as sea-orm writes ActiveEnum values.
#[derive(Clone, Copy, Debug)]
enum Item {
    Plain,
    /// `CAST($n AS "rw_mood")` (sea-orm's `save_as`).
    CastAs,
}

/// Table `t` of `sql_type` holds a, b, c and NULL; every list of a, b, c, d (absent), `same`
/// (equal to a in the column's type, spelled differently) and NULL is compared.
async fn check(sql_type: &str, [a, b, c, d, same]: [Value; 5], null: Value, item: Item) {
    let mut conn = common::connect().await;
    common::rewrite_types(&mut conn).await;
    conn.execute_script(&format!(
        "CREATE TEMP TABLE t (k int4 PRIMARY KEY, v {sql_type})"
    ))
    .await
    .unwrap();
    for (k, v) in [(1, &a), (2, &b), (3, &c), (4, &null)] {
        let insert = Query::insert()
            .into_table("t")
            .columns(["k", "v"])
            .values_panic([k.into(), v.clone().into()])
            .to_owned();
        let (sql, values) = insert.build(PostgresQueryBuilder);
        common::run(&mut conn, &sql, values)
            .await
            .unwrap_or_else(|e| panic!("{sql_type}: {sql}: {e}"));
    }
    let lists: Vec<Vec<Value>> = vec![
        vec![a.clone()],
        vec![a.clone(), b.clone()],
        vec![a.clone(), a.clone()],
        vec![d.clone()],
        vec![same.clone()],
        vec![same.clone(), d.clone()],
        vec![a.clone(), null.clone()],
        vec![d.clone(), null.clone()],
        vec![null.clone()],
        vec![null.clone(), null.clone()],
        vec![c.clone(), b.clone(), a.clone(), d.clone()],
        vec![b.clone(), null.clone(), b.clone(), d.clone(), same.clone()],
    ];
    for list in &lists {
        let items: Vec<Expr> = list
            .iter()
            .map(|v| match item {
                Item::Plain => Expr::val(v.clone()),
                Item::CastAs => Expr::val(v.clone()).as_enum("rw_mood"),
            })
            .collect();
        for not in [false, true] {
            let test = || {
                if not {
                    Expr::col("v").is_not_in(items.clone())
                } else {
                    Expr::col("v").is_in(items.clone())
                }
            };
            let projected = Query::select()
                .column("k")
                .expr_as(test(), "r")
                .from("t")
                .order_by("k", Order::Asc)
                .to_owned();
            let what = format!("{sql_type} {item:?}, not {not}, {list:?}");
            same_rows(&mut conn, &projected, &what).await;
            let filtered = Query::select()
                .column("k")
                .from("t")
                .and_where(test())
                .order_by("k", Order::Asc)
                .to_owned();
            same_rows(&mut conn, &filtered, &what).await;
        }
    }
}

fn s(v: &str) -> Value {
    Value::String(Some(v.to_owned()))
}

#[tokio::test]
async fn int4_and_int8() {
    let int = |v: i32| Value::Int(Some(v));
    let big = |v: i64| Value::BigInt(Some(v));
    check(
        "int4",
        [int(1), int(-2), int(i32::MAX), int(9), int(1)],
        Value::Int(None),
        Item::Plain,
    )
    .await;
    // int8 values against an int4 column: encoded as int4, as the original's parameters are.
    check(
        "int4",
        [big(1), big(-2), big(3), big(9), big(1)],
        Value::BigInt(None),
        Item::Plain,
    )
    .await;
    check(
        "int8",
        [big(1), big(-2), big(i64::MAX), big(9), big(1)],
        Value::BigInt(None),
        Item::Plain,
    )
    .await;
    check(
        "int8",
        [int(1), int(-2), int(3), int(9), int(1)],
        Value::Int(None),
        Item::Plain,
    )
    .await;
}

#[tokio::test]
async fn text_and_varchar() {
    for ty in ["text", "varchar(10)"] {
        check(
            ty,
            [s("a"), s("B"), s("a "), s("zz"), s("a")],
            Value::String(None),
            Item::Plain,
        )
        .await;
    }
}

#[tokio::test]
async fn char_n_ignores_trailing_spaces() {
    // `same` is a with trailing spaces: equal in char(3), as in the original.
    check(
        "char(3)",
        [s("a"), s("b "), s("ab"), s("x"), s("a  ")],
        Value::String(None),
        Item::Plain,
    )
    .await;
}

#[tokio::test]
async fn citext_ignores_case() {
    let mut conn = common::connect().await;
    if !common::rewrite_types(&mut conn).await {
        eprintln!("skipped: the citext extension is not available on this server");
        return;
    }
    check(
        "citext",
        [s("abc"), s("Bcd"), s("x"), s("y"), s("ABC")],
        Value::String(None),
        Item::Plain,
    )
    .await;
}

#[tokio::test]
async fn domain_over_text() {
    check(
        "rw_text",
        [s("a"), s("b"), s("c"), s("d"), s("a")],
        Value::String(None),
        Item::Plain,
    )
    .await;
}

#[tokio::test]
async fn uuid_bool_timestamptz_numeric() {
    let u = |n: u128| Value::Uuid(Some(uuid::Uuid::from_u128(n)));
    check(
        "uuid",
        [u(1), u(2), u(u128::MAX), u(9), u(1)],
        Value::Uuid(None),
        Item::Plain,
    )
    .await;
    let b = |v: bool| Value::Bool(Some(v));
    // Two values only: d repeats b.
    check(
        "bool",
        [b(true), b(false), b(true), b(false), b(true)],
        Value::Bool(None),
        Item::Plain,
    )
    .await;
    let ts = |h: u32| {
        Value::ChronoDateTimeUtc(Some(Utc.with_ymd_and_hms(2024, 2, 29, h, 30, 0).unwrap()))
    };
    check(
        "timestamptz",
        [ts(1), ts(2), ts(23), ts(9), ts(1)],
        Value::ChronoDateTimeUtc(None),
        Item::Plain,
    )
    .await;
    let n = |v: &str| Value::Decimal(Some(v.parse::<Decimal>().unwrap()));
    // 1.5 and 1.50 are equal numerics.
    check(
        "numeric",
        [n("1.5"), n("-2"), n("1e-20"), n("9"), n("1.50")],
        Value::Decimal(None),
        Item::Plain,
    )
    .await;
}

fn mood(label: &'static str) -> Value {
    Value::Enum(OptionEnum::Some(Box::new(Enum {
        type_name: "rw_mood".into(),
        value: label.into(),
    })))
}

#[test]
fn enum_cast_lists_render_as_one_cast_array() {
    let select = Query::select()
        .column("k")
        .from("t")
        .and_where(Expr::col("v").is_in(["sad", "ok"].map(|m| Expr::val(m).as_enum("rw_mood"))))
        .to_owned();
    let (sql, values) = select.build(PostgresQueryBuilder);
    assert_eq!(
        sql,
        r#"SELECT "k" FROM "t" WHERE "v" IN (CAST($1 AS "rw_mood"), CAST($2 AS "rw_mood"))"#
    );
    let want = r#"SELECT "k" FROM "t" WHERE "v" = ANY(CAST($1 AS "rw_mood"[]))"#;
    let (rewritten, rewritten_values) = rewrite(&sql, values);
    assert_eq!(rewritten, want);
    let (tusk, tusk_values) = select.build(TuskQueryBuilder::new());
    assert_eq!(tusk, want);
    assert_eq!(tusk_values, rewritten_values);
}

#[tokio::test]
async fn enums_with_sea_orm_casts_and_enum_values() {
    // sea-orm: `CAST($1 AS "rw_mood")` around string values.
    check(
        "rw_mood",
        [s("sad"), s("ok"), s("happy"), s("meh"), s("sad")],
        Value::String(None),
        Item::CastAs,
    )
    .await;
    // sea-query's own enum values: `$1::"rw_mood"`.
    check(
        "rw_mood",
        [
            mood("sad"),
            mood("ok"),
            mood("happy"),
            mood("meh"),
            mood("sad"),
        ],
        Value::Enum(OptionEnum::None("rw_mood".into())),
        Item::Plain,
    )
    .await;
}

/// Hand-written statements of the shapes where the rewrite adds parentheses or keeps `IN`,
/// each run as written and as rewritten.
#[tokio::test]
async fn precedence_shapes_return_the_same_rows() {
    let mut conn = common::connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE p (k int4, a int4, b bool, j jsonb);
         INSERT INTO p VALUES (1, 1, true, '{\"k\": 1}'), (2, 2, false, '{\"k\": 2}'),
                              (3, NULL, NULL, NULL), (4, 4, true, '{}')",
    )
    .await
    .unwrap();
    let ints = |v: &[Option<i32>]| Values(v.iter().map(|&i| Value::Int(i)).collect());
    for (sql, values) in [
        (
            r#"SELECT "k", "b" = "a" IN ($1, $2) FROM "p" ORDER BY "k""#,
            ints(&[Some(1), None]),
        ),
        (
            r#"SELECT "k", "a" IN ($1, $2) = "b" FROM "p" ORDER BY "k""#,
            ints(&[Some(1), Some(4)]),
        ),
        (
            r#"SELECT "k", CASE WHEN "a" IN ($1, $2)=TRUE THEN 0 ELSE 1 END FROM "p" ORDER BY "k""#,
            ints(&[Some(2), Some(4)]),
        ),
        (
            r#"SELECT "k" FROM "p" WHERE NOT "a" IN ($1, $2) OR "a" + 1 IN ($3) ORDER BY "k""#,
            ints(&[Some(1), Some(2), Some(5)]),
        ),
        (
            r#"SELECT "k", ("j" ->> 'k')::int4 IN ($1, $2) IS NULL FROM "p" ORDER BY "k""#,
            ints(&[Some(1), Some(3)]),
        ),
        (
            r#"SELECT "k", - "a" NOT IN ($1, $2) AS "r" FROM "p" ORDER BY "a" IN ($3) DESC, "k""#,
            ints(&[Some(-1), Some(-4), Some(2)]),
        ),
        (
            r#"SELECT "k", COALESCE("a", $1) IN ($2, $3) FROM "p" ORDER BY "k""#,
            ints(&[Some(0), Some(0), Some(2)]),
        ),
        (
            r#"SELECT "k", $1 IN ($2, $3) FROM "p" ORDER BY "k""#,
            Values(vec![s("x"), s("y"), s("x")]),
        ),
    ] {
        let (new_sql, new_values) = rewrite(sql, values.clone());
        assert_ne!(new_sql, sql);
        let want = common::run(&mut conn, sql, values)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let got = common::run(&mut conn, &new_sql, new_values)
            .await
            .unwrap_or_else(|e| panic!("{new_sql}: {e}"));
        assert_eq!(got, want, "{sql}\n{new_sql}");
    }
}

/// A value the column's type cannot hold fails as it did: the array is encoded for the
/// column's type, value by value, like the original's parameters.
#[tokio::test]
async fn a_value_out_of_the_columns_range_fails_as_before() {
    let mut conn = common::connect().await;
    conn.execute_script("CREATE TEMP TABLE r (v int4)")
        .await
        .unwrap();
    let select = Query::select()
        .column("v")
        .from("r")
        .and_where(Expr::col("v").is_in([1i64, i64::MAX]))
        .to_owned();
    let (sql, values) = select.build(PostgresQueryBuilder);
    let (new_sql, new_values) = rewrite(&sql, values.clone());
    let before = common::run(&mut conn, &sql, values).await.unwrap_err();
    let after = common::run(&mut conn, &new_sql, new_values)
        .await
        .unwrap_err();
    for e in [&before, &after] {
        assert!(e.to_string().contains("out of range for int4"), "{e}");
    }
}
