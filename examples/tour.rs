//! A tour of pgtusk: connect, query, stream, cursors, prepare, typed rows, errors, a timeout
//! that cancels.
//!
//! Runs against `DATABASE_URL` when it is set, otherwise against a throwaway server that
//! `TempCluster` starts (and removes again at the end).
//!
//! ```text
//! cargo run --example tour
//! DATABASE_URL=postgres://user:password@localhost/db cargo run --example tour
//! ```

mod support;

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use pgtusk::{Connection, FromRecord, SqlState};

#[derive(FromRecord)]
struct Animal {
    id: i64,
    name: String,
    legs: i16,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let server = support::server()?;

    // Connect: a URL or a libpq key=value string; PG* variables and ~/.pgpass fill the gaps.
    let mut conn = Connection::connect(&server.dsn).await?;
    println!(
        "connected to PostgreSQL {} as backend {}",
        conn.server_version(),
        conn.backend_pid()
    );

    // Scripts run through the simple protocol; everything else is prepared, cached and binary.
    conn.execute_script(
        "CREATE TEMP TABLE animals (id int8 PRIMARY KEY, name text NOT NULL, legs int2 NOT NULL);
         INSERT INTO animals VALUES (1, 'walrus', 4), (2, 'narwhal', 0), (3, 'elephant', 4);",
    )
    .await?;
    let inserted = conn
        .execute(
            "INSERT INTO animals VALUES ($1, $2, $3)",
            &[&4i64, &"mammoth", &4i16],
        )
        .await?;
    println!("inserted {inserted} row");

    // Records: values decode on demand, by name or position, borrowed where the type allows.
    for row in conn
        .fetch(
            "SELECT id, name FROM animals WHERE legs > $1 ORDER BY id",
            &[&0i16],
        )
        .await?
    {
        let id: i64 = row.get("id");
        let name: &str = row.get(1);
        println!("  {id}: {name}");
    }
    let count: i64 = conn
        .fetch_value("SELECT count(*) FROM animals", &[])
        .await?;
    println!(
        "{count} animals; the statement cache holds {} statements",
        conn.cached_statements()
    );

    // Typed rows: column names resolved once per result, each row decoded straight into the struct.
    let animals: Vec<Animal> = conn
        .fetch_as("SELECT id, name, legs FROM animals ORDER BY id", &[])
        .await?;
    for a in &animals {
        println!("  typed: #{} {} with {} legs", a.id, a.name, a.legs);
    }

    // Streaming: rows arrive as the server sends them, nothing buffered.
    let mut rows = conn
        .fetch_stream("SELECT g FROM generate_series(1, 100000) g", &[])
        .await?;
    let mut sum = 0i64;
    while let Some(row) = rows.try_next().await? {
        sum += i64::from(row.get::<i32>(0));
    }
    println!("streamed 100000 rows, sum {sum}");

    // A prepared statement tells its parameter types and result columns.
    let stmt = conn
        .prepare("SELECT name FROM animals WHERE id = $1")
        .await?;
    println!(
        "prepared: params {:?}, columns {:?}",
        stmt.params(),
        stmt.columns().iter().map(|c| c.name()).collect::<Vec<_>>()
    );

    // Transactions: commit, or roll back by dropping (an early `?` does it too); a nested
    // one is a savepoint.
    let mut tx = conn.transaction().await?;
    tx.execute("INSERT INTO animals VALUES (90, 'narwhal', 0)", &[])
        .await?;
    {
        let mut savepoint = tx.transaction().await?;
        savepoint.execute("DELETE FROM animals", &[]).await?;
        // Dropped without commit: rolled back to the savepoint.
    }
    tx.commit().await?;
    // The closure form commits on Ok, rolls back on Err, and retries serialization failures.
    let legs: i64 = conn
        .run_transaction(|tx| {
            Box::pin(async move {
                tx.execute("UPDATE animals SET legs = legs + 1 WHERE id = 90", &[])
                    .await?;
                tx.fetch_value("SELECT sum(legs)::int8 FROM animals", &[])
                    .await
            })
        })
        .await?;
    println!("after the transactions: {legs} legs in all");

    // Cursors: inside a transaction, a result read a few rows at a time (a named portal);
    // the stream fetches `prefetch` rows per round trip, so memory stays bounded.
    let mut tx = conn.transaction().await?;
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, $1) g", &[&100_000i32])
        .await?
        .prefetch(1000);
    let first = cursor.fetch(3).await?;
    let skipped = cursor.forward(1000).await?; // MOVE on the server: never sent
    let mut rest = 0u64;
    let mut rows = cursor.stream();
    while rows.try_next().await?.is_some() {
        rest += 1;
    }
    drop(rows);
    drop(cursor);
    tx.commit().await?;
    println!(
        "cursor: {} rows fetched, {skipped} skipped, {rest} streamed",
        first.len()
    );
    // Outside a transaction, `conn.cursor(...)` does not compile; a WITH HOLD cursor is the
    // way out, and it stays open across commits.
    let mut held = conn
        .hold_cursor("SELECT name FROM animals ORDER BY id", &[])
        .await?;
    let names: Vec<(String,)> = held.fetch_as(2).await?;
    held.close().await?;
    println!("hold cursor: first two names {names:?}");

    // Errors: a server error keeps every field and its SQLSTATE is matchable.
    match conn
        .execute("INSERT INTO animals VALUES (1, 'walrus again', 4)", &[])
        .await
    {
        Err(err) if err.sqlstate() == Some(SqlState::UNIQUE_VIOLATION) => {
            println!("duplicate refused: {err}")
        }
        other => println!("unexpected: {other:?}"),
    }
    // ... and a Rust value of the wrong type is refused before anything is sent.
    if let Err(err) = conn
        .fetch("SELECT * FROM animals WHERE id = $1", &[&"one"])
        .await
    {
        println!("{err}");
    }

    // A timeout that cancels: the dropped query's work is cancelled on the server (a
    // CancelRequest), so the next query answers at once instead of after 10 s.
    let timed_out = tokio::time::timeout(
        Duration::from_millis(100),
        conn.execute("SELECT pg_sleep(10)", &[]),
    )
    .await;
    assert!(timed_out.is_err());
    let next = Instant::now();
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await?;
    println!(
        "timed out pg_sleep(10); the next query answered {one} in {:.2?}",
        next.elapsed()
    );

    conn.close().await?;
    drop(server); // stops the throwaway cluster, if one was started
    println!("done in {:.2?}", started.elapsed());
    Ok(())
}
