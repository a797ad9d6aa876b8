//! [`PoolOptions`]: how many connections, how long to wait, when to replace one, and the
//! hooks that run on a new, an acquired and a released connection.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Pool;
use crate::{ConnectOptions, Connection, Result};

/// The future a [`ConnectionHook`] returns.
pub type HookFuture<'c> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'c>>;

/// A hook the pool runs on a connection: `|conn| Box::pin(async move { … })`.
pub type ConnectionHook = Arc<dyn for<'c> Fn(&'c mut Connection) -> HookFuture<'c> + Send + Sync>;

/// How a [`Pool`] behaves; start from [`Pool::builder`].
///
/// The defaults follow asyncpg's pool where it has one: at most 10 connections, none kept
/// open when idle, a connection replaced after 50,000 operations or 5 minutes unused; plus
/// `acquire_timeout` 30 s and a ping of connections idle for more than a minute.
///
/// ```no_run
/// use std::time::Duration;
/// use pgtusk::{ConnectOptions, Pool};
///
/// # async fn demo() -> pgtusk::Result<()> {
/// let options: ConnectOptions = "postgres://app@db/app".parse()?;
/// let pool = Pool::builder(options)
///     .min_connections(2)
///     .max_connections(16)
///     .acquire_timeout(Duration::from_secs(5))
///     .init(|conn| Box::pin(async move { conn.execute_script("SET search_path = app").await }))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PoolOptions {
    pub(crate) connect: ConnectOptions,
    pub(crate) min_connections: usize,
    pub(crate) max_connections: usize,
    pub(crate) acquire_timeout: Duration,
    pub(crate) max_queries: Option<u64>,
    pub(crate) max_inactive_connection_lifetime: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) test_before_acquire: Option<Duration>,
    pub(crate) init: Option<ConnectionHook>,
    pub(crate) setup: Option<ConnectionHook>,
    pub(crate) reset: Option<ConnectionHook>,
}

impl PoolOptions {
    pub(crate) fn new(connect: ConnectOptions) -> PoolOptions {
        PoolOptions {
            connect,
            min_connections: 0,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            max_queries: Some(50_000),
            max_inactive_connection_lifetime: Some(Duration::from_secs(300)),
            max_lifetime: None,
            test_before_acquire: Some(Duration::from_secs(60)),
            init: None,
            setup: None,
            reset: None,
        }
    }

    /// Connections opened by [`build`](Self::build) and kept open however idle the pool is
    /// (default 0). Capped at `max_connections`.
    pub fn min_connections(mut self, n: usize) -> Self {
        self.min_connections = n;
        self
    }

    /// The most connections open at once (default 10, at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long [`Pool::acquire`] waits for a connection (to be released, or to open) before
    /// it returns [`Error::PoolTimedOut`](crate::Error::PoolTimedOut) (default 30 s). It also
    /// bounds opening one connection (in [`build`](Self::build) too), the cleaning of a
    /// connection released mid-operation, and [`Pool::close`].
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Replaces a connection after this many operations (default 50,000, as asyncpg; `0`:
    /// never): what a long-lived backend accumulates (memory, plan caches) is given back.
    pub fn max_queries(mut self, n: u64) -> Self {
        self.max_queries = (n > 0).then_some(n);
        self
    }

    /// Closes a connection unused for this long, beyond `min_connections` (default 5 min;
    /// zero: never).
    pub fn max_inactive_connection_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_inactive_connection_lifetime = (!lifetime.is_zero()).then_some(lifetime);
        self
    }

    /// Replaces a connection this long after it was opened, once it is released (default:
    /// never). Useful behind load balancers and for rotating credentials.
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = (!lifetime.is_zero()).then_some(lifetime);
        self
    }

    /// Pings a connection that was idle at least `idle` before handing it out (an empty
    /// query, one round trip), and replaces it if the ping fails: catches a network that
    /// dropped the connection silently. `None` never pings. Default: after 60 s idle.
    ///
    /// A server that *ended* the session (`pg_terminate_backend`, a restart) is found
    /// without a ping: the pool reads what arrived on an idle connection before handing it
    /// out, which costs nothing when nothing did.
    pub fn test_before_acquire(mut self, idle: Option<Duration>) -> Self {
        self.test_before_acquire = idle;
        self
    }

    /// Runs once on each new connection, before its first use: register types, `SET` what
    /// the application needs. What it sets holds for every user of the connection: the
    /// pool reads the settings it left (`pg_settings` rows with source `session`) and sets
    /// them again after each reset (whose `RESET ALL` undoes `SET`s), without running
    /// `init` again. Custom placeholder settings (`SET app.tenant = …`) are not listed by
    /// the server and so are not set again: put those in the connect options
    /// (`options=-c app.tenant=…`) or in [`setup`](Self::setup). An error discards the
    /// connection and fails the acquire (or `build`) with that error.
    ///
    /// ```no_run
    /// # async fn demo(options: pgtusk::ConnectOptions) -> pgtusk::Result<()> {
    /// let pool = pgtusk::Pool::builder(options)
    ///     .init(|conn| Box::pin(async move {
    ///         conn.execute_script("SET TIME ZONE 'UTC'; SET statement_timeout = '5s'").await
    ///     }))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn init(
        mut self,
        hook: impl for<'c> Fn(&'c mut Connection) -> HookFuture<'c> + Send + Sync + 'static,
    ) -> Self {
        self.init = Some(Arc::new(hook));
        self
    }

    /// Runs on every acquire, before the connection is handed out. An error is returned by
    /// `acquire` and the connection goes back to the pool.
    pub fn setup(
        mut self,
        hook: impl for<'c> Fn(&'c mut Connection) -> HookFuture<'c> + Send + Sync + 'static,
    ) -> Self {
        self.setup = Some(Arc::new(hook));
        self
    }

    /// Runs on every release, after the pool's own cleaning (rollback, and the reset when
    /// the session changed): for state the pool cannot see, such as an advisory lock taken
    /// inside a user function. An error discards the connection.
    pub fn reset(
        mut self,
        hook: impl for<'c> Fn(&'c mut Connection) -> HookFuture<'c> + Send + Sync + 'static,
    ) -> Self {
        self.reset = Some(Arc::new(hook));
        self
    }

    /// Opens `min_connections` connections (at least one, to check the options) and
    /// returns the pool.
    pub async fn build(self) -> Result<Pool> {
        Pool::from_options(self).await
    }
}

impl fmt::Debug for PoolOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolOptions")
            .field("connect", &self.connect)
            .field("min_connections", &self.min_connections)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("max_queries", &self.max_queries)
            .field(
                "max_inactive_connection_lifetime",
                &self.max_inactive_connection_lifetime,
            )
            .field("max_lifetime", &self.max_lifetime)
            .field("test_before_acquire", &self.test_before_acquire)
            .field("init", &self.init.is_some())
            .field("setup", &self.setup.is_some())
            .field("reset", &self.reset.is_some())
            .finish()
    }
}
