//! COPY with blocking I/O: [`CopyIn`] is a [`std::io::Write`], [`CopyOut`] a
//! [`std::io::Read`] (and [`BufRead`]), so `std::io::copy` moves a file into a table or a
//! table into a file.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::Runtime;
use crate::error::Result;

/// The data side of a `COPY … FROM STDIN`, from
/// [`Connection::copy_in`](super::Connection::copy_in): a [`Write`] whose data goes to the
/// server in chunks (memory stays bounded). End it with [`finish`](CopyIn::finish), which
/// returns the rows copied; dropped without it, or after [`abort`](CopyIn::abort), the COPY
/// is rolled back and the connection stays usable.
///
/// A write error carries the [`pgtusk::Error`](crate::Error) as its inner error
/// (`io::Error::get_ref`); the server's error for bad data comes back from a later write or
/// from `finish`.
///
/// ```no_run
/// use std::io::Write;
/// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
/// let mut copy = conn.copy_in("COPY animals (id, name) FROM STDIN (FORMAT csv)")?;
/// copy.write_all(b"1,walrus\n2,narwhal\n")?;
/// let mut file = std::fs::File::open("more_animals.csv")?;
/// std::io::copy(&mut file, &mut copy)?;
/// let rows = copy.finish()?;
/// # Ok(()) }
/// ```
#[must_use = "a COPY that is neither finished nor aborted is rolled back"]
pub struct CopyIn<'c> {
    copy: crate::CopyIn<'c>,
    rt: &'c Runtime,
}

impl<'c> CopyIn<'c> {
    pub(crate) fn new(copy: crate::CopyIn<'c>, rt: &'c Runtime) -> CopyIn<'c> {
        CopyIn { copy, rt }
    }

    /// The format the server expects: 0 text (text and csv), 1 binary.
    pub fn format(&self) -> i8 {
        self.copy.format()
    }

    /// The number of columns being copied.
    pub fn columns(&self) -> usize {
        self.copy.columns()
    }

    /// Sends `data` (any part of the COPY stream: rows need not be whole).
    pub fn send(&mut self, data: impl AsRef<[u8]>) -> Result<()> {
        self.rt.block_on("CopyIn::send", self.copy.send(data))
    }

    /// Ends the data and returns the number of rows the server copied, or its error (the
    /// COPY is then rolled back).
    pub fn finish(self) -> Result<u64> {
        self.rt.block_on("CopyIn::finish", self.copy.finish())
    }

    /// Ends the COPY with `reason` (the server's error message quotes it): nothing of it is
    /// kept, and the connection stays usable.
    pub fn abort(self, reason: &str) -> Result<()> {
        self.rt.block_on("CopyIn::abort", self.copy.abort(reason))
    }
}

impl Write for CopyIn<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    /// Writes everything queued; the COPY stays open ([`CopyIn::finish`] ends it).
    fn flush(&mut self) -> io::Result<()> {
        let copy = &mut self.copy;
        self.rt
            .block_on("CopyIn::flush", async { Ok(copy.flush().await) })
            .map_err(io::Error::other)?
    }
}

impl fmt::Debug for CopyIn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::CopyIn")
            .field("copy", &self.copy)
            .finish()
    }
}

/// The data of a `COPY … TO STDOUT`, from
/// [`Connection::copy_out`](super::Connection::copy_out): a [`Read`] and [`BufRead`] over the
/// server's CopyData messages, read as they arrive (each message's bytes are handed out
/// without a copy through `fill_buf`). The end of the data is the end of the request: once
/// `read` returns 0 the connection is ready. Dropped early, the connection discards the rest
/// (cancelling the server's work) before its next operation.
///
/// ```no_run
/// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
/// let mut out = conn.copy_out("COPY animals TO STDOUT (FORMAT csv, HEADER)")?;
/// let mut file = std::fs::File::create("animals.csv")?;
/// std::io::copy(&mut out, &mut file)?;
/// # Ok(()) }
/// ```
pub struct CopyOut<'c> {
    copy: crate::CopyOut<'c>,
    rt: &'c Runtime,
    /// The rest of the message being read.
    chunk: Bytes,
}

impl<'c> CopyOut<'c> {
    pub(crate) fn new(copy: crate::CopyOut<'c>, rt: &'c Runtime) -> CopyOut<'c> {
        CopyOut {
            copy,
            rt,
            chunk: Bytes::new(),
        }
    }

    /// The format of the data: 0 text (text and csv), 1 binary.
    pub fn format(&self) -> i8 {
        self.copy.format()
    }

    /// The number of columns.
    pub fn columns(&self) -> usize {
        self.copy.columns()
    }

    /// The number of rows copied, once the data has ended.
    pub fn rows_copied(&self) -> Option<u64> {
        self.copy.rows_copied()
    }
}

impl BufRead for CopyOut<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.chunk.is_empty() {
            let copy = &mut self.copy;
            let next = self
                .rt
                .block_on("CopyOut::read", async { Ok(copy.next().await) })
                .map_err(io::Error::other)?;
            match next {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => break,
            }
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, amt: usize) {
        self.chunk.advance(amt.min(self.chunk.len()));
    }
}

impl Read for CopyOut<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl fmt::Debug for CopyOut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::CopyOut")
            .field("copy", &self.copy)
            .field("buffered", &self.chunk.len())
            .finish()
    }
}
