//! Connection options: URL and `key=value` DSNs, `PG*` environment variables,
//! `.pgpass`, multi-host lists, sslmode and the driver's own settings.
//!
//! [`ConnectOptions`] holds only what the user said (builder or DSN).
//! [`ConnectOptions::resolve`] fills in the rest, in this order of precedence:
//! builder setter > DSN > environment > libpq's defaults, and picks each
//! target's password (explicit, else `.pgpass`).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::error::Error;

/// The port when none is given (libpq's `DEF_PGPORT`).
const DEFAULT_PORT: u16 = 5432;
/// Where we look for a server's unix socket when no host is given, in order.
/// libpq has one compiled-in directory: `/var/run/postgresql` on Debian-family
/// builds, `/tmp` upstream. We try both.
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];
/// The user when neither the options nor `PGUSER`/`USER`/`LOGNAME` name one.
const FALLBACK_USER: &str = "postgres";
const DEFAULT_STATEMENT_CACHE_SIZE: usize = 100;
const DEFAULT_MAX_CACHEABLE_STATEMENT_SIZE: usize = 15 * 1024;
const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 30;
/// Below this a server's startup messages may not fit.
const MIN_MAX_MESSAGE_SIZE: usize = 1024;

/// Every key the DSN parsers accept, for "unknown option" messages.
const KEYS: &str = "host, hostaddr, port, user, password, dbname (or database), application_name, \
                    options, connect_timeout, sslmode, passfile, statement_cache_size, \
                    max_cacheable_statement_size, max_message_size";

/// How to connect to PostgreSQL: where, as whom, and the driver's settings.
///
/// Build it with the setters, parse it from a DSN, or both: a setter called
/// after parsing overrides what the DSN said. Anything left unset comes from
/// the environment (`PGHOST`, `PGPORT`, ...) when connecting, else from
/// libpq's defaults.
///
/// # DSN forms
///
/// Both forms libpq accepts:
///
/// - URL: `postgres://user:password@host:port,host2:port2/dbname?key=value&key=value`
///   (`postgresql://` works too). Every part is percent-decoded. An IPv6
///   address goes in brackets (`[::1]:5432`); a unix socket directory goes in
///   percent-encoded (`postgres://%2Fvar%2Frun%2Fpostgresql/db`) or as a query
///   parameter (`postgres:///db?host=/var/run/postgresql`).
/// - `key=value` pairs separated by whitespace: `host=/tmp port=5432 user='a b'`.
///   A value with spaces goes in single quotes; a backslash escapes the next
///   character (`password='it\'s'`).
///
/// # Keys
///
/// An empty value (`user=`) means the same as leaving the key out. A key not
/// in this table is an error.
///
/// | key | meaning | environment | default |
/// | --- | --- | --- | --- |
/// | `host` | host name, IP address, or (starting with `/`) unix socket directory; a comma-separated list is tried in order | `PGHOST` | the socket in `/var/run/postgresql` or `/tmp` if `.s.PGSQL.<port>` exists there, else `localhost` |
/// | `hostaddr` | numeric IP address to connect to instead of resolving `host` (which is then only used for `.pgpass`); a list matches `host`'s | | |
/// | `port` | TCP port, or the socket file's suffix; one for all hosts or a list with one per host (an empty item means 5432) | `PGPORT` | `5432` |
/// | `user` | the role to log in as | `PGUSER` | the OS user (`USER`, then `LOGNAME`), else `postgres` |
/// | `password` | the password, if the server asks for one | `PGPASSWORD` | the first matching `.pgpass` line |
/// | `dbname` (alias `database`; the URL path) | the database | `PGDATABASE` | the user name |
/// | `application_name` | reported in `pg_stat_activity` | `PGAPPNAME` | none |
/// | `options` | command-line options sent to the server, e.g. `-c search_path=app` | `PGOPTIONS` | none |
/// | `connect_timeout` | seconds to wait for each host (0 waits forever) | `PGCONNECT_TIMEOUT` | forever |
/// | `sslmode` | `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full` (see [`SslMode`]) | `PGSSLMODE` | `prefer` |
/// | `passfile` | the password file | `PGPASSFILE` | `~/.pgpass` |
/// | `statement_cache_size` | prepared statements kept per connection (0 disables the cache) | | `100` |
/// | `max_cacheable_statement_size` | longest SQL text, in bytes, that is cached | | `15360` (15 KiB) |
/// | `max_message_size` | largest message accepted from the server, in bytes (at least 1024) | | `1073741824` (1 GiB) |
///
/// # `.pgpass`
///
/// When no password is given, each host's password is looked up in the
/// password file (`hostname:port:database:username:password` lines, `*`
/// matches anything, `\:` and `\\` escape; the first match wins). A unix
/// socket in one of the default directories matches the host name
/// `localhost`, as in libpq. A file that group or others can read is ignored
/// with a warning, as libpq does.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use pgtusk::{ConnectOptions, SslMode};
///
/// let opts: ConnectOptions = "postgres://app:s3cret@db1:5432,db2:5433/orders?sslmode=disable"
///     .parse()?;
/// assert_eq!(opts.get_hosts(), ["db1", "db2"]);
/// assert_eq!(opts.get_ssl_mode(), Some(SslMode::Disable));
///
/// // Setters override the DSN.
/// let opts = opts.user("reporting").connect_timeout(Duration::from_secs(5));
/// assert_eq!(opts.get_user(), Some("reporting"));
///
/// let same: ConnectOptions = "host=db1,db2 port=5432,5433 user=reporting password='s3cret' \
///     dbname=orders sslmode=disable connect_timeout=5".parse()?;
/// assert_eq!(opts, same);
/// # Ok::<(), pgtusk::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    hosts: Vec<String>,
    hostaddrs: Vec<IpAddr>,
    /// Empty: not set. One entry: for every host. Otherwise one per host;
    /// `None` is an empty list item, meaning the default port.
    ports: Vec<Option<u16>>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    application_name: Option<String>,
    options: Option<String>,
    connect_timeout: Option<Duration>,
    ssl_mode: Option<SslMode>,
    passfile: Option<PathBuf>,
    statement_cache_size: Option<usize>,
    max_cacheable_statement_size: Option<usize>,
    max_message_size: Option<usize>,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| Redacted))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("connect_timeout", &self.connect_timeout)
            .field("ssl_mode", &self.ssl_mode)
            .field("passfile", &self.passfile)
            .field("statement_cache_size", &self.statement_cache_size)
            .field(
                "max_cacheable_statement_size",
                &self.max_cacheable_statement_size,
            )
            .field("max_message_size", &self.max_message_size)
            .finish()
    }
}

struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ConnectOptions {
    /// Options with nothing set: everything comes from the environment and defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a host to try (in the order added). A value starting with `/` is
    /// a unix socket directory.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into());
        self
    }

    /// Adds a numeric address to connect to; the n-th address goes with the
    /// n-th [`host`](Self::host), which is then used only for `.pgpass`.
    pub fn hostaddr(mut self, addr: IpAddr) -> Self {
        self.hostaddrs.push(addr);
        self
    }

    /// Sets the port for every host (replacing any per-host ports from a DSN).
    pub fn port(mut self, port: u16) -> Self {
        self.ports = vec![Some(port)];
        self
    }

    /// Sets the user name.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Sets the password.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Sets the database name.
    pub fn dbname(mut self, dbname: impl Into<String>) -> Self {
        self.dbname = Some(dbname.into());
        self
    }

    /// Sets `application_name`.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Sets the command-line options sent to the server (e.g. `-c search_path=app`).
    pub fn options(mut self, options: impl Into<String>) -> Self {
        self.options = Some(options.into());
        self
    }

    /// Sets how long to wait for each host; zero waits forever.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets the TLS mode.
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = Some(mode);
        self
    }

    /// Sets the password file (instead of `PGPASSFILE` or `~/.pgpass`).
    pub fn passfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.passfile = Some(path.into());
        self
    }

    /// Sets how many prepared statements each connection keeps (0 disables the cache).
    pub fn statement_cache_size(mut self, size: usize) -> Self {
        self.statement_cache_size = Some(size);
        self
    }

    /// Sets the longest SQL text, in bytes, that the statement cache keeps.
    pub fn max_cacheable_statement_size(mut self, size: usize) -> Self {
        self.max_cacheable_statement_size = Some(size);
        self
    }

    /// Sets the largest message, in bytes, accepted from the server (at least 1024).
    pub fn max_message_size(mut self, size: usize) -> Self {
        self.max_message_size = Some(size);
        self
    }

    /// The hosts given so far (empty: from `PGHOST` or the default).
    pub fn get_hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The numeric host addresses given so far.
    pub fn get_hostaddrs(&self) -> &[IpAddr] {
        &self.hostaddrs
    }

    /// The ports: empty when not set, one for every host, or one per host
    /// (`None` is an empty list item and means 5432).
    pub fn get_ports(&self) -> &[Option<u16>] {
        &self.ports
    }

    /// The user name, if set.
    pub fn get_user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password, if set.
    pub fn get_password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The database name, if set.
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// `application_name`, if set.
    pub fn get_application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }

    /// The server command-line options, if set.
    pub fn get_options(&self) -> Option<&str> {
        self.options.as_deref()
    }

    /// The connect timeout, if set.
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// The TLS mode, if set (when not, `PGSSLMODE` or [`SslMode::Prefer`] applies).
    pub fn get_ssl_mode(&self) -> Option<SslMode> {
        self.ssl_mode
    }

    /// The password file, if set.
    pub fn get_passfile(&self) -> Option<&Path> {
        self.passfile.as_deref()
    }

    /// The statement cache size (default 100).
    pub fn get_statement_cache_size(&self) -> usize {
        self.statement_cache_size
            .unwrap_or(DEFAULT_STATEMENT_CACHE_SIZE)
    }

    /// The longest cacheable SQL text in bytes (default 15360).
    pub fn get_max_cacheable_statement_size(&self) -> usize {
        self.max_cacheable_statement_size
            .unwrap_or(DEFAULT_MAX_CACHEABLE_STATEMENT_SIZE)
    }

    /// The largest accepted server message in bytes (default 1 GiB).
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size.unwrap_or(DEFAULT_MAX_MESSAGE_SIZE)
    }

    /// Applies the process environment, `.pgpass` and the defaults.
    #[allow(dead_code)] // until connection.rs calls it
    pub(crate) fn resolve(&self) -> Result<Resolved, Error> {
        self.resolve_with(&|key| std::env::var(key).ok())
    }

    /// [`resolve`](Self::resolve) with an injected environment lookup.
    #[allow(dead_code)] // until connection.rs calls it
    pub(crate) fn resolve_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Resolved, Error> {
        self.resolve_inner(env, &|path| path.exists())
    }

    fn resolve_inner(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        socket_exists: &dyn Fn(&Path) -> bool,
    ) -> Result<Resolved, Error> {
        // An empty variable counts as unset.
        let env = |key: &str| env(key).filter(|v| !v.is_empty());

        let ssl_mode = match self.ssl_mode {
            Some(mode) => mode,
            None => match env("PGSSLMODE") {
                Some(v) => parse_ssl_mode("PGSSLMODE", &v)?,
                None => SslMode::default(),
            },
        };
        if matches!(
            ssl_mode,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        ) {
            return Err(Error::Config(format!(
                "sslmode \"{ssl_mode}\" needs TLS, and TLS support is not built yet \
                 (use sslmode disable, allow or prefer)"
            )));
        }

        let hosts = if self.hosts.is_empty() {
            match env("PGHOST") {
                Some(v) => parse_host_list("PGHOST", &v)?,
                None => Vec::new(),
            }
        } else {
            for h in &self.hosts {
                if h.is_empty() {
                    return Err(Error::Config(
                        "invalid value for \"host\": empty host name".to_owned(),
                    ));
                }
            }
            self.hosts.clone()
        };
        let (ports, port_key) = if self.ports.is_empty() {
            match env("PGPORT") {
                Some(v) => (parse_port_list("PGPORT", &v)?, "PGPORT"),
                None => (Vec::new(), "port"),
            }
        } else {
            (self.ports.clone(), "port")
        };
        for p in ports.iter().flatten() {
            if *p == 0 {
                return Err(invalid(port_key, "0", "expected a number 1-65535"));
            }
        }

        let n = hosts.len().max(self.hostaddrs.len());
        if !hosts.is_empty() && !self.hostaddrs.is_empty() && hosts.len() != self.hostaddrs.len() {
            return Err(Error::Config(format!(
                "\"hostaddr\" lists {} addresses for {} hosts (expected one per host)",
                self.hostaddrs.len(),
                hosts.len()
            )));
        }
        if ports.len() > 1 && ports.len() != n.max(1) {
            return Err(Error::Config(format!(
                "\"{port_key}\" lists {} ports for {} hosts (expected one port for all hosts, or one per host)",
                ports.len(),
                n.max(1)
            )));
        }
        let port_for = |i: usize| -> u16 {
            let p = match ports.len() {
                0 => None,
                1 => ports[0],
                _ => ports[i],
            };
            p.unwrap_or(DEFAULT_PORT)
        };

        // (where to connect, the host name .pgpass matches)
        let mut places: Vec<(Host, String, u16)> = Vec::with_capacity(n.max(1));
        if n == 0 {
            let port = port_for(0);
            let host = DEFAULT_SOCKET_DIRS
                .iter()
                .find(|dir| socket_exists(&Path::new(dir).join(socket_file(port))))
                .map(|dir| Host::Unix(PathBuf::from(dir)))
                .unwrap_or_else(|| Host::Tcp("localhost".to_owned()));
            places.push((host, "localhost".to_owned(), port));
        } else {
            for i in 0..n {
                let port = port_for(i);
                let name = hosts.get(i);
                let (host, pgpass_name) = match (self.hostaddrs.get(i), name) {
                    (Some(addr), name) => (
                        Host::Tcp(addr.to_string()),
                        name.cloned().unwrap_or_else(|| addr.to_string()),
                    ),
                    (None, Some(name)) if name.starts_with('/') => {
                        let dir = PathBuf::from(name);
                        let pgpass_name = if is_default_socket_dir(&dir) {
                            "localhost".to_owned()
                        } else {
                            name.clone()
                        };
                        (Host::Unix(dir), pgpass_name)
                    }
                    (None, Some(name)) => (Host::Tcp(name.clone()), name.clone()),
                    (None, None) => unreachable!("n is the longer of the two lists"),
                };
                places.push((host, pgpass_name, port));
            }
        }

        let user = self
            .user
            .clone()
            .or_else(|| env("PGUSER"))
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| FALLBACK_USER.to_owned());
        let dbname = self
            .dbname
            .clone()
            .or_else(|| env("PGDATABASE"))
            .unwrap_or_else(|| user.clone());
        let password = self.password.clone().or_else(|| env("PGPASSWORD"));
        let application_name = self.application_name.clone().or_else(|| env("PGAPPNAME"));
        let options = self.options.clone().or_else(|| env("PGOPTIONS"));
        let connect_timeout = match self.connect_timeout {
            Some(t) => Some(t),
            None => match env("PGCONNECT_TIMEOUT") {
                Some(v) => Some(parse_timeout("PGCONNECT_TIMEOUT", &v)?),
                None => None,
            },
        }
        .filter(|t| !t.is_zero());

        let max_message_size = self.get_max_message_size();
        if max_message_size < MIN_MAX_MESSAGE_SIZE {
            return Err(invalid(
                "max_message_size",
                &max_message_size.to_string(),
                "expected a number of bytes, at least 1024",
            ));
        }

        // .pgpass is read only when some target needs it, and at most once.
        let mut pgpass: Option<Vec<PgpassEntry>> = None;
        let mut targets = Vec::with_capacity(places.len());
        for (host, pgpass_name, port) in places {
            let password = match &password {
                Some(p) => Some(p.clone()),
                None => {
                    let entries = pgpass.get_or_insert_with(|| {
                        let path = self
                            .passfile
                            .clone()
                            .or_else(|| env("PGPASSFILE").map(PathBuf::from))
                            .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")));
                        path.map(|p| read_pgpass(&p)).unwrap_or_default()
                    });
                    pgpass_lookup(entries, &pgpass_name, port, &dbname, &user)
                }
            };
            targets.push(Target {
                host,
                port,
                password,
            });
        }

        Ok(Resolved {
            targets,
            user,
            dbname,
            application_name,
            options,
            connect_timeout,
            ssl_mode,
            statement_cache_size: self.get_statement_cache_size(),
            max_cacheable_statement_size: self.get_max_cacheable_statement_size(),
            max_message_size,
        })
    }

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
            "sslmode" => {
                self.ssl_mode = if value.is_empty() {
                    None
                } else {
                    Some(parse_ssl_mode(key, value)?)
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
        Ok(())
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

fn invalid(key: &str, value: &str, expected: &str) -> Error {
    Error::Config(format!("invalid value for {key:?}: {value:?} ({expected})"))
}

fn parse_host_list(key: &str, value: &str) -> Result<Vec<String>, Error> {
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

fn parse_port(key: &str, value: &str) -> Result<u16, Error> {
    match value.parse::<u16>() {
        Ok(p) if p != 0 && !value.starts_with('+') => Ok(p),
        _ => Err(invalid(key, value, "expected a number 1-65535")),
    }
}

fn parse_port_list(key: &str, value: &str) -> Result<Vec<Option<u16>>, Error> {
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

fn parse_timeout(key: &str, value: &str) -> Result<Duration, Error> {
    match value.parse::<u64>() {
        Ok(secs) if !value.starts_with('+') => Ok(Duration::from_secs(secs)),
        _ => Err(invalid(
            key,
            value,
            "expected a whole number of seconds, 0 or more; 0 waits forever",
        )),
    }
}

fn parse_usize(key: &str, value: &str, expected: &str) -> Result<Option<usize>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<usize>() {
        Ok(n) if !value.starts_with('+') => Ok(Some(n)),
        _ => Err(invalid(key, value, expected)),
    }
}

fn parse_ssl_mode(key: &str, value: &str) -> Result<SslMode, Error> {
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

/// Everything needed to connect, after environment, `.pgpass` and defaults.
#[allow(dead_code)] // until connection.rs reads it
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Tried in order; at least one.
    pub targets: Vec<Target>,
    pub user: String,
    pub dbname: String,
    pub application_name: Option<String>,
    pub options: Option<String>,
    /// Per target; `None` waits forever.
    pub connect_timeout: Option<Duration>,
    /// Never Require/VerifyCa/VerifyFull while TLS is not built.
    pub ssl_mode: SslMode,
    pub statement_cache_size: usize,
    pub max_cacheable_statement_size: usize,
    pub max_message_size: usize,
}

/// One place to try.
#[allow(dead_code)] // until connection.rs reads it
#[derive(Clone)]
pub(crate) struct Target {
    pub host: Host,
    pub port: u16,
    /// The explicit password, else the `.pgpass` match for (host, port, dbname, user).
    pub password: Option<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| Redacted))
            .finish()
    }
}

#[allow(dead_code)] // until connection.rs reads it
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    /// A host name or IP address.
    Tcp(String),
    /// The directory holding the server's socket (`.s.PGSQL.<port>`).
    Unix(PathBuf),
}

#[allow(dead_code)] // until connection.rs reads it
impl Target {
    /// For error messages: `127.0.0.1:5432`, `[::1]:5432`, `/tmp/.s.PGSQL.5432`.
    pub fn describe(&self) -> String {
        match &self.host {
            Host::Tcp(h) if h.contains(':') => format!("[{h}]:{}", self.port),
            Host::Tcp(h) => format!("{h}:{}", self.port),
            Host::Unix(dir) => self
                .socket_path()
                .unwrap_or(dir.clone())
                .display()
                .to_string(),
        }
    }

    /// The socket file of a unix-socket target.
    pub fn socket_path(&self) -> Option<PathBuf> {
        match &self.host {
            Host::Unix(dir) => Some(dir.join(socket_file(self.port))),
            Host::Tcp(_) => None,
        }
    }
}

fn socket_file(port: u16) -> String {
    format!(".s.PGSQL.{port}")
}

fn is_default_socket_dir(dir: &Path) -> bool {
    DEFAULT_SOCKET_DIRS.iter().any(|d| Path::new(d) == dir)
}

/// One field of a `.pgpass` line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PgpassField {
    /// An unescaped `*`.
    Any,
    Exact(String),
}

impl PgpassField {
    fn matches(&self, value: &str) -> bool {
        match self {
            PgpassField::Any => true,
            PgpassField::Exact(s) => s == value,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PgpassEntry {
    host: PgpassField,
    port: PgpassField,
    dbname: PgpassField,
    user: PgpassField,
    password: String,
}

/// Reads a password file; a missing, unreadable or too-open file gives no entries.
fn read_pgpass(path: &Path) -> Vec<PgpassEntry> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    if !meta.is_file() {
        tracing::warn!(path = %path.display(), "password file is not a plain file; ignoring it");
        return Vec::new();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{:o}", mode & 0o777),
                "password file has group or world access; permissions should be u=rw (0600) \
                 or less; ignoring it"
            );
            return Vec::new();
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => parse_pgpass(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not read password file; ignoring it");
            Vec::new()
        }
    }
}

/// Parses `.pgpass` text: `hostname:port:database:username:password` lines;
/// `#` comments, blank and short lines are skipped.
fn parse_pgpass(text: &str) -> Vec<PgpassEntry> {
    text.lines().filter_map(parse_pgpass_line).collect()
}

fn parse_pgpass_line(line: &str) -> Option<PgpassEntry> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    // Split on unescaped ':'; a field that is exactly an unescaped "*" is a wildcard.
    let mut fields: Vec<PgpassField> = Vec::with_capacity(4);
    let mut chars = line.chars();
    let mut current = String::new();
    let mut escaped_any = false;
    let mut password = None;
    loop {
        let c = chars.next();
        match c {
            Some('\\') => match chars.next() {
                Some(next) => {
                    current.push(next);
                    escaped_any = true;
                }
                None => current.push('\\'),
            },
            Some(':') | None => {
                if fields.len() == 4 {
                    // The password ends at the next unescaped ':' or the line's end.
                    password = Some(std::mem::take(&mut current));
                    break;
                }
                if c.is_none() {
                    break; // a short line
                }
                let value = std::mem::take(&mut current);
                fields.push(if value == "*" && !escaped_any {
                    PgpassField::Any
                } else {
                    PgpassField::Exact(value)
                });
                escaped_any = false;
            }
            Some(c) => current.push(c),
        }
    }
    let password = password?;
    let mut fields = fields.into_iter();
    Some(PgpassEntry {
        host: fields.next()?,
        port: fields.next()?,
        dbname: fields.next()?,
        user: fields.next()?,
        password,
    })
}

/// The first entry matching; an empty password counts as none (libpq then
/// reports that no password was supplied).
fn pgpass_lookup(
    entries: &[PgpassEntry],
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let port = port.to_string();
    entries
        .iter()
        .find(|e| {
            e.host.matches(host)
                && e.port.matches(&port)
                && e.dbname.matches(dbname)
                && e.user.matches(user)
        })
        .map(|e| e.password.clone())
        .filter(|p| !p.is_empty())
}
