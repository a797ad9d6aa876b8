//! Certificates made at test time with rcgen, so that no key is ever committed: a CA, the
//! server's certificate for a [`TempCluster`](super::TempCluster) with TLS on, and client
//! certificates for `cert` authentication.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

fn rcgen_error(what: &str, e: rcgen::Error) -> io::Error {
    io::Error::other(format!("could not make {what}: {e}"))
}

/// How a cluster serves TLS: the names its certificate is issued for, and whether that
/// certificate has expired. Default: `localhost` and `127.0.0.1`, valid.
///
/// ```no_run
/// use pgtusk::cluster::{ClusterTls, TempCluster};
///
/// # fn main() -> std::io::Result<()> {
/// let cluster = TempCluster::builder()
///     .tls(ClusterTls::new())
///     .hba_line("hostnossl all all 127.0.0.1/32 reject")
///     .start()?;
/// let ca = cluster.ca_cert_path().expect("TLS is on");
/// println!("{}?sslmode=verify-full&sslrootcert={}", cluster.dsn(), ca.display());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTls {
    pub(super) names: Vec<String>,
    pub(super) expired: bool,
}

impl Default for ClusterTls {
    fn default() -> Self {
        ClusterTls {
            names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            expired: false,
        }
    }
}

impl ClusterTls {
    /// A certificate for `localhost` and `127.0.0.1`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The names (DNS names or IP addresses) the server's certificate is issued for,
    /// instead of the defaults.
    pub fn names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Issue the server a certificate that expired in 2000.
    pub fn expired(mut self, expired: bool) -> Self {
        self.expired = expired;
        self
    }
}

/// A certificate authority made on the spot (ECDSA P-256 with SHA-256): it signs a
/// cluster's server certificate and the client certificates tests use. Another one is the
/// "wrong CA" for a test.
pub struct CertificateAuthority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A new CA whose certificate's common name is `name`.
    pub fn new(name: &str) -> io::Result<CertificateAuthority> {
        let key = KeyPair::generate().map_err(|e| rcgen_error("a CA key", e))?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| rcgen_error("a CA", e))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, key)
            .map_err(|e| rcgen_error("a CA certificate", e))?;
        Ok(CertificateAuthority { issuer })
    }

    /// The CA's certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes the CA's certificate (PEM) to `path`.
    pub fn write_cert(&self, path: &Path) -> io::Result<()> {
        write_file(path, &self.cert_pem(), 0o644)
    }

    /// A certificate and its key (both PEM) with common name `common_name`, for the
    /// `names` given (DNS names or IP addresses; may be empty), for a server or a client.
    pub fn issue(
        &self,
        common_name: &str,
        names: &[String],
        expired: bool,
    ) -> io::Result<(String, String)> {
        let key = KeyPair::generate().map_err(|e| rcgen_error("a key", e))?;
        let mut params =
            CertificateParams::new(names.to_vec()).map_err(|e| rcgen_error("a certificate", e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if expired {
            params.not_before = rcgen::date_time_ymd(1999, 1, 1);
            params.not_after = rcgen::date_time_ymd(2000, 1, 1);
        }
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| rcgen_error("a certificate", e))?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Issues a client certificate for the role `user` (its common name) and writes it to
    /// `dir/<file_stem>.crt` and its key to `dir/<file_stem>.key` (mode 0600, as libpq
    /// demands). Returns the two paths.
    pub fn write_client_cert(
        &self,
        dir: &Path,
        file_stem: &str,
        user: &str,
    ) -> io::Result<(std::path::PathBuf, std::path::PathBuf)> {
        let (cert, key) = self.issue(user, &[], false)?;
        let cert_path = dir.join(format!("{file_stem}.crt"));
        let key_path = dir.join(format!("{file_stem}.key"));
        write_file(&cert_path, &cert, 0o644)?;
        write_file(&key_path, &key, 0o600)?;
        Ok((cert_path, key_path))
    }
}

/// Writes a file with `mode` (a new file; an old one is replaced).
pub(super) fn write_file(path: &Path, contents: &str, mode: u32) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            io::Error::new(e.kind(), format!("could not write {}: {e}", path.display()))
        })?;
    file.write_all(contents.as_bytes())
}
