//! Checking one option's value, wherever it came from (a DSN, a setter, an environment
//! variable): every error is an `Error::Config` that names the key.

use std::time::Duration;

use crate::error::Error;

/// A NUL byte cannot reach the server: its strings end at one. `key` is the option or the
/// environment variable the value came from; the value is not shown (it may be a password).
pub(super) fn refuse_nul(key: &str, value: &str) -> Result<(), Error> {
    if value.contains('\0') {
        return Err(nul_error(key));
    }
    Ok(())
}

pub(super) fn nul_error(key: &str) -> Error {
    Error::Config(format!(
        "invalid value for {key:?}: it contains a NUL byte, which PostgreSQL cannot receive \
         (remove it)"
    ))
}

pub(super) fn invalid(key: &str, value: &str, expected: &str) -> Error {
    Error::Config(format!("invalid value for {key:?}: {value:?} ({expected})"))
}

pub(super) fn parse_host_list(key: &str, value: &str) -> Result<Vec<String>, Error> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let hosts: Vec<String> = value.split(',').map(str::to_owned).collect();
    if hosts.iter().any(String::is_empty) {
        return Err(invalid(
            key,
            value,
            "empty host name in the list; expected comma-separated host names, IP addresses \
             or socket directories",
        ));
    }
    Ok(hosts)
}

pub(super) fn parse_port(key: &str, value: &str) -> Result<u16, Error> {
    match value.parse::<u16>() {
        Ok(p) if p != 0 && !value.starts_with('+') => Ok(p),
        _ => Err(invalid(key, value, "expected a number 1-65535")),
    }
}

pub(super) fn parse_port_list(key: &str, value: &str) -> Result<Vec<Option<u16>>, Error> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|p| match p {
            "" => Ok(None),
            p => match parse_port(key, p) {
                Ok(p) => Ok(Some(p)),
                Err(_) => Err(invalid(
                    key,
                    value,
                    "expected a number 1-65535, or a comma-separated list of them",
                )),
            },
        })
        .collect()
}

pub(super) fn parse_timeout(key: &str, value: &str) -> Result<Duration, Error> {
    match value.parse::<u64>() {
        Ok(secs) if !value.starts_with('+') => Ok(Duration::from_secs(secs)),
        _ => Err(invalid(
            key,
            value,
            "expected a whole number of seconds, 0 or more; 0 waits forever",
        )),
    }
}

/// Seconds, fractions allowed (`0.5`); 0 means no limit.
pub(super) fn parse_seconds(key: &str, value: &str) -> Result<Duration, Error> {
    match value.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 && !value.starts_with('+') => {
            Duration::try_from_secs_f64(secs)
                .map_err(|_| invalid(key, value, "expected a number of seconds, 0 or more"))
        }
        _ => Err(invalid(
            key,
            value,
            "expected a number of seconds, 0 or more (fractions allowed); 0 means no limit",
        )),
    }
}

pub(super) fn parse_usize(key: &str, value: &str, expected: &str) -> Result<Option<usize>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<usize>() {
        Ok(n) if !value.starts_with('+') => Ok(Some(n)),
        _ => Err(invalid(key, value, expected)),
    }
}

/// libpq's boolean flags (`sslsni`): `1` or `0`.
pub(super) fn parse_flag(key: &str, value: &str) -> Result<bool, Error> {
    match value {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(invalid(key, value, "expected 1 or 0")),
    }
}
