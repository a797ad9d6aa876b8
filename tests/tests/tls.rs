//! TLS against real servers: every sslmode against a server with and without `ssl=on` and
//! with `hostssl` / `hostnossl` rules, verify-full and verify-ca with right and wrong names
//! and CAs, an expired certificate, client certificates (`cert` in pg_hba.conf), the
//! CancelRequest over TLS, SCRAM-SHA-256-PLUS with each channel_binding value, and direct
//! negotiation's first bytes. Certificates are made at test time by TempCluster (rcgen).

use std::path::Path;
use std::time::Duration;

use pgtusk::cluster::{CertificateAuthority, ClusterAuth, ClusterTls, TempCluster};
use pgtusk::{ChannelBinding, ConnectOptions, Connection, Error, SqlState, SslMode};

const PASSWORD: &str = "tls s3cret";

fn options(cluster: &TempCluster, host: &str) -> ConnectOptions {
    let mut opts = ConnectOptions::new()
        .host(host)
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(10));
    if let Some(p) = cluster.password() {
        opts = opts.password(p);
    }
    opts
}

/// Whether the server sees this connection as TLS (`pg_stat_ssl`).
async fn uses_tls(conn: &mut Connection) -> bool {
    conn.fetch_value(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
}

async fn connects_with_tls(opts: &ConnectOptions) -> bool {
    let mut conn = Connection::connect_with(opts)
        .await
        .unwrap_or_else(|e| panic!("{opts:?}: {e}"));
    let tls = uses_tls(&mut conn).await;
    conn.close().await.unwrap();
    tls
}

fn tls_message(e: Error) -> String {
    match e {
        Error::Tls(m) => m,
        other => panic!("expected Error::Tls, got {other:?}"),
    }
}

fn tls_cluster(tls: ClusterTls) -> TempCluster {
    TempCluster::builder().tls(tls).start().unwrap()
}

#[tokio::test]
async fn every_sslmode_against_a_server_without_ssl() {
    let cluster = TempCluster::start().unwrap();
    let base = options(&cluster, "127.0.0.1");
    for mode in [SslMode::Disable, SslMode::Allow, SslMode::Prefer] {
        assert!(
            !connects_with_tls(&base.clone().ssl_mode(mode)).await,
            "{mode}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    CertificateAuthority::new("some CA")
        .unwrap()
        .write_cert(&ca)
        .unwrap();
    for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
        let err = Connection::connect_with(&base.clone().ssl_mode(mode).ssl_root_cert(&ca))
            .await
            .unwrap_err();
        let msg = tls_message(err);
        assert!(msg.contains("does not support SSL"), "{mode}: {msg}");
        assert!(msg.contains("enable ssl on the server"), "{mode}: {msg}");
    }
}

#[tokio::test]
async fn every_sslmode_against_a_server_with_ssl() {
    let cluster = tls_cluster(ClusterTls::new());
    let ca = cluster.ca_cert_path().unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let base = options(&cluster, host);
        let cases = [
            (SslMode::Disable, false),
            // allow tries a plain connection first, and the server takes it.
            (SslMode::Allow, false),
            (SslMode::Prefer, true),
            (SslMode::Require, true),
        ];
        for (mode, tls) in cases {
            assert_eq!(
                connects_with_tls(&base.clone().ssl_mode(mode)).await,
                tls,
                "{host} {mode}"
            );
        }
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
            assert!(
                connects_with_tls(&base.clone().ssl_mode(mode).ssl_root_cert(&ca)).await,
                "{host} {mode}"
            );
        }
        // The key=value form says the same.
        let dsn = format!(
            "host={host} port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert={}",
            cluster.port(),
            ca.display()
        );
        assert!(connects_with_tls(&dsn.parse().unwrap()).await);
    }
    // verify-ca and verify-full without any root certificate: a clear error before connecting.
    let err = Connection::connect_with(
        &options(&cluster, "127.0.0.1")
            .ssl_mode(SslMode::VerifyFull)
            .ssl_root_cert(Path::new("/nonexistent/root.crt")),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("sslrootcert file /nonexistent/root.crt")),
        "{err:?}"
    );
    // A unix socket never uses TLS, whatever sslmode says (as libpq).
    let socket = ConnectOptions::new()
        .host(cluster.socket_dir().to_str().unwrap())
        .port(cluster.port())
        .user("postgres")
        .ssl_mode(SslMode::Require);
    assert!(!connects_with_tls(&socket).await);
}

#[tokio::test]
async fn hostnossl_reject_sends_allow_and_prefer_to_tls_and_fails_disable() {
    let cluster = TempCluster::builder()
        .tls(ClusterTls::new())
        .hba_line("hostnossl all all 127.0.0.1/32 reject")
        .start()
        .unwrap();
    let base = options(&cluster, "127.0.0.1");
    let err = Connection::connect_with(&base.clone().ssl_mode(SslMode::Disable))
        .await
        .unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{err}"
    );
    // allow: refused in plain, so it tries again with TLS.
    assert!(connects_with_tls(&base.clone().ssl_mode(SslMode::Allow)).await);
    assert!(connects_with_tls(&base.clone().ssl_mode(SslMode::Prefer)).await);
    assert!(connects_with_tls(&base.clone().ssl_mode(SslMode::Require)).await);
}

#[tokio::test]
async fn hostssl_reject_sends_prefer_to_plain_and_fails_require() {
    let cluster = TempCluster::builder()
        .tls(ClusterTls::new())
        .hba_line("hostssl all all 127.0.0.1/32 reject")
        .start()
        .unwrap();
    let base = options(&cluster, "127.0.0.1");
    for mode in [SslMode::Disable, SslMode::Allow, SslMode::Prefer] {
        // prefer: refused over TLS, so it tries again without.
        assert!(
            !connects_with_tls(&base.clone().ssl_mode(mode)).await,
            "{mode}"
        );
    }
    let err = Connection::connect_with(&base.clone().ssl_mode(SslMode::Require))
        .await
        .unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{err}"
    );
}

#[tokio::test]
async fn verify_full_checks_the_name_and_verify_ca_does_not() {
    let cluster = tls_cluster(ClusterTls::new().names(["db.example"]));
    let ca = cluster.ca_cert_path().unwrap();
    let full = options(&cluster, "127.0.0.1")
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(&ca);
    let msg = tls_message(Connection::connect_with(&full).await.unwrap_err());
    assert!(
        msg.contains("does not match the host name \"127.0.0.1\""),
        "{msg}"
    );
    assert!(
        msg.contains("db.example"),
        "names what the certificate lists: {msg}"
    );
    assert!(msg.contains("sslmode=verify-ca"), "says what to set: {msg}");

    // The name the certificate is checked against is `host`, even when `hostaddr` is dialled.
    let by_name = ConnectOptions::new()
        .host("db.example")
        .hostaddr("127.0.0.1".parse().unwrap())
        .port(cluster.port())
        .user("postgres")
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(&ca);
    assert!(connects_with_tls(&by_name).await);

    let ca_only = options(&cluster, "127.0.0.1")
        .ssl_mode(SslMode::VerifyCa)
        .ssl_root_cert(&ca);
    assert!(connects_with_tls(&ca_only).await);
}

#[tokio::test]
async fn a_wrong_ca_fails_verification_and_require_with_a_root_cert_checks_it() {
    let cluster = tls_cluster(ClusterTls::new());
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-ca.crt");
    CertificateAuthority::new("not the server's CA")
        .unwrap()
        .write_cert(&wrong)
        .unwrap();
    let base = options(&cluster, "127.0.0.1");
    for mode in [SslMode::VerifyFull, SslMode::VerifyCa, SslMode::Require] {
        let err = Connection::connect_with(&base.clone().ssl_mode(mode).ssl_root_cert(&wrong))
            .await
            .unwrap_err();
        let msg = tls_message(err);
        assert!(msg.contains("unknown CA"), "{mode}: {msg}");
        assert!(msg.contains("wrong-ca.crt"), "{mode}: {msg}");
        assert!(msg.contains("set sslrootcert"), "{mode}: {msg}");
    }
    // require without a root certificate does not check, as libpq.
    assert!(connects_with_tls(&base.clone().ssl_mode(SslMode::Require)).await);
    // prefer falls back to a plain connection when the handshake fails, as libpq.
    assert!(
        !connects_with_tls(&base.clone().ssl_mode(SslMode::Prefer).ssl_root_cert(&wrong)).await
    );
}

#[tokio::test]
async fn an_expired_certificate_is_named_as_such() {
    let cluster = tls_cluster(ClusterTls::new().expired(true));
    let opts = options(&cluster, "127.0.0.1")
        .ssl_mode(SslMode::VerifyCa)
        .ssl_root_cert(cluster.ca_cert_path().unwrap());
    let msg = tls_message(Connection::connect_with(&opts).await.unwrap_err());
    assert!(msg.contains("has expired"), "{msg}");
}

#[tokio::test]
async fn client_certificate_authentication() {
    let cluster = TempCluster::builder()
        .tls(ClusterTls::new())
        .hba_line("hostssl all certuser 127.0.0.1/32 cert")
        .start()
        .unwrap();
    cluster.psql("CREATE ROLE certuser LOGIN").unwrap();
    let (cert, key) = cluster.client_cert("certuser").unwrap();
    let base = options(&cluster, "127.0.0.1")
        .user("certuser")
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(cluster.ca_cert_path().unwrap());

    let mut conn = Connection::connect_with(&base.clone().ssl_cert(&cert).ssl_key(&key))
        .await
        .unwrap();
    let (user, tls): (String, bool) = {
        let row = conn
            .fetch_one(
                "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(user, "certuser");
    assert!(tls);
    conn.close().await.unwrap();

    // No certificate: the server refuses.
    let err = Connection::connect_with(&base).await.unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{err}"
    );
    // A certificate issued to another role: the server refuses.
    let (other_cert, other_key) = cluster.client_cert("someone_else").unwrap();
    let err = Connection::connect_with(&base.clone().ssl_cert(&other_cert).ssl_key(&other_key))
        .await
        .unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{err}"
    );
    // A certificate from a CA the server does not trust: the server ends the handshake.
    let dir = tempfile::tempdir().unwrap();
    let (foreign_cert, foreign_key) = CertificateAuthority::new("foreign")
        .unwrap()
        .write_client_cert(dir.path(), "foreign", "certuser")
        .unwrap();
    let err = Connection::connect_with(&base.clone().ssl_cert(&foreign_cert).ssl_key(&foreign_key))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("refused our client certificate") || err.sqlstate().is_some(),
        "{msg}"
    );
    // A key readable by others is refused before connecting, as libpq does.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Connection::connect_with(&base.clone().ssl_cert(&cert).ssl_key(&key))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("group or world access")),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn cancel_goes_over_tls_when_the_connection_does() {
    let cluster = TempCluster::builder()
        .tls(ClusterTls::new())
        .hba_line("hostnossl all all 127.0.0.1/32 reject")
        .start()
        .unwrap();
    let opts = options(&cluster, "127.0.0.1")
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(cluster.ca_cert_path().unwrap());
    let mut conn = Connection::connect_with(&opts).await.unwrap();
    assert!(uses_tls(&mut conn).await);
    let token = conn.cancel_token();
    assert!(format!("{token:?}").contains("Tls"), "{token:?}");
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel().await
    });
    let err = conn.execute("SELECT pg_sleep(30)", &[]).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::QUERY_CANCELED), "{err}");
    canceller.await.unwrap().unwrap();
    // The connection goes on over TLS.
    assert!(uses_tls(&mut conn).await);
    // command_timeout cancels through the same path.
    let mut conn =
        Connection::connect_with(&opts.clone().command_timeout(Duration::from_millis(200)))
            .await
            .unwrap();
    let err = conn.execute("SELECT pg_sleep(30)", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert_eq!(conn.fetch_value::<i32>("SELECT 7", &[]).await.unwrap(), 7);
}

#[tokio::test]
async fn a_large_result_and_a_large_parameter_travel_over_tls() {
    let cluster = tls_cluster(ClusterTls::new());
    let opts = options(&cluster, "127.0.0.1").ssl_mode(SslMode::Require);
    let mut conn = Connection::connect_with(&opts).await.unwrap();
    // Larger than a TLS record and than the socket buffers, both ways.
    let big = "x".repeat(5 * 1024 * 1024);
    let len: i32 = conn
        .fetch_value("SELECT length($1::text)", &[&big])
        .await
        .unwrap();
    assert_eq!(len as usize, big.len());
    let rows = conn
        .fetch(
            "SELECT g, repeat('y', 100) FROM generate_series(1, 100000) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 100_000);
}

#[tokio::test]
async fn the_password_appears_in_no_error_or_debug_output() {
    let cluster = TempCluster::builder()
        .auth(ClusterAuth::ScramSha256(PASSWORD.into()))
        .tls(ClusterTls::new().names(["db.example"]))
        .start()
        .unwrap();
    let opts = options(&cluster, "127.0.0.1")
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(cluster.ca_cert_path().unwrap());
    assert!(!format!("{opts:?}").contains(PASSWORD));
    let err = Connection::connect_with(&opts).await.unwrap_err();
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    assert!(!format!("{err:?}").contains(PASSWORD), "{err:?}");
    let wrong = options(&cluster, "127.0.0.1")
        .password("not the password")
        .ssl_mode(SslMode::Require);
    let err = Connection::connect_with(&wrong).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::INVALID_PASSWORD), "{err}");
    assert!(!err.to_string().contains("not the password"), "{err}");
}

/// SCRAM-SHA-256-PLUS: the server checks our hash of its certificate, so a connection with
/// `require` proves both sides computed the same tls-server-end-point binding.
#[tokio::test]
async fn scram_channel_binding_with_each_value() {
    let cluster = TempCluster::builder()
        .auth(ClusterAuth::ScramSha256(PASSWORD.into()))
        .tls(ClusterTls::new())
        .start()
        .unwrap();
    let tls = options(&cluster, "127.0.0.1").ssl_mode(SslMode::Require);
    for binding in [
        ChannelBinding::Disable,
        ChannelBinding::Prefer,
        ChannelBinding::Require,
    ] {
        assert!(
            connects_with_tls(&tls.clone().channel_binding(binding)).await,
            "{binding}"
        );
    }
    let dsn = format!("{}?sslmode=require&channel_binding=require", cluster.dsn());
    assert!(connects_with_tls(&dsn.parse().unwrap()).await);

    // Without TLS: prefer and disable authenticate without binding; require refuses.
    let plain = options(&cluster, "127.0.0.1").ssl_mode(SslMode::Disable);
    for binding in [ChannelBinding::Disable, ChannelBinding::Prefer] {
        assert!(
            !connects_with_tls(&plain.clone().channel_binding(binding)).await,
            "{binding}"
        );
    }
    let err = Connection::connect_with(&plain.clone().channel_binding(ChannelBinding::Require))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("channel_binding \"require\" needs TLS")),
        "{err:?}"
    );
    // Over the unix socket there is no TLS to bind to: refused before the password is used.
    let socket = ConnectOptions::new()
        .host(cluster.socket_dir().to_str().unwrap())
        .port(cluster.port())
        .user("postgres")
        .password(PASSWORD)
        .channel_binding(ChannelBinding::Require);
    let err = Connection::connect_with(&socket).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(m) if m.contains("does not use TLS") && m.contains("nothing was sent")),
        "{err:?}"
    );
}

#[tokio::test]
async fn channel_binding_require_refuses_servers_that_cannot_bind() {
    // MD5 over TLS: the password would go out unbound.
    let md5 = TempCluster::builder()
        .auth(ClusterAuth::Md5(PASSWORD.into()))
        .tls(ClusterTls::new())
        .start()
        .unwrap();
    let opts = options(&md5, "127.0.0.1")
        .ssl_mode(SslMode::Require)
        .channel_binding(ChannelBinding::Require);
    let err = Connection::connect_with(&opts).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(m) if m.contains("MD5") && m.contains("nothing was sent")),
        "{err:?}"
    );
    assert!(connects_with_tls(&opts.clone().channel_binding(ChannelBinding::Prefer)).await);

    // Trust over TLS: the server never proves anything.
    let trust = tls_cluster(ClusterTls::new());
    let opts = options(&trust, "127.0.0.1")
        .ssl_mode(SslMode::Require)
        .channel_binding(ChannelBinding::Require);
    let err = Connection::connect_with(&opts).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(m) if m.contains("without a SCRAM exchange")),
        "{err:?}"
    );
}

/// `sslnegotiation=direct` (PostgreSQL 17): the first bytes on the wire are a TLS
/// ClientHello offering ALPN "postgresql", with no SSLRequest before it. Checked at the
/// byte level, on a listener that records what arrives.
/// What a client sends first to a listener that records it: with direct negotiation the
/// whole first TLS record (the ClientHello), else the first 8 bytes. `extra` adds DSN keys.
async fn first_bytes(host: &str, negotiation: &str, extra: &str) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dsn = format!(
        "host={host} hostaddr=127.0.0.1 port={port} user=u sslmode=require \
         sslnegotiation={negotiation} connect_timeout=5 {extra}"
    );
    let client = tokio::spawn(async move { Connection::connect(&dsn).await.map(|_| ()) });
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut bytes = vec![0u8; 8];
    socket.read_exact(&mut bytes).await.unwrap();
    if negotiation == "direct" {
        // A TLS record: type, version, then its length.
        let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        let mut rest = vec![0u8; 5 + len - bytes.len()];
        socket.read_exact(&mut rest).await.unwrap();
        bytes.extend_from_slice(&rest);
    }
    drop(socket);
    let err = client.await.unwrap().unwrap_err();
    assert!(!err.to_string().is_empty());
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `sslnegotiation=direct` (PostgreSQL 17): the first bytes on the wire are a TLS
/// ClientHello offering ALPN "postgresql", with no SSLRequest before it. Checked at the
/// byte level, on a listener that records what arrives.
#[tokio::test]
async fn direct_negotiation_starts_with_a_client_hello_offering_alpn_postgresql() {
    let direct = first_bytes("127.0.0.1", "direct", "").await;
    assert_eq!(direct[0], 0x16, "a TLS handshake record");
    assert_eq!(direct[1], 0x03);
    assert_eq!(direct[5], 0x01, "a ClientHello");
    // ALPN extension body: protocol list length, name length, "postgresql".
    let alpn = [&[0x00, 0x0b, 0x0a][..], b"postgresql"].concat();
    assert!(contains(&direct, &alpn), "ALPN postgresql offered");

    let postgres = first_bytes("127.0.0.1", "postgres", "").await;
    assert_eq!(
        postgres,
        [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
        "an SSLRequest"
    );
}

/// SNI carries the host name (the `host`, not the `hostaddr` dialled) unless `sslsni=0`.
#[tokio::test]
async fn sslsni_sends_the_host_name_unless_turned_off() {
    let hello = first_bytes("db.example", "direct", "").await;
    assert!(contains(&hello, b"db.example"), "SNI sent");
    let hello = first_bytes("db.example", "direct", "sslsni=0").await;
    assert!(!contains(&hello, b"db.example"), "SNI not sent");
}

/// An older server reads the ClientHello as a startup packet and hangs up: the error says
/// that direct negotiation needs PostgreSQL 17.
#[tokio::test]
async fn direct_negotiation_against_an_older_server_says_what_it_needs() {
    let cluster = tls_cluster(ClusterTls::new());
    if cluster.server_version() >= 17 {
        let opts = options(&cluster, "127.0.0.1")
            .ssl_mode(SslMode::Require)
            .ssl_negotiation(pgtusk::SslNegotiation::Direct);
        assert!(connects_with_tls(&opts).await);
        return;
    }
    let opts = options(&cluster, "127.0.0.1")
        .ssl_mode(SslMode::Require)
        .ssl_negotiation(pgtusk::SslNegotiation::Direct);
    let err = Connection::connect_with(&opts).await.unwrap_err();
    assert!(err.to_string().contains("PostgreSQL 17"), "{err}");
}

/// `sslrootcert=system`: the platform's trusted roots, which do not include the test CA; it
/// means verify-full, and a weaker sslmode with it is refused (libpq 16).
#[tokio::test]
async fn sslrootcert_system_uses_the_platform_roots_and_means_verify_full() {
    let cluster = tls_cluster(ClusterTls::new());
    let opts = options(&cluster, "localhost").ssl_root_cert("system");
    match Connection::connect_with(&opts).await.unwrap_err() {
        Error::Tls(m) => {
            assert!(m.contains("unknown CA"), "{m}");
            assert!(m.contains("platform's trusted roots"), "{m}");
        }
        // A machine without a CA bundle says so.
        Error::Config(m) => assert!(m.contains("found no trusted root certificate"), "{m}"),
        other => panic!("{other:?}"),
    }
    let err = Connection::connect_with(&opts.clone().ssl_mode(SslMode::Require))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("sslrootcert=system")),
        "{err:?}"
    );
}
