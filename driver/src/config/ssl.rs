//! `sslmode`: whether and how to use TLS.

use std::fmt;
use std::str::FromStr;

use super::value::invalid;
use crate::error::Error;

pub(super) fn parse_ssl_mode(key: &str, value: &str) -> Result<SslMode, Error> {
    Ok(match value {
        "disable" => SslMode::Disable,
        "allow" => SslMode::Allow,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => {
            return Err(invalid(
                key,
                value,
                "expected disable, allow, prefer, require, verify-ca or verify-full",
            ));
        }
    })
}

/// Whether and how to use TLS, as libpq's `sslmode`.
///
/// TLS is not built yet: connecting with `Require`, `VerifyCa` or
/// `VerifyFull` fails with [`Error::Config`]; `Prefer` and `Allow` connect
/// without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Try without TLS first, then with it.
    Allow,
    /// Try TLS first, then without it.
    #[default]
    Prefer,
    /// Only TLS, without checking the certificate.
    Require,
    /// Only TLS, with a certificate signed by a trusted CA.
    VerifyCa,
    /// Only TLS, with a trusted certificate whose name matches the host.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling: `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_ssl_mode("sslmode", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::config_msg;

    #[test]
    fn ssl_mode_parse_and_display() {
        for mode in [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(mode.to_string().parse::<SslMode>().unwrap(), mode);
        }
        let err = config_msg("on".parse::<SslMode>().unwrap_err());
        assert!(err.contains("\"sslmode\""), "{err}");
        assert_eq!(SslMode::default(), SslMode::Prefer);
    }
}
