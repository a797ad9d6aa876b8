//! The synchronous API (feature `blocking`): the async driver's methods as plain functions,
//! for programs that have no async runtime (CLI tools, build scripts, migrations, tests).
//!
//! Every type here wraps its async twin and drives it to completion; rows, errors, the
//! statement cache, cancel safety and `command_timeout` are the async driver's own.
//!
//! ```no_run
//! use pgtusk::blocking::Connection;
//!
//! fn main() -> pgtusk::Result<()> {
//!     let mut conn = Connection::connect("postgres://postgres@localhost/postgres")?;
//!     conn.execute_script("CREATE TEMP TABLE animals (id int8 PRIMARY KEY, name text)")?;
//!     conn.execute("INSERT INTO animals VALUES ($1, $2)", &[&1i64, &"walrus"])?;
//!     for row in conn.fetch("SELECT id, name FROM animals", &[])? {
//!         let name: &str = row.get("name");
//!         println!("{name}");
//!     }
//!     let mut tx = conn.transaction()?;
//!     tx.execute("DELETE FROM animals", &[])?;
//!     tx.rollback()?; // the walrus stays
//!     Ok(())
//! }
//! ```
//!
//! # Runtimes
//!
//! Each [`Connection`] owns a current-thread tokio runtime, as the `postgres` crate does: a
//! call runs the whole request on the caller's thread (no thread hop between the socket and
//! the caller, which keeps a point select as fast as the async driver's), connections on
//! different threads share nothing, and no background thread exists. A connection is used by
//! one thread at a time anyway (`&mut self`), so a shared runtime would buy nothing but
//! contention.
//!
//! A [`Pool`] owns a multi-thread runtime with one worker: the async pool keeps a maintenance
//! task and cleans released connections in tasks of their own, which need a runtime that runs
//! between calls; and its connections are used from many threads at once, which a
//! multi-thread runtime's `block_on` allows (each caller polls its own request on its own
//! thread). The price is one thread hop per request on a pooled connection.
//!
//! # Inside an async runtime
//!
//! Blocking a thread that drives async tasks stalls them all, and tokio panics when asked
//! to. Every call here first checks for a runtime on the current thread and returns
//! [`Error::Interface`](crate::Error::Interface) saying to use the async API instead. Inside
//! `tokio::task::spawn_blocking` the runtime's context is also set, so the check refuses
//! there too: use the async API with `Handle::block_on` there.

mod cancel;
mod connection;
mod copy;
mod cursor;
mod pool;
mod queries;
mod transaction;

use std::future::Future;

use crate::error::{Error, Result};

pub use cancel::CancelToken;
pub use connection::{Connection, RowIter, TypedRowIter};
pub use copy::{CopyIn, CopyOut};
pub use cursor::{Cursor, HoldCursor};
pub use pool::{Pool, PooledConnection};
pub use transaction::{Transaction, TransactionBuilder};

/// A tokio runtime that a blocking type owns and drives its async twin on.
#[derive(Debug)]
pub(crate) struct Runtime {
    /// `None` only while being dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Runtime {
    /// A runtime that runs on the calling thread, for one connection.
    pub(crate) fn current_thread(what: &str) -> Result<Runtime> {
        outside_runtime(what)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| runtime_error(what, e))?;
        Ok(Runtime {
            runtime: Some(runtime),
        })
    }

    /// A runtime with one worker thread of its own, for a pool's background tasks.
    pub(crate) fn background(what: &str) -> Result<Runtime> {
        outside_runtime(what)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pgtusk-pool")
            .enable_all()
            .build()
            .map_err(|e| runtime_error(what, e))?;
        Ok(Runtime {
            runtime: Some(runtime),
        })
    }

    /// Runs `op` to completion on this thread; `what` names the call for the error when this
    /// thread is already inside a runtime.
    #[inline]
    pub(crate) fn block_on<T>(&self, what: &str, op: impl Future<Output = Result<T>>) -> Result<T> {
        outside_runtime(what)?;
        match &self.runtime {
            Some(runtime) => runtime.block_on(op),
            None => Err(Error::Closed),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Dropping a runtime inside another one panics (it would block); a blocking value
        // moved into an async task ends its runtime without waiting instead.
        if let Some(runtime) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            }
        }
    }
}

/// Refuses to block a thread that drives an async runtime: tokio would panic, and the
/// runtime's other tasks would stall.
#[inline]
pub(crate) fn outside_runtime(what: &str) -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(in_runtime(what));
    }
    Ok(())
}

#[cold]
fn in_runtime(what: &str) -> Error {
    Error::Interface(format!(
        "pgtusk::blocking::{what} was called inside a tokio runtime, where blocking the thread \
         would stall every task on it; use the async API there (pgtusk::Connection, \
         pgtusk::Pool, … with .await), and keep pgtusk::blocking for code without a runtime"
    ))
}

#[cold]
fn runtime_error(what: &str, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("pgtusk::blocking::{what}: cannot start the tokio runtime that drives it: {e}"),
    ))
}
