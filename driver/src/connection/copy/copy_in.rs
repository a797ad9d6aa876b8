//! [`CopyIn`]: raw COPY FROM STDIN, bytes in whatever format the COPY statement names.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::AsyncWrite;

use super::{COPY_CHUNK, Direction, ended_earlier};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::protocol::backend::CopyResponse;
use crate::protocol::frontend;

/// The CopyFail reason of [`CopyIn::abort`] when the caller gives none.
const ABORTED: &str = "pgtusk: COPY aborted by the client";

impl Connection {
    /// Starts `COPY ... FROM STDIN` (`sql` names the table, the columns and the format: text,
    /// csv or binary) and returns the writer for its data.
    ///
    /// Send the data with [`CopyIn::send`] or as an [`AsyncWrite`], then
    /// [`CopyIn::finish`], which returns the number of rows copied. Dropping the writer
    /// or [`CopyIn::abort`] rolls the COPY back (CopyFail) and leaves the connection usable;
    /// inside a transaction the transaction is then failed, as after any error. COPY is not
    /// bounded by `command_timeout`: wrap it in `tokio::time::timeout` if it must be.
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let mut copy = conn.copy_in("COPY animals (id, name) FROM STDIN (FORMAT csv)").await?;
    /// copy.send(b"1,walrus\n2,narwhal\n").await?;
    /// let rows = copy.finish().await?;
    /// assert_eq!(rows, 2);
    /// # Ok(()) }
    /// ```
    pub async fn copy_in(&mut self, sql: &str) -> Result<CopyIn<'_>> {
        let response = self.start_copy(sql, Direction::In).await?;
        Ok(CopyIn {
            conn: self,
            response,
            ended: None,
        })
    }
}

/// The data side of a `COPY ... FROM STDIN`, from [`Connection::copy_in`].
///
/// Data is queued and written in chunks: memory stays bounded however much is sent. The
/// server's replies are read on the way, so an error it finds part-way (a constraint, a
/// malformed line) is returned by the next `send` or write.
#[must_use = "a COPY that is neither finished nor aborted is rolled back"]
pub struct CopyIn<'c> {
    conn: &'c mut Connection,
    response: CopyResponse,
    /// Why the copy can take no more data: an error of the server (the COPY failed) or of the
    /// connection. Later calls report it again.
    ended: Option<String>,
}

impl CopyIn<'_> {
    /// The format the server expects: 0 text (text and csv), 1 binary.
    pub fn format(&self) -> i8 {
        self.response.format()
    }

    /// The number of columns being copied.
    pub fn columns(&self) -> usize {
        self.response.len()
    }

    /// Queues `data` (any part of the COPY stream: rows need not be whole) and writes to the
    /// socket once a chunk is queued.
    pub async fn send(&mut self, data: impl AsRef<[u8]>) -> Result<()> {
        for piece in data.as_ref().chunks(COPY_CHUNK) {
            self.make_room().await?;
            self.queue(piece)?;
        }
        Ok(())
    }

    /// Ends the data with CopyDone and returns the number of rows the server copied, or its
    /// error (the COPY is then rolled back).
    pub async fn finish(mut self) -> Result<u64> {
        if let Some(reason) = self.ended.take() {
            self.conn.finish_copy().await.ok();
            return Err(ended_earlier(&reason));
        }
        self.conn.session.end_copy_in(None)?;
        self.conn.flush().await?;
        self.conn.finish_copy().await
    }

    /// Ends the COPY with CopyFail and `reason` (the server's error message will quote it):
    /// nothing of it is kept. The connection stays usable.
    pub async fn abort(mut self, reason: &str) -> Result<()> {
        let reason = if reason.is_empty() { ABORTED } else { reason };
        if self.ended.take().is_none() {
            self.conn.session.end_copy_in(Some(reason))?;
            self.conn.flush().await?;
        }
        // The server answers CopyFail with the error it was asked for.
        self.conn
            .finish_copy()
            .await
            .map(drop)
            .or_else(|e| match e {
                Error::Db(_) => Ok(()),
                other => Err(other),
            })
    }

    async fn make_room(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_send(cx, COPY_CHUNK)).await
    }

    /// Writes queued data once `at_least` bytes are queued; an error ends the copy for good.
    fn poll_send(&mut self, cx: &mut Context<'_>, at_least: usize) -> Poll<Result<()>> {
        if let Some(reason) = &self.ended {
            return Poll::Ready(Err(ended_earlier(reason)));
        }
        let sent = ready!(self.conn.poll_copy_in_send(cx, at_least));
        if let Err(e) = &sent {
            self.ended = Some(e.to_string());
        }
        Poll::Ready(sent)
    }

    fn queue(&mut self, piece: &[u8]) -> Result<()> {
        if !self.conn.session.copy_in_is_open() {
            // The server ended the copy; its error is read with the request's end.
            return Ok(());
        }
        frontend::copy_data(piece, self.conn.session.out())
            .map_err(|e| Error::Interface(format!("cannot send COPY data: {}", e.message())))
    }
}

impl AsyncWrite for CopyIn<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx, COPY_CHUNK)).map_err(io::Error::other)?;
        let n = buf.len().min(COPY_CHUNK);
        this.queue(&buf[..n]).map_err(io::Error::other)?;
        Poll::Ready(Ok(n))
    }

    /// Writes everything queued (the COPY stays open: [`CopyIn::finish`] ends it).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send(cx, 1).map_err(io::Error::other)
    }

    /// The same as `poll_flush`: only [`CopyIn::finish`] can report the row count, so
    /// shutting the writer down does not end the COPY.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl std::fmt::Debug for CopyIn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyIn")
            .field("format", &self.response.format())
            .field("columns", &self.response.len())
            .field("ended", &self.ended)
            .finish()
    }
}
