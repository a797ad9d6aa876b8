//! Connection options: URL and `key=value` DSNs, `PG*` environment variables,
//! `.pgpass`, multi-host lists, sslmode and the driver's own settings.
//!
//! [`ConnectOptions`] holds only what the user said (builder or DSN).
//! `ConnectOptions::resolve` fills in the rest, in this order of precedence:
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
/// in this table is an error, and so is a value holding a NUL byte (raw or
/// `%00`, from a DSN, a setter, an environment variable or `.pgpass`):
/// [`Error::Config`] naming the key, when parsing or connecting, before
/// anything is sent.
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
    pub(crate) fn resolve(&self) -> Result<Resolved, Error> {
        self.resolve_with(&|key| std::env::var(key).ok())
    }

    /// [`resolve`](Self::resolve) with an injected environment lookup.
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
        // An empty variable counts as unset; a NUL byte is refused only in a variable we use.
        let env = |key: &str| -> Result<Option<String>, Error> {
            let value = env(key).filter(|v| !v.is_empty());
            if let Some(v) = &value {
                refuse_nul(key, v)?;
            }
            Ok(value)
        };
        self.refuse_nul_in_values()?;

        let ssl_mode = match self.ssl_mode {
            Some(mode) => mode,
            None => match env("PGSSLMODE")? {
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
            match env("PGHOST")? {
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
            match env("PGPORT")? {
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

        // The option's own value, else the first of these variables that is set.
        let pick = |own: &Option<String>, vars: &[&str]| -> Result<Option<String>, Error> {
            if own.is_some() {
                return Ok(own.clone());
            }
            for var in vars {
                if let Some(v) = env(var)? {
                    return Ok(Some(v));
                }
            }
            Ok(None)
        };
        let user = pick(&self.user, &["PGUSER", "USER", "LOGNAME"])?
            .unwrap_or_else(|| FALLBACK_USER.to_owned());
        let dbname = pick(&self.dbname, &["PGDATABASE"])?.unwrap_or_else(|| user.clone());
        let password = pick(&self.password, &["PGPASSWORD"])?;
        let application_name = pick(&self.application_name, &["PGAPPNAME"])?;
        let options = pick(&self.options, &["PGOPTIONS"])?;
        let connect_timeout = match self.connect_timeout {
            Some(t) => Some(t),
            None => match env("PGCONNECT_TIMEOUT")? {
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
        let mut pgpass: Option<(PathBuf, Vec<PgpassEntry>)> = None;
        let mut targets = Vec::with_capacity(places.len());
        for (host, pgpass_name, port) in places {
            let password = match &password {
                Some(p) => Some(p.clone()),
                None => {
                    if pgpass.is_none() {
                        let path = match &self.passfile {
                            Some(p) => Some(p.clone()),
                            None => match env("PGPASSFILE")? {
                                Some(p) => Some(PathBuf::from(p)),
                                None => env("HOME")?.map(|h| Path::new(&h).join(".pgpass")),
                            },
                        };
                        pgpass = path.map(|p| {
                            let entries = read_pgpass(&p);
                            (p, entries)
                        });
                    }
                    match &pgpass {
                        Some((path, entries)) => {
                            let found = pgpass_lookup(entries, &pgpass_name, port, &dbname, &user);
                            if found.as_deref().is_some_and(|p| p.contains('\0')) {
                                return Err(Error::Config(format!(
                                    "invalid value for \"password\" in the password file {}, on \
                                     the line for {pgpass_name}:{port}:{dbname}:{user}: it contains \
                                     a NUL byte, which PostgreSQL cannot receive (fix that line)",
                                    path.display()
                                )));
                            }
                            found
                        }
                        None => None,
                    }
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
        refuse_nul(key, value)
    }

    /// An error naming the first value set by a builder setter (or a DSN) that holds a NUL byte.
    fn refuse_nul_in_values(&self) -> Result<(), Error> {
        for host in &self.hosts {
            refuse_nul("host", host)?;
        }
        for (key, value) in [
            ("user", &self.user),
            ("password", &self.password),
            ("dbname", &self.dbname),
            ("application_name", &self.application_name),
            ("options", &self.options),
        ] {
            if let Some(v) = value {
                refuse_nul(key, v)?;
            }
        }
        if let Some(path) = &self.passfile {
            if path.as_os_str().as_encoded_bytes().contains(&0) {
                return Err(nul_error("passfile"));
            }
        }
        Ok(())
    }
}

/// A NUL byte cannot reach the server: its strings end at one. `key` is the option or the
/// environment variable the value came from; the value is not shown (it may be a password).
fn refuse_nul(key: &str, value: &str) -> Result<(), Error> {
    if value.contains('\0') {
        return Err(nul_error(key));
    }
    Ok(())
}

fn nul_error(key: &str) -> Error {
    Error::Config(format!(
        "invalid value for {key:?}: it contains a NUL byte, which PostgreSQL cannot receive \
         (remove it)"
    ))
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    /// A host name or IP address.
    Tcp(String),
    /// The directory holding the server's socket (`.s.PGSQL.<port>`).
    Unix(PathBuf),
}

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn config_msg(e: Error) -> String {
        match e {
            Error::Config(m) => m,
            other => panic!("expected Error::Config, got {other:?}"),
        }
    }

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|h| h.to_string()).collect()
    }

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

    #[test]
    fn password_never_in_errors_or_debug() {
        let err = config_msg(
            "postgres://u:hunter2%zz@h"
                .parse::<ConnectOptions>()
                .unwrap_err(),
        );
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!err.contains("%zz"), "{err}");

        let opts: ConnectOptions = "user=u password=hunter2".parse().unwrap();
        let dbg = format!("{opts:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("<redacted>"), "{dbg}");

        let r = opts.host("h").resolve_inner(&|_| None, &|_| false).unwrap();
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn setters_override_dsn() {
        let opts: ConnectOptions =
            "postgres://u:p@h:5433,h2:5434/db?sslmode=disable&application_name=a"
                .parse::<ConnectOptions>()
                .unwrap()
                .port(6000)
                .user("v")
                .dbname("other")
                .ssl_mode(SslMode::Prefer)
                .host("h3");
        assert_eq!(opts.get_ports(), [Some(6000)]);
        assert_eq!(opts.get_user(), Some("v"));
        assert_eq!(opts.get_password(), Some("p"));
        assert_eq!(opts.get_dbname(), Some("other"));
        assert_eq!(opts.get_ssl_mode(), Some(SslMode::Prefer));
        assert_eq!(opts.get_application_name(), Some("a"));
        assert_eq!(opts.get_hosts(), ["h", "h2", "h3"]);
        let r = opts.resolve_inner(&|_| None, &|_| false).unwrap();
        let ports: Vec<u16> = r.targets.iter().map(|t| t.port).collect();
        assert_eq!(ports, [6000, 6000, 6000]);
    }

    #[test]
    fn getters_defaults() {
        let o = ConnectOptions::new();
        assert_eq!(o.get_statement_cache_size(), 100);
        assert_eq!(o.get_max_cacheable_statement_size(), 15 * 1024);
        assert_eq!(o.get_max_message_size(), 1 << 30);
        assert_eq!(o.get_ssl_mode(), None);
        assert_eq!(o.get_connect_timeout(), None);
        assert!(o.get_hosts().is_empty());
        assert!(o.get_ports().is_empty());
        assert_eq!(o.get_passfile(), None);
        assert_eq!(o.get_options(), None);
    }

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

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn resolve(opts: &ConnectOptions, env: &[(&str, &str)]) -> Result<Resolved, Error> {
        opts.resolve_inner(&env_of(env), &|_| false)
    }

    #[test]
    fn defaults_without_env() {
        let r = resolve(&ConnectOptions::new(), &[]).unwrap();
        assert_eq!(r.targets.len(), 1);
        assert_eq!(r.targets[0].host, Host::Tcp("localhost".into()));
        assert_eq!(r.targets[0].port, 5432);
        assert_eq!(r.targets[0].password, None);
        assert_eq!(r.user, "postgres");
        assert_eq!(r.dbname, "postgres");
        assert_eq!(r.application_name, None);
        assert_eq!(r.options, None);
        assert_eq!(r.connect_timeout, None);
        assert_eq!(r.ssl_mode, SslMode::Prefer);
        assert_eq!(r.statement_cache_size, 100);
        assert_eq!(r.max_cacheable_statement_size, 15360);
        assert_eq!(r.max_message_size, 1 << 30);
    }

    #[test]
    fn default_host_prefers_an_existing_socket() {
        let opts = ConnectOptions::new().port(5433);
        let only_tmp = |p: &Path| p == Path::new("/tmp/.s.PGSQL.5433");
        let r = opts.resolve_inner(&|_| None, &only_tmp).unwrap();
        assert_eq!(r.targets[0].host, Host::Unix("/tmp".into()));
        assert_eq!(r.targets[0].describe(), "/tmp/.s.PGSQL.5433");

        let both = |p: &Path| p.ends_with(".s.PGSQL.5433");
        let r = opts.resolve_inner(&|_| None, &both).unwrap();
        assert_eq!(r.targets[0].host, Host::Unix("/var/run/postgresql".into()));

        // A socket for another port does not count.
        let r = ConnectOptions::new()
            .resolve_inner(&|_| None, &only_tmp)
            .unwrap();
        assert_eq!(r.targets[0].host, Host::Tcp("localhost".into()));
    }

    #[test]
    fn os_user_from_env() {
        let r = resolve(
            &ConnectOptions::new(),
            &[("USER", "alice"), ("LOGNAME", "bob")],
        )
        .unwrap();
        assert_eq!((r.user.as_str(), r.dbname.as_str()), ("alice", "alice"));
        let r = resolve(&ConnectOptions::new(), &[("LOGNAME", "bob")]).unwrap();
        assert_eq!((r.user.as_str(), r.dbname.as_str()), ("bob", "bob"));
        let r = resolve(
            &ConnectOptions::new(),
            &[("PGUSER", "carol"), ("USER", "alice")],
        )
        .unwrap();
        assert_eq!((r.user.as_str(), r.dbname.as_str()), ("carol", "carol"));
    }

    const FULL_ENV: &[(&str, &str)] = &[
        ("PGHOST", "envhost1,/envsock"),
        ("PGPORT", "7001,7002"),
        ("PGUSER", "envuser"),
        ("PGPASSWORD", "envpass"),
        ("PGDATABASE", "envdb"),
        ("PGAPPNAME", "envapp"),
        ("PGOPTIONS", "-c x=1"),
        ("PGCONNECT_TIMEOUT", "7"),
        ("PGSSLMODE", "disable"),
        ("USER", "osuser"),
    ];

    #[test]
    fn env_fills_what_is_unset() {
        let r = resolve(&ConnectOptions::new(), FULL_ENV).unwrap();
        let places: Vec<String> = r.targets.iter().map(Target::describe).collect();
        assert_eq!(places, ["envhost1:7001", "/envsock/.s.PGSQL.7002"]);
        assert!(
            r.targets
                .iter()
                .all(|t| t.password.as_deref() == Some("envpass"))
        );
        assert_eq!(r.user, "envuser");
        assert_eq!(r.dbname, "envdb");
        assert_eq!(r.application_name.as_deref(), Some("envapp"));
        assert_eq!(r.options.as_deref(), Some("-c x=1"));
        assert_eq!(r.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(r.ssl_mode, SslMode::Disable);
    }

    #[test]
    fn dsn_beats_env_and_builder_beats_dsn() {
        let dsn: ConnectOptions =
            "host=dsnhost port=6001 user=dsnuser password=dsnpass dbname=dsndb \
                                   application_name=dsnapp options='-c y=2' connect_timeout=3 \
                                   sslmode=allow"
                .parse()
                .unwrap();
        let r = resolve(&dsn, FULL_ENV).unwrap();
        assert_eq!(r.targets.len(), 1);
        assert_eq!(r.targets[0].describe(), "dsnhost:6001");
        assert_eq!(r.targets[0].password.as_deref(), Some("dsnpass"));
        assert_eq!(r.user, "dsnuser");
        assert_eq!(r.dbname, "dsndb");
        assert_eq!(r.application_name.as_deref(), Some("dsnapp"));
        assert_eq!(r.options.as_deref(), Some("-c y=2"));
        assert_eq!(r.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(r.ssl_mode, SslMode::Allow);

        let built = dsn
            .port(6002)
            .user("builduser")
            .password("buildpass")
            .dbname("builddb")
            .connect_timeout(Duration::ZERO)
            .ssl_mode(SslMode::Disable);
        let r = resolve(&built, FULL_ENV).unwrap();
        assert_eq!(r.targets[0].describe(), "dsnhost:6002");
        assert_eq!(r.targets[0].password.as_deref(), Some("buildpass"));
        assert_eq!(r.user, "builduser");
        assert_eq!(r.dbname, "builddb");
        assert_eq!(r.connect_timeout, None, "zero waits forever");
        assert_eq!(r.ssl_mode, SslMode::Disable);
    }

    #[test]
    fn empty_env_values_count_as_unset() {
        let r = resolve(
            &ConnectOptions::new(),
            &[
                ("PGHOST", ""),
                ("PGPORT", ""),
                ("PGUSER", ""),
                ("USER", "u"),
            ],
        )
        .unwrap();
        assert_eq!(r.targets[0].describe(), "localhost:5432");
        assert_eq!(r.user, "u");
    }

    #[test]
    fn bad_env_values_name_the_variable() {
        let cases: &[(&str, &str, &str)] = &[
            ("PGPORT", "abc", r#"invalid value for "PGPORT": "abc""#),
            ("PGPORT", "0", r#""PGPORT""#),
            (
                "PGSSLMODE",
                "nope",
                r#"invalid value for "PGSSLMODE": "nope""#,
            ),
            (
                "PGCONNECT_TIMEOUT",
                "-1",
                r#"invalid value for "PGCONNECT_TIMEOUT": "-1""#,
            ),
            ("PGHOST", "a,,b", r#"invalid value for "PGHOST""#),
        ];
        for (var, value, want) in cases {
            let err = config_msg(resolve(&ConnectOptions::new(), &[(var, value)]).unwrap_err());
            assert!(err.contains(want), "{var}={value}: {err:?} lacks {want:?}");
        }
    }

    #[test]
    fn tls_modes_are_refused_until_tls_lands() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let opts: ConnectOptions = format!("sslmode={mode}").parse().unwrap();
            let err = config_msg(resolve(&opts, &[]).unwrap_err());
            assert!(err.contains(mode), "{err}");
            assert!(err.contains("TLS support is not built yet"), "{err}");
            assert!(err.contains("disable, allow or prefer"), "{err}");
            let err =
                config_msg(resolve(&ConnectOptions::new(), &[("PGSSLMODE", mode)]).unwrap_err());
            assert!(err.contains("TLS support is not built yet"), "{err}");
        }
        // The DSN's disable beats the environment's require.
        let opts: ConnectOptions = "sslmode=disable".parse().unwrap();
        assert_eq!(
            resolve(&opts, &[("PGSSLMODE", "require")])
                .unwrap()
                .ssl_mode,
            SslMode::Disable
        );
    }

    #[test]
    fn multi_host_ports() {
        let describe = |dsn: &str, env: &[(&str, &str)]| -> Result<Vec<String>, String> {
            let opts = dsn.parse::<ConnectOptions>().map_err(|e| e.to_string())?;
            resolve(&opts, env)
                .map(|r| r.targets.iter().map(Target::describe).collect())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            describe("host=a,b,/s port=6000", &[]).unwrap(),
            ["a:6000", "b:6000", "/s/.s.PGSQL.6000"]
        );
        assert_eq!(
            describe("host=a,b port=6000,6001", &[]).unwrap(),
            ["a:6000", "b:6001"]
        );
        assert_eq!(
            describe("host=a,b port=6000,", &[]).unwrap(),
            ["a:6000", "b:5432"]
        );
        assert_eq!(
            describe("postgres://a:6000,[::1]/db", &[("PGPORT", "7000")]).unwrap(),
            ["a:6000", "[::1]:5432"],
            "an empty item is the default port, not PGPORT (as libpq)"
        );
        assert_eq!(
            describe("postgres://a,[::1]/db", &[("PGPORT", "7000")]).unwrap(),
            ["a:7000", "[::1]:7000"]
        );
        assert_eq!(
            describe("host=a,b", &[("PGPORT", "7000,7001")]).unwrap(),
            ["a:7000", "b:7001"]
        );
        let err = describe("host=a,b port=1,2,3", &[]).unwrap_err();
        assert!(
            err.contains(r#""port" lists 3 ports for 2 hosts (expected one port for all hosts, or one per host)"#),
            "{err}"
        );
        let err = describe("host=a,b,c", &[("PGPORT", "1,2")]).unwrap_err();
        assert!(
            err.contains(r#""PGPORT" lists 2 ports for 3 hosts"#),
            "{err}"
        );
        let err = describe("port=1,2", &[]).unwrap_err();
        assert!(err.contains("2 ports for 1 hosts"), "{err}");
        // hostaddr replaces where we connect; the host name stays for .pgpass.
        assert_eq!(
            describe("host=db.example hostaddr=10.0.0.5 port=6000", &[]).unwrap(),
            ["10.0.0.5:6000"]
        );
        assert_eq!(describe("hostaddr=::1", &[]).unwrap(), ["[::1]:5432"]);
        let err = describe("host=a,b hostaddr=10.0.0.5", &[]).unwrap_err();
        assert!(
            err.contains(r#""hostaddr" lists 1 addresses for 2 hosts"#),
            "{err}"
        );
    }

    #[test]
    fn builder_values_are_validated_by_resolve() {
        let err = config_msg(resolve(&ConnectOptions::new().port(0), &[]).unwrap_err());
        assert!(err.contains(r#"invalid value for "port": "0""#), "{err}");
        let err = config_msg(resolve(&ConnectOptions::new().host(""), &[]).unwrap_err());
        assert!(err.contains(r#""host""#), "{err}");
        let err =
            config_msg(resolve(&ConnectOptions::new().max_message_size(10), &[]).unwrap_err());
        assert!(err.contains(r#""max_message_size""#), "{err}");
    }

    #[test]
    fn describe_targets() {
        let t = |host, port| Target {
            host,
            port,
            password: None,
        };
        assert_eq!(
            t(Host::Tcp("127.0.0.1".into()), 5432).describe(),
            "127.0.0.1:5432"
        );
        assert_eq!(t(Host::Tcp("::1".into()), 5433).describe(), "[::1]:5433");
        assert_eq!(
            t(Host::Unix("/var/run/postgresql".into()), 5432).describe(),
            "/var/run/postgresql/.s.PGSQL.5432"
        );
    }

    fn entry(h: &str, p: &str, d: &str, u: &str, pw: &str) -> PgpassEntry {
        let f = |s: &str| {
            if s == "*" {
                PgpassField::Any
            } else {
                PgpassField::Exact(s.to_owned())
            }
        };
        PgpassEntry {
            host: f(h),
            port: f(p),
            dbname: f(d),
            user: f(u),
            password: pw.to_owned(),
        }
    }

    #[test]
    fn pgpass_parsing() {
        let text = "# a comment\n\
                    \n\
                    localhost:5432:db:alice:secret\n\
                    *:*:*:*:any\r\n\
                    h\\:x:5432:d\\\\b:u:p\\:w\\\\d:ignored\n\
                    \\*:*:db:bob:literal-star\n\
                    short:line\n\
                    a:b:c:d\n\
                    h:1:d:u:\n\
                    h:1:d:u:trail\\\n";
        let got = parse_pgpass(text);
        let mut literal_star = entry("*", "*", "db", "bob", "literal-star");
        literal_star.host = PgpassField::Exact("*".into());
        assert_eq!(
            got,
            vec![
                entry("localhost", "5432", "db", "alice", "secret"),
                entry("*", "*", "*", "*", "any"),
                entry("h:x", "5432", "d\\b", "u", "p:w\\d"),
                literal_star,
                entry("h", "1", "d", "u", ""),
                entry("h", "1", "d", "u", "trail\\"),
            ]
        );
    }

    #[test]
    fn pgpass_matching() {
        let entries = parse_pgpass(
            "db1:5432:app:alice:first\n\
             db1:5432:app:alice:second\n\
             db1:*:*:bob:bobs\n\
             \\*:5432:app:carol:only-a-host-named-star\n\
             localhost:5432:*:dave:local\n\
             empty:5432:*:*:\n\
             empty:5432:*:*:after-empty\n\
             *:*:*:eve:wild\n",
        );
        let look = |h, p, d, u| pgpass_lookup(&entries, h, p, d, u);
        assert_eq!(look("db1", 5432, "app", "alice").as_deref(), Some("first"));
        assert_eq!(look("db1", 5433, "app", "alice"), None);
        assert_eq!(look("db1", 9999, "x", "bob").as_deref(), Some("bobs"));
        assert_eq!(look("db2", 5432, "app", "carol"), None);
        assert_eq!(
            look("*", 5432, "app", "carol").as_deref(),
            Some("only-a-host-named-star")
        );
        assert_eq!(
            look("localhost", 5432, "x", "dave").as_deref(),
            Some("local")
        );
        assert_eq!(
            look("empty", 5432, "x", "y"),
            None,
            "first match wins, even when empty"
        );
        assert_eq!(look("anything", 1, "x", "eve").as_deref(), Some("wild"));
    }

    fn write_pgpass(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("pgpass");
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }

    #[test]
    fn pgpass_file_supplies_passwords_per_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_pgpass(
            dir.path(),
            "h1:5432:db:u:pw1\n\
             h2:*:db:u:pw2\n\
             localhost:5432:db:u:pw-local\n\
             /custom/dir:5432:db:u:pw-custom\n",
            0o600,
        );
        let passfile = path.to_str().unwrap();
        let opts: ConnectOptions =
            "host=h1,h2,h3,/var/run/postgresql,/tmp/,/custom/dir user=u dbname=db"
                .parse()
                .unwrap();
        let r = resolve(&opts, &[("PGPASSFILE", passfile)]).unwrap();
        let pws: Vec<Option<&str>> = r.targets.iter().map(|t| t.password.as_deref()).collect();
        assert_eq!(
            pws,
            [
                Some("pw1"),
                Some("pw2"),
                None,
                Some("pw-local"),
                Some("pw-local"),
                Some("pw-custom")
            ]
        );

        // The default host (no host given) is "localhost" for .pgpass, socket or not.
        let opts = ConnectOptions::new().user("u").dbname("db");
        let r = resolve(&opts, &[("PGPASSFILE", passfile)]).unwrap();
        assert_eq!(r.targets[0].password.as_deref(), Some("pw-local"));
        let r = opts
            .resolve_inner(&env_of(&[("PGPASSFILE", passfile)]), &|_| true)
            .unwrap();
        assert_eq!(r.targets[0].host, Host::Unix("/var/run/postgresql".into()));
        assert_eq!(r.targets[0].password.as_deref(), Some("pw-local"));

        // hostaddr: matched by the host name.
        let opts: ConnectOptions = "host=h1 hostaddr=10.1.1.1 user=u dbname=db"
            .parse()
            .unwrap();
        let r = resolve(&opts, &[("PGPASSFILE", passfile)]).unwrap();
        assert_eq!(r.targets[0].password.as_deref(), Some("pw1"));

        // An explicit password (builder, DSN or PGPASSWORD) wins over the file.
        let opts: ConnectOptions = "host=h1 user=u dbname=db".parse().unwrap();
        let r = resolve(&opts, &[("PGPASSFILE", passfile), ("PGPASSWORD", "env")]).unwrap();
        assert_eq!(r.targets[0].password.as_deref(), Some("env"));
        let r = resolve(
            &opts.clone().password("explicit"),
            &[("PGPASSFILE", passfile)],
        )
        .unwrap();
        assert_eq!(r.targets[0].password.as_deref(), Some("explicit"));

        // The passfile option beats PGPASSFILE; ~/.pgpass is the fallback.
        let r = resolve(
            &opts.clone().passfile(passfile),
            &[("PGPASSFILE", "/nonexistent/pgpass")],
        )
        .unwrap();
        assert_eq!(r.targets[0].password.as_deref(), Some("pw1"));
        std::fs::rename(&path, dir.path().join(".pgpass")).unwrap();
        let home = dir.path().to_str().unwrap();
        let r = resolve(&opts, &[("HOME", home)]).unwrap();
        assert_eq!(r.targets[0].password.as_deref(), Some("pw1"));

        // A missing file is no error.
        let r = resolve(&opts, &[("PGPASSFILE", "/nonexistent/pgpass")]).unwrap();
        assert_eq!(r.targets[0].password, None);
    }

    #[cfg(unix)]
    #[test]
    fn pgpass_refused_when_group_or_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let opts: ConnectOptions = "host=h user=u dbname=db".parse().unwrap();
        for (mode, expected) in [
            (0o600, Some("pw")),
            (0o400, Some("pw")),
            (0o640, None),
            (0o604, None),
            (0o660, None),
            (0o644, None),
            (0o610, None),
        ] {
            let path = write_pgpass(dir.path(), "h:*:*:*:pw\n", mode);
            let r = resolve(&opts, &[("PGPASSFILE", path.to_str().unwrap())]).unwrap();
            assert_eq!(r.targets[0].password.as_deref(), expected, "mode {mode:o}");
        }
        // A directory is not a password file.
        let r = resolve(&opts, &[("PGPASSFILE", dir.path().to_str().unwrap())]).unwrap();
        assert_eq!(r.targets[0].password, None);
    }

    /// Every way a NUL byte can get into a value is a Config error naming where it came from,
    /// found when parsing or resolving, never a protocol error at startup.
    #[test]
    fn a_nul_byte_is_a_config_error_naming_the_key() {
        let nul_error = |e: Error, key: &str| {
            let m = config_msg(e);
            assert!(
                m.contains(&format!("{key:?}")) && m.contains("NUL"),
                "{key}: {m}"
            );
            assert!(!m.contains("se\0cret"), "the password leaked: {m}");
        };
        for (dsn, key) in [
            ("postgres://us\0er@h/db", "user"),
            ("postgres://us%00er@h/db", "user"),
            ("postgres://u:se\0cret@h/db", "password"),
            ("postgres://u:se%00cret@h/db", "password"),
            ("postgres://h\0st/db", "host"),
            ("postgres://h1,h\0st:5433/db", "host"),
            ("postgres://h/d\0b", "dbname"),
            ("postgres://h/db?options=-c%20a=\0", "options"),
            ("postgres://h/db?application_name=a%00", "application_name"),
            ("postgres://h/db?passfile=/tmp/p\0", "passfile"),
            ("host=h\0 user=u", "host"),
            ("user='a\0b'", "user"),
            ("password=se\0cret", "password"),
            ("dbname=a\0b", "dbname"),
            ("database=a\0b", "database"),
            ("options='-c a=\0'", "options"),
            ("application_name=\0", "application_name"),
            ("passfile=/tmp/\0", "passfile"),
        ] {
            nul_error(dsn.parse::<ConnectOptions>().expect_err(dsn), key);
        }
        let o = ConnectOptions::new;
        for (opts, key) in [
            (o().host("a\0"), "host"),
            (o().user("a\0"), "user"),
            (o().password("se\0cret"), "password"),
            (o().dbname("a\0"), "dbname"),
            (o().application_name("a\0"), "application_name"),
            (o().options("a\0"), "options"),
            (o().passfile("/tmp/\0"), "passfile"),
        ] {
            nul_error(resolve(&opts, &[]).expect_err(key), key);
        }
        for var in [
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGPASSWORD",
            "PGAPPNAME",
            "PGOPTIONS",
            "PGSSLMODE",
            "PGCONNECT_TIMEOUT",
            "PGPASSFILE",
        ] {
            nul_error(resolve(&o(), &[(var, "se\0cret")]).expect_err(var), var);
        }
        nul_error(resolve(&o(), &[("USER", "a\0")]).unwrap_err(), "USER");
        nul_error(resolve(&o(), &[("LOGNAME", "a\0")]).unwrap_err(), "LOGNAME");
        nul_error(resolve(&o(), &[("HOME", "/a\0")]).unwrap_err(), "HOME");
        // A variable that is overridden is not used, so not refused.
        let r = resolve(
            &o().user("u").password("p"),
            &[("PGUSER", "a\0"), ("HOME", "\0")],
        );
        assert_eq!(r.unwrap().user, "u");
    }

    #[test]
    fn a_nul_byte_in_a_pgpass_password_is_a_config_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_pgpass(dir.path(), "h:5432:db:u:se\0cret\nok:*:*:*:fine\n", 0o600);
        let opts = ConnectOptions::new()
            .host("h")
            .user("u")
            .dbname("db")
            .passfile(&path);
        let m = config_msg(resolve(&opts, &[]).unwrap_err());
        assert!(
            m.contains("\"password\"")
                && m.contains("NUL")
                && m.contains(&path.display().to_string()),
            "{m}"
        );
        assert!(!m.contains("se\0cret"), "the password leaked: {m}");
        // Another line of the same file is fine.
        let opts = ConnectOptions::new()
            .host("ok")
            .user("u")
            .dbname("db")
            .passfile(&path);
        let r = resolve(&opts, &[]).unwrap();
        assert_eq!(r.targets[0].password.as_deref(), Some("fine"));
    }
}
