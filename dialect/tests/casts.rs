//! The cast decides the comparison, so a list of strings has none: a citext column compares with
//! citext's own operator, case-insensitively, like `IN` does, with or without casts. (A
//! `text[]` cast compared as text; `tests/string_lists.rs` has the full truth tables.)

mod common;

use pgtusk_dialect::sea_query::{Expr, ExprTrait, Order, PostgresQueryBuilder, Query};
use pgtusk_dialect::{TuskQueryBuilder, bind};

#[tokio::test]
async fn citext_compares_case_insensitively_with_or_without_casts() {
    let mut conn = common::connect().await;
    let available = conn
        .fetch_optional(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'citext'",
            &[],
        )
        .await
        .unwrap()
        .is_some();
    if !available {
        eprintln!("skipped: the server has no citext extension");
        return;
    }
    conn.execute_script(
        "CREATE EXTENSION IF NOT EXISTS citext;
         CREATE TEMP TABLE people (id int4, email citext);
         INSERT INTO people VALUES (1, 'Ann@Example.org'), (2, 'bob@example.org')",
    )
    .await
    .unwrap();
    let select = Query::select()
        .column("id")
        .from("people")
        .and_where(Expr::col("email").is_in(["ann@example.org", "BOB@EXAMPLE.ORG"]))
        .order_by("id", Order::Asc)
        .to_owned();
    let mut ids = Vec::new();
    for built in [
        select.build(PostgresQueryBuilder),
        select.build(TuskQueryBuilder::new()),
        select.build(TuskQueryBuilder::new().without_casts()),
    ] {
        let params = bind(built.1).unwrap();
        let rows = conn.fetch(&built.0, &params.as_refs()).await.unwrap();
        ids.push(rows.iter().map(|r| r.get::<i32>(0)).collect::<Vec<_>>());
    }
    assert_eq!(ids[0], [1, 2], "IN uses citext's =");
    assert_eq!(ids[1], [1, 2], "the server infers citext[]");
    assert_eq!(ids[2], [1, 2], "without casts the server infers citext[]");
}
