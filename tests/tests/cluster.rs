//! TempCluster: throwaway servers start with the asked-for auth and settings,
//! answer over TCP and the unix socket, and leave nothing behind.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use pgtusk::cluster::{ClusterAuth, TempCluster};

/// Set in the child process that the watchdog tests start.
const CHILD_ENV: &str = "PGTUSK_TEST_WATCHDOG_CHILD";
/// The line the child prints: the data directory of its cluster.
const CHILD_MARK: &str = "PGTUSK_CHILD_DATA_DIR=";

/// Pids of processes (other than this one) whose command line mentions `path`.
fn processes_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

/// Asserts, waiting up to `within`, that no process mentions the cluster's
/// directory (server, backends, watchdog) and that the directory is gone.
#[track_caller]
fn assert_gone(data_dir: &Path, within: Duration) {
    let root = data_dir
        .parent()
        .expect("data dir has a parent")
        .to_path_buf();
    let deadline = Instant::now() + within;
    loop {
        let procs = processes_mentioning(&root);
        let exists = root.exists();
        if procs.is_empty() && !exists {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "cluster at {} not cleaned up after {within:?}: processes {procs:?}, directory exists: {exists}",
                root.display()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn psql_fails(mut cmd: Command, password: Option<&str>) -> String {
    match password {
        Some(p) => cmd.env("PGPASSWORD", p),
        None => cmd.env_remove("PGPASSWORD"),
    };
    let out = cmd.args(["-c", "SELECT 1"]).output().expect("psql runs");
    assert!(!out.status.success(), "psql unexpectedly connected");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn trust_cluster_answers_over_tcp_and_unix_socket() -> io::Result<()> {
    let cluster = TempCluster::start()?;
    assert_eq!(cluster.psql("SELECT 1 + 1")?, "2");
    assert_eq!(cluster.psql_socket("SELECT 40 + 2")?, "42");
    assert_eq!(
        cluster.psql("SELECT current_user || ' ' || inet_server_port()")?,
        format!("postgres {}", cluster.port())
    );
    // Over the socket there is no server address.
    assert_eq!(
        cluster.psql_socket("SELECT inet_server_addr() IS NULL")?,
        "t"
    );
    assert_eq!(cluster.psql("SHOW server_encoding")?, "UTF8");
    assert_eq!(cluster.psql("SHOW fsync")?, "off");

    assert_eq!(cluster.host(), "127.0.0.1");
    assert_eq!(cluster.user(), "postgres");
    assert_eq!(cluster.password(), None);
    assert_eq!(
        cluster.dsn(),
        format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port())
    );
    assert_eq!(
        cluster.socket_dsn(),
        format!(
            "host={} port={} user=postgres dbname=postgres",
            cluster.socket_dir().display(),
            cluster.port()
        )
    );
    assert!(
        cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()))
            .exists()
    );
    assert!(cluster.server_version() >= 10);
    assert!(
        cluster
            .psql("SHOW server_version")?
            .starts_with(&cluster.server_version().to_string())
    );
    Ok(())
}

#[test]
fn scram_cluster_needs_the_right_password() -> io::Result<()> {
    let password = "p@ss w:rd/'\"\\é";
    let cluster = TempCluster::builder()
        .auth(ClusterAuth::ScramSha256(password.to_owned()))
        .start()?;
    assert_eq!(cluster.psql("SELECT 1")?, "1");
    assert_eq!(cluster.psql_socket("SELECT 1")?, "1");
    assert!(
        cluster
            .psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")?
            .starts_with("SCRAM-SHA-256$")
    );
    assert_eq!(cluster.psql("SHOW password_encryption")?, "scram-sha-256");

    for cmd in [cluster.psql_command(), cluster.psql_socket_command()] {
        let err = psql_fails(cmd, Some("wrong"));
        assert!(err.contains("password authentication failed"), "{err}");
    }
    let err = psql_fails(cluster.psql_command(), None);
    assert!(err.contains("no password supplied"), "{err}");

    assert_eq!(cluster.password(), Some(password));
    assert_eq!(
        cluster.dsn(),
        format!(
            "postgres://postgres:p%40ss%20w%3Ard%2F%27%22%5C%C3%A9@127.0.0.1:{}/postgres",
            cluster.port()
        )
    );
    assert!(
        cluster
            .socket_dsn()
            .ends_with(r#" password='p@ss w:rd/\'"\\é'"#)
    );
    Ok(())
}

#[test]
fn md5_cluster_stores_md5_hashes() -> io::Result<()> {
    let cluster = TempCluster::builder()
        .auth(ClusterAuth::Md5("secret".to_owned()))
        .start()?;
    assert_eq!(
        cluster.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")?,
        "md553f48b7c4b76a86ce72276c5755f217d"
    );
    assert_eq!(cluster.psql_socket("SHOW password_encryption")?, "md5");
    let err = psql_fails(cluster.psql_command(), Some("wrong"));
    assert!(err.contains("password authentication failed"), "{err}");
    Ok(())
}

#[test]
fn password_cluster_takes_a_cleartext_password() -> io::Result<()> {
    let cluster = TempCluster::builder()
        .auth(ClusterAuth::Password("secret".to_owned()))
        .start()?;
    assert_eq!(cluster.psql("SELECT 1")?, "1");
    assert_eq!(cluster.psql_socket("SELECT 1")?, "1");
    let err = psql_fails(cluster.psql_socket_command(), Some("wrong"));
    assert!(err.contains("password authentication failed"), "{err}");
    Ok(())
}

#[test]
fn settings_are_passed_to_the_server() -> io::Result<()> {
    let cluster = TempCluster::builder()
        .setting("work_mem", "12MB")
        .setting("log_line_prefix", "%m two words ")
        .setting("work_mem", "13MB")
        .start()?;
    assert_eq!(cluster.psql("SHOW work_mem")?, "13MB");
    assert_eq!(cluster.psql("SHOW log_line_prefix")?, "%m two words ");
    Ok(())
}

#[test]
fn extra_hba_lines_take_precedence() -> io::Result<()> {
    let cluster = TempCluster::builder()
        .hba_line("host all all 127.0.0.1/32 reject")
        .start()?;
    let err = psql_fails(cluster.psql_command(), None);
    assert!(err.contains("pg_hba.conf rejects connection"), "{err}");
    assert_eq!(cluster.psql_socket("SELECT 1")?, "1");
    Ok(())
}

#[test]
fn drop_stops_the_server_and_removes_the_directory() -> io::Result<()> {
    let cluster = TempCluster::start()?;
    let data_dir = cluster.data_dir().to_path_buf();
    assert!(!processes_mentioning(&data_dir).is_empty(), "server runs");
    drop(cluster);
    // Drop waits for the server to exit: no grace period needed.
    assert_gone(&data_dir, Duration::ZERO);
    Ok(())
}

#[test]
fn stop_reports_success_and_cleans_up() -> io::Result<()> {
    let cluster = TempCluster::start()?;
    let data_dir = cluster.data_dir().to_path_buf();
    cluster.stop()?;
    assert_gone(&data_dir, Duration::ZERO);
    Ok(())
}

/// A restart keeps the data, the settings and the port: the same DSN works again.
#[test]
fn restart_keeps_port_settings_and_data() -> io::Result<()> {
    let mut cluster = TempCluster::builder().setting("work_mem", "12MB").start()?;
    let (port, dsn) = (cluster.port(), cluster.dsn());
    cluster.psql("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")?;
    cluster.stop_server()?;
    assert!(!cluster.is_running());
    assert!(cluster.psql("SELECT 1").is_err(), "the server is down");
    cluster.stop_server()?; // Stopping a stopped server does nothing.
    cluster.start_server()?;
    assert!(cluster.is_running());
    cluster.restart()?;
    assert_eq!((cluster.port(), cluster.dsn()), (port, dsn));
    assert_eq!(cluster.psql("SHOW work_mem")?, "12MB");
    assert_eq!(cluster.psql("SELECT n FROM kept")?, "42");
    assert_eq!(cluster.psql_socket("SELECT 1")?, "1");
    let data_dir = cluster.data_dir().to_path_buf();
    cluster.stop()?;
    assert_gone(&data_dir, Duration::ZERO);
    Ok(())
}

#[test]
fn panicking_test_still_cleans_up() {
    let mut data_dir = None;
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let cluster = TempCluster::start().expect("cluster starts");
        data_dir = Some(cluster.data_dir().to_path_buf());
        assert_eq!(cluster.psql("SELECT 1").expect("psql"), "1");
        panic!("the test fails while holding a cluster");
    }));
    assert!(result.is_err());
    assert_gone(&data_dir.expect("cluster started"), Duration::ZERO);
}

/// Runs this test binary again as a child that starts a cluster and ends
/// without dropping it (`how` is "exit" or "abort"); returns its data dir.
fn run_child_that_leaks_a_cluster(how: &str) -> PathBuf {
    let out = Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--exact", "helper_process_for_watchdog_tests"])
        .args(["--nocapture", "--test-threads=1", "--quiet"])
        .env(CHILD_ENV, how)
        .output()
        .expect("child test process runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let data_dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_MARK))
        .unwrap_or_else(|| {
            panic!(
                "child did not start a cluster ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    PathBuf::from(data_dir)
}

/// Not a test of its own: the body of the child process that
/// [`run_child_that_leaks_a_cluster`] starts. Does nothing otherwise.
#[test]
fn helper_process_for_watchdog_tests() {
    let Ok(how) = std::env::var(CHILD_ENV) else {
        return;
    };
    match how.as_str() {
        "exit" => {
            let cluster = TempCluster::shared().expect("shared cluster starts");
            assert_eq!(cluster.psql("SELECT 1").expect("psql"), "1");
            println!("{CHILD_MARK}{}", cluster.data_dir().display());
            std::process::exit(0);
        }
        "abort" => {
            let cluster = TempCluster::start().expect("cluster starts");
            assert_eq!(cluster.psql("SELECT 1").expect("psql"), "1");
            println!("{CHILD_MARK}{}", cluster.data_dir().display());
            std::process::abort();
        }
        other => panic!("unknown {CHILD_ENV}={other}"),
    }
}

#[test]
fn watchdog_cleans_up_after_the_process_exits() {
    let data_dir = run_child_that_leaks_a_cluster("exit");
    assert_gone(&data_dir, Duration::from_secs(10));
}

#[test]
fn watchdog_cleans_up_after_the_process_crashes() {
    let data_dir = run_child_that_leaks_a_cluster("abort");
    assert_gone(&data_dir, Duration::from_secs(10));
}

#[test]
fn shared_cluster_is_started_once() -> io::Result<()> {
    let first = TempCluster::shared()?;
    let second = TempCluster::shared()?;
    assert!(std::ptr::eq(first, second));
    assert_eq!(first.port(), second.port());
    assert_eq!(first.psql("SELECT 1")?, "1");
    if std::env::var_os("DATABASE_URL").is_none() {
        assert_eq!(pgtusk_tests::shared_dsn(), first.dsn());
    }
    Ok(())
}

#[test]
fn missing_bin_dir_is_a_clear_error() {
    let err = TempCluster::builder()
        .bin_dir("/nonexistent/pgsql/bin")
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/pgsql/bin"), "{msg}");
    assert!(msg.contains("initdb"), "{msg}");
}

#[test]
fn failed_start_reports_the_server_log_and_cleans_up() {
    let err = TempCluster::builder()
        .setting("shared_buffers", "lots")
        .start()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("postgres exited during startup"), "{msg}");
    assert!(
        msg.contains("invalid value for parameter \"shared_buffers\""),
        "{msg}"
    );
    // The command in the message names the data directory.
    let data_dir = msg
        .split_whitespace()
        .skip_while(|w| *w != "-D")
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no -D in {msg}"));
    assert_gone(&data_dir, Duration::ZERO);
}

#[test]
fn clusters_started_in_parallel_get_their_own_ports() {
    let clusters: Vec<TempCluster> = (0..3)
        .map(|_| thread::spawn(TempCluster::start))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("no panic").expect("cluster starts"))
        .collect();
    let mut ports: Vec<u16> = clusters.iter().map(TempCluster::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3);
    for cluster in &clusters {
        assert_eq!(cluster.psql("SELECT 1").expect("psql"), "1");
    }
}
