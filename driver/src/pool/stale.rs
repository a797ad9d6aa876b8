//! Stale statements, shared by the connections of one pool: a DDL that changes a table's
//! result type invalidates the statement on every backend, and the connection that sees
//! the error first tells the others, which drop the statement before they run it again (a
//! transaction on another connection then prepares it anew instead of failing with
//! "cached plan must not change result type").

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most stale statements remembered; a connection that fell further behind forgets
/// its whole cache.
const CAPACITY: usize = 256;

/// What a connection must forget.
pub(crate) enum Forget<'a> {
    /// The statement with this SQL text; `types` too when a type it used was dropped.
    Statement { sql: &'a str, types: bool },
    /// Everything cached: the connection fell behind the log.
    All,
}

/// The log of stale statements, numbered; each connection remembers how far it read.
#[derive(Debug, Default)]
pub(crate) struct StaleStatements {
    /// The number of the newest entry (0: none yet). Read on every operation, so atomic.
    newest: AtomicU64,
    log: Mutex<VecDeque<Entry>>,
}

#[derive(Debug)]
struct Entry {
    number: u64,
    sql: String,
    types: bool,
}

impl StaleStatements {
    /// Records that the statement for `sql` is stale on the server (`types`: a type it used
    /// was dropped, so looked-up types are stale too).
    pub(crate) fn publish(&self, sql: &str, types: bool) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let number = log.back().map_or(1, |e| e.number + 1);
        if log.len() == CAPACITY {
            log.pop_front();
        }
        log.push_back(Entry {
            number,
            sql: sql.to_owned(),
            types,
        });
        self.newest.store(number, Ordering::Release);
    }

    /// The newest entry's number: a connection that read up to it has nothing to do.
    #[inline]
    pub(crate) fn newest(&self) -> u64 {
        self.newest.load(Ordering::Acquire)
    }

    /// Calls `forget` for every entry after `seen` and returns the newest number.
    pub(crate) fn read_since(&self, seen: u64, mut forget: impl FnMut(Forget<'_>)) -> u64 {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let Some(newest) = log.back().map(|e| e.number) else {
            return seen;
        };
        match log.front() {
            Some(oldest) if oldest.number > seen + 1 => forget(Forget::All),
            _ => {
                for entry in log.iter().filter(|e| e.number > seen) {
                    forget(Forget::Statement {
                        sql: &entry.sql,
                        types: entry.types,
                    });
                }
            }
        }
        newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(log: &StaleStatements, seen: u64) -> (u64, Vec<String>) {
        let mut got = Vec::new();
        let newest = log.read_since(seen, |f| match f {
            Forget::Statement { sql, types } => {
                got.push(format!("{sql}{}", if types { "+types" } else { "" }))
            }
            Forget::All => got.push("ALL".to_owned()),
        });
        (newest, got)
    }

    #[test]
    fn a_connection_reads_what_it_has_not_seen() {
        let log = StaleStatements::default();
        assert_eq!(read(&log, 0), (0, vec![]));
        log.publish("SELECT a", false);
        log.publish("SELECT b", true);
        assert_eq!(log.newest(), 2);
        assert_eq!(read(&log, 0).1, ["SELECT a", "SELECT b+types"]);
        assert_eq!(read(&log, 1).1, ["SELECT b+types"]);
        assert_eq!(read(&log, 2), (2, vec![]));
    }

    #[test]
    fn a_connection_far_behind_forgets_everything() {
        let log = StaleStatements::default();
        for i in 0..CAPACITY + 5 {
            log.publish(&format!("SELECT {i}"), false);
        }
        assert_eq!(read(&log, 0).1, ["ALL"]);
        assert_eq!(read(&log, 5).1.len(), CAPACITY);
    }
}
