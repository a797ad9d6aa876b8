//! Behind a real pgbouncer: transaction pooling hands every request (up to its Sync) to
//! whichever server connection is free, so a query must never be split across two Syncs.
//! Skipped (with a note) when pgbouncer is not installed, unless `CI` is set.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pgtusk::{ConnectOptions, Connection, Encode, SqlState};
use pgtusk_tests::pgbouncer::{PgBouncer, PoolMode, start_or_skip};
use pgtusk_tests::proxy::{CountingProxy, Traffic};
use pgtusk_tests::{connect, connect_with, shared_options};

const CLIENTS: usize = 16;
const SERVER_CONNECTIONS: u32 = 2;
/// The scenario: every client runs this many queries, each one round trip.
const QUERIES_PER_CLIENT: usize = 1000;
/// Kinds of query in the measured mix: each SQL text is described once per client.
const KINDS: usize = 5;
/// Then a few of the kinds that take two round trips: typed queries and execute_many.
const TWO_TRIP_QUERIES: usize = 20;
/// A bound on the whole run, so a hang fails instead of waiting forever.
const RUN_LIMIT: Duration = Duration::from_secs(120);
const TABLE: &str = "pgbouncer_uncached_rows";
const INSERT: &str = "INSERT INTO pgbouncer_uncached_rows (worker, seq, note, flag) \
                      VALUES ($1, $2, $3, $4)";
const ROWS_PER_BATCH: usize = 3;

/// What one client did.
#[derive(Default)]
struct Report {
    queries: [usize; KINDS],
    two_trip_queries: usize,
    rows_inserted: u64,
    backends: HashSet<i32>,
    errors: Vec<String>,
    /// What the client sent during the measured queries, and then during the two-trip ones.
    one_trip: Traffic,
    two_trip: Traffic,
    /// Kept open so the admin console still sees every client.
    conn: Option<Connection>,
    /// The client's proxy, kept running as long as its connection.
    proxy: Option<CountingProxy>,
}

/// Round trips in `traffic`: each Sync, Flush and simple Query waits for its answer.
fn round_trips(traffic: &Traffic) -> usize {
    traffic.count(b'S') + traffic.count(b'H') + traffic.count(b'Q')
}

/// 16 clients × 1,000 queries through 2 server connections, statement_cache_size 0: no
/// errors, every answer right, and one round trip per query (after each client's first run of
/// each SQL text, which describes it). Each client talks to pgbouncer through its own counting
/// proxy, which sees every Sync and Flush it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uncached_queries_are_safe_behind_transaction_pooling() {
    let Some(bouncer) = start_or_skip(
        PgBouncer::in_front_of(&shared_options()).default_pool_size(SERVER_CONNECTIONS),
    ) else {
        return;
    };
    connect()
        .await
        .execute_script(&format!(
            "DROP TABLE IF EXISTS {TABLE}; \
             CREATE TABLE {TABLE} (worker int4, seq int8, note text, flag bool)"
        ))
        .await
        .unwrap();

    let options = bouncer.options().statement_cache_size(0);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let options = options.clone();
            let port = bouncer.port();
            tokio::spawn(async move {
                tokio::time::timeout(RUN_LIMIT, client(w as i32, options, port))
                    .await
                    .unwrap_or_else(|_| Report {
                        errors: vec![format!("client {w}: not done after {RUN_LIMIT:?}")],
                        ..Report::default()
                    })
            })
        })
        .collect();
    let mut reports = Vec::new();
    for task in tasks {
        reports.push(task.await.expect("client task panicked"));
    }
    let elapsed = started.elapsed();

    // While every client is still connected: the admin console's view.
    // (psql itself is a client of the `pgbouncer` database: count only ours.)
    let ours = |command: &str| -> Vec<Vec<(String, String)>> {
        let rows = bouncer.admin(command).unwrap();
        rows.into_iter()
            .filter(|row| field(row, "database") == Some(bouncer.dbname()))
            .collect()
    };
    let servers = ours("SHOW SERVERS");
    let clients = ours("SHOW CLIENTS");
    let pools = ours("SHOW POOLS");

    let mut queries = [0usize; KINDS];
    let mut backends: HashSet<i32> = HashSet::new();
    let mut errors = Vec::new();
    let mut rows_inserted = 0;
    let (mut trips, mut syncs, mut flushes, mut writes) = (0, 0, 0, 0);
    let (mut two_trip_queries, mut two_trips) = (0, 0);
    for report in &reports {
        for (total, n) in queries.iter_mut().zip(report.queries) {
            *total += n;
        }
        backends.extend(&report.backends);
        errors.extend(report.errors.iter().cloned());
        rows_inserted += report.rows_inserted;
        trips += round_trips(&report.one_trip);
        syncs += report.one_trip.count(b'S');
        flushes += report.one_trip.count(b'H');
        writes += report.one_trip.client_reads;
        two_trip_queries += report.two_trip_queries;
        two_trips += round_trips(&report.two_trip);
    }
    let total: usize = queries.iter().sum();
    let rows_in_table: i64 = connect()
        .await
        .fetch_value(&format!("SELECT count(*) FROM {TABLE}"), &[])
        .await
        .unwrap();
    println!(
        "{CLIENTS} clients over {SERVER_CONNECTIONS} server connections, statement_cache_size 0, \
         {elapsed:.1?}: {total} queries (int4 sum {}, text concat {}, 3 columns {}, insert {}, \
         pg_backend_pid {}) in {trips} round trips ({syncs} Syncs, {flushes} Flushes, {writes} \
         writes: {:.3} per query); then {two_trip_queries} typed queries and execute_many in \
         {two_trips} round trips; {rows_inserted} rows inserted, {} errors, {} distinct \
         backends, {} server connections and {} clients in SHOW SERVERS/CLIENTS",
        queries[0],
        queries[1],
        queries[2],
        queries[3],
        queries[4],
        trips as f64 / total.max(1) as f64,
        errors.len(),
        backends.len(),
        servers.len(),
        clients.len(),
    );

    assert!(
        errors.is_empty(),
        "{} errors out of {total} queries behind transaction pooling; first ones:\n{}\n\
         pgbouncer log:\n{}",
        errors.len(),
        errors[..errors.len().min(10)].join("\n"),
        bouncer.log_tail(20)
    );
    assert_eq!(
        total,
        CLIENTS * QUERIES_PER_CLIENT,
        "every query ran: {queries:?}"
    );
    // One round trip per query; each client described each of its SQL texts once.
    assert_eq!(syncs, total, "one request per query");
    assert_eq!(
        flushes,
        CLIENTS * KINDS,
        "one description per client and SQL text"
    );
    assert_eq!(trips, total + CLIENTS * KINDS, "round trips");
    assert_eq!(writes, trips, "one write per round trip");
    assert_eq!(
        rows_in_table, rows_inserted as i64,
        "rows in the table vs rows the inserts reported"
    );
    // The clients really shared the server connections.
    assert!(
        !backends.is_empty() && backends.len() <= SERVER_CONNECTIONS as usize,
        "{} distinct server backends for {CLIENTS} clients: {backends:?}",
        backends.len()
    );
    assert!(
        servers.len() <= SERVER_CONNECTIONS as usize,
        "SHOW SERVERS: {servers:?}"
    );
    assert_eq!(clients.len(), CLIENTS, "SHOW CLIENTS: {clients:?}");
    assert!(
        pools.len() == 1 && field(&pools[0], "pool_mode") == Some("transaction"),
        "SHOW POOLS: {pools:?}"
    );
    drop(reports);
}

/// One client: its own connection through its own proxy in front of pgbouncer, a mix of
/// queries with different parameter counts and types, every answer checked.
async fn client(worker: i32, options: ConnectOptions, bouncer_port: u16) -> Report {
    let mut report = Report::default();
    let proxy = CountingProxy::start(bouncer_port).await;
    let mut conn = match Connection::connect_with(&options.port(proxy.port())).await {
        Ok(conn) => conn,
        Err(e) => {
            report
                .errors
                .push(format!("client {worker}: connect failed: {e}"));
            return report;
        }
    };
    proxy.reset();
    for i in 0..QUERIES_PER_CLIENT {
        let kind = i % KINDS;
        let outcome = one_trip_query(&mut conn, &mut report, worker, i).await;
        report.queries[kind] += 1;
        if let Err(e) = outcome {
            report
                .errors
                .push(format!("client {worker}, query {i}: {e}"));
            if conn.is_closed() {
                report
                    .errors
                    .push(format!("client {worker}: connection closed, stopping"));
                return report;
            }
        }
    }
    report.one_trip = proxy.traffic();
    proxy.reset();
    for i in 0..TWO_TRIP_QUERIES {
        let outcome = two_trip_query(&mut conn, &mut report, worker, i).await;
        report.two_trip_queries += 1;
        if let Err(e) = outcome {
            report
                .errors
                .push(format!("client {worker}, two-trip query {i}: {e}"));
        }
    }
    report.two_trip = proxy.traffic();
    report.conn = Some(conn);
    report.proxy = Some(proxy);
    report
}

/// Query `i` of the measured mix: untyped queries, one round trip each once described.
async fn one_trip_query(
    conn: &mut Connection,
    report: &mut Report,
    worker: i32,
    i: usize,
) -> Result<(), String> {
    let n = i as i32;
    match i % KINDS {
        0 => {
            let sql = "SELECT $1::int4 + $2::int4";
            match conn.fetch_value::<i32>(sql, &[&worker, &n]).await {
                Ok(v) if v == worker + n => Ok(()),
                Ok(v) => Err(format!("{sql}: got {v}, want {}", worker + n)),
                Err(e) => Err(format!("{sql}: {e}")),
            }
        }
        1 => {
            let sql = "SELECT $1::text || 'x'";
            let text = format!("w{worker}-{i}");
            match conn.fetch_value::<String>(sql, &[&text]).await {
                Ok(v) if v == format!("{text}x") => Ok(()),
                Ok(v) => Err(format!("{sql}: got {v:?}, want {text:?} + x")),
                Err(e) => Err(format!("{sql}: {e}")),
            }
        }
        2 => {
            let sql = "SELECT $1::int8, $2::text, $3::bool";
            let want = (
                i64::from(worker) << 32 | i as i64,
                format!("t{i}"),
                i.is_multiple_of(2),
            );
            match conn.fetch_one(sql, &[&want.0, &want.1, &want.2]).await {
                Ok(row) => {
                    let got: (i64, String, bool) = (row.get(0), row.get(1), row.get(2));
                    if got == want {
                        Ok(())
                    } else {
                        Err(format!("{sql}: got {got:?}, want {want:?}"))
                    }
                }
                Err(e) => Err(format!("{sql}: {e}")),
            }
        }
        3 => {
            let (seq, note, flag) = (i as i64, format!("n{i}"), i.is_multiple_of(3));
            match conn.execute(INSERT, &[&worker, &seq, &note, &flag]).await {
                Ok(1) => {
                    report.rows_inserted += 1;
                    Ok(())
                }
                Ok(n) => Err(format!("{INSERT}: {n} rows, want 1")),
                Err(e) => Err(format!("{INSERT}: {e}")),
            }
        }
        _ => match conn
            .fetch_value::<i32>("SELECT pg_backend_pid()", &[])
            .await
        {
            Ok(pid) => {
                report.backends.insert(pid);
                Ok(())
            }
            Err(e) => Err(format!("SELECT pg_backend_pid(): {e}")),
        },
    }
}

/// The kinds that describe every time: a typed query (its struct is checked before anything
/// runs) and execute_many.
async fn two_trip_query(
    conn: &mut Connection,
    report: &mut Report,
    worker: i32,
    i: usize,
) -> Result<(), String> {
    if i.is_multiple_of(2) {
        let sql = "SELECT $1::int8, $2::text, $3::bool";
        let want = (i64::from(worker), format!("typed{i}"), true);
        return match conn
            .fetch_one_as::<(i64, String, bool)>(sql, &[&want.0, &want.1, &want.2])
            .await
        {
            Ok(row) if row == want => Ok(()),
            Ok(row) => Err(format!("{sql}: got {row:?}, want {want:?}")),
            Err(e) => Err(format!("{sql}: {e}")),
        };
    }
    let rows: Vec<(i64, String, bool)> = (0..ROWS_PER_BATCH)
        .map(|r| {
            (
                (1_000_000 + i * ROWS_PER_BATCH + r) as i64,
                format!("b{r}"),
                r == 0,
            )
        })
        .collect();
    // Collected before the await: a lazy iterator's closure would not be Send.
    let sets: Vec<[&(dyn Encode + Sync); 4]> = rows
        .iter()
        .map(|(seq, note, flag)| [&worker as &(dyn Encode + Sync), seq, note, flag])
        .collect();
    match conn.execute_many(INSERT, sets).await {
        Ok(n) if n == ROWS_PER_BATCH as u64 => {
            report.rows_inserted += n;
            Ok(())
        }
        Ok(n) => Err(format!(
            "execute_many {INSERT}: {n} rows, want {ROWS_PER_BATCH}"
        )),
        Err(e) => Err(format!("execute_many {INSERT}: {e}")),
    }
}

fn field<'a>(row: &'a [(String, String)], name: &str) -> Option<&'a str> {
    row.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The same SQL run by two fresh connections with the default (named) statement cache: both
/// name it alike, and transaction pooling puts both Parses on the one server connection that
/// exists (pgbouncer opens server connections only when needed). This is why uncached SQL
/// must not rely on named statements — and proof that the fixture really pools transactions.
#[tokio::test]
async fn cached_statements_collide_behind_transaction_pooling() {
    let Some(bouncer) = start_or_skip(
        PgBouncer::in_front_of(&shared_options()).default_pool_size(SERVER_CONNECTIONS),
    ) else {
        return;
    };
    let (first, second) = same_query_on_two_connections(&bouncer).await;
    assert_eq!(first.unwrap(), 42);
    let err = second.expect_err("the second connection's statement name collides");
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::DUPLICATE_PREPARED_STATEMENT),
        "{err}"
    );
    // pgtusk's error says what asyncpg's FAQ says.
    let message = err.to_string();
    assert!(message.contains("statement_cache_size=0"), "{message}");
}

/// The control for the test above: with session pooling each client keeps its own server
/// connection, and the same steps succeed.
#[tokio::test]
async fn cached_statements_are_fine_behind_session_pooling() {
    let Some(bouncer) = start_or_skip(
        PgBouncer::in_front_of(&shared_options())
            .pool_mode(PoolMode::Session)
            .default_pool_size(SERVER_CONNECTIONS),
    ) else {
        return;
    };
    let (first, second) = same_query_on_two_connections(&bouncer).await;
    assert_eq!(first.unwrap(), 42);
    assert_eq!(second.unwrap(), 42);
}

/// Two connections through `bouncer` (default statement cache), both kept open, run the same
/// query one after the other.
async fn same_query_on_two_connections(
    bouncer: &PgBouncer,
) -> (pgtusk::Result<i32>, pgtusk::Result<i32>) {
    let sql = "SELECT $1::int4 + 1";
    let mut a = connect_with(bouncer.options()).await;
    let mut b = connect_with(bouncer.options()).await;
    let first = a.fetch_value::<i32>(sql, &[&41i32]).await;
    let second = b.fetch_value::<i32>(sql, &[&41i32]).await;
    (first, second)
}
