//! `rewrite` on row lists, as sea-orm's loader renders them (`("t"."a", "t"."b") IN (($1, $2),
//! …)`): the `unnest` of typed arrays returns exactly the rows of the original, NULLs in rows
//! and in the table, duplicates, `IN` and `NOT IN`; rows with a string position stay as they are.
//! One-element rows (the loader's one-column keys) are a plain list: `= ANY`, `<> ALL`.

mod common;

use pgtusk_dialect::rewrite;
use pgtusk_dialect::sea_query::{
    Expr, ExprTrait, Order, PostgresQueryBuilder, Query, SelectStatement, Value,
};

const TABLE: &str = "
CREATE TEMP TABLE pairs (k int4 PRIMARY KEY, a int4, b int8, u uuid, m rw_mood, s char(3));
INSERT INTO pairs VALUES
  (1, 1, 10, '00000000-0000-0000-0000-000000000001', 'sad', 'a'),
  (2, 1, 20, '00000000-0000-0000-0000-000000000002', 'ok', 'b'),
  (3, 2, 10, NULL, 'happy', 'a'),
  (4, NULL, 10, '00000000-0000-0000-0000-000000000001', NULL, NULL),
  (5, 3, NULL, '00000000-0000-0000-0000-000000000003', 'sad', 'c');
";

fn select(columns: &[&str], rows: &[Vec<Expr>], not: bool) -> [SelectStatement; 2] {
    let left = || {
        Expr::tuple(
            columns
                .iter()
                .map(|c| Expr::col(("pairs", c.to_string())))
                .collect::<Vec<_>>(),
        )
    };
    let list = || {
        rows.iter()
            .map(|r| Expr::tuple(r.clone()))
            .collect::<Vec<_>>()
    };
    let test = || {
        if not {
            left().is_not_in(list())
        } else {
            left().is_in(list())
        }
    };
    [
        Query::select()
            .column("k")
            .expr_as(test(), "r")
            .from("pairs")
            .order_by("k", Order::Asc)
            .to_owned(),
        Query::select()
            .column("k")
            .from("pairs")
            .and_where(test())
            .order_by("k", Order::Asc)
            .to_owned(),
    ]
}

async fn setup() -> pgtusk::Connection {
    let mut conn = common::connect().await;
    common::rewrite_types(&mut conn).await;
    conn.execute_script(TABLE).await.unwrap();
    conn
}

#[tokio::test]
async fn typed_rows_return_the_same_rows() {
    let mut conn = setup().await;
    let int = |v: Option<i32>| Expr::val(Value::Int(v));
    let big = |v: Option<i64>| Expr::val(Value::BigInt(v));
    let uuid = |n: Option<u128>| Expr::val(Value::Uuid(n.map(uuid::Uuid::from_u128)));
    let mood = |m: Option<&str>| Expr::val(Value::String(m.map(str::to_owned))).as_enum("rw_mood");
    let cases: Vec<(&[&str], Vec<Vec<Expr>>)> = vec![
        (&["a", "b"], vec![vec![int(Some(1)), big(Some(10))]]),
        (
            &["a", "b"],
            vec![
                vec![int(Some(1)), big(Some(20))],
                vec![int(Some(2)), big(Some(10))],
                vec![int(Some(1)), big(Some(20))],
                vec![int(Some(9)), big(Some(9))],
            ],
        ),
        (
            &["a", "b"],
            vec![
                vec![int(Some(1)), big(None)],
                vec![int(None), big(Some(10))],
            ],
        ),
        (&["a", "b"], vec![vec![int(None), big(None)]]),
        (
            &["b", "a"],
            vec![
                vec![big(Some(10)), int(Some(1))],
                vec![big(Some(10)), int(None)],
            ],
        ),
        (
            &["u", "a"],
            vec![
                vec![uuid(Some(1)), int(Some(1))],
                vec![uuid(Some(3)), int(Some(3))],
                vec![uuid(None), int(Some(2))],
            ],
        ),
        (
            &["a", "m"],
            vec![
                vec![int(Some(1)), mood(Some("sad"))],
                vec![int(Some(2)), mood(Some("happy"))],
                vec![int(Some(3)), mood(None)],
            ],
        ),
        (
            &["a", "b", "u"],
            vec![
                vec![int(Some(1)), big(Some(10)), uuid(Some(1))],
                vec![int(Some(1)), big(Some(20)), uuid(Some(9))],
            ],
        ),
    ];
    for (columns, rows) in &cases {
        for not in [false, true] {
            for stmt in select(columns, rows, not) {
                let (sql, values) = stmt.build(PostgresQueryBuilder);
                let (new_sql, new_values) = rewrite(&sql, values.clone());
                assert!(new_sql.contains("unnest("), "not rewritten: {sql}");
                assert_eq!(new_values.0.len(), columns.len());
                let want = common::run(&mut conn, &sql, values)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let got = common::run(&mut conn, &new_sql, new_values)
                    .await
                    .unwrap_or_else(|e| panic!("{new_sql}: {e}"));
                assert_eq!(got, want, "{sql}\n{new_sql}");
            }
        }
    }
}

#[tokio::test]
async fn rows_with_a_string_position_stay_and_still_run() {
    let mut conn = setup().await;
    let rows = vec![
        vec![Expr::val(1), Expr::val("a  ")],
        vec![Expr::val(3), Expr::val("c")],
    ];
    let [_, filtered] = select(&["a", "s"], &rows, false);
    let (sql, values) = filtered.build(PostgresQueryBuilder);
    let (new_sql, new_values) = rewrite(&sql, values.clone());
    assert_eq!(new_sql, sql);
    assert_eq!(new_values, values);
    // char(3) ignores the trailing spaces of 'a  ': rows 1 and 5.
    let rows = common::run(&mut conn, &sql, values).await.unwrap();
    let k = |k: i32| vec![Some(k.to_be_bytes().to_vec())];
    assert_eq!(rows, [k(1), k(5)]);
}

/// `("pairs"."a") IN (($1), ($2))`, as sea-orm's loader writes one-column keys: `= ANY` /
/// `<> ALL` with the same rows, strings and enums included (the server types the array from
/// the column, so char(3) compares as char(3)).
#[tokio::test]
async fn one_element_rows_are_a_plain_list() {
    let mut conn = setup().await;
    let int = |v: Option<i32>| Expr::val(Value::Int(v));
    let text = |v: Option<&str>| Expr::val(Value::String(v.map(str::to_owned)));
    let mood = |m: Option<&str>| Expr::val(Value::String(m.map(str::to_owned))).as_enum("rw_mood");
    let cases: Vec<(&[&str], Vec<Vec<Expr>>)> = vec![
        (&["a"], vec![vec![int(Some(1))]]),
        (
            &["a"],
            vec![
                vec![int(Some(1))],
                vec![int(Some(3))],
                vec![int(Some(1))],
                vec![int(Some(9))],
            ],
        ),
        (&["a"], vec![vec![int(Some(2))], vec![int(None)]]),
        (&["s"], vec![vec![text(Some("a"))], vec![text(Some("c  "))]]),
        (&["m"], vec![vec![mood(Some("sad"))], vec![mood(None)]]),
    ];
    for (columns, rows) in &cases {
        for not in [false, true] {
            for stmt in select(columns, rows, not) {
                let (sql, values) = stmt.build(PostgresQueryBuilder);
                assert!(sql.contains(" IN (("), "not one-element rows: {sql}");
                let (new_sql, new_values) = rewrite(&sql, values.clone());
                assert!(
                    new_sql.contains("ANY(") || new_sql.contains("ALL("),
                    "not rewritten: {sql}"
                );
                assert_eq!(new_values.0.len(), 1);
                let want = common::run(&mut conn, &sql, values)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let got = common::run(&mut conn, &new_sql, new_values)
                    .await
                    .unwrap_or_else(|e| panic!("{new_sql}: {e}"));
                assert_eq!(got, want, "{sql}\n{new_sql}");
            }
        }
    }
}
