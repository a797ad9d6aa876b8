//! The `tls-server-end-point` channel binding (RFC 5929 section 4.1): a hash of the server's
//! certificate, with the hash of the certificate's own signature algorithm, except that MD5
//! and SHA-1 become SHA-256. PostgreSQL computes the same on its side; SCRAM-SHA-256-PLUS
//! sends ours, so the password exchange only succeeds over the TLS connection the server
//! itself terminates.
//!
//! The signature algorithm is read from the certificate's DER with a minimal reader: the
//! certificate is `SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, .. }, .. }`.

use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use crate::error::Error;

/// The hash the binding uses for a signature algorithm OID (its DER content bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// Signature algorithm OIDs (DER content bytes) and the hash the binding takes for each.
const ALGORITHMS: &[(&[u8], Hash, &str)] = &[
    // 1.2.840.113549.1.1.{4,5,11,12,13,14}: md5/sha1/sha256/sha384/sha512/sha224 WithRSA
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04],
        Hash::Sha256,
        "md5WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05],
        Hash::Sha256,
        "sha1WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        Hash::Sha256,
        "sha256WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c],
        Hash::Sha384,
        "sha384WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d],
        Hash::Sha512,
        "sha512WithRSAEncryption",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e],
        Hash::Sha224,
        "sha224WithRSAEncryption",
    ),
    // 1.2.840.10045.4.1 and 1.2.840.10045.4.3.{1,2,3,4}: ecdsa-with-SHA1/224/256/384/512
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01],
        Hash::Sha256,
        "ecdsa-with-SHA1",
    ),
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01],
        Hash::Sha224,
        "ecdsa-with-SHA224",
    ),
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
        Hash::Sha256,
        "ecdsa-with-SHA256",
    ),
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],
        Hash::Sha384,
        "ecdsa-with-SHA384",
    ),
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],
        Hash::Sha512,
        "ecdsa-with-SHA512",
    ),
    // 1.2.840.10040.4.3 dsa-with-sha1; 2.16.840.1.101.3.4.3.2 dsa-with-sha256
    (
        &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03],
        Hash::Sha256,
        "dsa-with-sha1",
    ),
    (
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x02],
        Hash::Sha256,
        "dsa-with-sha256",
    ),
];

/// The `tls-server-end-point` channel binding data for a DER certificate.
pub(crate) fn tls_server_end_point(certificate: &[u8]) -> Result<Vec<u8>, Error> {
    let oid = signature_algorithm(certificate).ok_or_else(|| {
        Error::Auth(
            "channel binding: the server's certificate is not valid DER (its signature \
             algorithm cannot be read); set channel_binding=disable to authenticate without \
             channel binding"
                .to_owned(),
        )
    })?;
    let Some(&(_, hash, _)) = ALGORITHMS.iter().find(|(known, _, _)| *known == oid) else {
        return Err(Error::Auth(format!(
            "channel binding: the server's certificate is signed with an algorithm (OID {}) \
             that names no single hash, so tls-server-end-point is undefined for it (RFC 5929; \
             PostgreSQL cannot compute it either); set channel_binding=disable, or give the \
             server a certificate signed with RSA or ECDSA and SHA-2",
            oid_text(oid)
        )));
    };
    Ok(match hash {
        Hash::Sha224 => Sha224::digest(certificate).to_vec(),
        Hash::Sha256 => Sha256::digest(certificate).to_vec(),
        Hash::Sha384 => Sha384::digest(certificate).to_vec(),
        Hash::Sha512 => Sha512::digest(certificate).to_vec(),
    })
}

/// The content bytes of the certificate's signatureAlgorithm OID.
fn signature_algorithm(certificate: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    let (certificate, _) = element(certificate, SEQUENCE)?;
    let (_, rest) = element(certificate, SEQUENCE)?; // tbsCertificate
    let (algorithm, _) = element(rest, SEQUENCE)?;
    let (oid, _) = element(algorithm, OID)?;
    Some(oid)
}

/// One DER element with this tag at the start of `input`: (its content, what follows).
/// Definite lengths up to 4 bytes long; anything else (or a length past the input) is `None`.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len_byte, mut rest) = rest.split_first()?;
    let len = if len_byte < 0x80 {
        usize::from(len_byte)
    } else {
        let count = usize::from(len_byte & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (len_bytes, after) = rest.split_at(count);
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if len > rest.len() {
        return None;
    }
    Some(rest.split_at(len))
}

/// Dotted form of an OID's DER content, for messages.
fn oid_text(oid: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut value: u64 = 0;
    for (i, &b) in oid.iter().enumerate() {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = (value / 40).min(2);
                parts.push(first.to_string());
                parts.push((value - first * 40).to_string());
            } else {
                parts.push(value.to_string());
            }
            value = 0;
        } else if i == oid.len() - 1 || value > u64::MAX >> 7 {
            return "(malformed)".to_owned();
        }
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate-shaped DER: SEQUENCE { SEQUENCE {tbs}, SEQUENCE { OID }, BIT STRING }.
    fn cert_with(oid: &[u8]) -> Vec<u8> {
        let tbs = [0x30, 0x03, 0x02, 0x01, 0x02];
        let mut alg = vec![0x30, (oid.len() + 2) as u8, 0x06, oid.len() as u8];
        alg.extend_from_slice(oid);
        let sig = [0x03, 0x02, 0x00, 0xff];
        let mut body = Vec::new();
        body.extend_from_slice(&tbs);
        body.extend_from_slice(&alg);
        body.extend_from_slice(&sig);
        let mut out = vec![0x30, 0x81, body.len() as u8];
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn the_hash_follows_the_signature_algorithm() {
        for (oid, hash, name) in ALGORITHMS {
            let cert = cert_with(oid);
            let data = tls_server_end_point(&cert).unwrap();
            let expected = match hash {
                Hash::Sha224 => Sha224::digest(&cert).to_vec(),
                Hash::Sha256 => Sha256::digest(&cert).to_vec(),
                Hash::Sha384 => Sha384::digest(&cert).to_vec(),
                Hash::Sha512 => Sha512::digest(&cert).to_vec(),
            };
            assert_eq!(data, expected, "{name}");
        }
        // MD5 and SHA-1 are replaced by SHA-256 (RFC 5929 4.1).
        let md5 = cert_with(ALGORITHMS[0].0);
        assert_eq!(tls_server_end_point(&md5).unwrap().len(), 32);
    }

    #[test]
    fn an_algorithm_without_a_single_hash_is_a_clear_error() {
        // 1.3.101.112 Ed25519; 1.2.840.113549.1.1.10 RSASSA-PSS.
        for (oid, text) in [
            (&[0x2b, 0x65, 0x70][..], "1.3.101.112"),
            (
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a][..],
                "1.2.840.113549.1.1.10",
            ),
        ] {
            let msg = tls_server_end_point(&cert_with(oid))
                .unwrap_err()
                .to_string();
            assert!(msg.contains(text), "{msg}");
            assert!(msg.contains("channel_binding=disable"), "{msg}");
        }
    }

    #[test]
    fn malformed_der_is_an_error_not_a_panic() {
        let good = cert_with(ALGORITHMS[2].0);
        for cut in 0..good.len() {
            assert!(tls_server_end_point(&good[..cut]).is_err(), "cut at {cut}");
        }
        for bad in [
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x30, 0x85, 1, 1, 1, 1, 1][..],
            &[0x30, 0x80][..],
            &[0x31, 0x00][..],
        ] {
            assert!(tls_server_end_point(bad).is_err());
        }
    }
}
