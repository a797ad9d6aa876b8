//! The maintenance task: idle connections that expired or that the server ended are let
//! go, and `min_connections` are kept open.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;

impl Shared {
    /// Retires idle connections that expired or that the server ended.
    pub(super) fn prune(&self) {
        let min = self.options.min_connections;
        let mut retired = Vec::new();
        {
            let mut idle = self.lock_idle();
            let mut size = self.size.load(Ordering::Acquire);
            // Oldest first: those are the ones beyond `min_connections` to let go.
            let mut kept = Vec::with_capacity(idle.len());
            for mut entry in idle.drain(..) {
                let inactive = self.is_inactive(entry.since.elapsed());
                if !entry.live.conn.check_idle() {
                    size -= 1;
                    drop(entry);
                } else if self.is_worn_out(&entry.live) || (inactive && size > min) {
                    size -= 1;
                    retired.push(entry.live);
                } else {
                    kept.push(entry);
                }
            }
            *idle = kept;
        }
        for live in retired {
            self.retire(live);
        }
    }

    /// Opens connections up to `min_connections`, without taking a permit a task waits for.
    async fn refill(&self) {
        while self.size.load(Ordering::Acquire) < self.options.min_connections
            && !self.closed.load(Ordering::Acquire)
        {
            let Ok(_permit) = self.permits.clone().try_acquire_owned() else {
                return;
            };
            match self.open().await {
                Ok(live) => self.put_idle(live),
                Err(e) => {
                    tracing::debug!("could not open a connection to keep min_connections: {e}");
                    return;
                }
            }
        }
    }

    /// How often the maintenance task looks at idle connections, if it runs at all.
    pub(super) fn maintenance_period(&self) -> Option<Duration> {
        let options = &self.options;
        let shortest = [
            options.max_inactive_connection_lifetime,
            options.max_lifetime,
        ]
        .into_iter()
        .flatten()
        .min();
        match shortest {
            Some(lifetime) => Some((lifetime / 4).clamp(Duration::from_millis(10), MAX_PERIOD)),
            None if options.min_connections > 0 => Some(MAX_PERIOD),
            None => None,
        }
    }
}

/// The maintenance task looks at idle connections at least this often.
const MAX_PERIOD: Duration = Duration::from_secs(10);

/// Retires expired idle connections and keeps `min_connections` open, until the pool is
/// dropped or closed.
pub(super) async fn maintain(shared: Weak<Shared>, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        shared.prune();
        shared.refill().await;
    }
}
