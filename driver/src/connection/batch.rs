//! `execute_many`: one statement run with many parameter sets, pipelined.
//!
//! Bind + Execute pairs go out in chunks behind one Sync at the end, so the whole batch is one
//! implicit transaction (all or nothing, as asyncpg's `executemany`) and costs one round trip
//! per chunk instead of one per row. Each chunk but the last ends with Flush and its replies
//! are read before the next chunk is written: the server never blocks on a full socket while
//! we are still writing. A batch dropped half-way is rolled back by the session (`Abandon::Fail`).

use super::query::{QueryRef, query_text};
use super::{Connection, IntoQuery, db_error};
use crate::error::{Error, Result};
use crate::protocol::backend::Message;
use crate::protocol::session::{Abandon, RequestKind};
use crate::to_record::ToRecord;

/// Rows per chunk: a round trip per chunk, and a bounded write buffer.
const CHUNK: usize = 1024;

impl Connection {
    /// Runs one statement once per parameter set, pipelined, and returns the total rows affected.
    ///
    /// A parameter set is any [`ToRecord`]: a tuple, a `#[derive(ToRecord)]` struct (its
    /// fields are `$1`, `$2`, … in order), an array or `Vec` of `&dyn Encode`, or a reference
    /// to one. Its values are written straight into the Bind message, checked against the
    /// types the server asked for.
    ///
    /// The batch is atomic outside a transaction block: the first error rolls back every row.
    /// A parameter set that cannot be encoded (a wrong count or type) is an error naming its
    /// position in the batch and the parameter; then nothing of the batch is kept either, and
    /// when nothing of it had been sent, nothing reaches the server (an open transaction stays
    /// usable).
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// let rows: Vec<(i64, String)> = (0..1000).map(|i| (i, format!("item {i}"))).collect();
    /// let inserted = conn
    ///     .execute_many("INSERT INTO items (id, name) VALUES ($1, $2)", &rows)
    ///     .await?;
    /// assert_eq!(inserted, 1000);
    ///
    /// // Values of different types behind `&dyn Encode`, as `execute` takes them:
    /// let (id, name) = (1001i64, "one more");
    /// let sets = [[&id as &(dyn pgtusk::Encode + Sync), &name]];
    /// conn.execute_many("INSERT INTO items (id, name) VALUES ($1, $2)", sets).await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute_many<'a, I, P>(
        &mut self,
        query: impl IntoQuery<'a>,
        param_sets: I,
    ) -> Result<u64>
    where
        I: IntoIterator<Item = P>,
        P: ToRecord,
    {
        let query = query.into_query();
        if first_keyword(query_text(query)).eq_ignore_ascii_case("COPY") {
            // COPY FROM STDIN pipelined before other messages makes the server end the session
            // ("protocol synchronization was lost"), so no COPY goes into a batch.
            return Err(Error::Interface(
                "execute_many cannot run COPY; run it once with execute, or use the COPY API"
                    .to_owned(),
            ));
        }
        self.execute_rows(query, param_sets, SetNames::Numbered)
            .await
    }

    /// Runs `query` with the values of one row (for `insert`): a batch of one, whose errors
    /// need no set number.
    pub(crate) async fn execute_row<P: ToRecord>(
        &mut self,
        query: QueryRef<'_>,
        row: P,
    ) -> Result<u64> {
        self.execute_rows(query, std::iter::once(row), SetNames::Single)
            .await
    }

    /// Runs `query` once per row, pipelined.
    async fn execute_rows<I, P>(
        &mut self,
        query: QueryRef<'_>,
        rows: I,
        set_names: SetNames,
    ) -> Result<u64>
    where
        I: IntoIterator<Item = P>,
        P: ToRecord,
    {
        self.timed(query_text(query), async |conn: &mut Connection| {
            conn.execute_many_untimed(query, rows, set_names).await
        })
        .await
    }

    async fn execute_many_untimed<I, P>(
        &mut self,
        query: QueryRef<'_>,
        param_sets: I,
        set_names: SetNames,
    ) -> Result<u64>
    where
        I: IntoIterator<Item = P>,
        P: ToRecord,
    {
        let at_set = |error, index| match set_names {
            SetNames::Numbered => at_set(error, index),
            SetNames::Single => error,
        };
        // The row type's column names, once per batch, name the parameter in an error.
        let names = P::column_names();
        self.ready().await?;
        // The whole batch is one request with one Sync; an uncached statement is described
        // inside it (see `describe_unnamed`).
        let stmt = match query {
            QueryRef::Sql(sql) if !self.cache.admits(sql) => {
                self.describe_unnamed(sql, Abandon::Fail).await?
            }
            QueryRef::Sql(sql) => self.cached_or_prepare(sql).await?,
            QueryRef::Statement(stmt) => self.own_statement(stmt)?,
        };
        if !self.session.is_unsynced() {
            self.session
                .begin_request(RequestKind::Extended, Abandon::Fail);
        }
        let mut sets = param_sets.into_iter().peekable();
        let mut affected = 0;
        let mut index = 0usize;
        loop {
            let mut in_chunk = 0;
            while in_chunk < CHUNK {
                let Some(set) = sets.next() else { break };
                match self.write_bind_row("", &stmt, &set, names.as_deref()) {
                    Ok(bind_at) => self.session.execute(bind_at, 0),
                    Err(e) => return Err(self.abort_request(at_set(e, index)).await),
                }
                in_chunk += 1;
                index += 1;
            }
            let last = sets.peek().is_none();
            if last {
                self.session.sync();
            } else {
                // Chunks but the last end with Flush: the replies come back, the request
                // stays open, and the server never blocks on a full socket.
                self.session.flush();
            }
            self.flush().await?;
            let first_in_chunk = index - in_chunk;
            let mut done = 0;
            while done < in_chunk {
                match self.recv().await? {
                    Message::BindComplete => {}
                    Message::CommandComplete(c) => {
                        affected += c.rows().unwrap_or(0);
                        done += 1;
                    }
                    Message::EmptyQueryResponse => done += 1,
                    Message::DataRow(_) | Message::RowDescription(_) => {}
                    Message::ErrorResponse(fields) => {
                        let error = at_set(db_error(&fields), first_in_chunk + done);
                        // The server skips everything up to the Sync, then rolls back.
                        self.session.sync();
                        self.flush().await?;
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
}

/// Whether errors say which parameter set they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetNames {
    /// "parameter set 3: …"
    Numbered,
    /// One row: the error as it is.
    Single,
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

/// The first word of a statement, after whitespace and comments.
pub(super) fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(line) = rest.strip_prefix("--") {
            rest = line.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(block) = rest.strip_prefix("/*") {
            rest = block.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::first_keyword;

    #[test]
    fn first_keyword_skips_space_and_comments() {
        assert_eq!(first_keyword("COPY t FROM STDIN"), "COPY");
        assert_eq!(first_keyword("  \n\tcopy(x)"), "copy");
        assert_eq!(first_keyword("-- a\n/* b */ Copy t"), "Copy");
        assert_eq!(first_keyword("INSERT INTO t VALUES ($1)"), "INSERT");
        assert_eq!(first_keyword("/* unterminated"), "");
        assert_eq!(first_keyword(""), "");
    }
}
