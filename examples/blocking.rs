//! pgtusk without async: `pgtusk::blocking` from a plain `fn main`, as a CLI tool, a build
//! script or a migration would use it. Queries, typed rows, a streamed result, a transaction
//! with a savepoint, the retrying closure form, COPY through `std::io`, a pool shared by
//! threads, and a statement cancelled from another thread.
//!
//! ```text
//! cargo run --example blocking
//! ```

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use pgtusk::blocking::{Connection, Pool};
use pgtusk::{FromRecord, SqlState};

#[derive(FromRecord)]
struct Animal {
    id: i64,
    name: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = support::server()?;
    let mut conn = Connection::connect(&server.dsn)?;
    conn.execute_script(
        "DROP TABLE IF EXISTS blocking_animals;
         CREATE TABLE blocking_animals (id int8 PRIMARY KEY, name text NOT NULL)",
    )?;

    // The async driver's methods, as plain functions: same rows, same errors.
    let inserted = conn.execute_many(
        "INSERT INTO blocking_animals VALUES ($1, $2)",
        [(1i64, "walrus"), (2, "narwhal"), (3, "beluga")]
            .iter()
            .map(|(id, name)| [id as &(dyn pgtusk::Encode + Sync), name]),
    )?;
    let count: i64 = conn.fetch_value("SELECT count(*) FROM blocking_animals", &[])?;
    let walrus: Animal =
        conn.fetch_one_as("SELECT * FROM blocking_animals WHERE id = $1", &[&1i64])?;
    println!(
        "inserted {inserted}, counted {count}, first: {} {}",
        walrus.id, walrus.name
    );

    // A large result as an Iterator: rows are read as it advances, never all in memory.
    let started = Instant::now();
    let mut sum = 0i64;
    for row in conn.fetch_iter("SELECT g FROM generate_series(1, 1000000) g", &[])? {
        sum += i64::from(row?.get::<i32>(0));
    }
    println!(
        "streamed a million rows (sum {sum}) in {:.2?}",
        started.elapsed()
    );

    // A transaction with a savepoint; dropped without commit, a transaction rolls back there
    // and then (its locks go at once).
    let mut tx = conn.transaction()?;
    tx.execute("UPDATE blocking_animals SET name = upper(name)", &[])?;
    {
        let mut savepoint = tx.transaction()?;
        savepoint.execute("DELETE FROM blocking_animals", &[])?;
        savepoint.rollback()?; // the animals stay
    }
    tx.commit()?;

    // The retrying form: a serialization failure or a deadlock runs the closure again.
    let renamed = conn.run_transaction(|tx| {
        tx.execute(
            "UPDATE blocking_animals SET name = lower(name) WHERE id > $1",
            &[&1i64],
        )
    })?;
    println!("renamed {renamed} in a transaction");

    // COPY through std::io: a CopyIn is a Write, a CopyOut a Read.
    let mut copy = conn.copy_in("COPY blocking_animals FROM STDIN (FORMAT csv)")?;
    for id in 4..=1000 {
        writeln!(copy, "{id},animal {id}")?;
    }
    println!("COPY in: {} rows", copy.finish()?);
    let mut csv = String::new();
    conn.copy_out(
        "COPY (SELECT * FROM blocking_animals WHERE id <= 3 ORDER BY id) TO STDOUT (FORMAT csv)",
    )?
    .read_to_string(&mut csv)?;
    print!("COPY out:\n{csv}");

    // A cursor in a transaction: an Iterator that fetches 200 rows per round trip.
    let mut tx = conn.transaction()?;
    let long_names = tx
        .cursor("SELECT name FROM blocking_animals ORDER BY id", &[])?
        .prefetch(200)
        .filter(|row| row.as_ref().is_ok_and(|r| r.get::<&str>(0).len() > 9))
        .count();
    tx.commit()?;
    println!("{long_names} names longer than 9 characters");

    // A statement cancelled from another thread.
    let token = conn.cancel_token();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        token.cancel()
    });
    let err = conn.execute("SELECT pg_sleep(30)", &[]).unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::QUERY_CANCELED));
    canceller.join().expect("the cancelling thread panicked")?;
    println!("cancelled from another thread: {err}");

    // A pool shared by threads.
    let pool = Pool::connect(&server.dsn)?;
    let workers: Vec<_> = (1..=4i64)
        .map(|id| {
            let pool = pool.clone();
            std::thread::spawn(move || -> pgtusk::Result<String> {
                pool.get()?
                    .fetch_value("SELECT name FROM blocking_animals WHERE id = $1", &[&id])
            })
        })
        .collect();
    for worker in workers {
        println!(
            "from a pooled connection: {}",
            worker.join().expect("worker panicked")?
        );
    }
    pool.close()?;

    conn.execute_script("DROP TABLE blocking_animals")?;
    conn.close()?;
    Ok(())
}
