//! sea-query on pgtusk.
//!
//! [`TuskQueryBuilder`] renders sea-query statements as PostgreSQL, with `IN` lists of values
//! as one array parameter (`id = ANY($1::int4[])`); [`params`] turns sea-query [`Values`] into
//! binary pgtusk parameters; [`exec`] runs statements in one line; [`value`] reads records back
//! as sea-query values.
//!
//! [`Values`]: sea_query::Values

pub mod array_type;
mod builder;
pub mod exec;
pub mod params;
pub mod value;
mod value_array;

pub use builder::TuskQueryBuilder;
pub use exec::{Executor, StatementExt};
pub use params::{Params, bind};
pub use sea_query;
