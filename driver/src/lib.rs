//! pgtusk: an async PostgreSQL driver that speaks the wire protocol itself.

pub mod error;
pub mod protocol;
pub mod types;

pub use error::{BoxError, DbError, Error, Result};
pub use types::{Decode, Encode, Type};
