//! How the server's certificate is checked, for each `sslmode`: not at all (`require` without
//! a root certificate), the CA only (`verify-ca`, or `require` with one), or the CA and the
//! host name (`verify-full`). The TLS handshake's own signatures are always checked.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, RootCertStore};

/// What of the certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// Nothing (libpq's `require` without a root certificate).
    Nothing,
    /// Signed by a trusted CA (`verify-ca`).
    Ca,
    /// Signed by a trusted CA and issued for the host (`verify-full`).
    Full,
}

/// The server certificate verifier for one [`Check`].
#[derive(Debug)]
pub(super) struct PgVerifier {
    check: Check,
    /// `None` for [`Check::Nothing`].
    webpki: Option<Arc<WebPkiServerVerifier>>,
    /// The root file's certificates: a self-signed server certificate listed there is trusted
    /// as it is (OpenSSL, so libpq, accepts it; webpki alone would call its issuer unknown).
    pinned: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PgVerifier {
    pub(super) fn new(
        check: Check,
        roots: Option<RootCertStore>,
        pinned: Vec<CertificateDer<'static>>,
        provider: &Arc<CryptoProvider>,
    ) -> Result<PgVerifier, String> {
        let webpki = match (check, roots) {
            (Check::Nothing, _) | (_, None) => None,
            (_, Some(roots)) => Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("the root certificates cannot be used: {e}"))?,
            ),
        };
        if check != Check::Nothing && webpki.is_none() {
            return Err("no root certificate to check the server's certificate against".into());
        }
        Ok(PgVerifier {
            check,
            webpki,
            pinned,
            algorithms: provider.signature_verification_algorithms,
        })
    }
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        if self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            if self.check == Check::Full {
                let parsed = ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
            }
            return Ok(ServerCertVerified::assertion());
        }
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            // webpki checks the name only after the chain: this error means the CA was fine.
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.check == Check::Ca => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
