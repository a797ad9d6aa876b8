//! Dropping a query future at any point leaves the connection usable: the next operation
//! drains what the dropped one still owed.

use std::time::Duration;

use futures_util::TryStreamExt;
use pgtusk::Connection;
use pgtusk_tests::connect;
use pgtusk_tests::drop::poll_then_drop;

async fn still_answers(conn: &mut Connection, round: i32) {
    let got: i32 = conn
        .fetch_value("SELECT $1::int4 * 2", &[&round])
        .await
        .unwrap();
    assert_eq!(got, round * 2, "round {round}");
    let rows = conn
        .fetch("SELECT g FROM generate_series(1, 3) g", &[])
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.get::<i32>(0)).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

#[tokio::test]
async fn dropped_fetch_at_every_poll_count() {
    let mut conn = connect().await;
    for polls in 0..40 {
        // A fresh SQL text every few rounds so some drops land inside prepare.
        let sql = format!(
            "SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g WHERE g > {}",
            polls % 7
        );
        poll_then_drop(conn.fetch(sql.as_str(), &[]), polls).await;
        still_answers(&mut conn, polls as i32).await;
    }
}

#[tokio::test]
async fn dropped_streams_and_executes() {
    let mut conn = connect().await;
    conn.execute("CREATE TEMP TABLE hits (n int)", &[])
        .await
        .unwrap();
    for polls in 0..30 {
        {
            let fut = async {
                let mut rows = conn
                    .fetch_stream("SELECT g FROM generate_series(1, 50000) g", &[])
                    .await?;
                while rows.try_next().await?.is_some() {}
                Ok::<(), pgtusk::Error>(())
            };
            poll_then_drop(fut, polls).await;
        }
        still_answers(&mut conn, polls as i32).await;
        poll_then_drop(
            conn.execute("INSERT INTO hits VALUES ($1)", &[&(polls as i32)]),
            polls % 4,
        )
        .await;
        still_answers(&mut conn, polls as i32).await;
    }
}

#[tokio::test]
async fn dropped_by_timeout_at_random_moments() {
    let mut conn = connect().await;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..60 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let micros = seed % 3000;
        let sql = if round % 3 == 0 {
            "SELECT g FROM pg_sleep(0.002), generate_series(1, 5000) g"
        } else {
            "SELECT g FROM generate_series(1, 100000) g"
        };
        let _ = tokio::time::timeout(Duration::from_micros(micros), conn.fetch(sql, &[])).await;
        still_answers(&mut conn, round).await;
    }
}

#[tokio::test]
async fn dropped_prepare_leaves_no_statement_behind() {
    let mut conn = connect().await;
    for polls in 0..6 {
        let sql = format!("SELECT {polls} AS dropped_prepare");
        poll_then_drop(conn.prepare(&sql), polls).await;
        still_answers(&mut conn, polls as i32).await;
    }
    // Every statement the server holds is one the cache knows about.
    let on_server: i64 = conn
        .fetch_value(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%dropped_prepare'",
            &[],
        )
        .await
        .unwrap();
    let cached = (0..6).filter(|_| true).count() as i64;
    assert!(on_server <= cached, "{on_server} statements on the server");
}

/// Without a cache every query is one open request (Parse, Describe, Flush, then Bind,
/// Execute, Sync) and a batch is one too: dropped anywhere in it, the session ends it (Sync,
/// or a failing Parse for a batch that may have run in part) and the connection stays usable.
#[tokio::test]
async fn dropped_uncached_queries_and_batches() {
    let mut conn =
        pgtusk_tests::connect_with(pgtusk_tests::shared_options().statement_cache_size(0)).await;
    conn.execute_script(
        "CREATE TEMP TABLE batched (n int PRIMARY KEY); \
         CREATE TYPE pg_temp.dropped_mood AS ENUM ('calm')",
    )
    .await
    .unwrap();
    let ids: Vec<i32> = (0..3000).collect();
    for polls in 0..40 {
        poll_then_drop(
            conn.fetch_value::<String>("SELECT 'calm'::pg_temp.dropped_mood::text", &[]),
            polls % 8,
        )
        .await;
        still_answers(&mut conn, polls as i32).await;
        poll_then_drop(
            conn.execute_many(
                "INSERT INTO batched VALUES ($1)",
                ids.iter().map(|id| [id as &(dyn pgtusk::Encode + Sync)]),
            ),
            polls,
        )
        .await;
        still_answers(&mut conn, polls as i32).await;
        // A batch is all or nothing: every row, or none.
        let n: i64 = conn
            .fetch_value("SELECT count(*) FROM batched", &[])
            .await
            .unwrap();
        assert!(n == 0 || n == 3000, "round {polls}: {n} rows of a batch");
        conn.execute("DELETE FROM batched", &[]).await.unwrap();
    }
}
