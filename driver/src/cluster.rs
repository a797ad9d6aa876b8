//! Throwaway PostgreSQL servers for tests and examples (feature `cluster`).
//!
//! [`TempCluster`] runs `initdb` into a fresh temporary directory and starts
//! `postgres` on a free `127.0.0.1` port, with its unix socket in that same
//! directory. It stops the server and removes the directory when dropped —
//! also while a panicking test unwinds — and a watchdog process does the same
//! if the owning process exits or dies without dropping it (the
//! [`TempCluster::shared`] cluster is never dropped, so it always ends that
//! way). Durability is switched off (`fsync`, `synchronous_commit`,
//! `full_page_writes`): the data is thrown away anyway.
//!
//! The server binaries are found in this order: the builder's
//! [`bin_dir`](TempClusterBuilder::bin_dir); the `PGTUSK_PG_BINDIR`
//! environment variable; `pg_config --bindir`; `initdb` on `PATH`; the
//! newest `/usr/lib/postgresql/*/bin`. PostgreSQL 10 or newer is required.
//!
//! PostgreSQL refuses to run as root. When this process is root, the
//! directory belongs to the `postgres` system user and the server runs as
//! that user; nothing else changes.
//!
//! With [`TempClusterBuilder::tls`] the server serves TLS with certificates made at start
//! (rcgen: a CA, the server's certificate, client certificates on request; none are
//! committed anywhere), and [`TempCluster::start_standby`] makes a streaming standby of a
//! cluster as a second real server.
//!
//! Errors are plain [`std::io::Error`]s whose message says what failed, the
//! command that was run and, for a server that did not come up, the tail of
//! its log.

mod find;
mod tls;
mod watchdog;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use tempfile::TempDir;

use self::watchdog::Watchdog;

pub use self::find::BINDIR_ENV;
pub use self::tls::{CertificateAuthority, ClusterTls};

/// The superuser `initdb` creates; every DSN connects as this user.
const SUPERUSER: &str = "postgres";
/// The address the server listens on.
const HOST: &str = "127.0.0.1";
/// How many fresh ports to try when the one picked was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;
/// Default bound on waiting for the server to accept connections.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of server log an error carries.
const LOG_LINES_IN_ERRORS: usize = 30;
/// Longest unix socket path the kernel accepts (`sun_path` is 108 bytes).
const MAX_SOCKET_PATH: usize = 107;

/// How clients authenticate, over TCP and over the unix socket alike.
///
/// The password (for the variants that carry one) is the superuser's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClusterAuth {
    /// No password: `trust` in `pg_hba.conf`.
    #[default]
    Trust,
    /// Cleartext password (`password` in `pg_hba.conf`); stored as a
    /// SCRAM-SHA-256 verifier.
    Password(String),
    /// MD5 challenge (`md5` in `pg_hba.conf`); stored as an MD5 hash, and
    /// `password_encryption` is `md5` so roles created later are too.
    Md5(String),
    /// SCRAM-SHA-256 (`scram-sha-256` in `pg_hba.conf` and
    /// `password_encryption`).
    ScramSha256(String),
}

impl ClusterAuth {
    /// The superuser's password, if this method has one.
    pub fn password(&self) -> Option<&str> {
        match self {
            ClusterAuth::Trust => None,
            ClusterAuth::Password(p) | ClusterAuth::Md5(p) | ClusterAuth::ScramSha256(p) => Some(p),
        }
    }

    /// The method's name in `pg_hba.conf`.
    pub fn hba_method(&self) -> &'static str {
        match self {
            ClusterAuth::Trust => "trust",
            ClusterAuth::Password(_) => "password",
            ClusterAuth::Md5(_) => "md5",
            ClusterAuth::ScramSha256(_) => "scram-sha-256",
        }
    }

    /// The `password_encryption` setting this method runs with.
    fn password_encryption(&self) -> Option<&'static str> {
        match self {
            ClusterAuth::Trust => None,
            ClusterAuth::Md5(_) => Some("md5"),
            ClusterAuth::Password(_) | ClusterAuth::ScramSha256(_) => Some("scram-sha-256"),
        }
    }

    /// What `initdb --pwfile` gets: the password itself, or for MD5 the
    /// already-hashed form, which PostgreSQL stores as it is.
    fn pwfile_contents(&self) -> Option<String> {
        match self {
            ClusterAuth::Trust => None,
            ClusterAuth::Md5(p) => Some(md5_password_hash(p, SUPERUSER)),
            ClusterAuth::Password(p) | ClusterAuth::ScramSha256(p) => Some(p.clone()),
        }
    }
}

/// Options for a [`TempCluster`]; made by [`TempCluster::builder`].
#[derive(Debug, Clone)]
pub struct TempClusterBuilder {
    auth: ClusterAuth,
    settings: Vec<(String, String)>,
    hba_lines: Vec<String>,
    bin_dir: Option<PathBuf>,
    start_timeout: Duration,
    tls: Option<ClusterTls>,
}

impl Default for TempClusterBuilder {
    fn default() -> Self {
        TempClusterBuilder {
            auth: ClusterAuth::Trust,
            settings: Vec::new(),
            hba_lines: Vec::new(),
            bin_dir: None,
            start_timeout: DEFAULT_START_TIMEOUT,
            tls: None,
        }
    }
}

impl TempClusterBuilder {
    /// How clients authenticate (TCP and unix socket). Default: trust.
    pub fn auth(mut self, auth: ClusterAuth) -> Self {
        self.auth = auth;
        self
    }

    /// A server setting, passed as `-c name=value`; later calls win.
    ///
    /// `port`, `listen_addresses` and `unix_socket_directories` are the
    /// cluster's own; overriding them breaks [`TempCluster::dsn`].
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// An extra `pg_hba.conf` line, e.g. `"host all all 127.0.0.1/32 reject"`.
    ///
    /// Extra lines come before the generated ones, so they take precedence.
    pub fn hba_line(mut self, line: impl Into<String>) -> Self {
        self.hba_lines.push(line.into());
        self
    }

    /// Use the server binaries in `dir` instead of looking for them.
    ///
    /// `dir` must hold `initdb`, `postgres` and `pg_ctl`; there is no fallback.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Serve TLS (`ssl=on`) with a certificate signed by a CA made for this cluster (see
    /// [`TempCluster::ca_cert_path`]); the same CA checks client certificates
    /// ([`TempCluster::client_cert`]). Plain connections stay allowed unless an
    /// [`hba_line`](Self::hba_line) says otherwise (`hostnossl ... reject`).
    pub fn tls(mut self, tls: ClusterTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Bound on waiting for the server to accept connections. Default: 60 s.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Runs `initdb`, starts the server and waits until it is ready.
    ///
    /// On any failure everything created so far is removed again.
    pub fn start(self) -> io::Result<TempCluster> {
        let bin_dir = find::bin_dir(self.bin_dir.as_deref())?;
        let run_as = if find::is_root() {
            Some(find::postgres_user_ids()?)
        } else {
            None
        };

        let dir = make_temp_dir()?;
        let root = dir.path().to_path_buf();
        if let Some((uid, gid)) = run_as {
            chown(&root, uid, gid)?;
        }
        let data_dir = root.join("data");
        let watchdog = Watchdog::spawn(&root, &data_dir, &bin_dir.join("pg_ctl"), run_as)?;

        // From here on, dropping `cluster` (an early `?`) cleans up.
        let mut cluster = TempCluster {
            log_path: root.join("server.log"),
            socket_dir: root.clone(),
            data_dir,
            root,
            dir: Some(dir),
            watchdog: Some(watchdog),
            postmaster: None,
            bin_dir,
            run_as,
            port: 0,
            auth: self.auth,
            major_version: 0,
            settings: self.settings,
            start_timeout: self.start_timeout,
            tls: None,
        };
        cluster.initdb(&self.hba_lines)?;
        if let Some(tls) = &self.tls {
            cluster.make_certificates(tls)?;
        }
        cluster.launch(None)?;
        Ok(cluster)
    }
}

/// A throwaway PostgreSQL server in a temporary directory.
///
/// Started by [`TempCluster::start`] (trust auth, defaults) or
/// [`TempCluster::builder`]; stopped and removed by [`TempCluster::stop`] or
/// on Drop. Tests that need nothing special share one per process:
/// [`TempCluster::shared`].
///
/// ```no_run
/// use pgtusk::cluster::{ClusterAuth, TempCluster};
///
/// # fn main() -> std::io::Result<()> {
/// let cluster = TempCluster::builder()
///     .auth(ClusterAuth::ScramSha256("secret".into()))
///     .setting("work_mem", "16MB")
///     .start()?;
/// assert_eq!(cluster.psql("SHOW work_mem")?, "16MB");
/// println!("connect to {}", cluster.dsn()); // postgres://postgres:secret@127.0.0.1:PORT/postgres
/// cluster.stop()?; // or let it drop
/// # Ok(())
/// # }
/// ```
pub struct TempCluster {
    /// `None` once removed.
    dir: Option<TempDir>,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    bin_dir: PathBuf,
    /// `(uid, gid)` the server runs as, when this process is root.
    run_as: Option<(u32, u32)>,
    /// The `postgres` process; `None` before start and after stop.
    postmaster: Option<Child>,
    /// `None` once dismissed.
    watchdog: Option<Watchdog>,
    port: u16,
    auth: ClusterAuth,
    major_version: u32,
    /// The builder's `-c` settings, for a restart.
    settings: Vec<(String, String)>,
    start_timeout: Duration,
    /// The CA and its directory when TLS is on.
    tls: Option<ServerTls>,
}

/// A cluster's TLS files: `ca.crt`, `server.crt`, `server.key` in `dir`.
struct ServerTls {
    ca: CertificateAuthority,
    dir: PathBuf,
}

impl fmt::Debug for TempCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempCluster")
            .field("host", &HOST)
            .field("port", &self.port)
            .field("auth", &self.auth.hba_method())
            .field("data_dir", &self.data_dir)
            .field("bin_dir", &self.bin_dir)
            .field("pid", &self.postmaster.as_ref().map(Child::id))
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl TempCluster {
    /// Starts a cluster with trust auth and default settings.
    pub fn start() -> io::Result<TempCluster> {
        TempCluster::builder().start()
    }

    /// Options for a cluster: auth, settings, pg_hba lines, bin dir.
    pub fn builder() -> TempClusterBuilder {
        TempClusterBuilder::default()
    }

    /// The process-wide cluster (trust auth, defaults), started on first use.
    ///
    /// It is never dropped: its watchdog stops it and removes its directory
    /// when the process exits. A failure to start is remembered and returned
    /// again on every call.
    pub fn shared() -> io::Result<&'static TempCluster> {
        static SHARED: OnceLock<Result<TempCluster, (io::ErrorKind, String)>> = OnceLock::new();
        match SHARED.get_or_init(|| TempCluster::start().map_err(|e| (e.kind(), e.to_string()))) {
            Ok(cluster) => Ok(cluster),
            Err((kind, msg)) => Err(io::Error::new(*kind, format!("shared cluster: {msg}"))),
        }
    }

    /// URL DSN over TCP: `postgres://postgres[:password]@127.0.0.1:PORT/postgres`
    /// (the password percent-encoded).
    pub fn dsn(&self) -> String {
        let password = match self.password() {
            Some(p) => format!(":{}", percent_encode(p)),
            None => String::new(),
        };
        format!(
            "postgres://{SUPERUSER}{password}@{HOST}:{}/postgres",
            self.port
        )
    }

    /// libpq `key=value` DSN over the unix socket:
    /// `host=SOCKET_DIR port=PORT user=postgres dbname=postgres [password=...]`.
    pub fn socket_dsn(&self) -> String {
        let mut dsn = format!(
            "host={} port={} user={SUPERUSER} dbname=postgres",
            conninfo_value(&self.socket_dir.to_string_lossy()),
            self.port
        );
        if let Some(p) = self.password() {
            dsn.push_str(" password=");
            dsn.push_str(&conninfo_value(p));
        }
        dsn
    }

    /// The TCP host: `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port; the unix socket is `.s.PGSQL.<port>` in [`socket_dir`](Self::socket_dir).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The data directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory of the server binaries in use.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The superuser every DSN connects as: `postgres`.
    pub fn user(&self) -> &str {
        SUPERUSER
    }

    /// The superuser's password, `None` with trust auth.
    pub fn password(&self) -> Option<&str> {
        self.auth.password()
    }

    /// The auth method the cluster was started with.
    pub fn auth(&self) -> &ClusterAuth {
        &self.auth
    }

    /// The server's major version (15 for PostgreSQL 15.4), from `PG_VERSION`.
    pub fn server_version(&self) -> u32 {
        self.major_version
    }

    /// The CA certificate (PEM) that signed the server's certificate, when the cluster
    /// serves TLS: what `sslrootcert` names.
    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|tls| tls.dir.join("ca.crt"))
    }

    /// The cluster's CA, when it serves TLS: it can issue more certificates.
    pub fn certificate_authority(&self) -> Option<&CertificateAuthority> {
        self.tls.as_ref().map(|tls| &tls.ca)
    }

    /// Issues a client certificate for the role `user`, signed by the cluster's CA (which
    /// the server trusts as `ssl_ca_file`), and returns the certificate and key files
    /// (`sslcert`, `sslkey`; the key has mode 0600). An error when TLS is off.
    pub fn client_cert(&self, user: &str) -> io::Result<(PathBuf, PathBuf)> {
        let tls = self.tls.as_ref().ok_or_else(|| {
            io::Error::other(
                "client_cert: this cluster does not serve TLS (use the builder's tls())",
            )
        })?;
        let stem: String = user
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        tls.ca
            .write_client_cert(&tls.dir, &format!("client-{stem}"), user)
    }

    /// The server log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the server log (a note if it cannot be read).
    pub fn log_tail(&self, lines: usize) -> String {
        match fs::read(&self.log_path) {
            Ok(bytes) => tail(&String::from_utf8_lossy(&bytes), lines),
            Err(e) => format!("(could not read {}: {e})", self.log_path.display()),
        }
    }

    /// Runs `sql` with `psql -X -A -t` over TCP and returns its output
    /// without the final newline; the error carries psql's stderr.
    pub fn psql(&self, sql: &str) -> io::Result<String> {
        run_psql(self.psql_command(), sql)
    }

    /// [`psql`](Self::psql) over the unix socket.
    pub fn psql_socket(&self, sql: &str) -> io::Result<String> {
        run_psql(self.psql_socket_command(), sql)
    }

    /// A `psql` command set up for TCP (host, port, user, database, the
    /// password in `PGPASSWORD`, `-X -A -t -q -w -v ON_ERROR_STOP=1`), for
    /// when [`psql`](Self::psql) is not enough: add `-c`, `-f`, other
    /// environment.
    pub fn psql_command(&self) -> Command {
        self.psql_cmd(HOST.as_ref())
    }

    /// [`psql_command`](Self::psql_command) over the unix socket.
    pub fn psql_socket_command(&self) -> Command {
        self.psql_cmd(self.socket_dir.as_os_str())
    }

    /// Stops the server and removes the directory, reporting failures.
    ///
    /// Drop does the same and ignores them. To stop the server but keep the cluster (and
    /// start it again later), use [`stop_server`](Self::stop_server).
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    /// Stops the server (fast shutdown: sessions are ended with FATAL 57P01) and keeps the
    /// data directory, the settings and the port; [`start_server`](Self::start_server) starts
    /// it again. Does nothing when it is not running.
    pub fn stop_server(&mut self) -> io::Result<()> {
        self.stop_postmaster()
    }

    /// Starts the server again after [`stop_server`](Self::stop_server), on the same port
    /// and socket, with the same settings, and waits until it accepts connections. Does
    /// nothing when it runs.
    pub fn start_server(&mut self) -> io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.launch(Some(self.port))
    }

    /// [`stop_server`](Self::stop_server) then [`start_server`](Self::start_server): every
    /// session ends, and clients can connect again to the same DSN.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop_server()?;
        self.start_server()
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.postmaster
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    fn psql_cmd(&self, host: &std::ffi::OsStr) -> Command {
        let psql = self.bin_dir.join("psql");
        let mut cmd = Command::new(if psql.is_file() {
            psql
        } else {
            PathBuf::from("psql")
        });
        for var in LIBPQ_ENV {
            cmd.env_remove(var);
        }
        cmd.args(["-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(host)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", SUPERUSER, "-d", "postgres"])
            .env("PGCONNECT_TIMEOUT", "10")
            .env("PGGSSENCMODE", "disable")
            .stdin(Stdio::null());
        if let Some(p) = self.password() {
            cmd.env("PGPASSWORD", p);
        }
        cmd
    }

    /// A command for one of the server binaries, run as the cluster's user.
    fn server_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.current_dir(&self.root)
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Creates the data directory and writes `pg_hba.conf`.
    fn initdb(&mut self, extra_hba: &[String]) -> io::Result<()> {
        let mut cmd = self.server_command("initdb");
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
            "-A",
            "trust",
        ]);
        let pwfile = self.root.join("pwfile");
        if let Some(contents) = self.auth.pwfile_contents() {
            self.write_owned(&pwfile, &format!("{contents}\n"))?;
            cmd.arg("--pwfile").arg(&pwfile);
        }
        let out = run(&mut cmd);
        let _ = fs::remove_file(&pwfile);
        check_output(&cmd, out?)?;

        let version = fs::read_to_string(self.data_dir.join("PG_VERSION"))?;
        self.major_version = version
            .trim()
            .split('.')
            .next()
            .and_then(|major| major.parse().ok())
            .unwrap_or(0);

        let method = self.auth.hba_method();
        let mut hba = String::from("# Written by pgtusk's TempCluster. Extra lines first.\n");
        for line in extra_hba {
            hba.push_str(line);
            hba.push('\n');
        }
        for line in [
            "local all all",
            "host all all 127.0.0.1/32",
            "host all all ::1/128",
            "local replication all",
            "host replication all 127.0.0.1/32",
            "host replication all ::1/128",
        ] {
            hba.push_str(&format!("{line} {method}\n"));
        }
        self.write_owned(&self.data_dir.join("pg_hba.conf"), &hba)
    }

    /// Makes a streaming-replication standby of this cluster and starts it: a second real
    /// server, in its own temporary directory, on its own free port, with the same auth and
    /// settings (TLS included, with the same certificate). `pg_basebackup -R` copies the data
    /// directory and writes the `primary_conninfo` that keeps it following this server; it is
    /// a hot standby, so it accepts read-only connections (`pg_is_in_recovery()` is true,
    /// `in_hot_standby` is on). Dropping it stops and removes it; stopping this cluster
    /// leaves it running (it keeps trying to reconnect).
    ///
    /// ```no_run
    /// use pgtusk::cluster::TempCluster;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let primary = TempCluster::start()?;
    /// let standby = primary.start_standby()?;
    /// assert_eq!(standby.psql("SELECT pg_is_in_recovery()")?, "t");
    /// let dsn = format!(
    ///     "host=127.0.0.1,127.0.0.1 port={},{} user=postgres target_session_attrs=read-write",
    ///     standby.port(),
    ///     primary.port()
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn start_standby(&self) -> io::Result<TempCluster> {
        let dir = make_temp_dir()?;
        let root = dir.path().to_path_buf();
        if let Some((uid, gid)) = self.run_as {
            chown(&root, uid, gid)?;
        }
        let data_dir = root.join("data");
        let watchdog =
            Watchdog::spawn(&root, &data_dir, &self.bin_dir.join("pg_ctl"), self.run_as)?;
        let mut standby = TempCluster {
            log_path: root.join("server.log"),
            socket_dir: root.clone(),
            data_dir,
            root,
            dir: Some(dir),
            watchdog: Some(watchdog),
            postmaster: None,
            bin_dir: self.bin_dir.clone(),
            run_as: self.run_as,
            port: 0,
            auth: self.auth.clone(),
            major_version: self.major_version,
            settings: self.settings.clone(),
            start_timeout: self.start_timeout,
            tls: None,
        };
        let mut cmd = standby.server_command("pg_basebackup");
        for var in LIBPQ_ENV {
            cmd.env_remove(var);
        }
        cmd.arg("-D")
            .arg(&standby.data_dir)
            .args(["-R", "-X", "stream", "-c", "fast", "-w", "-h", HOST, "-p"])
            .arg(self.port.to_string())
            .args(["-U", SUPERUSER]);
        if let Some(p) = self.password() {
            cmd.env("PGPASSWORD", p);
        }
        let out = run(&mut cmd)?;
        check_output(&cmd, out)?;
        standby.launch(None)?;
        Ok(standby)
    }

    /// Makes the CA and the server's certificate, in `tls/` beside the data directory.
    fn make_certificates(&mut self, settings: &ClusterTls) -> io::Result<()> {
        let dir = self.root.join("tls");
        fs::create_dir(&dir)
            .map_err(|e| annotate(e, &format!("could not create {}", dir.display())))?;
        if let Some((uid, gid)) = self.run_as {
            chown(&dir, uid, gid)?;
        }
        let ca = CertificateAuthority::new("pgtusk TempCluster CA")?;
        let (cert, key) = ca.issue(
            "pgtusk TempCluster server",
            &settings.names,
            settings.expired,
        )?;
        self.write_owned(&dir.join("ca.crt"), &ca.cert_pem())?;
        self.write_owned(&dir.join("server.crt"), &cert)?;
        self.write_owned(&dir.join("server.key"), &key)?;
        let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
        self.settings.splice(
            0..0,
            [
                ("ssl".to_owned(), "on".to_owned()),
                ("ssl_cert_file".to_owned(), file("server.crt")),
                ("ssl_key_file".to_owned(), file("server.key")),
                ("ssl_ca_file".to_owned(), file("ca.crt")),
            ],
        );
        self.tls = Some(ServerTls { ca, dir });
        Ok(())
    }

    /// Starts `postgres` on `port`, or on a free port, retrying when the port was taken
    /// meanwhile.
    fn launch(&mut self, port: Option<u16>) -> io::Result<()> {
        let timeout = self.start_timeout;
        let deadline = Instant::now() + timeout;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| annotate(e, &format!("could not create {}", self.log_path.display())))?;
        if let Some((uid, gid)) = self.run_as {
            chown(&self.log_path, uid, gid)?;
        }

        let mut attempt = 0;
        loop {
            attempt += 1;
            let fixed = port.is_some();
            let port = match port {
                Some(port) => port,
                None => free_port()?,
            };
            let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
            let mut cmd = self.postgres_command(port, &self.settings);
            cmd.stdout(log.try_clone()?).stderr(log.try_clone()?);
            // Its own process group, as pg_ctl would do: a Ctrl-C meant for
            // the test run reaches the watchdog's cleanup, not a half-way stop.
            cmd.process_group(0);
            let child = cmd
                .spawn()
                .map_err(|e| annotate(e, &format!("could not run `{}`", describe(&cmd))))?;
            self.port = port;
            self.postmaster = Some(child);

            match self.wait_ready(deadline) {
                Ok(()) => return Ok(()),
                Err(Startup::Exited(status)) => {
                    self.postmaster = None;
                    let log_now = read_from(&self.log_path, log_start);
                    if !fixed && attempt < PORT_ATTEMPTS && port_taken(&log_now) {
                        continue;
                    }
                    return Err(io::Error::other(format!(
                        "postgres exited during startup ({status}); command: `{}`; server log:\n{}",
                        describe(&cmd),
                        self.log_tail(LOG_LINES_IN_ERRORS)
                    )));
                }
                Err(Startup::TimedOut) => {
                    let _ = self.stop_postmaster();
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "postgres did not accept connections within {timeout:?}; \
                             command: `{}`; server log:\n{}",
                            describe(&cmd),
                            self.log_tail(LOG_LINES_IN_ERRORS)
                        ),
                    ));
                }
                Err(Startup::Io(e)) => {
                    let _ = self.stop_postmaster();
                    return Err(annotate(e, "waiting for postgres to start"));
                }
            }
        }
    }

    fn postgres_command(&self, port: u16, settings: &[(String, String)]) -> Command {
        let mut cmd = self.server_command("postgres");
        cmd.arg("-D").arg(&self.data_dir);
        let mut set = |name: &str, value: &str| {
            cmd.arg("-c").arg(format!("{name}={value}"));
        };
        set("port", &port.to_string());
        set("listen_addresses", HOST);
        set(
            "unix_socket_directories",
            &self.socket_dir.to_string_lossy(),
        );
        set("fsync", "off");
        set("synchronous_commit", "off");
        set("full_page_writes", "off");
        if let Some(encryption) = self.auth.password_encryption() {
            set("password_encryption", encryption);
        }
        for (name, value) in settings {
            set(name, value);
        }
        cmd
    }

    /// Polls until `postmaster.pid` says "ready", the server exits or the
    /// deadline passes (PostgreSQL 10+ writes the status line; pg_ctl -w
    /// waits on the same line).
    fn wait_ready(&mut self, deadline: Instant) -> Result<(), Startup> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let Some(child) = self.postmaster.as_mut() else {
            return Err(Startup::Io(io::Error::other("no postgres process")));
        };
        let pid = child.id().to_string();
        loop {
            if let Some(status) = child.try_wait().map_err(Startup::Io)? {
                return Err(Startup::Exited(status));
            }
            if let Ok(contents) = fs::read_to_string(&pid_file) {
                let lines: Vec<&str> = contents.lines().map(str::trim).collect();
                // A hot standby says "standby" once it accepts read-only connections.
                if lines.first() == Some(&pid.as_str())
                    && matches!(lines.get(7), Some(&"ready") | Some(&"standby"))
                {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(Startup::TimedOut);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the server if it runs: fast shutdown, then immediate, then
    /// SIGKILL; always reaps the process.
    fn stop_postmaster(&mut self) -> io::Result<()> {
        let Some(mut child) = self.postmaster.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        let mut problems = Vec::new();
        for (mode, wait) in [("fast", "30"), ("immediate", "10")] {
            let mut cmd = self.server_command("pg_ctl");
            cmd.arg("-D")
                .arg(&self.data_dir)
                .args(["stop", "-m", mode, "-w", "-t", wait]);
            match run(&mut cmd).and_then(|out| check_output(&cmd, out)) {
                Ok(_) => {
                    child.wait()?;
                    return if problems.is_empty() {
                        Ok(())
                    } else {
                        Err(io::Error::other(problems.join("; ")))
                    };
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        // pg_ctl could not stop it: kill the postmaster; its children notice
        // the postmaster's death and exit on their own.
        let _ = child.kill();
        child.wait()?;
        problems.push("killed the postmaster with SIGKILL".to_owned());
        Err(io::Error::other(format!(
            "could not stop the server cleanly: {}",
            problems.join("; ")
        )))
    }

    /// Stops the server, removes the directory, dismisses the watchdog.
    fn shutdown(&mut self) -> io::Result<()> {
        let stopped = self.stop_postmaster();
        let removed = match self.dir.take() {
            Some(dir) => dir
                .close()
                .map_err(|e| annotate(e, &format!("could not remove {}", self.root.display()))),
            None => Ok(()),
        };
        // Only now: until the directory is gone, the watchdog stays armed.
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.dismiss();
        }
        stopped.and(removed)
    }

    /// Writes a file the server's user can read (mode 0600, chowned when root).
    fn write_owned(&self, path: &Path, contents: &str) -> io::Result<()> {
        let write = || -> io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)?;
            file.write_all(contents.as_bytes())?;
            if let Some((uid, gid)) = self.run_as {
                chown(path, uid, gid)?;
            }
            Ok(())
        };
        write().map_err(|e| annotate(e, &format!("could not write {}", path.display())))
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Why a start attempt did not reach "ready".
enum Startup {
    Exited(ExitStatus),
    TimedOut,
    Io(io::Error),
}

/// libpq environment variables that would change where or how psql connects.
const LIBPQ_ENV: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGTARGETSESSIONATTRS",
    "PGCHANNELBINDING",
    "PGREQUIREAUTH",
];

/// A fresh directory for the cluster, short enough for the socket path.
fn make_temp_dir() -> io::Result<TempDir> {
    // Room for "/pgtusk-XXXXXX/.s.PGSQL.65535.lock".
    const SUFFIX: usize = 40;
    let tmp = std::env::temp_dir();
    // As root the server's user must be able to reach the directory; /tmp is
    // world-traversable, a private TMPDIR may not be.
    let base = if find::is_root() || tmp.as_os_str().len() + SUFFIX > MAX_SOCKET_PATH {
        PathBuf::from("/tmp")
    } else {
        tmp
    };
    tempfile::Builder::new()
        .prefix("pgtusk-")
        .tempdir_in(&base)
        .map_err(|e| {
            annotate(
                e,
                &format!(
                    "could not create a temporary directory in {}",
                    base.display()
                ),
            )
        })
}

fn chown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
        annotate(
            e,
            &format!("could not give {} to uid {uid}/gid {gid}", path.display()),
        )
    })
}

/// A port that was free a moment ago.
fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((HOST, 0))
        .map_err(|e| annotate(e, "could not find a free port on 127.0.0.1"))?;
    Ok(listener.local_addr()?.port())
}

/// Whether a server log says the TCP port was in use.
fn port_taken(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not create any TCP/IP sockets")
}

/// The part of a file after `offset` (empty if unreadable).
fn read_from(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let mut bytes = Vec::new();
            let _ = file.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    text
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn run(cmd: &mut Command) -> io::Result<Output> {
    cmd.output()
        .map_err(|e| annotate(e, &format!("could not run `{}`", describe(cmd))))
}

/// `Ok(output)` if the command succeeded, else an error with its output.
fn check_output(cmd: &Command, out: Output) -> io::Result<Output> {
    if out.status.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    Err(io::Error::other(format!(
        "`{}` failed ({}):\n{}",
        describe(cmd),
        out.status,
        tail(&format!("{stdout}{stderr}"), LOG_LINES_IN_ERRORS).trim_end()
    )))
}

fn run_psql(mut cmd: Command, sql: &str) -> io::Result<String> {
    cmd.arg("-c").arg(sql);
    let out = run(&mut cmd)?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`{}` failed ({}): {}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        )));
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    if text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

/// The command line, for error messages (passwords never go on it).
fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        line.push(' ');
        if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
            line.push('\'');
            line.push_str(&arg.replace('\'', r"'\''"));
            line.push('\'');
        } else {
            line.push_str(&arg);
        }
    }
    line
}

fn annotate(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A libpq conninfo value: quoted when empty or holding spaces, quotes or
/// backslashes.
fn conninfo_value(s: &str) -> String {
    if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        return s.to_owned();
    }
    let mut out = String::from("'");
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// PostgreSQL's stored MD5 form: `"md5" + hex(md5(password + user))`.
fn md5_password_hash(password: &str, user: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(password.as_bytes());
    hasher.update(user.as_bytes());
    let digest = hasher.finalize();
    let mut out = String::from("md5");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(percent_encode("abc-._~XYZ09"), "abc-._~XYZ09");
        assert_eq!(percent_encode("p@ss w:rd/é"), "p%40ss%20w%3Ard%2F%C3%A9");
    }

    #[test]
    fn conninfo_values_are_quoted_when_needed() {
        assert_eq!(conninfo_value("/tmp/pgtusk-x"), "/tmp/pgtusk-x");
        assert_eq!(conninfo_value(""), "''");
        assert_eq!(conninfo_value(r"it's a\b"), r"'it\'s a\\b'");
    }

    #[test]
    fn md5_hash_matches_postgres() {
        // SELECT 'md5' || md5('secret' || 'postgres')
        assert_eq!(
            md5_password_hash("secret", "postgres"),
            "md553f48b7c4b76a86ce72276c5755f217d"
        );
    }

    #[test]
    fn tail_takes_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 3), "");
    }

    #[test]
    fn taken_port_is_recognized_in_the_log() {
        let log = "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n\
                   FATAL:  could not create any TCP/IP sockets";
        assert!(port_taken(log));
        assert!(!port_taken("FATAL:  data directory has wrong ownership"));
    }
}
