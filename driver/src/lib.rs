//! pgtusk: an async PostgreSQL driver that speaks the wire protocol itself.
//!
//! Modelled on Python's asyncpg: every value travels in binary, a statement cache makes a
//! repeated query one round trip (Bind + Execute + Sync in one write), rows are [`Record`]s
//! that share the bytes of the server's message and decode a value only when asked, and every
//! misuse is a clear [`Error`].
//!
//! ```no_run
//! use pgtusk::Connection;
//!
//! # async fn demo() -> pgtusk::Result<()> {
//! let mut conn = Connection::connect("postgres://postgres@localhost/postgres").await?;
//! conn.execute_script("CREATE TEMP TABLE animals (id int8 PRIMARY KEY, name text)").await?;
//! conn.execute("INSERT INTO animals VALUES ($1, $2)", &[&1i64, &"walrus"]).await?;
//!
//! for row in conn.fetch("SELECT id, name FROM animals WHERE id > $1", &[&0i64]).await? {
//!     let id: i64 = row.get("id");
//!     let name: &str = row.get("name");
//!     println!("{id}: {name}");
//! }
//! let count: i64 = conn.fetch_value("SELECT count(*) FROM animals", &[]).await?;
//! # Ok(()) }
//! ```
//!
//! One [`Connection`] runs one operation at a time (its methods take `&mut self`); a [`Pool`]
//! shares connections between tasks (and is safe behind pgbouncer). Every
//! future it returns is cancel-safe: dropping it (a timeout, a `select!`) leaves the connection
//! usable, or marks it closed when its state cannot be known.

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzz_hooks.rs"]
pub mod __fuzz;
mod auth;
#[cfg(feature = "blocking")]
pub mod blocking;
mod cancel;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod config;
mod connection;
mod cursor;
pub mod error;
mod executor;
mod from_record;
mod identifier;
mod insert;
mod notify;
pub mod pipeline;
pub mod pool;
pub mod protocol;
mod record;
mod statement;
#[cfg(feature = "tls")]
mod tls;
mod to_record;
mod transaction;
pub mod types;

pub use cancel::CancelToken;
pub use config::{
    ChannelBinding, ConnectOptions, LoadBalanceHosts, NoticeHandler, SslMode, SslNegotiation,
    TargetSessionAttrs, TerminationHandler,
};
pub use connection::{
    Connection, CopyIn, CopyInWriter, CopyOut, CopyOutRows, IntoQuery, QueryRef, RowStream,
    TypedRowStream,
};
pub use cursor::{Cursor, CursorStream, HoldCursor, InTransaction};
pub use error::{BoxError, ConversionError, DbError, Error, ErrorPosition, Result, SqlState};
pub use executor::Executor;
#[doc(hidden)]
pub use from_record::__private;
pub use from_record::{FromRecord, RecordPlan};
pub use notify::{Listener, ListenerEvent, Notifications};
/// Derive macros: `#[derive(FromRecord)]` and `#[derive(ToRecord)]` for row structs (read
/// from and written as rows), `#[derive(Type)]` for newtypes (domains) and enums.
#[cfg(feature = "derive")]
pub use pgtusk_derive::{FromRecord, ToRecord, Type};
pub use pipeline::{Pipeline, PipelineResults, Ticket};
pub use pool::{Pool, PoolOptions, PoolStatus, PooledConnection};
pub use protocol::backend::{Notification, TransactionStatus};
pub use record::{Column, ColumnIndex, Columns, Record};
pub use statement::Statement;
pub use to_record::{ToRecord, ValueWriter};
pub use transaction::{IsolationLevel, Transaction, TransactionBuilder, TransactionFuture};
pub use types::{Decode, Encode, Type};
