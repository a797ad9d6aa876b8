//! `#[derive(pgtusk::Type)]` on a struct with named fields: a PostgreSQL composite type, in
//! binary, alone, inside arrays and inside other composites.

use pgtusk::{Error, Type};
use pgtusk_tests::connect;

#[derive(Debug, Clone, PartialEq, Type)]
#[pg(name = "inventory_item")]
struct InventoryItem {
    name: String,
    supplier_id: i32,
    price: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Type)]
struct Shipment {
    item: InventoryItem,
    quantities: Vec<i32>,
}

/// Same attributes, other order: must not be mistaken for `inventory_item`.
#[derive(Debug, PartialEq, Type)]
#[pg(name = "inventory_item")]
struct Shuffled {
    supplier_id: i32,
    name: String,
    price: Option<f64>,
}

async fn schema(conn: &mut pgtusk::Connection) {
    conn.execute_script(
        "CREATE TYPE pg_temp.inventory_item AS (name text, supplier_id int4, price float8);
         CREATE TYPE pg_temp.shipment AS (item pg_temp.inventory_item, quantities int4[]);",
    )
    .await
    .unwrap();
}

fn bolt() -> InventoryItem {
    InventoryItem {
        name: "bolt, 5 mm".into(),
        supplier_id: 42,
        price: Some(0.25),
    }
}

#[tokio::test]
async fn a_struct_round_trips_as_a_composite() {
    let mut conn = connect().await;
    schema(&mut conn).await;
    let back: InventoryItem = conn
        .fetch_value("SELECT $1::pg_temp.inventory_item", &[&bolt()])
        .await
        .unwrap();
    assert_eq!(back, bolt());
    // The server is the oracle for what was sent.
    let text: String = conn
        .fetch_value("SELECT $1::pg_temp.inventory_item::text", &[&bolt()])
        .await
        .unwrap();
    assert_eq!(text, r#"("bolt, 5 mm",42,0.25)"#);
    let no_price = InventoryItem {
        price: None,
        ..bolt()
    };
    let parsed: InventoryItem = conn
        .fetch_value("SELECT '(\"bolt, 5 mm\",42,)'::pg_temp.inventory_item", &[])
        .await
        .unwrap();
    assert_eq!(parsed, no_price);
}

#[tokio::test]
async fn composites_nest_and_travel_in_arrays() {
    let mut conn = connect().await;
    schema(&mut conn).await;
    let shipments = vec![
        Shipment {
            item: bolt(),
            quantities: vec![1, 2, 3],
        },
        Shipment {
            item: InventoryItem {
                name: "nut".into(),
                supplier_id: 7,
                price: None,
            },
            quantities: vec![],
        },
    ];
    let back: Vec<Shipment> = conn
        .fetch_value("SELECT $1::pg_temp.shipment[]", &[&shipments])
        .await
        .unwrap();
    assert_eq!(back, shipments);
    let count: i64 = conn
        .fetch_value(
            "SELECT count(*) FROM unnest($1::pg_temp.shipment[]) s WHERE (s.item).supplier_id = 7",
            &[&shipments],
        )
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn attribute_order_and_names_are_checked_against_the_server() {
    let mut conn = connect().await;
    schema(&mut conn).await;
    let err = conn
        .fetch_value::<Shuffled>("SELECT $1::pg_temp.inventory_item", &[&bolt()])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(
        err.to_string().contains("inventory_item") && err.to_string().contains("Shuffled"),
        "{err}"
    );
    let err = conn
        .fetch_value::<InventoryItem>("SELECT ROW(NULL, '{}')::pg_temp.shipment", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Decode(_)) && err.to_string().contains("shipment"),
        "{err}"
    );
}
