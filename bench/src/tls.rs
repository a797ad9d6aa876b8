//! Workload 15: workload 1 (point select by primary key) over TLS, for the three Rust drivers
//! with their rustls integrations, each checking the server's certificate against the CA the
//! TempCluster made and its name (verify-full):
//!
//! - pgtusk: `sslmode=verify-full` and `sslrootcert` (its own rustls, *ring* provider);
//! - tokio-postgres: `tokio-postgres-rustls` with a rustls `ClientConfig` (*ring*, the CA as the
//!   only root). tokio-postgres knows only `sslmode=require`; rustls' verifier checks the chain
//!   and the name whatever the mode says, which is verify-full;
//! - sqlx: its `tls-rustls-ring-webpki` feature, `PgSslMode::VerifyFull` and `ssl_root_cert`.
//!
//! Each connection is made once, before the warm-up, so the phases measure a TLS session's
//! per-record work (encrypting each query, decrypting each answer), not handshakes. The loops
//! are workload 1's own functions.

use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use sqlx::Connection as _;

use crate::workloads::{Contestant, POINT, R, point_pgtusk, point_sqlx, point_tokio_postgres};

/// Asks the server how the connection it runs on is secured: `(ssl, version, cipher)`.
const SESSION_SQL: &str = "SELECT ssl, coalesce(version, ''), coalesce(cipher, '') \
                           FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

/// One TLS connection per Rust driver, kept for the whole run.
pub struct TlsConns {
    pg: pgtusk::Connection,
    tp: tokio_postgres::Client,
    /// tokio-postgres's best way: POINT prepared once.
    tp_point: tokio_postgres::Statement,
    sx: sqlx::PgConnection,
}

impl TlsConns {
    /// Connects each driver over TLS to the server of `dsn` (its `sslmode` is overridden),
    /// trusting only the CA certificate in `ca` (PEM), and checks with the server that each
    /// connection really is TLS. Returns the connections and a line saying what each one
    /// negotiated (protocol version and cipher, as the server sees them).
    pub async fn connect(dsn: &str, ca: &Path) -> R<(TlsConns, String)> {
        let pg_opts = dsn
            .parse::<pgtusk::ConnectOptions>()?
            .ssl_mode(pgtusk::SslMode::VerifyFull)
            .ssl_root_cert(ca);
        let mut pg = pgtusk::Connection::connect_with(&pg_opts).await?;

        let mut tp_config = dsn.parse::<tokio_postgres::Config>()?;
        tp_config.ssl_mode(tokio_postgres::config::SslMode::Require);
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(rustls_config(ca)?);
        let (tp, conn) = tp_config.connect(tls).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("tokio-postgres-rustls connection: {e}");
            }
        });
        let tp_point = tp.prepare(POINT).await?;

        let sx_opts = sqlx::postgres::PgConnectOptions::from_str(dsn)?
            .ssl_mode(sqlx::postgres::PgSslMode::VerifyFull)
            .ssl_root_cert(ca);
        let mut sx = sqlx::PgConnection::connect_with(&sx_opts).await?;

        let pg_session: (bool, String, String) = {
            let row = pg.fetch_one(SESSION_SQL, &[]).await?;
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)
        };
        let tp_session: (bool, String, String) = {
            let row = tp.query_one(SESSION_SQL, &[]).await?;
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)
        };
        let sx_session: (bool, String, String) =
            sqlx::query_as(SESSION_SQL).fetch_one(&mut sx).await?;
        let mut line = String::from("TLS sessions (pg_stat_ssl):");
        for (c, (ssl, version, cipher)) in [
            (Contestant::Pgtusk, pg_session),
            (Contestant::TokioPostgresRustls, tp_session),
            (Contestant::SqlxRustls, sx_session),
        ] {
            if !ssl {
                return Err(format!(
                    "{}: the server reports this connection as not TLS; workload 15 must \
                     measure TLS (is ssl=on on the server, and hostssl allowed?)",
                    c.name()
                )
                .into());
            }
            line.push_str(&format!(" {} {version} {cipher};", c.name()));
        }
        line.pop();
        Ok((
            TlsConns {
                pg,
                tp,
                tp_point,
                sx,
            },
            line,
        ))
    }

    /// Runs one phase (`ops` point selects) on `c` and returns its checksum (workload 1's).
    pub async fn run(&mut self, c: Contestant, ops: usize, seed: u64) -> R<i64> {
        match c {
            Contestant::Pgtusk => point_pgtusk(&mut self.pg, ops, seed).await,
            Contestant::TokioPostgresRustls => {
                point_tokio_postgres(&self.tp, &self.tp_point, ops, seed).await
            }
            Contestant::SqlxRustls => point_sqlx(&mut self.sx, ops, seed).await,
            other => Err(format!("{} does not run workload 15 (TLS)", other.name()).into()),
        }
    }
}

/// The rustls client configuration for tokio-postgres-rustls: the *ring* provider (as pgtusk
/// and sqlx use here), its safe default protocol versions, and `ca` as the only root.
fn rustls_config(ca: &Path) -> R<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)
        .map_err(|e| format!("reading the CA certificate {}: {e}", ca.display()))?
    {
        let cert = cert.map_err(|e| format!("parsing the CA certificate {}: {e}", ca.display()))?;
        roots.add(cert)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
