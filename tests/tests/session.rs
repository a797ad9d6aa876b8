//! The connection's session state against a real server: what the server ends, what the
//! protocol's limits are, what a request carries, and what an abandoned or refused one leaves.

use std::time::Duration;

use futures_util::StreamExt;

use pgtusk::{Connection, Error, SqlState};
use pgtusk_tests::{
    connect, connect_with, options_via, proxy::CountingProxy, shared_options, shared_port,
};

/// Bug: after pg_terminate_backend the user saw only "the server closed the connection".
#[tokio::test]
async fn the_servers_reason_for_ending_the_session_is_kept() {
    let mut victim = connect().await;
    let mut admin = connect().await;
    let pid = victim.backend_pid();
    let terminated: bool = admin
        .fetch_value("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    assert!(terminated);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = victim.fetch("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::ADMIN_SHUTDOWN), "{err:?}");
    assert!(victim.is_closed());
    assert!(matches!(
        victim.fetch("SELECT 1", &[]).await,
        Err(Error::Closed)
    ));
}

/// The same while a query runs: the FATAL arrives in the middle of an operation.
#[tokio::test]
async fn a_session_ended_mid_query_reports_the_reason() {
    let mut victim = connect().await;
    let pid = victim.backend_pid();
    let killer = tokio::spawn(async move {
        let mut admin = connect().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        admin
            .fetch_value::<bool>("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .unwrap()
    });
    let err = victim
        .execute("SELECT pg_sleep(30)", &[])
        .await
        .unwrap_err();
    assert!(killer.await.unwrap());
    assert_eq!(err.sqlstate(), Some(SqlState::ADMIN_SHUTDOWN), "{err:?}");
    assert!(victim.is_closed());
}

/// idle_session_timeout ends the session with 57P05, kept the same way.
#[tokio::test]
async fn idle_session_timeout_is_reported() {
    let mut conn = connect().await;
    conn.execute_script("SET idle_session_timeout = '100ms'")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let err = conn.fetch("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::IDLE_SESSION_TIMEOUT),
        "{err:?}"
    );
}

/// Bug: 32,768–65,535 parameters broke the connection (a signed count); more than 65,535 must
/// be a clear error before anything is sent.
#[tokio::test]
async fn up_to_65535_parameters_work_and_more_are_refused() {
    let mut conn = connect().await;
    for count in [32_768usize, 65_535] {
        let sql = format!(
            "SELECT cardinality(ARRAY[{}])",
            (1..=count)
                .map(|i| format!("${i}::int4"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let values: Vec<i32> = (0..count).map(|_| 1).collect();
        let params: Vec<&(dyn pgtusk::Encode + Sync)> = values
            .iter()
            .map(|v| v as &(dyn pgtusk::Encode + Sync))
            .collect();
        let sum: i32 = conn.fetch_value(sql.as_str(), &params).await.unwrap();
        assert_eq!(sum as usize, count);
    }
    let values: Vec<i32> = vec![1; 65_536];
    let params: Vec<&(dyn pgtusk::Encode + Sync)> = values
        .iter()
        .map(|v| v as &(dyn pgtusk::Encode + Sync))
        .collect();
    let err = conn.fetch("SELECT $1::int4", &params).await.unwrap_err();
    assert!(err.to_string().contains("65535"), "{err}");
    assert_eq!(conn.fetch_value::<i32>("SELECT 7", &[]).await.unwrap(), 7);
    // SQL with as many placeholders: the server would count them modulo 2^16.
    let sql = format!(
        "SELECT cardinality(ARRAY[{}])",
        (1..=65_536)
            .map(|i| format!("${i}::int4"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let err = conn.fetch(sql.as_str(), &params).await.unwrap_err();
    assert!(err.to_string().contains("at most 65535"), "{err}");
    assert!(!conn.is_closed());
    assert_eq!(conn.fetch_value::<i32>("SELECT 9", &[]).await.unwrap(), 9);
}

/// Bug: a parameter over 1 GiB ended in "connection reset"; it is refused before sending.
#[tokio::test]
async fn a_parameter_over_one_gib_is_refused_before_sending() {
    let mut conn = connect().await;
    let huge = vec![0u8; 1 << 30];
    let err = conn
        .execute("SELECT length($1::bytea)", &[&huge])
        .await
        .unwrap_err();
    drop(huge);
    let message = err.to_string();
    assert!(
        message.contains("$1") && message.contains("1 GiB"),
        "{message}"
    );
    assert!(!conn.is_closed());
    assert_eq!(conn.fetch_value::<i32>("SELECT 8", &[]).await.unwrap(), 8);
}

/// Bug: after a 200 MB value the idle connection kept hundreds of MB of buffers.
#[tokio::test]
async fn buffers_shrink_after_an_outsized_message() {
    let mut conn = connect().await;
    let normal = conn.buffer_capacity();
    let big = vec![7u8; 200 << 20];
    let len: i32 = conn
        .fetch_value("SELECT length($1::bytea)", &[&big])
        .await
        .unwrap();
    assert_eq!(len, 200 << 20);
    drop(big);
    let back: Vec<u8> = conn
        .fetch_value("SELECT repeat('x', 200 * 1024 * 1024)::bytea", &[])
        .await
        .unwrap();
    assert_eq!(back.len(), 200 << 20);
    drop(back);
    conn.execute("SELECT 1", &[]).await.unwrap();
    assert!(
        conn.buffer_capacity() < normal + (4 << 20),
        "buffers hold {} bytes after the big values (normal {normal})",
        conn.buffer_capacity()
    );
}

/// `SET client_encoding` to anything but UTF8 would make pgtusk misread parameters and text:
/// it is refused clearly and the connection is not used further.
#[tokio::test]
async fn changing_client_encoding_is_refused() {
    let mut conn = connect().await;
    let err = conn
        .execute_script("SET client_encoding = 'LATIN1'")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("client_encoding"), "{err}");
    assert!(conn.is_closed());
    // UTF8 itself (any spelling) is fine.
    let mut conn = connect().await;
    conn.execute_script("SET client_encoding = 'utf-8'")
        .await
        .unwrap();
    let len: i32 = conn
        .fetch_value("SELECT length($1)", &[&"é"])
        .await
        .unwrap();
    assert_eq!(len, 1);
}

/// Bug: with statement_cache_size=0 the statement was described in one Sync and bound in a
/// second, which a transaction-pooling pgbouncer may send to another server connection. An
/// uncached query is one request: Parse, Describe, Flush, Bind, Execute, one Sync.
#[tokio::test]
async fn an_uncached_query_is_one_request_with_one_sync() {
    let proxy = CountingProxy::start(shared_port()).await;
    let options = options_via(proxy.port()).statement_cache_size(0);
    let mut conn = Connection::connect_with(&options).await.unwrap();
    conn.execute_script("CREATE TEMP TABLE bounced (id int, name text)")
        .await
        .unwrap();
    proxy.reset();
    let got: i32 = conn
        .fetch_value("SELECT $1::int4 * 2", &[&21i32])
        .await
        .unwrap();
    assert_eq!(got, 42);
    assert_eq!(proxy.traffic().tags(), "PDHBES");
    proxy.reset();
    let ids = [1i32, 2, 3];
    let names = ["a", "b", "c"];
    let inserted = conn
        .execute_many(
            "INSERT INTO bounced VALUES ($1, $2)",
            ids.iter()
                .zip(&names)
                .map(|(id, name)| [id as &(dyn pgtusk::Encode + Sync), name]),
        )
        .await
        .unwrap();
    assert_eq!(inserted, 3);
    assert_eq!(proxy.traffic().tags(), "PDHBEBEBES");
    // A type looked up on first use ends the request (Sync) before the lookup (a simple
    // Query), then describes the statement again in a request of its own.
    conn.execute_script("CREATE TYPE pg_temp.bounce_mood AS ENUM ('up', 'down')")
        .await
        .unwrap();
    proxy.reset();
    let mood: String = conn
        .fetch_value("SELECT 'up'::pg_temp.bounce_mood", &[])
        .await
        .unwrap();
    assert_eq!(mood, "up");
    assert_eq!(proxy.traffic().tags(), "PDHSQPDHBES");
}

/// Bug: execute_many on COPY FROM STDIN closed the connection where execute refused it.
#[tokio::test]
async fn copy_from_stdin_is_refused_cleanly_everywhere() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TEMP TABLE copied (n int)")
        .await
        .unwrap();
    let err = conn
        .execute("COPY copied FROM STDIN", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("COPY"), "{err}");
    let err = conn
        .execute_script("COPY copied FROM STDIN")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("COPY"), "{err}");
    for sets in [1usize, 3, 2000] {
        let err = conn
            .execute_many(
                "COPY copied FROM STDIN",
                (0..sets).map(|_| [] as [&(dyn pgtusk::Encode + Sync); 0]),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("COPY"), "{sets} sets: {err}");
        assert!(!conn.is_closed());
        assert_eq!(conn.fetch_value::<i32>("SELECT 9", &[]).await.unwrap(), 9);
    }
}

/// Notifications that arrive while queries run are kept, in order.
#[tokio::test]
async fn notifications_are_kept_not_dropped() {
    let mut listener = connect().await;
    listener.listen("pgtusk_kept").await.unwrap();
    let mut sender = connect().await;
    for i in 0..3 {
        sender.notify("pgtusk_kept", &i.to_string()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    listener.execute("SELECT 1", &[]).await.unwrap();
    let mut got = Vec::new();
    let mut notifications = listener.notifications();
    for _ in 0..3 {
        let n = tokio::time::timeout(Duration::from_secs(5), notifications.next())
            .await
            .expect("a kept notification")
            .expect("the stream does not end")
            .unwrap();
        got.push((n.channel().to_owned(), n.payload().to_owned()));
    }
    let want: Vec<(String, String)> = (0..3)
        .map(|i| ("pgtusk_kept".to_owned(), i.to_string()))
        .collect();
    assert_eq!(got, want);
}

/// Bug: a cached statement on a dropped and re-created type failed forever with XX000.
#[tokio::test]
async fn a_recreated_type_is_prepared_again() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TYPE pg_temp.phase AS ENUM ('new', 'old')")
        .await
        .unwrap();
    let sql = "SELECT $1::pg_temp.phase::text";
    let got: String = conn.fetch_value(sql, &[&"new"]).await.unwrap();
    assert_eq!(got, "new");
    conn.execute_script(
        "DROP TYPE pg_temp.phase; CREATE TYPE pg_temp.phase AS ENUM ('old', 'new', 'newer')",
    )
    .await
    .unwrap();
    let got: String = conn.fetch_value(sql, &[&"newer"]).await.unwrap();
    assert_eq!(got, "newer");
    let got: String = conn
        .fetch_value("SELECT 'newer'::pg_temp.phase", &[])
        .await
        .unwrap();
    assert_eq!(got, "newer");
}

/// Without a cache every query is described afresh, so a re-created type is simply looked up
/// under its new OID (a guard: this case worked before, only cached statements failed).
#[tokio::test]
async fn uncached_connections_see_recreated_types_too() {
    let mut conn = connect_with(shared_options().statement_cache_size(0)).await;
    conn.execute_script("CREATE TYPE pg_temp.tone AS ENUM ('a')")
        .await
        .unwrap();
    let got: String = conn
        .fetch_value("SELECT 'a'::pg_temp.tone", &[])
        .await
        .unwrap();
    assert_eq!(got, "a");
    conn.execute_script("DROP TYPE pg_temp.tone; CREATE TYPE pg_temp.tone AS ENUM ('b', 'a')")
        .await
        .unwrap();
    let got: String = conn
        .fetch_value("SELECT 'a'::pg_temp.tone", &[])
        .await
        .unwrap();
    assert_eq!(got, "a");
}
