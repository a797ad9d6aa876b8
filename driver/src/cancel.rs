//! [`CancelToken`]: asks the server to stop what a connection's backend is doing, with a
//! CancelRequest on a second socket to the same server, over TLS when the connection used it
//! (as libpq 17's `PQcancelBlocking`; the older `PQcancel` never encrypts).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::error::{Error, Result};
use crate::protocol::frontend;

/// How long a cancel may take when the connection has no `connect_timeout`.
const DEFAULT_CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the connection's server was reached: the cancel goes to the same place.
#[derive(Debug, Clone)]
pub(crate) enum CancelTarget {
    /// The address the connection's TCP socket is connected to.
    Tcp(SocketAddr),
    /// The unix socket's path.
    Unix(PathBuf),
    /// The address of a connection that uses TLS, the name its certificate was checked
    /// against, and the TLS setup it used.
    #[cfg(feature = "tls")]
    Tls {
        addr: SocketAddr,
        name: String,
        tls: std::sync::Arc<crate::tls::TlsConnector>,
    },
}

impl fmt::Display for CancelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelTarget::Tcp(addr) => write!(f, "{addr}"),
            CancelTarget::Unix(path) => write!(f, "{}", path.display()),
            #[cfg(feature = "tls")]
            CancelTarget::Tls { addr, .. } => write!(f, "{addr} (TLS)"),
        }
    }
}

/// Cancels the statement a connection is running, from anywhere: another task, another
/// thread, a signal handler's task. Cheap to clone; outlives the connection.
///
/// PostgreSQL cancels whatever the backend runs when the request arrives, and a backend that
/// is idle ignores it. The connection itself cancels the work of an operation whose future
/// was dropped (a timeout, a `select!`), so the token is for cancelling from outside.
///
/// ```no_run
/// # async fn demo(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
/// let token = conn.cancel_token();
/// tokio::spawn(async move {
///     tokio::time::sleep(std::time::Duration::from_secs(1)).await;
///     let _ = token.cancel().await;
/// });
/// let err = conn.execute("SELECT pg_sleep(60)", &[]).await.unwrap_err();
/// assert_eq!(err.sqlstate(), Some(pgtusk::SqlState::QUERY_CANCELED));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CancelToken {
    target: CancelTarget,
    process_id: i32,
    secret_key: i32,
    timeout: Duration,
}

impl CancelToken {
    pub(crate) fn new(
        target: CancelTarget,
        process_id: i32,
        secret_key: i32,
        connect_timeout: Option<Duration>,
    ) -> CancelToken {
        CancelToken {
            target,
            process_id,
            secret_key,
            timeout: connect_timeout.unwrap_or(DEFAULT_CANCEL_TIMEOUT),
        }
    }

    /// How long [`cancel`](Self::cancel) may take: the connection's `connect_timeout`, or
    /// 10 s when it has none.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends the CancelRequest and waits until the server has acted on it (it closes the
    /// socket once the backend was signalled). Bounded by the connection's `connect_timeout`
    /// (10 s when it has none): a server that is gone is an error, never a hang.
    pub async fn cancel(&self) -> Result<()> {
        match tokio::time::timeout(self.timeout, self.deliver()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Io(io::Error::new(
                e.kind(),
                format!("could not send the cancel request to {}: {e}", self.target),
            ))),
            Err(_) => Err(Error::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the cancel request to {} got no answer within {:?} (connect_timeout)",
                    self.target, self.timeout
                ),
            ))),
        }
    }

    async fn deliver(&self) -> io::Result<()> {
        let mut request = BytesMut::with_capacity(16);
        frontend::cancel_request(self.process_id, self.secret_key, &mut request);
        match &self.target {
            CancelTarget::Tcp(addr) => {
                send_and_await_close(TcpStream::connect(addr).await?, &request).await
            }
            CancelTarget::Unix(path) => {
                send_and_await_close(UnixStream::connect(path).await?, &request).await
            }
            #[cfg(feature = "tls")]
            CancelTarget::Tls { addr, name, tls } => {
                use crate::tls::Negotiated;
                let socket = TcpStream::connect(addr).await?;
                match tls.negotiate(socket, name).await {
                    Ok(Negotiated::Tls(stream)) => send_and_await_close(stream, &request).await,
                    Ok(Negotiated::Refused { .. }) => Err(io::Error::other(
                        "the server refused TLS for the cancel request, though the connection \
                         uses it",
                    )),
                    Err(e) => Err(io::Error::other(e.to_string())),
                }
            }
        }
    }
}

/// Writes the request and reads until the server closes the socket: only then has the
/// backend been signalled, so what is sent afterwards cannot be the statement cancelled.
async fn send_and_await_close<S: AsyncRead + AsyncWrite + Unpin>(
    mut socket: S,
    request: &[u8],
) -> io::Result<()> {
    socket.write_all(request).await?;
    let mut byte = [0u8; 1];
    loop {
        match socket.read(&mut byte).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // The server may reset rather than close (or, over TLS, close without a
            // close_notify); either way it is done with us.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret key stays out of logs.
        f.debug_struct("CancelToken")
            .field("target", &self.target)
            .field("process_id", &self.process_id)
            .finish_non_exhaustive()
    }
}
