//! Callbacks set on [`ConnectOptions`](crate::ConnectOptions) and handed to every connection
//! made with them: a notice handler and a termination handler. Kept in `Arc`s so the options
//! stay `Clone`; two options compare equal when they share the same callbacks.

use std::fmt;
use std::sync::Arc;

use crate::error::{DbError, Error};

/// A callback for NoticeResponse messages (warnings, `RAISE NOTICE`, ...).
pub type NoticeHandler = Arc<dyn Fn(&DbError) + Send + Sync>;

/// A callback told once when the server ends the session (or the socket fails): it gets the
/// server's FATAL error (`57P01` for `pg_terminate_backend`, ...) or the I/O error.
pub type TerminationHandler = Arc<dyn Fn(&Error) + Send + Sync>;

/// The callbacks of a [`ConnectOptions`](crate::ConnectOptions).
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub notice: Option<NoticeHandler>,
    pub termination: Option<TerminationHandler>,
}

/// The same callback (the same `Arc`), not an equal one: closures cannot be compared.
fn same<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl PartialEq for Hooks {
    fn eq(&self, other: &Self) -> bool {
        same(&self.notice, &other.notice) && same(&self.termination, &other.termination)
    }
}

impl Eq for Hooks {}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("notice", &self.notice.as_ref().map(|_| "<fn>"))
            .field("termination", &self.termination.as_ref().map(|_| "<fn>"))
            .finish()
    }
}
