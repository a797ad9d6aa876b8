//! pgtusk: an async PostgreSQL driver that speaks the wire protocol itself.

// Used by the connection once it lands; until then only tests call it.
#[allow(dead_code)]
mod auth;
pub mod config;
pub mod error;
pub mod types;

pub use config::{ConnectOptions, SslMode};
pub use error::{BoxError, DbError, Error, Result};
pub use types::{Decode, Encode, Type};
