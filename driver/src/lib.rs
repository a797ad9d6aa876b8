//! pgtusk: an async PostgreSQL driver that speaks the wire protocol itself.

mod auth;
pub mod config;
mod connection;
pub mod error;
pub mod protocol;
mod record;
mod statement;
pub mod types;

pub use config::{ConnectOptions, SslMode};
pub use connection::{Connection, IntoQuery, NoticeHandler, QueryRef, RowStream};
pub use error::{BoxError, DbError, Error, ErrorPosition, Result, SqlState};
pub use protocol::backend::TransactionStatus;
pub use record::{Column, ColumnIndex, Columns, Record};
pub use statement::Statement;
pub use types::{Decode, Encode, Type};
