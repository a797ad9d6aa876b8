//! `StatementExt` on a pool: on `&Pool` (each statement on whichever connection is free), on
//! a connection acquired from it, and in a transaction that owns its pooled connection.

mod common;

use pgtusk::{Pool, TransactionStatus};
use pgtusk_dialect::StatementExt;
use pgtusk_dialect::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};

#[derive(Debug, PartialEq, pgtusk::FromRecord)]
struct Pet {
    id: i32,
    name: String,
}

fn pet(id: i32, name: &str) -> Pet {
    Pet {
        id,
        name: name.into(),
    }
}

fn select(ids: &[i32]) -> SelectStatement {
    Query::select()
        .columns(["id", "name"])
        .from("dialect_pool_pets")
        .and_where(Expr::col("id").is_in(ids.iter().copied()))
        .order_by("id", Order::Asc)
        .to_owned()
}

/// Statements run on `&mut &pool`, on a `PooledConnection` and on a pool `Transaction`;
/// the transaction's work is kept on commit and gone on rollback, and every connection is
/// back in the pool afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_run_on_a_pool_its_connections_and_its_transactions() {
    common::connect()
        .await
        .execute_script(
            "DROP TABLE IF EXISTS dialect_pool_pets; \
             CREATE TABLE dialect_pool_pets (id int4 PRIMARY KEY, name text NOT NULL); \
             INSERT INTO dialect_pool_pets VALUES (1, 'rex'), (2, 'tom')",
        )
        .await
        .unwrap();
    let pool = Pool::builder(common::dsn().parse().unwrap())
        .max_connections(2)
        .build()
        .await
        .unwrap();

    // On the pool itself.
    let mut on_pool = &pool;
    let pets: Vec<Pet> = select(&[1, 2]).fetch_all_as(&mut on_pool).await.unwrap();
    assert_eq!(pets, [pet(1, "rex"), pet(2, "tom")]);
    let n = Query::insert()
        .into_table("dialect_pool_pets")
        .columns(["id", "name"])
        .values_panic([3.into(), "kit".into()])
        .execute(&mut on_pool)
        .await
        .unwrap();
    assert_eq!(n, 1);

    // On a connection acquired from it.
    let mut conn = pool.acquire().await.unwrap();
    let kit: Pet = select(&[3]).fetch_one_as(&mut conn).await.unwrap();
    assert_eq!(kit, pet(3, "kit"));
    drop(conn);

    // In a transaction that owns its connection: committed, then rolled back.
    for commit in [true, false] {
        let id = if commit { 4 } else { 5 };
        let mut tx = pool.transaction().await.unwrap();
        Query::insert()
            .into_table("dialect_pool_pets")
            .columns(["id", "name"])
            .values_panic([id.into(), "ada".into()])
            .execute(&mut tx)
            .await
            .unwrap();
        let seen: Option<Pet> = select(&[id]).fetch_optional_as(&mut tx).await.unwrap();
        assert_eq!(seen, Some(pet(id, "ada")));
        assert_eq!(tx.transaction_status(), TransactionStatus::InTransaction);
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
    }
    let after: Vec<Pet> = select(&[4, 5]).fetch_all_as(&mut on_pool).await.unwrap();
    assert_eq!(after, [pet(4, "ada")]);
    assert_eq!(pool.status().in_use, 0);
}
