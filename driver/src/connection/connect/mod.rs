//! Opening a connection: choosing the host, the socket and TLS (`transport.rs`), startup,
//! authentication with SCRAM channel binding, and `target_session_attrs`
//! (`session_attrs.rs`).

mod session_attrs;
mod transport;

use std::io;

use rand::seq::SliceRandom as _;

use super::{Connection, db_error};
use crate::auth::{self, ScramBinding, ScramSha256};
use crate::config::{
    ChannelBinding, ConnectOptions, LoadBalanceHosts, Resolved, Target, TargetSessionAttrs,
};
use crate::error::{Error, Result};
use crate::protocol::backend::Message;
use crate::protocol::frontend;

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
    /// Several hosts are tried in order (shuffled with `load_balance_hosts=random`), each
    /// within its own `connect_timeout`; the first that accepts the connection and is the
    /// kind `target_session_attrs` asks for is used. A host that cannot be reached, fails
    /// TLS, or is the wrong kind is skipped; an authentication failure is final, as in libpq.
    pub async fn connect_with(options: &ConnectOptions) -> Result<Connection> {
        let resolved = options.resolve()?;
        let tls = transport::tls_for(&resolved)?;
        let mut order: Vec<&Target> = resolved.targets.iter().collect();
        if resolved.load_balance_hosts == LoadBalanceHosts::Random {
            order.shuffle(&mut rand::rng());
        }
        // prefer-standby: a standby on a first pass, else any server on a second.
        let passes: &[TargetSessionAttrs] = match resolved.target_session_attrs {
            TargetSessionAttrs::PreferStandby => {
                &[TargetSessionAttrs::Standby, TargetSessionAttrs::Any]
            }
            TargetSessionAttrs::Any => &[TargetSessionAttrs::Any],
            TargetSessionAttrs::ReadWrite => &[TargetSessionAttrs::ReadWrite],
            TargetSessionAttrs::ReadOnly => &[TargetSessionAttrs::ReadOnly],
            TargetSessionAttrs::Primary => &[TargetSessionAttrs::Primary],
            TargetSessionAttrs::Standby => &[TargetSessionAttrs::Standby],
        };
        let mut failures: Vec<(String, Error)> = Vec::new();
        for &want in passes {
            failures.clear();
            for target in &order {
                let attempt = async {
                    let mut conn =
                        transport::connect_target(&resolved, target, tls.as_ref()).await?;
                    match session_attrs::mismatch(&mut conn, want).await? {
                        None => Ok(Ok(conn)),
                        Some(is) => {
                            let _ = conn.close().await;
                            Ok(Err(is))
                        }
                    }
                };
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
                    Ok(Ok(conn)) => return Ok(conn),
                    Ok(Err(is)) => failures.push((
                        target.describe(),
                        Error::Io(io::Error::other(format!(
                            "the server is {is}, not {want} (target_session_attrs)"
                        ))),
                    )),
                    Err(e @ (Error::Io(_) | Error::Tls(_))) => {
                        failures.push((target.describe(), e));
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        Err(no_host(failures, &resolved))
    }
}

/// The error when no target gave a connection: the one failure as it was, or every
/// target's failure in one message.
fn no_host(mut failures: Vec<(String, Error)>, resolved: &Resolved) -> Error {
    let wanted = match resolved.target_session_attrs {
        TargetSessionAttrs::Any => String::new(),
        attrs => format!(" for target_session_attrs={attrs}"),
    };
    match failures.len() {
        0 => Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no host to connect to",
        )),
        1 => match failures.pop() {
            Some((target, Error::Io(e))) => Error::Io(io::Error::new(
                e.kind(),
                format!("could not connect to {target}{wanted}: {e}"),
            )),
            Some((_, other)) => other,
            None => unreachable!("one failure"),
        },
        _ => {
            let each: Vec<String> = failures
                .iter()
                .map(|(t, e)| match e {
                    Error::Io(io) => format!("{t}: {io}"),
                    other => format!("{t}: {other}"),
                })
                .collect();
            let message = format!(
                "could not connect to any host{wanted} ({})",
                each.join("; ")
            );
            match failures.last() {
                Some((_, Error::Tls(_))) => Error::Tls(message),
                Some((_, Error::Io(e))) => Error::Io(io::Error::new(e.kind(), message)),
                _ => Error::Io(io::Error::other(message)),
            }
        }
    }
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
        self.authenticate(
            &resolved.user,
            target.password.as_deref(),
            resolved.channel_binding,
        )
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

    async fn authenticate(
        &mut self,
        user: &str,
        password: Option<&str>,
        binding: ChannelBinding,
    ) -> Result<()> {
        let need_password = || {
            Error::Auth(format!(
                "the server asks for a password for user \"{user}\" but none was given \
                 (set it in the DSN, ConnectOptions::password, PGPASSWORD or ~/.pgpass)"
            ))
        };
        // channel_binding=require: refused before any password is sent.
        let require = binding == ChannelBinding::Require;
        let unbound = |how: &str| {
            Error::Auth(format!(
                "channel_binding=require, but the server {how}, so it cannot prove it is the \
                 server the TLS certificate belongs to; nothing was sent (use scram-sha-256 in \
                 pg_hba.conf with a TLS connection, or set channel_binding=prefer)"
            ))
        };
        let mut bound = false;
        loop {
            match self.recv().await? {
                Message::AuthenticationOk if require && !bound => {
                    return Err(unbound(
                        "let us in without a SCRAM exchange (trust, cert or peer authentication)",
                    ));
                }
                Message::AuthenticationOk => return Ok(()),
                Message::AuthenticationCleartextPassword if require => {
                    return Err(unbound("asks for a cleartext password"));
                }
                Message::AuthenticationMd5Password { .. } if require => {
                    return Err(unbound("asks for an MD5 password"));
                }
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
                    let offered: Vec<&str> = mechanisms.iter().collect();
                    let scram_binding = self.scram_binding(binding, &offered)?;
                    if !offered.contains(&scram_binding.mechanism()) {
                        return Err(Error::Auth(format!(
                            "the server offers SASL mechanisms {offered:?}; pgtusk supports only \
                             {} and {}",
                            auth::SCRAM_SHA_256,
                            auth::SCRAM_SHA_256_PLUS
                        )));
                    }
                    bound = matches!(scram_binding, ScramBinding::TlsServerEndPoint(_));
                    let password = password.ok_or_else(need_password)?;
                    self.scram(password, scram_binding).await?;
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

    /// How this SCRAM exchange binds to the connection, given the setting, TLS, and what the
    /// server offers; an error (before any password is used) when `require` cannot be met.
    fn scram_binding(&self, binding: ChannelBinding, offered: &[&str]) -> Result<ScramBinding> {
        let certificate = self.socket.server_certificate();
        let plus_offered = offered.contains(&auth::SCRAM_SHA_256_PLUS);
        match (binding, certificate) {
            (ChannelBinding::Disable, _) => Ok(ScramBinding::None),
            (ChannelBinding::Require, None) => Err(Error::Auth(
                "channel_binding=require, but the connection does not use TLS (a unix socket, \
                 or the server has no TLS): nothing was sent (connect over TCP with sslmode \
                 require or stricter, or set channel_binding=prefer)"
                    .to_owned(),
            )),
            (ChannelBinding::Require, Some(_)) if !plus_offered => Err(Error::Auth(format!(
                "channel_binding=require, but the server offers only {offered:?}, not {}: nothing \
                 was sent (set channel_binding=prefer)",
                auth::SCRAM_SHA_256_PLUS
            ))),
            (_, Some(certificate)) if plus_offered => tls_server_end_point(certificate),
            (_, Some(_)) => Ok(ScramBinding::ServerLacksIt),
            (ChannelBinding::Prefer, None) => Ok(ScramBinding::None),
        }
    }

    async fn scram(&mut self, password: &str, binding: ScramBinding) -> Result<()> {
        let mechanism = binding.mechanism();
        let mut scram = ScramSha256::new(password).with_binding(binding);
        frontend::sasl_initial_response(mechanism, &scram.client_first(), self.session.out())?;
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

#[cfg(feature = "tls")]
fn tls_server_end_point(certificate: &[u8]) -> Result<ScramBinding> {
    crate::tls::tls_server_end_point(certificate).map(ScramBinding::TlsServerEndPoint)
}

#[cfg(not(feature = "tls"))]
fn tls_server_end_point(_: &[u8]) -> Result<ScramBinding> {
    unreachable!("without the tls feature there is no server certificate")
}
