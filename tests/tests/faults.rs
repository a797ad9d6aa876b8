//! Connections cut by a [`FaultProxy`] at every message boundary of an exchange, both ways:
//! a query, a transaction, a cursor, each COPY, a pool's acquire and a Listener. Each cut
//! call ends with a connection error well within its timeout (never a hang, never a panic),
//! the connection is closed afterwards, a pool replaces it, and a Listener comes back.
//!
//! Each loop first runs the exchange clean through the proxy to count its messages (or bytes),
//! then once per message (or byte) with the cut there, and checks that every cut fired. Also:
//! the blocking API under the same cuts, a pool whose idle connections were closed or reset,
//! and a stalled connection that `command_timeout` must end.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use pgtusk::{ConnectOptions, Connection, Error, Listener, ListenerEvent, Pool};
use pgtusk_tests::fault_proxy::{Cut, Direction, FaultProxy};
use pgtusk_tests::{connect, options_via, shared_port};

/// The longest a faulted call may take: well past the driver's own timeouts below, so that
/// reaching it means the call hung.
const LIMIT: Duration = Duration::from_secs(20);

/// The driver's timeouts for these tests: a cut must be noticed long before them.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(8);

const BOTH_WAYS: [Direction; 2] = [Direction::ToServer, Direction::ToClient];

fn via(proxy: &FaultProxy) -> ConnectOptions {
    options_via(proxy.port())
        .connect_timeout(DRIVER_TIMEOUT)
        .command_timeout(DRIVER_TIMEOUT)
}

async fn connect_via(proxy: &FaultProxy) -> Connection {
    Connection::connect_with(&via(proxy))
        .await
        .unwrap_or_else(|e| panic!("cannot connect through the fault proxy: {e}"))
}

/// Runs `call`, failing the test if it is still running after [`LIMIT`].
async fn bounded<T>(what: &str, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    match tokio::time::timeout(LIMIT, call).await {
        Ok(out) => out,
        Err(_) => panic!(
            "{what}: still running after {:?}: the call hung",
            started.elapsed()
        ),
    }
}

/// A cut's error must be the connection's end (an I/O error, closed, or the server's FATAL),
/// not a timeout that merely hid a hang, nor garbage.
fn assert_connection_error(what: &str, e: &Error) {
    let lost = match e {
        Error::CommitOutcomeUnknown(source) => source.is_closed(),
        e => e.is_closed(),
    };
    assert!(lost, "{what}: expected a connection error, got {e:?}");
}

/// Where the cuts of a loop fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Before each message.
    Message,
    /// After each byte: inside messages too.
    Byte,
}

/// Cuts `exchange` at every message boundary (or after every byte) both ways.
/// `exchange(proxy, cut)` opens what it needs, arms the proxy with `cut` just before the part
/// under test, runs it and returns its outcome; it must succeed when `cut` is `None`. Returns
/// the cuts made.
async fn cut_everywhere<F>(what: &str, unit: Unit, mut exchange: F) -> u64
where
    F: AsyncFnMut(&FaultProxy, Option<Cut>) -> pgtusk::Result<()>,
{
    let proxy = FaultProxy::start(shared_port()).await;
    bounded(what, exchange(&proxy, None))
        .await
        .unwrap_or_else(|e| panic!("{what}: the clean run failed: {e}"));
    let clean = proxy.counts();
    let mut covered = 0;
    for dir in BOTH_WAYS {
        let (points, cut_at): (u64, fn(Direction, u64) -> Cut) = match unit {
            Unit::Message => (clean.messages(dir), Cut::AtMessage),
            Unit::Byte => (clean.bytes(dir), Cut::AfterBytes),
        };
        assert!(points > 0, "{what}: nothing went {dir:?}");
        for k in 0..points {
            let cut = cut_at(dir, k);
            let at = format!("{what}, {cut:?} of {points}");
            let outcome = bounded(&at, exchange(&proxy, Some(cut))).await;
            assert!(!proxy.cut_pending(), "{at}: the cut never fired");
            if let Err(e) = outcome {
                assert_connection_error(&at, &e);
            }
            covered += 1;
        }
    }
    assert_eq!(
        proxy.cuts(),
        covered,
        "{what}: cuts made and cuts asked differ"
    );
    let (to_server, to_client) = match unit {
        Unit::Message => (
            clean.messages(Direction::ToServer),
            clean.messages(Direction::ToClient),
        ),
        Unit::Byte => (
            clean.bytes(Direction::ToServer),
            clean.bytes(Direction::ToClient),
        ),
    };
    eprintln!(
        "{what}: {covered} cuts ({unit:?}s: {to_server} to the server, {to_client} to the client)"
    );
    covered
}

/// The outcome of an operation on a plain connection under a cut: the operation fails, and so
/// does the next one, at once, since the connection is known closed.
async fn must_fail(
    what: &str,
    conn: &mut Connection,
    cut: Option<Cut>,
    outcome: pgtusk::Result<()>,
) -> pgtusk::Result<()> {
    match (cut, outcome) {
        (None, outcome) => outcome,
        (Some(_), Ok(())) => panic!("{what}: succeeded although its connection was cut"),
        (Some(_), Err(e)) => {
            assert!(
                conn.is_closed(),
                "{what}: the connection is not marked closed"
            );
            let next = bounded(what, conn.execute("SELECT 1", &[])).await;
            assert!(
                matches!(next, Err(Error::Closed)),
                "{what}: the next call on the cut connection gave {next:?}"
            );
            Err(e)
        }
    }
}

async fn setup(sql: &str) {
    connect().await.execute_script(sql).await.unwrap();
}

#[tokio::test]
async fn a_query_cut_at_every_boundary_fails_cleanly() {
    let covered = cut_everywhere("query", Unit::Message, async |proxy: &FaultProxy, cut| {
        let mut conn = connect_via(proxy).await;
        proxy.arm(cut);
        let outcome = conn
            .fetch(
                "SELECT g, repeat('x', g) FROM generate_series(1, $1) g",
                &[&4i32],
            )
            .await
            .map(|rows| assert_eq!(rows.len(), 4));
        must_fail("query", &mut conn, cut, outcome).await
    })
    .await;
    assert!(covered >= 10, "{covered}");
}

#[tokio::test]
async fn a_query_cut_after_every_byte_fails_cleanly() {
    // Mid-message cuts: the driver must not mistake a truncated message for a whole one.
    let covered = cut_everywhere("query", Unit::Byte, async |proxy: &FaultProxy, cut| {
        let mut conn = connect_via(proxy).await;
        proxy.arm(cut);
        let outcome = conn
            .fetch_value::<i64>("SELECT sum(g) FROM generate_series(1, $1) g", &[&10i32])
            .await
            .map(|sum| assert_eq!(sum, 55));
        must_fail("query", &mut conn, cut, outcome).await
    })
    .await;
    assert!(covered > 50, "{covered}");
}

/// A transaction cut everywhere (`unit`) in table `table`: every cut call fails; a failure
/// that is not [`Error::CommitOutcomeUnknown`] must have committed nothing, which a fresh
/// connection checks. Returns the cuts and how many left the outcome unknown.
async fn transaction_everywhere(table: &str, unit: Unit) -> (u64, u64) {
    setup(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY)"
    ))
    .await;
    let insert = format!("INSERT INTO {table} VALUES ($1)");
    let update = format!("UPDATE {table} SET id = id WHERE id = $1");
    let exists = format!("SELECT EXISTS (SELECT FROM {table} WHERE id = $1)");
    let mut admin = connect().await;
    let mut next_id = 0;
    let mut unknown = 0;
    let covered = cut_everywhere("transaction", unit, async |proxy: &FaultProxy, cut| {
        next_id += 1;
        let id = next_id;
        let mut conn = connect_via(proxy).await;
        proxy.arm(cut);
        let outcome = async {
            let mut tx = conn.transaction().await?;
            tx.execute(&*insert, &[&id]).await?;
            tx.execute(&*update, &[&id]).await?;
            tx.commit().await
        }
        .await;
        let outcome = must_fail("transaction", &mut conn, cut, outcome).await;
        let kept: bool = admin.fetch_value(&*exists, &[&id]).await.unwrap();
        match &outcome {
            Ok(()) => assert!(kept, "committed, yet row {id} is not there"),
            Err(Error::CommitOutcomeUnknown(_)) => unknown += 1,
            Err(e) => assert!(
                !kept,
                "{cut:?}: failed with {e}, which says not committed, yet row {id} is there"
            ),
        }
        outcome
    })
    .await;
    eprintln!(
        "transaction: {unknown} of {covered} {unit:?} cuts left the commit's outcome unknown"
    );
    (covered, unknown)
}

#[tokio::test]
async fn a_transaction_cut_at_every_boundary_fails_and_a_known_failure_committed_nothing() {
    let (_, unknown) = transaction_everywhere("fault_tx_messages", Unit::Message).await;
    // COMMIT's message to the server, then its two answers (CommandComplete, ReadyForQuery).
    assert_eq!(unknown, 3, "cuts between COMMIT and its answer");
}

#[tokio::test]
async fn a_transaction_cut_after_every_byte_fails_and_a_known_failure_committed_nothing() {
    let (covered, unknown) = transaction_everywhere("fault_tx_bytes", Unit::Byte).await;
    assert!(covered > 200, "{covered}");
    assert!(unknown > 0, "no cut fell between COMMIT and its answer");
}

#[tokio::test]
async fn a_cursor_cut_at_every_boundary_fails_cleanly() {
    let covered = cut_everywhere("cursor", Unit::Message, async |proxy: &FaultProxy, cut| {
        let mut conn = connect_via(proxy).await;
        proxy.arm(cut);
        let outcome = async {
            let mut tx = conn.transaction().await?;
            let mut cursor = tx
                .cursor("SELECT g FROM generate_series(1, 10) g", &[])
                .await?;
            let mut seen = 0;
            loop {
                let rows = cursor.fetch(4).await?;
                if rows.is_empty() {
                    break;
                }
                seen += rows.len();
            }
            assert_eq!(seen, 10);
            cursor.close().await?;
            tx.commit().await
        }
        .await;
        must_fail("cursor", &mut conn, cut, outcome).await
    })
    .await;
    assert!(covered >= 20, "{covered}");
}

#[tokio::test]
async fn a_copy_in_cut_at_every_boundary_fails_cleanly() {
    setup("DROP TABLE IF EXISTS fault_copy_in; CREATE TABLE fault_copy_in (id int, name text)")
        .await;
    cut_everywhere("copy_in", Unit::Message, async |proxy: &FaultProxy, cut| {
        let mut conn = connect_via(proxy).await;
        proxy.arm(cut);
        let outcome = async {
            let mut copy = conn.copy_in("COPY fault_copy_in FROM STDIN").await?;
            copy.send("1\tone\n2\ttwo\n").await?;
            copy.send("3\tthree\n").await?;
            assert_eq!(copy.finish().await?, 3);
            Ok(())
        }
        .await;
        must_fail("copy_in", &mut conn, cut, outcome).await
    })
    .await;
}

#[tokio::test]
async fn a_copy_out_cut_at_every_boundary_fails_cleanly() {
    cut_everywhere(
        "copy_out",
        Unit::Message,
        async |proxy: &FaultProxy, cut| {
            let mut conn = connect_via(proxy).await;
            proxy.arm(cut);
            let outcome = async {
                let mut copy = conn
                    .copy_out("COPY (SELECT g FROM generate_series(1, 5) g) TO STDOUT")
                    .await?;
                let mut data = Vec::new();
                while let Some(chunk) = copy.try_next().await? {
                    data.extend_from_slice(&chunk);
                }
                assert_eq!(data, b"1\n2\n3\n4\n5\n");
                Ok(())
            }
            .await;
            must_fail("copy_out", &mut conn, cut, outcome).await
        },
    )
    .await;
}

#[tokio::test]
async fn a_copy_in_rows_cut_at_every_boundary_fails_cleanly() {
    setup(
        "DROP TABLE IF EXISTS fault_copy_rows; CREATE TABLE fault_copy_rows (id int8, name text)",
    )
    .await;
    cut_everywhere(
        "copy_in_rows",
        Unit::Message,
        async |proxy: &FaultProxy, cut| {
            let mut conn = connect_via(proxy).await;
            proxy.arm(cut);
            let rows = (0..5i64).map(|i| (i, format!("row {i}")));
            let outcome = conn
                .copy_in_rows("fault_copy_rows", &["id", "name"], rows)
                .await
                .map(|copied| assert_eq!(copied, 5));
            must_fail("copy_in_rows", &mut conn, cut, outcome).await
        },
    )
    .await;
}

#[tokio::test]
async fn a_pool_replaces_a_connection_cut_at_every_boundary() {
    let mut failed = 0;
    let covered = cut_everywhere(
        "pool acquire",
        Unit::Message,
        async |proxy: &FaultProxy, cut| {
            let pool = Pool::builder(via(proxy))
                .max_connections(2)
                .acquire_timeout(DRIVER_TIMEOUT)
                .build()
                .await?;
            // `build` opened one connection; held, it makes `acquire` below open another, so that
            // the startup exchange is cut too, and the acquire after the cut open a third.
            let held = pool.acquire().await?;
            proxy.arm(cut);
            // Opening the connection and its first query: both are cut in turn.
            let outcome = async {
                let mut conn = pool.acquire().await?;
                let one: i32 = conn.fetch_value("SELECT 1", &[]).await?;
                assert_eq!(one, 1);
                Ok(())
            }
            .await;
            proxy.disarm();
            if let Err(e) = &outcome {
                assert!(
                    !matches!(e, Error::PoolTimedOut(_)),
                    "pool acquire: waited out acquire_timeout instead of failing: {e}"
                );
                failed += 1;
            }
            // The cut connection is not handed out again: with the first one held, the next
            // acquire must open a new one, and it works.
            let mut conn = bounded("acquire after a cut", pool.acquire()).await?;
            let two: i32 = conn.fetch_value("SELECT 2", &[]).await?;
            assert_eq!(two, 2);
            let status = pool.status();
            assert_eq!(
                status.size, 2,
                "the cut connection is still counted: {status}"
            );
            drop((conn, held));
            outcome
        },
    )
    .await;
    eprintln!("pool acquire: {failed} of {covered} cuts were returned as errors");
    assert_eq!(failed, covered, "every cut call must fail");
}

#[tokio::test]
async fn a_listener_cut_at_every_boundary_reconnects_and_gets_a_later_notification() {
    let mut admin = connect().await;
    let mut round = 0;
    let covered = cut_everywhere(
        "listener",
        Unit::Message,
        async |proxy: &FaultProxy, cut| {
            round += 1;
            let channel = format!("fault_listen_{round}");
            proxy.arm(cut);
            // Connecting is part of the exchange: a cut there is returned, and a new listener
            // connects (the cut fired once).
            let mut listener = match Listener::connect_with(&via(proxy)).await {
                Ok(listener) => listener,
                Err(e) => {
                    assert_connection_error("listener connect", &e);
                    Listener::connect_with(&via(proxy)).await?
                }
            };
            listener.set_reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100));
            listener.listen(&channel).await?;
            admin.notify(&channel, "first").await?;
            let mut disconnected = false;
            loop {
                match listener.recv().await? {
                    ListenerEvent::Notification(n) => {
                        assert!(["first", "later"].contains(&n.payload()), "{n:?}");
                        break;
                    }
                    ListenerEvent::Disconnected(e) => {
                        assert_connection_error("listener", &e);
                        disconnected = true;
                    }
                    ListenerEvent::Reconnected => {
                        assert!(disconnected, "Reconnected without Disconnected");
                        // What was sent while it was away is gone: notify again.
                        admin.notify(&channel, "later").await?;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            proxy.disarm();
            assert!(listener.is_connected());
            Ok(())
        },
    )
    .await;
    assert!(covered >= 10, "{covered}");
}

#[tokio::test]
async fn a_pool_replaces_idle_connections_that_were_cut_or_reset() {
    for (how, end) in [
        ("closed", FaultProxy::close_all as fn(&FaultProxy)),
        ("reset", FaultProxy::reset_all),
    ] {
        let proxy = FaultProxy::start(shared_port()).await;
        let pool = Pool::builder(via(&proxy))
            .min_connections(2)
            .max_connections(2)
            .acquire_timeout(DRIVER_TIMEOUT)
            .build()
            .await
            .unwrap();
        let opened = proxy.accepted();
        end(&proxy);
        proxy.all_ended().await;
        for round in 0..3 {
            let mut conn = bounded(how, pool.acquire())
                .await
                .unwrap_or_else(|e| panic!("{how}, round {round}: acquire failed: {e}"));
            let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap_or_else(|e| {
                panic!("{how}, round {round}: a dead connection was handed out: {e}")
            });
            assert_eq!(one, 1);
        }
        assert!(
            proxy.accepted() > opened,
            "{how}: no connection was replaced"
        );
    }
}

#[tokio::test]
async fn a_statement_on_a_stalled_connection_ends_soon_after_command_timeout() {
    // Nothing gets through any more (a stalled server or network): the cancel after the
    // timeout is not answered either, and waiting for it must not hold the caller forever.
    let proxy = FaultProxy::start(shared_port()).await;
    let options = options_via(proxy.port())
        .connect_timeout(Duration::from_secs(2))
        .command_timeout(Duration::from_millis(500));
    let mut conn = Connection::connect_with(&options).await.unwrap();
    proxy.set_delay(Some(Duration::from_secs(600)));
    let started = Instant::now();
    let err = bounded("stalled", conn.fetch_value::<i32>("SELECT 1", &[]))
        .await
        .unwrap_err();
    let took = started.elapsed();
    let Error::Timeout(text) = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert!(
        text.contains("command_timeout (500ms)")
            && text.contains("did not finish answering within 2s")
            && text.contains("connection was closed"),
        "{text}"
    );
    // The limit, then at most connect_timeout for the cancel and the drain.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(conn.is_closed());
    let next = bounded("after the stall", conn.execute("SELECT 1", &[])).await;
    assert!(matches!(next, Err(Error::Closed)), "{next:?}");
}

#[test]
fn the_blocking_api_fails_cleanly_at_every_boundary_of_a_transaction() {
    // The proxy runs on a runtime of its own; each blocking exchange on a thread of its own,
    // so that a hang is seen as one.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = std::sync::Arc::new(rt.block_on(FaultProxy::start(shared_port())));
    rt.block_on(setup(
        "DROP TABLE IF EXISTS fault_blocking; CREATE TABLE fault_blocking (id int PRIMARY KEY)",
    ));
    let exchange = |id: i32, cut: Option<Cut>| -> pgtusk::Result<()> {
        let proxy = proxy.clone();
        let (done, outcome) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let run = || {
                let mut conn = pgtusk::blocking::Connection::connect_with(&via(&proxy))?;
                proxy.arm(cut);
                let outcome = (|| {
                    let mut tx = conn.transaction()?;
                    tx.execute("INSERT INTO fault_blocking VALUES ($1)", &[&id])?;
                    let rows = tx.fetch("SELECT id FROM fault_blocking WHERE id = $1", &[&id])?;
                    assert_eq!(rows.len(), 1);
                    tx.commit()
                })();
                if cut.is_some() {
                    assert!(conn.is_closed(), "the cut connection is not marked closed");
                }
                outcome
            };
            let _ = done.send(run());
        });
        outcome
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("{cut:?}: the blocking call hung (or panicked)"))
    };
    exchange(0, None).unwrap();
    let clean = proxy.counts();
    let mut id = 0;
    for dir in BOTH_WAYS {
        for k in 0..clean.messages(dir) {
            id += 1;
            let cut = Cut::AtMessage(dir, k);
            let err = exchange(id, Some(cut)).unwrap_err();
            assert!(!proxy.cut_pending(), "{cut:?}: the cut never fired");
            assert_connection_error(&format!("blocking, {cut:?}"), &err);
        }
    }
    assert_eq!(proxy.cuts(), u64::try_from(id).unwrap());
    eprintln!("blocking transaction: {id} boundaries cut");
}
