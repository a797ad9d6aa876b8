//! Opening a connection: socket, startup message, authentication, server parameters.

use std::io;

use tokio::net::{TcpStream, UnixStream};

use super::stream::Socket;
use super::{Connection, db_error};
use crate::auth::{self, ScramSha256};
use crate::cancel::CancelTarget;
use crate::config::{ConnectOptions, Host, Resolved, SslMode, Target};
use crate::error::{Error, Result};
use crate::protocol::backend::Message;
use crate::protocol::frontend;
use crate::statement::StatementCache;

impl Connection {
    /// Connects with a DSN: a `postgres://` URL or a libpq `key=value` string.
    ///
    /// What the DSN leaves out comes from the `PG*` environment variables, `~/.pgpass` and
    /// libpq's defaults; see [`ConnectOptions`].
    pub async fn connect(dsn: &str) -> Result<Connection> {
        Self::connect_with(&dsn.parse::<ConnectOptions>()?).await
    }

    /// Connects with options built in code (they win over the environment).
    ///
    /// Several hosts are tried in order; the first that accepts the connection is used. An
    /// authentication failure is final, as in libpq.
    pub async fn connect_with(options: &ConnectOptions) -> Result<Connection> {
        let resolved = options.resolve()?;
        if matches!(resolved.ssl_mode, SslMode::Prefer | SslMode::Allow) {
            // resolve() refused the modes that demand TLS; these two may go without it.
            tracing::debug!(sslmode = %resolved.ssl_mode, "TLS is not built yet; connecting without it");
        }
        let mut failures = Vec::new();
        for target in &resolved.targets {
            let attempt = connect_target(&resolved, target);
            let result = match resolved.connect_timeout {
                Some(limit) => match tokio::time::timeout(limit, attempt).await {
                    Ok(result) => result,
                    Err(_) => Err(Error::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("timed out after {limit:?} (connect_timeout)"),
                    ))),
                },
                None => attempt.await,
            };
            match result {
                Ok(conn) => return Ok(conn),
                Err(Error::Io(e)) => failures.push((target.describe(), e)),
                Err(other) => return Err(other),
            }
        }
        let (kind, message) = match failures.as_slice() {
            [] => (
                io::ErrorKind::InvalidInput,
                "no host to connect to".to_owned(),
            ),
            [(target, e)] => (e.kind(), format!("could not connect to {target}: {e}")),
            many => {
                let each: Vec<String> = many.iter().map(|(t, e)| format!("{t}: {e}")).collect();
                (
                    many[many.len() - 1].1.kind(),
                    format!("could not connect to any host ({})", each.join("; ")),
                )
            }
        };
        Err(Error::Io(io::Error::new(kind, message)))
    }
}

async fn connect_target(resolved: &Resolved, target: &Target) -> Result<Connection> {
    let (socket, cancel_target) = match &target.host {
        Host::Tcp(host) => {
            let stream = TcpStream::connect((host.as_str(), target.port)).await?;
            stream.set_nodelay(true)?;
            let peer = stream.peer_addr()?;
            (Socket::Tcp(stream), CancelTarget::Tcp(peer))
        }
        Host::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{}", target.port));
            let stream = UnixStream::connect(&path).await?;
            (Socket::Unix(stream), CancelTarget::Unix(path))
        }
    };
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

impl Connection {
    async fn startup(&mut self, resolved: &Resolved, target: &Target) -> Result<()> {
        let mut params: Vec<(&str, &str)> = vec![
            ("user", &resolved.user),
            ("database", &resolved.dbname),
            ("client_encoding", "UTF8"),
        ];
        if let Some(name) = &resolved.application_name {
            params.push(("application_name", name));
        }
        if let Some(options) = &resolved.options {
            params.push(("options", options));
        }
        frontend::startup_message(&params, self.session.out())?;
        self.flush().await?;
        self.authenticate(&resolved.user, target.password.as_deref())
            .await?;
        loop {
            match self.recv().await? {
                Message::BackendKeyData {
                    process_id,
                    secret_key,
                } => {
                    self.process_id = process_id;
                    self.secret_key = secret_key;
                }
                Message::ReadyForQuery(_) => return Ok(()),
                Message::ErrorResponse(fields) => return Err(db_error(&fields)),
                Message::NegotiateProtocolVersion {
                    newest_minor,
                    unrecognized,
                } => {
                    tracing::debug!(
                        newest_minor,
                        ?unrecognized,
                        "server negotiated the protocol version down"
                    );
                }
                other => return Err(self.unexpected(&other, "startup")),
            }
        }
    }

    async fn authenticate(&mut self, user: &str, password: Option<&str>) -> Result<()> {
        let need_password = || {
            Error::Auth(format!(
                "the server asks for a password for user \"{user}\" but none was given \
                 (set it in the DSN, ConnectOptions::password, PGPASSWORD or ~/.pgpass)"
            ))
        };
        loop {
            match self.recv().await? {
                Message::AuthenticationOk => return Ok(()),
                Message::AuthenticationCleartextPassword => {
                    let password = password.ok_or_else(need_password)?;
                    frontend::password_message(password.as_bytes(), self.session.out())?;
                    self.flush().await?;
                }
                Message::AuthenticationMd5Password { salt } => {
                    let password = password.ok_or_else(need_password)?;
                    let hashed = auth::md5_password(user, password, salt);
                    frontend::password_message(hashed.as_bytes(), self.session.out())?;
                    self.flush().await?;
                }
                Message::AuthenticationSasl(mechanisms) => {
                    if !mechanisms.iter().any(|m| m == auth::SCRAM_SHA_256) {
                        let offered: Vec<&str> = mechanisms.iter().collect();
                        return Err(Error::Auth(format!(
                            "the server offers SASL mechanisms {offered:?}; pgtusk supports only {}",
                            auth::SCRAM_SHA_256
                        )));
                    }
                    let password = password.ok_or_else(need_password)?;
                    self.scram(password).await?;
                }
                Message::AuthenticationKerberosV5
                | Message::AuthenticationScmCredential
                | Message::AuthenticationGss
                | Message::AuthenticationGssContinue(_)
                | Message::AuthenticationSspi => {
                    return Err(Error::Auth(
                        "the server asks for Kerberos/GSSAPI/SSPI/SCM authentication, which pgtusk does not \
                         support; use password, md5 or scram-sha-256 in pg_hba.conf"
                            .to_owned(),
                    ));
                }
                Message::ErrorResponse(fields) => return Err(db_error(&fields)),
                other => return Err(self.unexpected(&other, "authentication")),
            }
        }
    }

    async fn scram(&mut self, password: &str) -> Result<()> {
        let mut scram = ScramSha256::new(password);
        frontend::sasl_initial_response(
            auth::SCRAM_SHA_256,
            &scram.client_first(),
            self.session.out(),
        )?;
        self.flush().await?;
        let server_first = match self.recv().await? {
            Message::AuthenticationSaslContinue(data) => data,
            Message::ErrorResponse(fields) => return Err(db_error(&fields)),
            other => return Err(self.unexpected(&other, "SCRAM authentication")),
        };
        let client_final = scram.handle_server_first(&server_first)?;
        frontend::sasl_response(&client_final, self.session.out())?;
        self.flush().await?;
        match self.recv().await? {
            Message::AuthenticationSaslFinal(data) => scram.verify_server_final(&data),
            Message::ErrorResponse(fields) => Err(db_error(&fields)),
            other => Err(self.unexpected(&other, "SCRAM authentication")),
        }
    }
}
