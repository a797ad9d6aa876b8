//! Shared helpers for the integration tests: one server per test binary (a TempCluster, or
//! `DATABASE_URL` when set) and connections to it.

pub mod codec_table;
pub mod drop;
pub mod fake_server;
pub mod fault_proxy;
pub mod pgbouncer;
pub mod proxy;
pub mod query_cases;
pub mod stopped;

use pgtusk::cluster::TempCluster;
use pgtusk::{ConnectOptions, Connection};

/// The DSN of the server the shared tests use: `DATABASE_URL` if set, else a process-wide
/// TempCluster started on first use.
pub fn shared_dsn() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => TempCluster::shared()
            .unwrap_or_else(|e| {
                panic!("cannot start a TempCluster for the tests (is PostgreSQL installed?): {e}")
            })
            .dsn(),
    }
}

/// The shared server's DSN as options, to adjust before connecting.
pub fn shared_options() -> ConnectOptions {
    shared_dsn()
        .parse()
        .unwrap_or_else(|e| panic!("invalid test DSN: {e}"))
}

/// The shared server's TCP port.
pub fn shared_port() -> u16 {
    shared_options()
        .get_ports()
        .first()
        .copied()
        .flatten()
        .unwrap_or(5432)
}

/// Options for the shared server's user and database, reached at `127.0.0.1:port` (a proxy).
pub fn options_via(port: u16) -> ConnectOptions {
    let shared = shared_options();
    let mut options = ConnectOptions::new().host("127.0.0.1").port(port);
    if let Some(user) = shared.get_user() {
        options = options.user(user);
    }
    if let Some(password) = shared.get_password() {
        options = options.password(password);
    }
    if let Some(dbname) = shared.get_dbname() {
        options = options.dbname(dbname);
    }
    options
}

/// A new connection to the shared server.
pub async fn connect() -> Connection {
    connect_with(shared_options()).await
}

/// A new connection to the shared server with adjusted options.
pub async fn connect_with(options: ConnectOptions) -> Connection {
    Connection::connect_with(&options)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"))
}

/// The sessions the server holds for `application_name` (from `pg_stat_activity`): what a
/// pool's connections count on the server, to check it leaks none.
pub async fn sessions(observer: &mut Connection, application_name: &str) -> i64 {
    observer
        .fetch_value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&application_name],
        )
        .await
        .unwrap_or_else(|e| panic!("cannot count the sessions of {application_name}: {e}"))
}
