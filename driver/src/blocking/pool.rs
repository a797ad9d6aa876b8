//! [`Pool`]: the async [`Pool`](crate::Pool) with blocking methods, on a runtime whose worker
//! runs the pool's maintenance and its connections' cleanup between calls.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::{Connection, Runtime, Transaction};
use crate::error::Result;
use crate::{PoolOptions, PoolStatus};

/// A pool of blocking connections shared by many threads; `Send + Sync`, cheap to clone.
///
/// It owns a multi-thread tokio runtime with one worker thread (see the
/// [module documentation](super) for why): the async pool's maintenance task (idle
/// connections expired, `min_connections` kept) and the cleaning of released connections run
/// there, while each caller's request runs on the caller's own thread.
///
/// ```no_run
/// use pgtusk::blocking::Pool;
///
/// # fn demo() -> pgtusk::Result<()> {
/// let pool = Pool::connect("postgres://postgres@localhost/postgres")?;
/// let workers: Vec<_> = (0..4)
///     .map(|i| {
///         let pool = pool.clone();
///         std::thread::spawn(move || -> pgtusk::Result<i64> {
///             let mut conn = pool.get()?;
///             conn.fetch_value("SELECT $1::int8 * 2", &[&(i as i64)])
///         })
///     })
///     .collect();
/// for worker in workers {
///     println!("{}", worker.join().unwrap()?);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    /// Before the runtime, so that the pool's last clone ends while its runtime runs.
    pool: crate::Pool,
    rt: Arc<Runtime>,
}

impl Pool {
    /// A pool with default [`PoolOptions`] for a DSN (a `postgres://` URL or `key=value`).
    pub fn connect(dsn: &str) -> Result<Pool> {
        Pool::with_options(crate::Pool::builder(dsn.parse()?))
    }

    /// A pool built from `options` (from [`pgtusk::Pool::builder`](crate::Pool::builder));
    /// opens `min_connections` connections (at least one, to check the options).
    ///
    /// ```no_run
    /// # fn demo() -> pgtusk::Result<()> {
    /// let options = "postgres://postgres@localhost/postgres".parse()?;
    /// let pool = pgtusk::blocking::Pool::with_options(
    ///     pgtusk::Pool::builder(options).max_connections(8),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn with_options(options: PoolOptions) -> Result<Pool> {
        let rt = Runtime::background("Pool::with_options")?;
        let pool = rt.block_on("Pool::with_options", options.build())?;
        Ok(Pool {
            pool,
            rt: Arc::new(rt),
        })
    }

    /// A connection for this thread: an idle one, or a new one when the pool has room; else
    /// waits up to `acquire_timeout` ([`Error::PoolTimedOut`](crate::Error::PoolTimedOut)).
    /// Dropping the [`PooledConnection`] gives it back.
    pub fn get(&self) -> Result<PooledConnection> {
        let conn = self.rt.block_on("Pool::get", self.pool.acquire())?;
        Ok(PooledConnection {
            conn: Connection::pooled(conn, self.rt.clone()),
        })
    }

    /// The same as [`get`](Pool::get), named as the async pool's.
    pub fn acquire(&self) -> Result<PooledConnection> {
        self.get()
    }

    /// Runs `f` in a transaction on a connection of the pool: commits on `Ok`, rolls back
    /// on `Err`, runs it again after a serialization failure or a deadlock.
    pub fn run_transaction<T, F>(&self, f: F) -> Result<T>
    where
        F: FnMut(&mut Transaction<'_>) -> Result<T>,
    {
        self.get()?.run_transaction(f)
    }

    /// How many connections are open, idle, in use, and how many threads wait.
    pub fn status(&self) -> PoolStatus {
        self.pool.status()
    }

    /// Closes the pool gracefully: see [`pgtusk::Pool::close`](crate::Pool::close).
    pub fn close(&self) -> Result<()> {
        self.rt.block_on("Pool::close", async {
            self.pool.close().await;
            Ok(())
        })
    }

    /// Whether [`close`](Pool::close) was called.
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// The async pool, for what has no blocking form (`expire_connections`, `terminate`,
    /// `options`).
    pub fn as_async(&self) -> &crate::Pool {
        &self.pool
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Pool")
            .field("pool", &self.pool)
            .finish()
    }
}

/// A blocking connection on loan from a [`Pool`]; derefs to [`Connection`] and goes back to
/// the pool when dropped (cleaned first when it needs it, on the pool's runtime).
pub struct PooledConnection {
    conn: Connection,
}

impl PooledConnection {
    /// Takes the connection out of the pool for good; the pool opens another when it needs
    /// one. The connection keeps running on the pool's runtime.
    pub fn detach(self) -> Connection {
        self.conn.detach()
    }
}

impl Deref for PooledConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::PooledConnection")
            .field("conn", &self.conn)
            .finish()
    }
}
