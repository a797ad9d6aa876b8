//! `sslmode` and `sslnegotiation`: whether and how to use TLS.

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

/// Whether and how to use TLS, with libpq's meaning of `sslmode`.
///
/// TLS is used over TCP only; a unix socket never uses it, whatever the mode (as in libpq).
/// Without the crate feature `tls`, `Require`, `VerifyCa` and `VerifyFull` fail with
/// [`Error::Config`] and `Prefer` and `Allow` connect without TLS.
///
/// | mode | TLS | certificate checked |
/// | --- | --- | --- |
/// | `Disable` | never | |
/// | `Allow` | only if the server refuses a plain connection | as `Require` |
/// | `Prefer` (default) | if the server supports it; a failed handshake or a refusal over TLS retries without | as `Require` |
/// | `Require` | always | only when a root certificate is given (`sslrootcert`, or `~/.postgresql/root.crt` exists): then the CA, as `VerifyCa` |
/// | `VerifyCa` | always | signed by a CA in `sslrootcert` |
/// | `VerifyFull` | always | signed by a trusted CA and issued for the host name (or IP address) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Try without TLS first, then with it.
    Allow,
    /// Try TLS first, then without it.
    #[default]
    Prefer,
    /// Only TLS; the certificate is checked only against a root certificate given.
    Require,
    /// Only TLS, with a certificate signed by a trusted CA.
    VerifyCa,
    /// Only TLS, with a trusted certificate whose name matches the host.
    VerifyFull,
}

pub(super) fn parse_ssl_negotiation(key: &str, value: &str) -> Result<SslNegotiation, Error> {
    Ok(match value {
        "postgres" => SslNegotiation::Postgres,
        "direct" => SslNegotiation::Direct,
        _ => return Err(invalid(key, value, "expected postgres or direct")),
    })
}

/// How a TLS connection starts, as libpq's `sslnegotiation` (PostgreSQL 17).
///
/// `Postgres` (the default) first sends an SSLRequest and starts TLS when the server says
/// yes: every server version understands it. `Direct` starts the TLS handshake at once (one
/// round trip less), with the ALPN protocol `postgresql`: only PostgreSQL 17 and newer accept
/// it (an older server closes the connection: its log says "invalid length of startup
/// packet"). `Direct` needs `sslmode` `require`, `verify-ca` or `verify-full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslNegotiation {
    /// SSLRequest first, then TLS.
    #[default]
    Postgres,
    /// TLS at once, ALPN `postgresql` (PostgreSQL 17+).
    Direct,
}

impl SslNegotiation {
    /// The libpq spelling: `postgres` or `direct`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslNegotiation::Postgres => "postgres",
            SslNegotiation::Direct => "direct",
        }
    }
}

impl fmt::Display for SslNegotiation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslNegotiation {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_ssl_negotiation("sslnegotiation", s)
    }
}

pub(super) fn parse_channel_binding(key: &str, value: &str) -> Result<ChannelBinding, Error> {
    Ok(match value {
        "disable" => ChannelBinding::Disable,
        "prefer" => ChannelBinding::Prefer,
        "require" => ChannelBinding::Require,
        _ => return Err(invalid(key, value, "expected disable, prefer or require")),
    })
}

/// Whether SCRAM authentication binds itself to the TLS connection (SCRAM-SHA-256-PLUS with
/// `tls-server-end-point`), as libpq's `channel_binding`.
///
/// Channel binding proves that the server that checked the password is the one at the other
/// end of the TLS connection, so a man in the middle with another certificate cannot relay
/// the exchange.
///
/// - `Disable`: never (SCRAM-SHA-256 says `n`, "client does not support it").
/// - `Prefer` (default): over TLS when the server offers SCRAM-SHA-256-PLUS.
/// - `Require`: the connection fails, before any password is sent, unless the server
///   authenticates with SCRAM-SHA-256-PLUS over TLS (not with trust, a plain password, MD5,
///   or without TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBinding {
    /// Never bind.
    Disable,
    /// Bind when TLS is in use and the server offers it.
    #[default]
    Prefer,
    /// Bind, or fail.
    Require,
}

impl ChannelBinding {
    /// The libpq spelling: `disable`, `prefer` or `require`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelBinding::Disable => "disable",
            ChannelBinding::Prefer => "prefer",
            ChannelBinding::Require => "require",
        }
    }
}

impl fmt::Display for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelBinding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_channel_binding("channel_binding", s)
    }
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
        for n in [SslNegotiation::Postgres, SslNegotiation::Direct] {
            assert_eq!(n.to_string().parse::<SslNegotiation>().unwrap(), n);
        }
        let err = config_msg("tls".parse::<SslNegotiation>().unwrap_err());
        assert!(err.contains("expected postgres or direct"), "{err}");
        for b in [
            ChannelBinding::Disable,
            ChannelBinding::Prefer,
            ChannelBinding::Require,
        ] {
            assert_eq!(b.to_string().parse::<ChannelBinding>().unwrap(), b);
        }
        let err = config_msg("yes".parse::<ChannelBinding>().unwrap_err());
        assert!(err.contains("\"channel_binding\""), "{err}");
    }
}
