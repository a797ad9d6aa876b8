//! `target_session_attrs` and `load_balance_hosts`: which of several hosts to use.

use std::fmt;
use std::str::FromStr;

use super::value::invalid;
use crate::error::Error;

pub(super) fn parse_target_session_attrs(
    key: &str,
    value: &str,
) -> Result<TargetSessionAttrs, Error> {
    Ok(match value {
        "any" => TargetSessionAttrs::Any,
        "read-write" => TargetSessionAttrs::ReadWrite,
        "read-only" => TargetSessionAttrs::ReadOnly,
        "primary" => TargetSessionAttrs::Primary,
        "standby" => TargetSessionAttrs::Standby,
        "prefer-standby" => TargetSessionAttrs::PreferStandby,
        _ => {
            return Err(invalid(
                key,
                value,
                "expected any, read-write, read-only, primary, standby or prefer-standby",
            ));
        }
    })
}

/// Which kind of server a connection must reach, as libpq's `target_session_attrs`.
///
/// The hosts are tried in order (or shuffled, with [`LoadBalanceHosts::Random`]); a server
/// that connects but is not of the kind asked for is closed and the next host is tried.
/// How a server is judged, as libpq does:
///
/// - read-only or not: the `default_transaction_read_only` and `in_hot_standby` parameters
///   the server reports (PostgreSQL 14+): read-only if either is `on`; an older server is
///   asked `SHOW transaction_read_only`.
/// - standby or not: the `in_hot_standby` parameter (PostgreSQL 14+); an older server is
///   asked `SELECT pg_is_in_recovery()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    /// Any server (the default).
    #[default]
    Any,
    /// A server that accepts writes: not a standby, and `default_transaction_read_only` off.
    ReadWrite,
    /// A server that does not accept writes by default (a standby, or read-only by default).
    ReadOnly,
    /// A server that is not in recovery.
    Primary,
    /// A server in recovery (a hot standby).
    Standby,
    /// A standby if any host is one, else any server.
    PreferStandby,
}

impl TargetSessionAttrs {
    /// The libpq spelling: `any`, `read-write`, `read-only`, `primary`, `standby`,
    /// `prefer-standby`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
        }
    }
}

impl fmt::Display for TargetSessionAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetSessionAttrs {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_target_session_attrs("target_session_attrs", s)
    }
}

pub(super) fn parse_load_balance_hosts(key: &str, value: &str) -> Result<LoadBalanceHosts, Error> {
    Ok(match value {
        "disable" => LoadBalanceHosts::Disable,
        "random" => LoadBalanceHosts::Random,
        _ => return Err(invalid(key, value, "expected disable or random")),
    })
}

/// The order the hosts are tried in, as libpq's `load_balance_hosts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadBalanceHosts {
    /// In the order given (the default).
    #[default]
    Disable,
    /// In a random order, shuffled for each connection: connections spread over the hosts.
    Random,
}

impl LoadBalanceHosts {
    /// The libpq spelling: `disable` or `random`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalanceHosts::Disable => "disable",
            LoadBalanceHosts::Random => "random",
        }
    }
}

impl fmt::Display for LoadBalanceHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LoadBalanceHosts {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        parse_load_balance_hosts("load_balance_hosts", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::config_msg;

    #[test]
    fn parse_and_display() {
        for attrs in [
            TargetSessionAttrs::Any,
            TargetSessionAttrs::ReadWrite,
            TargetSessionAttrs::ReadOnly,
            TargetSessionAttrs::Primary,
            TargetSessionAttrs::Standby,
            TargetSessionAttrs::PreferStandby,
        ] {
            assert_eq!(
                attrs.to_string().parse::<TargetSessionAttrs>().unwrap(),
                attrs
            );
        }
        let err = config_msg("master".parse::<TargetSessionAttrs>().unwrap_err());
        assert!(err.contains("\"target_session_attrs\""), "{err}");
        assert!(err.contains("prefer-standby"), "{err}");
        for lb in [LoadBalanceHosts::Disable, LoadBalanceHosts::Random] {
            assert_eq!(lb.to_string().parse::<LoadBalanceHosts>().unwrap(), lb);
        }
        let err = config_msg("on".parse::<LoadBalanceHosts>().unwrap_err());
        assert!(err.contains("expected disable or random"), "{err}");
    }
}
