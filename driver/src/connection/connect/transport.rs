//! Opening one target's socket as `sslmode` says, and starting the session on it.
//!
//! libpq's order of attempts, per host: `disable` plain; `allow` plain, then TLS if the
//! server refused the plain connection; `prefer` TLS, then plain if the server has no TLS
//! (it answers `N`, on the same socket), the handshake failed, or the server refused the
//! TLS connection; `require` and stricter TLS or nothing. A refusal is a `28000` error
//! (no `pg_hba.conf` line matches: `hostssl` / `hostnossl`), never a wrong password.

use tokio::net::{TcpStream, UnixStream};

use super::super::Connection;
use super::super::stream::Socket;
use crate::cancel::CancelTarget;
use crate::config::{Host, Resolved, SslMode, Target};
use crate::error::{Error, Result, SqlState};
use crate::statement::StatementCache;

#[cfg(feature = "tls")]
pub(super) type Tls = std::sync::Arc<crate::tls::TlsConnector>;
/// Without the `tls` feature there is never a TLS setup.
#[cfg(not(feature = "tls"))]
pub(super) type Tls = std::convert::Infallible;

/// The TLS setup for these options, when some target may use TLS.
pub(super) fn tls_for(resolved: &Resolved) -> Result<Option<Tls>> {
    let any_tcp = resolved
        .targets
        .iter()
        .any(|t| matches!(t.host, Host::Tcp(_)));
    if resolved.ssl_mode == SslMode::Disable || !any_tcp {
        return Ok(None);
    }
    #[cfg(feature = "tls")]
    {
        Ok(Some(std::sync::Arc::new(crate::tls::TlsConnector::new(
            &resolved.tls,
        )?)))
    }
    #[cfg(not(feature = "tls"))]
    {
        tracing::debug!(
            sslmode = %resolved.ssl_mode,
            "built without the tls feature; connecting without TLS"
        );
        Ok(None)
    }
}

/// Connects to one target and runs the startup (authentication included).
pub(super) async fn connect_target(
    resolved: &Resolved,
    target: &Target,
    tls: Option<&Tls>,
) -> Result<Connection> {
    let host = match &target.host {
        Host::Unix(dir) => {
            // libpq never uses TLS over a unix socket, whatever sslmode says.
            let path = dir.join(format!(".s.PGSQL.{}", target.port));
            let stream = UnixStream::connect(&path).await?;
            return start(
                resolved,
                target,
                Socket::Unix(stream),
                CancelTarget::Unix(path),
            )
            .await;
        }
        Host::Tcp(host) => host,
    };
    let Some(tls) = tls else {
        return plain(resolved, target, host).await;
    };
    match resolved.ssl_mode {
        SslMode::Disable => plain(resolved, target, host).await,
        SslMode::Allow => match plain(resolved, target, host).await {
            Err(e) if refused(&e) => {
                tracing::debug!(error = %e, "sslmode=allow: plain refused, trying TLS");
                encrypted(resolved, target, host, tls, true).await
            }
            other => other,
        },
        SslMode::Prefer => match encrypted(resolved, target, host, tls, false).await {
            Err(e) if refused(&e) || matches!(e, Error::Tls(_)) => {
                tracing::debug!(error = %e, "sslmode=prefer: TLS failed, trying without");
                plain(resolved, target, host).await
            }
            other => other,
        },
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            encrypted(resolved, target, host, tls, true).await
        }
    }
}

/// The server turned the connection away before authentication (no pg_hba.conf line).
fn refused(e: &Error) -> bool {
    e.sqlstate() == Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
}

async fn open_tcp(host: &str, port: u16) -> Result<TcpStream> {
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn plain(resolved: &Resolved, target: &Target, host: &str) -> Result<Connection> {
    let stream = open_tcp(host, target.port).await?;
    let peer = stream.peer_addr()?;
    start(
        resolved,
        target,
        Socket::Tcp(stream),
        CancelTarget::Tcp(peer),
    )
    .await
}

#[cfg(not(feature = "tls"))]
async fn encrypted(_: &Resolved, _: &Target, _: &str, tls: &Tls, _: bool) -> Result<Connection> {
    match *tls {}
}

/// TLS, or (when not `required`, after the server said `N`) plain on the same socket.
#[cfg(feature = "tls")]
async fn encrypted(
    resolved: &Resolved,
    target: &Target,
    host: &str,
    tls: &Tls,
    required: bool,
) -> Result<Connection> {
    use crate::tls::Negotiated;

    let stream = open_tcp(host, target.port).await?;
    let peer = stream.peer_addr()?;
    let name = target.tls_name.as_deref().unwrap_or(host);
    match tls.negotiate(stream, name).await? {
        Negotiated::Tls(stream) => {
            let cancel = CancelTarget::Tls {
                addr: peer,
                name: name.to_owned(),
                tls: tls.clone(),
            };
            start(resolved, target, Socket::Tls(stream), cancel)
                .await
                .map_err(|e| tls.after_handshake(e, name))
        }
        Negotiated::Refused { socket, answer } if !required => {
            if answer == b'N' {
                start(
                    resolved,
                    target,
                    Socket::Tcp(socket),
                    CancelTarget::Tcp(peer),
                )
                .await
            } else {
                // An error instead of an answer: start over without asking.
                plain(resolved, target, host).await
            }
        }
        Negotiated::Refused { answer, .. } => Err(Error::Tls(format!(
            "the server at {} does not support SSL (it answered {:?} to the SSLRequest: \
             ssl is off in its postgresql.conf): enable ssl on the server, or use sslmode \
             prefer, allow or disable to connect without TLS",
            target.describe(),
            char::from(answer)
        ))),
    }
}

/// A connection over `socket`, through startup and authentication.
async fn start(
    resolved: &Resolved,
    target: &Target,
    socket: Socket,
    cancel_target: CancelTarget,
) -> Result<Connection> {
    let cache = StatementCache::new(
        resolved.statement_cache_size,
        resolved.max_cacheable_statement_size,
    );
    let mut conn = Connection::new(socket, cache, resolved.max_message_size, cancel_target);
    conn.connect_timeout = resolved.connect_timeout;
    conn.command_timeout = resolved.command_timeout;
    conn.slow_query_threshold = resolved.slow_query_threshold;
    conn.notice_handler = resolved.hooks.notice.clone();
    conn.startup(resolved, target).await?;
    // Set once connected: a failed attempt is the connect error, not a termination.
    conn.termination_handler = resolved.hooks.termination.clone();
    Ok(conn)
}
