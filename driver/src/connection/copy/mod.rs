//! COPY: bulk data in and out, raw (text, CSV or binary bytes, as the SQL says) and typed
//! (binary format, rows encoded and decoded with the column types the server reports).
//!
//! Each COPY is one simple Query whose data follows in CopyData messages. While data goes
//! out, what the server says is read on the way, so an error (a constraint violation in row
//! 10,000) stops the sender early instead of after the last byte. Memory is bounded: data is
//! written to the socket once [`COPY_CHUNK`] bytes are queued.
//!
//! Cancel safety: a [`CopyIn`] or [`CopyInWriter`] dropped before `finish` leaves its copy to
//! the session, whose next operation sends CopyFail (the server rolls the COPY back); a
//! [`CopyOut`] or [`CopyOutRows`] dropped mid-way is drained, its server work cancelled, like
//! any dropped query.

mod copy_in;
mod copy_out;
mod rows_in;
mod rows_out;

pub use copy_in::CopyIn;
pub use copy_out::CopyOut;
pub use rows_in::CopyInWriter;
pub use rows_out::CopyOutRows;

use std::task::{Context, Poll};

use super::{Connection, db_error, truncated};
use crate::error::{Error, Result};
use crate::protocol::backend::{self, CopyResponse, Message};
use crate::protocol::session::Event;
use crate::record::Columns;

/// COPY data queued before it is written to the socket.
const COPY_CHUNK: usize = 256 * 1024;

/// Which way a COPY goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// COPY FROM STDIN.
    In,
    /// COPY TO STDOUT.
    Out,
}

impl Connection {
    /// Sends a COPY statement and reads up to the server's CopyInResponse or CopyOutResponse.
    /// Anything else (an error, a statement that is not such a COPY) ends the request and is
    /// an error; the connection stays usable.
    async fn start_copy(&mut self, sql: &str, direction: Direction) -> Result<CopyResponse> {
        self.ready().await?;
        match direction {
            Direction::In => self.session.copy_query(sql)?,
            Direction::Out => self.session.simple_query(sql)?,
        }
        self.flush().await?;
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::CopyInResponse(response) if direction == Direction::In => {
                    return Ok(response);
                }
                Message::CopyOutResponse(response) if direction == Direction::Out => {
                    return Ok(response);
                }
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => {
                    return Err(error.unwrap_or_else(|| not_a_copy(sql, direction)));
                }
                Message::RowDescription(_)
                | Message::DataRow(_)
                | Message::CommandComplete(_)
                | Message::EmptyQueryResponse
                | Message::CopyOutResponse(_)
                | Message::CopyData(_)
                | Message::CopyDone => {}
                other => return Err(self.unexpected(&other, "starting a COPY")),
            }
        }
    }

    /// Reads what the server has sent during COPY FROM STDIN, without waiting: `Some` with
    /// its error when it ended the copy (the ReadyForQuery that follows is still to read).
    fn poll_copy_in_replies(&mut self, cx: &mut Context<'_>) -> Result<Option<Error>> {
        loop {
            match backend::parse_message(&mut self.read_buf, self.max_message_size) {
                Ok(Some(msg)) => match self.session.handle(&msg)? {
                    Event::Deliver => {
                        return match msg {
                            Message::ErrorResponse(fields) => Ok(Some(db_error(&fields))),
                            other => Err(self.unexpected(&other, "COPY FROM STDIN")),
                        };
                    }
                    Event::Notice => self.handle_notice(&msg),
                    Event::Consumed => {}
                },
                Ok(None) => match self.poll_read_more(cx) {
                    Poll::Pending => return Ok(None),
                    Poll::Ready(read) => read?,
                },
                Err(e) => return Err(self.malformed(e)),
            }
        }
    }

    /// Writes queued COPY data once `at_least` bytes are queued, watching the server's
    /// replies: an error from the server ended the copy, and is returned (its ReadyForQuery is
    /// read by `finish`, `abort` or the next operation).
    fn poll_copy_in_send(&mut self, cx: &mut Context<'_>, at_least: usize) -> Poll<Result<()>> {
        if self.session.queued_output() < at_least.max(1) {
            return Poll::Ready(Ok(()));
        }
        if let Some(error) = self.poll_copy_in_replies(cx)? {
            return Poll::Ready(Err(error));
        }
        self.poll_flush(cx)
    }

    /// Reads the end of a COPY request: its CommandComplete (the row count), an error, and the
    /// ReadyForQuery.
    async fn finish_copy(&mut self) -> Result<u64> {
        let mut rows = 0;
        let mut error = None;
        loop {
            match self.recv().await? {
                Message::CommandComplete(done) => rows = done.rows().unwrap_or(0),
                Message::ErrorResponse(fields) => error = Some(db_error(&fields)),
                Message::ReadyForQuery(_) => return error.map_or(Ok(rows), Err),
                Message::CopyData(_) | Message::CopyDone => {}
                other => return Err(self.unexpected(&other, "the end of a COPY")),
            }
        }
    }
}

/// The error for SQL that did not start the expected kind of COPY.
fn not_a_copy(sql: &str, direction: Direction) -> Error {
    let (wanted, api) = match direction {
        Direction::In => ("COPY ... FROM STDIN", "copy_in"),
        Direction::Out => ("COPY ... TO STDOUT", "copy_out"),
    };
    Error::Interface(format!(
        "{api} runs {wanted}, but the server ran something else: {}",
        truncated(sql)
    ))
}

/// The error for a call on a copy that already failed.
fn ended_earlier(reason: &str) -> Error {
    Error::Interface(format!(
        "the COPY already ended with an error, reported before: {reason}"
    ))
}

/// Refuses a typed (binary) COPY of a column whose type pgtusk reads and writes as text: COPY
/// has one format for every column.
fn check_binary_columns(columns: &Columns, what: &str) -> Result<()> {
    match columns.iter().find(|c| !c.type_().is_binary()) {
        None => Ok(()),
        Some(column) => Err(Error::Interface(format!(
            "{what}: column \"{}\" is of type {}, which pgtusk sends in text format, and a \
             binary COPY carries every column in binary; cast it (to text, say) or use the raw \
             copy_in / copy_out with FORMAT text or csv",
            column.name(),
            column.type_()
        ))),
    }
}
