//! [`Pool`]: a set of connections shared by many tasks, modelled on asyncpg's pool.
//!
//! A task takes a connection with [`Pool::acquire`] and gives it back by dropping the
//! [`PooledConnection`]; or runs one query on the pool itself ([`Executor`](crate::Executor)
//! is implemented for `&Pool`), which does both.
//!
//! Waiters are served first come, first served: a connection is taken under a fair
//! semaphore with one permit per connection the pool may open. A released connection that
//! is idle (no reply owed, no transaction open, no session state changed) goes straight
//! back; any other is cleaned first in a task of its own, still counted as in use: the work
//! of a dropped operation cancelled and drained, an open or failed transaction rolled back,
//! and, when a command may have left state in the session, the reset asyncpg runs (advisory
//! locks, cursors, LISTEN, settings), followed by the settings `init` made. What a user set
//! on the client side (`on_notice`, `on_termination`, `set_notification_buffer`) is put back
//! as `init` left it, without I/O. The statement cache survives all of it.

mod connection;
mod maintenance;
mod options;
mod release;
pub(crate) mod stale;
mod status;

pub(crate) use connection::ConnectionRef;
pub use connection::PooledConnection;
pub use options::{ConnectionHook, HookFuture, PoolOptions};
pub use status::PoolStatus;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::connection::ClientSettings;
use crate::error::{Error, Result};
use crate::{ConnectOptions, Connection, Transaction, TransactionFuture};
use stale::StaleStatements;

/// A pool of connections to one server.
///
/// Cheap to clone (clones share the connections); `Send + Sync`. Dropping the last clone
/// closes the idle connections; [`close`](Pool::close) does it gracefully.
///
/// ```no_run
/// use pgtusk::{Executor, Pool};
///
/// # async fn demo() -> pgtusk::Result<()> {
/// let pool = Pool::connect("postgres://postgres@localhost/postgres").await?;
///
/// // One query: the pool acquires a connection, runs it, and releases it.
/// let n: i64 = (&pool).fetch_value("SELECT count(*) FROM pg_class", &[]).await?;
///
/// // Several on one connection.
/// let mut conn = pool.acquire().await?;
/// conn.execute("SET application_name = 'report'", &[]).await?;
/// let rows = conn.fetch("SELECT relname FROM pg_class LIMIT 5", &[]).await?;
/// drop(conn); // back to the pool (reset, since a SET changed the session)
///
/// // A transaction on a pooled connection.
/// let mut tx = pool.transaction().await?;
/// tx.execute("CREATE TEMP TABLE t (x int)", &[]).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

/// What the pool's clones, its connections and its maintenance task share.
pub(crate) struct Shared {
    options: PoolOptions,
    /// One permit per connection the pool may have in use; fair, so waiters are served in
    /// the order they came.
    permits: Arc<Semaphore>,
    /// Idle connections, the most recently used last (taken from the end: a warm one, and
    /// the others age out under `max_inactive_connection_lifetime`).
    idle: Mutex<Vec<Idle>>,
    /// Connections open or opening (each counted by its [`Slot`]).
    size: Arc<AtomicUsize>,
    opening: AtomicUsize,
    waiting: AtomicUsize,
    /// Bumped by `expire_connections`: connections of an older generation are replaced.
    generation: AtomicU64,
    closed: AtomicBool,
    stale: Arc<StaleStatements>,
    runtime: tokio::runtime::Handle,
}

/// A connection of the pool, with what the pool knows of it.
pub(crate) struct Live {
    /// Boxed: a Live moves through the idle list and the acquire future several times per
    /// acquire, and a Connection is ~600 bytes.
    conn: Box<Connection>,
    opened: Instant,
    generation: u64,
    /// SQL that sets again what `init` set, run with the reset (`None`: init set nothing).
    init_settings: Option<String>,
    /// The handlers and buffer size after `init`, put back on release.
    client: ClientSettings,
    _slot: Slot,
}

struct Idle {
    live: Live,
    since: Instant,
}

/// An idle connection, looked at before it is handed out.
enum Screened {
    Ready(Live),
    /// Idle for longer than `test_before_acquire`: ping it first.
    NeedsPing(Idle),
    /// Expired or ended by the server: let go.
    Gone,
}

/// What an acquire was doing when `acquire_timeout` ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcquireStep {
    /// Waiting for a connection to be released (the pool is full).
    Waiting,
    /// Pinging an idle connection before handing it out.
    Checking,
    /// Opening a new connection.
    Opening,
    /// Running the `setup` hook.
    Setup,
}

/// An acquire's [`AcquireStep`], kept outside its future so it can be read once a timeout
/// dropped the future.
#[derive(Default)]
struct Progress(AtomicU8);

impl Progress {
    fn set(&self, step: AcquireStep) {
        self.0.store(step as u8, Ordering::Release);
    }

    fn step(&self) -> AcquireStep {
        match self.0.load(Ordering::Acquire) {
            1 => AcquireStep::Checking,
            2 => AcquireStep::Opening,
            3 => AcquireStep::Setup,
            _ => AcquireStep::Waiting,
        }
    }
}

/// Counts one connection in the pool's size while it lives (opening included).
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn new(size: &Arc<AtomicUsize>) -> Slot {
        size.fetch_add(1, Ordering::AcqRel);
        Slot(size.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts the task in `counter` while it lives.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(counter: &'a AtomicUsize) -> Counted<'a> {
        counter.fetch_add(1, Ordering::AcqRel);
        Counted(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    /// A pool with default [`PoolOptions`] for a DSN (a `postgres://` URL or `key=value`
    /// string, as [`Connection::connect`]).
    pub async fn connect(dsn: &str) -> Result<Pool> {
        Pool::builder(dsn.parse()?).build().await
    }

    /// Options for a pool of connections made with `options`; finish with
    /// [`PoolOptions::build`].
    pub fn builder(options: ConnectOptions) -> PoolOptions {
        PoolOptions::new(options)
    }

    pub(crate) async fn from_options(mut options: PoolOptions) -> Result<Pool> {
        options.min_connections = options.min_connections.min(options.max_connections);
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Interface("a Pool is built inside a tokio runtime".to_owned()))?;
        let shared = Arc::new(Shared {
            permits: Arc::new(Semaphore::new(options.max_connections)),
            idle: Mutex::new(Vec::with_capacity(options.max_connections)),
            size: Arc::new(AtomicUsize::new(0)),
            opening: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            stale: Arc::new(StaleStatements::default()),
            runtime,
            options,
        });
        // The first connection checks the options; the others open side by side.
        let first = shared.open().await?;
        shared.put_idle(first);
        let more = shared.options.min_connections.saturating_sub(1);
        let opened = futures_util::future::join_all((0..more).map(|_| shared.open())).await;
        for live in opened {
            shared.put_idle(live?);
        }
        if let Some(period) = shared.maintenance_period() {
            shared
                .runtime
                .spawn(maintenance::maintain(Arc::downgrade(&shared), period));
        }
        Ok(Pool { shared })
    }

    /// A connection for this task: an idle one, or a new one when the pool has room; else
    /// waits (first come, first served) up to `acquire_timeout`, then
    /// [`Error::PoolTimedOut`] with the pool's state. Dropping the [`PooledConnection`]
    /// gives it back.
    ///
    /// A connection is never handed out in an unknown state: one the server ended while it
    /// was idle is replaced (the caller never sees that error), and one idle for longer than
    /// `test_before_acquire` is pinged first.
    pub async fn acquire(&self) -> Result<PooledConnection> {
        if let Some(conn) = self.shared.acquire_idle_now() {
            return Ok(conn);
        }
        let limit = self.shared.options.acquire_timeout;
        let progress = Progress::default();
        match tokio::time::timeout(limit, self.shared.acquire(&progress)).await {
            Ok(result) => result,
            Err(_) => Err(self.shared.timed_out(limit, progress.step())),
        }
    }

    /// Starts a transaction on a connection of the pool; the connection goes back when the
    /// transaction ends (commit, rollback or drop).
    pub async fn transaction(&self) -> Result<Transaction<'static>> {
        let conn = self.acquire().await?;
        Transaction::begin_owned(ConnectionRef::Pooled(Box::new(conn))).await
    }

    /// [`Connection::run_transaction`] on a connection of the pool: commits on `Ok`, rolls
    /// back on `Err`, runs `f` again after a serialization failure or a deadlock.
    pub async fn run_transaction<T, F>(&self, f: F) -> Result<T>
    where
        F: for<'t> FnMut(&'t mut Transaction<'_>) -> TransactionFuture<'t, T>,
    {
        let mut conn = self.acquire().await?;
        conn.run_transaction(f).await
    }

    /// How many connections are open, idle, in use, and how many tasks wait.
    pub fn status(&self) -> PoolStatus {
        self.shared.status()
    }

    /// The options the pool was built with.
    pub fn options(&self) -> &PoolOptions {
        &self.shared.options
    }

    /// Replaces every connection: idle ones now, those in use when they are released. For
    /// after a change that connections opened earlier must not keep (a schema or a setting,
    /// a type registered in `init`, new credentials).
    pub fn expire_connections(&self) {
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        self.shared.prune();
    }

    /// Closes the pool gracefully: no more connections are handed out (waiting and later
    /// acquires get [`Error::PoolClosed`]), connections in use are closed when released, and
    /// this waits for them up to `acquire_timeout`, then closes the idle ones (each sends
    /// Terminate). Connections still in use after the wait are closed when released.
    pub async fn close(&self) {
        let shared = &self.shared;
        shared.closed.store(true, Ordering::Release);
        let all = u32::try_from(shared.options.max_connections).unwrap_or(u32::MAX);
        let everyone_back = shared.permits.acquire_many(all);
        let waited = tokio::time::timeout(shared.options.acquire_timeout, everyone_back).await;
        shared.permits.close();
        let idle = std::mem::take(&mut *shared.lock_idle());
        for Idle { live, .. } in idle {
            close_connection(live.conn).await;
        }
        if waited.is_err() {
            tracing::warn!(
                in_use = shared.status().in_use,
                "pool closed while connections were still in use; they close when released"
            );
        }
    }

    /// Closes the pool now: waiting and later acquires get [`Error::PoolClosed`], idle
    /// connections are closed at once, and connections in use are closed when released.
    pub fn terminate(&self) {
        let shared = &self.shared;
        shared.closed.store(true, Ordering::Release);
        shared.permits.close();
        let idle = std::mem::take(&mut *shared.lock_idle());
        for Idle { live, .. } in idle {
            shared.retire(live);
        }
    }

    /// Whether [`close`](Pool::close) or [`terminate`](Pool::terminate) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl Shared {
    fn lock_idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        // Nothing panics while holding it; a poisoned lock still holds a consistent list.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn status(&self) -> PoolStatus {
        let idle = self.lock_idle().len();
        let size = self.size.load(Ordering::Acquire);
        PoolStatus {
            size,
            idle,
            in_use: size.saturating_sub(idle),
            opening: self.opening.load(Ordering::Acquire),
            waiting: self.waiting.load(Ordering::Acquire),
            max_connections: self.options.max_connections,
        }
    }

    /// Takes a permit, then an idle connection or a new one; says in `progress` how far it
    /// got, for the error when `acquire_timeout` ends it.
    async fn acquire(self: &Arc<Self>, progress: &Progress) -> Result<PooledConnection> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::PoolClosed);
        }
        let permit = {
            let _waiting = Counted::new(&self.waiting);
            self.permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Error::PoolClosed)?
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::PoolClosed);
        }
        let live = loop {
            let idle = self.lock_idle().pop();
            let Some(idle) = idle else {
                progress.set(AcquireStep::Opening);
                break self.open().await?;
            };
            progress.set(AcquireStep::Checking);
            if let Some(live) = self.check_out(idle).await {
                break live;
            }
        };
        let mut conn = PooledConnection::new(live, permit, self.clone());
        if let Some(setup) = &self.options.setup {
            progress.set(AcquireStep::Setup);
            // On error `conn` goes back to the pool, cleaned like any other.
            setup(&mut conn).await?;
        }
        Ok(conn)
    }

    /// The error when `acquire_timeout` ended an acquire at `step`: a full pool and a server
    /// that does not answer call for different remedies.
    fn timed_out(&self, limit: Duration, step: AcquireStep) -> Error {
        let status = self.status();
        Error::PoolTimedOut(match step {
            AcquireStep::Waiting => format!(
                "no connection within acquire_timeout ({limit:?}); the pool has {status}, \
                 besides this one. Raise max_connections or acquire_timeout, or hold \
                 connections for less time (a PooledConnection goes back to the pool when \
                 dropped)"
            ),
            AcquireStep::Checking => format!(
                "no connection within acquire_timeout ({limit:?}): the server did not answer \
                 the check of an idle connection (test_before_acquire), so it is not running \
                 or not responding. Check that it runs and is reachable (the pool has {status})"
            ),
            AcquireStep::Opening => format!(
                "opening a connection took longer than acquire_timeout ({limit:?}): the server \
                 accepts no connection or does not answer. Check that it runs and is \
                 reachable, or set connect_timeout below acquire_timeout to see where the \
                 connection stalls (the pool has {status})"
            ),
            AcquireStep::Setup => format!(
                "no connection within acquire_timeout ({limit:?}): the setup hook did not \
                 finish on the acquired connection. Check what the hook waits for, and that \
                 the server responds (the pool has {status})"
            ),
        })
    }

    /// The common case without a timer or an await: a permit free at once (so nobody
    /// waits) and an idle connection that needs no ping. `None` sends the caller down the
    /// waiting path.
    fn acquire_idle_now(self: &Arc<Self>) -> Option<PooledConnection> {
        if self.options.setup.is_some() || self.closed.load(Ordering::Acquire) {
            return None;
        }
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        loop {
            let idle = self.lock_idle().pop()?;
            match self.screen(idle) {
                Screened::Ready(live) => {
                    return Some(PooledConnection::new(live, permit, self.clone()));
                }
                Screened::NeedsPing(idle) => {
                    self.lock_idle().push(idle);
                    return None;
                }
                Screened::Gone => {}
            }
        }
    }

    /// An idle connection made ready to hand out, or `None` when it had to go.
    async fn check_out(&self, idle: Idle) -> Option<Live> {
        let mut live = match self.screen(idle) {
            Screened::Ready(live) => return Some(live),
            Screened::NeedsPing(idle) => idle.live,
            Screened::Gone => return None,
        };
        match live.conn.execute_script("").await {
            Ok(()) => Some(live),
            Err(e) => {
                tracing::debug!("an idle connection failed its ping ({e}); replacing it");
                None
            }
        }
    }

    /// What to do with an idle connection about to be handed out, decided without I/O:
    /// expired ones are retired, ones the server ended are dropped.
    fn screen(&self, idle: Idle) -> Screened {
        let Idle { mut live, since } = idle;
        // `size` counts this connection too: one of the `min_connections` is kept however
        // long it idled.
        let idle_for = since.elapsed();
        let inactive = self.is_inactive(idle_for)
            && self.size.load(Ordering::Acquire) > self.options.min_connections;
        if inactive || self.is_worn_out(&live) {
            self.retire(live);
            return Screened::Gone;
        }
        if !live.conn.check_idle() {
            tracing::debug!(
                backend_pid = live.conn.backend_pid(),
                "an idle connection was ended by the server; replacing it"
            );
            return Screened::Gone;
        }
        match self.options.test_before_acquire {
            Some(after) if idle_for >= after => Screened::NeedsPing(Idle { live, since }),
            _ => Screened::Ready(live),
        }
    }

    /// Opens a connection (and runs `init`), within `acquire_timeout`: a server that accepts
    /// and never answers must not hang `build` or the maintenance task (the connect options
    /// have no connect timeout by default).
    async fn open(&self) -> Result<Live> {
        let limit = self.options.acquire_timeout;
        match tokio::time::timeout(limit, self.open_untimed()).await {
            Ok(opened) => opened,
            Err(_) => Err(self.timed_out(limit, AcquireStep::Opening)),
        }
    }

    async fn open_untimed(&self) -> Result<Live> {
        let slot = Slot::new(&self.size);
        let _opening = Counted::new(&self.opening);
        let generation = self.generation.load(Ordering::Acquire);
        let mut conn = Connection::connect_with(&self.options.connect).await?;
        conn.share_stale_statements(self.stale.clone());
        let init_settings = self.run_init(&mut conn).await?;
        Ok(Live {
            client: conn.client_settings(),
            conn: Box::new(conn),
            opened: Instant::now(),
            generation,
            init_settings,
            _slot: slot,
        })
    }

    /// Whether a connection must be replaced rather than reused.
    fn is_worn_out(&self, live: &Live) -> bool {
        self.closed.load(Ordering::Acquire)
            || live.generation != self.generation.load(Ordering::Acquire)
            || self
                .options
                .max_lifetime
                .is_some_and(|max| live.opened.elapsed() >= max)
            || self
                .options
                .max_queries
                .is_some_and(|max| live.conn.operations() >= max)
    }

    /// Whether a connection idle for `idle_for` outlived `max_inactive_connection_lifetime`
    /// (only those beyond `min_connections` go for it).
    fn is_inactive(&self, idle_for: Duration) -> bool {
        self.options
            .max_inactive_connection_lifetime
            .is_some_and(|max| idle_for >= max)
    }

    fn put_idle(&self, live: Live) {
        if self.closed.load(Ordering::Acquire) {
            self.retire(live);
            return;
        }
        self.lock_idle().push(Idle {
            live,
            since: Instant::now(),
        });
    }

    /// Closes a connection the pool no longer wants (it sends Terminate, in the background).
    fn retire(&self, live: Live) {
        let Live { conn, .. } = live;
        if !conn.is_closed() {
            self.runtime.spawn(close_connection(conn));
        }
    }
}

/// Closes a connection the pool let go, bounded: Terminate, then the socket's end.
async fn close_connection(conn: Box<Connection>) {
    let closing = conn.close();
    match tokio::time::timeout(Duration::from_secs(5), closing).await {
        Ok(Ok(())) | Err(_) => {}
        Ok(Err(e)) => tracing::debug!("closing a pooled connection: {e}"),
    }
}

impl Drop for Shared {
    /// The last handle is gone: the idle connections say goodbye (Terminate) in the
    /// background instead of vanishing.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut *self.lock_idle());
        for Idle { live, .. } in idle {
            self.retire(live);
        }
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("status", &self.status())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
