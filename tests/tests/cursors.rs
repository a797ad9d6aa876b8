//! Cursors against a real server: a portal inside a transaction read with fetch, forward and a
//! prefetching stream, typed rows, two cursors at once, `statement_cache_size=0`, the compile
//! error outside a transaction, WITH HOLD cursors across commits, the portal a dropped cursor
//! leaves closed, and memory bounded by the prefetch over a million rows.

use std::time::Duration;

use futures_util::TryStreamExt;
use pgtusk::{Connection, Error, FromRecord, Record, TransactionStatus};
use pgtusk_tests::drop::poll_then_drop;
use pgtusk_tests::{connect, connect_with, options_via, proxy::CountingProxy, shared_options};

fn ints(rows: &[Record]) -> Vec<i32> {
    rows.iter().map(|r| r.get::<i32>(0)).collect()
}

/// The cursors (portals included) open on the server, by name.
async fn open_cursors(conn: &mut Connection) -> Vec<String> {
    conn.fetch(
        "SELECT name FROM pg_cursors WHERE name <> '' ORDER BY name",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String>(0))
    .collect()
}

#[tokio::test]
async fn fetch_forward_and_fetch_one_walk_the_rows_in_order() {
    let mut conn = connect().await;
    let mut tx = conn.transaction().await.unwrap();
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, $1) g", &[&100i32])
        .await
        .unwrap();
    assert_eq!(cursor.columns().get(0).unwrap().name(), "g");
    assert_eq!(
        ints(&cursor.fetch(10).await.unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(cursor.forward(5).await.unwrap(), 5, "skips 11..=15");
    assert_eq!(cursor.fetch_one().await.unwrap().unwrap().get::<i32>(0), 16);
    assert!(cursor.fetch(0).await.unwrap().is_empty());
    assert_eq!(
        ints(&cursor.fetch(1000).await.unwrap()),
        (17..=100).collect::<Vec<_>>(),
        "fewer than asked at the end"
    );
    assert!(cursor.fetch(10).await.unwrap().is_empty());
    assert!(cursor.fetch_one().await.unwrap().is_none());
    assert_eq!(cursor.forward(3).await.unwrap(), 0);
    drop(cursor);

    // forward past the end says how far it got.
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, 30) g", &[])
        .await
        .unwrap();
    assert_eq!(cursor.forward(25).await.unwrap(), 25);
    assert_eq!(cursor.forward(25).await.unwrap(), 5);
    assert!(cursor.fetch(5).await.unwrap().is_empty());
    drop(cursor);
    tx.commit().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

/// A stream asks for `prefetch` rows per round trip: one Execute + Sync each, and rows that
/// were prefetched but not taken stay in the cursor.
#[tokio::test]
async fn a_stream_prefetches_its_rows_per_round_trip() {
    let proxy = CountingProxy::start(pgtusk_tests::shared_port()).await;
    let mut conn = Connection::connect_with(&options_via(proxy.port()))
        .await
        .unwrap();
    let mut tx = conn.transaction().await.unwrap();
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, 120) g", &[])
        .await
        .unwrap();
    proxy.reset();
    let all: Vec<i32> = cursor
        .stream()
        .map_ok(|r| r.get::<i32>(0))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, (1..=120).collect::<Vec<_>>());
    assert_eq!(proxy.traffic().tags(), "ESESES", "50 + 50 + 20 by default");
    drop(cursor);

    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, 100) g", &[])
        .await
        .unwrap()
        .prefetch(30);
    proxy.reset();
    let mut rows = cursor.stream();
    for expected in 1..=10 {
        let row = rows.try_next().await.unwrap().unwrap();
        assert_eq!(row.get::<i32>(0), expected);
    }
    drop(rows);
    assert_eq!(proxy.traffic().count(b'E'), 1);
    // 11..=30 were prefetched: no round trip for them.
    assert_eq!(
        ints(&cursor.fetch(20).await.unwrap()),
        (11..=30).collect::<Vec<_>>()
    );
    assert_eq!(proxy.traffic().count(b'E'), 1);
    let rest: Vec<Record> = cursor.stream().try_collect().await.unwrap();
    assert_eq!(ints(&rest), (31..=100).collect::<Vec<_>>());
    // 30 + 30 + 10 (the portal ends): three more round trips.
    assert_eq!(proxy.traffic().count(b'E'), 4);
    assert_eq!(proxy.traffic().count(b'S'), 4);
    drop(cursor);
    tx.commit().await.unwrap();

    // A hold cursor: one FETCH per round trip, Parse + Bind + Execute + Sync in one write.
    let mut cursor = conn
        .hold_cursor("SELECT g FROM generate_series(1, 120) g", &[])
        .await
        .unwrap();
    proxy.reset();
    let all: Vec<Record> = cursor.stream().try_collect().await.unwrap();
    assert_eq!(ints(&all), (1..=120).collect::<Vec<_>>());
    assert_eq!(proxy.traffic().tags(), "PBESPBESPBES");
}

#[derive(FromRecord, Debug, PartialEq)]
struct Square {
    n: i32,
    square: i64,
}

#[derive(FromRecord, Debug)]
#[allow(dead_code)]
struct NotASquare {
    cube: i64,
}

#[tokio::test]
async fn typed_fetch_and_typed_stream() {
    let mut conn = connect().await;
    let mut tx = conn.transaction().await.unwrap();
    let mut cursor = tx
        .cursor(
            "SELECT g AS n, (g * g)::int8 AS square FROM generate_series(1, 10) g",
            &[],
        )
        .await
        .unwrap();
    let first: Vec<Square> = cursor.fetch_as(2).await.unwrap();
    assert_eq!(
        first,
        [Square { n: 1, square: 1 }, Square { n: 2, square: 4 }]
    );
    // A struct that does not fit is refused before a row moves.
    let e = cursor.fetch_as::<NotASquare>(1).await.unwrap_err();
    assert!(e.to_string().contains("cube"), "{e}");
    let tuples: Vec<(i32, i64)> = cursor.fetch_as(1).await.unwrap();
    assert_eq!(tuples, [(3, 9)]);
    let rest: Vec<Square> = cursor
        .stream_as::<Square>()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest.len(), 7);
    assert_eq!(rest[6], Square { n: 10, square: 100 });
    assert!(cursor.stream_as::<NotASquare>().is_err());
}

/// Two portals open at once in one transaction: an inner cursor per row of the outer one,
/// and other statements between fetches; each keeps its place.
#[tokio::test]
async fn two_cursors_open_at_once_in_one_transaction() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TEMP TABLE visits (outer_row int4, inner_row int4)")
        .await
        .unwrap();
    let mut tx = conn.transaction().await.unwrap();
    let mut outer = tx
        .cursor("SELECT a FROM generate_series(1, 3) a", &[])
        .await
        .unwrap()
        .prefetch(1);
    let outer_name = outer.name().to_owned();
    while let Some(row) = outer.fetch_one().await.unwrap() {
        let a: i32 = row.get(0);
        let mut inner = outer
            .cursor(
                "SELECT $1::int4 * 10 + g FROM generate_series(1, 2) g",
                &[&a],
            )
            .await
            .unwrap();
        let inner_name = inner.name().to_owned();
        let open = open_cursors(inner.connection()).await;
        assert!(
            open.contains(&outer_name) && open.contains(&inner_name),
            "{open:?}"
        );
        while let Some(row) = inner.fetch_one().await.unwrap() {
            let b: i32 = row.get(0);
            inner
                .connection()
                .execute("INSERT INTO visits VALUES ($1, $2)", &[&a, &b])
                .await
                .unwrap();
        }
    }
    drop(outer);
    let visits: Vec<(i32, i32)> = tx
        .fetch_as("SELECT * FROM visits ORDER BY 1, 2", &[])
        .await
        .unwrap();
    assert_eq!(
        visits,
        [(1, 11), (1, 12), (2, 21), (2, 22), (3, 31), (3, 32)]
    );
    tx.commit().await.unwrap();
}

/// With no statement cache the portal is bound from the unnamed statement, which the next
/// uncached query replaces: the portal keeps its plan and reads on. No named statement is made.
#[tokio::test]
async fn cursors_work_with_statement_cache_size_zero() {
    let mut conn = connect_with(shared_options().statement_cache_size(0)).await;
    let mut tx = conn.transaction().await.unwrap();
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, $1) g", &[&10i32])
        .await
        .unwrap()
        .prefetch(4);
    assert_eq!(ints(&cursor.fetch(3).await.unwrap()), [1, 2, 3]);
    let other: i32 = cursor
        .connection()
        .fetch_value("SELECT 42 + $1", &[&0i32])
        .await
        .unwrap();
    assert_eq!(other, 42);
    let mut second = cursor
        .cursor("SELECT 'x' || g FROM generate_series(1, 2) g", &[])
        .await
        .unwrap();
    assert_eq!(second.fetch(5).await.unwrap().len(), 2);
    drop(second);
    assert_eq!(cursor.forward(1).await.unwrap(), 1);
    let rest: Vec<Record> = cursor.stream().try_collect().await.unwrap();
    assert_eq!(ints(&rest), [5, 6, 7, 8, 9, 10]);
    let named: i64 = cursor
        .connection()
        .fetch_value("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    assert_eq!(named, 0);
    drop(cursor);
    tx.commit().await.unwrap();

    // A hold cursor makes no named statement either.
    let mut held = conn
        .hold_cursor("SELECT g FROM generate_series(1, $1) g", &[&5i32])
        .await
        .unwrap()
        .prefetch(2);
    assert_eq!(held.forward(1).await.unwrap(), 1);
    let rest: Vec<Record> = held.stream().try_collect().await.unwrap();
    assert_eq!(ints(&rest), [2, 3, 4, 5]);
    let named: i64 = held
        .connection()
        .fetch_value("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    assert_eq!(named, 0);
    drop(held);
    assert_eq!(conn.cached_statements(), 0);
}

/// `conn.cursor(…)` outside a transaction does not compile, and the error says what to do.
#[test]
fn a_cursor_on_a_connection_is_a_compile_error_that_says_what_to_do() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/cursor/*.rs");
}

/// A WITH HOLD cursor needs no transaction, binds its parameters in binary, and stays open
/// across the commit of a transaction run between its fetches (reading its own snapshot).
#[tokio::test]
async fn a_hold_cursor_stays_open_across_commit() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE held (id int4, label text);
         INSERT INTO held SELECT g, 'row ' || g FROM generate_series(1, 10) g;",
    )
    .await
    .unwrap();
    let mut cursor = conn
        .hold_cursor(
            "SELECT id, label FROM held WHERE id > $1 AND label <> $2 ORDER BY id",
            &[&2i32, &"none"],
        )
        .await
        .unwrap();
    assert!(cursor.name().starts_with("pgtusk_cursor_"));
    assert_eq!(
        cursor.connection().transaction_status(),
        TransactionStatus::Idle
    );
    assert_eq!(ints(&cursor.fetch(3).await.unwrap()), [3, 4, 5]);
    {
        let mut tx = cursor.connection().transaction().await.unwrap();
        tx.execute("DELETE FROM held", &[]).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        cursor.connection().transaction_status(),
        TransactionStatus::Idle
    );
    assert_eq!(cursor.forward(2).await.unwrap(), 2, "skips 6 and 7");
    let typed: Vec<(i32, String)> = cursor.fetch_as(1).await.unwrap();
    assert_eq!(typed, [(8, "row 8".to_owned())]);
    let rest: Vec<Record> = cursor.stream().try_collect().await.unwrap();
    assert_eq!(ints(&rest), [9, 10], "the cursor's rows outlive the DELETE");
    assert!(cursor.fetch_one().await.unwrap().is_none());
    let name = cursor.name().to_owned();
    assert!(open_cursors(cursor.connection()).await.contains(&name));
    cursor.close().await.unwrap();
    assert!(!open_cursors(&mut conn).await.contains(&name));
}

/// A dropped cursor's portal is closed (Close 'P') with the connection's next request, and
/// so is a dropped hold cursor; `close()` closes at once.
#[tokio::test]
async fn a_dropped_cursor_closes_its_portal() {
    let mut conn = connect().await;
    let mut tx = conn.transaction().await.unwrap();
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, 100) g", &[])
        .await
        .unwrap();
    let name = cursor.name().to_owned();
    assert!(name.starts_with("pgtusk_portal_"));
    cursor.fetch(1).await.unwrap();
    assert_eq!(open_cursors(cursor.connection()).await, [name.as_str()]);
    drop(cursor);
    assert!(open_cursors(&mut tx).await.is_empty(), "closed");

    let cursor = tx.cursor("SELECT 1", &[]).await.unwrap();
    cursor.close().await.unwrap();
    assert!(open_cursors(&mut tx).await.is_empty());
    tx.commit().await.unwrap();

    let cursor = conn.hold_cursor("SELECT 1", &[]).await.unwrap();
    let name = cursor.name().to_owned();
    drop(cursor);
    assert!(!open_cursors(&mut conn).await.contains(&name));
}

/// Opening a cursor dropped at any poll point leaves no portal behind; a fetch dropped after
/// it went out makes the cursor refuse to guess where it is, and the connection goes on.
#[tokio::test]
async fn a_cancelled_open_or_fetch_leaves_nothing_behind() {
    let mut conn = connect().await;
    for polls in 0..12 {
        let mut tx = conn.transaction().await.unwrap();
        poll_then_drop(
            tx.cursor("SELECT g FROM generate_series(1, 10) g", &[]),
            polls,
        )
        .await;
        poll_then_drop(
            tx.hold_cursor("SELECT g FROM generate_series(1, 10) g", &[]),
            polls,
        )
        .await;
        assert!(
            open_cursors(&mut tx).await.is_empty(),
            "after {polls} polls"
        );
        tx.commit().await.unwrap();
    }

    let mut tx = conn.transaction().await.unwrap();
    let mut cursor = tx
        .cursor("SELECT g FROM generate_series(1, 1000) g", &[])
        .await
        .unwrap();
    cursor.fetch(1).await.unwrap();
    poll_then_drop(cursor.fetch(10), 1).await;
    let e = cursor.fetch(10).await.unwrap_err();
    assert!(matches!(e, Error::Interface(_)), "{e:?}");
    assert!(e.to_string().contains("position is unknown"), "{e}");
    assert!(cursor.forward(1).await.is_err());
    drop(cursor);
    // The dropped fetch may have been cancelled on the server (aborting the transaction) or
    // have finished first: either way the rollback and the next query work.
    tx.rollback().await.unwrap();
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}

/// A statement without rows is refused with a clear error, and a parameter of the wrong type
/// before anything is sent: the transaction stays usable either way.
#[tokio::test]
async fn a_cursor_needs_rows_and_the_right_parameters() {
    for cache in [100, 0] {
        let mut conn = connect_with(shared_options().statement_cache_size(cache)).await;
        conn.execute_script("CREATE TEMP TABLE quiet (id int4)")
            .await
            .unwrap();
        let mut tx = conn.transaction().await.unwrap();
        let e = tx
            .cursor("UPDATE quiet SET id = id + 1", &[])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("returns rows"), "{e}");
        let e = tx
            .cursor("SELECT g FROM generate_series(1, $1) g", &[&"ten"])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Encode(_)), "{e:?}");
        let one: i32 = tx.fetch_value("SELECT 1", &[]).await.unwrap();
        assert_eq!(one, 1);
        assert!(open_cursors(&mut tx).await.is_empty());
        tx.commit().await.unwrap();
    }
}

/// The resident set of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// A million rows of ~110 bytes (over 100 MB if they were all held) stream through a cursor
/// with prefetch 1000 while the process grows by a few MB at most, and the connection's
/// buffers stay small.
#[tokio::test]
async fn a_million_row_cursor_keeps_memory_bounded_by_its_prefetch() {
    const ROWS: i64 = 1_000_000;
    let mut conn = connect().await;
    let mut tx = conn.transaction().await.unwrap();
    let mut cursor = tx
        .cursor(
            "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, $1) g",
            &[&(ROWS as i32)],
        )
        .await
        .unwrap()
        .prefetch(1000);
    let before = rss_kib();
    let mut peak = before;
    let (mut count, mut sum) = (0i64, 0i64);
    let mut rows = cursor.stream();
    while let Some(row) = rows.try_next().await.unwrap() {
        count += 1;
        sum += i64::from(row.get::<i32>(0));
        assert_eq!(row.get::<&str>(1).len(), 100);
        if count % 20_000 == 0 {
            peak = peak.max(rss_kib());
        }
    }
    drop(rows);
    assert_eq!(count, ROWS);
    assert_eq!(sum, ROWS * (ROWS + 1) / 2);
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 32,
        "streaming grew the process by {grown_mib} MiB (before {before} KiB, peak {peak} KiB)"
    );
    let buffers = cursor.connection().buffer_capacity();
    assert!(buffers < 2 * 1024 * 1024, "buffers hold {buffers} bytes");
}

/// `command_timeout` bounds each round trip of a cursor as it bounds a query: a fetch that
/// runs too long is cancelled and is an `Error::Timeout`; the connection goes on.
#[tokio::test]
async fn command_timeout_bounds_a_cursor_fetch() {
    let options = shared_options().command_timeout(Duration::from_millis(300));
    let mut conn = connect_with(options).await;
    let mut tx = conn.transaction().await.unwrap();
    let mut cursor = tx
        .cursor(
            "SELECT g, pg_sleep(CASE WHEN g > 2 THEN 5 ELSE 0 END) FROM generate_series(1, 5) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ints(&cursor.fetch(2).await.unwrap()), [1, 2]);
    let e = cursor.fetch(1).await.unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    assert!(e.to_string().contains(cursor.name()), "{e}");
    drop(cursor);
    tx.rollback().await.unwrap();
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}
