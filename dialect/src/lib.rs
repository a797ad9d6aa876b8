//! sea-query on pgtusk.
//!
//! [`TuskQueryBuilder`] renders sea-query statements as PostgreSQL, with `IN` lists of values
//! as one array parameter (`id = ANY($1::int4[])`); [`rewrite`] does the same to SQL already
//! rendered by sea-query's `PostgresQueryBuilder` (what sea-orm sends), and turns multi-row
//! inserts into one array per column; [`params`] turns sea-query [`Values`] into binary pgtusk
//! parameters; [`exec`] runs statements in one line; [`value`] reads records back as sea-query
//! values.
//!
//! ```no_run
//! use pgtusk_dialect::StatementExt;
//! use pgtusk_dialect::sea_query::{Expr, ExprTrait, Query};
//!
//! # async fn demo(conn: &mut pgtusk::Connection, ids: Vec<i64>) -> pgtusk::Result<()> {
//! // One statement in the cache for every length of `ids`.
//! let rows = Query::select()
//!     .columns(["id", "name"])
//!     .from("users")
//!     .and_where(Expr::col("id").is_in(ids))
//!     .fetch_all(conn)
//!     .await?;
//! let values = pgtusk_dialect::value::record_values(&rows[0])?;
//! # Ok(()) }
//! ```
//!
//! Schema statements (`CREATE TABLE` …) have no lists to rewrite: build them with sea-query's
//! own `PostgresQueryBuilder` and run them with `Connection::execute`.
//!
//! [`Values`]: sea_query::Values

pub mod array_type;
mod builder;
pub mod exec;
mod list_string;
pub mod params;
mod rewrite;
#[cfg(feature = "sea-orm")]
pub mod sea_orm;
pub mod value;
mod value_array;

pub use builder::TuskQueryBuilder;
pub use exec::{Executor, StatementExt};
pub use params::{Params, bind};
pub use rewrite::rewrite;
pub use sea_query;
