//! Connection options: URL and `key=value` DSNs, `PG*` environment variables,
//! `.pgpass`, multi-host lists, sslmode and the driver's own settings.
//!
//! [`ConnectOptions`] holds only what the user said (builder or DSN).
//! `ConnectOptions::resolve` fills in the rest, in this order of precedence:
//! builder setter > DSN > environment > libpq's defaults, and picks each
//! target's password (explicit, else `.pgpass`).
//!
//! One file per concern: `dsn` parses the two DSN forms, `value` checks one option's value,
//! `resolve` applies the environment and defaults, `pgpass` reads the password file, `ssl`
//! holds [`SslMode`], [`SslNegotiation`] and [`ChannelBinding`], `session_attrs` holds
//! [`TargetSessionAttrs`] and [`LoadBalanceHosts`].

mod dsn;
mod hooks;
pub(crate) mod pgpass;
mod resolve;
mod session_attrs;
mod ssl;
mod value;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{DbError, Error};

pub(crate) use hooks::Hooks;
pub use hooks::{NoticeHandler, TerminationHandler};
#[cfg_attr(not(feature = "tls"), allow(unused_imports))]
pub(crate) use resolve::{Host, Resolved, RootCert, Target, TlsSettings};
pub use session_attrs::{LoadBalanceHosts, TargetSessionAttrs};
pub use ssl::{ChannelBinding, SslMode, SslNegotiation};

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
/// | `command_timeout` | seconds (fractions allowed) a statement may run before it is cancelled and the call returns [`Error::Timeout`]; 0 means no limit | | no limit |
/// | `sslmode` | `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full` (see [`SslMode`]) | `PGSSLMODE` | `prefer`; `verify-full` with `sslrootcert=system` |
/// | `sslrootcert` | PEM file of the CA certificates to trust, or `system` for the platform's trusted roots (which needs `verify-full`) | `PGSSLROOTCERT` | `~/.postgresql/root.crt` if it exists |
/// | `sslcert` | PEM file of the client certificate (and its chain), sent when the server asks for one | `PGSSLCERT` | `~/.postgresql/postgresql.crt` if it exists |
/// | `sslkey` | PEM file of the client certificate's private key (PKCS#8, PKCS#1 or SEC1, not encrypted; mode 0600 or stricter) | `PGSSLKEY` | `~/.postgresql/postgresql.key` |
/// | `sslsni` | `1` sends the host name in the TLS handshake (SNI; never for an IP address), `0` does not | `PGSSLSNI` | `1` |
/// | `sslnegotiation` | `postgres` (SSLRequest first) or `direct` (TLS at once; PostgreSQL 17+; see [`SslNegotiation`]) | `PGSSLNEGOTIATION` | `postgres` |
/// | `channel_binding` | `disable`, `prefer`, `require` (see [`ChannelBinding`]) | `PGCHANNELBINDING` | `prefer` |
/// | `target_session_attrs` | `any`, `read-write`, `read-only`, `primary`, `standby`, `prefer-standby` (see [`TargetSessionAttrs`]) | `PGTARGETSESSIONATTRS` | `any` |
/// | `load_balance_hosts` | `disable` (hosts in order) or `random` (see [`LoadBalanceHosts`]) | `PGLOADBALANCEHOSTS` | `disable` |
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
    command_timeout: Option<Duration>,
    ssl_mode: Option<SslMode>,
    ssl_root_cert: Option<PathBuf>,
    ssl_cert: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
    ssl_sni: Option<bool>,
    ssl_negotiation: Option<SslNegotiation>,
    channel_binding: Option<ChannelBinding>,
    target_session_attrs: Option<TargetSessionAttrs>,
    load_balance_hosts: Option<LoadBalanceHosts>,
    passfile: Option<PathBuf>,
    statement_cache_size: Option<usize>,
    max_cacheable_statement_size: Option<usize>,
    max_message_size: Option<usize>,
    slow_query_threshold: Option<Duration>,
    hooks: Hooks,
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
            .field("command_timeout", &self.command_timeout)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_cert", &self.ssl_cert)
            .field("ssl_key", &self.ssl_key)
            .field("ssl_sni", &self.ssl_sni)
            .field("ssl_negotiation", &self.ssl_negotiation)
            .field("channel_binding", &self.channel_binding)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("passfile", &self.passfile)
            .field("statement_cache_size", &self.statement_cache_size)
            .field(
                "max_cacheable_statement_size",
                &self.max_cacheable_statement_size,
            )
            .field("max_message_size", &self.max_message_size)
            .field("slow_query_threshold", &self.slow_query_threshold)
            .field("hooks", &self.hooks)
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

    /// Sets how long one statement (a query, a batch, a script) may run: past it, the server's
    /// work is cancelled and the call returns [`Error::Timeout`] naming
    /// the statement and the limit. Zero means no limit (the default).
    ///
    /// The call returns at most `connect_timeout` (10 s without one) after the limit: a
    /// server that does not end the statement within that time of the cancel request (it
    /// stopped answering) gets its connection closed instead of waited for.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = Some(timeout);
        self
    }

    /// Sets the duration past which a finished statement is logged at WARN (target
    /// `pgtusk::query`) instead of DEBUG. Unset (the default), nothing is timed unless a
    /// `tracing` subscriber listens to `pgtusk::query` at DEBUG.
    pub fn slow_query_threshold(mut self, threshold: Duration) -> Self {
        self.slow_query_threshold = Some(threshold);
        self
    }

    /// Calls `handler` for every NoticeResponse (`RAISE NOTICE`, warnings) on connections made
    /// with these options. Notices also go to `tracing` (target `pgtusk::notice`) either way.
    ///
    /// ```
    /// let opts = pgtusk::ConnectOptions::new().on_notice(|notice| eprintln!("{notice}"));
    /// ```
    pub fn on_notice(mut self, handler: impl Fn(&DbError) + Send + Sync + 'static) -> Self {
        self.hooks.notice = Some(std::sync::Arc::new(handler));
        self
    }

    /// Calls `handler` once when a connection made with these options finds the server has
    /// ended its session (`pg_terminate_backend`, shutdown, `idle_session_timeout`): with the
    /// server's FATAL error (`err.sqlstate()` is `57P01`, ...) or, without one, the I/O error.
    /// pgtusk reads only while an operation runs, so it is told when the next operation (or a
    /// notification wait) finds the socket closed.
    pub fn on_termination(mut self, handler: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.hooks.termination = Some(std::sync::Arc::new(handler));
        self
    }

    /// Sets the TLS mode.
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = Some(mode);
        self
    }

    /// Sets the CA certificates to trust: a PEM file, or `"system"` for the platform's
    /// trusted roots (which needs [`SslMode::VerifyFull`], the default with it).
    ///
    /// ```
    /// use pgtusk::{ConnectOptions, SslMode};
    ///
    /// // A managed server whose certificate a public CA signed:
    /// let opts = ConnectOptions::new()
    ///     .host("db.example.com")
    ///     .ssl_root_cert("system");
    /// // One whose provider hands out its own CA bundle:
    /// let opts = ConnectOptions::new()
    ///     .host("mydb.abc123.eu-west-1.rds.amazonaws.com")
    ///     .ssl_mode(SslMode::VerifyFull)
    ///     .ssl_root_cert("/etc/ssl/certs/rds-global-bundle.pem");
    /// ```
    pub fn ssl_root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_root_cert = Some(path.into());
        self
    }

    /// Sets the client certificate (PEM, with its chain), sent when the server asks for one
    /// (`cert` or `clientcert=verify-full` in `pg_hba.conf`).
    pub fn ssl_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_cert = Some(path.into());
        self
    }

    /// Sets the client certificate's private key (PEM; not encrypted).
    pub fn ssl_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_key = Some(path.into());
        self
    }

    /// Whether to send the host name in the TLS handshake (SNI); default true. Never sent
    /// for an IP address.
    pub fn ssl_sni(mut self, sni: bool) -> Self {
        self.ssl_sni = Some(sni);
        self
    }

    /// Sets how TLS starts: SSLRequest first, or directly (PostgreSQL 17+).
    pub fn ssl_negotiation(mut self, negotiation: SslNegotiation) -> Self {
        self.ssl_negotiation = Some(negotiation);
        self
    }

    /// Sets whether SCRAM binds to the TLS connection (SCRAM-SHA-256-PLUS).
    pub fn channel_binding(mut self, binding: ChannelBinding) -> Self {
        self.channel_binding = Some(binding);
        self
    }

    /// Sets which kind of server to connect to among the hosts.
    ///
    /// ```
    /// use pgtusk::{ConnectOptions, TargetSessionAttrs};
    ///
    /// let writer: ConnectOptions =
    ///     "postgres://app@db1,db2,db3/orders?target_session_attrs=read-write".parse()?;
    /// let reader = writer.clone().target_session_attrs(TargetSessionAttrs::PreferStandby);
    /// # Ok::<(), pgtusk::Error>(())
    /// ```
    pub fn target_session_attrs(mut self, attrs: TargetSessionAttrs) -> Self {
        self.target_session_attrs = Some(attrs);
        self
    }

    /// Sets the order the hosts are tried in.
    pub fn load_balance_hosts(mut self, order: LoadBalanceHosts) -> Self {
        self.load_balance_hosts = Some(order);
        self
    }

    /// Sets the password file (instead of `PGPASSFILE` or `~/.pgpass`).
    pub fn passfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.passfile = Some(path.into());
        self
    }

    /// Sets how many prepared statements each connection keeps (0 disables the cache).
    ///
    /// With 0 (behind a transaction-pooling pgbouncer) no statement is named on the server:
    /// each query runs as the unnamed statement in one request. The first run of an SQL text
    /// on a connection describes it (two round trips); the connection remembers the
    /// description (the last 100 texts) and later runs take one round trip.
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

    /// The slow-query threshold, if set.
    pub fn get_slow_query_threshold(&self) -> Option<Duration> {
        self.slow_query_threshold
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

    /// The command timeout, if set.
    pub fn get_command_timeout(&self) -> Option<Duration> {
        self.command_timeout
    }

    /// The TLS mode, if set (when not, `PGSSLMODE` or [`SslMode::Prefer`] applies).
    pub fn get_ssl_mode(&self) -> Option<SslMode> {
        self.ssl_mode
    }

    /// The root certificate file (or `system`), if set.
    pub fn get_ssl_root_cert(&self) -> Option<&Path> {
        self.ssl_root_cert.as_deref()
    }

    /// The client certificate file, if set.
    pub fn get_ssl_cert(&self) -> Option<&Path> {
        self.ssl_cert.as_deref()
    }

    /// The client key file, if set.
    pub fn get_ssl_key(&self) -> Option<&Path> {
        self.ssl_key.as_deref()
    }

    /// Whether SNI is sent, if set (default true).
    pub fn get_ssl_sni(&self) -> Option<bool> {
        self.ssl_sni
    }

    /// How TLS starts, if set (default [`SslNegotiation::Postgres`]).
    pub fn get_ssl_negotiation(&self) -> Option<SslNegotiation> {
        self.ssl_negotiation
    }

    /// The channel binding setting, if set (default [`ChannelBinding::Prefer`]).
    pub fn get_channel_binding(&self) -> Option<ChannelBinding> {
        self.channel_binding
    }

    /// The kind of server wanted, if set (default [`TargetSessionAttrs::Any`]).
    pub fn get_target_session_attrs(&self) -> Option<TargetSessionAttrs> {
        self.target_session_attrs
    }

    /// The host order, if set (default [`LoadBalanceHosts::Disable`]).
    pub fn get_load_balance_hosts(&self) -> Option<LoadBalanceHosts> {
        self.load_balance_hosts
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    pub(super) fn config_msg(e: Error) -> String {
        match e {
            Error::Config(m) => m,
            other => panic!("expected Error::Config, got {other:?}"),
        }
    }

    pub(super) fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|h| h.to_string()).collect()
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
}
