//! A SQL_ASCII database does not convert text: with `client_encoding` SQL_ASCII too, errors,
//! notices and column names reach the client as the bytes they were written in, which need
//! not be UTF-8. They arrive decoded lossily (U+FFFD for each bad sequence), the real error
//! keeps its SQLSTATE, and the connection stays usable.
//!
//! (With pgtusk's default `client_encoding` UTF8 the server itself checks what it sends and
//! replaces such a message with its own 22021 error; the same raw bytes also come before the
//! encoding is set up, e.g. a startup FATAL in a non-UTF-8 `lc_messages`.)

use std::sync::{Arc, Mutex};

use pgtusk::{Connection, SqlState};
use pgtusk_tests::{connect, connect_with, shared_options};
use tokio::sync::OnceCell;

/// A database whose encoding is SQL_ASCII (fixed name; created once, kept between runs).
const SQL_ASCII_DB: &str = "pgtusk_test_sql_ascii";

/// The text `caf` followed by the lone byte 0xe9 ("é" in LATIN1; not UTF-8).
const CAFE_LATIN1: &str = "'caf' || convert_from('\\xe9'::bytea, 'SQL_ASCII')";

async fn connect_sql_ascii() -> Connection {
    static CREATED: OnceCell<()> = OnceCell::const_new();
    CREATED
        .get_or_init(|| async {
            let mut conn = connect().await;
            let sql = format!(
                "CREATE DATABASE {SQL_ASCII_DB} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' \
                 TEMPLATE template0"
            );
            match conn.execute(sql.as_str(), &[]).await {
                Ok(_) => {}
                // Left by an earlier run against the same server (DATABASE_URL).
                Err(e) if e.sqlstate() == Some(SqlState::DUPLICATE_DATABASE) => {}
                Err(e) => panic!("cannot create the SQL_ASCII database: {e}"),
            }
        })
        .await;
    let mut conn = connect_with(shared_options().dbname(SQL_ASCII_DB)).await;
    let encoding = conn.fetch_one("SHOW server_encoding", &[]).await.unwrap();
    assert_eq!(encoding.get::<&str>(0), "SQL_ASCII");
    // The server then sends every byte as it is stored.
    conn.execute("SET client_encoding = 'SQL_ASCII'", &[])
        .await
        .unwrap();
    conn
}

async fn assert_usable(conn: &mut Connection) {
    assert!(!conn.is_closed());
    let row = conn.fetch_one("SELECT 41 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<i32>(0), 42);
}

#[tokio::test]
async fn non_utf8_error_message_arrives_with_its_sqlstate() {
    let mut conn = connect_sql_ascii().await;
    let sql =
        format!("DO $$ BEGIN RAISE EXCEPTION '%', {CAFE_LATIN1} USING ERRCODE = '22023'; END $$");
    let err = conn.execute(sql.as_str(), &[]).await.unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(SqlState::INVALID_PARAMETER_VALUE),
        "{err}"
    );
    assert!(!err.is_closed(), "{err}");
    assert_eq!(err.as_db_error().unwrap().message(), "caf\u{fffd}");
    assert_usable(&mut conn).await;
}

#[tokio::test]
async fn non_utf8_notice_reaches_the_handler() {
    let mut conn = connect_sql_ascii().await;
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&notices);
    conn.on_notice(move |notice| seen.lock().unwrap().push(notice.message().to_owned()));
    let sql = format!("DO $$ BEGIN RAISE NOTICE '%', {CAFE_LATIN1}; END $$");
    conn.execute(sql.as_str(), &[]).await.unwrap();
    assert_eq!(*notices.lock().unwrap(), ["caf\u{fffd}"]);
    assert_usable(&mut conn).await;
}

#[tokio::test]
async fn non_utf8_column_name_is_decoded_lossily() {
    let mut conn = connect_sql_ascii().await;
    // A query text is UTF-8, so the alias comes from a view built with dynamic SQL.
    let sql = format!(
        "DO $$ BEGIN EXECUTE format('CREATE TEMP VIEW cafe AS SELECT 7 AS %I', {CAFE_LATIN1}); END $$"
    );
    conn.execute(sql.as_str(), &[]).await.unwrap();
    let row = conn.fetch_one("SELECT * FROM cafe", &[]).await.unwrap();
    assert_eq!(row.columns().get(0).unwrap().name(), "caf\u{fffd}");
    assert_eq!(row.get::<i32>("caf\u{fffd}"), 7);
    assert_usable(&mut conn).await;
}
