//! A COMMIT whose answer is lost: [`Error::CommitOutcomeUnknown`], distinct from a known
//! failure, never retried; each test then looks on the server to see what really happened.
//!
//! The driver says "unknown" exactly when the whole COMMIT message was handed to the socket
//! and no answer came: the server runs COMMIT only once it has all of it, so before that
//! nothing was committed, and after it the bytes may or may not have arrived (a write that
//! succeeded only reached the kernel). A [`FaultProxy`] cuts at the chosen message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pgtusk::{ConnectOptions, Connection, Error, TransactionStatus};
use pgtusk_tests::fault_proxy::{Cut, Direction, FaultProxy};
use pgtusk_tests::{connect, options_via, shared_port};

const LIMIT: Duration = Duration::from_secs(20);

fn via(proxy: &FaultProxy) -> ConnectOptions {
    options_via(proxy.port())
        .connect_timeout(Duration::from_secs(8))
        .command_timeout(Duration::from_secs(8))
}

async fn table(name: &str) {
    connect()
        .await
        .execute_script(&format!(
            "DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id int PRIMARY KEY)"
        ))
        .await
        .unwrap();
}

/// Whether the row is there, seen from a fresh connection that bypasses the proxy.
async fn committed(table: &str, id: i32) -> bool {
    connect()
        .await
        .fetch_value(
            &format!("SELECT EXISTS (SELECT FROM {table} WHERE id = $1)"),
            &[&id],
        )
        .await
        .unwrap()
}

fn assert_unknown(e: &Error) {
    let Error::CommitOutcomeUnknown(source) = e else {
        panic!("expected CommitOutcomeUnknown, got {e:?}");
    };
    let text = e.to_string();
    assert!(
        text.contains("COMMIT was sent but no answer came")
            && text.contains("may or may not have committed")
            && text.contains("check on the server"),
        "{text}"
    );
    assert!(
        source.is_closed(),
        "the cause is the lost connection: {source:?}"
    );
    assert!(!matches!(e, Error::TransactionRolledBack));
    assert_eq!(e.sqlstate(), None);
}

/// Inserts `id` in a transaction on a connection through the proxy, then cuts at the first
/// message `dir` after the insert (the COMMIT itself, or its answer) and commits.
async fn commit_cut(table: &str, id: i32, dir: Direction) -> Error {
    let proxy = FaultProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&via(&proxy)).await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    tx.execute(&format!("INSERT INTO {table} VALUES ($1)"), &[&id])
        .await
        .unwrap();
    proxy.arm(Some(Cut::AtMessage(dir, 0)));
    let err = tokio::time::timeout(LIMIT, tx.commit())
        .await
        .expect("the commit hung")
        .unwrap_err();
    assert!(!proxy.cut_pending(), "the cut never fired");
    assert!(conn.is_closed());
    err
}

#[tokio::test]
async fn a_commit_whose_answer_is_lost_is_unknown_and_the_server_committed() {
    table("outcome_answer_lost").await;
    let err = commit_cut("outcome_answer_lost", 1, Direction::ToClient).await;
    assert_unknown(&err);
    // The server got COMMIT and answered: the answer was what got lost.
    assert!(committed("outcome_answer_lost", 1).await);
}

#[tokio::test]
async fn a_commit_lost_on_its_way_is_unknown_too_and_the_server_did_not_commit() {
    // The driver wrote COMMIT whole: it cannot know that the proxy dropped it, so it must not
    // claim a rollback.
    table("outcome_commit_lost").await;
    let err = commit_cut("outcome_commit_lost", 1, Direction::ToServer).await;
    assert_unknown(&err);
    assert!(!committed("outcome_commit_lost", 1).await);
}

#[tokio::test]
async fn a_commit_on_a_connection_known_broken_is_a_plain_error_and_nothing_committed() {
    table("outcome_known_broken").await;
    let proxy = FaultProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&via(&proxy)).await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO outcome_known_broken VALUES (1)", &[])
        .await
        .unwrap();
    // The next statement's answer is cut: the driver knows the connection is gone.
    proxy.arm(Some(Cut::AtMessage(Direction::ToClient, 0)));
    let lost = tx.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(lost.is_closed(), "{lost:?}");
    let err = tx.commit().await.unwrap_err();
    assert!(
        matches!(err, Error::Closed),
        "COMMIT never went out: {err:?}"
    );
    assert!(!committed("outcome_known_broken", 1).await);
}

#[tokio::test]
async fn a_commit_whose_write_fails_is_a_plain_io_error_and_nothing_committed() {
    table("outcome_write_failed").await;
    let proxy = FaultProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&via(&proxy)).await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO outcome_write_failed VALUES (1)", &[])
        .await
        .unwrap();
    // A reset while the transaction is idle: the driver's next write fails outright, so
    // COMMIT is not handed to the socket (on loopback the reset has arrived once the proxy
    // closed its sockets).
    proxy.reset_all();
    proxy.all_ended().await;
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(!committed("outcome_write_failed", 1).await);
}

#[tokio::test]
async fn releasing_a_savepoint_is_not_a_commit() {
    table("outcome_savepoint").await;
    let proxy = FaultProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&via(&proxy)).await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    let mut inner = tx.transaction().await.unwrap();
    inner
        .execute("INSERT INTO outcome_savepoint VALUES (1)", &[])
        .await
        .unwrap();
    proxy.arm(Some(Cut::AtMessage(Direction::ToClient, 0)));
    let err = inner.commit().await.unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    drop(tx);
    assert!(!committed("outcome_savepoint", 1).await);
}

#[tokio::test]
async fn a_commit_past_command_timeout_is_unknown_and_the_connection_stays_usable() {
    table("outcome_timeout").await;
    let proxy = FaultProxy::start(shared_port()).await;
    let options = via(&proxy).command_timeout(Duration::from_millis(300));
    let mut conn = Connection::connect_with(&options).await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO outcome_timeout VALUES (1)", &[])
        .await
        .unwrap();
    proxy.set_delay(Some(Duration::from_secs(1)));
    let err = tokio::time::timeout(LIMIT, tx.commit())
        .await
        .expect("the commit hung")
        .unwrap_err();
    proxy.set_delay(None);
    let Error::CommitOutcomeUnknown(source) = &err else {
        panic!("expected CommitOutcomeUnknown, got {err:?}");
    };
    assert!(matches!(**source, Error::Timeout(_)), "{source:?}");
    assert!(!err.is_closed(), "a timeout leaves the connection usable");
    // The late answer was drained: the session is idle and answers again.
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    eprintln!(
        "after the timeout the server had {}committed",
        if committed("outcome_timeout", 1).await {
            ""
        } else {
            "not "
        }
    );
}

#[tokio::test]
async fn run_transaction_does_not_retry_an_unknown_commit() {
    table("outcome_no_retry").await;
    let proxy = Arc::new(FaultProxy::start(shared_port()).await);
    let mut conn = Connection::connect_with(&via(&proxy)).await.unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let err = conn
        .build_transaction()
        .max_attempts(5)
        .run(|tx| {
            let proxy = proxy.clone();
            let runs = runs.clone();
            Box::pin(async move {
                let run = runs.fetch_add(1, Ordering::AcqRel) as i32 + 1;
                tx.execute("INSERT INTO outcome_no_retry VALUES ($1)", &[&run])
                    .await?;
                // The next answer from the server is COMMIT's.
                proxy.arm(Some(Cut::AtMessage(Direction::ToClient, 0)));
                Ok(())
            })
        })
        .await
        .unwrap_err();
    assert_unknown(&err);
    assert_eq!(
        runs.load(Ordering::Acquire),
        1,
        "ran again after an unknown commit"
    );
    assert!(committed("outcome_no_retry", 1).await);
}

#[test]
fn the_blocking_api_reports_an_unknown_commit_and_does_not_retry() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(table("outcome_blocking"));
    let proxy = rt.block_on(FaultProxy::start(shared_port()));
    let mut conn = pgtusk::blocking::Connection::connect_with(&via(&proxy)).unwrap();
    let mut runs = 0;
    let err = conn
        .build_transaction()
        .max_attempts(5)
        .run(|tx| {
            runs += 1;
            tx.execute("INSERT INTO outcome_blocking VALUES ($1)", &[&runs])?;
            proxy.arm(Some(Cut::AtMessage(Direction::ToClient, 0)));
            Ok(())
        })
        .unwrap_err();
    assert_unknown(&err);
    assert_eq!(runs, 1);
    assert!(rt.block_on(committed("outcome_blocking", 1)));
}

/// `command_timeout` that passes before COMMIT (or ROLLBACK) is even queued (it first drains
/// an operation the caller dropped, on a slow link): nothing was committed, and the
/// transaction must not stay open on the connection, or the next statements would run in it
/// and a later COMMIT would commit the writes of the transaction that failed (or that the
/// caller rolled back) after all.
#[tokio::test]
async fn an_end_that_timed_out_before_it_went_out_leaves_no_transaction_open() {
    table("outcome_not_sent").await;
    let proxy = FaultProxy::start(shared_port()).await;
    let options = via(&proxy).command_timeout(Duration::from_millis(300));
    for end in ["COMMIT", "ROLLBACK"] {
        let mut conn = Connection::connect_with(&options).await.unwrap();
        let mut tx = conn.transaction().await.unwrap();
        tx.execute("INSERT INTO outcome_not_sent VALUES (1)", &[])
            .await
            .unwrap();
        proxy.set_delay(Some(Duration::from_millis(1500)));
        // Dropped before its answer: the end must drain it first, past command_timeout.
        let dropped =
            tokio::time::timeout(Duration::from_millis(50), tx.execute("SELECT 1", &[])).await;
        assert!(
            dropped.is_err(),
            "{end}: the delayed statement answered at once"
        );
        let ended = match end {
            "COMMIT" => tokio::time::timeout(LIMIT, tx.commit()).await,
            _ => tokio::time::timeout(LIMIT, tx.rollback()).await,
        };
        let err = ended.unwrap_or_else(|_| panic!("{end} hung")).unwrap_err();
        proxy.set_delay(None);
        assert!(
            matches!(err, Error::Timeout(_)),
            "{end} never went out: {err:?}"
        );
        let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
        assert_eq!(one, 1);
        assert_eq!(
            conn.transaction_status(),
            TransactionStatus::Idle,
            "{end}: the transaction is still open on the connection"
        );
        conn.execute_script("COMMIT").await.unwrap();
        assert!(!committed("outcome_not_sent", 1).await, "{end}");
    }
}
