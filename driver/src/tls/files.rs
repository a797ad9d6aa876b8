//! Reading the PEM files `sslrootcert`, `sslcert` and `sslkey` name, with errors that name
//! the option, the file and what to do.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

fn read(key: &str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::Config(format!(
            "could not read the {key} file {}: {e} (set {key} to a readable PEM file)",
            path.display()
        ))
    })
}

/// The certificates of a PEM file (`sslrootcert`, `sslcert`); at least one.
pub(super) fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Config(format!(
                "the {key} file {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "the {key} file {} holds no certificate (expected \"-----BEGIN CERTIFICATE-----\" \
             sections)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key of `sslkey`: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), not encrypted, and (as
/// libpq demands) not readable by group or others unless root owns it.
pub(super) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    check_key_permissions(path)?;
    let pem = read("sslkey", path)?;
    if is_encrypted(&pem) {
        return Err(Error::Config(format!(
            "the sslkey file {} is encrypted with a passphrase, which pgtusk cannot decrypt \
             (sslpassword is not supported): write a decrypted copy with \
             `openssl pkey -in {0} -out {0}.plain` (mode 0600) and set sslkey to it",
            path.display()
        )));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        Error::Config(format!(
            "the sslkey file {} holds no usable private key ({e}); expected a PEM \"PRIVATE \
             KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" section",
            path.display()
        ))
    })
}

/// An encrypted PKCS#8 key, or a legacy OpenSSL key with `Proc-Type: 4,ENCRYPTED`.
fn is_encrypted(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(b"Proc-Type: 4,ENCRYPTED")
}

#[cfg(unix)]
fn check_key_permissions(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::Config(format!(
            "could not read the sslkey file {}: {e} (set sslkey to the client certificate's \
             private key)",
            path.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(Error::Config(format!(
            "the sslkey file {} is not a regular file",
            path.display()
        )));
    }
    let mode = meta.mode() & 0o777;
    // libpq: u=rw (0600) or less when the user owns it, u=rw,g=r (0640) or less when root does.
    let allowed = if meta.uid() == 0 { 0o640 } else { 0o600 };
    if mode & !allowed != 0 {
        return Err(Error::Config(format!(
            "the sslkey file {} has group or world access (mode {mode:o}); it must be 0600 or \
             less (0640 or less if owned by root): run `chmod 600 {0}`",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_permissions(_path: &Path) -> Result<(), Error> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_keys_are_recognized() {
        assert!(is_encrypted(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n"
        ));
        assert!(is_encrypted(
            b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n"
        ));
        assert!(!is_encrypted(
            b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
        ));
    }

    #[test]
    fn file_errors_name_the_option_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let msg = certificates("sslrootcert", &missing)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("sslrootcert file") && msg.contains("nope.pem"),
            "{msg}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let msg = certificates("sslcert", &empty).unwrap_err().to_string();
        assert!(msg.contains("holds no certificate"), "{msg}");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let key = dir.path().join("key.pem");
            std::fs::write(&key, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n").unwrap();
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
            let msg = private_key(&key).unwrap_err().to_string();
            if !msg.contains("mode 644") {
                // Running as root: root may keep its key at 0640 but not 0644.
                panic!("{msg}");
            }
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
            let msg = private_key(&key).unwrap_err().to_string();
            assert!(msg.contains("encrypted with a passphrase"), "{msg}");
            assert!(msg.contains("openssl pkey"), "{msg}");
        }
    }
}
