//! A throwaway pgbouncer in front of a PostgreSQL server, for tests of what a pooler in the
//! middle does to the protocol (transaction pooling hands each transaction to whichever server
//! connection is free).
//!
//! [`PgBouncer`] is modelled on the driver's `TempCluster`: it finds the `pgbouncer` binary
//! (`PATH`, then `/usr/sbin/pgbouncer`), writes `pgbouncer.ini` and `userlist.txt` into a fresh
//! directory under `/tmp`, starts pgbouncer in the foreground on a free `127.0.0.1` port (no
//! unix socket) with its log in that directory, and waits until it accepts connections. Drop
//! stops it (SIGTERM, then SIGKILL) and removes the directory; a watchdog `sh` process does the
//! same when the test process dies without dropping it. pgbouncer refuses to run as root, so
//! when this process is root the directory belongs to the `postgres` system user and pgbouncer
//! runs as that user.
//!
//! Clients authenticate with `auth_type = trust`; pgbouncer logs in to the server as the given
//! user (with the given password, if any). The admin console (database `pgbouncer`, the same
//! user) answers `SHOW POOLS`, `SHOW SERVERS`, ... through [`PgBouncer::admin`] (psql: the
//! console speaks only the simple query protocol).
//!
//! When pgbouncer is not installed, [`PgBouncerBuilder::start`] fails with
//! [`io::ErrorKind::NotFound`] and a message that says so; [`start_or_skip`] turns that into a
//! skipped test unless the `CI` environment variable is set.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pgtusk::ConnectOptions;

/// Where Debian's package puts the binary (`/usr/sbin` is not on every user's `PATH`).
const DEBIAN_BINARY: &str = "/usr/sbin/pgbouncer";
/// The address pgbouncer listens on.
const HOST: &str = "127.0.0.1";
/// How many fresh ports to try when the one picked was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;
/// Bound on waiting for pgbouncer to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on waiting for pgbouncer to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of pgbouncer's log an error carries.
const LOG_LINES_IN_ERRORS: usize = 30;

/// How pgbouncer hands server connections to clients (`pool_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PoolMode {
    /// A client keeps its server connection until it disconnects.
    Session,
    /// A client holds a server connection only for one transaction; outside a transaction,
    /// one request (up to its Sync) at a time.
    #[default]
    Transaction,
    /// A server connection per statement; multi-statement transactions are refused.
    Statement,
}

impl PoolMode {
    /// The value in `pgbouncer.ini`.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }
}

/// Options for a [`PgBouncer`]; made by [`PgBouncer::builder`] or [`PgBouncer::in_front_of`].
#[derive(Debug, Clone)]
pub struct PgBouncerBuilder {
    server_host: String,
    server_port: u16,
    dbname: String,
    user: String,
    password: Option<String>,
    pool_mode: PoolMode,
    default_pool_size: u32,
    max_client_conn: u32,
}

impl PgBouncerBuilder {
    /// The server's password, used by pgbouncer to log in (clients need none).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// `pool_mode`. Default: [`PoolMode::Transaction`].
    pub fn pool_mode(mut self, mode: PoolMode) -> Self {
        self.pool_mode = mode;
        self
    }

    /// `default_pool_size`: server connections per database and user. Default: 2.
    pub fn default_pool_size(mut self, size: u32) -> Self {
        self.default_pool_size = size;
        self
    }

    /// `max_client_conn`: client connections pgbouncer accepts. Default: 200.
    pub fn max_client_conn(mut self, n: u32) -> Self {
        self.max_client_conn = n;
        self
    }

    /// Writes the configuration, starts pgbouncer and waits until it accepts connections.
    ///
    /// Fails with [`io::ErrorKind::NotFound`] when pgbouncer is not installed (see
    /// [`find_binary`]). On any failure everything created so far is removed again.
    pub fn start(self) -> io::Result<PgBouncer> {
        let binary = find_binary()?;
        for (what, value) in [
            ("server host", self.server_host.as_str()),
            ("database name", &self.dbname),
            ("user", &self.user),
            ("password", self.password.as_deref().unwrap_or("")),
        ] {
            check_ini_value(what, value)?;
        }
        let run_as = if is_root() {
            Some(postgres_user_ids()?)
        } else {
            None
        };
        let dir = make_dir()?;
        let mut bouncer = PgBouncer {
            log_path: dir.join("pgbouncer.log"),
            dir,
            binary,
            run_as,
            options: self,
            port: 0,
            process: None,
            watchdog: None,
        };
        if let Some((uid, gid)) = run_as {
            chown(&bouncer.dir, uid, gid)?;
        }
        bouncer.write_userlist()?;
        bouncer.start_process()?;
        Ok(bouncer)
    }
}

/// A running pgbouncer in a temporary directory; stopped and removed on Drop.
///
/// ```no_run
/// use pgtusk_tests::pgbouncer::{PgBouncer, PoolMode};
///
/// # fn main() -> std::io::Result<()> {
/// let bouncer = PgBouncer::builder("127.0.0.1", 5432, "postgres", "postgres")
///     .pool_mode(PoolMode::Transaction)
///     .default_pool_size(2)
///     .start()?;
/// let options = bouncer.options().statement_cache_size(0);
/// # Ok(()) }
/// ```
pub struct PgBouncer {
    dir: PathBuf,
    log_path: PathBuf,
    binary: PathBuf,
    /// `(uid, gid)` pgbouncer runs as, when this process is root.
    run_as: Option<(u32, u32)>,
    options: PgBouncerBuilder,
    port: u16,
    /// `None` before start and after stop.
    process: Option<Child>,
    /// `None` before start and once dismissed.
    watchdog: Option<Watchdog>,
}

impl fmt::Debug for PgBouncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgBouncer")
            .field("port", &self.port)
            .field("pool_mode", &self.options.pool_mode)
            .field("default_pool_size", &self.options.default_pool_size)
            .field(
                "server",
                &format_args!(
                    "{}:{}/{}",
                    self.options.server_host, self.options.server_port, self.options.dbname
                ),
            )
            .field("dir", &self.dir)
            .field("pid", &self.process.as_ref().map(Child::id))
            .finish()
    }
}

impl PgBouncer {
    /// Options for a pgbouncer in front of `host:port`, serving database `dbname` under the
    /// same name, logging in as `user`.
    pub fn builder(host: &str, port: u16, dbname: &str, user: &str) -> PgBouncerBuilder {
        PgBouncerBuilder {
            server_host: host.to_owned(),
            server_port: port,
            dbname: dbname.to_owned(),
            user: user.to_owned(),
            password: None,
            pool_mode: PoolMode::Transaction,
            default_pool_size: 2,
            max_client_conn: 200,
        }
    }

    /// Options for a pgbouncer in front of the server `server` points at (its first host
    /// and port; user, database and password as libpq would default them).
    pub fn in_front_of(server: &ConnectOptions) -> PgBouncerBuilder {
        let host = server
            .get_hosts()
            .first()
            .cloned()
            .unwrap_or_else(|| HOST.to_owned());
        let port = server
            .get_ports()
            .first()
            .copied()
            .flatten()
            .unwrap_or(5432);
        let user = server.get_user().unwrap_or("postgres");
        let dbname = server.get_dbname().unwrap_or(user);
        let builder = PgBouncer::builder(&host, port, dbname, user);
        match server.get_password() {
            Some(password) => builder.password(password),
            None => builder,
        }
    }

    /// The port pgbouncer listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL DSN through pgbouncer: `postgres://USER@127.0.0.1:PORT/DBNAME` (trust: no
    /// password).
    pub fn dsn(&self) -> String {
        format!(
            "postgres://{}@{HOST}:{}/{}",
            self.options.user, self.port, self.options.dbname
        )
    }

    /// Connect options through pgbouncer, to adjust (`statement_cache_size`, ...) before
    /// connecting.
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions::new()
            .host(HOST)
            .port(self.port)
            .user(self.options.user.as_str())
            .dbname(self.options.dbname.as_str())
    }

    /// The database name clients use (the server's, under the same name).
    pub fn dbname(&self) -> &str {
        &self.options.dbname
    }

    /// The pool mode it runs with.
    pub fn pool_mode(&self) -> PoolMode {
        self.options.pool_mode
    }

    /// The `default_pool_size` it runs with.
    pub fn default_pool_size(&self) -> u32 {
        self.options.default_pool_size
    }

    /// pgbouncer's log file (its stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of pgbouncer's log (a note if it cannot be read).
    pub fn log_tail(&self, lines: usize) -> String {
        match fs::read(&self.log_path) {
            Ok(bytes) => tail(&String::from_utf8_lossy(&bytes), lines),
            Err(e) => format!("(could not read {}: {e})", self.log_path.display()),
        }
    }

    /// Runs `command` (`SHOW POOLS`, `SHOW SERVERS`, ...) on the admin console with `psql`
    /// and returns its rows as (column, value) pairs in the console's column order.
    pub fn admin(&self, command: &str) -> io::Result<Vec<Vec<(String, String)>>> {
        let psql = find_psql()?;
        let mut cmd = Command::new(&psql);
        for var in [
            "PGHOST",
            "PGHOSTADDR",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGPASSWORD",
            "PGSERVICE",
            "PGOPTIONS",
            "PGSSLMODE",
        ] {
            cmd.env_remove(var);
        }
        cmd.args([
            "-X",
            "-A",
            "-q",
            "-w",
            "-P",
            "footer=off",
            "-F",
            "\t",
            "-h",
            HOST,
        ])
        .arg("-p")
        .arg(self.port.to_string())
        .args(["-U", &self.options.user, "-d", "pgbouncer", "-c", command])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null());
        let out = cmd.output().map_err(|e| {
            io::Error::new(e.kind(), format!("could not run {}: {e}", psql.display()))
        })?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "`{command}` on pgbouncer's admin console (port {}) failed ({}): {}",
                self.port,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        Ok(lines
            .map(|line| {
                header
                    .iter()
                    .zip(line.split('\t'))
                    .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                    .collect()
            })
            .collect())
    }

    /// Stops pgbouncer and removes the directory, reporting failures. Drop does the same and
    /// ignores them.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn write_userlist(&self) -> io::Result<()> {
        // trust still wants the user listed; the password (if any) is what pgbouncer logs in
        // to the server with.
        let password = self.options.password.as_deref().unwrap_or("");
        self.write_owned(
            &self.dir.join("userlist.txt"),
            &format!("\"{}\" \"{password}\"\n", self.options.user),
        )
    }

    fn write_ini(&self, port: u16) -> io::Result<PathBuf> {
        let o = &self.options;
        let mut server = format!(
            "host={} port={} dbname={} user={}",
            o.server_host, o.server_port, o.dbname, o.user
        );
        if let Some(password) = &o.password {
            server.push_str(&format!(" password={password}"));
        }
        let dir = self.dir.display();
        let ini = format!(
            "; Written by pgtusk-tests' PgBouncer fixture.\n\
             [databases]\n\
             {db} = {server}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = {HOST}\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {dir}/userlist.txt\n\
             admin_users = {user}\n\
             pidfile = {dir}/pgbouncer.pid\n\
             pool_mode = {mode}\n\
             default_pool_size = {pool}\n\
             max_client_conn = {max_clients}\n\
             ; some clients (JDBC) send it; pgtusk does not\n\
             ignore_startup_parameters = extra_float_digits\n",
            db = o.dbname,
            user = o.user,
            mode = o.pool_mode.as_str(),
            pool = o.default_pool_size,
            max_clients = o.max_client_conn,
        );
        let path = self.dir.join("pgbouncer.ini");
        self.write_owned(&path, &ini)?;
        Ok(path)
    }

    /// Starts pgbouncer on a free port, retrying when the port was taken meanwhile.
    fn start_process(&mut self) -> io::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| annotate(e, &format!("could not create {}", self.log_path.display())))?;
        if let Some((uid, gid)) = self.run_as {
            chown(&self.log_path, uid, gid)?;
        }
        let deadline = Instant::now() + START_TIMEOUT;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            let ini = self.write_ini(port)?;
            let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
            let mut cmd = Command::new(&self.binary);
            cmd.arg(&ini)
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log.try_clone()?)
                // Its own process group: a Ctrl-C meant for the test run reaches the
                // watchdog's cleanup, not pgbouncer first.
                .process_group(0);
            if let Some((uid, gid)) = self.run_as {
                cmd.uid(uid).gid(gid);
            }
            let child = cmd.spawn().map_err(|e| {
                annotate(
                    e,
                    &format!(
                        "could not run `{} {}`",
                        self.binary.display(),
                        ini.display()
                    ),
                )
            })?;
            let pid = child.id();
            // Stored before anything else can fail, so that Drop stops it.
            self.process = Some(child);
            self.port = port;
            self.watchdog = Some(Watchdog::spawn(&self.dir, pid)?);
            match self.wait_ready(deadline) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let _ = self.stop_process();
                    if let Some(watchdog) = self.watchdog.take() {
                        watchdog.dismiss();
                    }
                    let log_now = fs::read(&self.log_path)
                        .map(|b| {
                            String::from_utf8_lossy(&b[(log_start as usize).min(b.len())..])
                                .into_owned()
                        })
                        .unwrap_or_default();
                    if attempt < PORT_ATTEMPTS && log_now.contains("Address already in use") {
                        continue;
                    }
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "pgbouncer did not start: {e}; command: `{} {}`; log:\n{}",
                            self.binary.display(),
                            ini.display(),
                            tail(&log_now, LOG_LINES_IN_ERRORS)
                        ),
                    ));
                }
            }
        }
    }

    /// Polls until the port accepts a TCP connection, the process exits or the deadline passes.
    fn wait_ready(&mut self, deadline: Instant) -> io::Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Some(child) = self.process.as_mut() else {
            return Err(io::Error::other("no pgbouncer process"));
        };
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!("it exited ({status})")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("it did not accept connections on {addr} within {START_TIMEOUT:?}"),
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM (pgbouncer's immediate shutdown), then SIGKILL; always reaps the process.
    fn stop_process(&mut self) -> io::Result<()> {
        let Some(mut child) = self.process.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        child.kill()?;
        child.wait()?;
        Err(io::Error::other(format!(
            "pgbouncer did not exit within {STOP_TIMEOUT:?} of SIGTERM; killed it"
        )))
    }

    fn shutdown(&mut self) -> io::Result<()> {
        let stopped = self.stop_process();
        let removed = match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(annotate(
                e,
                &format!("could not remove {}", self.dir.display()),
            )),
            _ => Ok(()),
        };
        // Only now: until the directory is gone, the watchdog stays armed.
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.dismiss();
        }
        stopped.and(removed)
    }

    /// Writes a file pgbouncer's user can read (mode 0600, chowned when root).
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

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Starts `builder`'s pgbouncer; `None` (after printing "skipped: pgbouncer not installed")
/// when pgbouncer is not installed and the `CI` environment variable is unset.
///
/// # Panics
///
/// When pgbouncer is missing and `CI` is set, or when it is installed but does not start.
pub fn start_or_skip(builder: PgBouncerBuilder) -> Option<PgBouncer> {
    if let Err(e) = find_binary() {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("CI is set, so pgbouncer is required: {e}");
        }
        println!("skipped: {e}");
        return None;
    }
    match builder.start() {
        Ok(bouncer) => Some(bouncer),
        Err(e) => panic!("cannot start pgbouncer for the test: {e}"),
    }
}

/// The `pgbouncer` binary: on `PATH`, else [`DEBIAN_BINARY`]. Not found is
/// [`io::ErrorKind::NotFound`] with a message that says how to install it.
pub fn find_binary() -> io::Result<PathBuf> {
    on_path("pgbouncer")
        .or_else(|| is_executable(Path::new(DEBIAN_BINARY)).then(|| DEBIAN_BINARY.into()))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "pgbouncer not installed: not on PATH and not at {DEBIAN_BINARY}; install \
                     it (Debian/Ubuntu: `apt-get install pgbouncer`; `bash .ci/run` does)"
                ),
            )
        })
}

/// `psql`: on `PATH`, else the newest `/usr/lib/postgresql/*/bin/psql`.
fn find_psql() -> io::Result<PathBuf> {
    if let Some(psql) = on_path("psql") {
        return Ok(psql);
    }
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let psql = entry.path().join("bin/psql");
            is_executable(&psql).then_some((version, psql))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, psql)| psql).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "psql not found (not on PATH, not in /usr/lib/postgresql/*/bin); pgbouncer's admin \
             console needs it: install the PostgreSQL client",
        )
    })
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Refuses what would break the ini line or the connection string it goes into.
fn check_ini_value(what: &str, value: &str) -> io::Result<()> {
    if value.contains(|c: char| c.is_whitespace() || c.is_control() || "'\"=;#".contains(c)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the PgBouncer fixture cannot write a {what} with whitespace, quotes, '=', ';' \
                 or '#' into pgbouncer.ini; use a plainer one"
            ),
        ));
    }
    Ok(())
}

/// Whether this process runs with effective uid 0 (`/proc/self` belongs to it).
fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// uid and gid of the `postgres` system user, from /etc/passwd.
fn postgres_user_ids() -> io::Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() != Some(&"postgres") {
                return None;
            }
            Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "this process runs as root and pgbouncer refuses to run as root, so it would run \
                 as the `postgres` system user, but /etc/passwd has none; create it or run as a \
                 non-root user",
            )
        })
}

/// A fresh directory `/tmp/pgtusk-bouncer-PID-N-NANOS` (mode 0700).
fn make_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    // /tmp, not TMPDIR: as root, pgbouncer's user must be able to reach the directory.
    for _ in 0..10 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = PathBuf::from(format!(
            "/tmp/pgtusk-bouncer-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(annotate(e, &format!("could not create {}", dir.display()))),
        }
    }
    Err(io::Error::other(
        "could not create a fresh directory under /tmp for pgbouncer",
    ))
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

fn annotate(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A `sh` process that kills pgbouncer and removes its directory if this process ends
/// without dropping the [`PgBouncer`] (the driver's `TempCluster` watchdog, which is private,
/// works the same way).
///
/// Its stdin is a pipe whose only write end lives in this process: a normal Drop writes
/// `done`; when this process ends in any other way the kernel closes the write end, `read`
/// sees end of file, and the script cleans up. Its own process group and ignored
/// SIGINT/SIGHUP/SIGQUIT keep a Ctrl-C from killing it first.
#[derive(Debug)]
struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// `$1` = directory to remove, `$2` = pgbouncer's pid.
const WATCHDOG_SCRIPT: &str = r#"trap '' INT HUP QUIT
IFS= read -r line
[ "$line" = done ] && exit 0
kill -TERM "$2" 2>/dev/null && sleep 1
kill -KILL "$2" 2>/dev/null
rm -rf "$1"
"#;

impl Watchdog {
    fn spawn(dir: &Path, pid: u32) -> io::Result<Watchdog> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("pgtusk-bouncer-watchdog")
            .arg(dir)
            .arg(pid.to_string())
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| annotate(e, "could not start pgbouncer's watchdog (/bin/sh)"))?;
        let stdin = child.stdin.take();
        Ok(Watchdog { child, stdin })
    }

    /// Tells the watchdog that pgbouncer was cleaned up, and reaps it.
    fn dismiss(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // If the watchdog is gone already the write fails; nothing to do.
            let _ = stdin.write_all(b"done\n");
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_values_that_would_break_the_file_are_refused() {
        assert!(check_ini_value("user", "postgres").is_ok());
        assert!(check_ini_value("server host", "/tmp/pgtusk-x").is_ok());
        for bad in ["a b", "it's", "x=y", "a;b", "a#b", "a\nb"] {
            let err = check_ini_value("password", bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(err.to_string().contains("password"), "{err}");
        }
    }

    #[test]
    fn options_come_from_the_server_options() {
        let server: ConnectOptions = "postgres://alice:pw@10.1.2.3:6543/shop".parse().unwrap();
        let builder = PgBouncer::in_front_of(&server);
        assert_eq!(
            (
                builder.server_host.as_str(),
                builder.server_port,
                builder.dbname.as_str(),
                builder.user.as_str(),
                builder.password.as_deref(),
            ),
            ("10.1.2.3", 6543, "shop", "alice", Some("pw"))
        );
        assert_eq!(builder.pool_mode, PoolMode::Transaction);
        assert_eq!(builder.default_pool_size, 2);
    }

    #[test]
    fn tail_takes_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 3), "");
    }
}
