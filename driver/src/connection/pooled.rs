//! What a [`Pool`](crate::Pool) needs of a connection: its operation count, whether its
//! session may have changed, a look at an idle socket, the pool's shared stale-statement
//! log, and the client-side settings to put back before the next user.

use std::sync::Arc;
use std::task::{Context, Poll};

use super::Connection;
use crate::config::{NoticeHandler, TerminationHandler};
use crate::pool::stale::{Forget, StaleStatements};
use crate::protocol::backend::{self, TransactionStatus};
use crate::protocol::session::Event;

impl Connection {
    /// Drops what another connection of the pool found stale on the server.
    #[cold]
    pub(super) fn forget_stale_elsewhere(&mut self) {
        let Some(stale) = self.pool_stale.clone() else {
            return;
        };
        self.stale_seen = stale.read_since(self.stale_seen, |forget| match forget {
            Forget::Statement { sql, types } => {
                self.cache.remove(sql);
                if types {
                    self.custom_types.clear();
                    self.described.forget_all();
                }
            }
            Forget::All => {
                self.cache.clear();
                self.custom_types.clear();
                self.described.forget_all();
            }
        });
    }

    /// Joins a pool: statements this connection finds stale are told to the others through
    /// `stale`, and theirs to it.
    pub(crate) fn share_stale_statements(&mut self, stale: Arc<StaleStatements>) {
        self.stale_seen = stale.newest();
        self.pool_stale = Some(stale);
    }

    /// Operations started on this connection so far.
    pub(crate) fn operations(&self) -> u64 {
        self.operations
    }

    /// Whether a command may have left state in the session since the last call (see
    /// `protocol::session_state`).
    pub(crate) fn take_state_changed(&mut self) -> bool {
        self.session.take_state_changed()
    }

    /// Whether the session is idle: no request owed an answer, no statement queued, and no
    /// transaction open.
    pub(crate) fn is_idle(&self) -> bool {
        self.session.is_settled() && self.session.transaction_status() == TransactionStatus::Idle
    }

    /// Reads, without waiting, what arrived on a connection nobody uses: a server that ended
    /// the session (`pg_terminate_backend`, a shutdown) sent its FATAL and closed the socket.
    /// Returns whether the connection is still usable. Costs no system call when nothing
    /// arrived (the runtime tracks the socket's readiness).
    pub(crate) fn check_idle(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        while !self.session.is_broken() {
            match backend::parse_message(&mut self.read_buf, self.max_message_size) {
                Ok(Some(msg)) => match self.session.handle(&msg) {
                    Ok(Event::Consumed) => {}
                    Ok(Event::Notice) => self.handle_notice(&msg),
                    Ok(Event::Deliver) => {
                        self.unexpected(&msg, "idle");
                    }
                    Err(_) => self.session.set_broken(),
                },
                Ok(None) => match self.poll_fill(&mut cx) {
                    Poll::Pending => return true,
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => {
                        tracing::debug!("an idle connection was lost: {e}");
                    }
                },
                Err(e) => {
                    self.malformed(e);
                }
            }
        }
        false
    }

    /// Forgets the notifications not read yet (the pool ran `UNLISTEN *`).
    pub(crate) fn clear_notifications(&mut self) {
        self.session.clear_notifications();
    }

    /// What a user may change on this side of the connection (handlers, the notification
    /// buffer): a pool takes it after `init` and puts it back before the next user.
    pub(crate) fn client_settings(&self) -> ClientSettings {
        ClientSettings {
            notice: self.notice_handler.clone(),
            termination: self.termination_handler.clone(),
            notification_capacity: self.session.notification_capacity(),
        }
    }

    /// Puts back what [`client_settings`](Self::client_settings) took. Nothing is cloned
    /// when nothing changed (the common case, on every release).
    pub(crate) fn restore_client_settings(&mut self, saved: &ClientSettings) {
        if !same_handler(&self.notice_handler, &saved.notice) {
            self.notice_handler = saved.notice.clone();
        }
        if !same_handler(&self.termination_handler, &saved.termination) {
            self.termination_handler = saved.termination.clone();
        }
        if self.session.notification_capacity() != saved.notification_capacity {
            self.session
                .set_notification_capacity(saved.notification_capacity);
        }
    }
}

/// A connection's client-side settings, as [`Connection::client_settings`] took them.
#[derive(Clone)]
pub(crate) struct ClientSettings {
    notice: Option<NoticeHandler>,
    termination: Option<TerminationHandler>,
    notification_capacity: usize,
}

/// The same handler (the same `Arc`): closures cannot be compared.
fn same_handler<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}
