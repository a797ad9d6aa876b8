//! Connecting: TCP and unix socket, every supported auth method, wrong passwords,
//! unreachable hosts, host lists and bad DSNs.

use std::time::Duration;

use pgtusk::cluster::{ClusterAuth, TempCluster};
use pgtusk::{ConnectOptions, Connection, Error, SqlState};

const PASSWORD: &str = "tusk s3cret:ü";

async fn assert_connects(dsn: &str) {
    let mut conn = Connection::connect(dsn)
        .await
        .unwrap_or_else(|e| panic!("connect {dsn}: {e}"));
    assert_eq!(
        conn.fetch_value::<i32>("SELECT 1 + 1", &[]).await.unwrap(),
        2
    );
    conn.close().await.unwrap();
}

/// Connects over TCP and the unix socket with the right password, and checks that a wrong
/// one and a missing one fail clearly.
async fn check_password_cluster(auth: ClusterAuth) {
    let cluster = TempCluster::builder().auth(auth).start().unwrap();
    assert_connects(&cluster.dsn()).await;
    assert_connects(&cluster.socket_dsn()).await;

    let wrong = format!(
        "postgres://postgres:wrong@127.0.0.1:{}/postgres",
        cluster.port()
    );
    let err = Connection::connect(&wrong).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::INVALID_PASSWORD), "{err:?}");

    let socket_wrong = format!(
        "host={} port={} user=postgres password=wrong",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let err = Connection::connect(&socket_wrong).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::INVALID_PASSWORD), "{err:?}");

    let missing = ConnectOptions::new()
        .host("127.0.0.1")
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .password("");
    let err = Connection::connect_with(&missing).await.unwrap_err();
    assert!(matches!(err, Error::Auth(_) | Error::Db(_)), "{err:?}");
}

#[tokio::test]
async fn trust_over_tcp_and_unix_socket() {
    let cluster = TempCluster::start().unwrap();
    assert_connects(&cluster.dsn()).await;
    assert_connects(&cluster.socket_dsn()).await;
    let encoded = format!(
        "postgresql://postgres@{}:{}/postgres",
        cluster
            .socket_dir()
            .display()
            .to_string()
            .replace('/', "%2F"),
        cluster.port()
    );
    assert_connects(&encoded).await;
}

#[tokio::test]
async fn scram_sha_256() {
    check_password_cluster(ClusterAuth::ScramSha256(PASSWORD.into())).await;
}

#[tokio::test]
async fn md5() {
    check_password_cluster(ClusterAuth::Md5(PASSWORD.into())).await;
}

#[tokio::test]
async fn cleartext_password() {
    check_password_cluster(ClusterAuth::Password(PASSWORD.into())).await;
}

#[tokio::test]
async fn builder_options_and_startup_parameters() {
    let cluster = TempCluster::shared().unwrap();
    let options = ConnectOptions::new()
        .host("127.0.0.1")
        .port(cluster.port())
        .user("postgres")
        .dbname("template1")
        .application_name("pgtusk-connect-test")
        .options("-c search_path=pg_catalog -c work_mem=7MB");
    let mut conn = Connection::connect_with(&options).await.unwrap();
    assert_eq!(
        conn.fetch_value::<String>("SELECT current_database()::text", &[])
            .await
            .unwrap(),
        "template1"
    );
    assert_eq!(
        conn.parameter("application_name"),
        Some("pgtusk-connect-test")
    );
    assert_eq!(
        conn.fetch_value::<String>("SHOW work_mem", &[])
            .await
            .unwrap(),
        "7MB"
    );
}

#[tokio::test]
async fn unreachable_host_names_the_address() {
    let port = free_port();
    let err = Connection::connect(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn connect_timeout_expires_on_a_silent_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let err = Connection::connect(&format!(
        "host=127.0.0.1 port={port} user=x connect_timeout=1"
    ))
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match &err {
        Error::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{err}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    drop(listener);
}

#[tokio::test]
async fn host_list_is_tried_in_order() {
    let cluster = TempCluster::shared().unwrap();
    let dead = free_port();
    let dsn = format!(
        "postgres://postgres@127.0.0.1:{dead},127.0.0.1:{}/postgres",
        cluster.port()
    );
    assert_connects(&dsn).await;
    let dsn = format!(
        "host=127.0.0.1,127.0.0.1 port={dead},{} user=postgres dbname=postgres",
        cluster.port()
    );
    assert_connects(&dsn).await;
    let err = Connection::connect(&format!(
        "postgres://postgres@127.0.0.1:{dead},127.0.0.1:{dead}/postgres"
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("any host"), "{err}");
}

#[tokio::test]
async fn missing_database_is_the_servers_error() {
    let cluster = TempCluster::shared().unwrap();
    let err = Connection::connect(&format!(
        "postgres://postgres@127.0.0.1:{}/no_such_db",
        cluster.port()
    ))
    .await
    .unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::INVALID_CATALOG_NAME),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_dsns_name_what_is_wrong() {
    let cases: &[(&str, &str)] = &[
        ("mysql://localhost/db", "scheme"),
        ("postgres://localhost:99999/db", "port"),
        ("postgres://localhost:abc/db", "port"),
        ("host=localhost port=0", "port"),
        ("host=localhost bogus_key=1", "bogus_key"),
        ("postgres://localhost/db?bogus_param=1", "bogus_param"),
        ("host=localhost user='unterminated", "quote"),
        ("host=localhost sslmode=sometimes", "sslmode"),
        ("host=localhost connect_timeout=-3", "connect_timeout"),
        (
            "host=localhost statement_cache_size=lots",
            "statement_cache_size",
        ),
        ("postgres://user%zz@localhost/db", "percent"),
        ("host=a,b port=1,2,3", "port"),
        (
            "host=localhost sslmode=prefer sslnegotiation=direct",
            "sslnegotiation",
        ),
        ("host=localhost channel_binding=maybe", "channel_binding"),
        ("host=localhost target_session_attrs=master", "read-write"),
    ];
    for (dsn, needle) in cases {
        let err = Connection::connect(dsn).await.expect_err(dsn);
        assert!(matches!(err, Error::Config(_)), "{dsn}: {err:?}");
        let msg = err.to_string();
        assert!(
            msg.to_lowercase().contains(&needle.to_lowercase()),
            "{dsn}: {msg}"
        );
    }
}

/// A NUL byte cannot reach the server (its strings are NUL-terminated). However it gets into a
/// value — raw or `%00` in a URL, a `key=value` DSN, a builder setter — connecting fails with
/// `Error::Config` naming the key, before any network traffic.
#[tokio::test]
async fn a_nul_byte_in_any_value_is_a_config_error_naming_the_key() {
    // A port nobody listens on: a Config error must come before any connection attempt.
    let port = free_port();
    let dsns = [
        (format!("postgres://us\0er@127.0.0.1:{port}/db"), "user"),
        (format!("postgres://us%00er@127.0.0.1:{port}/db"), "user"),
        (
            format!("postgres://u:pa\0ss@127.0.0.1:{port}/db"),
            "password",
        ),
        (format!("postgres://u@127.0.0.1:{port}/d\0b"), "dbname"),
        (
            format!("postgres://u@127.0.0.1:{port}/db?options=-c%20a\0"),
            "options",
        ),
        (
            format!("postgres://u@127.0.0.1:{port}/db?application_name=a\0"),
            "application_name",
        ),
        (format!("host=127.0.0.1 port={port} user='a\0b'"), "user"),
        (
            format!("host=127.0.0.1 port={port} password=a\0b"),
            "password",
        ),
        (format!("host=127.0.0.1 port={port} dbname=a\0b"), "dbname"),
        (format!("host=127.0.0.1\0 port={port}"), "host"),
    ];
    for (dsn, key) in &dsns {
        let err = Connection::connect(dsn).await.expect_err(dsn);
        let msg = err.to_string();
        assert!(matches!(err, Error::Config(_)), "{dsn:?}: {err:?}");
        assert!(msg.contains(&format!("{key:?}")), "{dsn:?}: {msg}");
        assert!(msg.contains("NUL"), "{dsn:?}: {msg}");
        assert!(
            !msg.contains("pa\0ss"),
            "{dsn:?}: the password leaked: {msg}"
        );
    }
    let base = || ConnectOptions::new().host("127.0.0.1").port(port);
    let builders = [
        (base().user("a\0b"), "user"),
        (base().password("se\0cret"), "password"),
        (base().dbname("a\0b"), "dbname"),
        (base().application_name("a\0b"), "application_name"),
        (base().options("-c a=\0"), "options"),
        (ConnectOptions::new().host("local\0host").port(port), "host"),
        (base().passfile("/tmp/pg\0pass"), "passfile"),
    ];
    for (options, key) in &builders {
        let err = Connection::connect_with(options).await.expect_err(key);
        let msg = err.to_string();
        assert!(matches!(err, Error::Config(_)), "{key}: {err:?}");
        assert!(
            msg.contains(&format!("{key:?}")) && msg.contains("NUL"),
            "{key}: {msg}"
        );
        assert!(!msg.contains("se\0cret"), "the password leaked: {msg}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
