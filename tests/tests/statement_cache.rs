//! The statement cache: a hit is one round trip, eviction closes the server statement,
//! size 0 uses no named statement, and stale statements are re-prepared transparently.

use pgtusk::{Connection, Error};
use pgtusk_tests::{
    connect, connect_with, options_via, proxy::CountingProxy, shared_options, shared_port,
};

async fn server_statements(conn: &mut Connection) -> Vec<String> {
    conn.fetch(
        "SELECT statement FROM pg_prepared_statements ORDER BY prepare_time",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String>(0))
    .collect()
}

#[tokio::test]
async fn a_cache_hit_is_one_write_of_bind_execute_sync() {
    let proxy = CountingProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&options_via(proxy.port()))
        .await
        .unwrap();
    let sql = "SELECT $1::int4 + 1";
    assert_eq!(conn.fetch_value::<i32>(sql, &[&1i32]).await.unwrap(), 2);
    proxy.reset();
    for i in 0..10 {
        assert_eq!(conn.fetch_value::<i32>(sql, &[&i]).await.unwrap(), i + 1);
    }
    let traffic = proxy.traffic();
    assert_eq!(traffic.count(b'P'), 0, "no Parse on a hit: {traffic:?}");
    assert_eq!(traffic.count(b'D'), 0, "no Describe on a hit: {traffic:?}");
    assert_eq!(traffic.count(b'B'), 10, "{traffic:?}");
    assert_eq!(traffic.count(b'E'), 10, "{traffic:?}");
    assert_eq!(
        traffic.count(b'S'),
        10,
        "one Sync, so one round trip, per query: {traffic:?}"
    );
    assert_eq!(traffic.client_reads, 10, "one write per query: {traffic:?}");
}

#[tokio::test]
async fn a_miss_prepares_in_one_round_trip_then_runs() {
    let proxy = CountingProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&options_via(proxy.port()))
        .await
        .unwrap();
    proxy.reset();
    conn.fetch_value::<i32>("SELECT 40 + $1::int4", &[&2i32])
        .await
        .unwrap();
    let traffic = proxy.traffic();
    assert_eq!(
        (traffic.count(b'P'), traffic.count(b'S')),
        (1, 2),
        "{traffic:?}"
    );
}

#[tokio::test]
async fn eviction_closes_the_server_statement() {
    let mut conn = connect_with(shared_options().statement_cache_size(2)).await;
    let first = "SELECT 1 AS first";
    conn.fetch(first, &[]).await.unwrap();
    conn.fetch("SELECT 2 AS second", &[]).await.unwrap();
    conn.fetch("SELECT 3 AS third", &[]).await.unwrap();
    let on_server = server_statements(&mut conn).await;
    assert!(
        !on_server.iter().any(|s| s == first),
        "evicted statement still on the server: {on_server:?}"
    );
    assert!(
        on_server.iter().any(|s| s == "SELECT 3 AS third"),
        "{on_server:?}"
    );
    assert!(conn.cached_statements() <= 2);
}

#[tokio::test]
async fn least_recently_used_goes_first() {
    let mut conn = connect_with(shared_options().statement_cache_size(3)).await;
    conn.fetch("SELECT 'a'", &[]).await.unwrap();
    conn.fetch("SELECT 'b'", &[]).await.unwrap();
    conn.fetch("SELECT 'a'", &[]).await.unwrap(); // 'a' is now newer than 'b'
    conn.fetch("SELECT 'c'", &[]).await.unwrap();
    conn.fetch("SELECT 'd'", &[]).await.unwrap(); // evicts 'b'
    conn.fetch("SELECT 'a'", &[]).await.unwrap(); // the listing below evicts 'c', not 'a'
    let on_server = server_statements(&mut conn).await;
    assert!(on_server.iter().any(|s| s == "SELECT 'a'"), "{on_server:?}");
    assert!(
        !on_server.iter().any(|s| s == "SELECT 'b'"),
        "{on_server:?}"
    );
}

#[tokio::test]
async fn size_zero_queries_create_no_named_statement() {
    let mut conn = connect_with(shared_options().statement_cache_size(0)).await;
    for i in 0..5i32 {
        assert_eq!(
            conn.fetch_value::<i32>("SELECT $1::int4", &[&i])
                .await
                .unwrap(),
            i
        );
    }
    assert!(server_statements(&mut conn).await.is_empty());
    assert_eq!(conn.cached_statements(), 0);
}

/// Bug: with no cache, `prepare` returned the unnamed statement, which the next query
/// replaced, and running it ran that other query.
#[tokio::test]
async fn an_uncached_prepared_statement_stays_itself_until_dropped() {
    for options in [
        shared_options().statement_cache_size(0),
        shared_options().max_cacheable_statement_size(8),
    ] {
        let mut conn = connect_with(options).await;
        let stmt = conn.prepare("SELECT 42::int4").await.unwrap();
        assert_ne!(stmt.name(), "", "a prepared statement is named");
        assert_eq!(conn.cached_statements(), 0);
        let other: i32 = conn
            .fetch_value("SELECT 1234567890::int4", &[])
            .await
            .unwrap();
        assert_eq!(other, 1234567890);
        let again: i32 = conn.fetch_value(&stmt, &[]).await.unwrap();
        assert_eq!(again, 42, "the statement ran someone else's SQL");
        assert_eq!(
            server_statements(&mut conn).await,
            ["SELECT 42::int4"],
            "on the server while it lives"
        );
        drop(stmt);
        conn.execute("SELECT 1 AS carrier", &[]).await.unwrap(); // uncached: carries the Close
        assert!(
            server_statements(&mut conn).await.is_empty(),
            "closed once dropped"
        );
    }
}

/// Bug: the Close of an evicted statement rode after the next Execute and its CloseComplete
/// overwrote the rows affected with 0.
#[tokio::test]
async fn rows_affected_survive_evictions() {
    let mut conn = connect_with(shared_options().statement_cache_size(2)).await;
    conn.execute_script(
        "CREATE TEMP TABLE counted (n int); INSERT INTO counted SELECT generate_series(1, 5)",
    )
    .await
    .unwrap();
    for i in 0..6 {
        // A new text each time: every call prepares, evicts, and closes the evicted one.
        let sql = format!("UPDATE counted SET n = n + {i}");
        assert_eq!(
            conn.execute(sql.as_str(), &[]).await.unwrap(),
            5,
            "round {i}"
        );
        let sql = format!("DELETE FROM counted WHERE n < -{i}");
        assert_eq!(conn.execute(sql.as_str(), &[]).await.unwrap(), 0);
        let sql = format!("SELECT n + {i} FROM counted");
        let mut rows = conn.fetch_stream(sql.as_str(), &[]).await.unwrap();
        while futures_util::TryStreamExt::try_next(&mut rows)
            .await
            .unwrap()
            .is_some()
        {}
        assert_eq!(rows.rows_affected(), Some(5), "round {i}");
    }
}

#[tokio::test]
async fn statements_over_the_size_limit_are_not_cached() {
    let mut conn = connect_with(shared_options().max_cacheable_statement_size(32)).await;
    let long = format!("SELECT 1 AS {}", "x".repeat(40));
    conn.fetch(&long, &[]).await.unwrap();
    conn.fetch("SELECT 1", &[]).await.unwrap();
    assert_eq!(conn.cached_statements(), 1);
}

#[tokio::test]
async fn alter_table_is_survived_outside_a_transaction() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TEMP TABLE shape (a int); INSERT INTO shape VALUES (1)")
        .await
        .unwrap();
    let sql = "SELECT * FROM shape";
    assert_eq!(conn.fetch_one(sql, &[]).await.unwrap().len(), 1);
    conn.execute_script("ALTER TABLE shape ADD COLUMN b text DEFAULT 'new'")
        .await
        .unwrap();
    let row = conn.fetch_one(sql, &[]).await.unwrap();
    assert_eq!(row.len(), 2);
    assert_eq!(row.get::<&str>("b"), "new");
}

#[tokio::test]
async fn alter_table_inside_a_transaction_is_reported() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TEMP TABLE shape2 (a int); INSERT INTO shape2 VALUES (1)")
        .await
        .unwrap();
    let sql = "SELECT * FROM shape2";
    conn.fetch_one(sql, &[]).await.unwrap();
    conn.execute_script("BEGIN; ALTER TABLE shape2 ADD COLUMN b int")
        .await
        .unwrap();
    let err = conn.fetch_one(sql, &[]).await.unwrap_err();
    assert_eq!(
        err.sqlstate().map(|s| s.code().to_owned()).as_deref(),
        Some("0A000"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("transaction"),
        "the error says what to do: {msg}"
    );
    conn.execute_script("ROLLBACK").await.unwrap();
    // After the rollback the statement is prepared afresh.
    assert_eq!(conn.fetch_one(sql, &[]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn discard_all_is_survived() {
    let mut conn = connect().await;
    let sql = "SELECT $1::int4 * 3";
    assert_eq!(conn.fetch_value::<i32>(sql, &[&2i32]).await.unwrap(), 6);
    conn.execute_script("DISCARD ALL").await.unwrap();
    assert_eq!(conn.fetch_value::<i32>(sql, &[&3i32]).await.unwrap(), 9);
}

#[tokio::test]
async fn a_deallocated_statement_is_prepared_again() {
    let mut conn = connect().await;
    let sql = "SELECT $1::int4 * 5";
    let name = conn.prepare(sql).await.unwrap().name().to_owned();
    assert!(!name.is_empty());
    conn.execute_script(&format!("DEALLOCATE {name}"))
        .await
        .unwrap();
    assert_eq!(conn.fetch_value::<i32>(sql, &[&2i32]).await.unwrap(), 10);
}

#[tokio::test]
async fn a_statement_from_another_connection_is_refused() {
    let mut a = connect().await;
    let mut b = connect().await;
    let stmt = a.prepare("SELECT 1").await.unwrap();
    let err = b.fetch(&stmt, &[]).await.unwrap_err();
    assert!(matches!(err, Error::Interface(_)), "{err:?}");
}
