//! COPY with pgtusk: a million typed rows in, raw CSV in and out, rows back out as structs,
//! and what an error part-way leaves behind (nothing).
//!
//! ```text
//! cargo run --release --example copy
//! ```

mod support;

use std::time::Instant;

use futures_util::TryStreamExt;
use pgtusk::{Connection, FromRecord, SqlState};

#[derive(FromRecord)]
struct Item {
    id: i32,
    name: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = support::server()?;
    let mut conn = Connection::connect(&server.dsn).await?;
    conn.execute_script(
        "DROP TABLE IF EXISTS copy_items;
         CREATE TABLE copy_items (id int4 PRIMARY KEY, name text NOT NULL)",
    )
    .await?;

    // Typed and binary: the column types come from the server, rows are encoded straight into
    // the outgoing messages, and memory stays flat however many rows the iterator yields.
    let started = Instant::now();
    let rows = (1..=1_000_000).map(|i| (i, format!("item {i}")));
    let copied = conn
        .copy_in_rows("copy_items", &["id", "name"], rows)
        .await?;
    println!("copy_in_rows: {copied} rows in {:.2?}", started.elapsed());

    // An error part-way (a duplicate key in the last row) rolls the whole COPY back.
    let rows = (1_000_001..=1_000_100)
        .map(|i| (i, format!("item {i}")))
        .chain([(1, "again".to_owned())]);
    let err = conn
        .copy_in_rows("copy_items", &["id", "name"], rows)
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION));
    let count: i64 = conn
        .fetch_value("SELECT count(*) FROM copy_items", &[])
        .await?;
    println!("a failed COPY kept nothing: still {count} rows ({err})");

    // Raw: CSV in through send(), and out as a stream of chunks.
    let mut copy = conn
        .copy_in("COPY copy_items FROM STDIN (FORMAT csv)")
        .await?;
    copy.send("2000001,\"walrus, the\"\n2000002,narwhal\n")
        .await?;
    println!("raw CSV in: {} rows", copy.finish().await?);
    let mut out = conn
        .copy_out("COPY (SELECT * FROM copy_items WHERE id > 2000000) TO STDOUT (FORMAT csv)")
        .await?;
    while let Some(chunk) = out.try_next().await? {
        print!("raw CSV out: {}", String::from_utf8_lossy(&chunk));
    }

    // Typed out: a query's rows in binary, decoded into structs.
    let started = Instant::now();
    let items: Vec<Item> = conn.copy_out_as("SELECT id, name FROM copy_items").await?;
    let last = items
        .iter()
        .max_by_key(|item| item.id)
        .map(|item| &item.name);
    println!(
        "copy_out_as: {} items in {:.2?}, the last named {last:?}",
        items.len(),
        started.elapsed(),
    );
    conn.execute_script("DROP TABLE copy_items").await?;
    Ok(())
}
