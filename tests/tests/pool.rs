//! The connection pool against a real server: what a released connection looks like to the
//! next user of the same backend, waiting and timing out, a server that goes away, the
//! hooks and lifetimes, statements invalidated across the pool, closing, and the pool as an
//! `Executor`.
//!
//! Pools of one connection (`max_connections(1)`) make "the next user" the same backend,
//! which each test checks with `backend_pid`. Tests that stop or restart a server start a
//! private `TempCluster`; the others share the binary's server.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt, TryStreamExt};
use pgtusk::cluster::TempCluster;
use pgtusk::{
    ConnectOptions, Connection, Error, Executor, Pool, PoolOptions, SqlState, TransactionStatus,
};
use pgtusk_tests::drop::poll_then_drop;
use pgtusk_tests::proxy::CountingProxy;
use pgtusk_tests::{connect, options_via, shared_options, shared_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Options for a pool on the shared server, with a short `acquire_timeout`.
fn builder() -> PoolOptions {
    Pool::builder(shared_options()).acquire_timeout(ACQUIRE_TIMEOUT)
}

/// Which of `pids` the server still has a session for.
async fn alive(observer: &mut Connection, pids: &[i32]) -> Vec<i32> {
    observer
        .fetch_value(
            "SELECT coalesce(array_agg(pid ORDER BY pid), '{}') FROM pg_stat_activity \
             WHERE pid = ANY($1)",
            &[&pids.to_vec()],
        )
        .await
        .unwrap()
}

/// Waits (up to 5 s) until the server has none of `pids` left; returns those it still has.
async fn wait_gone(observer: &mut Connection, pids: &[i32]) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = alive(observer, pids).await;
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (up to 5 s) until `done` holds.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// An error a query may get when the server ends its session under it: the server's FATAL
/// (57P01 admin_shutdown) or the closed connection.
fn is_session_ended(e: &Error) -> bool {
    e.sqlstate() == Some(SqlState::ADMIN_SHUTDOWN) || matches!(e, Error::Closed | Error::Io(_))
}

// ---------------------------------------------------------------------------------------
// 1. A dropped operation

/// A query dropped mid-flight (a timeout, a future polled then dropped, a query on `&Pool`
/// under a timeout) is cancelled and drained before its backend is handed out again: the
/// next user of the same backend runs at once and the server runs no pg_sleep any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_dropped_mid_flight_is_cancelled_before_the_backend_is_reused() {
    let mut observer = connect().await;
    for how in ["timeout", "poll_then_drop", "timeout on &Pool"] {
        let pool = builder().max_connections(1).build().await.unwrap();
        let marker = format!("pool_dropped_{}", how.replace([' ', '&'], "_"));
        let sql = format!("SELECT pg_sleep(10) /* {marker} */");
        let pid = pool.acquire().await.unwrap().backend_pid();
        let started = Instant::now();
        match how {
            "timeout" => {
                let mut conn = pool.acquire().await.unwrap();
                let run = conn.execute(sql.as_str(), &[]);
                assert!(
                    tokio::time::timeout(Duration::from_millis(100), run)
                        .await
                        .is_err()
                );
            }
            "poll_then_drop" => {
                let mut conn = pool.acquire().await.unwrap();
                assert!(!poll_then_drop(conn.execute(sql.as_str(), &[]), 40).await);
            }
            _ => {
                let mut by_ref = &pool;
                let run = by_ref.execute(sql.as_str(), &[]);
                assert!(
                    tokio::time::timeout(Duration::from_millis(100), run)
                        .await
                        .is_err()
                );
            }
        }
        let mut conn = pool.acquire().await.unwrap();
        assert_eq!(
            conn.backend_pid(),
            pid,
            "{how}: the same backend, not a new one"
        );
        let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
        let waited = started.elapsed();
        assert_eq!(one, 1);
        assert!(
            waited < Duration::from_secs(3),
            "{how}: the next query waited {waited:?} (the dropped one sleeps 10 s)"
        );
        assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
        let running: i64 = observer
            .fetch_value(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE $1 AND pid <> pg_backend_pid()",
                &[&format!("%{marker}%")],
            )
            .await
            .unwrap();
        assert_eq!(
            running, 0,
            "{how}: the server still runs the dropped pg_sleep"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. A transaction left open

/// A connection released inside a transaction (BEGIN by hand, a dropped `Transaction`, a
/// dropped `pool.transaction()`, one dropped mid-query, a failed transaction) reaches the
/// next user of the same backend idle, with the transaction's work rolled back (sqlx #4393).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_released_inside_a_transaction_comes_back_idle_and_rolled_back() {
    let mut observer = connect().await;
    observer
        .execute_script(
            "DROP TABLE IF EXISTS pool_left_open; CREATE TABLE pool_left_open (case_name text)",
        )
        .await
        .unwrap();
    const INSERT: &str = "INSERT INTO pool_left_open VALUES ($1)";
    for case in [
        "BEGIN",
        "Transaction dropped",
        "pool.transaction() dropped",
        "query dropped in a transaction",
        "failed",
    ] {
        let pool = builder().max_connections(1).build().await.unwrap();
        let pid = match case {
            "BEGIN" => {
                let mut conn = pool.acquire().await.unwrap();
                conn.execute_script("BEGIN").await.unwrap();
                conn.execute(INSERT, &[&case]).await.unwrap();
                assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
                conn.backend_pid()
            }
            "Transaction dropped" => {
                let mut conn = pool.acquire().await.unwrap();
                let mut tx = conn.transaction().await.unwrap();
                tx.execute(INSERT, &[&case]).await.unwrap();
                assert_eq!(tx.transaction_status(), TransactionStatus::InTransaction);
                drop(tx);
                conn.backend_pid()
            }
            "pool.transaction() dropped" => {
                let mut tx = pool.transaction().await.unwrap();
                tx.execute(INSERT, &[&case]).await.unwrap();
                assert_eq!(tx.transaction_status(), TransactionStatus::InTransaction);
                tx.backend_pid()
            }
            "query dropped in a transaction" => {
                let mut tx = pool.transaction().await.unwrap();
                tx.execute(INSERT, &[&case]).await.unwrap();
                let sleep = tx.execute("SELECT pg_sleep(10)", &[]);
                let dropped = tokio::time::timeout(Duration::from_millis(100), sleep).await;
                assert!(dropped.is_err());
                tx.backend_pid()
            }
            _ => {
                let mut conn = pool.acquire().await.unwrap();
                conn.execute_script("BEGIN").await.unwrap();
                conn.execute(INSERT, &[&case]).await.unwrap();
                conn.execute("SELECT 1 / 0", &[]).await.unwrap_err();
                assert_eq!(conn.transaction_status(), TransactionStatus::Failed);
                conn.backend_pid()
            }
        };
        let started = Instant::now();
        let mut conn = pool.acquire().await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{case}: waited for the sleep"
        );
        assert_eq!(conn.backend_pid(), pid, "{case}: the same backend");
        assert_eq!(
            conn.transaction_status(),
            TransactionStatus::Idle,
            "{case}: the next user is outside any transaction"
        );
        let kept: i64 = conn
            .fetch_value(
                "SELECT count(*) FROM pool_left_open WHERE case_name = $1",
                &[&case],
            )
            .await
            .unwrap();
        assert_eq!(
            kept, 0,
            "{case}: the open transaction's insert was rolled back"
        );
        // And it is the server's view too, not only this session's.
        let seen: i64 = observer
            .fetch_value(
                "SELECT count(*) FROM pool_left_open WHERE case_name = $1",
                &[&case],
            )
            .await
            .unwrap();
        assert_eq!(seen, 0, "{case}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Reset only when needed

/// Session state a user left behind (a SET, set_config, LISTEN with a notification
/// pending, an advisory lock, a WITH HOLD cursor) is gone for the next user of the same
/// backend, and no stale notification reaches that user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_left_by_a_user_is_reset_before_the_next_user() {
    let mut observer = connect().await;
    let default_work_mem: String = observer.fetch_value("SHOW work_mem", &[]).await.unwrap();
    assert_ne!(default_work_mem, "17MB");
    for case in [
        "SET",
        "set_config",
        "LISTEN",
        "pg_advisory_lock",
        "DECLARE WITH HOLD",
    ] {
        let pool = builder().max_connections(1).build().await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let pid = conn.backend_pid();
        match case {
            "SET" => conn.execute_script("SET work_mem = '17MB'").await.unwrap(),
            "set_config" => {
                conn.execute("SELECT set_config('work_mem', '17MB', false)", &[])
                    .await
                    .unwrap();
            }
            "LISTEN" => {
                conn.listen("pool_reset_channel").await.unwrap();
                // Two notifications arrive together: the first is read, the second is left
                // pending when the connection goes back.
                observer
                    .execute_script(
                        "BEGIN; NOTIFY pool_reset_channel, 'one'; \
                         NOTIFY pool_reset_channel, 'two'; COMMIT",
                    )
                    .await
                    .unwrap();
                let first =
                    tokio::time::timeout(Duration::from_secs(2), conn.notifications().next())
                        .await
                        .expect("the first notification arrives")
                        .unwrap()
                        .unwrap();
                assert_eq!(first.payload(), "one");
            }
            "pg_advisory_lock" => {
                conn.execute("SELECT pg_advisory_lock(4242001)", &[])
                    .await
                    .unwrap();
            }
            _ => conn
                .execute_script("BEGIN; DECLARE pool_held CURSOR WITH HOLD FOR SELECT 1; COMMIT")
                .await
                .unwrap(),
        }
        drop(conn);

        let mut conn = pool.acquire().await.unwrap();
        assert_eq!(conn.backend_pid(), pid, "{case}: the same backend");
        let work_mem: String = conn.fetch_value("SHOW work_mem", &[]).await.unwrap();
        assert_eq!(work_mem, default_work_mem, "{case}");
        let channels: i64 = conn
            .fetch_value("SELECT count(*) FROM pg_listening_channels()", &[])
            .await
            .unwrap();
        assert_eq!(channels, 0, "{case}: still listening");
        assert!(
            conn.notifications().next().now_or_never().is_none(),
            "{case}: a notification of the previous user was delivered"
        );
        let locks: i64 = conn
            .fetch_value(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                 AND pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(locks, 0, "{case}: an advisory lock is still held");
        let cursors: i64 = conn
            // (pg_cursors also lists the portal of this very query, unnamed.)
            .fetch_value(
                "SELECT count(*) FROM pg_cursors WHERE name = 'pool_held'",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(cursors, 0, "{case}: a cursor is still open");
        if case == "LISTEN" {
            observer
                .execute_script("NOTIFY pool_reset_channel, 'three'")
                .await
                .unwrap();
            let late =
                tokio::time::timeout(Duration::from_millis(200), conn.notifications().next()).await;
            assert!(
                late.is_err(),
                "a notification reached the next user: {late:?}"
            );
        }
    }
}

/// What a user set on the client side of a pooled connection (a notice handler, a
/// termination handler, the notification buffer) does not outlive the loan: the next user
/// of the backend has what the connect options and `init` set, and the previous user's
/// handler hears nothing of the next user's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_settings_of_a_user_do_not_reach_the_next_user() {
    let mut observer = connect().await;
    let from_init = Arc::new(AtomicUsize::new(0));
    let from_user = Arc::new(AtomicUsize::new(0));
    let terminations = Arc::new(AtomicUsize::new(0));
    let counter = from_init.clone();
    let pool = builder()
        .max_connections(1)
        .init(move |conn| {
            let counter = counter.clone();
            conn.on_notice(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            Box::pin(async { Ok(()) })
        })
        .build()
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let pid = conn.backend_pid();
    let (user, ended) = (from_user.clone(), terminations.clone());
    conn.on_notice(move |_| {
        user.fetch_add(1, Ordering::SeqCst);
    });
    conn.on_termination(move |_| {
        ended.fetch_add(1, Ordering::SeqCst);
    });
    conn.set_notification_buffer(1);
    const NOTICE: &str = "DO $$ BEGIN RAISE NOTICE 'pool notice'; END $$";
    conn.execute_script(NOTICE).await.unwrap();
    assert_eq!(from_user.load(Ordering::SeqCst), 1);
    drop(conn);

    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(conn.backend_pid(), pid);
    conn.execute_script(NOTICE).await.unwrap();
    assert_eq!(
        (
            from_init.load(Ordering::SeqCst),
            from_user.load(Ordering::SeqCst)
        ),
        (1, 1),
        "the next user's notice went to init's handler, not to the previous user's"
    );
    // Three notifications while a query runs: a buffer of 1 would drop two of them.
    conn.listen("pool_client_side").await.unwrap();
    observer
        .execute_script(
            "BEGIN; NOTIFY pool_client_side, '1'; NOTIFY pool_client_side, '2'; \
             NOTIFY pool_client_side, '3'; COMMIT",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.execute("SELECT 1", &[]).await.unwrap();
    let mut payloads = Vec::new();
    let mut notes = conn.notifications();
    while let Some(Some(note)) = notes.next().now_or_never() {
        payloads.push(
            note.map(|n| n.payload().to_owned())
                .map_err(|e| e.to_string()),
        );
    }
    assert_eq!(payloads, [Ok("1".into()), Ok("2".into()), Ok("3".into())]);
    drop(notes);
    // The previous user's termination handler is not told when this session ends.
    let pid = conn.backend_pid();
    observer
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    assert!(conn.fetch_value::<i32>("SELECT 1", &[]).await.is_err());
    assert_eq!(terminations.load(Ordering::SeqCst), 0);
}

/// A pool of one connection through a counting proxy (pings off, so that nothing but the
/// test's own queries and the pool's cleaning travels).
async fn counted_pool() -> (Pool, CountingProxy) {
    let proxy = CountingProxy::start(shared_port()).await;
    let pool = Pool::builder(options_via(proxy.port()))
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(None)
        .build()
        .await
        .unwrap();
    (pool, proxy)
}

/// A connection that only read and wrote data (SELECT, INSERT, UPDATE, a committed
/// transaction, a simple-protocol SELECT) goes back without a reset: not one message is
/// sent between its release and the next user's query, which runs without a re-prepare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_access_alone_never_triggers_a_reset() {
    connect()
        .await
        .execute_script("DROP TABLE IF EXISTS pool_no_reset; CREATE TABLE pool_no_reset (x int4)")
        .await
        .unwrap();
    let (pool, proxy) = counted_pool().await;
    const SELECT: &str = "SELECT count(*) FROM pool_no_reset WHERE x > $1";
    let mut conn = pool.acquire().await.unwrap();
    let pid = conn.backend_pid();
    conn.execute("INSERT INTO pool_no_reset VALUES ($1)", &[&1i32])
        .await
        .unwrap();
    conn.execute("UPDATE pool_no_reset SET x = x + 1", &[])
        .await
        .unwrap();
    let mut tx = conn.transaction().await.unwrap();
    tx.execute("INSERT INTO pool_no_reset VALUES ($1)", &[&5i32])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    conn.execute_script("SELECT 1").await.unwrap();
    let n: i64 = conn.fetch_value(SELECT, &[&0i32]).await.unwrap();
    assert_eq!(n, 2);
    let cached = conn.cached_statements();

    for _ in 0..3 {
        proxy.reset();
        drop(conn);
        conn = pool.acquire().await.unwrap();
        assert_eq!(conn.backend_pid(), pid);
        assert_eq!(
            proxy.traffic().tags(),
            "",
            "release and acquire sent something: a reset or a ping"
        );
        let n: i64 = conn.fetch_value(SELECT, &[&0i32]).await.unwrap();
        assert_eq!(n, 2);
        let traffic = proxy.traffic();
        assert_eq!(traffic.count(b'Q'), 0, "{}", traffic.tags());
        assert_eq!(traffic.count(b'P'), 0, "re-prepared: {}", traffic.tags());
        assert_eq!(conn.cached_statements(), cached);
    }
}

/// The reset, when a user changed the session, is one simple query, and the statement
/// cache survives it: same number of statements cached, no re-prepare afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_one_round_trip_and_keeps_the_statement_cache() {
    let (pool, proxy) = counted_pool().await;
    const SELECT: &str = "SELECT $1::int4 + 1";
    let mut conn = pool.acquire().await.unwrap();
    let pid = conn.backend_pid();
    let two: i32 = conn.fetch_value(SELECT, &[&1i32]).await.unwrap();
    assert_eq!(two, 2);
    let _: String = conn.fetch_value("SHOW work_mem", &[]).await.unwrap();
    let cached = conn.cached_statements();
    assert!(cached >= 2);
    conn.execute_script("SET work_mem = '9MB'").await.unwrap();

    proxy.reset();
    drop(conn);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(conn.backend_pid(), pid);
    let traffic = proxy.traffic();
    assert_eq!(
        (
            traffic.count(b'Q'),
            traffic.count(b'P'),
            traffic.count(b'C')
        ),
        (1, 0, 0),
        "the reset is one simple query and closes no statement: {}",
        traffic.tags()
    );
    assert_eq!(conn.cached_statements(), cached);

    proxy.reset();
    let two: i32 = conn.fetch_value(SELECT, &[&1i32]).await.unwrap();
    let work_mem: String = conn.fetch_value("SHOW work_mem", &[]).await.unwrap();
    assert_eq!(two, 2);
    assert_ne!(work_mem, "9MB");
    assert_eq!(proxy.traffic().tags(), "BESBES", "both ran from the cache");
}

// ---------------------------------------------------------------------------------------
// 4, 5. Waiting

/// With every connection held, acquire fails after `acquire_timeout` (not before, not much
/// later) with `PoolTimedOut`, whose message gives the pool's size, idle, in use and
/// waiting counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_times_out_with_the_pools_state() {
    let timeout = Duration::from_millis(300);
    let pool = builder()
        .max_connections(2)
        .acquire_timeout(timeout)
        .build()
        .await
        .unwrap();
    let _held = [pool.acquire().await.unwrap(), pool.acquire().await.unwrap()];
    let waiter = |pool: Pool| async move {
        let started = Instant::now();
        let result = pool.acquire().await;
        (result.map(|c| c.backend_pid()), started.elapsed())
    };
    let first = tokio::spawn(waiter(pool.clone()));
    wait_for("the first waiter", || pool.status().waiting == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = tokio::spawn(waiter(pool.clone()));

    for (task, still_waiting) in [(first, 1), (second, 0)] {
        let (result, elapsed) = task.await.unwrap();
        let Err(Error::PoolTimedOut(message)) = result else {
            panic!("expected PoolTimedOut, got {result:?}");
        };
        assert!(
            elapsed >= timeout && elapsed < timeout + Duration::from_millis(300),
            "gave up after {elapsed:?} with acquire_timeout {timeout:?}"
        );
        let state = format!(
            "2 of at most 2 connections open (0 idle, 2 in use) and {still_waiting} task(s) \
             waiting"
        );
        assert!(message.contains(&state), "{message}");
        assert!(message.contains("300ms"), "{message}");
    }
    assert_eq!(pool.status().waiting, 0);
}

/// Tasks waiting for a connection get it in the order they asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_are_served_first_come_first_served() {
    const WAITERS: usize = 8;
    let pool = builder().max_connections(1).build().await.unwrap();
    let held = pool.acquire().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..WAITERS {
        let (pool2, order) = (pool.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let conn = pool2.acquire().await.unwrap();
            order.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(2)).await;
            drop(conn);
        }));
        wait_for("the waiter to queue", || pool.status().waiting == i + 1).await;
    }
    drop(held);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..WAITERS).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------
// 6, 7. A server that goes away

/// While the server is down, acquire fails within `acquire_timeout` (it never hangs);
/// once the server is back, the same pool works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_works_again_once_a_stopped_server_is_back() {
    let mut cluster = TempCluster::start().unwrap();
    let timeout = Duration::from_secs(1);
    let pool = Pool::builder(cluster.dsn().parse().unwrap())
        .max_connections(2)
        .acquire_timeout(timeout)
        .build()
        .await
        .unwrap();
    let before = pool.acquire().await.unwrap().backend_pid();

    tokio::task::block_in_place(|| cluster.stop_server()).unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        let err = pool.acquire().await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            elapsed < timeout + Duration::from_millis(500),
            "acquire took {elapsed:?} with acquire_timeout {timeout:?}: {err}"
        );
        println!("acquire while the server is down, {elapsed:?}: {err}");
        let err = (&pool)
            .fetch_value::<i32>("SELECT 1", &[])
            .await
            .unwrap_err();
        assert!(!err.to_string().is_empty());
    }
    let status = pool.status();
    assert_eq!((status.in_use, status.waiting), (0, 0), "{status}");

    tokio::task::block_in_place(|| cluster.start_server()).unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    assert_ne!(conn.backend_pid(), before);
    drop(conn);
    let status = pool.status();
    assert_eq!((status.size, status.in_use), (1, 0), "{status}");
}

/// A server that accepts connections and never answers (a hung server, a proxy whose
/// backend is gone): building a pool gives up after `acquire_timeout` instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_gives_up_on_a_server_that_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut silent = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            silent.push(socket);
        }
    });
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let built = tokio::time::timeout(
        Duration::from_secs(3),
        Pool::builder(options_via(port))
            .acquire_timeout(timeout)
            .build(),
    )
    .await;
    let elapsed = started.elapsed();
    let Ok(Err(err)) = built else {
        panic!("build did not give up within 3 s ({built:?})");
    };
    assert!(
        elapsed >= timeout && elapsed < timeout + Duration::from_millis(500),
        "gave up after {elapsed:?}: {err}"
    );
    assert!(matches!(err, Error::PoolTimedOut(_)), "{err:?}");
    assert!(err.to_string().contains("300ms"), "{err}");
}

/// Backends the server ends while idle in the pool (pg_terminate_backend) are replaced
/// without the user seeing an error; the query that was running on one of them gets the
/// server's 57P01 or a closed connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_idle_backends_are_replaced_unseen() {
    const SIZE: usize = 4;
    let mut observer = connect().await;
    let pool = builder()
        .max_connections(SIZE + 1)
        .min_connections(SIZE + 1)
        .build()
        .await
        .unwrap();
    let mut conns = Vec::new();
    for _ in 0..=SIZE {
        conns.push(pool.acquire().await.unwrap());
    }
    let old: Vec<i32> = conns.iter().map(|c| c.backend_pid()).collect();
    let mut busy = conns.pop().unwrap();
    drop(conns);
    let running = tokio::spawn(async move {
        busy.execute("SELECT pg_sleep(30) /* pool_terminated_busy */", &[])
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let killed: i64 = observer
        .fetch_value(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest($1::int4[]) pid",
            &[&old],
        )
        .await
        .unwrap();
    assert_eq!(killed, SIZE as i64 + 1);
    assert_eq!(wait_gone(&mut observer, &old).await, Vec::<i32>::new());
    let err = running.await.unwrap().unwrap_err();
    assert!(is_session_ended(&err), "the running query got: {err:?}");

    let mut conns = Vec::new();
    for _ in 0..=SIZE {
        let mut conn = pool.acquire().await.unwrap();
        let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
        assert_eq!(one, 1);
        assert!(!old.contains(&conn.backend_pid()));
        conns.push(conn);
    }
    let status = pool.status();
    assert_eq!(
        (status.size, status.in_use),
        (SIZE + 1, SIZE + 1),
        "{status}"
    );
    drop(conns);
    let status = pool.status();
    assert_eq!(
        (status.size, status.idle, status.in_use),
        (SIZE + 1, SIZE + 1, 0),
        "{status}"
    );
}

/// After a server restart every idle connection is replaced without an error reaching the
/// user; the query running at the restart gets 57P01 or a closed connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_come_back_after_a_server_restart() {
    const SIZE: usize = 3;
    let mut cluster = TempCluster::start().unwrap();
    let options: ConnectOptions = cluster.dsn().parse().unwrap();
    let pool = Pool::builder(options.clone())
        .max_connections(SIZE)
        .min_connections(SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .build()
        .await
        .unwrap();
    let mut conns = Vec::new();
    for _ in 0..SIZE {
        conns.push(pool.acquire().await.unwrap());
    }
    let old: Vec<i32> = conns.iter().map(|c| c.backend_pid()).collect();
    let mut busy = conns.pop().unwrap();
    drop(conns);
    let running = tokio::spawn(async move { busy.execute("SELECT pg_sleep(30)", &[]).await });
    let mut observer = Connection::connect_with(&options).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let active: i64 = observer
            .fetch_value(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' \
                 AND state = 'active'",
                &[],
            )
            .await
            .unwrap();
        if active == 1 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(observer);

    tokio::task::block_in_place(|| cluster.restart()).unwrap();
    let err = running.await.unwrap().unwrap_err();
    assert!(is_session_ended(&err), "the running query got: {err:?}");

    let mut conns = Vec::new();
    for _ in 0..SIZE {
        let mut conn = pool.acquire().await.unwrap();
        let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
        assert_eq!(one, 1);
        assert!(!old.contains(&conn.backend_pid()));
        conns.push(conn);
    }
    drop(conns);
    let status = pool.status();
    assert_eq!(
        (status.size, status.idle, status.in_use),
        (SIZE, SIZE, 0),
        "{status}"
    );
}

// ---------------------------------------------------------------------------------------
// 8. expire_connections

/// `expire_connections` replaces idle connections at once and those in use when they are
/// released; the server sees the old sessions end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_connections_replaces_idle_and_in_use_connections() {
    let mut observer = connect().await;
    let pool = builder().max_connections(3).build().await.unwrap();
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(pool.acquire().await.unwrap());
    }
    let old: Vec<i32> = conns.iter().map(|c| c.backend_pid()).collect();
    let in_use = conns.pop().unwrap();
    drop(conns);

    pool.expire_connections();
    assert_eq!(
        wait_gone(&mut observer, &old[..2]).await,
        Vec::<i32>::new(),
        "idle ones closed at once"
    );
    assert_eq!(alive(&mut observer, &old[2..]).await, old[2..].to_vec());
    drop(in_use);
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(pool.acquire().await.unwrap());
    }
    for conn in &mut conns {
        assert!(!old.contains(&conn.backend_pid()));
        let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
        assert_eq!(one, 1);
    }
    assert_eq!(wait_gone(&mut observer, &old).await, Vec::<i32>::new());
    assert_eq!(pool.status().size, 3);
}

// ---------------------------------------------------------------------------------------
// 9. Hooks

/// `init` runs once per new connection and what it set holds on every acquire, also after
/// the pool reset a session a user changed (without running `init` again, which a
/// non-idempotent init could not survive); `setup` runs on every acquire and `reset` on
/// every release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_run_when_they_should_and_init_settings_survive_a_reset() {
    let inits = Arc::new(AtomicUsize::new(0));
    let setups = Arc::new(AtomicUsize::new(0));
    let resets = Arc::new(AtomicUsize::new(0));
    let (i, s, r) = (inits.clone(), setups.clone(), resets.clone());
    let pool = builder()
        .max_connections(2)
        .init(move |conn| {
            i.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                // Not idempotent: running it twice on one session fails.
                conn.execute_script(
                    "CREATE TEMP TABLE pool_init_marker (x int4); SET work_mem = '7MB'; \
                     SET application_name = 'pool_init'; SET search_path = 'it''s', public",
                )
                .await
            })
        })
        .setup(move |_| {
            s.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        })
        .reset(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        })
        .build()
        .await
        .unwrap();
    assert_eq!(
        inits.load(Ordering::SeqCst),
        1,
        "build opens one connection"
    );

    let mut pids = HashSet::new();
    for round in 0..3 {
        let mut a = pool.acquire().await.unwrap();
        let mut b = pool.acquire().await.unwrap();
        for conn in [&mut a, &mut b] {
            pids.insert(conn.backend_pid());
            let work_mem: String = conn.fetch_value("SHOW work_mem", &[]).await.unwrap();
            let name: String = conn
                .fetch_value("SHOW application_name", &[])
                .await
                .unwrap();
            let path: String = conn.fetch_value("SHOW search_path", &[]).await.unwrap();
            let timeout: String = conn
                .fetch_value("SHOW statement_timeout", &[])
                .await
                .unwrap();
            assert_eq!(
                [&*work_mem, &*name, &*path, &*timeout],
                ["7MB", "pool_init", "\"it's\", public", "0"],
                "round {round}"
            );
            // A user's own change, which the pool must undo, init's settings kept.
            conn.execute_script(
                "SET work_mem = '9MB'; SET application_name = 'user'; \
                 SET statement_timeout = '3s'; SET search_path = pg_catalog",
            )
            .await
            .unwrap();
        }
        assert_eq!(setups.load(Ordering::SeqCst), 2 * (round + 1));
        drop((a, b));
    }
    // The last round's releases: wait until both are cleaned and back.
    drop((pool.acquire().await.unwrap(), pool.acquire().await.unwrap()));
    wait_for("both connections idle", || pool.status().idle == 2).await;
    assert_eq!(pids.len(), 2, "the same two backends throughout: {pids:?}");
    assert_eq!(inits.load(Ordering::SeqCst), 2, "once per new connection");
    assert_eq!(setups.load(Ordering::SeqCst), 8);
    assert_eq!(resets.load(Ordering::SeqCst), 8, "once per release");
}

/// An `init` that fails makes `build`, and later an `acquire` that opens a connection, fail
/// with init's own error; a failing `setup` fails the acquire and gives the connection back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_hooks_fail_build_and_acquire_with_their_error() {
    let err = builder()
        .init(|_| Box::pin(async { Err(Error::Interface("init refused".into())) }))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Interface(m) if m == "init refused"),
        "{err:?}"
    );

    // Succeeds for the first connection only.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let pool = builder()
        .max_connections(2)
        .init(move |conn| {
            let first = c.fetch_add(1, Ordering::SeqCst) == 0;
            Box::pin(async move {
                let sql = if first { "SELECT 1" } else { "SELECT 1 / 0" };
                conn.execute_script(sql).await
            })
        })
        .build()
        .await
        .unwrap();
    let held = pool.acquire().await.unwrap();
    let err = pool.acquire().await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::DIVISION_BY_ZERO), "{err:?}");
    let status = pool.status();
    assert_eq!((status.size, status.in_use), (1, 1), "{status}");
    drop(held);

    let pool = builder()
        .max_connections(1)
        .setup(|conn| Box::pin(async move { conn.execute_script("SELECT 1 / 0").await }))
        .build()
        .await
        .unwrap();
    for _ in 0..2 {
        let err = pool.acquire().await.unwrap_err();
        assert_eq!(err.sqlstate(), Some(SqlState::DIVISION_BY_ZERO), "{err:?}");
    }
    let status = pool.status();
    assert_eq!((status.size, status.idle), (1, 1), "{status}");
}

// ---------------------------------------------------------------------------------------
// 10. Lifetimes and the ping

/// The backend pids of `n` queries run one after another on the pool.
async fn pids_of_queries(pool: &Pool, n: usize) -> Vec<i32> {
    let mut pids = Vec::new();
    for _ in 0..n {
        pids.push(
            pool.acquire()
                .await
                .unwrap()
                .fetch_value("SELECT pg_backend_pid()", &[])
                .await
                .unwrap(),
        );
    }
    pids
}

/// `max_queries`: a connection is replaced once it ran that many operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_queries_recycles_a_connection_after_n_operations() {
    let pool = builder()
        .max_connections(1)
        .max_queries(3)
        .build()
        .await
        .unwrap();
    let pids = pids_of_queries(&pool, 7).await;
    assert_eq!(pids[0], pids[1]);
    assert_eq!(pids[0], pids[2]);
    assert_ne!(pids[2], pids[3], "{pids:?}");
    assert_eq!(pids[3..6], [pids[3]; 3]);
    assert_ne!(pids[5], pids[6], "{pids:?}");
}

/// `max_lifetime`: a connection older than it is replaced when it comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lifetime_replaces_old_connections() {
    let pool = builder()
        .max_connections(1)
        .max_lifetime(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let young = pids_of_queries(&pool, 2).await;
    assert_eq!(young[0], young[1]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let old = pids_of_queries(&pool, 1).await;
    assert_ne!(old[0], young[0]);
}

/// `max_inactive_connection_lifetime`: idle connections beyond `min_connections` are closed
/// (on the server too); the `min_connections` kept are the ones handed out next, not
/// replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_min_connections_are_closed() {
    let mut observer = connect().await;
    let lifetime = Duration::from_millis(150);
    let pool = builder()
        .min_connections(1)
        .max_connections(3)
        .max_inactive_connection_lifetime(lifetime)
        .build()
        .await
        .unwrap();
    let conns = [
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
    ];
    let pids: Vec<i32> = conns.iter().map(|c| c.backend_pid()).collect();
    drop(conns);
    assert_eq!(pool.status().idle, 3);
    wait_for("idle connections to be closed", || pool.status().size == 1).await;
    let status = pool.status();
    assert_eq!((status.size, status.idle), (1, 1), "{status}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let left = loop {
        let left = alive(&mut observer, &pids).await;
        if left.len() == 1 || Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(left.len(), 1, "the server still has {left:?} of {pids:?}");
    // Still there after several more periods, and it is the one handed out.
    tokio::time::sleep(lifetime * 2).await;
    assert_eq!(pool.status().size, 1);
    let conn = pool.acquire().await.unwrap();
    assert_eq!(
        conn.backend_pid(),
        left[0],
        "the connection kept was replaced"
    );
}

/// A TCP relay to the shared server whose connections can be cut as a middlebox that lost
/// their state does: nothing arrives while the connection idles, and the first bytes the
/// client sends afterwards get the connection closed. Only writing to it finds out.
struct CuttingProxy {
    port: u16,
    epoch: Arc<AtomicUsize>,
}

impl CuttingProxy {
    async fn start() -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let epoch = Arc::new(AtomicUsize::new(0));
        let current = epoch.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let born = current.load(Ordering::SeqCst);
                tokio::spawn(Self::relay(client, born, current.clone()));
            }
        });
        CuttingProxy { port, epoch }
    }

    /// Cuts every connection opened so far.
    fn cut(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    async fn relay(client: TcpStream, born: usize, epoch: Arc<AtomicUsize>) {
        let server = SocketAddr::from(([127, 0, 0, 1], shared_port()));
        let Ok(server) = TcpStream::connect(server).await else {
            return;
        };
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let upstream = async {
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = match client_read.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if epoch.load(Ordering::SeqCst) != born
                    || server_write.write_all(&chunk[..n]).await.is_err()
                {
                    return;
                }
            }
        };
        let downstream = tokio::io::copy(&mut server_read, &mut client_write);
        tokio::select! {
            () = upstream => {}
            _ = downstream => {}
        }
    }
}

/// `test_before_acquire`: a connection the network lost silently is pinged before it is
/// handed out and replaced; without the ping the user's query would get the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_before_acquire_replaces_a_silently_lost_connection() {
    for ping in [Some(Duration::ZERO), None] {
        let proxy = CuttingProxy::start().await;
        let pool = Pool::builder(options_via(proxy.port))
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(ping)
            .build()
            .await
            .unwrap();
        let before = pool.acquire().await.unwrap().backend_pid();
        proxy.cut();
        let mut conn = pool.acquire().await.unwrap();
        let result = conn.fetch_value::<i32>("SELECT 1", &[]).await;
        match ping {
            Some(_) => {
                assert_eq!(result.unwrap(), 1);
                assert_ne!(conn.backend_pid(), before, "a new connection");
            }
            None => {
                let err = result.unwrap_err();
                assert!(is_session_ended(&err), "{err:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 11. Statements invalidated across the pool

/// A DDL that changes a table's result type invalidates the cached statement on every
/// connection: the one that finds out first (outside a transaction, retried) tells the
/// others, so another connection runs the same query inside a transaction without
/// `StatementInvalidated`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_invalidated_on_one_connection_is_forgotten_by_the_others() {
    let mut observer = connect().await;
    observer
        .execute_script(
            "DROP TABLE IF EXISTS pool_stale; CREATE TABLE pool_stale (a int4); \
             INSERT INTO pool_stale VALUES (1)",
        )
        .await
        .unwrap();
    const SELECT: &str = "SELECT * FROM pool_stale";
    let pool = builder().max_connections(2).build().await.unwrap();
    let mut first = pool.acquire().await.unwrap();
    let mut second = pool.acquire().await.unwrap();
    assert_ne!(first.backend_pid(), second.backend_pid());
    for conn in [&mut first, &mut second] {
        assert_eq!(conn.fetch(SELECT, &[]).await.unwrap()[0].len(), 1);
    }
    observer
        .execute_script("ALTER TABLE pool_stale ADD COLUMN b int4 DEFAULT 2")
        .await
        .unwrap();

    let rows = first.fetch(SELECT, &[]).await.unwrap();
    assert_eq!(rows[0].len(), 2, "outside a transaction: prepared again");
    let mut tx = second.transaction().await.unwrap();
    let rows = tx.fetch(SELECT, &[]).await.unwrap();
    assert_eq!(rows[0].len(), 2);
    let b: i32 = rows[0].get("b");
    assert_eq!(b, 2);
    tx.commit().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 12. Status, close, terminate

/// `status()` counts open, idle, in-use connections and waiting tasks as they change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_connections_and_waiters() {
    let pool = builder().max_connections(2).build().await.unwrap();
    let counts = |pool: &Pool| {
        let s = pool.status();
        assert_eq!(s.max_connections, 2);
        assert_eq!(s.size, s.idle + s.in_use, "{s}");
        (s.size, s.idle, s.in_use, s.waiting)
    };
    assert_eq!(counts(&pool), (1, 1, 0, 0), "build opens one");
    let a = pool.acquire().await.unwrap();
    assert_eq!(counts(&pool), (1, 0, 1, 0));
    let b = pool.acquire().await.unwrap();
    assert_eq!(counts(&pool), (2, 0, 2, 0));
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire().await.map(drop) }
    });
    wait_for("the waiter", || pool.status().waiting == 1).await;
    assert_eq!(counts(&pool), (2, 0, 2, 1));
    drop(a);
    waiter.await.unwrap().unwrap();
    assert_eq!(counts(&pool), (2, 1, 1, 0));
    drop(b);
    assert_eq!(counts(&pool), (2, 2, 0, 0));
    assert!(
        pool.status()
            .to_string()
            .starts_with("2 of at most 2 connections open")
    );
}

/// `close` refuses new acquires at once, waits for a held connection (up to
/// `acquire_timeout`), and the server sees every connection gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_waits_for_held_connections_then_refuses_acquires() {
    let mut observer = connect().await;
    let pool = builder().max_connections(2).build().await.unwrap();
    let held = pool.acquire().await.unwrap();
    let idle = pool.acquire().await.unwrap();
    let pids = [held.backend_pid(), idle.backend_pid()];
    drop(idle);

    let started = Instant::now();
    let closing = tokio::spawn({
        let pool = pool.clone();
        async move { pool.close().await }
    });
    wait_for("close to start", || pool.is_closed()).await;
    assert!(matches!(pool.acquire().await, Err(Error::PoolClosed)));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        !closing.is_finished(),
        "close did not wait for the held connection"
    );
    drop(held);
    closing.await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < ACQUIRE_TIMEOUT,
        "{waited:?}"
    );
    assert_eq!(wait_gone(&mut observer, &pids).await, Vec::<i32>::new());
    assert!(matches!(pool.acquire().await, Err(Error::PoolClosed)));
    assert_eq!(pool.status().size, 0);

    // A task already waiting when close starts gets PoolClosed, not the connection.
    let pool = builder().max_connections(1).build().await.unwrap();
    let held = pool.acquire().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire().await.map(|c| c.backend_pid()) }
    });
    wait_for("the waiter", || pool.status().waiting == 1).await;
    let closing = tokio::spawn({
        let pool = pool.clone();
        async move { pool.close().await }
    });
    wait_for("close to start", || pool.is_closed()).await;
    drop(held);
    assert!(matches!(waiter.await.unwrap(), Err(Error::PoolClosed)));
    closing.await.unwrap();

    // A connection held past acquire_timeout: close returns, and the connection is
    // closed when it comes back.
    let timeout = Duration::from_millis(200);
    let pool = builder()
        .max_connections(1)
        .acquire_timeout(timeout)
        .build()
        .await
        .unwrap();
    let mut held = pool.acquire().await.unwrap();
    let started = Instant::now();
    pool.close().await;
    let waited = started.elapsed();
    assert!(
        waited >= timeout && waited < timeout + Duration::from_millis(300),
        "{waited:?}"
    );
    let one: i32 = held.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1, "a held connection stays usable until released");
    let pid = held.backend_pid();
    drop(held);
    assert_eq!(wait_gone(&mut observer, &[pid]).await, Vec::<i32>::new());
}

/// `terminate` closes idle connections at once and refuses acquires; a held connection
/// stays usable and is closed when released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_closes_idle_connections_now_and_held_ones_on_release() {
    let mut observer = connect().await;
    let pool = builder().max_connections(2).build().await.unwrap();
    let mut held = pool.acquire().await.unwrap();
    let idle = pool.acquire().await.unwrap();
    let idle_pid = idle.backend_pid();
    drop(idle);
    pool.terminate();
    assert!(pool.is_closed());
    assert!(matches!(pool.acquire().await, Err(Error::PoolClosed)));
    assert!(matches!(
        (&pool).fetch_value::<i32>("SELECT 1", &[]).await,
        Err(Error::PoolClosed)
    ));
    assert_eq!(
        wait_gone(&mut observer, &[idle_pid]).await,
        Vec::<i32>::new()
    );
    let one: i32 = held.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    let pid = held.backend_pid();
    assert_eq!(alive(&mut observer, &[pid]).await, [pid]);
    drop(held);
    assert_eq!(wait_gone(&mut observer, &[pid]).await, Vec::<i32>::new());
    assert_eq!(pool.status().size, 0);
}

/// A detached connection leaves the pool for good: the pool counts it no more, opens
/// another in its place, and the detached one stays usable on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_connection_leaves_the_pool() {
    let pool = builder().max_connections(1).build().await.unwrap();
    let mut detached = pool.acquire().await.unwrap().detach();
    let status = pool.status();
    assert_eq!((status.size, status.in_use), (0, 0), "{status}");
    let mut conn = pool.acquire().await.unwrap();
    assert_ne!(conn.backend_pid(), detached.backend_pid());
    for conn in [&mut *conn, &mut detached] {
        let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
        assert_eq!(one, 1);
    }
}

/// Dropping the last clone of a pool closes its idle connections on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_pool_closes_its_connections() {
    let mut observer = connect().await;
    let pool = builder().max_connections(2).build().await.unwrap();
    let clone = pool.clone();
    let (a, b) = (
        pool.acquire().await.unwrap(),
        clone.acquire().await.unwrap(),
    );
    let pids = [a.backend_pid(), b.backend_pid()];
    drop((a, b, pool));
    assert_eq!(
        alive(&mut observer, &pids).await.len(),
        2,
        "a clone still lives"
    );
    drop(clone);
    assert_eq!(wait_gone(&mut observer, &pids).await, Vec::<i32>::new());
}

// ---------------------------------------------------------------------------------------
// 13. The pool as an Executor

#[derive(Debug, PartialEq, pgtusk::FromRecord)]
struct Pair {
    id: i32,
    name: String,
}

/// Counts rows through any executor: a connection, a pooled one, the pool.
async fn count_rows(db: &mut impl Executor, n: i32) -> i64 {
    db.fetch_value("SELECT count(*) FROM generate_series(1, $1)", &[&n])
        .await
        .unwrap()
}

/// Queries run on `&Pool` and `Pool` through `Executor` (a connection acquired and released
/// per call), a row stream owns its connection until dropped, `run_transaction` commits or
/// rolls back, and `prepare` on a pool says why it cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_runs_queries_through_executor() {
    let mut pool = builder().max_connections(2).build().await.unwrap();
    let mut by_ref = &pool;
    let rows = by_ref
        .fetch("SELECT g FROM generate_series(1, 3) g", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let pair: Pair = by_ref
        .fetch_one_as("SELECT 7 AS id, 'seven' AS name", &[])
        .await
        .unwrap();
    assert_eq!(
        pair,
        Pair {
            id: 7,
            name: "seven".into()
        }
    );
    let pairs: Vec<Pair> = by_ref
        .fetch_as(
            "SELECT g AS id, g::text AS name FROM generate_series(1, 2) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(pairs.len(), 2);
    assert_eq!(
        by_ref
            .execute("SELECT 1 UNION ALL SELECT 2", &[])
            .await
            .unwrap(),
        2
    );
    assert_eq!(count_rows(&mut by_ref, 4).await, 4);
    assert_eq!(count_rows(&mut pool, 5).await, 5);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(count_rows(&mut conn, 6).await, 6);
    drop(conn);
    assert_eq!(pool.status().in_use, 0);

    // A stream holds its connection while it lives, read to the end or not.
    for read_all in [true, false] {
        let mut by_ref = &pool;
        let mut stream = by_ref
            .fetch_stream("SELECT g FROM generate_series(1, 10000) g", &[])
            .await
            .unwrap();
        assert_eq!(pool.status().in_use, 1);
        let first = stream.try_next().await.unwrap().unwrap();
        assert_eq!(first.get::<i32>(0), 1);
        if read_all {
            let rest: Vec<_> = stream.by_ref().try_collect().await.unwrap();
            assert_eq!(rest.len(), 9999);
        }
        assert_eq!(
            pool.status().in_use,
            1,
            "the stream still owns its connection"
        );
        drop(stream);
        wait_for("the stream's connection back", || pool.status().in_use == 0).await;
        assert_eq!(count_rows(&mut by_ref, 3).await, 3, "and it is usable");
    }

    // run_transaction on the pool.
    connect()
        .await
        .execute_script(
            "DROP TABLE IF EXISTS pool_run_tx; CREATE TABLE pool_run_tx (x int4 UNIQUE)",
        )
        .await
        .unwrap();
    let n = pool
        .run_transaction(|tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO pool_run_tx VALUES (1), (2)", &[])
                    .await
            })
        })
        .await
        .unwrap();
    assert_eq!(n, 2);
    let err = pool
        .run_transaction(|tx| {
            Box::pin(async move {
                tx.execute("INSERT INTO pool_run_tx VALUES (3)", &[])
                    .await?;
                tx.execute("INSERT INTO pool_run_tx VALUES (1)", &[]).await
            })
        })
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION));
    let xs: Vec<i32> = (&pool)
        .fetch("SELECT x FROM pool_run_tx ORDER BY x", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(xs, [1, 2], "the failed transaction was rolled back");

    // A statement belongs to one connection.
    let err = (&pool).prepare("SELECT 1").await.unwrap_err();
    let Error::Interface(message) = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("pool.acquire()"), "{message}");
    assert!(!message.contains("  "), "stray spaces in: {message:?}");
}

// ---------------------------------------------------------------------------------------
// 14. Many tasks

/// 32 tasks × 200 queries on a pool of 4: no error, every result right, and afterwards no
/// more than 4 connections, none in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_a_few_connections() {
    const TASKS: i64 = 32;
    const QUERIES: i64 = 200;
    let pool = builder().max_connections(4).build().await.unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for q in 0..QUERIES {
                    let x = t * 1000 + q;
                    let got: i64 = if q % 2 == 0 {
                        (&pool).fetch_value("SELECT $1::int8 * 2", &[&x]).await?
                    } else {
                        let mut conn = pool.acquire().await?;
                        conn.fetch_value("SELECT $1::int8 * 2", &[&x]).await?
                    };
                    assert_eq!(got, x * 2);
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let status = pool.status();
    assert!(status.size <= 4, "{status}");
    assert_eq!((status.in_use, status.waiting), (0, 0), "{status}");
}
