//! The two DSN forms libpq accepts: `postgres://` URLs and `key=value` strings.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use super::ConnectOptions;
use super::MIN_MAX_MESSAGE_SIZE;
use super::session_attrs::{parse_load_balance_hosts, parse_target_session_attrs};
use super::ssl::{parse_channel_binding, parse_ssl_mode, parse_ssl_negotiation};
use super::value::{
    invalid, parse_flag, parse_host_list, parse_port, parse_port_list, parse_seconds,
    parse_timeout, parse_usize, refuse_nul,
};
use crate::error::Error;

/// Every key the DSN parsers accept, for "unknown option" messages.
const KEYS: &str = "host, hostaddr, port, user, password, dbname (or database), application_name, \
                    options, connect_timeout, command_timeout, sslmode, sslrootcert, sslcert, sslkey, sslsni, \
                    sslnegotiation, channel_binding, target_session_attrs, load_balance_hosts, passfile, \
                    statement_cache_size, max_cacheable_statement_size, max_message_size";

impl ConnectOptions {
    /// Sets one DSN key; `key` is also the name used in error messages.
    fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        fn opt(value: &str) -> Option<String> {
            (!value.is_empty()).then(|| value.to_owned())
        }
        match key {
            "host" => self.hosts = parse_host_list(key, value)?,
            "hostaddr" => {
                self.hostaddrs = if value.is_empty() {
                    Vec::new()
                } else {
                    value
                        .split(',')
                        .map(|a| {
                            a.parse::<IpAddr>().map_err(|_| {
                                invalid(
                                    key,
                                    value,
                                    "expected comma-separated numeric IPv4 or IPv6 addresses",
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?
                }
            }
            "port" => self.ports = parse_port_list(key, value)?,
            "user" => self.user = opt(value),
            "password" => self.password = opt(value),
            "dbname" | "database" => self.dbname = opt(value),
            "application_name" => self.application_name = opt(value),
            "options" => self.options = opt(value),
            "connect_timeout" => {
                self.connect_timeout = if value.is_empty() {
                    None
                } else {
                    Some(parse_timeout(key, value)?)
                }
            }
            "command_timeout" => {
                self.command_timeout = if value.is_empty() {
                    None
                } else {
                    Some(parse_seconds(key, value)?)
                }
            }
            "sslmode" => {
                self.ssl_mode = if value.is_empty() {
                    None
                } else {
                    Some(parse_ssl_mode(key, value)?)
                }
            }
            "sslrootcert" => self.ssl_root_cert = opt(value).map(PathBuf::from),
            "sslcert" => self.ssl_cert = opt(value).map(PathBuf::from),
            "sslkey" => self.ssl_key = opt(value).map(PathBuf::from),
            "sslsni" => {
                self.ssl_sni = if value.is_empty() {
                    None
                } else {
                    Some(parse_flag(key, value)?)
                }
            }
            "sslnegotiation" => {
                self.ssl_negotiation = if value.is_empty() {
                    None
                } else {
                    Some(parse_ssl_negotiation(key, value)?)
                }
            }
            "channel_binding" => {
                self.channel_binding = if value.is_empty() {
                    None
                } else {
                    Some(parse_channel_binding(key, value)?)
                }
            }
            "target_session_attrs" => {
                self.target_session_attrs = if value.is_empty() {
                    None
                } else {
                    Some(parse_target_session_attrs(key, value)?)
                }
            }
            "load_balance_hosts" => {
                self.load_balance_hosts = if value.is_empty() {
                    None
                } else {
                    Some(parse_load_balance_hosts(key, value)?)
                }
            }
            "passfile" => self.passfile = opt(value).map(PathBuf::from),
            "statement_cache_size" => {
                self.statement_cache_size =
                    parse_usize(key, value, "expected a whole number, 0 or more")?
            }
            "max_cacheable_statement_size" => {
                self.max_cacheable_statement_size =
                    parse_usize(key, value, "expected a number of bytes, 0 or more")?
            }
            "max_message_size" => {
                self.max_message_size =
                    parse_usize(key, value, "expected a number of bytes, at least 1024")?;
                if self
                    .max_message_size
                    .is_some_and(|m| m < MIN_MAX_MESSAGE_SIZE)
                {
                    return Err(invalid(
                        key,
                        value,
                        "expected a number of bytes, at least 1024",
                    ));
                }
            }
            _ => {
                return Err(Error::Config(format!(
                    "unknown connection option {key:?} (accepted: {KEYS})"
                )));
            }
        }
        refuse_nul(key, value)
    }
}

impl FromStr for ConnectOptions {
    type Err = Error;

    /// Parses a `postgres://` / `postgresql://` URL or a libpq `key=value` string.
    fn from_str(s: &str) -> Result<Self, Error> {
        let trimmed = s.trim_start();
        for prefix in ["postgresql://", "postgres://"] {
            if let Some(rest) = trimmed.strip_prefix(prefix) {
                return parse_url(rest);
            }
        }
        if let Some(scheme) = url_scheme(trimmed) {
            return Err(Error::Config(format!(
                "invalid connection URL scheme \"{scheme}://\" (expected \"postgres://\" or \"postgresql://\")"
            )));
        }
        parse_key_value(s)
    }
}

/// The scheme of something that looks like a URL (`letters://`).
fn url_scheme(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// libpq's `key=value` form.
fn parse_key_value(s: &str) -> Result<ConnectOptions, Error> {
    let mut opts = ConnectOptions::default();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(opts);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(Error::Config(format!(
                "missing \"=\" after {key:?} in connection string (expected key=value pairs \
                 separated by spaces, or a postgres:// URL)"
            )));
        }
        if key.is_empty() {
            return Err(Error::Config(
                "missing key before \"=\" in connection string (expected key=value)".to_owned(),
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(Error::Config(format!(
                            "unterminated quoted value for {key:?} (expected a closing ')"
                        )));
                    }
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => {
                            return Err(Error::Config(format!(
                                "unterminated quoted value for {key:?} (expected a closing ')"
                            )));
                        }
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    // A trailing backslash is dropped, as libpq does.
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        opts.set(&key, &value)?;
    }
}

/// `[user[:password]@][host[:port][,...]][/dbname][?key=value&...]`, after the scheme.
fn parse_url(rest: &str) -> Result<ConnectOptions, Error> {
    let mut opts = ConnectOptions::default();
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (netloc, path) = match before_query.split_once('/') {
        Some((n, p)) => (n, Some(p)),
        None => (before_query, None),
    };
    let hostlist = match netloc.rsplit_once('@') {
        Some((userinfo, hostlist)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            opts.set("user", &percent_decode("user", user)?)?;
            if let Some(p) = password {
                opts.set("password", &percent_decode("password", p)?)?;
            }
            hostlist
        }
        None => netloc,
    };

    if !hostlist.is_empty() {
        let mut any_port = false;
        for item in hostlist.split(',') {
            let (host, port) = if let Some(bracketed) = item.strip_prefix('[') {
                let Some((addr, after)) = bracketed.split_once(']') else {
                    return Err(invalid(
                        "host",
                        item,
                        "missing \"]\" after an IPv6 address; expected [address]:port",
                    ));
                };
                let port = match after {
                    "" => None,
                    _ => match after.strip_prefix(':') {
                        Some(p) => Some(p),
                        None => {
                            return Err(invalid(
                                "host",
                                item,
                                "expected \":port\" or nothing after \"]\"",
                            ));
                        }
                    },
                };
                (percent_decode("host", addr)?, port)
            } else {
                let (h, p) = match item.split_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (item, None),
                };
                (percent_decode("host", h)?, p)
            };
            if host.is_empty() {
                return Err(invalid(
                    "host",
                    hostlist,
                    "empty host name in the list; expected comma-separated host[:port] items",
                ));
            }
            refuse_nul("host", &host)?;
            let port = match port.map(|p| percent_decode("port", p)).transpose()? {
                Some(p) if !p.is_empty() => {
                    any_port = true;
                    Some(parse_port("port", &p)?)
                }
                _ => None,
            };
            opts.hosts.push(host);
            opts.ports.push(port);
        }
        if !any_port {
            opts.ports.clear();
        }
    }

    if let Some(path) = path {
        opts.set("dbname", &percent_decode("dbname", path)?)?;
    }

    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(Error::Config(format!(
                    "missing \"=\" after URL query parameter {pair:?} (expected key=value)"
                )));
            };
            let key = percent_decode("URL query parameter", key)?;
            let value = percent_decode(&key, value)?;
            opts.set(&key, &value)?;
        }
    }
    Ok(opts)
}

/// Strict percent-decoding: `%` must be followed by two hex digits, `%00` is
/// refused (a NUL cannot reach the server), and the result must be UTF-8.
fn percent_decode(key: &str, s: &str) -> Result<String, Error> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            match hex {
                Some(h) => {
                    let b = (hex_value(h[0]) << 4) | hex_value(h[1]);
                    if b == 0 {
                        return Err(Error::Config(format!(
                            "invalid percent-escape \"%00\" in {key:?} (a NUL byte is not allowed)"
                        )));
                    }
                    out.push(b);
                }
                None => {
                    let escape = s.get(i..(i + 3).min(s.len())).unwrap_or("%");
                    let shown = if key == "password" { "%" } else { escape };
                    return Err(Error::Config(format!(
                        "invalid percent-escape {shown:?} in {key:?} (expected % followed by two hex digits)"
                    )));
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        Error::Config(format!(
            "invalid value for {key:?}: not valid UTF-8 after percent-decoding"
        ))
    })
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use super::*;
    use crate::config::SslMode;
    use crate::config::tests::{config_msg, hosts};

    #[test]
    fn good_dsns() {
        let o = ConnectOptions::new;
        let cases: Vec<(&str, ConnectOptions)> = vec![
            ("", o()),
            ("   ", o()),
            ("postgres://", o()),
            ("postgresql://", o()),
            ("postgres:///", o()),
            ("postgres://localhost", o().host("localhost")),
            (
                "postgres://u:p@h:5433/db",
                o().user("u")
                    .password("p")
                    .host("h")
                    .port(5433)
                    .dbname("db"),
            ),
            (
                "postgresql://us%40er:p%3Aa%2Fss%20w@h/d%2Fb",
                o().user("us@er")
                    .password("p:a/ss w")
                    .host("h")
                    .dbname("d/b"),
            ),
            ("postgres://user@h", o().user("user").host("h")),
            (
                // The last '@' separates the user info; an unencoded '@' in the password works.
                "postgres://u:p@ss@h",
                o().user("u").password("p@ss").host("h"),
            ),
            (
                "postgres://[::1]:5432/db",
                o().host("::1").port(5432).dbname("db"),
            ),
            ("postgres://[fe80::1%25eth0]", o().host("fe80::1%eth0")),
            (
                "postgres://%2Fvar%2Frun%2Fpostgresql/db",
                o().host("/var/run/postgresql").dbname("db"),
            ),
            (
                "postgres:///db?host=/var/run/postgresql&port=5433",
                o().host("/var/run/postgresql").port(5433).dbname("db"),
            ),
            (
                "postgres://h1,h2/db",
                o().host("h1").host("h2").dbname("db"),
            ),
            (
                "postgres://h1:5432,h2:5433/db",
                ConnectOptions {
                    hosts: hosts(&["h1", "h2"]),
                    ports: vec![Some(5432), Some(5433)],
                    dbname: Some("db".into()),
                    ..o()
                },
            ),
            (
                "postgres://h1:5433,[::1]/db",
                ConnectOptions {
                    hosts: hosts(&["h1", "::1"]),
                    ports: vec![Some(5433), None],
                    dbname: Some("db".into()),
                    ..o()
                },
            ),
            (
                "postgres://h/db?application_name=my%20app&options=-c%20search_path%3Dx\
                 &connect_timeout=10&sslmode=disable&statement_cache_size=0\
                 &max_cacheable_statement_size=1000&max_message_size=2048",
                o().host("h")
                    .dbname("db")
                    .application_name("my app")
                    .options("-c search_path=x")
                    .connect_timeout(Duration::from_secs(10))
                    .ssl_mode(SslMode::Disable)
                    .statement_cache_size(0)
                    .max_cacheable_statement_size(1000)
                    .max_message_size(2048),
            ),
            ("postgres://h?database=x", o().host("h").dbname("x")),
            (
                "postgres://h?user=a&&password=b",
                o().host("h").user("a").password("b"),
            ),
            (
                "postgres://h?hostaddr=127.0.0.1",
                o().host("h").hostaddr(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ),
            // key=value
            ("host=localhost", o().host("localhost")),
            (
                "host=/tmp port=5432 user='a b' password='it\\'s' dbname=db",
                o().host("/tmp")
                    .port(5432)
                    .user("a b")
                    .password("it's")
                    .dbname("db"),
            ),
            (
                "  host = h   port=  6000\tuser =x  ",
                o().host("h").port(6000).user("x"),
            ),
            ("password=a\\ b\\\\c", o().password("a b\\c")),
            ("password='' user=''", o()),
            ("password='x=y z'", o().password("x=y z")),
            ("options='-c geqo=off'", o().options("-c geqo=off")),
            ("database=d dbname=e", o().dbname("e")),
            ("host=h1,h2 port=5432", o().host("h1").host("h2").port(5432)),
            (
                "host=h1,h2 port=5432,5433",
                ConnectOptions {
                    hosts: hosts(&["h1", "h2"]),
                    ports: vec![Some(5432), Some(5433)],
                    ..o()
                },
            ),
            (
                "host=h1,h2,h3 port=5432,,5434",
                ConnectOptions {
                    hosts: hosts(&["h1", "h2", "h3"]),
                    ports: vec![Some(5432), None, Some(5434)],
                    ..o()
                },
            ),
            (
                "hostaddr=::1,10.0.0.1",
                o().hostaddr(IpAddr::V6(Ipv6Addr::LOCALHOST))
                    .hostaddr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            ),
            ("connect_timeout=0", o().connect_timeout(Duration::ZERO)),
            ("sslmode=verify-full", o().ssl_mode(SslMode::VerifyFull)),
            ("passfile=/p/pgpass", o().passfile("/p/pgpass")),
            ("host=h port=1 port=2", o().host("h").port(2)),
            ("port=65535", o().port(65535)),
        ];
        for (dsn, want) in cases {
            let got: ConnectOptions = dsn
                .parse()
                .unwrap_or_else(|e| panic!("{dsn:?} failed: {e}"));
            assert_eq!(got, want, "{dsn:?}");
        }
    }

    #[test]
    fn bad_dsns() {
        let cases: &[(&str, &str)] = &[
            (
                "port=0",
                r#"invalid value for "port": "0" (expected a number 1-65535"#,
            ),
            ("port=99999", r#"invalid value for "port": "99999""#),
            ("port=abc", r#"invalid value for "port": "abc""#),
            ("port=-1", r#""port""#),
            ("port=+5432", r#""port""#),
            ("port=5432,x", r#"invalid value for "port": "5432,x""#),
            ("postgres://h:abc/db", r#"invalid value for "port": "abc""#),
            ("postgres://h:0", r#""port""#),
            ("postgres://h:70000", r#""port""#),
            (
                "connect_timeout=-5",
                r#"invalid value for "connect_timeout": "-5""#,
            ),
            ("connect_timeout=1.5", r#""connect_timeout""#),
            ("connect_timeout=abc", r#""connect_timeout""#),
            ("postgres://h?connect_timeout=-1", r#""connect_timeout""#),
            (
                "sslmode=bogus",
                r#"invalid value for "sslmode": "bogus" (expected disable, allow"#,
            ),
            ("sslmode=Require", r#""sslmode""#),
            ("postgres://h?sslmode=nope", r#""sslmode""#),
            (
                "password='abc",
                r#"unterminated quoted value for "password""#,
            ),
            ("user='abc\\'", r#"unterminated quoted value for "user""#),
            ("host", r#"missing "=" after "host""#),
            ("host localhost", r#"missing "=" after "host""#),
            ("=x", "missing key"),
            ("bogus=1", r#"unknown connection option "bogus""#),
            ("host=h Port=5432", r#"unknown connection option "Port""#),
            (
                "postgres://h?bogus=1",
                r#"unknown connection option "bogus""#,
            ),
            (
                "postgres://h?sslmode",
                r#"missing "=" after URL query parameter "sslmode""#,
            ),
            (
                "mysql://h/db",
                r#"invalid connection URL scheme "mysql://""#,
            ),
            ("http://h", "expected \"postgres://\" or \"postgresql://\""),
            (
                "postgres://h/d%zzb",
                r#"invalid percent-escape "%zz" in "dbname""#,
            ),
            (
                "postgres://h/db%2",
                r#"invalid percent-escape "%2" in "dbname""#,
            ),
            (
                "postgres://h/db%",
                r#"invalid percent-escape "%" in "dbname""#,
            ),
            (
                "postgres://u:se%gcret@h",
                r#"invalid percent-escape "%" in "password""#,
            ),
            ("postgres://u%zz@h", r#"in "user""#),
            ("postgres://h%0/x", r#"in "host""#),
            ("postgres://h/db%00", r#""%00" in "dbname""#),
            ("postgres://h/%ff%fe", r#""dbname": not valid UTF-8"#),
            (
                "postgres://h?application_name=%zz",
                r#"in "application_name""#,
            ),
            (
                "postgres://h1,,h2/db",
                r#"invalid value for "host": "h1,,h2" (empty host name"#,
            ),
            ("postgres://h1,/db", r#""host""#),
            ("postgres://:5432/db", r#""host""#),
            ("postgres://[::1/db", r#""host""#),
            ("postgres://[::1]x/db", r#""host""#),
            (
                "host=h1,,h2",
                r#"invalid value for "host": "h1,,h2" (empty host name"#,
            ),
            ("host=h1,", r#""host""#),
            ("host=,h1", r#""host""#),
            (
                "hostaddr=localhost",
                r#"invalid value for "hostaddr": "localhost""#,
            ),
            (
                "statement_cache_size=-1",
                r#"invalid value for "statement_cache_size": "-1""#,
            ),
            ("statement_cache_size=lots", r#""statement_cache_size""#),
            (
                "max_cacheable_statement_size=1k",
                r#""max_cacheable_statement_size""#,
            ),
            (
                "max_message_size=100",
                r#"invalid value for "max_message_size": "100" (expected a number of bytes, at least 1024)"#,
            ),
            ("max_message_size=x", r#""max_message_size""#),
        ];
        for (dsn, want) in cases {
            let err = config_msg(
                dsn.parse::<ConnectOptions>()
                    .expect_err(&format!("{dsn:?} should fail")),
            );
            assert!(err.contains(want), "{dsn:?}: {err:?} lacks {want:?}");
        }
    }
}
