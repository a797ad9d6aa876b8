//! A fake server that sends broken bytes: every case is a clear error, never a panic or a hang.
//!
//! Here (and in the hostile rows of `bad_inputs.rs`) the peer is not a real PostgreSQL: the
//! point is to send what a real server never would. The message builders are shared in
//! `pgtusk_tests::fake_server`.

use std::time::Duration;

use pgtusk::{Connection, Error};
use pgtusk_tests::fake_server::{auth_ok, handshake, msg, prepare_reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Accepts one client, reads its startup message, answers with `after_startup`; then, for
/// each later client request, answers with `after_query`, and finally closes the socket.
async fn fake_server(after_startup: Vec<u8>, after_query: Option<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let _ = socket.read(&mut buf).await;
        let _ = socket.write_all(&after_startup).await;
        if let Some(reply) = after_query {
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(&reply).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    port
}

async fn connect_to(port: u16) -> pgtusk::Result<Connection> {
    let dsn = format!("postgres://fake@127.0.0.1:{port}/fake?connect_timeout=5&sslmode=disable");
    tokio::time::timeout(Duration::from_secs(10), Connection::connect(&dsn))
        .await
        .expect("connect hung")
}

async fn expect_startup_error(bytes: Vec<u8>) -> Error {
    let port = fake_server(bytes, None).await;
    connect_to(port)
        .await
        .expect_err("a broken handshake must fail")
}

#[tokio::test]
async fn unknown_message_tag_is_a_protocol_error() {
    let mut bytes = auth_ok();
    bytes.extend(msg(b'!', b"what"));
    let err = expect_startup_error(bytes).await;
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn impossible_length_is_a_protocol_error() {
    let err = expect_startup_error(vec![b'R', 0, 0, 0, 2]).await;
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn oversized_length_is_refused_before_allocating() {
    let err = expect_startup_error(vec![b'D', 0x7f, 0xff, 0xff, 0xff]).await;
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("limit"), "{err}");
}

#[tokio::test]
async fn truncated_message_then_close_is_an_io_error() {
    let mut bytes = auth_ok();
    bytes.extend(&msg(b'K', &[0, 0, 0, 7, 0, 0, 0, 9])[..6]);
    let err = expect_startup_error(bytes).await;
    assert!(matches!(err, Error::Io(_)), "{err:?}");
}

#[tokio::test]
async fn malformed_authentication_body_is_a_protocol_error() {
    let err = expect_startup_error(msg(b'R', &[0, 0, 0, 5, 1])).await;
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn message_out_of_place_is_a_protocol_error() {
    let mut bytes = auth_ok();
    bytes.extend(msg(b'2', b""));
    let err = expect_startup_error(bytes).await;
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn unsupported_authentication_is_an_auth_error() {
    let err = expect_startup_error(msg(b'R', &7u32.to_be_bytes())).await;
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
}

#[tokio::test]
async fn bad_data_row_is_a_protocol_error_and_breaks_the_connection() {
    let reply = prepare_reply();
    let port = fake_server(handshake(), Some(reply)).await;
    let mut conn = connect_to(port).await.unwrap();
    // The prepare succeeds; the fake server then closes, so the query cannot succeed either way:
    // what matters is a clear error and a connection marked closed.
    let err = conn.fetch("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Io(_) | Error::Protocol(_)), "{err:?}");
    assert!(conn.is_closed());
    assert!(matches!(
        conn.fetch("SELECT 1", &[]).await.unwrap_err(),
        Error::Closed
    ));
}

/// Runs `SELECT 1` against a fake server that prepares it (one int4 column) and then answers
/// the Bind with `bind_reply`; returns the query's error and whether the connection is closed.
async fn query_answered_with(bind_reply: Vec<u8>) -> (Error, bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let _ = socket.read(&mut buf).await;
        socket.write_all(&handshake()).await.unwrap();
        let _ = socket.read(&mut buf).await;
        socket.write_all(&prepare_reply()).await.unwrap();
        let _ = socket.read(&mut buf).await;
        socket.write_all(&bind_reply).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let mut conn = connect_to(port).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), conn.fetch("SELECT 1", &[]))
        .await
        .unwrap()
        .unwrap_err();
    (err, conn.is_closed())
}

#[tokio::test]
async fn data_row_with_lengths_past_the_end_is_a_protocol_error() {
    // BindComplete, then a DataRow claiming a 1000-byte field in 4 bytes.
    let mut reply = msg(b'2', b"");
    reply.extend(msg(b'D', &[0, 1, 0, 0, 0x03, 0xe8, 1, 2, 3, 4]));
    let (err, closed) = query_answered_with(reply).await;
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert!(closed);
}

#[tokio::test]
async fn data_row_with_more_values_than_columns_is_a_protocol_error() {
    // BindComplete, then two int4 values for a one-column statement.
    let mut reply = msg(b'2', b"");
    reply.extend(msg(
        b'D',
        &[0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2],
    ));
    let (err, closed) = query_answered_with(reply).await;
    assert!(
        matches!(err, Error::Protocol(_)) && err.to_string().contains("2 values"),
        "{err:?}"
    );
    assert!(closed);
}
