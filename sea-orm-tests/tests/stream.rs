//! `StreamTrait`: rows as they arrive, on the pool and in a transaction.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use pgtusk_sea_orm_tests::entity::{author, post, tag};
use pgtusk_sea_orm_tests::fresh;
use sea_orm::entity::prelude::*;
use sea_orm::{
    ConnectionTrait, DbBackend, QueryOrder, Set, Statement, StreamTrait, TransactionSession,
    TransactionTrait,
};

/// The same rows as sqlx's stream, and as `all()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_gives_the_rows_sqlx_gives() {
    let db = fresh("so_stream_rows", true).await;
    async fn run<C: ConnectionTrait + StreamTrait>(
        db: &C,
    ) -> (Vec<author::Model>, Vec<post::Model>) {
        let authors = author::Entity::find()
            .order_by_asc(author::Column::Id)
            .stream(db)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let posts = post::Entity::find()
            .filter(post::Column::AuthorId.is_in([2, 3, 5]))
            .order_by_desc(post::Column::Id)
            .stream(db)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        (authors, posts)
    }
    let tusk = run(&db.tusk).await;
    assert_eq!(
        tusk.0,
        author::Entity::find()
            .order_by_asc(author::Column::Id)
            .all(&db.tusk)
            .await
            .unwrap()
    );
    assert_eq!(tusk, run(&db.sqlx).await);
}

/// A stream of many rows dropped after a few gives its connection back to the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_gives_its_connection_back() {
    let db = fresh("so_stream_dropped", false).await;
    let sql = "SELECT g AS n FROM generate_series(1, 1000000) g";
    for _ in 0..8 {
        let mut rows = db
            .tusk
            .stream_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap();
        for expected in 1..=3 {
            let row = rows.next().await.unwrap().unwrap();
            assert_eq!(row.try_get::<i32>("", "n").unwrap(), expected);
        }
    }
    for _ in 0..500 {
        if db.tusk.pool().status().in_use == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        db.tusk.pool().status().in_use,
        0,
        "{}",
        db.tusk.pool().status()
    );
    assert_eq!(tag::Entity::find().count(&db.tusk).await.unwrap(), 0);
}

/// A stream in a transaction sees the transaction's own rows; the transaction goes on
/// once the stream is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_in_a_transaction_sees_its_rows() {
    let db = fresh("so_stream_tx", false).await;
    async fn run<D>(db: &D) -> Vec<String>
    where
        D: TransactionTrait,
        D::Transaction: StreamTrait,
    {
        let tx = db.begin().await.unwrap();
        for label in ["x", "y"] {
            tag::ActiveModel {
                label: Set(label.into()),
                ..Default::default()
            }
            .insert(&tx)
            .await
            .unwrap();
        }
        let nested = tx.begin().await.unwrap();
        tag::ActiveModel {
            label: Set("z".into()),
            ..Default::default()
        }
        .insert(&nested)
        .await
        .unwrap();
        let seen: Vec<tag::Model> = tag::Entity::find()
            .order_by_asc(tag::Column::Id)
            .stream(&nested)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        nested.rollback().await.unwrap();
        let after: Vec<tag::Model> = tag::Entity::find()
            .order_by_asc(tag::Column::Id)
            .stream(&tx)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        seen.into_iter().chain(after).map(|t| t.label).collect()
    }
    let tusk = run(&db.tusk).await;
    assert_eq!(tusk, ["x", "y", "z", "x", "y"]);
    assert_eq!(tusk, run(&db.sqlx).await);
}

/// A statement the server refuses: an error from `stream_raw` itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_statement_is_an_error_before_any_row() {
    let db = fresh("so_stream_refused", false).await;
    let stmt = || Statement::from_string(DbBackend::Postgres, "SELECT * FROM no_such_table");
    let err = db.tusk.stream_raw(stmt()).await.unwrap_err();
    assert_eq!(
        pgtusk_dialect::sea_orm::sqlstate(&err),
        Some("42P01"),
        "{err}"
    );
    // sqlx: the error comes with the first item.
    let first = match db.sqlx.stream_raw(stmt()).await {
        Ok(mut rows) => rows.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert!(first.to_string().contains("no_such_table"), "{first}");
}
