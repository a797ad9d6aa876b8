//! Every query method against a real server: results, NULLs, empty results, errors, streaming.

use futures_util::TryStreamExt;
use pgtusk::{Error, TransactionStatus};

/// How these tests connect: straight to the test server. `queries_split.rs` compiles this
/// file as a module, and there `crate::route` is its own: a connection through a proxy that
/// splits every write into 1-byte pieces.
#[allow(dead_code, unused_imports)]
mod route {
    pub use pgtusk_tests::connect;
}
use crate::route::connect;

#[tokio::test]
async fn fetch_returns_every_row_with_names_and_types() {
    let mut conn = connect().await;
    let rows = conn
        .fetch(
            "SELECT g AS n, g::text AS s FROM generate_series(1, 3) g ORDER BY g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let columns = rows[0].columns();
    assert_eq!(columns.len(), 2);
    assert_eq!(columns.get(0).unwrap().name(), "n");
    assert_eq!(*columns.get(0).unwrap().type_(), pgtusk::Type::INT4);
    assert_eq!(columns.get(1).unwrap().type_().name(), "text");
    let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get("n"), r.get(1))).collect();
    assert_eq!(got, vec![(1, "1".into()), (2, "2".into()), (3, "3".into())]);
}

#[tokio::test]
async fn parameters_are_bound_in_binary() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one(
            "SELECT $1::int2 + 1::int2, $2::int4 * 2, $3::int8 - 1, $4::float4, $5::float8, $6::bool, $7::text, $8::bytea",
            &[&1i16, &21i32, &(i64::MAX), &1.5f32, &-0.25f64, &true, &"héllo", &vec![0u8, 255]],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<i16>(0), 2);
    assert_eq!(row.get::<i32>(1), 42);
    assert_eq!(row.get::<i64>(2), i64::MAX - 1);
    assert_eq!(row.get::<f32>(3), 1.5);
    assert_eq!(row.get::<f64>(4), -0.25);
    assert!(row.get::<bool>(5));
    assert_eq!(row.get::<&str>(6), "héllo");
    assert_eq!(row.get::<&[u8]>(7), &[0u8, 255]);
}

#[tokio::test]
async fn null_decodes_into_option_and_is_an_error_otherwise() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one("SELECT NULL::int4 AS missing", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<Option<i32>>("missing"), None);
    let err = row.try_get::<i32>("missing").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    assert!(
        msg.contains("\"missing\"") && msg.contains("NULL") && msg.contains("Option"),
        "{msg}"
    );
    let none: Option<i64> = None;
    let back: Option<i64> = conn.fetch_value("SELECT $1::int8", &[&none]).await.unwrap();
    assert_eq!(back, None);
}

#[tokio::test]
async fn decode_errors_name_the_column_and_both_types() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one("SELECT 'x'::text AS label", &[])
        .await
        .unwrap();
    let msg = row.try_get::<i32>("label").unwrap_err().to_string();
    assert!(
        msg.contains("label") && msg.contains("text") && msg.contains("i32"),
        "{msg}"
    );
    let msg = row.try_get::<i32>("nope").unwrap_err().to_string();
    assert!(msg.contains("nope") && msg.contains("label"), "{msg}");
    let msg = row.try_get::<i32>(5).unwrap_err().to_string();
    assert!(msg.contains('5'), "{msg}");
}

#[tokio::test]
async fn empty_results() {
    let mut conn = connect().await;
    assert!(
        conn.fetch("SELECT 1 WHERE false", &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        conn.fetch_optional("SELECT 1 WHERE false", &[])
            .await
            .unwrap()
            .is_none()
    );
    let err = conn
        .fetch_one("SELECT 1 WHERE false", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no rows"), "{err}");
    assert_eq!(conn.execute("", &[]).await.unwrap(), 0);
}

#[tokio::test]
async fn fetch_one_and_optional_take_the_first_row() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one("SELECT g FROM generate_series(7, 1000) g", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<i32>(0), 7);
    let row = conn
        .fetch_optional("SELECT g FROM generate_series(8, 1000) g", &[])
        .await
        .unwrap();
    assert_eq!(row.unwrap().get::<i32>(0), 8);
    // The connection is in a clean state afterwards.
    assert_eq!(conn.fetch_value::<i32>("SELECT 1", &[]).await.unwrap(), 1);
}

#[tokio::test]
async fn execute_counts_rows_and_scripts_run_many_statements() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE items (id int PRIMARY KEY, name text); \
         INSERT INTO items VALUES (1, 'a'), (2, 'b'); \
         INSERT INTO items VALUES (3, 'c');",
    )
    .await
    .unwrap();
    assert_eq!(
        conn.execute(
            "UPDATE items SET name = upper(name) WHERE id < $1",
            &[&3i32]
        )
        .await
        .unwrap(),
        2
    );
    assert_eq!(
        conn.execute("DELETE FROM items WHERE id = $1", &[&3i32])
            .await
            .unwrap(),
        1
    );
    assert_eq!(conn.execute("SELECT * FROM items", &[]).await.unwrap(), 2);
    let err = conn
        .execute_script("SELECT 1; SELECT missing_column FROM items; SELECT 3")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing_column"), "{err}");
    assert_eq!(
        conn.fetch_value::<i64>("SELECT count(*) FROM items", &[])
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn prepare_exposes_parameter_types_and_columns() {
    let mut conn = connect().await;
    let stmt = conn
        .prepare("SELECT $1::int8 AS big, $2::text AS label")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[pgtusk::Type::INT8, pgtusk::Type::TEXT]);
    let names: Vec<&str> = stmt.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["big", "label"]);
    let row = conn.fetch_one(&stmt, &[&5i64, &"five"]).await.unwrap();
    assert_eq!(
        (row.get::<i64>("big"), row.get::<String>("label")),
        (5, "five".to_owned())
    );
    let n = conn.execute(&stmt, &[&1i64, &"x"]).await.unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn wrong_parameter_count_and_type_fail_before_sending() {
    let mut conn = connect().await;
    let err = conn.fetch("SELECT $1::int4", &[]).await.unwrap_err();
    assert!(
        matches!(err, Error::Interface(_)) && err.to_string().contains("1 parameter"),
        "{err}"
    );
    let err = conn
        .fetch("SELECT $1::int4", &[&"seven"])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Encode(_)), "{err:?}");
    assert!(
        msg.contains("$1") && msg.contains("&str") && msg.contains("int4"),
        "{msg}"
    );
    let err = conn
        .fetch("SELECT $1::text", &[&"nul\0byte"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
    assert_eq!(
        conn.fetch_value::<i32>("SELECT $1::int4", &[&7i32])
            .await
            .unwrap(),
        7
    );
}

#[tokio::test]
async fn server_errors_keep_their_fields_and_leave_the_connection_usable() {
    let mut conn = connect().await;
    let err = conn.fetch("SELECT 1/0", &[]).await.unwrap_err();
    let db = match &err {
        Error::Db(db) => db,
        other => panic!("expected a server error, got {other:?}"),
    };
    assert_eq!(db.code().code(), "22012");
    assert!(err.to_string().contains("division by zero"), "{err}");
    let err = conn.fetch("SELEC 1", &[]).await.unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
    assert_eq!(conn.fetch_value::<i32>("SELECT 2", &[]).await.unwrap(), 2);
}

#[tokio::test]
async fn duplicate_column_names_stay_reachable_by_index() {
    let mut conn = connect().await;
    let row = conn.fetch_one("SELECT 1 AS x, 2 AS x", &[]).await.unwrap();
    assert_eq!(row.get::<i32>("x"), 1);
    assert_eq!(row.get::<i32>(1), 2);
    assert_eq!(row.len(), 2);
}

#[tokio::test]
async fn text_only_types_decode_as_strings() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one("SELECT '(1,2)'::tid AS t, 'a & b'::tsquery AS q", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<String>("t"), "(1,2)");
    assert_eq!(row.get::<&str>("q"), "'a' & 'b'");
}

#[tokio::test]
async fn streams_a_million_rows_with_bounded_memory() {
    let mut conn = connect().await;
    let rss_before = resident_kib();
    let mut peak = rss_before;
    let mut rows = conn
        .fetch_stream(
            "SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 1000000) g",
            &[],
        )
        .await
        .unwrap();
    let (mut count, mut sum) = (0u64, 0i64);
    while let Some(row) = rows.try_next().await.unwrap() {
        count += 1;
        sum += i64::from(row.get::<i32>(0));
        assert_eq!(row.get::<&str>(1).len(), 200);
        if count % 50_000 == 0 {
            peak = peak.max(resident_kib());
        }
    }
    assert_eq!(rows.rows_affected(), Some(1_000_000));
    assert_eq!((count, sum), (1_000_000, 500_000_500_000));
    // Buffered, these rows would take over 200 MiB; streamed, a few read buffers.
    assert!(
        peak - rss_before < 64 * 1024,
        "resident memory grew by {} KiB",
        peak - rss_before
    );
}

#[tokio::test]
async fn a_server_error_mid_stream_ends_the_stream_and_the_connection_stays_usable() {
    let mut conn = connect().await;
    let mut rows = conn
        .fetch_stream(
            "SELECT 1 / (1000 - g) FROM generate_series(1, 100000) g",
            &[],
        )
        .await
        .unwrap();
    let mut seen = 0;
    let err = loop {
        match rows.try_next().await {
            Ok(Some(_)) => seen += 1,
            Ok(None) => panic!("the stream ended without the division error"),
            Err(e) => break e,
        }
    };
    assert!((1..1000).contains(&seen), "{seen} rows before the error");
    assert!(err.to_string().contains("division by zero"), "{err}");
    assert!(rows.try_next().await.unwrap().is_none());
    drop(rows);
    assert_eq!(conn.fetch_value::<i32>("SELECT 3", &[]).await.unwrap(), 3);
}

#[tokio::test]
async fn transaction_status_follows_the_server() {
    let mut conn = connect().await;
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    conn.execute("BEGIN", &[]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
    let _ = conn.execute("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(conn.transaction_status(), TransactionStatus::Failed);
    conn.execute("ROLLBACK", &[]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn server_parameters_and_notices() {
    use std::sync::{Arc, Mutex};
    let mut conn = connect().await;
    assert!(
        conn.server_version_num().unwrap() >= 100000,
        "{}",
        conn.server_version()
    );
    assert_eq!(conn.parameter("client_encoding"), Some("UTF8"));
    assert!(conn.backend_pid() > 0);
    assert_eq!(
        conn.fetch_value::<i32>("SELECT pg_backend_pid()", &[])
            .await
            .unwrap(),
        conn.backend_pid()
    );
    conn.execute("SET application_name = 'tusk_test'", &[])
        .await
        .unwrap();
    assert_eq!(conn.parameter("application_name"), Some("tusk_test"));
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = notices.clone();
    conn.on_notice(move |n| seen.lock().unwrap().push(n.message().to_owned()));
    conn.execute_script("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$")
        .await
        .unwrap();
    assert_eq!(*notices.lock().unwrap(), ["hello from plpgsql"]);
}

#[tokio::test]
async fn copy_from_stdin_through_a_query_method_is_refused_cleanly() {
    let mut conn = connect().await;
    conn.execute("CREATE TEMP TABLE sink (x int)", &[])
        .await
        .unwrap();
    let err = conn.execute("COPY sink FROM STDIN", &[]).await.unwrap_err();
    assert!(err.to_string().contains("COPY"), "{err}");
    assert_eq!(conn.fetch_value::<i32>("SELECT 4", &[]).await.unwrap(), 4);
}

#[tokio::test]
async fn close_terminates_the_session() {
    let conn = connect().await;
    let pid = conn.backend_pid();
    conn.close().await.unwrap();
    let mut other = connect().await;
    for _ in 0..50 {
        let alive: i64 = other
            .fetch_value(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .await
            .unwrap();
        if alive == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("backend {pid} is still alive after close()");
}

/// The process's resident set size in KiB, from /proc.
fn resident_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn narrow_and_wide_rows_decode_every_column() {
    let mut conn = connect().await;
    for width in [1usize, 7, 8, 9, 40] {
        let columns: Vec<String> = (0..width)
            .map(|i| {
                if i % 3 == 2 {
                    format!("NULL::int4 AS c{i}")
                } else {
                    format!("{i}::int4 AS c{i}")
                }
            })
            .collect();
        let row = conn
            .fetch_one(&format!("SELECT {}", columns.join(", ")), &[])
            .await
            .unwrap();
        assert_eq!(row.len(), width);
        for i in 0..width {
            let expected = (i % 3 != 2).then_some(i as i32);
            assert_eq!(
                row.get::<Option<i32>>(i),
                expected,
                "width {width}, column {i}"
            );
            assert_eq!(row.get::<Option<i32>>(format!("c{i}")), expected);
        }
    }
}

#[tokio::test]
async fn in_parameter_syntax_error_says_to_use_any() {
    let mut conn = connect().await;
    let err = conn
        .fetch("SELECT 1 WHERE 1 IN $1", &[&vec![1i32]])
        .await
        .unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(pgtusk::SqlState::SYNTAX_ERROR),
        "{err}"
    );
    let db = err.as_db_error().unwrap();
    assert!(db.message().contains("syntax error"), "{err}");
    let hint = db
        .driver_hint()
        .unwrap_or_else(|| panic!("no pgtusk hint: {err}"));
    assert!(hint.contains("`= ANY($1::T[])`"), "{hint}");
    assert!(err.to_string().contains(hint), "{err}");
    // The form the hint suggests works.
    let rows = conn
        .fetch("SELECT 1 WHERE 1 = ANY($1::int4[])", &[&vec![1i32]])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

#[tokio::test]
async fn decode_error_keeps_the_decoders_error_as_its_source() {
    use std::error::Error as _;

    let mut conn = connect().await;
    let row = conn
        .fetch_one("SELECT NULL::int4 AS missing", &[])
        .await
        .unwrap();
    let err = row.try_get::<i32>("missing").unwrap_err();
    let source = err.source().unwrap_or_else(|| panic!("no source: {err}"));
    assert!(source.is::<pgtusk::types::UnexpectedNull>(), "{source:?}");
}
