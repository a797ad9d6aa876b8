//! sea-orm 2.0 on pgtusk (feature `sea-orm`).
//!
//! [`TuskDatabase`] puts sea-orm's `ConnectionTrait` and `TransactionTrait` over a pgtusk
//! [`Pool`](pgtusk::Pool): pass `&db` wherever sea-orm takes a connection. Every statement
//! sea-orm renders goes through [`rewrite`](crate::rewrite) and runs with binary parameters
//! on a cached prepared statement; rows come back as sea-orm rows whose values are the
//! variants sea-orm's model fields read ([`row`] has the table). [`TuskTransaction`] pins
//! one pooled connection, honours the isolation level and access mode, nests as savepoints
//! and rolls back when dropped.
//!
//! ```no_run
//! use pgtusk_dialect::sea_orm::TuskDatabase;
//! use sea_orm::{ConnectionTrait, TransactionTrait, TransactionSession};
//!
//! # async fn demo() -> Result<(), sea_orm::DbErr> {
//! let db = TuskDatabase::connect("postgres://postgres@localhost/app").await?;
//! // Entity::find().all(&db).await?, model.insert(&db).await?, …
//! let tx = db.begin().await?;
//! tx.execute_unprepared("UPDATE counters SET n = n + 1").await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```
//!
//! Why not `Database::connect_proxy`: sea-orm's proxy connection shares one proxy object
//! between all its users, calls `begin`/`commit`/`rollback` on it without saying which
//! transaction they are for, and never passes the isolation level or access mode. Over a
//! pool, two tasks' transactions cannot be told apart there, so a statement could run on
//! another task's transaction. `TuskDatabase` implements the traits itself instead.

mod database;
mod error;
pub mod row;
mod statement;
mod stream;
mod transaction;

pub use database::TuskDatabase;
pub use error::{sql_err, sqlstate};
pub use stream::TuskStream;
pub use transaction::TuskTransaction;
