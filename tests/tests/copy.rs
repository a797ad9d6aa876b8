//! COPY in and out, raw and typed: formats, errors part-way that leave the connection usable
//! and nothing half-committed, dropped writers and readers, transactions and pooled
//! connections. Every type of the codec tables also goes through a typed COPY
//! (`tests/src/codec_table.rs`).

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt, stream};
use pgtusk::{Connection, Encode, Error, FromRecord, Pool, SqlState, ToRecord, TransactionStatus};
use pgtusk_tests::{connect, options_via, proxy::CountingProxy, shared_options, shared_port};
use tokio::io::AsyncWriteExt;

async fn table(conn: &mut Connection, name: &str) {
    conn.execute_script(&format!(
        "CREATE TEMP TABLE {name} (id int4 PRIMARY KEY, label text, at timestamptz)"
    ))
    .await
    .unwrap();
}

async fn count(conn: &mut Connection, table: &str) -> i64 {
    conn.fetch_value(&*format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
}

/// The connection answers a query, in an idle session.
async fn usable(conn: &mut Connection) {
    let one: i32 = conn.fetch_value("SELECT 1", &[]).await.unwrap();
    assert_eq!(one, 1);
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

async fn copy_out_all(conn: &mut Connection, sql: &str) -> Vec<u8> {
    let mut out = conn.copy_out(sql).await.unwrap();
    let mut data = Vec::new();
    while let Some(chunk) = out.try_next().await.unwrap() {
        data.extend_from_slice(&chunk);
    }
    data
}

#[tokio::test]
async fn raw_text_and_csv_go_in_and_come_out_unchanged() {
    let mut conn = connect().await;
    table(&mut conn, "raw_text").await;
    let text = "1\tone\t\\N\n2\ttab\\there\t2024-01-02 03:04:05+00\n";
    let mut copy = conn.copy_in("COPY raw_text FROM STDIN").await.unwrap();
    assert_eq!((copy.format(), copy.columns()), (0, 3));
    // Rows need not be whole in a piece.
    copy.send(&text.as_bytes()[..7]).await.unwrap();
    copy.send(&text.as_bytes()[7..]).await.unwrap();
    assert_eq!(copy.finish().await.unwrap(), 2);
    conn.execute("SET TimeZone = 'UTC'", &[]).await.unwrap();
    let back = copy_out_all(&mut conn, "COPY raw_text TO STDOUT").await;
    assert_eq!(String::from_utf8(back).unwrap(), text);

    table(&mut conn, "raw_csv").await;
    let csv = "id,label,at\n3,\"quoted, comma\",\n4,\"line\nbreak\",2024-01-02 03:04:05+00\n";
    let mut copy = conn
        .copy_in("COPY raw_csv FROM STDIN (FORMAT csv, HEADER)")
        .await
        .unwrap();
    // Through AsyncWrite, a byte at a time.
    for byte in csv.as_bytes() {
        copy.write_all(std::slice::from_ref(byte)).await.unwrap();
    }
    copy.flush().await.unwrap();
    assert_eq!(copy.finish().await.unwrap(), 2);
    let mut out = conn
        .copy_out("COPY raw_csv TO STDOUT (FORMAT csv, HEADER)")
        .await
        .unwrap();
    let mut back = Vec::new();
    while let Some(chunk) = out.next().await {
        back.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(out.rows_copied(), Some(2));
    assert_eq!(String::from_utf8(back).unwrap(), csv);
    usable(&mut conn).await;
}

#[tokio::test]
async fn raw_binary_in_is_what_binary_out_gives() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE bin_src AS SELECT g AS id, 'row ' || g AS label, NULL::timestamptz AS at FROM generate_series(1, 500) g;
         CREATE TEMP TABLE bin_dst (LIKE bin_src)",
    )
    .await
    .unwrap();
    let data = copy_out_all(&mut conn, "COPY bin_src TO STDOUT (FORMAT binary)").await;
    assert!(data.starts_with(pgtusk::protocol::copy_binary::SIGNATURE));
    let mut copy = conn
        .copy_in("COPY bin_dst FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    assert_eq!(copy.format(), 1);
    for piece in data.chunks(1000) {
        copy.send(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    assert_eq!(copy.finish().await.unwrap(), 500);
    let differing: i64 = conn
        .fetch_value(
            "SELECT count(*) FROM (SELECT * FROM bin_src EXCEPT SELECT * FROM bin_dst) d",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(differing, 0);
}

#[tokio::test]
async fn typed_rows_in_and_out() {
    let mut conn = connect().await;
    table(&mut conn, "typed").await;
    let at = chrono::DateTime::parse_from_rfc3339("2024-05-06T07:08:09.123456Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let rows: Vec<(i32, Option<String>, Option<chrono::DateTime<chrono::Utc>>)> = (0..2500)
        .map(|i| {
            (
                i,
                (i % 3 != 0).then(|| format!("label {i} ünïcode")),
                (i % 2 == 0).then_some(at),
            )
        })
        .collect();
    let copied = conn
        .copy_in_rows("typed", &["id", "label", "at"], rows.iter())
        .await
        .unwrap();
    assert_eq!(copied, 2500);
    // The server as oracle: what it stored, read by a query.
    let stored: Vec<(i32, Option<String>, Option<chrono::DateTime<chrono::Utc>>)> = conn
        .fetch_as("SELECT id, label, at FROM typed ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(stored, rows);
    // And read back through COPY, as records and as tuples.
    let back: Vec<(i32, Option<String>, Option<chrono::DateTime<chrono::Utc>>)> = conn
        .copy_out_as("SELECT id, label, at FROM typed ORDER BY id;")
        .await
        .unwrap();
    assert_eq!(back, rows);
    let mut records = conn.copy_out_rows("TABLE typed").await.unwrap();
    assert_eq!(records.columns().len(), 3);
    let mut n = 0;
    while let Some(record) = records.try_next().await.unwrap() {
        let id: i32 = record.get("id");
        assert_eq!(
            record.get::<Option<&str>>("label"),
            rows[id as usize].1.as_deref()
        );
        n += 1;
    }
    assert_eq!((n, records.rows_copied()), (2500, Some(2500)));
    usable(&mut conn).await;
}

#[tokio::test]
async fn columns_default_to_every_column_and_a_writer_takes_rows_one_by_one() {
    let mut conn = connect().await;
    table(&mut conn, "writer").await;
    // No columns named and a tuple: every column of the table, in order.
    let none: Option<chrono::DateTime<chrono::Utc>> = None;
    let copied = conn
        .copy_in_rows("writer", &[], [(1, "a", none), (2, "b", none)])
        .await
        .unwrap();
    assert_eq!(copied, 2);
    let mut writer = conn
        .copy_in_writer::<(i32, &str)>("writer", &["id", "label"])
        .await
        .unwrap();
    for i in 3..=1000 {
        writer.write(&(i, "w")).await.unwrap();
    }
    assert_eq!(writer.rows_written(), 998);
    assert_eq!(writer.finish().await.unwrap(), 998);
    // Rows from a stream, and arrays of &dyn Encode.
    let rows = stream::iter(1001..=1100).map(|i: i32| (i, format!("s{i}")));
    let copied = conn
        .copy_in_stream("writer", &["id", "label"], rows)
        .await
        .unwrap();
    assert_eq!(copied, 100);
    let (id, label): (i32, &str) = (1101, "dyn");
    let copied = conn
        .copy_in_rows(
            "writer",
            &["id", "label"],
            [[&id as &(dyn Encode + Sync), &label]],
        )
        .await
        .unwrap();
    assert_eq!(copied, 1);
    assert_eq!(count(&mut conn, "writer").await, 1101);
}

#[tokio::test]
async fn a_wrong_rust_type_names_the_column_and_nothing_is_sent() {
    let proxy = CountingProxy::start(shared_port()).await;
    let mut conn = Connection::connect_with(&options_via(proxy.port()))
        .await
        .unwrap();
    table(&mut conn, "wrong_type").await;
    proxy.reset();
    let err = conn
        .copy_in_rows("wrong_type", &["id", "label"], [(1i64, "int8 for int4")])
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Encode(_)), "{err:?}");
    assert!(
        message.contains("row 0") && message.contains("column \"id\"") && message.contains("i64"),
        "{message}"
    );
    let traffic = proxy.traffic();
    assert_eq!(traffic.count(b'Q'), 0, "no COPY started: {traffic:?}");
    assert_eq!(traffic.count(b'd'), 0, "no data sent: {traffic:?}");
    // Too few values for the columns, found on the first row too.
    let err = conn
        .copy_in_rows("wrong_type", &["id", "label"], [(1i32,)])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("1 value(s) but goes to 2 column(s)"),
        "{err}"
    );
    // A misfit in a later row rolls the whole COPY back.
    let rows = (0..5000).map(|i| {
        let label: &(dyn Encode + Sync) = if i == 4321 { &1.5f64 } else { &"ok" };
        [&1i32 as &(dyn Encode + Sync), label]
    });
    let ids: Vec<i32> = (0..5000).collect();
    let rows = rows
        .zip(&ids)
        .map(|([_, label], id)| [id as &(dyn Encode + Sync), label]);
    let err = conn
        .copy_in_rows("wrong_type", &["id", "label"], rows)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row 4321"), "{err}");
    assert_eq!(count(&mut conn, "wrong_type").await, 0);
    usable(&mut conn).await;
}

#[tokio::test]
async fn a_constraint_violation_part_way_keeps_nothing_and_the_connection() {
    let mut conn = connect().await;
    table(&mut conn, "dupes").await;
    // Row 150,000 repeats id 7: the server fails the COPY while we are still sending.
    let rows = (0..300_000).map(|i| (if i == 150_000 { 7 } else { i }, "x"));
    let err = conn
        .copy_in_rows("dupes", &["id", "label"], rows)
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION), "{err}");
    assert_eq!(count(&mut conn, "dupes").await, 0);
    usable(&mut conn).await;

    // Raw: the error comes from a send, or at the latest from finish.
    let mut copy = conn.copy_in("COPY dupes (id) FROM STDIN").await.unwrap();
    let mut failed = None;
    for chunk in 0..200 {
        let lines: String = (0..1000)
            .map(|i| format!("{}\n", (chunk * 1000 + i) % 1500))
            .collect();
        if let Err(e) = copy.send(lines).await {
            failed = Some(e);
            break;
        }
    }
    let err = match failed {
        Some(e) => {
            // Later calls say the copy is over.
            let again = copy.send("1\n").await.unwrap_err();
            assert!(again.to_string().contains("already ended"), "{again}");
            assert!(copy.finish().await.is_err());
            e
        }
        None => copy.finish().await.unwrap_err(),
    };
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION), "{err}");
    assert_eq!(count(&mut conn, "dupes").await, 0);
    usable(&mut conn).await;
}

#[tokio::test]
async fn dropped_writers_and_abort_roll_back_and_leave_the_connection_usable() {
    let mut conn = connect().await;
    table(&mut conn, "dropped").await;
    let mut copy = conn.copy_in("COPY dropped (id) FROM STDIN").await.unwrap();
    copy.send("1\n2\n").await.unwrap();
    drop(copy);
    assert_eq!(count(&mut conn, "dropped").await, 0);

    let mut writer = conn
        .copy_in_writer::<(i32,)>("dropped", &["id"])
        .await
        .unwrap();
    for i in 0..100_000 {
        writer.write(&(i,)).await.unwrap();
    }
    drop(writer);
    assert_eq!(count(&mut conn, "dropped").await, 0);

    // A send dropped half-way (a timeout around it).
    let mut copy = conn.copy_in("COPY dropped (id) FROM STDIN").await.unwrap();
    let big: String = (0..400_000).map(|i| format!("{i}\n")).collect();
    let _ = tokio::time::timeout(Duration::from_micros(50), copy.send(&big)).await;
    drop(copy);
    assert_eq!(count(&mut conn, "dropped").await, 0);

    let mut copy = conn.copy_in("COPY dropped (id) FROM STDIN").await.unwrap();
    copy.send("1\n").await.unwrap();
    copy.abort("changed my mind").await.unwrap();
    let writer = conn
        .copy_in_writer::<(i32,)>("dropped", &["id"])
        .await
        .unwrap();
    writer.abort().await.unwrap();
    assert_eq!(count(&mut conn, "dropped").await, 0);
    usable(&mut conn).await;
}

#[tokio::test]
async fn a_dropped_reader_is_cancelled_and_drained() {
    let mut conn = connect().await;
    let mut out = conn
        .copy_out("COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 50000000) g) TO STDOUT")
        .await
        .unwrap();
    for _ in 0..10 {
        out.try_next().await.unwrap().unwrap();
    }
    drop(out);
    let started = Instant::now();
    usable(&mut conn).await;
    // Fifty million rows take minutes; cancelled, the next query waits for the cancel only.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    let mut rows = conn
        .copy_out_rows("SELECT g FROM generate_series(1, 50000000) g")
        .await
        .unwrap();
    rows.try_next().await.unwrap().unwrap();
    drop(rows);
    usable(&mut conn).await;
}

#[tokio::test]
async fn copy_inside_a_transaction_is_undone_with_it() {
    let mut conn = connect().await;
    conn.execute_script("CREATE TABLE IF NOT EXISTS copy_tx (id int4 PRIMARY KEY)")
        .await
        .unwrap();
    conn.execute_script("TRUNCATE copy_tx").await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    let copied = tx
        .copy_in_rows("copy_tx", &["id"], (0..1000).map(|i: i32| (i,)))
        .await
        .unwrap();
    assert_eq!(copied, 1000);
    // A failing COPY fails the transaction; its earlier COPY goes with it.
    let err = tx
        .copy_in_rows("copy_tx", &["id"], [(1i32,)])
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNIQUE_VIOLATION));
    assert_eq!(tx.transaction_status(), TransactionStatus::Failed);
    tx.rollback().await.unwrap();
    assert_eq!(count(&mut conn, "copy_tx").await, 0);

    // A writer dropped inside a transaction that is then committed: the commit fails.
    let mut tx = conn.transaction().await.unwrap();
    let mut copy = tx.copy_in("COPY copy_tx FROM STDIN").await.unwrap();
    copy.send("5\n").await.unwrap();
    drop(copy);
    assert!(tx.commit().await.is_err());
    assert_eq!(count(&mut conn, "copy_tx").await, 0);
    conn.execute_script("DROP TABLE copy_tx").await.unwrap();
}

#[tokio::test]
async fn copy_on_a_pooled_connection() {
    let pool = Pool::builder(shared_options())
        .max_connections(1)
        .build()
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    table(&mut conn, "pooled_copy").await;
    let copied = conn
        .copy_in_rows("pooled_copy", &["id"], (0..10).map(|i: i32| (i,)))
        .await
        .unwrap();
    assert_eq!(copied, 10);
    // A writer dropped, then the connection released: the pool cleans it before reuse.
    let mut writer = conn
        .copy_in_writer::<(i32,)>("pooled_copy", &["id"])
        .await
        .unwrap();
    writer.write(&(99,)).await.unwrap();
    drop(writer);
    drop(conn);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(count(&mut conn, "pooled_copy").await, 10);
    let ids: Vec<(i32,)> = conn
        .copy_out_as("SELECT id FROM pooled_copy ORDER BY id")
        .await
        .unwrap();
    assert_eq!(ids.len(), 10);
}

#[tokio::test]
async fn misuse_is_a_clear_error_and_the_connection_stays_usable() {
    let mut conn = connect().await;
    table(&mut conn, "misuse").await;
    // Not a COPY at all.
    let err = conn.copy_in("SELECT 1").await.unwrap_err();
    assert!(
        err.to_string().contains("copy_in runs COPY ... FROM STDIN"),
        "{err}"
    );
    let err = conn.copy_out("SELECT 1").await.unwrap_err();
    assert!(
        err.to_string().contains("copy_out runs COPY ... TO STDOUT"),
        "{err}"
    );
    // The other direction.
    let err = conn.copy_in("COPY misuse TO STDOUT").await.unwrap_err();
    assert!(err.to_string().contains("FROM STDIN"), "{err}");
    let err = conn.copy_out("COPY misuse FROM STDIN").await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::QUERY_CANCELED), "{err}");
    // COPY FROM STDIN through a query method.
    let err = conn
        .execute("COPY misuse FROM STDIN", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("COPY API"), "{err}");
    // The server's own error.
    let err = conn
        .copy_in("COPY no_such_table FROM STDIN")
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::UNDEFINED_TABLE));
    // Typed COPY out: parameters, and a column pgtusk reads as text.
    let err = conn
        .copy_out_rows("SELECT id FROM misuse WHERE id = $1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot bind parameters"), "{err}");
    let err = conn
        .copy_out_rows("SELECT '1 2'::int2vector AS v")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("column \"v\""), "{err}");
    // Malformed binary data from the client is the server's error, not a broken connection.
    let mut copy = conn
        .copy_in("COPY misuse FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let mut junk = BytesMut::new();
    junk.put_slice(b"not a binary copy");
    copy.send(junk).await.unwrap();
    assert_eq!(
        copy.finish().await.unwrap_err().sqlstate(),
        Some(SqlState::BAD_COPY_FILE_FORMAT)
    );
    usable(&mut conn).await;
}

#[derive(Debug, Clone, PartialEq, ToRecord, FromRecord)]
struct Place {
    lat: f64,
    lon: f64,
}

#[derive(Debug, Clone, PartialEq, ToRecord, FromRecord)]
#[record(rename_all = "camelCase")]
struct Visit {
    visit_id: i64,
    #[record(rename = "who")]
    visitor: String,
    #[record(flatten)]
    place: Place,
    #[record(json)]
    tags: Vec<String>,
    #[record(skip)]
    cached: Option<u8>,
}

#[tokio::test]
async fn derived_structs_name_their_columns_and_come_back_out() {
    let mut conn = connect().await;
    conn.execute_script(
        r#"CREATE TEMP TABLE visits ("visitId" int8 PRIMARY KEY, who text, lat float8, lon float8, tags jsonb, extra text DEFAULT 'x')"#,
    )
    .await
    .unwrap();
    let visits: Vec<Visit> = (0..3000)
        .map(|i| Visit {
            visit_id: i,
            visitor: format!("visitor \"{i}\""),
            place: Place {
                lat: i as f64 / 7.0,
                lon: -(i as f64),
            },
            tags: vec![format!("t{i}"), "both".into()],
            cached: None,
        })
        .collect();
    // No columns named: the struct's own (renamed, flattened, json; the skipped one left out).
    let copied = conn.copy_in_rows("visits", &[], &visits).await.unwrap();
    assert_eq!(copied, 3000);
    let extra: i64 = conn
        .fetch_value(
            "SELECT count(*) FROM visits WHERE extra = 'x' AND tags ? 'both'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        extra, 3000,
        "columns the struct does not name keep their defaults"
    );
    let back: Vec<Visit> = conn
        .copy_out_as(r#"SELECT "visitId", who, lat, lon, tags FROM visits ORDER BY "visitId""#)
        .await
        .unwrap();
    assert_eq!(back, visits);
    // A struct whose field has the wrong type for its column names the column.
    #[derive(ToRecord)]
    struct Wrong {
        #[record(rename = "visitId")]
        id: i32,
    }
    let err = conn
        .copy_in_rows("visits", &[], [Wrong { id: 1 }])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("column \"visitId\""), "{err}");
    usable(&mut conn).await;
}
