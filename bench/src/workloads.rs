//! The workloads: the same SQL and the same checksum for every driver, each driver using its
//! best available way. Every phase returns a checksum that the harness compares with the one
//! the server computed (or the harness computed from the inputs), so a fast wrong answer fails.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use pgtusk_dialect::StatementExt as _;
use pgtusk_dialect::sea_query::{
    Expr, ExprTrait as _, PostgresQueryBuilder, Query, SelectStatement,
};
use rust_decimal::Decimal;
use sea_query_postgres::PostgresBinder as _;
use sea_query_sqlx::SqlxBinder as _;
use sqlx::{Connection as _, Row as _};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type R<T> = Result<T, BoxError>;

pub const POINT: &str = "SELECT v, t FROM bench_point WHERE id = $1";
pub const TINY: &str = "SELECT 1 + 1";
pub const SERIES: &str = "SELECT g FROM generate_series(1, 1000) g";
pub const WIDE: &str = "SELECT i, t, ts, n FROM bench_wide";
pub const ARRAYS: &str = "SELECT a FROM bench_arr";
pub const BYTEA: &str = "SELECT b FROM bench_bytea";
pub const INSERT: &str = "INSERT INTO bench_ins (id, v) VALUES ($1, $2)";
pub const TYPED: &str = "SELECT i, t, ts, n FROM bench_wide WHERE i <= 10000";

/// Rows in the point-select table.
pub const POINT_ROWS: u64 = 1_000_000;
/// Rows in the wide table (workload 4 and the fetch_as comparison).
pub const WIDE_ROWS: u64 = 100_000;
/// Rows one insert batch writes.
pub const BATCH: usize = 1000;

pub const SETUP: &str = "
DROP TABLE IF EXISTS bench_point, bench_wide, bench_arr, bench_bytea, bench_ins;
CREATE TABLE bench_point (id int4 NOT NULL, v int8 NOT NULL, t text NOT NULL);
INSERT INTO bench_point SELECT g, g::int8 * 3, 'name-' || g FROM generate_series(1, 1000000) g;
ALTER TABLE bench_point ADD PRIMARY KEY (id);
CREATE TABLE bench_wide (i int4 NOT NULL, t text NOT NULL, ts timestamptz NOT NULL, n numeric(12, 2) NOT NULL);
INSERT INTO bench_wide
  SELECT g, 'row number ' || g, timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second', g / 100.0
  FROM generate_series(1, 100000) g;
CREATE TABLE bench_arr (id int4 NOT NULL, a int4[] NOT NULL);
INSERT INTO bench_arr SELECT r, ARRAY(SELECT r * 1000 + i FROM generate_series(1, 100) i) FROM generate_series(1, 100) r;
CREATE TABLE bench_bytea (id int4 NOT NULL, b bytea NOT NULL);
INSERT INTO bench_bytea
  SELECT r, (SELECT decode(string_agg(lpad(to_hex((r * 31 + i) % 256), 2, '0'), '' ORDER BY i), 'hex')
             FROM generate_series(0, 1023) i)
  FROM generate_series(1, 100) r;
CREATE TABLE bench_ins (id int4 NOT NULL, v text NOT NULL);
";

/// Checksum of one wide row: the same formula in every driver and in `WIDE_SUM_SQL`.
pub const WIDE_SUM_SQL: &str =
    "sum(i) + sum(length(t)) + sum(extract(epoch FROM ts)::int8) + sum((n * 100)::int8)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Workload {
    Point,
    Tiny,
    Series,
    Wide,
    Arrays,
    Bytea,
    Insert,
    Typed,
    TypedVsIndex,
    InList,
    Pool,
    /// Workload 10a: sea-orm's loader (`load_many`), 1..=5,000 keys.
    SeaOrmLoader,
    /// Workload 10b: sea-orm's `Entity::find().all()`, 10,000 rows.
    SeaOrmAll,
    /// Workload 11: COPY in of 1M rows.
    CopyIn,
    /// Workload 12: COPY out of 1M rows, decoded.
    CopyOut,
    /// Workload 13: a pipeline of 100 different point selects (`pipeline.rs`).
    Pipeline,
    /// Workload 14: workload 1 through the synchronous APIs (`blocking.rs`).
    Blocking,
    /// Workload 15: workload 1 over TLS, verify-full, on connections of its own (`tls.rs`).
    PointTls,
}

impl Workload {
    pub const ALL: [Workload; 18] = [
        Workload::Point,
        Workload::Tiny,
        Workload::Series,
        Workload::Wide,
        Workload::Arrays,
        Workload::Bytea,
        Workload::Insert,
        Workload::Typed,
        Workload::TypedVsIndex,
        Workload::InList,
        Workload::Pool,
        Workload::SeaOrmLoader,
        Workload::SeaOrmAll,
        Workload::CopyIn,
        Workload::CopyOut,
        Workload::Pipeline,
        Workload::Blocking,
        Workload::PointTls,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Workload::Point => "point",
            Workload::Tiny => "tiny",
            Workload::Series => "series",
            Workload::Wide => "wide",
            Workload::Arrays => "arrays",
            Workload::Bytea => "bytea",
            Workload::Insert => "insert",
            Workload::Typed => "typed",
            Workload::TypedVsIndex => "typed-vs-index",
            Workload::InList => "inlist",
            Workload::Pool => "pool",
            Workload::SeaOrmLoader => "sea-orm-loader",
            Workload::SeaOrmAll => "sea-orm-all",
            Workload::CopyIn => "copy-in",
            Workload::CopyOut => "copy-out",
            Workload::Pipeline => "pipeline",
            Workload::Blocking => "blocking",
            Workload::PointTls => "point-tls",
        }
    }

    /// Whether `name` (from the command line) selects this workload: its key, its number, or
    /// `sea-orm` for both parts of workload 10.
    pub fn matches(self, name: &str) -> bool {
        self.key() == name
            || self.number().to_string() == name
            || (name == "sea-orm" && self.number() == 10)
    }

    /// The workload number.
    pub fn number(self) -> u8 {
        match self {
            Workload::Point => 1,
            Workload::Tiny => 2,
            Workload::Series => 3,
            Workload::Wide => 4,
            Workload::Arrays | Workload::Bytea => 5,
            Workload::Insert => 6,
            Workload::Typed | Workload::TypedVsIndex => 7,
            Workload::InList => 8,
            Workload::Pool => 9,
            Workload::SeaOrmLoader | Workload::SeaOrmAll => 10,
            Workload::CopyIn => 11,
            Workload::CopyOut => 12,
            Workload::Pipeline => 13,
            Workload::Blocking => 14,
            Workload::PointTls => 15,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Workload::Point => "point select by primary key, 1M-row table",
            Workload::Tiny => "SELECT 1 + 1",
            Workload::Series => "generate_series(1, 1000), int4 rows",
            Workload::Wide => "100k rows x (int4, text, timestamptz, numeric)",
            Workload::Arrays => "100 rows of int4[100]",
            Workload::Bytea => "100 rows of 1 KB bytea",
            Workload::Insert => "insert 1000 rows in one batch",
            Workload::Typed => "typed fetch of 10k rows into a struct",
            Workload::TypedVsIndex => "pgtusk only: fetch_as vs row.get by index, 100k rows",
            Workload::InList => "IN-list select, random length 1..1000",
            Workload::Pool => "pool of 8 connections, 64 tasks, cached point selects",
            Workload::SeaOrmLoader => "sea-orm load_many (one-to-many), random 1..5000 keys",
            Workload::SeaOrmAll => "sea-orm Entity::find().all(), 10k rows into models",
            Workload::CopyIn => "COPY in 1M rows of (int4, text, timestamptz, numeric)",
            Workload::CopyOut => "COPY out 1M rows of (int4, text, timestamptz, numeric), decoded",
            Workload::Pipeline => "a pipeline of 100 different point selects",
            Workload::Blocking => "point select through the blocking APIs (no caller runtime)",
            Workload::PointTls => "point select over TLS (verify-full), 1M-row table",
        }
    }

    /// Operations per driver phase at scale 1 (sized for about 0.3 s per Rust phase here).
    pub fn ops(self) -> usize {
        match self {
            Workload::Point | Workload::Blocking | Workload::PointTls => 5000,
            Workload::Tiny => 8000,
            Workload::Series => 1000,
            Workload::Wide => 4,
            Workload::Arrays => 600,
            Workload::Bytea => 2000,
            Workload::Insert => 8,
            Workload::Typed => 30,
            Workload::TypedVsIndex => 10,
            Workload::InList => 300,
            // Split across 64 tasks; a multiple of 8 so pgbench's 8 clients share it evenly.
            Workload::Pool => 30_000,
            Workload::SeaOrmLoader => 60,
            Workload::SeaOrmAll => 30,
            Workload::CopyIn | Workload::CopyOut => 1,
            Workload::Pipeline => 100,
        }
    }

    /// Rows one operation returns or writes (for the CPU-per-row column).
    pub fn rows_per_op(self) -> u64 {
        match self {
            Workload::Point
            | Workload::Tiny
            | Workload::Pool
            | Workload::Blocking
            | Workload::PointTls => 1,
            Workload::Series => 1000,
            Workload::Wide | Workload::TypedVsIndex => WIDE_ROWS,
            Workload::Arrays | Workload::Bytea => 100,
            Workload::Insert => BATCH as u64,
            Workload::Typed => 10_000,
            // Lists of 1..=1000 ids: about 500 rows on average.
            Workload::InList => 500,
            // 2,500 keys on average, parent p has p % 3 children: about 2,500 children.
            Workload::SeaOrmLoader => 2500,
            Workload::SeaOrmAll => 10_000,
            Workload::CopyIn | Workload::CopyOut => crate::copy::ROWS as u64,
            Workload::Pipeline => crate::pipeline::STATEMENTS as u64,
        }
    }

    pub fn contestants(self, python: bool) -> Vec<Contestant> {
        match self {
            Workload::TypedVsIndex => vec![Contestant::Pgtusk, Contestant::PgtuskByIndex],
            Workload::Pool => {
                let mut c = vec![
                    Contestant::Pgtusk,
                    Contestant::PgtuskAcquire,
                    Contestant::Deadpool,
                    Contestant::Sqlx,
                    Contestant::SqlxNoPing,
                ];
                if python {
                    c.push(Contestant::Asyncpg);
                }
                c.push(Contestant::Pgbench);
                c
            }
            Workload::CopyOut => {
                let mut c = vec![Contestant::Pgtusk, Contestant::TokioPostgres];
                if python {
                    c.push(Contestant::Asyncpg);
                }
                c
            }
            // asyncpg has no pipeline of different statements.
            Workload::Pipeline => vec![
                Contestant::Pgtusk,
                Contestant::TokioPostgres,
                Contestant::Sqlx,
                Contestant::PgtuskAtomic,
            ],
            // The async drivers on the harness's current-thread runtime, for reference.
            Workload::Blocking => vec![
                Contestant::PgtuskBlocking,
                Contestant::Postgres,
                Contestant::Pgtusk,
                Contestant::TokioPostgres,
            ],
            // Each driver with its rustls integration; asyncpg is not set up for TLS here.
            Workload::PointTls => vec![
                Contestant::Pgtusk,
                Contestant::TokioPostgresRustls,
                Contestant::SqlxRustls,
            ],
            Workload::SeaOrmLoader | Workload::SeaOrmAll => vec![
                Contestant::SeaOrmPgtusk,
                Contestant::SeaOrmSqlx,
                Contestant::SeaOrmSqlxNoPing,
            ],
            _ => {
                let mut c = vec![
                    Contestant::Pgtusk,
                    Contestant::TokioPostgres,
                    Contestant::Sqlx,
                ];
                if python {
                    c.push(Contestant::Asyncpg);
                }
                c
            }
        }
    }

    /// Why a workload is not run, if it is not.
    pub fn skipped(self) -> Option<&'static str> {
        None
    }

    /// What a reader must know to read the row right.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Workload::Insert => Some(
                "pgtusk execute_many of tuples (pipelined, one Sync); tokio-postgres pipelines (joined futures) in a transaction; sqlx loops in a transaction (no pipelining); asyncpg executemany (pipelined)",
            ),
            Workload::InList => Some(
                "one sea-query SELECT ... WHERE id IN (list) per op; pgtusk-dialect renders it as id = ANY($1::int4[]) (one parameter, one cached statement for every length); sea-query-postgres and sea-query-sqlx render plain IN ($1, ..., $n): tokio-postgres query(&str) prepares each one anew (Parse/Describe round trip, then Bind/Execute), sqlx caches a statement per SQL text (up to 1000 lengths, its cache holds 100); asyncpg runs id = ANY($1::int4[]) with a list",
            ),
            Workload::Pool => Some(
                "a 2-worker multi-thread tokio runtime for every Rust pool; 64 tasks share the phase's ops. pgtusk: (&pool).fetch_one (the Executor on &Pool), pgtusk acquire: pool.acquire() then conn.fetch_one; deadpool-postgres: pool.get(), prepare_cached, query_one (RecyclingMethod::Fast, the default); sqlx: PgPool, query().fetch_one(&pool) with its defaults (test_before_acquire pings each acquire: one extra round trip), sqlx no ping: the same with test_before_acquire(false); asyncpg: create_pool(min_size=8, max_size=8), pool.fetchrow (its release runs the reset query: one extra round trip); pgbench: -S -M prepared -c 8 -j 2 on its own pgbench_accounts (scale 10, also 1M rows), its tps without connection time, client CPU from the children's utime+stime in 10 ms ticks (connection setup included), no checksum (the count of transactions is checked)",
            ),
            Workload::SeaOrmLoader => Some(
                "parents.load_many(child::Entity, &db) over the phase's parent models (built before the timer; ids from one LCG per phase, repeats allowed); sea-orm renders (\"parent_id\") IN (($1), ($2), ...) ORDER BY id over the distinct keys. sea-orm/pgtusk: TuskDatabase over a pgtusk Pool of 1 connection (the rewrite sends one array parameter: one cached statement for every length); sea-orm/sqlx: Database::connect with max_connections(1), its defaults otherwise (a new statement text per length, and test_before_acquire pings each acquire: one more round trip); sea-orm/sqlx no ping: the same with test_before_acquire(false)",
            ),
            Workload::SeaOrmAll => Some(
                "wide::Entity::find().all(&db): i int4, t text, ts timestamptz (DateTimeWithTimeZone), n numeric (Decimal); the same pools as sea-orm-loader",
            ),
            Workload::CopyIn => Some(
                "into an empty UNLOGGED table (truncated before each phase), from 1M rows built in memory before the timer: pgtusk copy_in_rows (binary, the column types from the server, tuples encoded straight into CopyData); tokio-postgres BinaryCopyInWriter (binary); sqlx copy_in_raw with text lines formatted by the caller (sqlx has no typed COPY; the formatting is timed, as its users must do it); asyncpg copy_records_to_table (binary) from a list of tuples",
            ),
            Workload::CopyOut => Some(
                "COPY (SELECT i, t, ts, n FROM bench_copy_src) TO STDOUT (FORMAT binary): pgtusk copy_out_rows (Records sharing the CopyData bytes, decoded with try_get); tokio-postgres BinaryCopyOutStream (decoded with try_get); asyncpg copy_from_query raw (its output callback only counts the bytes: Python has no binary COPY decoder, so it decodes nothing); sqlx has only raw COPY out and is left out",
            ),
            Workload::Pipeline => Some(
                "one op = 100 point selects, each its own SQL text (SELECT v + k, t ... WHERE id = $1, k in 0..100), all cached after the warm-up; pgtusk conn.pipeline() with 100 fetch_one tickets, then run (one write, a Sync per statement); tokio-postgres 100 query_one futures under join_all on one client (pipelined by its connection task); sqlx has no pipeline: the 100 queries one after another (100 round trips); pgtusk atomic: conn.atomic_pipeline(), one Sync for the 100 (one implicit transaction: the server commits and flushes once), for information; asyncpg has no pipeline of different statements and is left out",
            ),
            Workload::Blocking => Some(
                "workload 1's point selects (the same ids and checksum) from the harness's main thread outside any runtime: pgtusk blocking: pgtusk::blocking::Connection::fetch_one (its own current-thread runtime); postgres: the postgres crate (tokio-postgres's blocking wrapper, its own current-thread runtime), a statement prepared once and query_one; pgtusk and tokio-postgres: the async drivers exactly as in workload 1 (a current-thread runtime's block_on around the whole phase), for reference: the gap is what the blocking layer costs per call",
            ),
            Workload::PointTls => Some(
                "workload 1's point selects (the same ids, statements and checksum) over TLS, on one connection per driver made for this workload to the same server (TempCluster with ssl=on and a CA made at start), each verifying the server's certificate against that CA and its name (127.0.0.1): pgtusk sslmode=verify-full with sslrootcert (rustls, ring); tokio-postgres-rustls MakeRustlsConnect with a rustls ClientConfig (ring, the CA as the only root) and sslmode=require (tokio-postgres has no verify modes: rustls' verifier checks the chain and the name); sqlx with tls-rustls-ring-webpki, PgSslMode::VerifyFull and ssl_root_cert; the handshake is made once, before the rounds, so the rows measure a warm TLS session's record encryption and decryption per query; asyncpg is left out",
            ),
            Workload::TypedVsIndex => Some(
                "both stream the same rows through fetch_stream; ratio = fetch_as / by-index (>= 1.0 means fetch_as is no slower)",
            ),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Contestant {
    Pgtusk,
    PgtuskByIndex,
    /// Workload 9: `pool.acquire()` then the connection's query method.
    PgtuskAcquire,
    /// Workload 13: `conn.atomic_pipeline()` (one Sync for the whole pipeline).
    PgtuskAtomic,
    TokioPostgres,
    /// Workload 9: tokio-postgres through deadpool-postgres.
    Deadpool,
    Sqlx,
    /// Workload 9: sqlx's pool with `test_before_acquire(false)`.
    SqlxNoPing,
    Asyncpg,
    /// Workload 9: PostgreSQL's own C client, as a reference.
    Pgbench,
    /// Workload 10: sea-orm on pgtusk (`TuskDatabase` over a `Pool`).
    SeaOrmPgtusk,
    /// Workload 10: sea-orm on sqlx (`sea_orm::Database::connect`).
    SeaOrmSqlx,
    /// Workload 10: sea-orm on sqlx with `test_before_acquire(false)`.
    SeaOrmSqlxNoPing,
    /// Workload 14: `pgtusk::blocking::Connection`.
    PgtuskBlocking,
    /// Workload 14: the `postgres` crate (tokio-postgres's blocking wrapper).
    Postgres,
    /// Workload 15: tokio-postgres over TLS through tokio-postgres-rustls.
    TokioPostgresRustls,
    /// Workload 15: sqlx over TLS with its rustls feature.
    SqlxRustls,
}

impl Contestant {
    pub fn name(self) -> &'static str {
        match self {
            Contestant::Pgtusk => "pgtusk",
            Contestant::PgtuskByIndex => "pgtusk by index",
            Contestant::PgtuskAcquire => "pgtusk acquire",
            Contestant::PgtuskAtomic => "pgtusk atomic",
            Contestant::TokioPostgres => "tokio-postgres",
            Contestant::Deadpool => "deadpool-postgres",
            Contestant::Sqlx => "sqlx",
            Contestant::SqlxNoPing => "sqlx no ping",
            Contestant::Asyncpg => "asyncpg",
            Contestant::Pgbench => "pgbench",
            Contestant::SeaOrmPgtusk => "sea-orm/pgtusk",
            Contestant::SeaOrmSqlx => "sea-orm/sqlx",
            Contestant::SeaOrmSqlxNoPing => "sea-orm/sqlx no ping",
            Contestant::PgtuskBlocking => "pgtusk blocking",
            Contestant::Postgres => "postgres",
            Contestant::TokioPostgresRustls => "tokio-postgres-rustls",
            Contestant::SqlxRustls => "sqlx rustls",
        }
    }
}

/// The id the k-th point select of a phase asks for (same formula in asyncpg_runner.py).
pub fn point_id(seed: u64, k: u64) -> i32 {
    ((seed * 7919 + k * 104_729) % POINT_ROWS + 1) as i32
}

/// Workload 1's phase on pgtusk: `ops` point selects, summed into the checksum.
pub async fn point_pgtusk(conn: &mut pgtusk::Connection, ops: usize, seed: u64) -> R<i64> {
    let mut s = 0i64;
    for k in 0..ops as u64 {
        let row = conn.fetch_one(POINT, &[&point_id(seed, k)]).await?;
        s += row.try_get::<i64>(0)? + row.try_get::<&str>(1)?.len() as i64;
    }
    Ok(s)
}

/// Workload 1's phase on tokio-postgres, on `st` (POINT, prepared once: its best way).
pub async fn point_tokio_postgres(
    client: &tokio_postgres::Client,
    st: &tokio_postgres::Statement,
    ops: usize,
    seed: u64,
) -> R<i64> {
    let mut s = 0i64;
    for k in 0..ops as u64 {
        let row = client.query_one(st, &[&point_id(seed, k)]).await?;
        s += row.try_get::<_, i64>(0)? + row.try_get::<_, &str>(1)?.len() as i64;
    }
    Ok(s)
}

/// Workload 1's phase on sqlx (`sqlx::query` caches the prepared statement per connection).
pub async fn point_sqlx(conn: &mut sqlx::PgConnection, ops: usize, seed: u64) -> R<i64> {
    let mut s = 0i64;
    for k in 0..ops as u64 {
        let row = sqlx::query(POINT)
            .bind(point_id(seed, k))
            .fetch_one(&mut *conn)
            .await?;
        s += row.try_get::<i64, _>(0)? + row.try_get::<&str, _>(1)?.len() as i64;
    }
    Ok(s)
}

/// The checksum a point-select phase must return.
pub fn point_expected(seed: u64, ops: usize) -> i64 {
    (0..ops as u64)
        .map(|k| {
            let id = point_id(seed, k);
            // The row's name is `name-{id}`: its length without formatting it (the expected
            // checksum is worked out inside the measured `phase` function).
            let digits = id.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
            3 * i64::from(id) + "name-".len() as i64 + i64::from(digits)
        })
        .sum()
}

/// The IN-list phase's id lists: a 64-bit LCG (the same in asyncpg_runner.py) seeded by the
/// phase's seed; each list has a length in 1..=1000 and ids in 1..=POINT_ROWS (repeats allowed).
pub fn inlist_lists(seed: u64, ops: usize) -> Vec<Vec<i32>> {
    lcg_lists(seed, ops, 1000, POINT_ROWS)
}

/// `ops` lists of ids from one 64-bit LCG seeded by `seed`: lengths in 1..=max_len, ids in
/// 1..=max_id (repeats allowed).
pub fn lcg_lists(seed: u64, ops: usize, max_len: u64, max_id: u64) -> Vec<Vec<i32>> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    (0..ops)
        .map(|_| {
            let len = next() % max_len + 1;
            (0..len).map(|_| (next() % max_id + 1) as i32).collect()
        })
        .collect()
}

/// One IN-list operation: its ids and what the point table must answer (ids are unique keys,
/// so one row per distinct id).
pub struct InListOp {
    pub ids: Vec<i32>,
    pub rows: usize,
    pub id_sum: i64,
}

impl InListOp {
    fn new(ids: Vec<i32>) -> Self {
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        InListOp {
            rows: distinct.len(),
            id_sum: distinct.iter().map(|&i| i64::from(i)).sum(),
            ids,
        }
    }

    /// The same statement for every Rust driver.
    fn select(&self) -> SelectStatement {
        Query::select()
            .columns(["id", "v"])
            .from("bench_point")
            .and_where(Expr::col("id").is_in(self.ids.iter().copied()))
            .to_owned()
    }

    /// Checks one answer (row count, sum of ids, v = 3 id) and returns its checksum.
    fn check(&self, rows: usize, id_sum: i64, v_sum: i64) -> R<i64> {
        if rows != self.rows || id_sum != self.id_sum || v_sum != 3 * id_sum {
            return Err(format!(
                "IN list of {} ids: {rows} rows, id sum {id_sum}, v sum {v_sum}; expected {} rows, id sum {}",
                self.ids.len(),
                self.rows,
                self.id_sum
            )
            .into());
        }
        Ok(id_sum + v_sum)
    }
}

/// The checksum an IN-list phase must return.
pub fn inlist_expected(seed: u64, ops: usize) -> i64 {
    inlist_lists(seed, ops)
        .into_iter()
        .map(|ids| 4 * InListOp::new(ids).id_sum)
        .sum()
}

/// A row of the wide table as a struct: derived for pgtusk and sqlx, built by hand for
/// tokio-postgres.
#[derive(Debug, pgtusk::FromRecord, sqlx::FromRow)]
pub struct Wide {
    pub i: i32,
    pub t: String,
    pub ts: DateTime<Utc>,
    pub n: Decimal,
}

impl Wide {
    fn sum(&self) -> i64 {
        wide_sum(self.i, &self.t, &self.ts, self.n)
    }
}

pub fn wide_sum(i: i32, t: &str, ts: &DateTime<Utc>, n: Decimal) -> i64 {
    let mut n = n;
    n.rescale(2);
    i64::from(i) + t.len() as i64 + ts.timestamp() + n.mantissa() as i64
}

/// Values for the insert batch, built once outside the timed phases.
pub struct InsertRows {
    pub ids: Vec<i32>,
    pub vals: Vec<String>,
}

impl InsertRows {
    pub fn new() -> Self {
        let ids: Vec<i32> = (1..=BATCH as i32).collect();
        let vals = ids.iter().map(|i| format!("v{i}")).collect();
        InsertRows { ids, vals }
    }
}

/// Workloads 9 and 10 run on pools (pool.rs, orm.rs), not on these connections.
const ELSEWHERE: &str =
    "workloads 9 and 10 run on the pools in pool.rs and orm.rs, not on one connection";
/// Workload 15 runs on the TLS connections of tls.rs, not on these plain ones.
const ON_TLS: &str = "workload 15 runs on the TLS connections in tls.rs, not on the plain ones";

/// One connection per Rust driver, kept for the whole run.
pub struct Conns {
    pub pg: pgtusk::Connection,
    pub tp: tokio_postgres::Client,
    tp_stmts: HashMap<&'static str, tokio_postgres::Statement>,
    /// Workload 13's statements, prepared on first use.
    tp_pipeline: Vec<tokio_postgres::Statement>,
    pub sx: sqlx::PgConnection,
    pub rows: InsertRows,
    /// The current IN-list phase's lists, made before the timer starts.
    inlist: Vec<InListOp>,
    /// Workload 11's rows, made once before its first phase.
    copy_rows: Vec<crate::copy::Row>,
}

impl Conns {
    pub async fn connect(dsn: &str) -> R<Conns> {
        let pg = pgtusk::Connection::connect(dsn).await?;
        let (tp, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("tokio-postgres connection: {e}");
            }
        });
        let sx = sqlx::PgConnection::connect(dsn).await?;
        Ok(Conns {
            pg,
            tp,
            tp_stmts: HashMap::new(),
            tp_pipeline: Vec::new(),
            sx,
            rows: InsertRows::new(),
            inlist: Vec::new(),
            copy_rows: Vec::new(),
        })
    }

    /// Builds a phase's inputs outside the timed section.
    pub fn prepare(&mut self, w: Workload, ops: usize, seed: u64) {
        if w == Workload::CopyIn && self.copy_rows.is_empty() {
            self.copy_rows = crate::copy::rows();
        }
        if w == Workload::InList {
            self.inlist = inlist_lists(seed, ops)
                .into_iter()
                .map(InListOp::new)
                .collect();
        }
    }

    /// tokio-postgres's best way: a statement prepared once and reused.
    async fn tp_stmt(&mut self, sql: &'static str) -> R<tokio_postgres::Statement> {
        if let Some(s) = self.tp_stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tp.prepare(sql).await?;
        self.tp_stmts.insert(sql, s.clone());
        Ok(s)
    }

    /// Runs one phase (`ops` operations) of `w` on `c` and returns its checksum.
    pub async fn run(&mut self, c: Contestant, w: Workload, ops: usize, seed: u64) -> R<i64> {
        match c {
            Contestant::Pgtusk | Contestant::PgtuskByIndex | Contestant::PgtuskAtomic => {
                self.pgtusk(c, w, ops, seed).await
            }
            Contestant::TokioPostgres => self.tokio_postgres(w, ops, seed).await,
            Contestant::Sqlx => self.sqlx(w, ops, seed).await,
            Contestant::Asyncpg => Err("asyncpg runs in its own process".into()),
            Contestant::PgtuskAcquire
            | Contestant::Deadpool
            | Contestant::SqlxNoPing
            | Contestant::Pgbench => Err(format!("{} runs workload 9 only", c.name()).into()),
            Contestant::SeaOrmPgtusk | Contestant::SeaOrmSqlx | Contestant::SeaOrmSqlxNoPing => {
                Err(format!("{} runs workload 10 only", c.name()).into())
            }
            Contestant::PgtuskBlocking | Contestant::Postgres => {
                Err(format!("{} runs workload 14 only, outside the runtime", c.name()).into())
            }
            Contestant::TokioPostgresRustls | Contestant::SqlxRustls => {
                Err(format!("{} runs workload 15 only", c.name()).into())
            }
        }
    }

    async fn pgtusk(&mut self, c: Contestant, w: Workload, ops: usize, seed: u64) -> R<i64> {
        let conn = &mut self.pg;
        let mut s = 0i64;
        match w {
            Workload::Pipeline => {
                let atomic = c == Contestant::PgtuskAtomic;
                return crate::pipeline::pgtusk(conn, atomic, ops, seed).await;
            }
            // Workload 14's async reference is workload 1's phase.
            Workload::Point | Workload::Blocking => return point_pgtusk(conn, ops, seed).await,
            Workload::Tiny => {
                for _ in 0..ops {
                    s += i64::from(conn.fetch_value::<i32>(TINY, &[]).await?);
                }
            }
            Workload::Series => {
                for _ in 0..ops {
                    for row in conn.fetch(SERIES, &[]).await? {
                        s += i64::from(row.try_get::<i32>(0)?);
                    }
                }
            }
            Workload::Wide => {
                for _ in 0..ops {
                    for row in conn.fetch(WIDE, &[]).await? {
                        s += wide_sum(
                            row.try_get(0)?,
                            row.try_get(1)?,
                            &row.try_get(2)?,
                            row.try_get(3)?,
                        );
                    }
                }
            }
            Workload::Arrays => {
                for _ in 0..ops {
                    for row in conn.fetch(ARRAYS, &[]).await? {
                        let a: Vec<i32> = row.try_get(0)?;
                        s += a.iter().map(|&x| i64::from(x)).sum::<i64>() + a.len() as i64;
                    }
                }
            }
            Workload::Bytea => {
                for _ in 0..ops {
                    for row in conn.fetch(BYTEA, &[]).await? {
                        s += bytes_sum(row.try_get::<&[u8]>(0)?);
                    }
                }
            }
            Workload::Insert => {
                let rows = &self.rows;
                for _ in 0..ops {
                    // execute_many pipelines the batch behind one Sync: one implicit
                    // transaction, as the peers' explicit ones. Each set is a tuple (a
                    // ToRecord row): its values are written with direct calls.
                    let sets = rows.ids.iter().zip(&rows.vals);
                    s += conn.execute_many(INSERT, sets).await? as i64;
                }
            }
            Workload::Typed => {
                for _ in 0..ops {
                    for x in conn.fetch_as::<Wide>(TYPED, &[]).await? {
                        s += x.sum();
                    }
                }
            }
            Workload::TypedVsIndex if c == Contestant::Pgtusk => {
                for _ in 0..ops {
                    for x in conn.fetch_as::<Wide>(WIDE, &[]).await? {
                        s += x.sum();
                    }
                }
            }
            Workload::TypedVsIndex => {
                // The same streaming path fetch_as takes, with the struct built by index by hand.
                for _ in 0..ops {
                    let mut out = Vec::new();
                    let mut rows = conn.fetch_stream(WIDE, &[]).await?;
                    while let Some(row) = rows.try_next().await? {
                        out.push(Wide {
                            i: row.try_get(0)?,
                            t: row.try_get(1)?,
                            ts: row.try_get(2)?,
                            n: row.try_get(3)?,
                        });
                    }
                    for x in out {
                        s += x.sum();
                    }
                }
            }
            Workload::CopyIn => {
                for _ in 0..ops {
                    s += crate::copy::pgtusk_in(conn, &self.copy_rows).await?;
                }
            }
            Workload::CopyOut => {
                for _ in 0..ops {
                    s += crate::copy::pgtusk_out(conn).await?;
                }
            }
            Workload::Pool | Workload::SeaOrmLoader | Workload::SeaOrmAll => {
                return Err(ELSEWHERE.into());
            }
            Workload::PointTls => return Err(ON_TLS.into()),
            Workload::InList => {
                for op in &self.inlist {
                    let rows = op.select().fetch_all(&mut *conn).await?;
                    let (mut ids, mut vs) = (0i64, 0i64);
                    for row in &rows {
                        ids += i64::from(row.try_get::<i32>(0)?);
                        vs += row.try_get::<i64>(1)?;
                    }
                    s += op.check(rows.len(), ids, vs)?;
                }
            }
        }
        Ok(s)
    }

    async fn tokio_postgres(&mut self, w: Workload, ops: usize, seed: u64) -> R<i64> {
        let mut s = 0i64;
        match w {
            Workload::Pipeline => {
                let stmts = &mut self.tp_pipeline;
                return crate::pipeline::tokio_postgres(&self.tp, stmts, ops, seed).await;
            }
            Workload::Point | Workload::Blocking => {
                let st = self.tp_stmt(POINT).await?;
                return point_tokio_postgres(&self.tp, &st, ops, seed).await;
            }
            Workload::Tiny => {
                let st = self.tp_stmt(TINY).await?;
                for _ in 0..ops {
                    s += i64::from(self.tp.query_one(&st, &[]).await?.try_get::<_, i32>(0)?);
                }
            }
            Workload::Series => {
                let st = self.tp_stmt(SERIES).await?;
                for _ in 0..ops {
                    for row in self.tp.query(&st, &[]).await? {
                        s += i64::from(row.try_get::<_, i32>(0)?);
                    }
                }
            }
            Workload::Wide => {
                let st = self.tp_stmt(WIDE).await?;
                for _ in 0..ops {
                    for row in self.tp.query(&st, &[]).await? {
                        s += wide_sum(
                            row.try_get(0)?,
                            row.try_get(1)?,
                            &row.try_get(2)?,
                            row.try_get(3)?,
                        );
                    }
                }
            }
            Workload::Arrays => {
                let st = self.tp_stmt(ARRAYS).await?;
                for _ in 0..ops {
                    for row in self.tp.query(&st, &[]).await? {
                        let a: Vec<i32> = row.try_get(0)?;
                        s += a.iter().map(|&x| i64::from(x)).sum::<i64>() + a.len() as i64;
                    }
                }
            }
            Workload::Bytea => {
                let st = self.tp_stmt(BYTEA).await?;
                for _ in 0..ops {
                    for row in self.tp.query(&st, &[]).await? {
                        s += bytes_sum(row.try_get::<_, &[u8]>(0)?);
                    }
                }
            }
            Workload::Insert => {
                let st = self.tp_stmt(INSERT).await?;
                for _ in 0..ops {
                    self.tp.batch_execute("BEGIN").await?;
                    let rows = &self.rows;
                    let futs = rows.ids.iter().zip(&rows.vals).map(|(id, v)| {
                        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [id, v];
                        self.tp.execute_raw(&st, params)
                    });
                    // Joined futures: tokio-postgres pipelines them on its connection task.
                    for n in futures_util::future::try_join_all(futs).await? {
                        s += n as i64;
                    }
                    self.tp.batch_execute("COMMIT").await?;
                }
            }
            Workload::Typed => {
                let st = self.tp_stmt(TYPED).await?;
                for _ in 0..ops {
                    let rows = self.tp.query(&st, &[]).await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for row in rows {
                        out.push(Wide {
                            i: row.try_get(0)?,
                            t: row.try_get(1)?,
                            ts: row.try_get(2)?,
                            n: row.try_get(3)?,
                        });
                    }
                    for x in out {
                        s += x.sum();
                    }
                }
            }
            Workload::InList => {
                for op in &self.inlist {
                    let (sql, values) = op.select().build_postgres(PostgresQueryBuilder);
                    let rows = self.tp.query(&sql, &values.as_params()).await?;
                    let (mut ids, mut vs) = (0i64, 0i64);
                    for row in &rows {
                        ids += i64::from(row.try_get::<_, i32>(0)?);
                        vs += row.try_get::<_, i64>(1)?;
                    }
                    s += op.check(rows.len(), ids, vs)?;
                }
            }
            Workload::TypedVsIndex => return Err("not runnable".into()),
            Workload::CopyIn => {
                for _ in 0..ops {
                    s += crate::copy::tokio_postgres_in(&self.tp, &self.copy_rows).await?;
                }
            }
            Workload::CopyOut => {
                for _ in 0..ops {
                    s += crate::copy::tokio_postgres_out(&self.tp).await?;
                }
            }
            Workload::Pool | Workload::SeaOrmLoader | Workload::SeaOrmAll => {
                return Err(ELSEWHERE.into());
            }
            Workload::PointTls => return Err(ON_TLS.into()),
        }
        Ok(s)
    }

    async fn sqlx(&mut self, w: Workload, ops: usize, seed: u64) -> R<i64> {
        let conn = &mut self.sx;
        let mut s = 0i64;
        match w {
            Workload::Pipeline => return crate::pipeline::sqlx_sequential(conn, ops, seed).await,
            Workload::Point => return point_sqlx(conn, ops, seed).await,
            Workload::Tiny => {
                for _ in 0..ops {
                    let v: i32 = sqlx::query_scalar(TINY).fetch_one(&mut *conn).await?;
                    s += i64::from(v);
                }
            }
            Workload::Series => {
                for _ in 0..ops {
                    for row in sqlx::query(SERIES).fetch_all(&mut *conn).await? {
                        s += i64::from(row.try_get::<i32, _>(0)?);
                    }
                }
            }
            Workload::Wide => {
                for _ in 0..ops {
                    for row in sqlx::query(WIDE).fetch_all(&mut *conn).await? {
                        s += wide_sum(
                            row.try_get(0)?,
                            row.try_get(1)?,
                            &row.try_get(2)?,
                            row.try_get(3)?,
                        );
                    }
                }
            }
            Workload::Arrays => {
                for _ in 0..ops {
                    for row in sqlx::query(ARRAYS).fetch_all(&mut *conn).await? {
                        let a: Vec<i32> = row.try_get(0)?;
                        s += a.iter().map(|&x| i64::from(x)).sum::<i64>() + a.len() as i64;
                    }
                }
            }
            Workload::Bytea => {
                for _ in 0..ops {
                    for row in sqlx::query(BYTEA).fetch_all(&mut *conn).await? {
                        s += bytes_sum(row.try_get::<&[u8], _>(0)?);
                    }
                }
            }
            Workload::Insert => {
                let rows = &self.rows;
                for _ in 0..ops {
                    let mut tx = conn.begin().await?;
                    for (id, v) in rows.ids.iter().zip(&rows.vals) {
                        let done = sqlx::query(INSERT)
                            .bind(id)
                            .bind(v)
                            .execute(&mut *tx)
                            .await?;
                        s += done.rows_affected() as i64;
                    }
                    tx.commit().await?;
                }
            }
            Workload::Typed => {
                for _ in 0..ops {
                    let out: Vec<Wide> = sqlx::query_as(TYPED).fetch_all(&mut *conn).await?;
                    for x in out {
                        s += x.sum();
                    }
                }
            }
            Workload::InList => {
                for op in &self.inlist {
                    let (sql, values) = op.select().build_sqlx(PostgresQueryBuilder);
                    let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), values)
                        .fetch_all(&mut *conn)
                        .await?;
                    let (mut ids, mut vs) = (0i64, 0i64);
                    for row in &rows {
                        ids += i64::from(row.try_get::<i32, _>(0)?);
                        vs += row.try_get::<i64, _>(1)?;
                    }
                    s += op.check(rows.len(), ids, vs)?;
                }
            }
            Workload::TypedVsIndex => return Err("not runnable".into()),
            Workload::CopyIn => {
                for _ in 0..ops {
                    s += crate::copy::sqlx_in(conn, &self.copy_rows).await?;
                }
            }
            Workload::CopyOut => return Err("sqlx has no typed COPY out".into()),
            Workload::Blocking => return Err("sqlx has no blocking API".into()),
            Workload::Pool | Workload::SeaOrmLoader | Workload::SeaOrmAll => {
                return Err(ELSEWHERE.into());
            }
            Workload::PointTls => return Err(ON_TLS.into()),
        }
        Ok(s)
    }
}

fn bytes_sum(b: &[u8]) -> i64 {
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => b.len() as i64 + i64::from(f) + i64::from(l),
        _ => 0,
    }
}
