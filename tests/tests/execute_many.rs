//! `execute_many`: one statement, many parameter sets, pipelined and all-or-nothing.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use pgtusk::{Connection, Encode, Error, SqlState};
use pgtusk_tests::{connect, options_via, proxy::CountingProxy, shared_port};

async fn table(conn: &mut Connection, name: &str) {
    conn.execute_script(&format!(
        "CREATE TEMP TABLE {name} (id int4 PRIMARY KEY, label text)"
    ))
    .await
    .unwrap();
}

fn rows(n: i32) -> Vec<(i32, String)> {
    (0..n).map(|i| (i, format!("row {i}"))).collect()
}

fn sets(rows: &[(i32, String)]) -> impl Iterator<Item = [&(dyn Encode + Sync); 2]> {
    rows.iter()
        .map(|(id, label)| [id as &(dyn Encode + Sync), label])
}

#[tokio::test]
async fn inserts_every_set_in_a_few_round_trips() {
    let proxy = CountingProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&options_via(proxy.port()))
        .await
        .unwrap();
    table(&mut conn, "batch").await;
    let data = rows(3000);
    proxy.reset();
    let n = conn
        .execute_many("INSERT INTO batch VALUES ($1, $2)", sets(&data))
        .await
        .unwrap();
    assert_eq!(n, 3000);
    let traffic = proxy.traffic();
    assert_eq!(traffic.count(b'B'), 3000, "{traffic:?}");
    assert_eq!(
        traffic.count(b'S'),
        2,
        "one Sync to prepare, one for the whole batch: {traffic:?}"
    );
    assert!(
        traffic.client_reads <= 8,
        "a few chunks, not a write per row: {traffic:?}"
    );
    let (count, sum): (i64, i64) = conn
        .fetch_one_as("SELECT count(*), sum(id)::int8 FROM batch", &[])
        .await
        .unwrap();
    assert_eq!((count, sum), (3000, 2999 * 3000 / 2));
}

#[tokio::test]
async fn a_failing_set_rolls_back_the_whole_batch() {
    let mut conn = connect().await;
    table(&mut conn, "atomic").await;
    let mut data = rows(2500);
    data[1500].0 = 7; // duplicate key in the second chunk
    let err = conn
        .execute_many("INSERT INTO atomic VALUES ($1, $2)", sets(&data))
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION), "{err:?}");
    assert_eq!(
        conn.fetch_value::<i64>("SELECT count(*) FROM atomic", &[])
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_set_that_cannot_be_encoded_is_named_and_nothing_is_kept() {
    let mut conn = connect().await;
    table(&mut conn, "typed").await;
    let good = rows(10);
    let mut sets: Vec<Vec<&(dyn Encode + Sync)>> = good
        .iter()
        .map(|(id, l)| vec![id as &(dyn Encode + Sync), l])
        .collect();
    sets[5] = vec![&"not a number", &"x"];
    let err = conn
        .execute_many("INSERT INTO typed VALUES ($1, $2)", &sets)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err:?}");
    assert!(
        err.to_string().contains("parameter set 5") && err.to_string().contains("$1"),
        "{err}"
    );
    assert_eq!(
        conn.fetch_value::<i64>("SELECT count(*) FROM typed", &[])
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn inside_a_transaction_the_rows_wait_for_commit() {
    let mut conn = connect().await;
    table(&mut conn, "tx").await;
    conn.execute("BEGIN", &[]).await.unwrap();
    let data = rows(100);
    assert_eq!(
        conn.execute_many("INSERT INTO tx VALUES ($1, $2)", sets(&data))
            .await
            .unwrap(),
        100
    );
    conn.execute("ROLLBACK", &[]).await.unwrap();
    assert_eq!(
        conn.fetch_value::<i64>("SELECT count(*) FROM tx", &[])
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn an_empty_batch_does_nothing() {
    let mut conn = connect().await;
    table(&mut conn, "empty").await;
    let none: Vec<[&(dyn Encode + Sync); 2]> = Vec::new();
    assert_eq!(
        conn.execute_many("INSERT INTO empty VALUES ($1, $2)", none)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_dropped_batch_is_never_half_committed() {
    let mut conn = connect().await;
    table(&mut conn, "dropped").await;
    let data = rows(5000);
    for polls in 0..12 {
        {
            let mut fut =
                pin!(conn.execute_many("INSERT INTO dropped VALUES ($1, $2)", sets(&data)));
            let mut cx = Context::from_waker(Waker::noop());
            for _ in 0..polls {
                if fut.as_mut().poll(&mut cx).is_ready() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let count: i64 = conn
            .fetch_value("SELECT count(*) FROM dropped", &[])
            .await
            .unwrap();
        assert!(
            count == 0 || count == 5000,
            "after {polls} polls: {count} rows"
        );
        conn.execute("TRUNCATE dropped", &[]).await.unwrap();
    }
}

/// Bug: an encode error in the first, unsent chunk still sent a failing Parse, which aborted
/// the caller's transaction. Nothing reaches the server now, cached or not.
#[tokio::test]
async fn an_encode_error_before_sending_leaves_the_transaction_usable() {
    for cache in [100, 0] {
        let mut conn =
            pgtusk_tests::connect_with(pgtusk_tests::shared_options().statement_cache_size(cache))
                .await;
        table(&mut conn, "kept").await;
        conn.execute_script("BEGIN; INSERT INTO kept VALUES (1, 'one')")
            .await
            .unwrap();
        let id = 2i32;
        let bad: [&(dyn Encode + Sync); 2] = [&id, &3.5f64];
        let err = conn
            .execute_many("INSERT INTO kept VALUES ($1, $2)", [bad])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Encode(_)), "cache {cache}: {err:?}");
        assert_eq!(
            conn.transaction_status(),
            pgtusk::TransactionStatus::InTransaction,
            "cache {cache}"
        );
        conn.execute_script("COMMIT").await.unwrap();
        let n: i64 = conn
            .fetch_value("SELECT count(*) FROM kept", &[])
            .await
            .unwrap();
        assert_eq!(n, 1, "cache {cache}");
    }
}
