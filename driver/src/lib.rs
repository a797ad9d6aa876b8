//! pgtusk: an async PostgreSQL driver that speaks the wire protocol itself.

pub mod error;
pub mod types;

pub use error::{BoxError, DbError, Error, ErrorPosition, Result, SqlState};
pub use types::{Decode, Encode, Type};
