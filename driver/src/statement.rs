//! [`Statement`]: a statement prepared on the server, and the LRU cache keyed by SQL text.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::record::Columns;
use crate::types::Type;

/// A statement prepared on one connection: its parameter types and result columns.
///
/// Cloning is cheap. A named statement is closed on the server (batched with the
/// connection's next request) once the last clone is dropped.
///
/// ```no_run
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let stmt = conn.prepare("SELECT $1::int4 + 1 AS next").await?;
/// assert_eq!(stmt.params()[0], pgtusk::Type::INT4);
/// assert_eq!(stmt.columns().get(0).unwrap().name(), "next");
/// let next: i32 = conn.fetch_one(&stmt, &[&41i32]).await?.get(0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Statement(pub(crate) Arc<StatementInner>);

pub(crate) struct StatementInner {
    /// The server-side name; empty for the unnamed statement.
    pub(crate) name: String,
    pub(crate) sql: String,
    pub(crate) params: Vec<Type>,
    pub(crate) columns: Arc<Columns>,
    /// Bind's parameter format codes: one code for all when they agree.
    pub(crate) param_formats: Vec<i16>,
    /// Bind's result format codes: one code for all when they agree.
    pub(crate) result_formats: Vec<i16>,
    /// The connection this statement belongs to.
    pub(crate) connection_id: u64,
    /// Running it may change the session (it calls `pg_advisory_lock`, `set_config`): a
    /// pool resets the connection afterwards. See `protocol::session_state`.
    pub(crate) changes_session: bool,
    /// Where to send this statement's name for closing once it is dropped.
    pub(crate) close_queue: Option<CloseQueue>,
}

pub(crate) use crate::protocol::session::CloseQueue;

impl Drop for StatementInner {
    fn drop(&mut self) {
        if let Some(queue) = &self.close_queue {
            queue.push([std::mem::take(&mut self.name)]);
        }
    }
}

impl Statement {
    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.0.sql
    }

    /// The types of `$1`, `$2`, ... as the server inferred them.
    pub fn params(&self) -> &[Type] {
        &self.0.params
    }

    /// The result columns (empty for statements that return no rows).
    pub fn columns(&self) -> &Columns {
        &self.0.columns
    }

    /// The server-side name (empty for an unnamed statement).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub(crate) fn columns_arc(&self) -> &Arc<Columns> {
        &self.0.columns
    }
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statement")
            .field("name", &self.0.name)
            .field("sql", &self.0.sql)
            .field("params", &self.0.params)
            .field("columns", &self.0.columns.as_slice())
            .finish()
    }
}

/// Bind format codes for a list of types: `[]` when there are none, `[code]` when all agree.
pub(crate) fn format_codes(types: impl Iterator<Item = bool>) -> Vec<i16> {
    let codes: Vec<i16> = types.map(i16::from).collect();
    match codes.first() {
        Some(&first) if codes.iter().all(|&c| c == first) => vec![first],
        _ => codes,
    }
}

/// The statement cache: least recently used goes first.
///
/// Capacities are small (100 by default) and eviction only happens on a miss, which costs a
/// round trip anyway, so eviction scans for the oldest entry instead of keeping a list.
pub(crate) struct StatementCache {
    entries: HashMap<String, (Statement, u64)>,
    capacity: usize,
    max_sql_len: usize,
    clock: u64,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize, max_sql_len: usize) -> Self {
        StatementCache {
            entries: HashMap::new(),
            capacity,
            max_sql_len,
            clock: 0,
        }
    }

    /// Whether a statement with this SQL may be cached (and so get a server-side name).
    pub(crate) fn admits(&self, sql: &str) -> bool {
        self.capacity > 0 && sql.len() <= self.max_sql_len
    }

    pub(crate) fn get(&mut self, sql: &str) -> Option<&Statement> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(sql).map(|(stmt, used)| {
            *used = clock;
            &*stmt
        })
    }

    /// Inserts, evicting the least recently used entry when full. The evicted statement is
    /// closed on the server when its last clone drops.
    pub(crate) fn insert(&mut self, stmt: Statement) {
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(sql, _)| sql.clone());
            if let Some(sql) = oldest {
                self.entries.remove(&sql);
            }
        }
        self.clock += 1;
        self.entries.insert(stmt.0.sql.clone(), (stmt, self.clock));
    }

    pub(crate) fn remove(&mut self, sql: &str) {
        self.entries.remove(sql);
    }

    /// Drops every statement, closing each on the server with the next request.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Forgets every statement without closing them: the server has already dropped them
    /// (DISCARD ALL, DEALLOCATE ALL).
    pub(crate) fn forget_all(&mut self) {
        for (_, (stmt, _)) in self.entries.drain() {
            if let Some(inner) = Arc::into_inner(stmt.0) {
                let mut inner = inner;
                inner.close_queue = None;
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The longest SQL text, in bytes, the cache admits.
    pub(crate) fn max_sql_len(&self) -> usize {
        self.max_sql_len
    }
}
