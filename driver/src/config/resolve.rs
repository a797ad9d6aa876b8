//! From what the user said to where and how to connect: the environment, `.pgpass` and
//! libpq's defaults fill in what the options leave unset.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::pgpass::{PgpassEntry, pgpass_lookup, read_pgpass};
use super::session_attrs::{
    LoadBalanceHosts, TargetSessionAttrs, parse_load_balance_hosts, parse_target_session_attrs,
};
use super::ssl::{
    ChannelBinding, SslMode, SslNegotiation, parse_channel_binding, parse_ssl_mode,
    parse_ssl_negotiation,
};
use super::value::{
    invalid, nul_error, parse_flag, parse_host_list, parse_port_list, parse_timeout, refuse_nul,
};
use super::{
    ConnectOptions, DEFAULT_PORT, DEFAULT_SOCKET_DIRS, FALLBACK_USER, MIN_MAX_MESSAGE_SIZE,
    Redacted,
};
use crate::error::Error;

impl ConnectOptions {
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

    /// `path_exists` tells whether a default socket or certificate file is there.
    pub(crate) fn resolve_inner(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        path_exists: &dyn Fn(&Path) -> bool,
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

        let tls = self.resolve_tls(&env, path_exists)?;
        let channel_binding = match self.channel_binding {
            Some(b) => b,
            None => match env("PGCHANNELBINDING")? {
                Some(v) => parse_channel_binding("PGCHANNELBINDING", &v)?,
                None => ChannelBinding::default(),
            },
        };
        if channel_binding == ChannelBinding::Require && tls.mode == SslMode::Disable {
            return Err(Error::Config(
                "channel_binding \"require\" needs TLS, and sslmode is \"disable\" (set sslmode \
                 to require, verify-ca or verify-full, or channel_binding to prefer)"
                    .to_owned(),
            ));
        }
        let target_session_attrs = match self.target_session_attrs {
            Some(a) => a,
            None => match env("PGTARGETSESSIONATTRS")? {
                Some(v) => parse_target_session_attrs("PGTARGETSESSIONATTRS", &v)?,
                None => TargetSessionAttrs::default(),
            },
        };
        let load_balance_hosts = match self.load_balance_hosts {
            Some(l) => l,
            None => match env("PGLOADBALANCEHOSTS")? {
                Some(v) => parse_load_balance_hosts("PGLOADBALANCEHOSTS", &v)?,
                None => LoadBalanceHosts::default(),
            },
        };

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
        let mut places: Vec<(Host, String, u16, Option<String>)> = Vec::with_capacity(n.max(1));
        if n == 0 {
            let port = port_for(0);
            let host = DEFAULT_SOCKET_DIRS
                .iter()
                .find(|dir| path_exists(&Path::new(dir).join(socket_file(port))))
                .map(|dir| Host::Unix(PathBuf::from(dir)))
                .unwrap_or_else(|| Host::Tcp("localhost".to_owned()));
            let tls_name = matches!(host, Host::Tcp(_)).then(|| "localhost".to_owned());
            places.push((host, "localhost".to_owned(), port, tls_name));
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
                // TLS checks the certificate against the name given (libpq: `host`, else
                // `hostaddr`), whatever address was dialled.
                let tls_name = match &host {
                    Host::Tcp(_) => Some(pgpass_name.clone()),
                    Host::Unix(_) => None,
                };
                places.push((host, pgpass_name, port, tls_name));
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
        for (host, pgpass_name, port, tls_name) in places {
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
                tls_name,
            });
        }

        Ok(Resolved {
            targets,
            user,
            dbname,
            application_name,
            options,
            connect_timeout,
            command_timeout: self.command_timeout.filter(|t| !t.is_zero()),
            ssl_mode: tls.mode,
            tls,
            channel_binding,
            target_session_attrs,
            load_balance_hosts,
            statement_cache_size: self.get_statement_cache_size(),
            max_cacheable_statement_size: self.get_max_cacheable_statement_size(),
            max_message_size,
            slow_query_threshold: self.get_slow_query_threshold(),
            hooks: self.hooks.clone(),
        })
    }

    /// sslmode, the certificate files, SNI and the negotiation, from the options, the
    /// environment and libpq's default files under `~/.postgresql`.
    fn resolve_tls(
        &self,
        env: &dyn Fn(&str) -> Result<Option<String>, Error>,
        path_exists: &dyn Fn(&Path) -> bool,
    ) -> Result<TlsSettings, Error> {
        let path = |own: &Option<PathBuf>, var: &str| -> Result<Option<PathBuf>, Error> {
            Ok(match own {
                Some(p) => Some(p.clone()),
                None => env(var)?.map(PathBuf::from),
            })
        };
        // The default files are a convenience: a HOME that cannot be used means none.
        let home_file = |name: &str| -> Result<Option<PathBuf>, Error> {
            Ok(env("HOME")
                .ok()
                .flatten()
                .map(|h| Path::new(&h).join(".postgresql").join(name)))
        };
        let explicit_mode = match self.ssl_mode {
            Some(mode) => Some(mode),
            None => match env("PGSSLMODE")? {
                Some(v) => Some(parse_ssl_mode("PGSSLMODE", &v)?),
                None => None,
            },
        };
        let root_cert = match path(&self.ssl_root_cert, "PGSSLROOTCERT")? {
            Some(p) if p.as_os_str() == "system" => RootCert::System,
            Some(p) => RootCert::File(p),
            None => match home_file("root.crt")? {
                Some(p) if path_exists(&p) => RootCert::File(p),
                default => RootCert::None { default },
            },
        };
        let mode = match (explicit_mode, &root_cert) {
            // libpq 16: the system's roots are only worth something with the host name checked.
            (None, RootCert::System) => SslMode::VerifyFull,
            (Some(mode), RootCert::System) if mode != SslMode::VerifyFull => {
                return Err(Error::Config(format!(
                    "sslmode \"{mode}\" may not be used with sslrootcert=system: any certificate \
                     a public CA issued for any name would pass (use sslmode=verify-full, or give \
                     sslrootcert the file of your server's CA)"
                )));
            }
            (mode, _) => mode.unwrap_or_default(),
        };
        let cert = match path(&self.ssl_cert, "PGSSLCERT")? {
            Some(p) => Some(p),
            None => home_file("postgresql.crt")?.filter(|p| path_exists(p)),
        };
        let key = match path(&self.ssl_key, "PGSSLKEY")? {
            Some(p) => Some(p),
            None => home_file("postgresql.key")?,
        };
        let client_cert = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (Some(cert), None) => {
                return Err(Error::Config(format!(
                    "the client certificate {} has no key: set sslkey (or PGSSLKEY) to its \
                     private key file",
                    cert.display()
                )));
            }
            (None, _) => None,
        };
        let sni = match self.ssl_sni {
            Some(sni) => sni,
            None => match env("PGSSLSNI")? {
                Some(v) => parse_flag("PGSSLSNI", &v)?,
                None => true,
            },
        };
        let negotiation = match self.ssl_negotiation {
            Some(n) => n,
            None => match env("PGSSLNEGOTIATION")? {
                Some(v) => parse_ssl_negotiation("PGSSLNEGOTIATION", &v)?,
                None => SslNegotiation::default(),
            },
        };
        if negotiation == SslNegotiation::Direct && mode < SslMode::Require {
            return Err(Error::Config(format!(
                "sslmode \"{mode}\" may not be used with sslnegotiation=direct, which cannot fall \
                 back to a plain connection (use sslmode require, verify-ca or verify-full)"
            )));
        }
        if cfg!(not(feature = "tls")) && mode >= SslMode::Require {
            return Err(Error::Config(format!(
                "sslmode \"{mode}\" needs TLS, and pgtusk was built without its \"tls\" feature \
                 (enable the feature, or use sslmode disable, allow or prefer)"
            )));
        }
        Ok(TlsSettings {
            mode,
            root_cert,
            client_cert,
            sni,
            negotiation,
        })
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
    /// Per statement; `None` is no limit.
    pub command_timeout: Option<Duration>,
    /// `tls.mode`, at hand.
    pub ssl_mode: SslMode,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub tls: TlsSettings,
    pub channel_binding: ChannelBinding,
    pub target_session_attrs: TargetSessionAttrs,
    pub load_balance_hosts: LoadBalanceHosts,
    pub statement_cache_size: usize,
    pub max_cacheable_statement_size: usize,
    pub max_message_size: usize,
    pub slow_query_threshold: Option<Duration>,
    pub hooks: super::Hooks,
}

/// What TLS needs, after the options, the environment and the default files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub mode: SslMode,
    pub root_cert: RootCert,
    /// The client certificate file and its key file.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Send SNI (host names only).
    pub sni: bool,
    pub negotiation: SslNegotiation,
}

/// The CA certificates the server's certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootCert {
    /// None given and `~/.postgresql/root.crt` absent (`default`: that path, for messages).
    None { default: Option<PathBuf> },
    /// A PEM file.
    File(PathBuf),
    /// The platform's trusted roots.
    System,
}

/// One place to try.
#[derive(Clone)]
pub(crate) struct Target {
    pub host: Host,
    pub port: u16,
    /// The explicit password, else the `.pgpass` match for (host, port, dbname, user).
    pub password: Option<String>,
    /// The name the server's certificate must be issued for (and SNI), for TCP targets.
    pub tls_name: Option<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| Redacted))
            .field("tls_name", &self.tls_name)
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::tests::config_msg;

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
    fn tls_settings_from_options_env_and_default_files() {
        let r = resolve(&ConnectOptions::new(), &[("HOME", "/h")]).unwrap();
        assert_eq!(r.tls.mode, SslMode::Prefer);
        assert_eq!(
            r.tls.root_cert,
            RootCert::None {
                default: Some("/h/.postgresql/root.crt".into())
            }
        );
        assert_eq!(r.tls.client_cert, None);
        assert!(r.tls.sni);
        assert_eq!(r.tls.negotiation, SslNegotiation::Postgres);
        assert_eq!(r.channel_binding, ChannelBinding::Prefer);
        assert_eq!(r.target_session_attrs, TargetSessionAttrs::Any);
        assert_eq!(r.load_balance_hosts, LoadBalanceHosts::Disable);

        // The default files count when they exist, as libpq.
        let r = ConnectOptions::new()
            .resolve_inner(&env_of(&[("HOME", "/h")]), &|_| true)
            .unwrap();
        assert_eq!(
            r.tls.root_cert,
            RootCert::File("/h/.postgresql/root.crt".into())
        );
        assert_eq!(
            r.tls.client_cert,
            Some((
                "/h/.postgresql/postgresql.crt".into(),
                "/h/.postgresql/postgresql.key".into()
            ))
        );

        let env = [
            ("PGSSLMODE", "verify-ca"),
            ("PGSSLROOTCERT", "/ca.pem"),
            ("PGSSLCERT", "/c.pem"),
            ("PGSSLKEY", "/k.pem"),
            ("PGSSLSNI", "0"),
            ("PGSSLNEGOTIATION", "direct"),
            ("PGCHANNELBINDING", "require"),
            ("PGTARGETSESSIONATTRS", "standby"),
            ("PGLOADBALANCEHOSTS", "random"),
        ];
        let r = resolve(&ConnectOptions::new(), &env).unwrap();
        assert_eq!(r.tls.mode, SslMode::VerifyCa);
        assert_eq!(r.tls.root_cert, RootCert::File("/ca.pem".into()));
        assert_eq!(r.tls.client_cert, Some(("/c.pem".into(), "/k.pem".into())));
        assert!(!r.tls.sni);
        assert_eq!(r.tls.negotiation, SslNegotiation::Direct);
        assert_eq!(r.channel_binding, ChannelBinding::Require);
        assert_eq!(r.target_session_attrs, TargetSessionAttrs::Standby);
        assert_eq!(r.load_balance_hosts, LoadBalanceHosts::Random);

        // The DSN beats the environment.
        let opts: ConnectOptions = "sslmode=require sslrootcert=/other.pem sslsni=1 \
            sslnegotiation=postgres channel_binding=disable target_session_attrs=primary \
            load_balance_hosts=disable"
            .parse()
            .unwrap();
        let r = resolve(&opts, &env).unwrap();
        assert_eq!(r.tls.mode, SslMode::Require);
        assert_eq!(r.tls.root_cert, RootCert::File("/other.pem".into()));
        assert!(r.tls.sni);
        assert_eq!(r.tls.negotiation, SslNegotiation::Postgres);
        assert_eq!(r.channel_binding, ChannelBinding::Disable);
        assert_eq!(r.target_session_attrs, TargetSessionAttrs::Primary);
        assert_eq!(r.load_balance_hosts, LoadBalanceHosts::Disable);
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
    fn tls_combinations_libpq_refuses() {
        // sslrootcert=system means verify-full, and refuses weaker modes.
        let r = resolve(&"sslrootcert=system".parse().unwrap(), &[]).unwrap();
        assert_eq!(r.tls.mode, SslMode::VerifyFull);
        assert_eq!(r.tls.root_cert, RootCert::System);
        let err = config_msg(
            resolve(
                &"sslrootcert=system sslmode=verify-ca".parse().unwrap(),
                &[],
            )
            .unwrap_err(),
        );
        assert!(
            err.contains("sslmode \"verify-ca\" may not be used with sslrootcert=system"),
            "{err}"
        );
        assert!(err.contains("use sslmode=verify-full"), "{err}");
        // direct negotiation cannot fall back to plain.
        for mode in ["disable", "allow", "prefer"] {
            let opts: ConnectOptions = format!("sslnegotiation=direct sslmode={mode}")
                .parse()
                .unwrap();
            let err = config_msg(resolve(&opts, &[]).unwrap_err());
            assert!(err.contains("sslnegotiation=direct"), "{err}");
            assert!(err.contains("require, verify-ca or verify-full"), "{err}");
        }
        let err = config_msg(
            resolve(
                &"sslmode=disable channel_binding=require".parse().unwrap(),
                &[],
            )
            .unwrap_err(),
        );
        assert!(
            err.contains("channel_binding \"require\" needs TLS"),
            "{err}"
        );
        let err = config_msg(resolve(&"sslcert=/c.pem".parse().unwrap(), &[]).unwrap_err());
        assert!(err.contains("/c.pem has no key: set sslkey"), "{err}");
        let err = config_msg(resolve(&ConnectOptions::new(), &[("PGSSLSNI", "yes")]).unwrap_err());
        assert!(err.contains("\"PGSSLSNI\""), "{err}");
    }

    #[test]
    fn tls_names_are_the_host_names() {
        let names = |dsn: &str| -> Vec<Option<String>> {
            let opts: ConnectOptions = dsn.parse().unwrap();
            resolve(&opts, &[])
                .unwrap()
                .targets
                .into_iter()
                .map(|t| t.tls_name)
                .collect()
        };
        assert_eq!(
            names("host=db.example,/tmp,10.0.0.1"),
            [
                Some("db.example".to_owned()),
                None,
                Some("10.0.0.1".to_owned())
            ]
        );
        assert_eq!(
            names("host=db.example hostaddr=10.0.0.5"),
            [Some("db.example".to_owned())],
            "the certificate is checked against host, not the address dialled"
        );
        assert_eq!(names("hostaddr=10.0.0.5"), [Some("10.0.0.5".to_owned())]);
        assert_eq!(names(""), [Some("localhost".to_owned())]);
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
            tls_name: None,
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
