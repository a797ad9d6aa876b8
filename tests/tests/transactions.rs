//! Transactions against a real server: commit, rollback, the rollback of a dropped
//! transaction (also when its future is dropped at any point), savepoints, options, the
//! COMMIT that rolls back, deferred constraints, and the retrying closure form.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use pgtusk::{Connection, Error, IsolationLevel, SqlState, TransactionStatus};
use pgtusk_tests::drop::poll_then_drop;
use pgtusk_tests::{connect, options_via, proxy::CountingProxy, shared_port};

async fn table(conn: &mut Connection, name: &str) {
    conn.execute_script(&format!("CREATE TEMP TABLE {name} (id int4 PRIMARY KEY)"))
        .await
        .unwrap();
}

async fn count(conn: &mut Connection, table: &str) -> i64 {
    conn.fetch_value(format!("SELECT count(*) FROM {table}").as_str(), &[])
        .await
        .unwrap()
}

#[tokio::test]
async fn commit_keeps_and_rollback_discards() {
    let mut conn = connect().await;
    table(&mut conn, "kept").await;
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO kept VALUES (1)", &[])
        .await
        .unwrap();
    assert_eq!(tx.transaction_status(), TransactionStatus::InTransaction);
    tx.commit().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO kept VALUES (2)", &[])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&mut conn, "kept").await, 1);
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

/// BEGIN is queued and goes out in the same write as the first statement: no round trip
/// of its own.
#[tokio::test]
async fn begin_rides_with_the_first_statement() {
    let proxy = CountingProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&options_via(proxy.port()))
        .await
        .unwrap();
    conn.execute("SELECT 1", &[]).await.unwrap();
    proxy.reset();
    let mut tx = conn.transaction().await.unwrap();
    assert_eq!(proxy.traffic().tags(), "", "transaction() sends nothing");
    tx.execute("SELECT 1", &[]).await.unwrap();
    let traffic = proxy.traffic();
    assert_eq!(traffic.tags(), "QBES");
    tx.commit().await.unwrap();
    assert_eq!(proxy.traffic().tags(), "QBESQ");
}

#[tokio::test]
async fn a_dropped_transaction_rolls_back() {
    let mut conn = connect().await;
    table(&mut conn, "dropped").await;
    {
        let mut tx = conn.transaction().await.unwrap();
        tx.execute("INSERT INTO dropped VALUES (1)", &[])
            .await
            .unwrap();
    }
    // The ROLLBACK went out ahead of this query.
    assert_eq!(count(&mut conn, "dropped").await, 0);
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    // `?` out of a function that owned the transaction.
    async fn fails(conn: &mut Connection) -> pgtusk::Result<()> {
        let mut tx = conn.transaction().await?;
        tx.execute("INSERT INTO dropped VALUES (2)", &[]).await?;
        tx.execute("INSERT INTO dropped VALUES (2)", &[]).await?; // duplicate key
        tx.commit().await
    }
    let err = fails(&mut conn).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION));
    assert_eq!(count(&mut conn, "dropped").await, 0);
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

/// The future that owns a transaction dropped at every poll point: the connection is never
/// left inside a transaction, and the two rows are kept both or neither.
#[tokio::test]
async fn a_transaction_future_dropped_anywhere_leaves_all_or_nothing() {
    let mut conn = connect().await;
    table(&mut conn, "atomic").await;
    for polls in 0..40 {
        let work = async {
            let mut tx = conn.transaction().await?;
            tx.execute("INSERT INTO atomic VALUES ($1)", &[&1i32])
                .await?;
            tx.execute("INSERT INTO atomic VALUES ($1)", &[&2i32])
                .await?;
            tx.commit().await
        };
        poll_then_drop(work, polls).await;
        let n = count(&mut conn, "atomic").await;
        assert!(n == 0 || n == 2, "after {polls} polls: {n} rows");
        assert_eq!(
            conn.transaction_status(),
            TransactionStatus::Idle,
            "after {polls} polls"
        );
        conn.execute("DELETE FROM atomic", &[]).await.unwrap();
    }
}

#[tokio::test]
async fn savepoints_three_deep() {
    let mut conn = connect().await;
    table(&mut conn, "nested").await;
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO nested VALUES (1)", &[])
        .await
        .unwrap();
    {
        let mut one = tx.transaction().await.unwrap();
        assert_eq!(one.depth(), 1);
        one.execute("INSERT INTO nested VALUES (2)", &[])
            .await
            .unwrap();
        {
            let mut two = one.transaction().await.unwrap();
            two.execute("INSERT INTO nested VALUES (3)", &[])
                .await
                .unwrap();
            {
                let mut three = two.transaction().await.unwrap();
                three
                    .execute("INSERT INTO nested VALUES (4)", &[])
                    .await
                    .unwrap();
                three.rollback().await.unwrap(); // 4 goes
            }
            two.commit().await.unwrap(); // 3 stays
        }
        {
            let mut inner = one.transaction().await.unwrap();
            // An error inside a savepoint fails only the savepoint.
            let err = inner
                .execute("INSERT INTO nested VALUES (1)", &[])
                .await
                .unwrap_err();
            assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION));
            // Dropped: rolled back to the savepoint, the transaction goes on.
        }
        one.commit().await.unwrap();
    }
    let ids: Vec<i32> = tx
        .fetch("SELECT id FROM nested ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    tx.commit().await.unwrap();
    assert_eq!(count(&mut conn, "nested").await, 3);
}

#[tokio::test]
async fn options_are_visible_on_the_server() {
    let mut conn = connect().await;
    let mut tx = conn
        .build_transaction()
        .isolation(IsolationLevel::Serializable)
        .read_only(true)
        .deferrable(true)
        .start()
        .await
        .unwrap();
    let show = |name: &'static str| format!("SHOW {name}");
    let isolation: String = tx
        .fetch_value(show("transaction_isolation").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(isolation, "serializable");
    let read_only: String = tx
        .fetch_value(show("transaction_read_only").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(read_only, "on");
    let deferrable: String = tx
        .fetch_value(show("transaction_deferrable").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(deferrable, "on");
    // (A temporary table may be written in a read-only transaction; a new table may not.)
    let err = tx
        .execute("CREATE TABLE pgtusk_read_only_refused (id int)", &[])
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::READ_ONLY_SQL_TRANSACTION));
    drop(tx);
    let mut tx = conn
        .build_transaction()
        .isolation(IsolationLevel::RepeatableRead)
        .start()
        .await
        .unwrap();
    let isolation: String = tx
        .fetch_value("SHOW transaction_isolation", &[])
        .await
        .unwrap();
    assert_eq!(isolation, "repeatable read");
}

/// PostgreSQL answers COMMIT of a failed transaction with ROLLBACK and no error: that is an
/// error here, never Ok.
#[tokio::test]
async fn commit_of_a_failed_transaction_is_an_error() {
    let mut conn = connect().await;
    table(&mut conn, "failed").await;
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO failed VALUES (1)", &[])
        .await
        .unwrap();
    assert!(tx.execute("SELECT 1 / 0", &[]).await.is_err());
    assert_eq!(tx.transaction_status(), TransactionStatus::Failed);
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::TransactionRolledBack), "{err:?}");
    assert_eq!(count(&mut conn, "failed").await, 0);
}

#[tokio::test]
async fn a_deferred_constraint_fails_at_commit_with_the_servers_fields() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE parent (id int PRIMARY KEY); \
         CREATE TEMP TABLE child (parent_id int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)",
    )
    .await
    .unwrap();
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO child VALUES (42)", &[])
        .await
        .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::FOREIGN_KEY_VIOLATION),
        "{err:?}"
    );
    assert_eq!(
        err.as_db_error().and_then(|e| e.constraint()),
        Some("child_parent_id_fkey")
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn a_transaction_inside_a_transaction_is_refused() {
    let mut conn = connect().await;
    conn.execute_script("BEGIN").await.unwrap();
    let err = conn.transaction().await.unwrap_err();
    assert!(err.to_string().contains("savepoint"), "{err}");
    conn.execute_script("ROLLBACK").await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    let err = tx.build_transaction().start().await.unwrap_err();
    assert!(matches!(err, Error::Interface(_)), "{err:?}");
}

#[tokio::test]
async fn the_closure_form_commits_on_ok_and_rolls_back_on_err() {
    let mut conn = connect().await;
    table(&mut conn, "closure").await;
    let inserted = conn
        .run_transaction(|tx| {
            Box::pin(async move { tx.execute("INSERT INTO closure VALUES (1)", &[]).await })
        })
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    let err = conn
        .run_transaction(|tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO closure VALUES (2)", &[]).await?;
                tx.execute("INSERT INTO closure VALUES (1)", &[]).await?; // duplicate: `?`
                Ok(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION));
    assert_eq!(count(&mut conn, "closure").await, 1);
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

/// Two SERIALIZABLE transactions that each read what the other writes: one of them fails
/// with 40001 and the closure form runs it again, successfully.
#[tokio::test]
async fn serialization_failures_are_retried() {
    let mut setup = connect().await;
    setup
        .execute_script(
            "DROP TABLE IF EXISTS pgtusk_doctors; \
             CREATE TABLE pgtusk_doctors (name text PRIMARY KEY, on_call bool NOT NULL); \
             INSERT INTO pgtusk_doctors VALUES ('alice', true), ('bob', true)",
        )
        .await
        .unwrap();
    let attempts = Arc::new(AtomicU32::new(0));
    // Both read "two on call" before either writes: write skew, which SERIALIZABLE refuses.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut tasks = Vec::new();
    for name in ["alice", "bob"] {
        let attempts = attempts.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = connect().await;
            let mut first = true;
            conn.build_transaction()
                .isolation(IsolationLevel::Serializable)
                .max_attempts(5)
                .run(|tx| {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    let wait = std::mem::take(&mut first).then(|| barrier.clone());
                    Box::pin(async move {
                        let on_call: i64 = tx
                            .fetch_value("SELECT count(*) FROM pgtusk_doctors WHERE on_call", &[])
                            .await?;
                        if let Some(barrier) = wait {
                            barrier.wait().await;
                        }
                        if on_call >= 2 {
                            tx.execute(
                                "UPDATE pgtusk_doctors SET on_call = false WHERE name = $1",
                                &[&name],
                            )
                            .await?;
                        }
                        Ok(on_call)
                    })
                })
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert!(
        attempts.load(Ordering::SeqCst) >= 3,
        "one transaction was retried"
    );
    let on_call: i64 = setup
        .fetch_value("SELECT count(*) FROM pgtusk_doctors WHERE on_call", &[])
        .await
        .unwrap();
    assert_eq!(on_call, 1, "exactly one doctor went off call");
    setup
        .execute_script("DROP TABLE pgtusk_doctors")
        .await
        .unwrap();
}

/// Code written once against `Executor` runs on a connection and inside a transaction.
#[tokio::test]
async fn executor_code_runs_inside_a_transaction() {
    #[derive(Debug, PartialEq, pgtusk::FromRecord)]
    struct Row {
        id: i32,
    }
    async fn exercise(db: &mut impl pgtusk::Executor, id: i32) -> pgtusk::Result<()> {
        use futures_util::TryStreamExt;
        let ids = [id, id + 1];
        let inserted = db
            .execute_many(
                "INSERT INTO generic VALUES ($1)",
                ids.iter().map(|id| [id as &(dyn pgtusk::Encode + Sync)]),
            )
            .await?;
        assert_eq!(inserted, 2);
        let stmt = db
            .prepare("SELECT id FROM generic WHERE id >= $1 ORDER BY id")
            .await?;
        assert_eq!(db.fetch(&stmt, &[&id]).await?.len(), 2);
        assert_eq!(db.fetch_one(&stmt, &[&id]).await?.get::<i32>(0), id);
        assert!(db.fetch_optional(&stmt, &[&1000]).await?.is_none());
        assert_eq!(db.fetch_value::<i32>(&stmt, &[&id]).await?, id);
        assert_eq!(db.fetch_as::<Row>(&stmt, &[&id]).await?.len(), 2);
        assert_eq!(db.fetch_one_as::<Row>(&stmt, &[&id]).await?, Row { id });
        assert_eq!(db.fetch_optional_as::<Row>(&stmt, &[&1000]).await?, None);
        let mut rows = db.fetch_stream(&stmt, &[&id]).await?;
        let mut streamed = 0;
        while rows.try_next().await?.is_some() {
            streamed += 1;
        }
        assert_eq!(streamed, 2);
        assert_eq!(
            db.execute("DELETE FROM generic WHERE id = $1", &[&(id + 1)])
                .await?,
            1
        );
        Ok(())
    }
    let mut conn = connect().await;
    table(&mut conn, "generic").await;
    exercise(&mut conn, 1).await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    exercise(&mut tx, 10).await.unwrap();
    drop(tx);
    assert_eq!(count(&mut conn, "generic").await, 1);
}
