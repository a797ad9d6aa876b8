//! [`Listener`]: LISTEN on many channels over a connection of its own that comes back by
//! itself.
//!
//! NOTIFY is not durable: what is sent while no session listens is gone. So a lost connection
//! is not hidden: the listener yields [`ListenerEvent::Disconnected`] when it notices, reconnects
//! with backoff, LISTENs again on every channel in one round trip, and then yields
//! [`ListenerEvent::Reconnected`]: whatever the notifications stand for must be read again
//! from the tables, after that marker (a change made later is notified).

use std::collections::BTreeSet;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;

use super::quote_channel;
use crate::config::ConnectOptions;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::protocol::backend::Notification;

/// The first pause between failed reconnection attempts, by default.
const DEFAULT_MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between failed reconnection attempts, by default.
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What a [`Listener`] yields.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenerEvent {
    /// A notification on one of the channels.
    Notification(Notification),
    /// The connection was lost (the error says why: the server's FATAL, such as 57P01 after
    /// `pg_terminate_backend` or a shutdown, or an I/O error). The listener is reconnecting;
    /// notifications sent from now until [`Reconnected`](Self::Reconnected) are missed.
    Disconnected(Error),
    /// Connected again and listening on every channel. Notifications sent while the
    /// connection was down were missed (NOTIFY is not durable): read again whatever they
    /// stand for.
    Reconnected,
    /// More notifications arrived than a connection keeps unread (10,000) while the listener
    /// ran its own statements (the LISTENs after a reconnection): this many of the oldest
    /// were dropped. While it waits, the listener reads them one by one and leaves the rest to
    /// the server's queue, so this is rare.
    Dropped(u64),
}

/// The connection, or the way back to one.
enum State {
    /// Boxed: a connection is large, and the state moves between its two forms.
    Connected(Box<Connection>),
    /// Connecting (after a pause) and LISTENing on a snapshot of the channels.
    Reconnecting(Pin<Box<dyn Future<Output = Result<Connection>> + Send>>),
}

/// LISTEN on many channels over a connection of its own, reconnecting when it is lost.
///
/// A `Stream` of [`ListenerEvent`]s that never ends, also read with
/// [`recv`](Self::recv). When the connection is lost (`pg_terminate_backend`, a server
/// restart, a network failure) it yields [`ListenerEvent::Disconnected`], reconnects with
/// exponential backoff (100 ms doubling to 10 s, jittered; see
/// [`set_reconnect_backoff`](Self::set_reconnect_backoff)), LISTENs again on every channel,
/// and yields [`ListenerEvent::Reconnected`]: notifications sent in between were missed.
///
/// A failed reconnection attempt that may succeed later (the server is down or starting, an
/// I/O error, too many connections) is retried without a word but a `tracing` warning; any
/// other failure (a wrong password, a dropped database) is yielded as an `Err` item, and the
/// listener still tries again when polled after it.
///
/// ```no_run
/// use futures_util::StreamExt;
/// use pgtusk::{Listener, ListenerEvent};
///
/// # async fn demo() -> pgtusk::Result<()> {
/// let mut listener = Listener::connect("postgres://postgres@localhost/app").await?;
/// listener.listen("orders").await?;
/// listener.listen("invoices").await?;
/// while let Some(event) = listener.next().await {
///     match event? {
///         ListenerEvent::Notification(n) => println!("{}: {}", n.channel(), n.payload()),
///         // Some notifications may be gone: reload what they stand for.
///         ListenerEvent::Reconnected | ListenerEvent::Dropped(_) => println!("reload"),
///         ListenerEvent::Disconnected(why) => eprintln!("lost the connection: {why}"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Listener {
    options: ConnectOptions,
    channels: BTreeSet<String>,
    state: State,
    /// A lost connection not yet told as [`ListenerEvent::Disconnected`].
    disconnected: Option<Error>,
    /// Failed reconnection attempts since the connection was lost.
    attempts: u32,
    min_backoff: Duration,
    max_backoff: Duration,
}

impl Listener {
    /// Connects with a DSN (see [`Connection::connect`]); no channel is listened to yet.
    pub async fn connect(dsn: &str) -> Result<Listener> {
        Listener::connect_with(&dsn.parse::<ConnectOptions>()?).await
    }

    /// Connects with options; every reconnection uses the same options. A failure here is
    /// returned, not retried.
    pub async fn connect_with(options: &ConnectOptions) -> Result<Listener> {
        let conn = Connection::connect_with(options).await?;
        Ok(Listener {
            options: options.clone(),
            channels: BTreeSet::new(),
            state: State::Connected(Box::new(conn)),
            disconnected: None,
            attempts: 0,
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        })
    }

    /// Listens on `channel` (a name taken exactly as written; see [`Connection::listen`]), now
    /// and after every reconnection.
    ///
    /// An error from the server (the LISTEN failed) is returned and the channel is not kept.
    /// When the connection is down or is lost during the LISTEN, the channel is kept and
    /// listened to on reconnection, and this returns `Ok`: the stream tells the outage as
    /// [`ListenerEvent::Disconnected`] and [`ListenerEvent::Reconnected`].
    pub async fn listen(&mut self, channel: &str) -> Result<()> {
        quote_channel(channel)?;
        if self.channels.contains(channel) {
            return Ok(());
        }
        if let State::Connected(conn) = &mut self.state {
            if let Err(e) = conn.listen(channel).await {
                if !conn.is_closed() {
                    return Err(e);
                }
                self.connection_lost(e);
            }
        }
        self.channels.insert(channel.to_owned());
        self.restart_reconnection();
        Ok(())
    }

    /// Stops listening on `channel`, now and after reconnections. Notifications on it already
    /// received are still yielded.
    pub async fn unlisten(&mut self, channel: &str) -> Result<()> {
        if !self.channels.remove(channel) {
            return Ok(());
        }
        if let State::Connected(conn) = &mut self.state {
            if let Err(e) = conn.unlisten(channel).await {
                if !conn.is_closed() {
                    return Err(e);
                }
                self.connection_lost(e);
            }
        }
        self.restart_reconnection();
        Ok(())
    }

    /// Stops listening on every channel.
    pub async fn unlisten_all(&mut self) -> Result<()> {
        if self.channels.is_empty() {
            return Ok(());
        }
        self.channels.clear();
        if let State::Connected(conn) = &mut self.state {
            if let Err(e) = conn.unlisten_all().await {
                if !conn.is_closed() {
                    return Err(e);
                }
                self.connection_lost(e);
            }
        }
        self.restart_reconnection();
        Ok(())
    }

    /// The channels listened to, in byte order.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().map(String::as_str)
    }

    /// Whether the listener is connected now (`false` while it reconnects).
    pub fn is_connected(&self) -> bool {
        matches!(&self.state, State::Connected(conn) if !conn.is_closed())
    }

    /// The backend process id of the current connection (`None` while reconnecting): for
    /// `pg_terminate_backend` in a test, or to find the session in `pg_stat_activity`.
    pub fn backend_pid(&self) -> Option<i32> {
        match &self.state {
            State::Connected(conn) => Some(conn.backend_pid()),
            State::Reconnecting(_) => None,
        }
    }

    /// The pauses between failed reconnection attempts: `min` after the first failure,
    /// doubling up to `max`, each jittered down by up to half. The first attempt after a loss
    /// is immediate. Default: 100 ms to 10 s.
    pub fn set_reconnect_backoff(&mut self, min: Duration, max: Duration) {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
    }

    /// The next event; the same as the stream's next item. Cancel-safe: dropping the future
    /// loses nothing.
    pub async fn recv(&mut self) -> Result<ListenerEvent> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<ListenerEvent>> {
        loop {
            if let Some(e) = self.disconnected.take() {
                return Poll::Ready(Ok(ListenerEvent::Disconnected(e)));
            }
            match &mut self.state {
                State::Connected(conn) => match ready!(conn.poll_notification(cx)) {
                    Ok(n) => return Poll::Ready(Ok(ListenerEvent::Notification(n))),
                    Err(Error::NotificationsDropped { dropped, .. }) => {
                        return Poll::Ready(Ok(ListenerEvent::Dropped(dropped)));
                    }
                    // Every other error leaves the connection closed (or its state unknown):
                    // start again on a new one.
                    Err(e) => self.connection_lost(e),
                },
                State::Reconnecting(attempt) => match ready!(attempt.as_mut().poll(cx)) {
                    Ok(conn) => {
                        self.state = State::Connected(Box::new(conn));
                        self.attempts = 0;
                        return Poll::Ready(Ok(ListenerEvent::Reconnected));
                    }
                    Err(e) => {
                        self.attempts = self.attempts.saturating_add(1);
                        let pause = self.backoff();
                        tracing::warn!(
                            attempt = self.attempts,
                            "the listener could not reconnect ({e}); trying again in {pause:?}"
                        );
                        self.state = State::Reconnecting(self.reconnection(pause));
                        if !is_transient(&e) {
                            return Poll::Ready(Err(e));
                        }
                    }
                },
            }
        }
    }

    /// Drops the lost connection: the next poll says so, then reconnects at once.
    fn connection_lost(&mut self, e: Error) {
        tracing::debug!("the listener lost its connection: {e}");
        self.disconnected = Some(e);
        self.attempts = 0;
        self.state = State::Reconnecting(self.reconnection(Duration::ZERO));
    }

    /// The channels changed while reconnecting: the attempt in progress LISTENs on an old
    /// list, so it starts again (after the same pause) with the new one.
    fn restart_reconnection(&mut self) {
        if let State::Reconnecting(_) = self.state {
            let pause = if self.attempts == 0 {
                Duration::ZERO
            } else {
                self.backoff()
            };
            self.state = State::Reconnecting(self.reconnection(pause));
        }
    }

    /// The pause before the next attempt: `min_backoff` doubled per failed attempt, at most
    /// `max_backoff`, minus up to half of it at random so that many listeners do not come back
    /// all at once.
    fn backoff(&self) -> Duration {
        let doublings = self.attempts.saturating_sub(1).min(20);
        let base = self
            .min_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let half = base / 2;
        let millis = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::random_range(0..=millis))
    }

    /// A new connection after `pause`, listening on every channel (one round trip).
    fn reconnection(
        &self,
        pause: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<Connection>> + Send>> {
        let options = self.options.clone();
        let listen = self
            .channels
            .iter()
            .map(|c| quote_channel(c).map(|quoted| format!("LISTEN {quoted}")))
            .collect::<Result<Vec<_>>>()
            .map(|statements| statements.join("; "));
        Box::pin(async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let listen = listen?;
            let mut conn = Connection::connect_with(&options).await?;
            if !listen.is_empty() {
                conn.execute_script(&listen).await?;
            }
            Ok(conn)
        })
    }
}

/// Whether a failed reconnection may succeed later without anyone changing anything: the
/// server is unreachable, shutting down or starting up, or out of connections.
fn is_transient(e: &Error) -> bool {
    match e {
        Error::Io(_) | Error::Closed | Error::Timeout(_) => true,
        Error::Db(_) => e.sqlstate().is_some_and(|s| {
            s.is_operator_intervention()
                || s.is_insufficient_resources()
                || s.is_connection_exception()
        }),
        _ => false,
    }
}

impl Stream for Listener {
    type Item = Result<ListenerEvent>;

    /// Never ends: a lost connection is reconnected.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx).map(Some)
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let connection = match &self.state {
            State::Connected(conn) => Some(conn),
            State::Reconnecting(_) => None,
        };
        f.debug_struct("Listener")
            .field("channels", &self.channels)
            .field("connection", &connection)
            .field("reconnect_attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_are_retried_quietly() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(is_transient(&Error::Io(refused)));
        assert!(is_transient(&Error::Closed));
        assert!(!is_transient(&Error::Auth("no".into())));
        assert!(!is_transient(&Error::Config("bad".into())));
    }
}
