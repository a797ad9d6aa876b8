//! A pgtusk `Pool` in front of a transaction-pooling pgbouncer: more pool connections than
//! pgbouncer has server connections, `statement_cache_size(0)`, and queries, transactions
//! and cursors through both poolers. Skipped (with a note) when pgbouncer is not installed,
//! unless `CI` is set.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use pgtusk::{Error, Executor, Pool};
use pgtusk_tests::pgbouncer::{PgBouncer, start_or_skip};
use pgtusk_tests::{connect, shared_options};

const TASKS: i32 = 16;
const QUERIES_PER_TASK: i32 = 200;
const POOL_SIZE: usize = 8;
const SERVER_CONNECTIONS: u32 = 2;

/// One query of a task, its answer checked; the error says which query went wrong.
async fn one_query(pool: &Pool, task: i32, i: i32) -> Result<(), String> {
    let check = |what: &str, ok: bool, got: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("task {task}, query {i}, {what}: got {got}"))
        }
    };
    let failed = |what: &str, e: Error| format!("task {task}, query {i}, {what}: {e}");
    let mut db = pool;
    match i % 3 {
        0 => {
            let sum: i32 = db
                .fetch_value("SELECT $1::int4 + $2::int4", &[&task, &i])
                .await
                .map_err(|e| failed("int4 sum", e))?;
            check("int4 sum", sum == task + i, sum.to_string())
        }
        1 => {
            let text = format!("t{task}-{i}");
            let got: String = db
                .fetch_value("SELECT $1::text || '!'", &[&text])
                .await
                .map_err(|e| failed("text", e))?;
            check("text", got == format!("{text}!"), got)
        }
        _ => {
            let mut conn = pool.acquire().await.map_err(|e| failed("acquire", e))?;
            let row: (i64, bool) = conn
                .fetch_one_as(
                    "SELECT $1::int8 * 2, $2::bool",
                    &[&i64::from(i), &(i % 2 == 0)],
                )
                .await
                .map_err(|e| failed("two columns", e))?;
            check(
                "two columns",
                row == (i64::from(i) * 2, i % 2 == 0),
                format!("{row:?}"),
            )
        }
    }
}

/// 16 tasks × 200 queries on a pool of 8 in front of pgbouncer's 2 server connections: no
/// error and every answer right; then a transaction (committed, and one dropped) and a
/// cursor work through both poolers, and the pool ends with nothing in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_works_behind_transaction_pooling() {
    let Some(bouncer) = start_or_skip(
        PgBouncer::in_front_of(&shared_options()).default_pool_size(SERVER_CONNECTIONS),
    ) else {
        return;
    };
    connect()
        .await
        .execute_script(
            "DROP TABLE IF EXISTS pgbouncer_pool_rows; \
             CREATE TABLE pgbouncer_pool_rows (task int4, n int4)",
        )
        .await
        .unwrap();
    let pool = Pool::builder(bouncer.options().statement_cache_size(0))
        .max_connections(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap();

    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for i in 0..QUERIES_PER_TASK {
                    if let Err(e) = one_query(&pool, task, i).await {
                        errors.push(e);
                    }
                }
                errors
            })
        })
        .collect();
    let mut errors = Vec::new();
    for task in tasks {
        errors.extend(task.await.unwrap());
    }
    println!(
        "{} queries from {TASKS} tasks through a pool of {POOL_SIZE} and pgbouncer's \
         {SERVER_CONNECTIONS} server connections in {:.1?}, {} errors; pool: {}",
        TASKS * QUERIES_PER_TASK,
        started.elapsed(),
        errors.len(),
        pool.status()
    );
    assert!(
        errors.is_empty(),
        "{} errors; first ones:\n{}\npgbouncer log:\n{}",
        errors.len(),
        errors[..errors.len().min(10)].join("\n"),
        bouncer.log_tail(20)
    );

    // A transaction, committed; and one dropped, rolled back.
    let mut tx = pool.transaction().await.unwrap();
    for n in 0..10 {
        tx.execute("INSERT INTO pgbouncer_pool_rows VALUES (1, $1)", &[&n])
            .await
            .unwrap();
    }
    let inside: i64 = tx
        .fetch_value("SELECT count(*) FROM pgbouncer_pool_rows", &[])
        .await
        .unwrap();
    assert_eq!(inside, 10);
    tx.commit().await.unwrap();
    let mut tx = pool.transaction().await.unwrap();
    tx.execute("INSERT INTO pgbouncer_pool_rows VALUES (2, 0)", &[])
        .await
        .unwrap();
    drop(tx);
    let kept: Vec<(i32, i64)> = (&pool)
        .fetch_as(
            "SELECT task, count(*) FROM pgbouncer_pool_rows GROUP BY task ORDER BY task",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(kept, [(1, 10)]);

    // A cursor, read in batches and as a stream.
    let mut tx = pool.transaction().await.unwrap();
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, 250) g", &[])
        .await
        .unwrap();
    let mut seen = Vec::new();
    loop {
        let batch = cursor.fetch(100).await.unwrap();
        if batch.is_empty() {
            break;
        }
        seen.extend(batch.iter().map(|r| r.get::<i32>(0)));
    }
    assert_eq!(seen, (1..=250).collect::<Vec<_>>());
    cursor.close().await.unwrap();
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, 50) g", &[])
        .await
        .unwrap();
    let streamed: Vec<_> = cursor.stream().try_collect().await.unwrap();
    assert_eq!(streamed.len(), 50);
    drop(cursor);
    tx.commit().await.unwrap();

    let status = pool.status();
    assert!(status.size <= POOL_SIZE, "{status}");
    assert_eq!((status.in_use, status.waiting), (0, 0), "{status}");
    let servers = bouncer.admin("SHOW SERVERS").unwrap();
    assert!(
        servers.len() <= SERVER_CONNECTIONS as usize,
        "SHOW SERVERS: {servers:?}"
    );
}
