//! pgtusk: an async PostgreSQL driver that speaks the wire protocol itself.

#[cfg(feature = "cluster")]
pub mod cluster;
pub mod error;
pub mod types;

pub use error::{BoxError, DbError, Error, Result};
pub use types::{Decode, Encode, Type};
