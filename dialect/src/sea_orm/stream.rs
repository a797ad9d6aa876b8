//! sea-orm's `StreamTrait`: rows as they arrive, not collected into a `Vec`.
//!
//! A pgtusk `RowStream` borrows the connection it reads from, and sea-orm wants a stream
//! that outlives the call that made it. So a task of its own owns the connection (a pooled
//! one, or the transaction's, whose lock it holds) and hands the rows over a bounded
//! channel: the query runs as fast as the reader reads. Dropping the stream stops the task,
//! and the connection drains what is left and goes back.
//!
//! Like sea-orm's own transaction streams, a stream on a [`TuskTransaction`] holds the
//! transaction's connection until it is dropped: another statement on the transaction
//! waits for it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::sea_orm::{DbBackend, DbErr, QueryResult, Statement, StreamTrait};
use futures_util::{Stream, StreamExt};
use pgtusk::{Connection, PooledConnection};
use tokio::sync::{OwnedMappedMutexGuard, mpsc, oneshot};

use super::database::TuskDatabase;
use super::error::{Stage, backend_err, db_err};
use super::row::query_result;
use super::statement::prepare;
use super::transaction::{Pinned, TuskTransaction};
use crate::Params;

/// Rows read ahead of the reader.
const AHEAD: usize = 64;

/// The rows of a query on a [`TuskDatabase`] or a [`TuskTransaction`], as they arrive
/// (sea-orm's `StreamTrait`; `Entity::find().stream(&db)`).
#[derive(Debug)]
pub struct TuskStream {
    rows: mpsc::Receiver<Result<QueryResult, DbErr>>,
}

impl Stream for TuskStream {
    type Item = Result<QueryResult, DbErr>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rows.poll_recv(cx)
    }
}

/// The connection a stream's task owns.
enum Owned {
    Pooled(PooledConnection),
    Transaction(OwnedMappedMutexGuard<Option<Pinned>, Pinned>),
}

impl Owned {
    fn conn(&mut self) -> &mut Connection {
        match self {
            Owned::Pooled(conn) => conn,
            Owned::Transaction(pinned) => pinned,
        }
    }
}

/// Starts the query in a task that owns `conn`; returns once the server has accepted it
/// (an error in the statement is returned here, not from the stream).
async fn start(mut conn: Owned, sql: String, params: Params) -> Result<TuskStream, DbErr> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        backend_err(
            Stage::Query,
            "a row stream needs a Tokio runtime to read in: call stream() inside one",
        )
    })?;
    let (rows_tx, rows) = mpsc::channel(AHEAD);
    let (started_tx, started) = oneshot::channel();
    runtime.spawn(async move {
        let refs = params.as_refs();
        let mut stream = match conn.conn().fetch_stream(sql.as_str(), &refs).await {
            Ok(stream) => {
                let _ = started_tx.send(Ok(()));
                stream
            }
            Err(e) => {
                let _ = started_tx.send(Err(db_err(Stage::Query, e)));
                return;
            }
        };
        while let Some(row) = stream.next().await {
            let row = row
                .and_then(|r| query_result(&r))
                .map_err(|e| db_err(Stage::Query, e));
            let failed = row.is_err();
            // An error from `send`: the reader dropped the stream.
            if rows_tx.send(row).await.is_err() || failed {
                break;
            }
        }
    });
    match started.await {
        Ok(Ok(())) => Ok(TuskStream { rows }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(backend_err(
            Stage::Query,
            "the task reading the rows ended before the query started (its runtime is \
             shutting down)",
        )),
    }
}

impl StreamTrait for TuskDatabase {
    type Stream<'a> = TuskStream;

    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    fn stream_raw<'a>(
        &'a self,
        stmt: Statement,
    ) -> Pin<Box<dyn Future<Output = Result<TuskStream, DbErr>> + 'a + Send>> {
        Box::pin(async move {
            let (sql, params) = prepare(Stage::Query, stmt)?;
            let conn = self
                .pool()
                .acquire()
                .await
                .map_err(|e| db_err(Stage::Query, e))?;
            start(Owned::Pooled(conn), sql, params).await
        })
    }
}

impl StreamTrait for TuskTransaction {
    type Stream<'a> = TuskStream;

    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    fn stream_raw<'a>(
        &'a self,
        stmt: Statement,
    ) -> Pin<Box<dyn Future<Output = Result<TuskStream, DbErr>> + 'a + Send>> {
        Box::pin(async move {
            let (sql, params) = prepare(Stage::Query, stmt)?;
            let conn = self.lock_owned(Stage::Query).await?;
            start(Owned::Transaction(conn), sql, params).await
        })
    }
}
