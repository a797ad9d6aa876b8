//! The synchronous API (`pgtusk::blocking`) against a real server, from plain `#[test]`s: the
//! async tests' main cases through it (the query table shared with the async API), rows as
//! iterators, transactions (rollback on drop, savepoints, retries), cursors, COPY through
//! `std::io`, the pool from many threads, cancellation and `command_timeout`, and the clear
//! error when it is called inside an async runtime.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use pgtusk::blocking::{Connection, Pool};
use pgtusk::{Error, FromRecord, SqlState, TransactionStatus};
use pgtusk_tests::query_cases::cases;
use pgtusk_tests::{shared_dsn, shared_options};

fn connect() -> Connection {
    Connection::connect(&shared_dsn())
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"))
}

/// The connection answers a query, in an idle session.
fn usable(conn: &mut Connection) {
    let one: i32 = conn.fetch_value("SELECT 1", &[]).unwrap();
    assert_eq!(one, 1);
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[derive(Debug, PartialEq, FromRecord)]
struct Animal {
    id: i64,
    name: String,
}

fn animals(conn: &mut Connection, table: &str) {
    conn.execute_script(&format!(
        "CREATE TEMP TABLE {table} (id int8 PRIMARY KEY, name text NOT NULL);
         INSERT INTO {table} VALUES (1, 'walrus'), (2, 'narwhal'), (3, 'beluga')"
    ))
    .unwrap();
}

#[test]
fn the_shared_query_cases_give_the_same_through_the_blocking_api() {
    let mut conn = connect();
    for case in cases() {
        case.check("blocking", conn.fetch(case.sql, &case.params()));
        usable(&mut conn);
    }
}

#[tokio::test]
async fn the_shared_query_cases_give_the_same_through_the_async_api() {
    let mut conn = pgtusk_tests::connect().await;
    for case in cases() {
        case.check("async", conn.fetch(case.sql, &case.params()).await);
    }
}

#[test]
fn fetch_one_optional_value_and_typed_rows() {
    let mut conn = connect();
    animals(&mut conn, "a_fetch");
    let row = conn
        .fetch_one("SELECT name FROM a_fetch WHERE id = $1", &[&2i64])
        .unwrap();
    assert_eq!(row.get::<&str>("name"), "narwhal");
    let none = conn
        .fetch_optional("SELECT name FROM a_fetch WHERE id = $1", &[&99i64])
        .unwrap();
    assert!(none.is_none());
    let err = conn
        .fetch_one("SELECT name FROM a_fetch WHERE id = $1", &[&99i64])
        .unwrap_err();
    assert!(matches!(err, Error::NoRows { .. }), "{err:?}");
    let count: i64 = conn
        .fetch_value("SELECT count(*) FROM a_fetch", &[])
        .unwrap();
    assert_eq!(count, 3);

    let all: Vec<Animal> = conn
        .fetch_as("SELECT id, name FROM a_fetch ORDER BY id", &[])
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0],
        Animal {
            id: 1,
            name: "walrus".into()
        }
    );
    let one: Animal = conn
        .fetch_one_as("SELECT id, name FROM a_fetch WHERE id = 3", &[])
        .unwrap();
    assert_eq!(one.name, "beluga");
    let missing: Option<Animal> = conn
        .fetch_optional_as("SELECT id, name FROM a_fetch WHERE id = 0", &[])
        .unwrap();
    assert_eq!(missing, None);
    // A struct that does not fit the result is the same error as through the async API.
    let err = conn
        .fetch_as::<Animal>("SELECT id FROM a_fetch", &[])
        .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
    usable(&mut conn);
}

#[test]
fn prepare_and_execute_many() {
    let mut conn = connect();
    conn.execute_script("CREATE TEMP TABLE a_many (id int8 PRIMARY KEY, name text)")
        .unwrap();
    let rows: Vec<(i64, String)> = (0..500).map(|i| (i, format!("item {i}"))).collect();
    let inserted = conn
        .execute_many(
            "INSERT INTO a_many (id, name) VALUES ($1, $2)",
            rows.iter()
                .map(|(id, name)| [id as &(dyn pgtusk::Encode + Sync), name]),
        )
        .unwrap();
    assert_eq!(inserted, 500);
    let stmt = conn
        .prepare("SELECT name FROM a_many WHERE id = $1")
        .unwrap();
    assert_eq!(stmt.params().len(), 1);
    let name: String = conn.fetch_value(&stmt, &[&42i64]).unwrap();
    assert_eq!(name, "item 42");
    // The batch is atomic: a duplicate key keeps nothing of it.
    let err = conn
        .execute_many(
            "INSERT INTO a_many (id, name) VALUES ($1, $2)",
            [
                [&1000i64 as &(dyn pgtusk::Encode + Sync), &"new"],
                [&1i64, &"dup"],
            ],
        )
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION));
    let count: i64 = conn
        .fetch_value("SELECT count(*) FROM a_many", &[])
        .unwrap();
    assert_eq!(count, 500);
}

#[test]
fn fetch_iter_streams_rows_and_a_dropped_iterator_leaves_the_connection_usable() {
    let mut conn = connect();
    let mut rows = conn
        .fetch_iter("SELECT g FROM generate_series(1, 100000) g", &[])
        .unwrap();
    assert_eq!(rows.columns().len(), 1);
    let mut sum = 0i64;
    for row in rows.by_ref() {
        sum += i64::from(row.unwrap().get::<i32>(0));
    }
    assert_eq!(sum, 100_000 * 100_001 / 2);
    assert_eq!(rows.rows_affected(), Some(100_000));
    drop(rows);

    // Dropped after three rows of a large result: the rest is discarded.
    let first: Vec<i32> = conn
        .fetch_iter("SELECT g FROM generate_series(1, 1000000) g", &[])
        .unwrap()
        .take(3)
        .map(|row| row.unwrap().get(0))
        .collect();
    assert_eq!(first, [1, 2, 3]);
    usable(&mut conn);

    animals(&mut conn, "a_iter");
    let names: Vec<String> = conn
        .fetch_iter_as::<Animal>("SELECT id, name FROM a_iter ORDER BY id", &[])
        .unwrap()
        .map(|a| a.unwrap().name)
        .collect();
    assert_eq!(names, ["walrus", "narwhal", "beluga"]);

    // An error part-way comes out of the iterator, and the connection stays usable.
    let results: Vec<_> = conn
        .fetch_iter("SELECT 10 / (3 - g) FROM generate_series(1, 5) g", &[])
        .unwrap()
        .collect();
    let err = results.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::DIVISION_BY_ZERO));
    usable(&mut conn);
}

#[test]
fn a_transaction_commits_rolls_back_and_rolls_back_when_dropped() {
    let mut conn = connect();
    conn.execute_script("CREATE TEMP TABLE a_tx (x int4)")
        .unwrap();

    let mut tx = conn.transaction().unwrap();
    tx.execute("INSERT INTO a_tx VALUES (1)", &[]).unwrap();
    assert_eq!(tx.transaction_status(), TransactionStatus::InTransaction);
    tx.commit().unwrap();

    let mut tx = conn.transaction().unwrap();
    tx.execute("INSERT INTO a_tx VALUES (2)", &[]).unwrap();
    tx.rollback().unwrap();

    {
        let mut tx = conn.transaction().unwrap();
        tx.execute("INSERT INTO a_tx VALUES (3)", &[]).unwrap();
        // Dropped: rolled back right here, not with the next statement.
    }
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);

    let mut failing = || -> pgtusk::Result<()> {
        let mut tx = conn.transaction()?;
        tx.execute("INSERT INTO a_tx VALUES (4)", &[])?;
        tx.execute("SELECT 1 / 0", &[])?;
        tx.commit()
    };
    assert_eq!(
        failing().unwrap_err().sqlstate(),
        Some(SqlState::DIVISION_BY_ZERO)
    );
    usable(&mut conn);
    let kept: Vec<i32> = conn
        .fetch("SELECT x FROM a_tx ORDER BY x", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept, [1]);
}

#[test]
fn a_dropped_transaction_releases_its_locks_at_once() {
    let mut conn = connect();
    let mut other = connect();
    conn.execute_script("DROP TABLE IF EXISTS a_locks; CREATE TABLE a_locks (x int4 PRIMARY KEY); INSERT INTO a_locks VALUES (1)")
        .unwrap();
    {
        let mut tx = conn.transaction().unwrap();
        tx.execute("UPDATE a_locks SET x = 2 WHERE x = 1", &[])
            .unwrap();
    }
    // The row lock is gone without `conn` doing anything more: a NOWAIT lock succeeds.
    other
        .execute("SELECT * FROM a_locks FOR UPDATE NOWAIT", &[])
        .unwrap();
    other.execute_script("DROP TABLE a_locks").unwrap();
}

#[test]
fn savepoints_nest_and_roll_back_alone() {
    let mut conn = connect();
    conn.execute_script("CREATE TEMP TABLE a_sp (x int4)")
        .unwrap();
    let mut tx = conn.transaction().unwrap();
    tx.execute("INSERT INTO a_sp VALUES (1)", &[]).unwrap();
    {
        let mut inner = tx.transaction().unwrap();
        assert_eq!(inner.depth(), 1);
        inner.execute("INSERT INTO a_sp VALUES (2)", &[]).unwrap();
        inner.rollback().unwrap();
    }
    {
        let mut inner = tx.transaction().unwrap();
        inner.execute("INSERT INTO a_sp VALUES (3)", &[]).unwrap();
        let mut deeper = inner.transaction().unwrap();
        // A failed statement in the savepoint, dropped: only it is undone.
        assert!(deeper.execute("SELECT 1 / 0", &[]).is_err());
        drop(deeper);
        inner.commit().unwrap();
    }
    tx.commit().unwrap();
    let kept: Vec<i32> = conn
        .fetch("SELECT x FROM a_sp ORDER BY x", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept, [1, 3]);
}

#[test]
fn run_transaction_retries_a_serialization_failure_and_commits() {
    let mut conn = connect();
    conn.execute_script("CREATE TEMP TABLE a_retry (x int4)")
        .unwrap();
    let mut attempts = 0;
    let value = conn
        .build_transaction()
        .isolation(pgtusk::IsolationLevel::Serializable)
        .max_attempts(3)
        .run(|tx| {
            attempts += 1;
            tx.execute("INSERT INTO a_retry VALUES ($1)", &[&attempts])?;
            if attempts == 1 {
                tx.execute_script(
                    "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$",
                )?;
            }
            Ok(attempts * 10)
        })
        .unwrap();
    assert_eq!((attempts, value), (2, 20));
    // The first attempt rolled back; the second committed.
    let kept: Vec<i32> = conn
        .fetch("SELECT x FROM a_retry", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept, [2]);

    // An error that is not a conflict is returned at once, rolled back.
    let mut runs = 0;
    let err = conn
        .run_transaction(|tx| {
            runs += 1;
            tx.execute("INSERT INTO a_retry VALUES (99)", &[])?;
            tx.execute("SELECT 1 / 0", &[])
        })
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::DIVISION_BY_ZERO));
    assert_eq!(runs, 1);
    usable(&mut conn);
    let count: i64 = conn
        .fetch_value("SELECT count(*) FROM a_retry", &[])
        .unwrap();
    assert_eq!(count, 1);
}

#[test]
fn a_cursor_is_an_iterator_that_prefetches() {
    let mut conn = connect();
    let mut tx = conn.transaction().unwrap();
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, $1) g", &[&1000i32])
        .unwrap()
        .prefetch(100);
    let first = cursor.fetch(10).unwrap();
    assert_eq!(first.len(), 10);
    assert_eq!(cursor.forward(90).unwrap(), 90);
    let rest: Vec<i32> = cursor.by_ref().map(|r| r.unwrap().get(0)).collect();
    assert_eq!(rest.len(), 900);
    assert_eq!((rest[0], rest[899]), (101, 1000));
    assert!(cursor.fetch_one().unwrap().is_none());
    let name = cursor.name().to_owned();
    drop(cursor);

    // Typed rows, and a cursor dropped part-way is closed with the next request.
    let mut cursor = tx
        .cursor(
            "SELECT g::int8 AS id, 'n' || g AS name FROM generate_series(1, 5) g",
            &[],
        )
        .unwrap();
    let two: Vec<Animal> = cursor.fetch_as(2).unwrap();
    assert_eq!(
        two[1],
        Animal {
            id: 2,
            name: "n2".into()
        }
    );
    assert!(cursor.next().is_some());
    drop(cursor);
    let open: i64 = tx
        .fetch_value("SELECT count(*) FROM pg_cursors WHERE name = $1", &[&name])
        .unwrap();
    assert_eq!(open, 0);
    tx.commit().unwrap();
    usable(&mut conn);
}

#[test]
fn a_hold_cursor_lives_across_commits() {
    let mut conn = connect();
    animals(&mut conn, "a_hold");
    let mut cursor = conn
        .hold_cursor("SELECT id FROM a_hold WHERE id >= $1 ORDER BY id", &[&1i64])
        .unwrap()
        .prefetch(2);
    let first = cursor.fetch_one().unwrap().unwrap();
    assert_eq!(first.get::<i64>(0), 1);
    let rest: Vec<i64> = cursor.by_ref().map(|r| r.unwrap().get(0)).collect();
    assert_eq!(rest, [2, 3]);
    cursor.close().unwrap();
    usable(&mut conn);
}

#[test]
fn copy_in_is_a_write_and_copy_out_is_a_read() {
    let mut conn = connect();
    conn.execute_script("CREATE TEMP TABLE a_copy (id int4 PRIMARY KEY, label text)")
        .unwrap();
    let csv: String = (1..=10_000).map(|i| format!("{i},label {i}\n")).collect();
    let mut copy = conn
        .copy_in("COPY a_copy (id, label) FROM STDIN (FORMAT csv)")
        .unwrap();
    assert_eq!(copy.columns(), 2);
    std::io::copy(&mut csv.as_bytes(), &mut copy).unwrap();
    copy.flush().unwrap();
    assert_eq!(copy.finish().unwrap(), 10_000);

    let mut out = conn
        .copy_out("COPY (SELECT * FROM a_copy ORDER BY id) TO STDOUT (FORMAT csv)")
        .unwrap();
    let mut text = String::new();
    out.read_to_string(&mut text).unwrap();
    assert_eq!(out.rows_copied(), Some(10_000));
    drop(out);
    assert_eq!(text, csv);

    // Bad data: the server's error, nothing kept, the connection usable.
    let mut copy = conn
        .copy_in("COPY a_copy (id, label) FROM STDIN (FORMAT csv)")
        .unwrap();
    copy.write_all(b"20001,fine\nnot a number,bad\n").unwrap();
    let err = copy.finish().unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::INVALID_TEXT_REPRESENTATION));
    usable(&mut conn);

    // A writer dropped without finish rolls the COPY back.
    let mut copy = conn
        .copy_in("COPY a_copy (id, label) FROM STDIN (FORMAT csv)")
        .unwrap();
    copy.write_all(b"30001,dropped\n").unwrap();
    drop(copy);
    usable(&mut conn);
    let count: i64 = conn
        .fetch_value("SELECT count(*) FROM a_copy", &[])
        .unwrap();
    assert_eq!(count, 10_000);

    // A reader dropped part-way leaves the connection usable.
    let mut out = conn.copy_out("COPY a_copy TO STDOUT").unwrap();
    let mut some = [0u8; 16];
    out.read_exact(&mut some).unwrap();
    drop(out);
    usable(&mut conn);
}

#[test]
fn typed_copy_in_rows_and_copy_out_as() {
    let mut conn = connect();
    conn.execute_script("CREATE TEMP TABLE a_typed (id int8, name text)")
        .unwrap();
    let copied = conn
        .copy_in_rows(
            "a_typed",
            &["id", "name"],
            (1..=1000i64).map(|i| (i, format!("animal {i}"))),
        )
        .unwrap();
    assert_eq!(copied, 1000);
    let back: Vec<Animal> = conn
        .copy_out_as("SELECT id, name FROM a_typed ORDER BY id")
        .unwrap();
    assert_eq!(back.len(), 1000);
    assert_eq!(
        back[999],
        Animal {
            id: 1000,
            name: "animal 1000".into()
        }
    );
    // A Rust type that does not fit a column: an error before anything is sent.
    let err = conn
        .copy_in_rows("a_typed", &["id", "name"], [(true, 1.5f64)])
        .unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err:?}");
    usable(&mut conn);
}

#[test]
fn the_pool_serves_many_threads() {
    let pool =
        Pool::with_options(pgtusk::Pool::builder(shared_options()).max_connections(3)).unwrap();
    let workers: Vec<_> = (0..8i64)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || -> pgtusk::Result<i64> {
                let mut total = 0;
                for j in 0..20i64 {
                    let mut conn = pool.get()?;
                    total += conn.fetch_value::<i64>("SELECT $1::int8 * $2::int8", &[&i, &j])?;
                }
                Ok(total)
            })
        })
        .collect();
    let totals: Vec<i64> = workers
        .into_iter()
        .map(|w| w.join().unwrap().unwrap())
        .collect();
    assert_eq!(totals, (0..8).map(|i| i * 190).collect::<Vec<_>>());
    let status = pool.status();
    assert!(status.size <= 3, "{status}");

    // A transaction on a pooled connection, and a connection returned in a transaction is
    // cleaned before it is handed out again.
    let n = pool
        .run_transaction(|tx| tx.fetch_value::<i64>("SELECT 7::int8", &[]))
        .unwrap();
    assert_eq!(n, 7);
    {
        let mut conn = pool.get().unwrap();
        conn.execute_script("BEGIN").unwrap();
    }
    for _ in 0..3 {
        let conn = pool.get().unwrap();
        assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    }
    pool.close().unwrap();
    assert!(matches!(pool.get().unwrap_err(), Error::PoolClosed));
}

#[test]
fn a_cancel_token_cancels_from_another_thread() {
    let mut conn = connect();
    let token = conn.cancel_token();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        token.cancel()
    });
    let started = Instant::now();
    let err = conn.execute("SELECT pg_sleep(30)", &[]).unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::QUERY_CANCELED));
    assert!(started.elapsed() < Duration::from_secs(10));
    canceller.join().unwrap().unwrap();
    usable(&mut conn);
}

#[test]
fn command_timeout_gives_a_timeout_error_and_the_connection_stays_usable() {
    let options = shared_options().command_timeout(Duration::from_millis(200));
    let mut conn = Connection::connect_with(&options).unwrap();
    let started = Instant::now();
    let err = conn.execute("SELECT pg_sleep(30)", &[]).unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("pg_sleep"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    usable(&mut conn);
}

#[test]
fn close_ends_the_session() {
    let conn = connect();
    assert!(!conn.is_closed());
    conn.close().unwrap();
}

#[tokio::test]
async fn connecting_inside_a_runtime_is_a_clear_error() {
    let err = Connection::connect(&shared_dsn()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Interface(_)), "{err:?}");
    assert!(
        msg.contains("inside a tokio runtime") && msg.contains("async API"),
        "{msg}"
    );
    let err = Pool::connect(&shared_dsn()).unwrap_err();
    assert!(err.to_string().contains("Pool"), "{err}");
}

#[test]
fn a_blocking_call_inside_a_runtime_is_refused_and_the_connection_stays_usable() {
    let mut conn = connect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime.block_on(async { conn.execute("SELECT 1", &[]).unwrap_err() });
    assert!(err.to_string().contains("Connection::execute"), "{err}");
    let token = conn.cancel_token();
    let err = runtime.block_on(async { token.cancel().unwrap_err() });
    assert!(err.to_string().contains("CancelToken::cancel"), "{err}");
    drop(runtime);
    usable(&mut conn);
}
