//! `execute_many`: one statement run with many parameter sets, pipelined.
//!
//! Bind + Execute pairs go out in chunks behind one Sync at the end, so the whole batch is one
//! implicit transaction (all or nothing, as asyncpg's `executemany`) and costs one round trip
//! per chunk instead of one per row. Each chunk but the last ends with Flush and its replies
//! are read before the next chunk is written: the server never blocks on a full socket while
//! we are still writing.

use super::query::Params;
use super::{Connection, IntoQuery, db_error};
use crate::error::{Error, Result};
use crate::protocol::backend::Message;
use crate::protocol::frontend;

/// Rows per chunk: a round trip per chunk, and a bounded write buffer.
const CHUNK: usize = 1024;

/// SQL the server refuses to parse: sent to abort the implicit transaction of a batch whose
/// future was dropped before its Sync, so a partial batch is never committed.
const ABANDON_BATCH: &str = "pgtusk: batch abandoned before it finished";

impl Connection {
    /// Runs one statement once per parameter set, pipelined, and returns the total rows affected.
    ///
    /// The batch is atomic outside a transaction block: the first error rolls back every row.
    /// A parameter set that cannot be encoded (wrong count or type) is an error naming its
    /// position in the batch; then nothing of the batch is kept either.
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let rows: Vec<(i64, String)> = (0..1000).map(|i| (i, format!("item {i}"))).collect();
    /// let inserted = conn
    ///     .execute_many(
    ///         "INSERT INTO items (id, name) VALUES ($1, $2)",
    ///         rows.iter().map(|(id, name)| [id as &(dyn pgtusk::Encode + Sync), name]),
    ///     )
    ///     .await?;
    /// assert_eq!(inserted, 1000);
    /// # Ok(()) }
    /// ```
    pub async fn execute_many<'a, 'p, I, P>(
        &mut self,
        query: impl IntoQuery<'a>,
        param_sets: I,
    ) -> Result<u64>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[&'p (dyn crate::Encode + Sync)]>,
    {
        self.ready().await?;
        let stmt = self.statement_for(query.into_query()).await?;
        let mut sets = param_sets.into_iter().peekable();
        let mut affected = 0;
        let mut index = 0usize;
        self.batch_unsynced = true;
        loop {
            let mut in_chunk = 0;
            while in_chunk < CHUNK {
                let Some(set) = sets.next() else { break };
                let params: Params<'_> = set.as_ref();
                if let Err(e) = self.write_bind_execute(&stmt, params, 0) {
                    // Nothing of this set was written; abort what went before it.
                    self.abandon_batch();
                    self.flush().await?;
                    self.finish().await?;
                    return Err(at_set(e, index));
                }
                in_chunk += 1;
                index += 1;
            }
            let last = sets.peek().is_none();
            if last {
                self.write_pending_closes()?;
                self.write_sync();
                self.batch_unsynced = false;
            } else {
                frontend::flush(&mut self.write_buf);
            }
            self.flush().await?;
            let first_in_chunk = index - in_chunk;
            let mut done = 0;
            while done < in_chunk {
                match self.recv().await? {
                    Message::BindComplete | Message::CloseComplete => {}
                    Message::CommandComplete(c) => {
                        affected += c.rows().unwrap_or(0);
                        done += 1;
                    }
                    Message::EmptyQueryResponse => done += 1,
                    Message::DataRow(_) | Message::RowDescription(_) => {}
                    Message::ErrorResponse(fields) => {
                        let error = at_set(db_error(&fields), first_in_chunk + done);
                        if self.batch_unsynced {
                            // The server skips everything up to a Sync, then rolls back.
                            self.write_sync();
                            self.batch_unsynced = false;
                            self.flush().await?;
                        }
                        self.finish().await?;
                        return Err(error);
                    }
                    other => return Err(self.unexpected(&other, "execute_many")),
                }
            }
            if last {
                self.finish().await?;
                return Ok(affected);
            }
        }
    }

    /// Makes the server fail and roll back the unfinished batch, then Sync.
    pub(super) fn abandon_batch(&mut self) {
        if self.batch_unsynced {
            // Cannot fail: no NUL in the constant.
            let _ = frontend::parse("", ABANDON_BATCH, &[], &mut self.write_buf);
            self.write_sync();
            self.batch_unsynced = false;
        }
    }
}

/// Says which parameter set an error belongs to.
fn at_set(error: Error, index: usize) -> Error {
    match error {
        Error::Encode(e) => Error::Encode(e.prefixed(format_args!("parameter set {index}"))),
        Error::Interface(m) => Error::Interface(format!("parameter set {index}: {m}")),
        Error::Db(db) => {
            tracing::debug!(index, "execute_many failed; the batch was rolled back");
            Error::Db(db)
        }
        other => other,
    }
}
