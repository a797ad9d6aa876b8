//! Statements run in one line through `StatementExt`, on anything that is an `Executor`.

mod common;

use pgtusk::Connection;
use pgtusk_dialect::sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Query};
use pgtusk_dialect::{Executor, StatementExt};

#[derive(Debug, PartialEq, pgtusk::FromRecord)]
struct Pet {
    id: i32,
    name: String,
}

async fn setup() -> Connection {
    let mut conn = common::connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE pets (id int4 PRIMARY KEY, name text NOT NULL);
         INSERT INTO pets VALUES (1, 'rex'), (2, 'tom'), (3, 'kit')",
    )
    .await
    .unwrap();
    conn
}

fn pet(id: i32, name: &str) -> Pet {
    Pet {
        id,
        name: name.into(),
    }
}

#[tokio::test]
async fn select_decodes_into_structs() {
    let mut conn = setup().await;
    let select = Query::select()
        .columns(["id", "name"])
        .from("pets")
        .and_where(Expr::col("id").is_in([1, 3]))
        .order_by("id", pgtusk_dialect::sea_query::Order::Asc)
        .to_owned();
    let pets: Vec<Pet> = select.fetch_all_as(&mut conn).await.unwrap();
    assert_eq!(pets, [pet(1, "rex"), pet(3, "kit")]);
    let first: Pet = select.fetch_one_as(&mut conn).await.unwrap();
    assert_eq!(first, pet(1, "rex"));
    let some: Option<Pet> = select.fetch_optional_as(&mut conn).await.unwrap();
    assert_eq!(some, Some(pet(1, "rex")));
    let records = select.fetch_all(&mut conn).await.unwrap();
    assert_eq!(records.len(), 2);

    let none = Query::select()
        .columns(["id", "name"])
        .from("pets")
        .and_where(Expr::col("id").is_in([7, 8]))
        .to_owned();
    assert_eq!(
        none.fetch_optional_as::<Pet, _>(&mut conn).await.unwrap(),
        None
    );
    assert!(
        none.fetch_all_as::<Pet, _>(&mut conn)
            .await
            .unwrap()
            .is_empty()
    );
    let err = none.fetch_one_as::<Pet, _>(&mut conn).await.unwrap_err();
    assert!(matches!(err, pgtusk::Error::Interface(_)), "{err}");
}

#[tokio::test]
async fn insert_update_delete_execute() {
    let mut conn = setup().await;
    let n = Query::insert()
        .into_table("pets")
        .columns(["id", "name"])
        .values_panic([4.into(), "bo".into()])
        .values_panic([5.into(), "jo".into()])
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n = Query::update()
        .table("pets")
        .value("name", "zed")
        .and_where(Expr::col("id").is_in([4, 5, 6]))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let gone: Vec<Pet> = Query::delete()
        .from_table("pets")
        .and_where(Expr::col("name").is_in(["zed"]))
        .returning(Query::returning().columns(["id", "name"]))
        .fetch_all_as(&mut conn)
        .await
        .unwrap();
    assert_eq!(gone, [pet(4, "zed"), pet(5, "zed")]);
}

#[tokio::test]
async fn a_built_pair_runs_too() {
    let mut conn = setup().await;
    let built = Query::select()
        .columns(["id", "name"])
        .from("pets")
        .and_where(Expr::col("id").eq(2))
        .build(PostgresQueryBuilder);
    let p: Pet = built.fetch_one_as(&mut conn).await.unwrap();
    assert_eq!(p, pet(2, "tom"));
}

/// Generic code written against `Executor` takes a connection (and later a transaction or a
/// pool) without new methods.
async fn count_pets<E: Executor + Send>(ex: &mut E) -> usize {
    Query::select()
        .column("id")
        .from("pets")
        .fetch_all(ex)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn generic_code_takes_any_executor() {
    let mut conn = setup().await;
    assert_eq!(count_pets(&mut conn).await, 3);
    let mut by_ref = &mut conn;
    assert_eq!(count_pets(&mut by_ref).await, 3);
}

#[tokio::test]
async fn futures_are_send() {
    let mut conn = setup().await;
    let handle = tokio::spawn(async move { count_pets(&mut conn).await });
    assert_eq!(handle.await.unwrap(), 3);
}

/// `pgtusk_dialect::Executor` is pgtusk's own trait: code generic over `pgtusk::Executor`
/// hands its executor to the dialect.
async fn count_pets_via_driver_trait<E: pgtusk::Executor + Send>(ex: &mut E) -> usize {
    count_pets(ex).await
}

#[tokio::test]
async fn the_executor_is_pgtusks() {
    let mut conn = setup().await;
    assert_eq!(count_pets_via_driver_trait(&mut conn).await, 3);
    let rows = pgtusk::Executor::fetch(&mut conn, "SELECT 1", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

/// The dialect's statements run inside a transaction (and a savepoint) like anywhere else.
#[tokio::test]
async fn statements_run_inside_a_transaction() {
    let mut conn = setup().await;
    let insert = Query::insert()
        .into_table("pets")
        .columns(["id", "name"])
        .values_panic([4.into(), "ada".into()])
        .to_owned();
    let select = Query::select()
        .columns(["id", "name"])
        .from("pets")
        .and_where(Expr::col("id").is_in([4, 5]))
        .order_by("id", pgtusk_dialect::sea_query::Order::Asc)
        .to_owned();
    let mut tx = conn.transaction().await.unwrap();
    assert_eq!(insert.execute(&mut tx).await.unwrap(), 1);
    {
        let mut savepoint = tx.transaction().await.unwrap();
        let delete = Query::delete()
            .from_table("pets")
            .and_where(Expr::col("id").is_in([4]))
            .to_owned();
        assert_eq!(delete.execute(&mut savepoint).await.unwrap(), 1);
        savepoint.rollback().await.unwrap();
    }
    let seen: Vec<Pet> = select.fetch_all_as(&mut tx).await.unwrap();
    assert_eq!(seen, [pet(4, "ada")]);
    tx.rollback().await.unwrap();
    let after: Vec<Pet> = select.fetch_all_as(&mut conn).await.unwrap();
    assert!(after.is_empty());
}
