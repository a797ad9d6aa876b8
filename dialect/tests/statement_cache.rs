//! An IN list is one statement whatever its length.

mod common;

use pgtusk_dialect::StatementExt;
use pgtusk_dialect::sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Query, SelectStatement};
use pgtusk_dialect::{TuskQueryBuilder, bind};

fn ids_in(n: i32) -> SelectStatement {
    Query::select()
        .column("id")
        .from("ids")
        .and_where(Expr::col("id").is_in(1..=n))
        .to_owned()
}

#[tokio::test]
async fn lengths_1_to_500_share_one_cached_statement() {
    let mut conn = common::big_cache().await;
    let before = conn.cached_statements();
    for n in 1..=500 {
        let rows = ids_in(n).fetch_all(&mut conn).await.unwrap();
        assert_eq!(rows.len(), n as usize);
    }
    assert_eq!(conn.cached_statements() - before, 1);
}

#[tokio::test]
async fn plain_rendering_prepares_one_statement_per_length() {
    let mut conn = common::big_cache().await;
    let before = conn.cached_statements();
    for n in 1..=500 {
        let (sql, values) = ids_in(n).build(PostgresQueryBuilder);
        let params = bind(values).unwrap();
        let rows = conn.fetch(&sql, &params.as_refs()).await.unwrap();
        assert_eq!(rows.len(), n as usize);
    }
    assert_eq!(conn.cached_statements() - before, 500);
}

#[tokio::test]
async fn a_million_values_are_one_parameter() {
    let mut conn = common::connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE ids AS SELECT g::int8 AS id FROM generate_series(1, 1000) g",
    )
    .await
    .unwrap();
    let select = Query::select()
        .expr(Expr::col("id").count())
        .from("ids")
        .and_where(Expr::col("id").is_in((0..1_000_000i64).map(|i| i * 7)))
        .to_owned();
    let (sql, values) = select.build(TuskQueryBuilder::new());
    assert_eq!(values.0.len(), 1);
    assert!(sql.ends_with(r#""id" = ANY($1::int8[])"#), "{sql}");
    let row = select.fetch_all(&mut conn).await.unwrap();
    let n: i64 = row[0].get(0);
    assert_eq!(n, 142); // 7, 14, ... 994: the multiples of 7 in 1..=1000
}
