//! Pipelines: different statements in one write, each with its own result, in both modes;
//! round trips counted at a proxy (`Traffic::turns`: the client sent again after an answer).

use std::time::{Duration, Instant};

use pgtusk::{Connection, Error, FromRecord, Pool, Record, SqlState, Statement, TransactionStatus};
use pgtusk_tests::drop::poll_then_drop;
use pgtusk_tests::proxy::CountingProxy;
use pgtusk_tests::{connect, connect_with, options_via, shared_dsn, shared_options, shared_port};

async fn table(conn: &mut Connection, name: &str) {
    conn.execute_script(&format!(
        "CREATE TEMP TABLE {name} (id int4 PRIMARY KEY, label text NOT NULL)"
    ))
    .await
    .unwrap();
}

async fn count(conn: &mut Connection, table: &str) -> i64 {
    conn.fetch_value(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
}

/// A connection through a counting proxy, with options adjusted by `tune`.
async fn counted(
    tune: impl FnOnce(pgtusk::ConnectOptions) -> pgtusk::ConnectOptions,
) -> (CountingProxy, Connection) {
    let proxy = CountingProxy::start(shared_port()).await;
    let conn = Connection::connect_with(&tune(options_via(proxy.port())))
        .await
        .unwrap();
    (proxy, conn)
}

#[derive(Debug, PartialEq, FromRecord)]
struct Item {
    id: i32,
    label: String,
}

#[tokio::test]
async fn independent_a_failure_in_the_middle_keeps_the_others() {
    let mut conn = connect().await;
    table(&mut conn, "ind").await;
    let insert = "INSERT INTO ind VALUES ($1, $2)";
    let mut p = conn.pipeline();
    let first = p.execute(insert, &[&1i32, &"one"]);
    let duplicate = p.execute(insert, &[&1i32, &"again"]);
    let second = p.execute(insert, &[&2i32, &"two"]);
    let rows = p.fetch_as::<Item>("SELECT id, label FROM ind ORDER BY id", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.len(), 4);
    assert_eq!(out.first_error().map(|(i, _)| i), Some(1));
    assert_eq!(out.take(first).unwrap(), 1);
    let err = out.take(duplicate).unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION), "{err}");
    assert_eq!(out.take(second).unwrap(), 1);
    assert_eq!(
        out.take(rows).unwrap(),
        [
            Item {
                id: 1,
                label: "one".into()
            },
            Item {
                id: 2,
                label: "two".into()
            }
        ]
    );
    assert_eq!(count(&mut conn, "ind").await, 2);
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn atomic_a_failure_in_the_middle_commits_nothing_and_the_rest_is_not_run() {
    let mut conn = connect().await;
    table(&mut conn, "atom").await;
    let insert = "INSERT INTO atom VALUES ($1, $2)";
    let mut p = conn.atomic_pipeline();
    let first = p.execute(insert, &[&1i32, &"one"]);
    let duplicate = p.execute(insert, &[&1i32, &"again"]);
    let second = p.execute(insert, &[&2i32, &"two"]);
    let rows = p.fetch("SELECT * FROM atom", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.first_error().map(|(i, _)| i), Some(1));
    let err = out.take(first).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PipelineAborted {
                statement: 0,
                failed: 1,
                ran: true
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("rolled back:"), "{err}");
    let err = out.take(duplicate).unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION), "{err}");
    let err = out.take(second).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not run: an earlier statement in the atomic pipeline failed (statement 1)"
    );
    assert!(matches!(
        out.take(rows).unwrap_err(),
        Error::PipelineAborted { ran: false, .. }
    ));
    assert_eq!(count(&mut conn, "atom").await, 0, "nothing was committed");
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);

    // Without the failure, all of it is committed.
    let mut p = conn.atomic_pipeline();
    let a = p.execute(insert, &[&1i32, &"one"]);
    let b = p.execute(insert, &[&2i32, &"two"]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(a).unwrap() + out.take(b).unwrap(), 2);
    assert_eq!(count(&mut conn, "atom").await, 2);
}

#[tokio::test]
async fn typed_results_come_back_in_order() {
    let mut conn = connect().await;
    table(&mut conn, "typed").await;
    conn.execute("INSERT INTO typed VALUES (1, 'a'), (2, 'b'), (3, 'c')", &[])
        .await
        .unwrap();
    let id = 2i32;
    let mut p = conn.pipeline();
    let one = p.fetch_one_as::<Item>("SELECT id, label FROM typed WHERE id = $1", &[&id]);
    let none = p.fetch_optional_as::<Item>("SELECT id, label FROM typed WHERE id = $1", &[&9i32]);
    let some =
        p.fetch_optional_as::<(i32, String)>("SELECT id, label FROM typed WHERE id = 3", &[]);
    let value = p.fetch_value::<i64>("SELECT sum(id)::int8 FROM typed", &[]);
    let record = p.fetch_one("SELECT label, id FROM typed WHERE id = $1", &[&1i32]);
    let optional = p.fetch_optional("SELECT 1 WHERE false", &[]);
    let missing = p.fetch_one("SELECT id FROM typed WHERE id = $1", &[&42i32]);
    let updated = p.execute(
        "UPDATE typed SET label = label || '!' WHERE id >= $1",
        &[&2i32],
    );
    let all = p.fetch_as::<Item>("SELECT id, label FROM typed ORDER BY id", &[]);
    let misfit = p.fetch_as::<Item>("SELECT id FROM typed", &[]);
    assert_eq!(p.len(), 10);
    let mut out = p.run().await.unwrap();
    assert_eq!(
        out.take(one).unwrap(),
        Item {
            id: 2,
            label: "b".into()
        }
    );
    assert_eq!(out.take(none).unwrap(), None);
    assert_eq!(out.take(some).unwrap(), Some((3, "c".to_owned())));
    assert_eq!(out.take(value).unwrap(), 6);
    let record: Record = out.take(record).unwrap();
    assert_eq!(
        (record.get::<&str>("label"), record.get::<i32>("id")),
        ("a", 1)
    );
    assert!(out.take(optional).unwrap().is_none());
    assert!(matches!(out.take(missing), Err(Error::NoRows { .. })));
    assert_eq!(out.take(updated).unwrap(), 2);
    // Statements run in order: the UPDATE before this SELECT.
    let labels: Vec<String> = out
        .take(all)
        .unwrap()
        .into_iter()
        .map(|i| i.label)
        .collect();
    assert_eq!(labels, ["a", "b!", "c!"]);
    // A struct that does not fit is refused before anything runs, for that statement only.
    let err = out.take(misfit).unwrap_err();
    assert!(err.to_string().contains("label"), "{err}");
}

#[tokio::test]
async fn a_statement_with_many_rows_between_small_ones() {
    let mut conn = connect().await;
    let mut p = conn.pipeline();
    let before = p.fetch_value::<i32>("SELECT 1", &[]);
    let many = p.fetch(
        "SELECT g, repeat('x', 50) FROM generate_series(1, $1) g",
        &[&200_000i32],
    );
    let after = p.fetch_value::<String>("SELECT 'after'", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(before).unwrap(), 1);
    let rows = out.take(many).unwrap();
    assert_eq!(rows.len(), 200_000);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, row)| row.get::<i32>(0) == i as i32 + 1)
    );
    assert_eq!(out.take(after).unwrap(), "after");
}

#[tokio::test]
async fn a_long_pipeline_of_large_parameters_does_not_block() {
    // Megabytes out while the server answers with megabytes: neither side may wait for the
    // other to read.
    let mut conn = connect().await;
    let big = "y".repeat(64 * 1024);
    let mut p = conn.pipeline();
    let tickets: Vec<_> = (0..100)
        .map(|_| p.fetch_value::<String>("SELECT repeat($1, 2)", &[&big]))
        .collect();
    let mut out = p.run().await.unwrap();
    for ticket in tickets {
        assert_eq!(out.take(ticket).unwrap().len(), 128 * 1024);
    }
}

#[tokio::test]
async fn an_empty_pipeline_sends_nothing() {
    let (proxy, mut conn) = counted(|o| o).await;
    proxy.reset();
    let p = conn.pipeline();
    assert!(p.is_empty());
    let out = p.run().await.unwrap();
    assert!(out.is_empty());
    let out = conn.atomic_pipeline().run().await.unwrap();
    assert!(out.is_empty());
    let traffic = proxy.traffic();
    assert_eq!((traffic.client_reads, traffic.turns), (0, 0), "{traffic:?}");
}

#[tokio::test]
async fn cached_statements_are_one_round_trip_and_new_ones_two() {
    let (proxy, mut conn) = counted(|o| o).await;
    let cached = "SELECT $1::int4 + 1";
    conn.fetch_one(cached, &[&1i32]).await.unwrap();
    let stmt: Statement = conn.prepare("SELECT $1::text || '!'").await.unwrap();
    let run = async |conn: &mut Connection| {
        let mut p = conn.pipeline();
        let a = p.fetch_value::<i32>(cached, &[&41i32]);
        let b = p.fetch_value::<String>("SELECT upper($1)", &[&"new"]);
        let c = p.fetch_value::<String>(&stmt, &[&"prepared"]);
        let d = p.fetch_value::<i64>("SELECT $1::int8 * 2", &[&21i64]);
        let e = p.fetch_value::<i32>(cached, &[&1i32]);
        let mut out = p.run().await.unwrap();
        assert_eq!(out.take(a).unwrap(), 42);
        assert_eq!(out.take(b).unwrap(), "NEW");
        assert_eq!(out.take(c).unwrap(), "prepared!");
        assert_eq!(out.take(d).unwrap(), 42);
        assert_eq!(out.take(e).unwrap(), 2);
    };
    proxy.reset();
    run(&mut conn).await;
    let first = proxy.traffic();
    assert_eq!(
        first.turns, 2,
        "the two new statements described in one round trip, then the pipeline: {first:?}"
    );
    assert_eq!(first.count(b'P'), 2, "{first:?}");
    assert_eq!(first.count(b'B'), 5, "{first:?}");

    proxy.reset();
    run(&mut conn).await;
    let again = proxy.traffic();
    assert_eq!(again.turns, 1, "all cached: one round trip: {again:?}");
    assert_eq!(again.count(b'P'), 0, "{again:?}");
    assert_eq!(again.tags(), "BESBESBESBESBES", "{again:?}");

    proxy.reset();
    let mut p = conn.atomic_pipeline();
    let a = p.fetch_value::<i32>(cached, &[&1i32]);
    let b = p.fetch_value::<i32>(cached, &[&2i32]);
    let mut out = p.run().await.unwrap();
    assert_eq!((out.take(a).unwrap(), out.take(b).unwrap()), (2, 3));
    let atomic = proxy.traffic();
    assert_eq!(
        (atomic.turns, atomic.tags().as_str()),
        (1, "BEBES"),
        "{atomic:?}"
    );
}

#[tokio::test]
async fn uncached_sql_is_described_once_then_one_round_trip() {
    let (proxy, mut conn) = counted(|o| o.statement_cache_size(0)).await;
    let run = async |conn: &mut Connection| {
        let mut p = conn.pipeline();
        let a = p.fetch_value::<i32>("SELECT $1::int4 * 3", &[&3i32]);
        let b = p.fetch_value::<String>("SELECT lower($1)", &[&"ABC"]);
        let c = p.fetch_one_as::<(i32, String)>("SELECT $1::int4, 'x'", &[&5i32]);
        let mut out = p.run().await.unwrap();
        assert_eq!(out.take(a).unwrap(), 9);
        assert_eq!(out.take(b).unwrap(), "abc");
        assert_eq!(out.take(c).unwrap(), (5, "x".to_owned()));
    };
    proxy.reset();
    run(&mut conn).await;
    let first = proxy.traffic();
    assert_eq!(first.turns, 2, "{first:?}");
    proxy.reset();
    run(&mut conn).await;
    let again = proxy.traffic();
    // The typed statement is described again (its struct is checked against the columns as
    // they are now); the others are one Parse + Describe + Bind + Execute each.
    assert_eq!(again.turns, 2, "{again:?}");
    assert_eq!(again.count(b'P'), 4, "{again:?}");
    proxy.reset();
    let mut p = conn.pipeline();
    let a = p.fetch_value::<i32>("SELECT $1::int4 * 3", &[&4i32]);
    let b = p.fetch_value::<String>("SELECT lower($1)", &[&"DEF"]);
    let mut out = p.run().await.unwrap();
    assert_eq!(
        (out.take(a).unwrap(), out.take(b).unwrap()),
        (12, "def".into())
    );
    let untyped = proxy.traffic();
    assert_eq!(untyped.turns, 1, "{untyped:?}");
    assert_eq!(untyped.tags(), "PDBESPDBES", "{untyped:?}");
    let named: i64 = conn
        .fetch_value(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgtusk%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(named, 0, "no named statement with the cache off");
}

#[tokio::test]
async fn a_statement_the_server_cannot_prepare_fails_alone() {
    let mut conn = connect().await;
    let mut p = conn.pipeline();
    let good = p.fetch_value::<i32>("SELECT 7", &[]);
    let bad = p.fetch_value::<i32>("SELEC 8", &[]);
    let copy = p.execute("COPY (SELECT 1) TO STDOUT", &[]);
    let also_good = p.fetch_value::<i32>("SELECT 9", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(good).unwrap(), 7);
    assert_eq!(
        out.take(bad).unwrap_err().sqlstate(),
        Some(SqlState::SYNTAX_ERROR)
    );
    assert!(
        out.take(copy)
            .unwrap_err()
            .to_string()
            .contains("cannot run COPY")
    );
    assert_eq!(out.take(also_good).unwrap(), 9);

    let mut p = conn.atomic_pipeline();
    let good = p.fetch_value::<i32>("SELECT 7", &[]);
    let bad = p.fetch_value::<i32>("SELEC 8", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!(
        out.take(bad).unwrap_err().sqlstate(),
        Some(SqlState::SYNTAX_ERROR)
    );
    let err = out.take(good).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not run: statement 1 of the atomic pipeline failed before anything was sent, so none \
         of it ran"
    );
}

#[tokio::test]
async fn a_parameter_that_cannot_be_encoded_fails_before_anything_is_sent() {
    let (proxy, mut conn) = counted(|o| o).await;
    table(&mut conn, "enc").await;
    let insert = "INSERT INTO enc VALUES ($1, $2)";
    conn.execute(insert, &[&0i32, &"warm"]).await.unwrap();
    proxy.reset();
    let mut p = conn.atomic_pipeline();
    let a = p.execute(insert, &[&1i32, &"one"]);
    let b = p.execute(insert, &[&"not a number", &"two"]);
    let mut out = p.run().await.unwrap();
    let err = out.take(b).unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err:?}");
    assert!(err.to_string().contains("$1"), "{err}");
    let err = out.take(a).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PipelineAborted {
                failed: 1,
                ran: false,
                ..
            }
        ),
        "{err:?}"
    );
    let traffic = proxy.traffic();
    assert_eq!(traffic.client_reads, 0, "nothing was sent: {traffic:?}");

    let mut p = conn.pipeline();
    let a = p.execute(insert, &[&1i32, &"one"]);
    let b = p.execute(insert, &[&2i32]);
    let c = p.execute(insert, &[&3i32, &"three"]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(a).unwrap(), 1);
    assert!(
        out.take(b)
            .unwrap_err()
            .to_string()
            .contains("takes 2 parameter(s) but 1 were given")
    );
    assert_eq!(out.take(c).unwrap(), 1);
    assert_eq!(count(&mut conn, "enc").await, 3);
}

#[tokio::test]
async fn a_ticket_is_taken_from_its_own_pipeline_only() {
    let mut conn = connect().await;
    let mut p = conn.pipeline();
    let mine = p.fetch_value::<i32>("SELECT 1", &[]);
    let mut out = p.run().await.unwrap();
    let mut q = conn.pipeline();
    let theirs = q.fetch_value::<i32>("SELECT 2", &[]);
    assert_eq!(theirs.index(), 0);
    let _other = q.run().await.unwrap();
    let err = out.take(theirs).unwrap_err();
    assert!(err.to_string().contains("another pipeline"), "{err}");
    assert_eq!(out.take(mine).unwrap(), 1);
}

#[tokio::test]
async fn dropped_mid_flight_the_connection_works_and_the_sleep_is_cancelled() {
    let mut conn = connect().await;
    table(&mut conn, "dropped").await;
    let insert = "INSERT INTO dropped VALUES ($1, $2)";
    for atomic in [false, true] {
        let mut p = if atomic {
            conn.atomic_pipeline()
        } else {
            conn.pipeline()
        };
        let _before = p.execute(insert, &[&1i32, &"before"]);
        let _sleep = p.execute("SELECT pg_sleep(30)", &[]);
        let _after = p.execute(insert, &[&2i32, &"after"]);
        let late = tokio::time::timeout(Duration::from_millis(300), p.run()).await;
        assert!(late.is_err(), "the pipeline was still running");
        let started = Instant::now();
        assert_eq!(conn.fetch_value::<i32>("SELECT 5", &[]).await.unwrap(), 5);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the sleep was cancelled, not waited for: {:?}",
            started.elapsed()
        );
        let labels: Vec<String> = conn
            .fetch("SELECT label FROM dropped ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String>(0))
            .collect();
        if atomic {
            // The cancel failed the sleep: nothing of the atomic pipeline was committed.
            assert!(labels.is_empty(), "{labels:?}");
        } else {
            // Independent: what ran before committed; what was already sent after the
            // cancelled statement still ran (each statement is its own request).
            assert_eq!(labels, ["before", "after"]);
            conn.execute("DELETE FROM dropped", &[]).await.unwrap();
        }
    }
}

#[tokio::test]
async fn dropped_at_every_poll_count_leaves_the_connection_usable() {
    let mut conn = connect().await;
    table(&mut conn, "polls").await;
    table(&mut conn, "polls_end").await;
    for polls in 0..40usize {
        let fresh = format!("SELECT $1::int4 + {}", polls % 5);
        let atomic = polls % 2 == 1;
        let id = polls as i32;
        {
            let mut p = if atomic {
                conn.atomic_pipeline()
            } else {
                conn.pipeline()
            };
            let _a = p.execute("INSERT INTO polls VALUES ($1, 'x')", &[&id]);
            let _b = p.fetch_value::<i32>(fresh.as_str(), &[&id]);
            let _c = p.fetch("SELECT g FROM generate_series(1, 20000) g", &[]);
            let _d = p.execute("INSERT INTO polls_end VALUES ($1, 'x')", &[&id]);
            // The future is Send: a pipeline can run in a spawned task.
            poll_then_drop(is_send(p.run()), polls).await;
        }
        assert_eq!(
            conn.fetch_value::<i32>("SELECT $1::int4 * 2", &[&id])
                .await
                .unwrap(),
            id * 2,
            "after {polls} polls"
        );
        assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    }
    // An atomic pipeline dropped at any point is committed whole or not at all: its first
    // and last rows are both there or both missing.
    let halves: i64 = conn
        .fetch_value(
            "SELECT count(*) FROM polls FULL JOIN polls_end USING (id) \
             WHERE id % 2 = 1 AND (polls.id IS NULL OR polls_end.id IS NULL)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(halves, 0);
    let whole: i64 = conn
        .fetch_value("SELECT count(*) FROM polls_end WHERE id % 2 = 1", &[])
        .await
        .unwrap();
    assert!(whole > 0, "some atomic pipelines were polled to the end");
}

fn is_send<T: Send>(value: T) -> T {
    value
}

#[tokio::test]
async fn independent_inside_a_transaction_a_failure_aborts_the_transaction() {
    let mut conn = connect().await;
    table(&mut conn, "intx").await;
    let insert = "INSERT INTO intx VALUES ($1, $2)";
    let mut tx = conn.transaction().await.unwrap();
    let mut p = tx.pipeline();
    let first = p.execute(insert, &[&1i32, &"one"]);
    let duplicate = p.execute(insert, &[&1i32, &"again"]);
    let after = p.execute(insert, &[&2i32, &"two"]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(first).unwrap(), 1);
    assert_eq!(
        out.take(duplicate).unwrap_err().sqlstate(),
        Some(SqlState::UNIQUE_VIOLATION)
    );
    // The error aborted the transaction block: the server refuses what follows.
    assert_eq!(
        out.take(after).unwrap_err().sqlstate(),
        Some(SqlState::IN_FAILED_SQL_TRANSACTION)
    );
    assert_eq!(tx.transaction_status(), TransactionStatus::Failed);
    assert!(matches!(
        tx.commit().await,
        Err(Error::TransactionRolledBack)
    ));
    assert_eq!(count(&mut conn, "intx").await, 0);

    // An atomic pipeline inside a transaction commits with it.
    let mut tx = conn.transaction().await.unwrap();
    let mut p = tx.atomic_pipeline();
    let a = p.execute(insert, &[&1i32, &"one"]);
    let n = p.fetch_value::<i64>("SELECT count(*) FROM intx", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!((out.take(a).unwrap(), out.take(n).unwrap()), (1, 1));
    tx.commit().await.unwrap();
    assert_eq!(count(&mut conn, "intx").await, 1);
}

#[tokio::test]
async fn works_on_a_pooled_connection() {
    let pool = Pool::connect(&shared_dsn()).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let mut p = conn.pipeline();
    let a = p.fetch_value::<i32>("SELECT 40 + $1", &[&2i32]);
    let b = p.fetch_value::<String>("SELECT current_user::text", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(a).unwrap(), 42);
    assert!(!out.take(b).unwrap().is_empty());
    drop(conn);
    pool.close().await;
}

#[tokio::test]
async fn command_timeout_bounds_the_whole_pipeline() {
    let mut conn = connect_with(shared_options().command_timeout(Duration::from_millis(300))).await;
    let mut p = conn.pipeline();
    let _quick = p.fetch_value::<i32>("SELECT 1", &[]);
    let _slow = p.execute("SELECT pg_sleep(30)", &[]);
    let started = Instant::now();
    let err = p.run().await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(
        err.to_string().contains("a pipeline of 2 statement(s)"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(conn.fetch_value::<i32>("SELECT 3", &[]).await.unwrap(), 3);
}

#[tokio::test]
async fn a_stale_cached_statement_is_prepared_again() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE stale (id int4, label text); INSERT INTO stale VALUES (1, 'a')",
    )
    .await
    .unwrap();
    let sql = "SELECT * FROM stale WHERE id = $1";
    assert_eq!(conn.fetch_one(sql, &[&1i32]).await.unwrap().len(), 2);
    conn.execute_script("ALTER TABLE stale ADD COLUMN extra int4 DEFAULT 7")
        .await
        .unwrap();
    // Atomic, outside a transaction: nothing was committed, so it is run again at once.
    let mut p = conn.atomic_pipeline();
    let row = p.fetch_one(sql, &[&1i32]);
    let mut out = p.run().await.unwrap();
    let row = out.take(row).unwrap();
    assert_eq!((row.len(), row.get::<i32>("extra")), (3, 7));

    conn.execute_script("ALTER TABLE stale DROP COLUMN extra")
        .await
        .unwrap();
    // Independent: the statement fails once (the others ran already), and is prepared
    // again for the next run.
    let mut p = conn.pipeline();
    let row = p.fetch_one(sql, &[&1i32]);
    let other = p.fetch_value::<i32>("SELECT 1", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!(
        out.take(row).unwrap_err().sqlstate(),
        Some(SqlState::FEATURE_NOT_SUPPORTED)
    );
    assert_eq!(out.take(other).unwrap(), 1);
    let mut p = conn.pipeline();
    let row = p.fetch_one(sql, &[&1i32]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(row).unwrap().len(), 2);
}

#[tokio::test]
async fn a_deferred_constraint_fails_at_the_implicit_commit() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE parent (id int4 PRIMARY KEY);
         CREATE TEMP TABLE child (parent_id int4 REFERENCES parent DEFERRABLE INITIALLY DEFERRED)",
    )
    .await
    .unwrap();
    let orphan = "INSERT INTO child VALUES ($1)";
    let mut p = conn.atomic_pipeline();
    let a = p.execute("INSERT INTO parent VALUES ($1)", &[&1i32]);
    let b = p.execute(orphan, &[&99i32]);
    let mut out = p.run().await.unwrap();
    assert!(matches!(
        out.take(a).unwrap_err(),
        Error::PipelineAborted {
            statement: 0,
            failed: 1,
            ran: true
        }
    ));
    assert_eq!(
        out.take(b).unwrap_err().sqlstate(),
        Some(SqlState::FOREIGN_KEY_VIOLATION)
    );
    assert_eq!(count(&mut conn, "parent").await, 0);

    let mut p = conn.pipeline();
    let a = p.execute("INSERT INTO parent VALUES ($1)", &[&1i32]);
    let b = p.execute(orphan, &[&99i32]);
    let c = p.execute(orphan, &[&1i32]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(a).unwrap(), 1);
    assert_eq!(
        out.take(b).unwrap_err().sqlstate(),
        Some(SqlState::FOREIGN_KEY_VIOLATION)
    );
    assert_eq!(out.take(c).unwrap(), 1);
    assert_eq!(count(&mut conn, "child").await, 1);
}

#[tokio::test]
async fn types_the_connection_has_not_seen_are_looked_up_on_the_way() {
    let mut conn = connect().await;
    conn.execute_script(
        "DROP TYPE IF EXISTS pipe_mood CASCADE; CREATE TYPE pipe_mood AS ENUM ('calm', 'busy')",
    )
    .await
    .unwrap();
    let mut fresh = connect().await;
    let mut p = fresh.pipeline();
    let mood = p.fetch_value::<String>("SELECT 'busy'::pipe_mood", &[]);
    let moods = p.fetch_value::<Vec<String>>("SELECT enum_range(NULL::pipe_mood)", &[]);
    let mut out = p.run().await.unwrap();
    assert_eq!(out.take(mood).unwrap(), "busy");
    assert_eq!(out.take(moods).unwrap(), ["calm", "busy"]);
}

#[tokio::test]
async fn uncached_sql_whose_result_changed_since_it_was_described() {
    let mut conn = connect_with(shared_options().statement_cache_size(0)).await;
    conn.execute_script(
        "CREATE TEMP TABLE reshaped (id int4, label text); INSERT INTO reshaped VALUES (1, 'a');
         DROP TYPE IF EXISTS pipe_shade CASCADE; CREATE TYPE pipe_shade AS ENUM ('light', 'dark')",
    )
    .await
    .unwrap();
    let sql = "SELECT * FROM reshaped WHERE id = $1";
    let run = async |conn: &mut Connection| {
        let mut p = conn.pipeline();
        let row = p.fetch_one(sql, &[&1i32]);
        let rows = p.fetch(sql, &[&1i32]);
        let n = p.execute(sql, &[&1i32]);
        let mut out = p.run().await.unwrap();
        let row = out.take(row).unwrap();
        assert_eq!(out.take(rows).unwrap().len(), 1);
        assert_eq!(out.take(n).unwrap(), 1);
        row
    };
    assert_eq!(run(&mut conn).await.len(), 2);
    // A column of a known type: the rows come in the new shape at once.
    conn.execute_script("ALTER TABLE reshaped ADD COLUMN size int4 DEFAULT 5")
        .await
        .unwrap();
    let row = run(&mut conn).await;
    assert_eq!((row.len(), row.get::<i32>("size")), (3, 5));
    // A column of a type this connection never saw: looked up once the answers are read.
    conn.execute_script("ALTER TABLE reshaped ADD COLUMN shade pipe_shade DEFAULT 'dark'")
        .await
        .unwrap();
    let row = run(&mut conn).await;
    assert_eq!(
        (row.len(), row.get::<String>("shade")),
        (4, "dark".to_owned())
    );
    assert_eq!(run(&mut conn).await.get::<String>("shade"), "dark");
}
