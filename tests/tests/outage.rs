//! Servers that go away: a restart and `pg_terminate_backend` during a pooled load, and a
//! server that stops answering (SIGSTOP).
//!
//! Under load, tasks keep running queries through one [`Pool`] and every request is logged
//! with when it started and ended. What is checked: a request fails only if it overlaps the
//! outage (from the first action against the server to the moment it is back), with an
//! error that says what happened (I/O, closed, the server's shutdown codes, a pool
//! timeout) and never a panic; every task is served again within a bound after the server
//! is back, with no manual action; and the server never holds more sessions of the pool
//! (counted by `application_name` in `pg_stat_activity`) than `max_connections`.
//!
//! A stopped process keeps its sockets, so the kernel accepts connections and bytes that
//! nobody answers: `connect_timeout`, `command_timeout` and `acquire_timeout` must each end
//! the wait with an error of their own kind. Each test has its own `TempCluster`; the
//! [`Stopped`] guard sends SIGCONT even when an assertion fails.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgtusk::cluster::TempCluster;
use pgtusk::{ConnectOptions, Connection, Error, Executor, Pool, SqlState};
use pgtusk_tests::sessions;
use pgtusk_tests::stopped::Stopped;
use tokio::task::JoinHandle;

/// The pool's size under load, and the tasks sharing it.
const MAX_CONNECTIONS: usize = 5;
const TASKS: usize = 20;
/// How long the load runs before the outage and after recovery.
const STEADY: Duration = Duration::from_secs(1);
/// How long the server stays down in the restart test.
const DOWN: Duration = Duration::from_secs(1);
/// Every task must be served again within this of the server being back.
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// What a call may take past its timeout before it counts as hung (a loaded 2-core machine).
const MARGIN: Duration = Duration::from_secs(3);

/// The session name the pool's connections carry, so the server can count them.
fn pool_options(cluster: &TempCluster, application_name: &str) -> ConnectOptions {
    cluster
        .dsn()
        .parse::<ConnectOptions>()
        .unwrap()
        .application_name(application_name)
        .connect_timeout(Duration::from_secs(2))
}

// ---------------------------------------------------------------------------------------
// The load and its log

/// One request of the load; times relative to the load's start.
#[derive(Debug)]
struct Request {
    task: usize,
    started: Duration,
    ended: Duration,
    /// `None` for a success, else the error's kind and message.
    error: Option<(&'static str, String)>,
}

/// When the server was away, relative to the load's start: from the first action against it
/// to the moment it was back (accepting connections, or the terminated backends gone).
#[derive(Debug, Clone, Copy)]
struct Outage {
    start: Duration,
    end: Duration,
}

impl Outage {
    fn overlaps(&self, request: &Request) -> bool {
        request.started <= self.end && request.ended >= self.start
    }
}

/// Tasks running queries through a pool until finished, each request logged.
struct Load {
    origin: Instant,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Request>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(pool: &Pool, tasks: usize) -> Load {
        let origin = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..tasks)
            .map(|task| {
                let (pool, stop, log) = (pool.clone(), stop.clone(), log.clone());
                tokio::spawn(async move {
                    let mut n: i32 = 0;
                    while !stop.load(Ordering::Acquire) {
                        n = n.wrapping_add(1);
                        let started = origin.elapsed();
                        let result = one_request(&pool, task, n).await;
                        let ended = origin.elapsed();
                        let failed = result.is_err();
                        let error = result.err().map(|e| (kind(&e), e.to_string()));
                        log.lock().unwrap().push(Request {
                            task,
                            started,
                            ended,
                            error,
                        });
                        // A server that is down refuses at once: no busy loop meanwhile.
                        let pause = if failed { 20 } else { 2 };
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    }
                })
            })
            .collect();
        Load {
            origin,
            stop,
            log,
            tasks,
        }
    }

    /// Now, relative to the load's start.
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Waits until every task has succeeded with a request started at or after `since`;
    /// returns when that happened relative to `since`. Panics past [`RECOVERY_BOUND`].
    async fn wait_all_served_since(&self, since: Duration, tasks: usize) -> Duration {
        loop {
            let last_first_success = {
                let log = self.log.lock().unwrap();
                let mut first = vec![None; tasks];
                for r in log
                    .iter()
                    .filter(|r| r.error.is_none() && r.started >= since)
                {
                    first[r.task].get_or_insert(r.ended);
                }
                first.into_iter().collect::<Option<Vec<_>>>()
            };
            if let Some(firsts) = last_first_success {
                let latest = firsts.into_iter().max().unwrap_or(since);
                return latest.saturating_sub(since);
            }
            assert!(
                self.now() < since + RECOVERY_BOUND,
                "not every task was served within {RECOVERY_BOUND:?} of the server being back"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) -> Vec<Request> {
        self.stop.store(true, Ordering::Release);
        for task in self.tasks {
            task.await.expect("a load task panicked");
        }
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// A pooled query whose answer must be its own.
async fn one_request(pool: &Pool, task: usize, n: i32) -> Result<(), Error> {
    let mut conn = pool.acquire().await?;
    let echoed: i32 = conn.fetch_value("SELECT $1::int4", &[&n]).await?;
    assert_eq!(echoed, n, "task {task} got another request's answer");
    Ok(())
}

/// The kinds of error a request may see while the server is away; anything else is
/// "unexpected" and fails the test.
fn kind(e: &Error) -> &'static str {
    match e {
        Error::Io(_) => "Io",
        Error::Closed => "Closed",
        Error::PoolTimedOut(_) => "PoolTimedOut",
        Error::Timeout(_) => "Timeout",
        e if e.sqlstate() == Some(SqlState::ADMIN_SHUTDOWN) => "Db 57P01 admin_shutdown",
        e if e.sqlstate() == Some(SqlState::CANNOT_CONNECT_NOW) => "Db 57P03 cannot_connect_now",
        _ => "unexpected",
    }
}

/// Checks the log against the outages and prints what happened; returns the number of
/// failed requests.
fn check_log(requests: &[Request], outages: &[Outage], tasks: usize) -> usize {
    // Per kind: how many, and up to three different messages.
    let mut by_kind: BTreeMap<&str, (usize, Vec<&str>)> = BTreeMap::new();
    let (mut before, mut during, mut after) = (0, 0, 0);
    let first = outages.first().expect("at least one outage").start;
    let last = outages.last().expect("at least one outage").end;
    for r in requests {
        if let Some((kind, message)) = &r.error {
            assert!(
                outages.iter().any(|o| o.overlaps(r)),
                "a request failed outside the outage {outages:?}: {r:?}"
            );
            assert!(
                !message.is_empty() && *kind != "unexpected",
                "an unclear error: {r:?}"
            );
            let (n, messages) = by_kind.entry(kind).or_default();
            *n += 1;
            if messages.len() < 3 && !messages.contains(&message.as_str()) {
                messages.push(message);
            }
        }
        if r.ended < first {
            before += 1;
        } else if r.started > last {
            after += 1;
        } else {
            during += 1;
        }
    }
    let failed: usize = by_kind.values().map(|(n, _)| n).sum();
    println!(
        "{} requests by {tasks} tasks: {before} before the outage, {during} during it (from \
         the first outage's start to the last one's end; {failed} failed), {after} after",
        requests.len()
    );
    for (kind, (n, messages)) in &by_kind {
        println!("  {n:>5} x {kind}, e.g.:");
        for message in messages {
            println!("          {message}");
        }
    }
    for task in 0..tasks {
        assert!(
            requests
                .iter()
                .any(|r| r.task == task && r.error.is_none() && r.started > last),
            "task {task} was never served after the outage"
        );
    }
    failed
}

/// Samples the pool's sessions on the server for `period` while the load runs; returns the
/// most seen.
async fn most_sessions(observer: &mut Connection, application_name: &str, period: Duration) -> i64 {
    let until = Instant::now() + period;
    let mut most = 0;
    while Instant::now() < until {
        most = most.max(sessions(observer, application_name).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    most
}

/// Once the load is over and the pool closed, the server holds none of its sessions (the
/// backends exit shortly after the Terminate).
async fn assert_no_sessions_left(observer: &mut Connection, application_name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = sessions(observer, application_name).await;
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{left} sessions of the closed pool are still on the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The connection limit and what is left once the load ends, as the server and the pool
/// count them.
async fn check_connections(pool: &Pool, observer: &mut Connection, application_name: &str) {
    let most = most_sessions(observer, application_name, STEADY).await;
    println!(
        "sessions on the server after recovery: at most {most} (max_connections {MAX_CONNECTIONS})"
    );
    assert!(
        most as usize <= MAX_CONNECTIONS,
        "the server held {most} sessions of a pool of {MAX_CONNECTIONS}"
    );
    let status = pool.status();
    assert!(status.size <= MAX_CONNECTIONS, "{status}");
}

// ---------------------------------------------------------------------------------------
// A restart and pg_terminate_backend under load

/// The server stops (fast shutdown) and starts again while 20 tasks query through a pool of
/// 5: requests fail only while it is away, every task is served again soon after it is
/// back, and the server never holds more than 5 of the pool's sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_under_load_recovers_from_a_server_restart() {
    const APP: &str = "outage_restart";
    let mut cluster = TempCluster::start().unwrap();
    let pool = Pool::builder(pool_options(&cluster, APP))
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    let load = Load::start(&pool, TASKS);
    tokio::time::sleep(STEADY).await;

    let start = load.now();
    tokio::task::block_in_place(|| cluster.stop_server()).unwrap();
    let stopped = load.now();
    tokio::time::sleep(DOWN).await;
    tokio::task::block_in_place(|| cluster.start_server()).unwrap();
    let outage = Outage {
        start,
        end: load.now(),
    };
    let recovery = load.wait_all_served_since(outage.end, TASKS).await;
    println!(
        "server stopping from {:?} to {:?}, down until {:?}; every task served again {:?} \
         after it was back",
        outage.start, stopped, outage.end, recovery
    );

    let mut observer = Connection::connect(&cluster.dsn()).await.unwrap();
    check_connections(&pool, &mut observer, APP).await;
    let requests = load.finish().await;
    let failed = check_log(&requests, &[outage], TASKS);
    assert!(failed > 0, "no request failed: the restart was not felt");
    pool.close().await;
    assert_no_sessions_left(&mut observer, APP).await;
}

/// Every backend of the pool is terminated (three times, with the load running): requests
/// fail only while their backend is being ended, the pool replaces the backends by itself,
/// and the server never holds more than `max_connections` of its sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_under_load_recovers_from_terminated_backends() {
    const APP: &str = "outage_terminate";
    const ROUNDS: usize = 3;
    let cluster = TempCluster::start().unwrap();
    let pool = Pool::builder(pool_options(&cluster, APP))
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    let mut observer = Connection::connect(&cluster.dsn()).await.unwrap();
    let load = Load::start(&pool, TASKS);
    tokio::time::sleep(STEADY).await;

    let mut outages = Vec::new();
    let mut terminated = 0;
    for _ in 0..ROUNDS {
        let start = load.now();
        let pids: Vec<i32> = observer
            .fetch_value(
                "SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity \
                 WHERE application_name = $1",
                &[&APP],
            )
            .await
            .unwrap();
        let killed: i64 = observer
            .fetch_value(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) \
                 FROM unnest($1::int4[]) pid",
                &[&pids],
            )
            .await
            .unwrap();
        assert!(killed > 0, "the pool had no session to terminate");
        terminated += pids.len();
        // Over once the backends have exited: their FATAL is then on every socket.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let alive: i64 = observer
                .fetch_value(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                    &[&pids],
                )
                .await
                .unwrap();
            if alive == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "terminated backends still run");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let outage = Outage {
            start,
            end: load.now(),
        };
        let recovery = load.wait_all_served_since(outage.end, TASKS).await;
        println!(
            "terminated {} backends from {:?} to {:?}; every task served again {recovery:?} \
             later",
            pids.len(),
            outage.start,
            outage.end
        );
        outages.push(outage);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    check_connections(&pool, &mut observer, APP).await;
    let requests = load.finish().await;
    let failed = check_log(&requests, &outages, TASKS);
    println!("{terminated} backends terminated in {ROUNDS} rounds, {failed} requests failed");
    pool.close().await;
    assert_no_sessions_left(&mut observer, APP).await;
}

/// The whole server freezes under load (the postmaster and every backend of the pool
/// stopped for 2 s): `command_timeout`, `connect_timeout` and `acquire_timeout` end the
/// requests caught in it, only those fail, the pool serves every task again once the server
/// continues, and the frozen sessions it gave up on leave the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_under_load_recovers_from_a_frozen_server() {
    const APP: &str = "outage_freeze";
    const FROZEN: Duration = Duration::from_secs(2);
    let cluster = TempCluster::start().unwrap();
    let options = pool_options(&cluster, APP)
        .command_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_secs(1));
    let pool = Pool::builder(options)
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    let mut observer = Connection::connect(&cluster.dsn()).await.unwrap();
    let load = Load::start(&pool, TASKS);
    tokio::time::sleep(STEADY).await;

    let start = load.now();
    let pids: Vec<i32> = observer
        .fetch_value(
            "SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&APP],
        )
        .await
        .unwrap();
    let postmaster = Stopped::postmaster(&cluster).unwrap();
    // A backend may have exited since the list was read: only the others are stopped.
    let backends: Vec<Stopped> = pids
        .iter()
        .filter_map(|&pid| Stopped::backend(pid).ok())
        .collect();
    assert!(!backends.is_empty(), "the pool had no session to freeze");
    tokio::time::sleep(FROZEN).await;
    drop(backends);
    drop(postmaster);
    let outage = Outage {
        start,
        end: load.now(),
    };
    let recovery = load.wait_all_served_since(outage.end, TASKS).await;
    println!(
        "froze the postmaster and {} backends from {:?} to {:?}; every task served again \
         {recovery:?} after",
        pids.len(),
        outage.start,
        outage.end
    );

    // The sessions the pool gave up on end once their backends run again and find the
    // socket closed: until then the server may count more than the pool holds.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let on_server = sessions(&mut observer, APP).await;
        if on_server as usize <= MAX_CONNECTIONS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{on_server} sessions of a pool of {MAX_CONNECTIONS} still on the server 10 s \
             after the freeze"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check_connections(&pool, &mut observer, APP).await;
    let requests = load.finish().await;
    let failed = check_log(&requests, &[outage], TASKS);
    assert!(failed > 0, "no request failed: the freeze was not felt");
    pool.close().await;
    assert_no_sessions_left(&mut observer, APP).await;
}

// ---------------------------------------------------------------------------------------
// A server that stops answering

/// Runs `call`, which should give up after `limit`; a call still running at `limit` +
/// [`MARGIN`] is a hang and fails the test. Returns how long it took and its output.
async fn within<T>(limit: Duration, call: impl Future<Output = T>) -> (Duration, T) {
    let started = Instant::now();
    match tokio::time::timeout(limit + MARGIN, call).await {
        Ok(output) => {
            let elapsed = started.elapsed();
            println!("gave up after {elapsed:?} (limit {limit:?})");
            (elapsed, output)
        }
        Err(_) => panic!(
            "still waiting {:?} after a limit of {limit:?}",
            limit + MARGIN
        ),
    }
}

/// Runs `call`, which must fail no sooner than `not_before` and no later than `bound` (+
/// [`MARGIN`]); prints and returns its error. `expected_err` says what an `Ok` would mean.
async fn gives_up<T: std::fmt::Debug>(
    not_before: Duration,
    bound: Duration,
    call: impl Future<Output = Result<T, Error>>,
    expected_err: &str,
) -> Error {
    let (elapsed, result) = within(bound, call).await;
    let err = result.expect_err(expected_err);
    println!("{err}");
    assert!(
        elapsed >= not_before,
        "gave up after {elapsed:?}, before {not_before:?}"
    );
    err
}

fn assert_timed_out_io(err: &Error) {
    assert!(
        matches!(err, Error::Io(e) if e.kind() == io::ErrorKind::TimedOut),
        "{err:?}"
    );
}

/// A postmaster that stops answering: connecting gives up after `connect_timeout` with an
/// I/O timeout that names the setting; once the postmaster continues, connecting works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_ends_the_wait_on_a_stopped_postmaster() {
    let cluster = TempCluster::start().unwrap();
    let limit = Duration::from_secs(1);
    let options: ConnectOptions = cluster
        .dsn()
        .parse::<ConnectOptions>()
        .unwrap()
        .connect_timeout(limit);
    let postmaster = Stopped::postmaster(&cluster).unwrap();

    let err = gives_up(
        limit,
        limit,
        Connection::connect_with(&options),
        "connected to a stopped server",
    )
    .await;
    assert_timed_out_io(&err);
    assert!(err.to_string().contains("connect_timeout"), "{err}");

    drop(postmaster);
    let mut conn = Connection::connect_with(&options).await.unwrap();
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}

/// `acquire_timeout` ends an acquire that waits on a server that stopped answering: first
/// the check of an idle connection whose backend is stopped, then the opening of a new one
/// when the postmaster is stopped too. The errors say the server did not answer (not that
/// the pool is full); nothing stays in use, and the pool serves again once the server
/// continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_timeout_ends_the_wait_on_a_stopped_server() {
    let cluster = TempCluster::start().unwrap();
    let limit = Duration::from_secs(1);
    let pool = Pool::builder(cluster.dsn().parse().unwrap())
        .max_connections(2)
        .acquire_timeout(limit)
        .test_before_acquire(Some(Duration::ZERO))
        .build()
        .await
        .unwrap();
    let old = pool.acquire().await.unwrap().backend_pid();
    assert_eq!(pool.status().idle, 1);

    let backend = Stopped::backend(old).unwrap();
    let err = gives_up(
        limit,
        limit,
        pool.acquire(),
        "acquired a connection whose backend is stopped",
    )
    .await;
    assert!(matches!(err, Error::PoolTimedOut(_)), "{err:?}");
    assert!(err.to_string().contains("test_before_acquire"), "{err}");

    let postmaster = Stopped::postmaster(&cluster).unwrap();
    let err = gives_up(
        limit,
        limit,
        pool.acquire(),
        "acquired a connection from a stopped server",
    )
    .await;
    assert!(matches!(err, Error::PoolTimedOut(_)), "{err:?}");
    assert!(err.to_string().contains("does not answer"), "{err}");
    let status = pool.status();
    assert_eq!(
        (status.size, status.in_use, status.waiting),
        (0, 0, 0),
        "{status}"
    );

    drop(postmaster);
    drop(backend);
    let pid: i32 = (&pool)
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    assert_ne!(pid, old);
}

/// A backend that stops answering mid-session while the postmaster runs: the statement ends
/// with [`Error::Timeout`] after `command_timeout`; the cancel request reaches the postmaster
/// but the stopped backend cannot act on it, so the wait for its reply is bounded by
/// `connect_timeout` and the connection is closed rather than left owing a reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_timeout_ends_the_wait_on_a_stopped_backend() {
    let cluster = TempCluster::start().unwrap();
    let (command, connect) = (Duration::from_secs(1), Duration::from_secs(2));
    let options = cluster
        .dsn()
        .parse::<ConnectOptions>()
        .unwrap()
        .command_timeout(command)
        .connect_timeout(connect);
    let mut conn = Connection::connect_with(&options).await.unwrap();
    let backend = Stopped::backend(conn.backend_pid()).unwrap();

    let err = gives_up(
        command,
        command + connect,
        conn.fetch_value::<i32>("SELECT 1", &[]),
        "a stopped backend answered",
    )
    .await;
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("connection was closed"), "{err}");
    assert!(conn.is_closed());
    let err = conn.fetch_value::<i32>("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");

    drop(backend);
    let mut fresh = Connection::connect_with(&options).await.unwrap();
    let one: i32 = fresh.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
}

/// The whole server stops (postmaster and backend): a cancel request gets no answer and
/// gives up after `connect_timeout`, and a statement still returns within
/// `command_timeout` + `connect_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_timeout_ends_the_wait_when_the_whole_server_is_stopped() {
    let cluster = TempCluster::start().unwrap();
    let (command, connect) = (Duration::from_secs(1), Duration::from_secs(1));
    let options = cluster
        .dsn()
        .parse::<ConnectOptions>()
        .unwrap()
        .command_timeout(command)
        .connect_timeout(connect);
    let mut conn = Connection::connect_with(&options).await.unwrap();
    let backend = Stopped::backend(conn.backend_pid()).unwrap();
    let postmaster = Stopped::postmaster(&cluster).unwrap();

    let err = gives_up(
        Duration::ZERO,
        connect,
        conn.cancel_token().cancel(),
        "a stopped postmaster took a cancel request",
    )
    .await;
    assert_timed_out_io(&err);

    let err = gives_up(
        command,
        command + connect,
        conn.execute("SELECT 1", &[]),
        "a stopped server answered",
    )
    .await;
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(conn.is_closed());
    drop((postmaster, backend));
}

/// Through a pool: the connection whose backend stopped answering times out, is discarded
/// when released, and the next query gets a new backend while the old one is still
/// stopped; nothing to do by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_replaces_a_connection_whose_backend_stopped_answering() {
    let cluster = TempCluster::start().unwrap();
    let command = Duration::from_secs(1);
    let options = cluster
        .dsn()
        .parse::<ConnectOptions>()
        .unwrap()
        .command_timeout(command)
        .connect_timeout(Duration::from_secs(1));
    let pool = Pool::builder(options)
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let old = conn.backend_pid();
    let backend = Stopped::backend(old).unwrap();

    let (_, result) = within(command * 2, conn.fetch_value::<i32>("SELECT 1", &[])).await;
    let err = result.expect_err("a stopped backend answered");
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    drop(conn);
    let status = pool.status();
    assert_eq!((status.size, status.in_use), (0, 0), "{status}");

    let pid: i32 = (&pool)
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    assert_ne!(pid, old);
    drop(backend);
}

/// A query dropped by the caller's own timeout (no `command_timeout`) on a backend that
/// stopped answering: the pool's cleaning of the released connection gives up after
/// `acquire_timeout`, so its slot comes back and the next acquire gets a new backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_query_on_a_stopped_backend_gives_its_pool_slot_back() {
    let cluster = TempCluster::start().unwrap();
    let limit = Duration::from_secs(1);
    let options = cluster
        .dsn()
        .parse::<ConnectOptions>()
        .unwrap()
        .connect_timeout(limit);
    let pool = Pool::builder(options)
        .max_connections(1)
        .acquire_timeout(limit)
        .build()
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let old = conn.backend_pid();
    let backend = Stopped::backend(old).unwrap();
    let dropped = tokio::time::timeout(
        Duration::from_millis(200),
        conn.fetch_value::<i32>("SELECT 1", &[]),
    )
    .await;
    assert!(dropped.is_err(), "a stopped backend answered: {dropped:?}");
    drop(conn);
    assert_eq!(
        pool.status().in_use,
        1,
        "the release cleans in the background"
    );

    let (_, ()) = within(limit, async {
        while pool.status().in_use > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let status = pool.status();
    assert_eq!((status.size, status.in_use), (0, 0), "{status}");
    let pid: i32 = (&pool)
        .fetch_value("SELECT pg_backend_pid()", &[])
        .await
        .unwrap();
    assert_ne!(pid, old);
    drop(backend);
}
