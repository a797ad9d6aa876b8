//! [`PoolStatus`]: a snapshot of a pool's connections and waiters.

use std::fmt;

/// How a [`Pool`](crate::Pool) stands at one moment ([`Pool::status`](crate::Pool::status)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// Connections open or being opened.
    pub size: usize,
    /// Open connections nobody uses.
    pub idle: usize,
    /// Connections handed out, being cleaned after release, or being opened.
    pub in_use: usize,
    /// Connections being opened (part of `in_use`).
    pub opening: usize,
    /// Tasks waiting in `acquire` for a connection.
    pub waiting: usize,
    /// The most connections the pool opens.
    pub max_connections: usize,
}

impl fmt::Display for PoolStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of at most {} connections open ({} idle, {} in use",
            self.size, self.max_connections, self.idle, self.in_use
        )?;
        if self.opening > 0 {
            write!(f, ", {} of them still connecting", self.opening)?;
        }
        write!(f, ") and {} task(s) waiting", self.waiting)
    }
}
