//! LISTEN/NOTIFY on a [`Connection`]: `listen`, `unlisten`, `notify`, and the
//! [`Notifications`] stream; [`Listener`] (in `listener.rs`) keeps listening across lost
//! connections.
//!
//! The server sends a NotificationResponse whenever it likes: between queries, or in the middle
//! of one. The session keeps each in a bounded buffer (see
//! [`Connection::set_notification_buffer`]) in the order they came, and the stream hands them
//! out; while nothing is buffered, the stream reads the socket itself.

mod listener;

pub use listener::{Listener, ListenerEvent};

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::protocol::backend::Notification;

impl Connection {
    /// `LISTEN channel`: from now on, `NOTIFY channel` (or `pg_notify('channel', …)`) from any
    /// session of the database reaches this connection; read them with
    /// [`notifications`](Self::notifications).
    ///
    /// The name is an identifier, quoted here, so it is taken exactly as written: case and
    /// every character are kept (`NOTIFY "Orders"` is not `NOTIFY orders`; `pg_notify` takes
    /// the name as written). PostgreSQL truncates names longer than 63 bytes.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// conn.listen("orders").await?;
    /// while let Some(note) = conn.notifications().next().await {
    ///     let note = note?;
    ///     println!("{}: {}", note.channel(), note.payload());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn listen(&mut self, channel: &str) -> Result<()> {
        let sql = format!("LISTEN {}", quote_channel(channel)?);
        self.execute_script(&sql).await
    }

    /// `UNLISTEN channel`. Notifications already received on it are still in
    /// [`notifications`](Self::notifications).
    pub async fn unlisten(&mut self, channel: &str) -> Result<()> {
        let sql = format!("UNLISTEN {}", quote_channel(channel)?);
        self.execute_script(&sql).await
    }

    /// `UNLISTEN *`: stops listening on every channel.
    pub async fn unlisten_all(&mut self) -> Result<()> {
        self.execute_script("UNLISTEN *").await
    }

    /// Sends a notification: `SELECT pg_notify(channel, payload)`. Inside a transaction it is
    /// delivered at COMMIT (and not at all after a rollback). The payload must be shorter than
    /// 8000 bytes (the server's limit).
    pub async fn notify(&mut self, channel: &str, payload: &str) -> Result<()> {
        self.execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
            .await
            .map(drop)
    }

    /// The notifications on the channels this connection [`listen`](Self::listen)s to, as a
    /// `Stream`: first those that arrived while other queries ran, oldest first, then new
    /// ones as they come (the stream waits for them while no query runs; it never ends on
    /// its own).
    ///
    /// Nothing is lost silently: when more arrive than the buffer keeps (see
    /// [`set_notification_buffer`](Self::set_notification_buffer)), the oldest are dropped and
    /// the stream yields [`Error::NotificationsDropped`] with their count, before the ones
    /// that were kept; the connection stays usable. When the connection ends, the stream
    /// yields that error (the server's own, e.g. 57P01 after `pg_terminate_backend`) and then
    /// ends. For a connection that comes back by itself, use [`Listener`].
    ///
    /// Dropping the stream (or the future of its `next()`) loses nothing. To take only what
    /// has arrived without waiting, poll it once: `conn.notifications().next().now_or_never()`
    /// (`futures_util::FutureExt`).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    /// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    /// conn.listen("jobs").await?;
    /// conn.execute("UPDATE jobs SET state = 'queued'", &[]).await?; // notifications may come meanwhile
    /// let mut notes = conn.notifications();
    /// // Wait at most a second for the next one.
    /// if let Ok(Some(note)) = tokio::time::timeout(Duration::from_secs(1), notes.next()).await {
    ///     println!("job {}", note?.payload());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn notifications(&mut self) -> Notifications<'_> {
        Notifications {
            conn: self,
            ended: false,
        }
    }

    /// How many notifications are kept until [`notifications`](Self::notifications) reads
    /// them (default 10,000; at least 1). Past it the oldest are dropped, and the stream says
    /// how many. Shrinking it below what is kept drops the oldest now.
    ///
    /// They pile up only while other operations run: the stream itself reads one message at
    /// a time and leaves the rest waiting in the socket and the server's queue.
    pub fn set_notification_buffer(&mut self, capacity: usize) {
        self.session_mut().set_notification_capacity(capacity);
    }
}

/// The notifications a connection receives, oldest first; from
/// [`Connection::notifications`].
///
/// Items are `Ok(notification)`, [`Error::NotificationsDropped`] when the buffer overflowed
/// (the stream goes on), or the error that ended the connection (the stream then ends).
#[must_use = "streams do nothing unless polled"]
pub struct Notifications<'c> {
    conn: &'c mut Connection,
    /// The connection ended and the stream said why.
    ended: bool,
}

impl Stream for Notifications<'_> {
    type Item = Result<Notification>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.conn.poll_notification(cx) {
            Poll::Ready(Err(e)) if this.conn.is_closed() => {
                this.ended = true;
                Poll::Ready(Some(Err(e)))
            }
            other => other.map(Some),
        }
    }
}

impl std::fmt::Debug for Notifications<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications")
            .field("conn", &self.conn)
            .field("ended", &self.ended)
            .finish()
    }
}

/// A channel name as a quoted identifier: `"…"` with `"` doubled, so any name works and none
/// is read as SQL.
fn quote_channel(channel: &str) -> Result<String> {
    if channel.is_empty() {
        return Err(Error::Interface(
            "a LISTEN/UNLISTEN channel name cannot be empty".to_owned(),
        ));
    }
    if channel.contains('\0') {
        return Err(Error::Interface(format!(
            "the channel name {channel:?} holds a NUL byte, which PostgreSQL cannot take"
        )));
    }
    Ok(format!("\"{}\"", channel.replace('"', "\"\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_quoted_identifiers() {
        assert_eq!(quote_channel("orders").unwrap(), "\"orders\"");
        assert_eq!(quote_channel("Mixed Case").unwrap(), "\"Mixed Case\"");
        assert_eq!(
            quote_channel("a\"; DROP TABLE t; --").unwrap(),
            "\"a\"\"; DROP TABLE t; --\""
        );
        assert!(quote_channel("").is_err());
        assert!(quote_channel("a\0b").is_err());
    }

    /// Both can move to another task (`tokio::spawn`).
    #[test]
    fn listener_and_stream_are_send() {
        fn is_send<T: Send>() {}
        is_send::<Listener>();
        is_send::<Notifications<'static>>();
    }
}
