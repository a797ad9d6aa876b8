//! Cancellation: a dropped query's work is cancelled on the server, a CancelToken cancels
//! from another task, command_timeout cancels and says so, and a cancel never reaches the
//! statement that follows.

use std::time::{Duration, Instant};

use pgtusk::cluster::TempCluster;
use pgtusk::{Connection, Error, SqlState};
use pgtusk_tests::{connect, connect_with, shared_options};

/// The scenario from the issue: a 1 ms timeout around a 100 s query, then the next query
/// answers at once instead of waiting for the server to finish.
#[tokio::test]
async fn a_dropped_long_query_is_cancelled_not_waited_for() {
    let mut conn = connect().await;
    let timed_out = tokio::time::timeout(
        Duration::from_millis(50),
        conn.execute("SELECT pg_sleep(100)", &[]),
    )
    .await;
    assert!(timed_out.is_err(), "the timeout fired");
    let started = Instant::now();
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the next query waited {:?}",
        started.elapsed()
    );
    // The same for a stream dropped half-way through a long result.
    {
        let rows = conn
            .fetch_stream(
                "SELECT g, pg_sleep(0.001) FROM generate_series(1, 100000) g",
                &[],
            )
            .await
            .unwrap();
        drop(rows);
    }
    let started = Instant::now();
    assert_eq!(conn.fetch_value::<i32>("SELECT 2", &[]).await.unwrap(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// A cancel is racy by nature: it reaches whatever the backend runs when it arrives. The
/// connection drains before it sends anything new, so the cancel of a dropped query can
/// never reach the query that follows it.
#[tokio::test]
async fn a_cancel_never_reaches_the_next_query() {
    let mut conn = connect().await;
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut cancelled = 0;
    for round in 0..500 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let micros = seed % 5000;
        let outcome = tokio::time::timeout(
            Duration::from_micros(micros),
            conn.execute("SELECT pg_sleep(0.05)", &[]),
        )
        .await;
        if outcome.is_err() {
            cancelled += 1;
        }
        match conn.fetch_value::<i32>("SELECT 1", &[]).await {
            Ok(1) => {}
            other => panic!("round {round} (timeout {micros} µs): {other:?}"),
        }
    }
    assert!(cancelled > 400, "most rounds timed out: {cancelled}");
}

#[tokio::test]
async fn a_cancel_token_cancels_from_another_task() {
    let mut conn = connect().await;
    let token = conn.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel().await
    });
    let started = Instant::now();
    let err = conn.execute("SELECT pg_sleep(30)", &[]).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::QUERY_CANCELED), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    canceller.await.unwrap().unwrap();
    assert_eq!(conn.fetch_value::<i32>("SELECT 3", &[]).await.unwrap(), 3);
    // Cancelling an idle connection does nothing.
    conn.cancel_token().cancel().await.unwrap();
    assert_eq!(conn.fetch_value::<i32>("SELECT 4", &[]).await.unwrap(), 4);
}

#[tokio::test]
async fn command_timeout_cancels_and_names_the_statement() {
    let mut conn = connect_with(shared_options().command_timeout(Duration::from_millis(300))).await;
    let started = Instant::now();
    let err = conn.execute("SELECT pg_sleep(30)", &[]).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    match &err {
        Error::Timeout(message) => {
            assert!(message.contains("pg_sleep(30)"), "{message}");
            assert!(message.contains("300ms"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The server stopped: the connection answers at once.
    let started = Instant::now();
    assert_eq!(conn.fetch_value::<i32>("SELECT 5", &[]).await.unwrap(), 5);
    assert!(started.elapsed() < Duration::from_secs(1));
    // Scripts, batches and streams are bounded too.
    let err = conn
        .execute_script("SELECT pg_sleep(30)")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    let sleeps = [[&30.0f64 as &(dyn pgtusk::Encode + Sync)]];
    let err = conn
        .execute_many("SELECT pg_sleep($1)", sleeps)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    // As a DSN key, in seconds.
    let options: pgtusk::ConnectOptions =
        format!("{} command_timeout=0.3", kv_dsn()).parse().unwrap();
    assert_eq!(
        options.get_command_timeout(),
        Some(Duration::from_millis(300))
    );
}

/// The shared server's DSN in key=value form.
fn kv_dsn() -> String {
    let options = shared_options();
    let mut dsn = format!(
        "host=127.0.0.1 port={}",
        options
            .get_ports()
            .first()
            .copied()
            .flatten()
            .unwrap_or(5432)
    );
    if let Some(user) = options.get_user() {
        dsn.push_str(&format!(" user={user}"));
    }
    dsn
}

/// A server that is gone: the cancel is an error, quickly, never a hang.
#[tokio::test]
async fn a_cancel_to_a_server_that_is_gone_is_an_error() {
    let cluster = TempCluster::start().unwrap();
    let conn = Connection::connect(&cluster.dsn()).await.unwrap();
    let token = conn.cancel_token();
    drop(conn);
    drop(cluster);
    let started = Instant::now();
    let err = token.cancel().await.unwrap_err();
    assert!(err.to_string().contains("cancel"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(11),
        "{:?}",
        started.elapsed()
    );
}
