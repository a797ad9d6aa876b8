//! [`CancelToken`]: cancels a blocking connection's running statement from another thread.

use super::Runtime;
use crate::error::Result;

/// Cancels the statement a blocking connection is running, from another thread; from
/// [`Connection::cancel_token`](super::Connection::cancel_token). `Send + Sync`, cheap to
/// clone.
///
/// ```no_run
/// use std::time::Duration;
/// # fn demo(conn: &mut pgtusk::blocking::Connection) -> pgtusk::Result<()> {
/// let token = conn.cancel_token();
/// let canceller = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_secs(1));
///     token.cancel()
/// });
/// let err = conn.execute("SELECT pg_sleep(60)", &[]).unwrap_err();
/// assert_eq!(err.sqlstate(), Some(pgtusk::SqlState::QUERY_CANCELED));
/// canceller.join().unwrap()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CancelToken {
    token: crate::CancelToken,
}

impl CancelToken {
    pub(crate) fn new(token: crate::CancelToken) -> CancelToken {
        CancelToken { token }
    }

    /// Sends the CancelRequest (over a new connection to the server) and waits until the
    /// server has acted on it; bounded by the connection's `connect_timeout` (10 s without
    /// one). A statement that had already finished is not an error.
    pub fn cancel(&self) -> Result<()> {
        // Rare and independent of the connection's runtime (which is busy on another
        // thread): a runtime of its own, for this one request.
        let rt = Runtime::current_thread("CancelToken::cancel")?;
        rt.block_on("CancelToken::cancel", self.token.cancel())
    }

    /// The async token, for code that runs inside a runtime.
    pub fn as_async(&self) -> &crate::CancelToken {
        &self.token
    }
}
