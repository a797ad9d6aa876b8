//! Workload 9: each Rust driver's pool of 8 connections, 64 tasks sharing a phase's cached
//! point selects, on one 2-worker multi-thread tokio runtime that every Rust pool shares (the
//! other workloads run one connection on a current-thread runtime).
//!
//! Task `t` runs the ops `k = t, t + 64, t + 128, …` of the phase, so the ids and the checksum
//! are workload 1's (`point_id`, `point_expected`) whatever the interleaving.

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod};
use futures_util::future::try_join_all;
use pgtusk::Executor as _;
use sqlx::Row as _;
use sqlx::postgres::PgPoolOptions;
use tokio::task::JoinSet;

use crate::workloads::{Contestant, POINT, R, point_id};

/// Connections in every pool.
pub const POOL_SIZE: u32 = 8;
/// Concurrent tasks sharing a phase's operations.
pub const TASKS: u64 = 64;
/// Worker threads of the runtime the Rust pools run on (this machine has 2 cores).
pub const WORKERS: usize = 2;

/// The Rust drivers' pools and the runtime they live on (their sockets are registered with
/// its reactor, so they are only used inside its `block_on`).
pub struct Pools {
    rt: tokio::runtime::Runtime,
    pg: pgtusk::Pool,
    deadpool: deadpool_postgres::Pool,
    sqlx: sqlx::PgPool,
    sqlx_no_ping: sqlx::PgPool,
}

impl Pools {
    /// Opens every pool with all its connections, so no phase pays for a connect.
    pub fn connect(dsn: &str) -> R<Pools> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .enable_all()
            .build()?;
        let (pg, deadpool, sqlx, sqlx_no_ping) = rt.block_on(async {
            // Default options otherwise (as asyncpg's: replaced after 50,000 queries, pinged
            // after 60 s idle, neither of which happens in a run).
            let pg = pgtusk::Pool::builder(dsn.parse()?)
                .min_connections(POOL_SIZE as usize)
                .max_connections(POOL_SIZE as usize)
                .build()
                .await?;
            let manager = Manager::from_config(
                dsn.parse::<tokio_postgres::Config>()?,
                tokio_postgres::NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            let deadpool = deadpool_postgres::Pool::builder(manager)
                .max_size(POOL_SIZE as usize)
                .build()?;
            // deadpool opens connections on demand: take all of them once.
            drop(try_join_all((0..POOL_SIZE).map(|_| deadpool.get())).await?);

            let sqlx = sqlx_pool(dsn, true).await?;
            let sqlx_no_ping = sqlx_pool(dsn, false).await?;
            R::Ok((pg, deadpool, sqlx, sqlx_no_ping))
        })?;
        Ok(Pools {
            rt,
            pg,
            deadpool,
            sqlx,
            sqlx_no_ping,
        })
    }

    /// Runs one phase (`ops` point selects over 64 tasks) on `c`'s pool; returns the checksum.
    pub fn run(&self, c: Contestant, ops: usize, seed: u64) -> R<i64> {
        self.rt.block_on(async {
            let mut set = JoinSet::new();
            for t in 0..TASKS {
                let ids = task_ids(seed, ops, t);
                match c {
                    Contestant::Pgtusk => {
                        let pool = self.pg.clone();
                        set.spawn(async move {
                            let mut s = 0i64;
                            for id in ids {
                                // The Executor on &Pool: acquire, query, release.
                                let row = (&pool).fetch_one(POINT, &[&id]).await?;
                                s += row.try_get::<i64>(0)? + row.try_get::<&str>(1)?.len() as i64;
                            }
                            R::Ok(s)
                        });
                    }
                    Contestant::PgtuskAcquire => {
                        let pool = self.pg.clone();
                        set.spawn(async move {
                            let mut s = 0i64;
                            for id in ids {
                                let mut conn = pool.acquire().await?;
                                let row = conn.fetch_one(POINT, &[&id]).await?;
                                s += row.try_get::<i64>(0)? + row.try_get::<&str>(1)?.len() as i64;
                            }
                            R::Ok(s)
                        });
                    }
                    Contestant::Deadpool => {
                        let pool = self.deadpool.clone();
                        set.spawn(async move {
                            let mut s = 0i64;
                            for id in ids {
                                let client = pool.get().await?;
                                let st = client.prepare_cached(POINT).await?;
                                let row = client.query_one(&st, &[&id]).await?;
                                s += row.try_get::<_, i64>(0)?
                                    + row.try_get::<_, &str>(1)?.len() as i64;
                            }
                            R::Ok(s)
                        });
                    }
                    Contestant::Sqlx | Contestant::SqlxNoPing => {
                        let pool = if c == Contestant::Sqlx {
                            self.sqlx.clone()
                        } else {
                            self.sqlx_no_ping.clone()
                        };
                        set.spawn(async move {
                            let mut s = 0i64;
                            for id in ids {
                                let row = sqlx::query(POINT).bind(id).fetch_one(&pool).await?;
                                s += row.try_get::<i64, _>(0)?
                                    + row.try_get::<&str, _>(1)?.len() as i64;
                            }
                            R::Ok(s)
                        });
                    }
                    _ => return Err(format!("{} has no pool in workload 9", c.name()).into()),
                }
            }
            let mut sum = 0i64;
            while let Some(done) = set.join_next().await {
                sum += done??;
            }
            Ok(sum)
        })
    }
}

/// sqlx's pool as the brief sets it (8 connections, min 8), pinging on acquire or not.
async fn sqlx_pool(dsn: &str, ping: bool) -> R<sqlx::PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .min_connections(POOL_SIZE)
        .test_before_acquire(ping)
        .connect(dsn)
        .await?;
    // min_connections is kept by a background task: open them all now.
    drop(try_join_all((0..POOL_SIZE).map(|_| pool.acquire())).await?);
    Ok(pool)
}

/// The ids task `t` asks for: the phase's ops `t, t + TASKS, …` below `ops`.
fn task_ids(seed: u64, ops: usize, t: u64) -> impl Iterator<Item = i32> + Send + 'static {
    (t..ops as u64)
        .step_by(TASKS as usize)
        .map(move |k| point_id(seed, k))
}
