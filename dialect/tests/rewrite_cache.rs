//! A rewritten `IN` list is one statement whatever its length, and one parameter however many
//! values it holds.

mod common;

use pgtusk_dialect::sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Query, Values};
use pgtusk_dialect::{bind, rewrite};

/// `SELECT "id" FROM "ids" WHERE "id" IN ($1, …, $n) AND "id" <> $n+1`, as sea-orm renders it.
fn ids_in(n: i32) -> (String, Values) {
    Query::select()
        .column("id")
        .from("ids")
        .and_where(Expr::col("id").is_in(1..=n))
        .and_where(Expr::col("id").ne(0))
        .build(PostgresQueryBuilder)
}

#[tokio::test]
async fn lengths_1_to_500_share_one_cached_statement() {
    let mut conn = common::big_cache().await;
    let before = conn.cached_statements();
    let mut texts = std::collections::HashSet::new();
    for n in 1..=500 {
        let (sql, values) = ids_in(n);
        let (sql, values) = rewrite(&sql, values);
        assert_eq!(values.0.len(), 2);
        texts.insert(sql.clone());
        let params = bind(values).unwrap();
        let rows = conn.fetch(&sql, &params.as_refs()).await.unwrap();
        assert_eq!(rows.len(), n as usize);
    }
    assert_eq!(
        texts.into_iter().collect::<Vec<_>>(),
        [r#"SELECT "id" FROM "ids" WHERE "id" = ANY($1) AND "id" <> $2"#]
    );
    assert_eq!(conn.cached_statements() - before, 1);
}

#[tokio::test]
async fn unrewritten_lists_prepare_one_statement_per_length() {
    let mut conn = common::big_cache().await;
    let before = conn.cached_statements();
    for n in 1..=500 {
        let (sql, values) = ids_in(n);
        let params = bind(values).unwrap();
        let rows = conn.fetch(&sql, &params.as_refs()).await.unwrap();
        assert_eq!(rows.len(), n as usize);
    }
    assert_eq!(conn.cached_statements() - before, 500);
}

#[tokio::test]
async fn a_list_past_65535_values_is_one_parameter() {
    let mut conn = common::connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE ids AS SELECT g::int8 AS id FROM generate_series(1, 1000) g",
    )
    .await
    .unwrap();
    let (sql, values) = Query::select()
        .expr(Expr::col("id").count())
        .from("ids")
        .and_where(Expr::col("id").is_in((0..200_000i64).map(|i| i * 7)))
        .build(PostgresQueryBuilder);
    assert_eq!(values.0.len(), 200_000);
    let (sql, values) = rewrite(&sql, values);
    assert_eq!(sql, r#"SELECT COUNT("id") FROM "ids" WHERE "id" = ANY($1)"#);
    let params = bind(values).unwrap();
    let row = conn.fetch_one(&sql, &params.as_refs()).await.unwrap();
    let n: i64 = row.get(0);
    assert_eq!(n, 142); // 7, 14, ... 994: the multiples of 7 in 1..=1000
}
