//! TLS through rustls (crate feature `tls`, on by default).
//!
//! The crypto provider is *ring*: it builds with the C compiler alone, where aws-lc-rs (rustls'
//! default) wants CMake or a prebuilt library on some platforms, and it compiles faster. The
//! provider is passed explicitly, so another crate in the same build enabling rustls' other
//! provider changes nothing here.
//!
//! `sslrootcert=system` reads the platform's trust store through `rustls-native-certs` (on
//! Linux the OpenSSL store, honouring `SSL_CERT_FILE` / `SSL_CERT_DIR`): that is what libpq
//! means by `system`, and it follows the machine's own CA updates, where a compiled-in
//! Mozilla list (webpki-roots) would not.
//!
//! One [`TlsConnector`] is built per connect from the resolved options (the files are read
//! then) and shared with the connection's cancel token, so a CancelRequest goes over TLS
//! too, as libpq 17 sends it.

mod end_point;
mod files;
mod verify;

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use self::verify::{Check, PgVerifier};
use crate::config::{RootCert, SslMode, SslNegotiation, TlsSettings};
use crate::error::Error;
use crate::protocol::frontend;

pub(crate) use self::end_point::tls_server_end_point;

/// A TLS connection to the server over TCP.
pub(crate) type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// The ALPN protocol PostgreSQL 17 speaks (and demands with direct negotiation).
const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// Where the certificates come from, for messages.
#[derive(Debug, Clone)]
enum RootsFrom {
    None,
    File(String),
    System,
}

/// The client side of TLS, set up from the resolved options.
pub(crate) struct TlsConnector {
    config: Arc<ClientConfig>,
    negotiation: SslNegotiation,
    check: Check,
    roots: RootsFrom,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("negotiation", &self.negotiation)
            .field("check", &self.check)
            .field("roots", &self.roots)
            .finish_non_exhaustive()
    }
}

/// What came of asking for TLS.
pub(crate) enum Negotiated {
    Tls(Box<TlsStream>),
    /// The server answered the SSLRequest with `N` (or an error): the socket is still good
    /// for a plain startup after `N`.
    Refused {
        socket: TcpStream,
        answer: u8,
    },
}

impl TlsConnector {
    /// Reads the certificate files and builds the client configuration.
    pub(crate) fn new(settings: &TlsSettings) -> Result<TlsConnector, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (roots, pinned, from) = match &settings.root_cert {
            RootCert::File(path) => {
                let certs = files::certificates("sslrootcert", path)?;
                let mut store = RootCertStore::empty();
                let (_, ignored) = store.add_parsable_certificates(certs.iter().cloned());
                if store.is_empty() {
                    return Err(Error::Config(format!(
                        "the sslrootcert file {} holds {ignored} certificate(s), none usable as \
                         a CA (set sslrootcert to your server's CA certificate)",
                        path.display()
                    )));
                }
                (
                    Some(store),
                    certs,
                    RootsFrom::File(path.display().to_string()),
                )
            }
            RootCert::System => (Some(system_roots()?), Vec::new(), RootsFrom::System),
            RootCert::None { .. } => (None, Vec::new(), RootsFrom::None),
        };
        let check = match settings.mode {
            SslMode::VerifyFull => Check::Full,
            SslMode::VerifyCa => Check::Ca,
            // libpq: with a root certificate at hand, `require` (and what may use TLS) checks
            // the CA.
            _ if roots.is_some() => Check::Ca,
            _ => Check::Nothing,
        };
        if check != Check::Nothing && roots.is_none() {
            let default = match &settings.root_cert {
                RootCert::None {
                    default: Some(path),
                } => format!(" ({} does not exist)", path.display()),
                _ => String::new(),
            };
            return Err(Error::Config(format!(
                "sslmode={} checks the server's certificate, and no root certificate was given{default}: \
                 set sslrootcert to the CA file of your server (managed services publish one), \
                 sslrootcert=system for the platform's trusted roots, or sslmode=require to not \
                 check the certificate",
                settings.mode
            )));
        }
        let verifier = PgVerifier::new(check, roots, pinned, &provider).map_err(Error::Config)?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match &settings.client_cert {
            Some((cert_path, key_path)) => {
                let certs = files::certificates("sslcert", cert_path)?;
                let key = files::private_key(key_path)?;
                builder.with_client_auth_cert(certs, key).map_err(|e| {
                    Error::Config(format!(
                        "the client certificate {} and key {} cannot be used together: {e}",
                        cert_path.display(),
                        key_path.display()
                    ))
                })?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
        config.enable_sni = settings.sni;
        Ok(TlsConnector {
            config: Arc::new(config),
            negotiation: settings.negotiation,
            check,
            roots: from,
        })
    }

    /// Starts TLS on a fresh TCP connection to the server `name` (a host name or an IP
    /// address): SSLRequest first, or directly.
    pub(crate) async fn negotiate(
        &self,
        mut socket: TcpStream,
        name: &str,
    ) -> Result<Negotiated, Error> {
        if self.negotiation == SslNegotiation::Direct {
            let stream = self.handshake(socket, name).await?;
            if stream.get_ref().1.alpn_protocol() != Some(ALPN_POSTGRESQL) {
                return Err(Error::Tls(format!(
                    "the server at {name} accepted a direct TLS connection without the ALPN \
                     protocol \"postgresql\", so it is not PostgreSQL 17 or newer (or a proxy is \
                     in the way): use sslnegotiation=postgres"
                )));
            }
            return Ok(Negotiated::Tls(Box::new(stream)));
        }
        let mut request = BytesMut::with_capacity(8);
        frontend::ssl_request(&mut request);
        socket.write_all(&request).await?;
        // Exactly one byte: whatever follows 'S' belongs to the TLS handshake, never to us
        // (CVE-2021-23222).
        let mut answer = [0u8; 1];
        socket.read_exact(&mut answer).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "the server closed the connection before answering the request for TLS \
                     (is it shutting down, or not PostgreSQL?): {e}"
                ),
            )
        })?;
        match answer[0] {
            b'S' => Ok(Negotiated::Tls(Box::new(
                self.handshake(socket, name).await?,
            ))),
            answer @ (b'N' | b'E') => Ok(Negotiated::Refused { socket, answer }),
            other => Err(Error::Protocol(format!(
                "the server answered the SSLRequest with byte {other:#04x}, expected 'S' or 'N'"
            ))),
        }
    }

    async fn handshake(&self, socket: TcpStream, name: &str) -> Result<TlsStream, Error> {
        let server_name = server_name(name)?;
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        connector
            .connect(server_name, socket)
            .await
            .map_err(|e| self.handshake_error(e, name))
    }

    /// A failure after the handshake, during startup: with TLS 1.3 the server checks our
    /// client certificate only after the client finished, so its refusal (an alert) arrives
    /// on the first read. A TLS failure becomes [`Error::Tls`]; anything else stays as it is.
    pub(crate) fn after_handshake(&self, e: Error, name: &str) -> Error {
        match e {
            Error::Io(io)
                if io
                    .get_ref()
                    .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()) =>
            {
                self.handshake_error(io, name)
            }
            other => other,
        }
    }

    /// The message for a failed handshake: which check failed and what to set.
    fn handshake_error(&self, e: io::Error, name: &str) -> Error {
        let Some(tls) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        else {
            let hint = if self.negotiation == SslNegotiation::Direct {
                " (sslnegotiation=direct needs PostgreSQL 17 or newer; an older server reads \
                 the TLS ClientHello as a broken startup packet and hangs up: use \
                 sslnegotiation=postgres)"
            } else {
                ""
            };
            return Error::Io(io::Error::new(
                e.kind(),
                format!("TLS handshake with {name} failed: {e}{hint}"),
            ));
        };
        let roots = match &self.roots {
            RootsFrom::File(path) => format!("the CA certificates in {path}"),
            RootsFrom::System => "the platform's trusted roots (sslrootcert=system)".to_owned(),
            RootsFrom::None => "no root certificate".to_owned(),
        };
        let message = match tls {
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => format!(
                    "the server's certificate is not signed by {roots} (unknown CA): set \
                     sslrootcert to the CA that signed the server's certificate, or \
                     sslmode=require to not check it"
                ),
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    let presented = match cert {
                        CertificateError::NotValidForNameContext { presented, .. }
                            if !presented.is_empty() =>
                        {
                            format!(" (it is issued for {})", presented.join(", "))
                        }
                        _ => String::new(),
                    };
                    format!(
                        "the server's certificate does not match the host name \"{name}\"{presented}: \
                         connect with a name the certificate lists, or use sslmode=verify-ca to \
                         check only the CA"
                    )
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired: renew it on the server (or check \
                     this machine's clock)"
                        .to_owned()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the server's certificate is not valid yet: check this machine's clock and \
                     the server's"
                        .to_owned()
                }
                CertificateError::Revoked => "the server's certificate was revoked".to_owned(),
                other => format!("the server's certificate was refused: {other:?}"),
            },
            rustls::Error::AlertReceived(alert) => match alert {
                AlertDescription::UnknownCA
                | AlertDescription::BadCertificate
                | AlertDescription::CertificateUnknown
                | AlertDescription::AccessDenied => format!(
                    "the server refused our client certificate ({alert:?}): set sslcert and \
                     sslkey to a certificate signed by a CA in the server's ssl_ca_file"
                ),
                AlertDescription::CertificateRequired => "the server requires a client \
                     certificate: set sslcert and sslkey"
                    .to_owned(),
                AlertDescription::NoApplicationProtocol => "the server refused the ALPN protocol \
                     \"postgresql\": use sslnegotiation=postgres"
                    .to_owned(),
                other => format!("the server ended the TLS handshake ({other:?})"),
            },
            other => format!("TLS handshake failed: {other}"),
        };
        Error::Tls(format!("TLS with {name}: {message}"))
    }
}

/// The platform's trusted roots, read once per process: a pool opens many connections, and
/// the store holds a few hundred certificates. (A CA added to the machine later is seen by
/// the next process.)
fn system_roots() -> Result<RootCertStore, Error> {
    static ROOTS: OnceLock<Result<RootCertStore, String>> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(found.certs);
        if store.is_empty() {
            return Err(format!(
                "sslrootcert=system found no trusted root certificate on this machine ({} \
                 problem(s) reading the store{}); install the CA bundle (Debian: \
                 ca-certificates), point SSL_CERT_FILE at one, or set sslrootcert to your \
                 server's CA file",
                found.errors.len(),
                found
                    .errors
                    .first()
                    .map(|e| format!(", first: {e}"))
                    .unwrap_or_default()
            ));
        }
        Ok(store)
    });
    roots.clone().map_err(Error::Config)
}

/// The name rustls checks the certificate against (and sends as SNI, host names only).
fn server_name(name: &str) -> Result<ServerName<'static>, Error> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(name.to_owned()).map_err(|_| {
        Error::Config(format!(
            "the host name {name:?} is not a valid DNS name, so TLS cannot check a certificate \
             against it (use the server's DNS name or IP address)"
        ))
    })
}
