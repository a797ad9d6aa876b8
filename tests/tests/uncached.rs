//! Uncached SQL (`statement_cache_size=0`, as behind a transaction-pooling pgbouncer): the
//! first run of a text describes it (two round trips), every later run is one write of
//! Parse + Bind + Describe + Execute + Sync (one round trip), and the answers are the same.
//!
//! Round trips are counted at a proxy: a Sync or a Flush each ends a round trip (the client
//! waits for the answer), and so does a simple Query (a pg_type lookup).

use std::fmt::Debug;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use pgtusk::{ConnectOptions, Connection, Decode, Encode, Error, FromRecord, SqlState};
use pgtusk_tests::proxy::{CountingProxy, Traffic};
use pgtusk_tests::{options_via, shared_port};
use rust_decimal::Decimal;
use uuid::Uuid;

/// A connection with statement_cache_size 0 through a counting proxy.
async fn counted() -> (CountingProxy, Connection) {
    let proxy = CountingProxy::start(shared_port()).await;
    let options: ConnectOptions = options_via(proxy.port()).statement_cache_size(0);
    let conn = Connection::connect_with(&options).await.unwrap();
    (proxy, conn)
}

/// Round trips in `traffic`: each Sync, Flush and simple Query waits for its answer.
fn round_trips(traffic: &Traffic) -> usize {
    traffic.count(b'S') + traffic.count(b'H') + traffic.count(b'Q')
}

#[tokio::test]
async fn a_described_query_is_one_write_of_parse_bind_describe_execute_sync() {
    let (proxy, mut conn) = counted().await;
    let sql = "SELECT $1::int4 + 1 AS next";
    proxy.reset();
    assert_eq!(
        conn.fetch_one(sql, &[&1i32]).await.unwrap().get::<i32>(0),
        2
    );
    let first = proxy.traffic();
    assert_eq!(first.tags(), "PDHBES", "the first run describes: {first:?}");
    assert_eq!(round_trips(&first), 2, "{first:?}");

    proxy.reset();
    for i in 0..10i32 {
        let row = conn.fetch_one(sql, &[&i]).await.unwrap();
        assert_eq!(row.get::<i32>("next"), i + 1);
    }
    let traffic = proxy.traffic();
    assert_eq!(traffic.tags(), "PDBES".repeat(10), "{traffic:?}");
    assert_eq!(
        round_trips(&traffic),
        10,
        "one round trip per query: {traffic:?}"
    );
    assert_eq!(traffic.client_reads, 10, "one write per query: {traffic:?}");

    // Every query method takes the same path.
    proxy.reset();
    assert_eq!(conn.fetch_value::<i32>(sql, &[&5i32]).await.unwrap(), 6);
    assert_eq!(conn.fetch(sql, &[&6i32]).await.unwrap()[0].get::<i32>(0), 7);
    assert_eq!(conn.execute(sql, &[&7i32]).await.unwrap(), 1);
    let row = conn.fetch_optional(sql, &[&8i32]).await.unwrap().unwrap();
    assert_eq!(row.get::<i32>(0), 9);
    let traffic = proxy.traffic();
    assert_eq!(traffic.tags(), "PDBES".repeat(4), "{traffic:?}");

    // Nothing is left on the server: a pgbouncer may hand the next request to another backend.
    let named: i64 = conn
        .fetch_value("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    assert_eq!(named, 0);
}

/// Runs `SELECT $1::ty, $1::ty::text` for each value (and NULL): the first run describes, every
/// other is one round trip, and each value comes back as sent.
async fn round_trip<T>(proxy: &CountingProxy, conn: &mut Connection, ty: &str, values: Vec<T>)
where
    T: Encode + Sync + for<'r> Decode<'r> + PartialEq + Debug,
{
    let sql = format!("SELECT $1::{ty} AS v, $1::{ty}::text AS t");
    proxy.reset();
    for value in &values {
        let row = conn
            .fetch_one(&sql, &[value])
            .await
            .unwrap_or_else(|e| panic!("{ty} {value:?}: {e}"));
        let back: T = row
            .try_get(0)
            .unwrap_or_else(|e| panic!("{ty} {value:?}: {e}"));
        assert_eq!(&back, value, "{ty}");
    }
    let none: Option<T> = None;
    let row = conn.fetch_one(&sql, &[&none]).await.unwrap();
    assert_eq!(row.get::<Option<T>>(0), None, "{ty}: NULL");
    assert_eq!(row.get::<Option<String>>(1), None, "{ty}: NULL");
    let traffic = proxy.traffic();
    assert_eq!(
        round_trips(&traffic),
        values.len() + 2,
        "{ty}: one describe, then one round trip per query: {traffic:?}"
    );
}

#[tokio::test]
async fn every_binary_type_comes_back_right_in_one_round_trip() {
    let (proxy, mut conn) = counted().await;
    conn.execute_script("SET TIME ZONE 'Europe/Paris'")
        .await
        .unwrap();
    round_trip(&proxy, &mut conn, "bool", vec![true, false]).await;
    round_trip(&proxy, &mut conn, "int2", vec![i16::MIN, -1, 0, i16::MAX]).await;
    round_trip(&proxy, &mut conn, "int4", vec![i32::MIN, 0, i32::MAX]).await;
    round_trip(&proxy, &mut conn, "int8", vec![i64::MIN, 42, i64::MAX]).await;
    round_trip(
        &proxy,
        &mut conn,
        "float4",
        vec![1.5f32, -0.0, f32::INFINITY],
    )
    .await;
    round_trip(
        &proxy,
        &mut conn,
        "float8",
        vec![0.1f64, f64::MAX, f64::NEG_INFINITY],
    )
    .await;
    let texts = vec![String::new(), "tusk".to_owned(), "ünïcode ✓".to_owned()];
    round_trip(&proxy, &mut conn, "text", texts.clone()).await;
    round_trip(&proxy, &mut conn, "varchar", texts.clone()).await;
    round_trip(&proxy, &mut conn, "bytea", vec![vec![], vec![0u8, 1, 255]]).await;
    round_trip(
        &proxy,
        &mut conn,
        "uuid",
        vec![Uuid::nil(), Uuid::from_u128(0x1234_5678)],
    )
    .await;
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    round_trip(
        &proxy,
        &mut conn,
        "date",
        vec![date, NaiveDate::from_ymd_opt(1, 1, 1).unwrap()],
    )
    .await;
    let time = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap();
    round_trip(&proxy, &mut conn, "time", vec![time]).await;
    let at: NaiveDateTime = date.and_time(time);
    round_trip(&proxy, &mut conn, "timestamp", vec![at]).await;
    let utc: DateTime<Utc> = Utc.with_ymd_and_hms(2001, 2, 3, 4, 5, 6).unwrap();
    round_trip(&proxy, &mut conn, "timestamptz", vec![utc]).await;
    let decimals = vec![Decimal::new(-12345, 3), Decimal::ZERO, Decimal::MAX];
    round_trip(&proxy, &mut conn, "numeric", decimals).await;
    let doc = serde_json::json!({"b": [1, 2.5, null], "a": "x"});
    round_trip(&proxy, &mut conn, "json", vec![doc.clone()]).await;
    round_trip(
        &proxy,
        &mut conn,
        "jsonb",
        vec![doc, serde_json::json!(null)],
    )
    .await;
    round_trip(&proxy, &mut conn, "int4[]", vec![vec![1i32, 2, 3], vec![]]).await;
    round_trip(&proxy, &mut conn, "text[]", vec![texts]).await;
    round_trip(&proxy, &mut conn, "int8[]", vec![vec![Some(1i64), None]]).await;
}

#[tokio::test]
async fn text_format_columns_next_to_binary_ones_read_right() {
    let (proxy, mut conn) = counted().await;
    // tsvector and xml have no binary codec: their columns come in text, the int4 in binary.
    let sql = "SELECT $1::int4 AS n, to_tsvector('simple', $2) AS v, xmlelement(name x, $2) AS x";
    for round in 0..3i32 {
        proxy.reset();
        let row = conn.fetch_one(sql, &[&round, &"tusk tusk"]).await.unwrap();
        assert_eq!(row.get::<i32>("n"), round);
        assert_eq!(row.get::<&str>("v"), "'tusk':1,2");
        assert_eq!(row.get::<&str>("x"), "<x>tusk tusk</x>");
        let expected = if round == 0 { 2 } else { 1 };
        assert_eq!(round_trips(&proxy.traffic()), expected, "round {round}");
    }
}

/// A row of the custom types' query: enum, domain, composite, enum array.
type MoodRow = (String, i32, (i32, String), Vec<String>);

#[tokio::test]
async fn custom_types_as_parameters_and_columns_in_one_round_trip() {
    let (proxy, mut conn) = counted().await;
    conn.execute_script(
        "CREATE TYPE pg_temp.mood AS ENUM ('sad', 'ok', 'happy');
         CREATE DOMAIN pg_temp.positive AS int4 CHECK (VALUE > 0);
         CREATE TYPE pg_temp.pair AS (n int4, label text);
         CREATE TABLE pg_temp.moods (id int4, m pg_temp.mood, p pg_temp.positive);
         INSERT INTO pg_temp.moods VALUES (1, 'sad', 1), (2, 'happy', 2), (3, 'happy', 3);",
    )
    .await
    .unwrap();
    // The enum parameter keeps the type the server inferred: a &str is its label.
    let sql = "SELECT m, p, ROW(p, m::text)::pg_temp.pair AS pair, ARRAY[m] AS ms \
               FROM pg_temp.moods WHERE m = $1 ORDER BY id";
    for round in 0..3 {
        proxy.reset();
        let rows = conn.fetch(sql, &[&"happy"]).await.unwrap();
        let got: Vec<MoodRow> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("happy".into(), 2, (2, "happy".into()), vec!["happy".into()]),
                ("happy".into(), 3, (3, "happy".into()), vec!["happy".into()]),
            ],
            "round {round}"
        );
        let traffic = proxy.traffic();
        if round == 0 {
            // Describe, look the types up (a simple query), describe again, run.
            assert!(traffic.count(b'Q') >= 1, "{traffic:?}");
        } else {
            assert_eq!(traffic.tags(), "PDBES", "round {round}: {traffic:?}");
        }
    }
    // A domain's check still applies to a parameter declared with the domain's type.
    let insert = "INSERT INTO pg_temp.moods VALUES ($1, $2, $3)";
    conn.execute(insert, &[&4i32, &"ok", &4i32]).await.unwrap();
    let err = conn
        .execute(insert, &[&5i32, &"ok", &-5i32])
        .await
        .expect_err("the domain refuses -5");
    assert_eq!(err.sqlstate(), Some(SqlState::CHECK_VIOLATION), "{err}");
    let n: i64 = conn
        .fetch_value("SELECT count(*) FROM pg_temp.moods", &[])
        .await
        .unwrap();
    assert_eq!(n, 4);
}

#[tokio::test]
async fn a_citext_comparison_keeps_its_case_insensitive_meaning() {
    let (_proxy, mut conn) = counted().await;
    let available: Option<String> = conn
        .fetch_value(
            "SELECT max(name) FROM pg_available_extensions WHERE name = 'citext'",
            &[],
        )
        .await
        .unwrap();
    if available.is_none() {
        eprintln!("citext is not installed on this server; skipping");
        return;
    }
    conn.execute_script(
        "CREATE EXTENSION IF NOT EXISTS citext;
         CREATE TEMP TABLE users (email citext);
         INSERT INTO users VALUES ('Ann@Example.com');",
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let n: i64 = conn
            .fetch_value(
                "SELECT count(*) FROM users WHERE email = $1",
                &[&"ann@example.COM"],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    // What declaring text for a &str would have done: `email::text = $1`, no match.
    let n: i64 = conn
        .fetch_value(
            "SELECT count(*) FROM users WHERE email = $1::text",
            &[&"ann@example.COM"],
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_char_n_comparison_keeps_its_padding_meaning() {
    let (_proxy, mut conn) = counted().await;
    conn.execute_script("CREATE TEMP TABLE codes (code char(3)); INSERT INTO codes VALUES ('ab')")
        .await
        .unwrap();
    for _ in 0..3 {
        let n: i64 = conn
            .fetch_value("SELECT count(*) FROM codes WHERE code = $1", &[&"ab "])
            .await
            .unwrap();
        assert_eq!(n, 1, "bpchar = bpchar ignores trailing spaces");
    }
    // Declaring text would compare `code::text` ('ab') with 'ab ': no match.
    let n: i64 = conn
        .fetch_value(
            "SELECT count(*) FROM codes WHERE code = $1::text",
            &[&"ab "],
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[derive(Debug, PartialEq, FromRecord)]
struct Ticket {
    id: i32,
    title: String,
}

#[derive(Debug, FromRecord)]
#[allow(dead_code)]
struct NotATicket {
    id: i32,
    missing: String,
}

#[tokio::test]
async fn a_typed_query_checks_its_struct_before_anything_runs() {
    let (proxy, mut conn) = counted().await;
    conn.execute_script("CREATE TEMP TABLE tickets (id serial, title text)")
        .await
        .unwrap();
    let insert = "INSERT INTO tickets (title) VALUES ($1) RETURNING id, title";
    // Untyped first, so the connection has described the text.
    conn.fetch_one(insert, &[&"first"]).await.unwrap();
    conn.fetch_one(insert, &[&"second"]).await.unwrap();
    for _ in 0..2 {
        proxy.reset();
        let err = conn
            .fetch_one_as::<NotATicket>(insert, &[&"never"])
            .await
            .expect_err("the struct does not fit");
        assert!(matches!(err, Error::Decode(_)), "{err}");
        assert!(err.to_string().contains("missing"), "{err}");
        let traffic = proxy.traffic();
        assert_eq!(traffic.count(b'B'), 0, "nothing was bound: {traffic:?}");
    }
    let titles: Vec<String> = conn
        .fetch("SELECT title FROM tickets ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        titles,
        ["first", "second"],
        "the INSERT never ran for the bad struct"
    );

    // A struct that fits: described and checked every time, two round trips.
    proxy.reset();
    let ticket: Ticket = conn.fetch_one_as(insert, &[&"third"]).await.unwrap();
    assert_eq!(
        ticket,
        Ticket {
            id: 3,
            title: "third".into()
        }
    );
    let traffic = proxy.traffic();
    assert_eq!(traffic.tags(), "PDHBES", "{traffic:?}");
}

#[tokio::test]
async fn fetch_value_refuses_a_statement_without_columns_before_it_runs() {
    let (proxy, mut conn) = counted().await;
    conn.execute_script("CREATE TEMP TABLE counted_rows (n int4)")
        .await
        .unwrap();
    let insert = "INSERT INTO counted_rows VALUES ($1)";
    for _ in 0..2 {
        let err = conn
            .fetch_value::<i32>(insert, &[&1i32])
            .await
            .expect_err("no column to return");
        assert!(err.to_string().contains("no columns"), "{err}");
    }
    // Described once (the first time), then refused before anything was written.
    conn.execute(insert, &[&1i32]).await.unwrap();
    proxy.reset();
    let err = conn.fetch_value::<i32>(insert, &[&1i32]).await.unwrap_err();
    assert!(err.to_string().contains("no columns"), "{err}");
    assert_eq!(proxy.traffic().tags(), "", "nothing sent");
    let n: i64 = conn
        .fetch_value("SELECT count(*) FROM counted_rows", &[])
        .await
        .unwrap();
    assert_eq!(n, 1, "only the execute ran");
}

/// The enum a described parameter had is dropped and made again (a new OID): the Parse that
/// declares the old type is refused before anything runs, and the text is described again.
#[tokio::test]
async fn a_parse_refused_outside_a_transaction_is_described_again_and_runs_once() {
    let (proxy, mut conn) = counted().await;
    let setup = "DROP TABLE IF EXISTS pg_temp.flags; DROP TYPE IF EXISTS pg_temp.level;
                 CREATE TYPE pg_temp.level AS ENUM ('low', 'high');
                 CREATE TABLE pg_temp.flags (id serial, level pg_temp.level);";
    conn.execute_script(setup).await.unwrap();
    let insert = "INSERT INTO pg_temp.flags (level) VALUES ($1) RETURNING id";
    conn.fetch_one(insert, &[&"low"]).await.unwrap();
    conn.execute_script(setup).await.unwrap();
    proxy.reset();
    let id: i32 = conn.fetch_one(insert, &[&"high"]).await.unwrap().get(0);
    assert_eq!(id, 1, "the new table's first row");
    let traffic = proxy.traffic();
    // Refused (P D B E S), described (P D H), looked up (Q), described again (P D H), run (B E S).
    assert_eq!(traffic.count(b'E'), 2, "{traffic:?}");
    assert!(traffic.tags().starts_with("PDBES"), "{traffic:?}");
    let rows: Vec<(i32, String)> = conn
        .fetch("SELECT id, level::text FROM pg_temp.flags", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, vec![(1, "high".to_owned())], "inserted once");
    proxy.reset();
    conn.fetch_one(insert, &[&"low"]).await.unwrap();
    assert_eq!(proxy.traffic().tags(), "PDBES", "one round trip again");
}

#[tokio::test]
async fn a_parse_refused_inside_a_transaction_is_returned() {
    let (_proxy, mut conn) = counted().await;
    let setup = "DROP TABLE IF EXISTS pg_temp.flags; DROP TYPE IF EXISTS pg_temp.level;
                 CREATE TYPE pg_temp.level AS ENUM ('low', 'high');
                 CREATE TABLE pg_temp.flags (id serial, level pg_temp.level);";
    conn.execute_script(setup).await.unwrap();
    let insert = "INSERT INTO pg_temp.flags (level) VALUES ($1)";
    conn.execute(insert, &[&"low"]).await.unwrap();
    conn.execute_script(setup).await.unwrap();
    conn.execute_script("BEGIN").await.unwrap();
    let err = conn
        .execute(insert, &[&"high"])
        .await
        .expect_err("the declared type is gone, and the transaction with it");
    assert!(matches!(err, Error::Db(_)), "{err}");
    conn.execute_script("ROLLBACK").await.unwrap();
    // Outside the transaction the text is described again.
    assert_eq!(conn.execute(insert, &[&"high"]).await.unwrap(), 1);

    // A Transaction's BEGIN is queued and goes out in the same write as the refused Parse:
    // the status before the query still says idle, the refusal's ReadyForQuery does not.
    conn.execute_script(setup).await.unwrap();
    let mut tx = conn.transaction().await.unwrap();
    let err = tx.execute(insert, &[&"high"]).await.unwrap_err();
    assert_ne!(
        err.sqlstate(),
        Some(SqlState::IN_FAILED_SQL_TRANSACTION),
        "the refusal itself, not a second try in the aborted transaction: {err}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(conn.execute(insert, &[&"low"]).await.unwrap(), 1);
}

#[tokio::test]
async fn a_column_type_changed_by_ddl_still_reads_right_when_its_format_is_the_same() {
    let (proxy, mut conn) = counted().await;
    conn.execute_script("CREATE TEMP TABLE widths (v int4); INSERT INTO widths VALUES (7)")
        .await
        .unwrap();
    let sql = "SELECT v FROM widths WHERE v > $1";
    assert_eq!(
        conn.fetch_one(sql, &[&0i32]).await.unwrap().get::<i32>(0),
        7
    );
    conn.execute_script("ALTER TABLE widths ALTER v TYPE int8")
        .await
        .unwrap();
    for _ in 0..2 {
        proxy.reset();
        let row = conn.fetch_one(sql, &[&0i32]).await.unwrap();
        assert_eq!(row.columns().get(0).unwrap().type_(), &pgtusk::Type::INT8);
        assert_eq!(row.get::<i64>(0), 7);
        assert_eq!(proxy.traffic().tags(), "PDBES");
    }
}

#[tokio::test]
async fn a_column_that_came_in_a_format_it_cannot_be_read_in_is_an_error_never_a_value() {
    let (_proxy, mut conn) = counted().await;
    conn.execute_script(
        "CREATE TEMP TABLE docs (id int4, body text, runs int4 DEFAULT 0);
         INSERT INTO docs VALUES (1, 'tusk', 0)",
    )
    .await
    .unwrap();
    let sql = "UPDATE docs SET runs = runs + 1 WHERE id = $1 RETURNING body";
    assert_eq!(
        conn.fetch_one(sql, &[&1i32])
            .await
            .unwrap()
            .get::<String>(0),
        "tusk"
    );
    // text (binary format) becomes tsvector (read only as text): the Bind asked for binary.
    conn.execute_script("ALTER TABLE docs ALTER body TYPE tsvector USING body::tsvector")
        .await
        .unwrap();
    let err = conn.fetch_one(sql, &[&1i32]).await.expect_err("unreadable");
    let message = err.to_string();
    assert!(matches!(err, Error::Decode(_)), "{message}");
    assert!(
        message.contains("tsvector") && message.contains("ran"),
        "{message}"
    );
    // Described again: the right value, and the UPDATE ran once per call.
    let body: String = conn.fetch_one(sql, &[&1i32]).await.unwrap().get(0);
    assert_eq!(body, "'tusk'");
    let runs: i32 = conn
        .fetch_value("SELECT runs FROM docs WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(runs, 3);
}

#[tokio::test]
async fn errors_at_bind_and_execute_are_the_queries_own() {
    let (proxy, mut conn) = counted().await;
    let sql = "SELECT 10 / $1::int4";
    assert_eq!(conn.fetch_value::<i32>(sql, &[&2i32]).await.unwrap(), 5);
    proxy.reset();
    let err = conn.fetch_value::<i32>(sql, &[&0i32]).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::DIVISION_BY_ZERO), "{err}");
    assert_eq!(proxy.traffic().tags(), "PDBES", "not described again");
    // A value the parameter type does not take is refused before anything is sent.
    proxy.reset();
    let err = conn.fetch_value::<i32>(sql, &[&2i64]).await.unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err}");
    assert_eq!(proxy.traffic().tags(), "", "nothing sent");
    assert_eq!(conn.fetch_value::<i32>(sql, &[&5i32]).await.unwrap(), 2);
}

#[tokio::test]
async fn a_stream_of_a_described_query_reads_every_row() {
    use futures_util::TryStreamExt;
    let (proxy, mut conn) = counted().await;
    let sql = "SELECT g, g::text FROM generate_series(1, $1::int4) g";
    for round in 0..2 {
        proxy.reset();
        let mut rows = conn.fetch_stream(sql, &[&1000i32]).await.unwrap();
        let mut sum = 0i64;
        while let Some(row) = rows.try_next().await.unwrap() {
            let g: i32 = row.get(0);
            assert_eq!(row.get::<String>(1), g.to_string());
            sum += i64::from(g);
        }
        assert_eq!(rows.rows_affected(), Some(1000));
        drop(rows);
        assert_eq!(sum, 500_500);
        let expected = if round == 0 { "PDHBES" } else { "PDBES" };
        assert_eq!(proxy.traffic().tags(), expected, "round {round}");
    }
}

#[tokio::test]
async fn a_dropped_or_timed_out_one_trip_query_leaves_the_connection_usable() {
    // Straight to the server: a cancel request needs a connection of its own, which the
    // one-client proxy would not accept.
    let options = options_via(shared_port()).statement_cache_size(0);
    let mut conn = Connection::connect_with(&options).await.unwrap();
    let sleep = "SELECT pg_sleep($1::float8), $2::int4";
    conn.fetch_one(sleep, &[&0.0f64, &1i32]).await.unwrap();
    for polls in [1, 2, 3, 5, 8] {
        let finished =
            pgtusk_tests::drop::poll_then_drop(conn.fetch_one(sleep, &[&0.05f64, &2i32]), polls)
                .await;
        assert!(!finished, "dropped after {polls} polls");
        let row = conn.fetch_one(sleep, &[&0.0f64, &3i32]).await.unwrap();
        assert_eq!(row.get::<i32>(1), 3, "after {polls} polls");
    }
    let options = options.command_timeout(std::time::Duration::from_millis(100));
    let mut conn = Connection::connect_with(&options).await.unwrap();
    conn.fetch_one(sleep, &[&0.0f64, &1i32]).await.unwrap();
    let err = conn.fetch_one(sleep, &[&5.0f64, &2i32]).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    let row = conn.fetch_one(sleep, &[&0.0f64, &4i32]).await.unwrap();
    assert_eq!(row.get::<i32>(1), 4);
}

/// A column's type is new to the connection (made again under a new OID, or a new type for
/// the column): the rows are read whole, the type looked up, and the rows come back decoded.
/// The statement runs once.
#[tokio::test]
async fn a_column_type_not_looked_up_yet_is_looked_up_and_the_rows_come_back() {
    let (proxy, mut conn) = counted().await;
    conn.execute_script(
        "CREATE TYPE pg_temp.tone AS ENUM ('a', 'b');
         CREATE TEMP TABLE tones (id int4, t pg_temp.tone, runs int4 DEFAULT 0);
         INSERT INTO tones VALUES (1, 'a'), (2, 'b');",
    )
    .await
    .unwrap();
    let update = "UPDATE tones SET runs = runs + 1 WHERE id <= $1 RETURNING id, t";
    assert_eq!(conn.fetch(update, &[&2i32]).await.unwrap().len(), 2);
    // Made again: a new OID, which the Parse (naming it in no parameter) does not notice.
    conn.execute_script(
        "ALTER TABLE tones ALTER t TYPE text;
         DROP TYPE pg_temp.tone; CREATE TYPE pg_temp.tone AS ENUM ('b', 'a');
         ALTER TABLE tones ALTER t TYPE pg_temp.tone USING t::pg_temp.tone",
    )
    .await
    .unwrap();
    proxy.reset();
    let rows = conn.fetch(update, &[&2i32]).await.unwrap();
    let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![(1, "a".into()), (2, "b".into())]);
    let traffic = proxy.traffic();
    assert_eq!(
        traffic.tags(),
        "PDBESQ",
        "one round trip, then the lookup: {traffic:?}"
    );
    // The same through a stream, for a column changed to another type new to the connection.
    conn.execute_script(
        "CREATE TYPE pg_temp.pitch AS (tone pg_temp.tone, hz int4);
         ALTER TABLE tones ALTER t TYPE pg_temp.pitch USING ROW(t, 440)::pg_temp.pitch",
    )
    .await
    .unwrap();
    {
        use futures_util::TryStreamExt;
        let mut stream = conn.fetch_stream(update, &[&2i32]).await.unwrap();
        let mut got: Vec<(i32, (String, i32))> = Vec::new();
        while let Some(row) = stream.try_next().await.unwrap() {
            got.push((row.get(0), row.get(1)));
        }
        assert_eq!(stream.rows_affected(), Some(2));
        assert_eq!(got, vec![(1, ("a".into(), 440)), (2, ("b".into(), 440))]);
    }
    // Known from now on: one round trip again.
    proxy.reset();
    assert_eq!(conn.execute(update, &[&2i32]).await.unwrap(), 2);
    assert_eq!(proxy.traffic().tags(), "PDBES");
    let runs: Vec<i32> = conn
        .fetch("SELECT runs FROM tones ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(runs, [4, 4], "every call ran its UPDATE once");
}
