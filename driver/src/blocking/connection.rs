//! [`Connection`]: the async [`Connection`](crate::Connection) with plain functions, driven on
//! a runtime of its own; and the row iterators of `fetch_iter`.

use std::fmt;
use std::sync::Arc;

use futures_util::StreamExt;

use super::Runtime;
use super::queries::query_methods;
use crate::error::Result;
use crate::from_record::RecordPlan;
use crate::{ConnectOptions, Record, RowStream, TypedRowStream};

/// A connection to a PostgreSQL server with blocking methods: the same rows, errors,
/// statement cache and `command_timeout` as the async [`Connection`](crate::Connection).
///
/// ```no_run
/// use pgtusk::blocking::Connection;
///
/// # fn demo() -> pgtusk::Result<()> {
/// let mut conn = Connection::connect("postgres://postgres@localhost/postgres")?;
/// let n: i64 = conn.fetch_value("SELECT count(*) FROM pg_class WHERE relkind = $1", &[&"r"])?;
/// let updated = conn.run_transaction(|tx| {
///     tx.execute("CREATE TEMP TABLE t (x int)", &[])?;
///     tx.execute("INSERT INTO t VALUES (1), (2)", &[])
/// })?;
/// assert_eq!(updated, 2);
/// conn.close()?;
/// # Ok(()) }
/// ```
///
/// Calling any method inside a tokio runtime is an [`Error::Interface`](crate::Error::Interface)
/// that says to use the async API (see the [module documentation](super)).
pub struct Connection {
    /// Before the runtime: the socket is dropped while its runtime still exists.
    conn: Held,
    rt: Arc<Runtime>,
}

/// The async connection a blocking one drives: its own, or one on loan from a pool.
enum Held {
    Own(Box<crate::Connection>),
    Pooled(Box<crate::PooledConnection>),
}

impl Connection {
    /// Connects to a server given a DSN: a `postgres://` URL or a libpq `key=value` string
    /// (see [`ConnectOptions`]).
    pub fn connect(dsn: &str) -> Result<Connection> {
        let rt = Runtime::current_thread("Connection::connect")?;
        let conn = rt.block_on("Connection::connect", crate::Connection::connect(dsn))?;
        Ok(Connection::own(conn, rt))
    }

    /// Connects with options built in code.
    pub fn connect_with(options: &ConnectOptions) -> Result<Connection> {
        let rt = Runtime::current_thread("Connection::connect_with")?;
        let conn = rt.block_on(
            "Connection::connect_with",
            crate::Connection::connect_with(options),
        )?;
        Ok(Connection::own(conn, rt))
    }

    fn own(conn: crate::Connection, rt: Runtime) -> Connection {
        Connection {
            conn: Held::Own(Box::new(conn)),
            rt: Arc::new(rt),
        }
    }

    /// A connection from a pool, driven on the pool's runtime.
    pub(super) fn pooled(conn: crate::PooledConnection, rt: Arc<Runtime>) -> Connection {
        Connection {
            conn: Held::Pooled(Box::new(conn)),
            rt,
        }
    }

    /// Takes a pooled connection out of its pool for good (an own one stays as it is).
    pub(super) fn detach(self) -> Connection {
        let Connection { conn, rt } = self;
        let conn = match conn {
            Held::Pooled(pooled) => Held::Own(Box::new(pooled.detach())),
            own => own,
        };
        Connection { conn, rt }
    }

    #[inline]
    pub(super) fn parts(&mut self) -> (&mut crate::Connection, &Runtime) {
        let conn = match &mut self.conn {
            Held::Own(conn) => &mut **conn,
            Held::Pooled(conn) => &mut **conn,
        };
        (conn, &self.rt)
    }

    #[inline]
    fn connection(&self) -> &crate::Connection {
        match &self.conn {
            Held::Own(conn) => conn,
            Held::Pooled(conn) => conn,
        }
    }

    query_methods!("Connection");

    /// Closes the connection gracefully (Terminate). A pooled connection is taken out of its
    /// pool and closed. Dropping it closes the socket too, without telling the server.
    pub fn close(self) -> Result<()> {
        let Connection { conn, rt } = self;
        let conn = match conn {
            Held::Own(conn) => *conn,
            Held::Pooled(pooled) => pooled.detach(),
        };
        rt.block_on("Connection::close", conn.close())
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Connection")
            .field("conn", self.connection())
            .field("pooled", &matches!(self.conn, Held::Pooled(_)))
            .finish()
    }
}

/// The rows of [`Connection::fetch_iter`], read from the socket as the iterator is advanced.
///
/// Dropping it before its end is safe: the connection discards the rest (cancelling the
/// server's work) before its next operation.
pub struct RowIter<'c> {
    rows: RowStream<'c>,
    rt: &'c Runtime,
}

impl<'c> RowIter<'c> {
    pub(crate) fn new(rows: RowStream<'c>, rt: &'c Runtime) -> RowIter<'c> {
        RowIter { rows, rt }
    }

    /// The result's columns.
    pub fn columns(&self) -> &crate::Columns {
        self.rows.columns()
    }

    /// The rows affected, once the iterator has ended.
    pub fn rows_affected(&self) -> Option<u64> {
        self.rows.rows_affected()
    }
}

impl Iterator for RowIter<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        let rows = &mut self.rows;
        self.rt
            .block_on("RowIter::next", async { Ok(rows.next().await) })
            .unwrap_or_else(|e| Some(Err(e)))
    }
}

impl fmt::Debug for RowIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowIter").field("rows", &self.rows).finish()
    }
}

/// The rows of [`Connection::fetch_iter_as`], decoded into `T` as the iterator is advanced.
/// Dropping it early is safe, as for [`RowIter`].
pub struct TypedRowIter<'c, T: RecordPlan> {
    rows: TypedRowStream<'c, T>,
    rt: &'c Runtime,
}

impl<'c, T: RecordPlan> TypedRowIter<'c, T> {
    pub(crate) fn new(rows: TypedRowStream<'c, T>, rt: &'c Runtime) -> TypedRowIter<'c, T> {
        TypedRowIter { rows, rt }
    }

    /// The result's columns.
    pub fn columns(&self) -> &crate::Columns {
        self.rows.rows().columns()
    }
}

impl<T> Iterator for TypedRowIter<'_, T>
where
    T: for<'r> crate::FromRecord<'r>,
{
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        let rows = &mut self.rows;
        self.rt
            .block_on("TypedRowIter::next", async { Ok(rows.next().await) })
            .unwrap_or_else(|e| Some(Err(e)))
    }
}

impl<T: RecordPlan> fmt::Debug for TypedRowIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedRowIter")
            .field("rows", self.rows.rows())
            .finish()
    }
}
