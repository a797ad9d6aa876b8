//! [`CopyOut`]: raw COPY TO STDOUT, the server's data as it comes.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;

use super::{Direction, db_error};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::protocol::backend::{CopyResponse, Message};

impl Connection {
    /// Starts `COPY ... TO STDOUT` (`sql` names the table or query and the format) and returns
    /// its data as a stream of chunks, each one CopyData message (PostgreSQL sends one per
    /// row).
    ///
    /// Dropping the stream before its end leaves the connection usable: the next operation
    /// cancels the server's work and discards the rest. COPY is not bounded by
    /// `command_timeout`.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let mut out = conn.copy_out("COPY animals TO STDOUT (FORMAT csv, HEADER)").await?;
    /// let mut csv = Vec::new();
    /// while let Some(chunk) = out.try_next().await? {
    ///     csv.extend_from_slice(&chunk);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn copy_out(&mut self, sql: &str) -> Result<CopyOut<'_>> {
        let response = self.start_copy(sql, Direction::Out).await?;
        Ok(CopyOut {
            conn: self,
            response,
            error: None,
            rows: None,
            done: false,
        })
    }
}

/// The data of a `COPY ... TO STDOUT`, from [`Connection::copy_out`]: a `Stream` of
/// `Result<Bytes>`, each chunk sharing the received message's memory.
#[must_use = "streams do nothing unless polled"]
pub struct CopyOut<'c> {
    conn: &'c mut Connection,
    response: CopyResponse,
    error: Option<Error>,
    rows: Option<u64>,
    done: bool,
}

impl CopyOut<'_> {
    /// The format of the data: 0 text (text and csv), 1 binary.
    pub fn format(&self) -> i8 {
        self.response.format()
    }

    /// The number of columns.
    pub fn columns(&self) -> usize {
        self.response.len()
    }

    /// The number of rows copied, once the stream has ended.
    pub fn rows_copied(&self) -> Option<u64> {
        self.rows
    }

    /// The next CopyData body, `None` at the end (after the request's ReadyForQuery, so the
    /// connection is ready when the stream ends).
    pub(super) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        while !self.done {
            let msg = match ready!(self.conn.poll_recv(cx)) {
                Ok(msg) => msg,
                Err(e) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            };
            match msg {
                Message::CopyData(data) if self.error.is_none() => {
                    return Poll::Ready(Some(Ok(data)));
                }
                Message::CopyData(_) | Message::CopyDone => {}
                Message::CommandComplete(done) => self.rows = done.rows(),
                Message::ErrorResponse(fields) => self.error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => {
                    self.done = true;
                    return Poll::Ready(self.error.take().map(Err));
                }
                other => {
                    self.done = true;
                    let error = self.conn.unexpected(&other, "COPY TO STDOUT");
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
        Poll::Ready(None)
    }
}

impl Stream for CopyOut<'_> {
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl std::fmt::Debug for CopyOut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOut")
            .field("format", &self.response.format())
            .field("columns", &self.response.len())
            .field("done", &self.done)
            .finish()
    }
}
