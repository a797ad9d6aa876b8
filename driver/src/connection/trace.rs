//! Query tracing: one event per finished statement on target `pgtusk::query`, DEBUG with the
//! SQL (truncated), rows, elapsed time and whether the statement cache had it; WARN when it
//! took longer than [`ConnectOptions::slow_query_threshold`](crate::ConnectOptions::slow_query_threshold).
//!
//! Free when nobody listens: without a threshold and without a subscriber enabled for DEBUG on
//! `pgtusk::query`, a query costs one level check, and no clock is read.

use std::time::Instant;

use super::{Connection, truncated};
use crate::error::Error;

/// What a statement's event needs from its start.
#[derive(Debug)]
pub(super) struct QueryTrace {
    started: Instant,
    /// [`Connection::prepares`] at the start: more at the end means a cache miss.
    prepares: u64,
}

impl Connection {
    /// Starts timing a statement, when an event about it could be emitted.
    #[inline]
    pub(super) fn trace_start(&self) -> Option<QueryTrace> {
        if self.slow_query_threshold.is_none()
            && !tracing::enabled!(target: "pgtusk::query", tracing::Level::DEBUG)
        {
            return None;
        }
        Some(self.trace_now())
    }

    #[cold]
    #[inline(never)]
    fn trace_now(&self) -> QueryTrace {
        QueryTrace {
            started: Instant::now(),
            prepares: self.prepares,
        }
    }

    /// Emits the event for a finished statement (`error`: how it failed).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_end(&self, trace: QueryTrace, sql: &str, rows: u64, error: Option<&Error>) {
        let elapsed = trace.started.elapsed();
        let cache = if self.prepares == trace.prepares {
            "hit"
        } else {
            "miss"
        };
        let error = error.map(ToString::to_string);
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        if self
            .slow_query_threshold
            .is_some_and(|limit| elapsed >= limit)
        {
            tracing::warn!(
                target: "pgtusk::query",
                sql = %truncated(sql),
                rows,
                elapsed_ms,
                cache,
                error,
                "slow query"
            );
        } else {
            tracing::debug!(
                target: "pgtusk::query",
                sql = %truncated(sql),
                rows,
                elapsed_ms,
                cache,
                error,
                "query"
            );
        }
    }
}
