//! [`PooledConnection`]: a connection on loan from a [`Pool`](crate::Pool), and
//! `ConnectionRef`, which lets a transaction or a row stream own one.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use super::{Live, Shared};
use crate::Connection;

/// A connection acquired from a [`Pool`](crate::Pool); derefs to [`Connection`], and goes
/// back to the pool when dropped (cleaned first when it needs it; see the pool's
/// documentation).
pub struct PooledConnection {
    /// `None` only once dropped or detached.
    live: Option<Live>,
    permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
}

impl PooledConnection {
    pub(super) fn new(live: Live, permit: OwnedSemaphorePermit, shared: Arc<Shared>) -> Self {
        PooledConnection {
            live: Some(live),
            permit: Some(permit),
            shared,
        }
    }

    fn live(&self) -> &Live {
        self.live
            .as_ref()
            .expect("a PooledConnection holds its connection until dropped")
    }

    /// Takes the connection out of the pool for good: the pool opens another in its place
    /// when it needs one.
    pub fn detach(mut self) -> Connection {
        let live = self
            .live
            .take()
            .expect("a PooledConnection holds its connection until dropped");
        let super::Live { conn, .. } = live;
        *conn
    }
}

impl Deref for PooledConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.live().conn
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self
            .live
            .as_mut()
            .expect("a PooledConnection holds its connection until dropped")
            .conn
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let (Some(live), Some(permit)) = (self.live.take(), self.permit.take()) {
            self.shared.release(live, permit);
        }
    }
}

impl fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.live {
            Some(live) => fmt::Debug::fmt(&live.conn, f),
            None => f.write_str("PooledConnection(detached)"),
        }
    }
}

/// A connection a transaction or a row stream runs on: borrowed, or a pooled one it owns
/// (from [`Pool::transaction`](crate::Pool::transaction), a query on `&Pool`), which goes
/// back to the pool when it ends.
pub(crate) enum ConnectionRef<'c> {
    Borrowed(&'c mut Connection),
    Pooled(Box<PooledConnection>),
}

impl Deref for ConnectionRef<'_> {
    type Target = Connection;

    #[inline]
    fn deref(&self) -> &Connection {
        match self {
            ConnectionRef::Borrowed(conn) => conn,
            ConnectionRef::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for ConnectionRef<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Connection {
        match self {
            ConnectionRef::Borrowed(conn) => conn,
            ConnectionRef::Pooled(conn) => conn,
        }
    }
}
