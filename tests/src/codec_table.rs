//! Table-driven codec checks in the manner of asyncpg's test_codecs, shared by the codec test
//! files: each value is sent as `$1::T` and decoded back, compared with the server's own text
//! `$1::T::text`, and decoded from the server's literal `'text'::T`; then the whole table goes
//! through a typed (binary) COPY in and out of a table with a column of type T.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};

use pgtusk::{Connection, Decode, Encode};

/// One value of a table: what is sent, what comes back, and PostgreSQL's text for it.
#[derive(Debug)]
pub struct Case<T> {
    pub send: T,
    pub back: T,
    pub text: &'static str,
}

/// A value that comes back as it was sent.
pub fn same<T: Clone>(value: T, text: &'static str) -> Case<T> {
    Case {
        back: value.clone(),
        send: value,
        text,
    }
}

/// A value the server normalizes (bpchar padding, numeric exponents, box corners, ...).
pub fn norm<T>(send: T, back: T, text: &'static str) -> Case<T> {
    Case { send, back, text }
}

/// `text` as a quoted SQL literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Runs a table for PostgreSQL type `ty`: round trip, server text, server literal, and a NULL
/// round trip through `Option<T>`.
pub async fn check_cases<T>(conn: &mut Connection, ty: &str, cases: Vec<Case<T>>)
where
    T: Encode + Sync + for<'r> Decode<'r> + PartialEq + Debug,
{
    for Case { send, back, text } in &cases {
        let row = conn
            .fetch_one(&*format!("SELECT $1::{ty}, $1::{ty}::text"), &[send])
            .await
            .unwrap_or_else(|e| panic!("{ty} {send:?}: {e}"));
        let decoded: T = row
            .try_get(0)
            .unwrap_or_else(|e| panic!("{ty} {send:?}: {e}"));
        assert_eq!(&decoded, back, "{ty}: round trip of {send:?}");
        assert_eq!(row.get::<&str>(1), *text, "{ty}: server text of {send:?}");
        let from_server: T = conn
            .fetch_value(&*format!("SELECT {}::{ty}", literal(text)), &[])
            .await
            .unwrap_or_else(|e| panic!("{ty} literal {text:?}: {e}"));
        assert_eq!(&from_server, back, "{ty}: decoding the server's {text:?}");
    }
    let none: Option<T> = None;
    let null: Option<T> = conn
        .fetch_value(&*format!("SELECT $1::{ty}"), &[&none])
        .await
        .unwrap();
    assert!(null.is_none(), "{ty}: NULL round trip");
    check_copy(conn, ty, &cases).await;
}

/// The table's values copied into a table in binary (`copy_in_rows`), checked with the
/// server's text of what it stored, and copied back out (`copy_out_as`); a NULL rides along.
/// Types pgtusk sends as text cannot be in a binary COPY, and are refused with a clear error.
async fn check_copy<T>(conn: &mut Connection, ty: &str, cases: &[Case<T>])
where
    T: Encode + Sync + for<'r> Decode<'r> + PartialEq + Debug,
{
    static TABLES: AtomicUsize = AtomicUsize::new(0);
    let table = format!("copy_codec_{}", TABLES.fetch_add(1, Ordering::Relaxed));
    conn.execute_script(&format!("CREATE TEMP TABLE {table} (i int4, v {ty})"))
        .await
        .unwrap();
    let rows = cases
        .iter()
        .enumerate()
        .map(|(i, case)| (i as i32, Some(&case.send)))
        .chain([(cases.len() as i32, None)]);
    match conn.copy_in_rows(&table, &["i", "v"], rows).await {
        Ok(copied) => assert_eq!(copied, cases.len() as u64 + 1, "{ty}: COPY in"),
        Err(e) if e.to_string().contains("pgtusk sends in text format") => return,
        Err(e) => panic!("{ty}: COPY in: {e}"),
    }
    let stored: Vec<Option<String>> = conn
        .fetch_as(&*format!("SELECT v::text FROM {table} ORDER BY i"), &[])
        .await
        .unwrap()
        .into_iter()
        .map(|(text,): (Option<String>,)| text)
        .collect();
    let expected: Vec<Option<String>> = cases
        .iter()
        .map(|case| Some(case.text.to_owned()))
        .chain([None])
        .collect();
    assert_eq!(
        stored, expected,
        "{ty}: the server's text of what COPY stored"
    );
    let back: Vec<(i32, Option<T>)> = conn
        .copy_out_as(&format!("SELECT i, v FROM {table} ORDER BY i"))
        .await
        .unwrap_or_else(|e| panic!("{ty}: COPY out: {e}"));
    assert_eq!(back.len(), cases.len() + 1, "{ty}: COPY out");
    for ((_, value), case) in back.iter().zip(cases) {
        assert_eq!(
            value.as_ref(),
            Some(&case.back),
            "{ty}: COPY out of {:?}",
            case.send
        );
    }
    assert!(back[cases.len()].1.is_none(), "{ty}: NULL through COPY");
}

/// The error text of decoding the first column of `sql`'s row into T; it names column 0.
pub async fn decode_error<T: for<'r> Decode<'r> + Debug>(
    conn: &mut Connection,
    sql: &str,
) -> String {
    let row = conn.fetch_one(sql, &[]).await.unwrap();
    let err = row.try_get::<T>(0).expect_err(sql).to_string();
    assert!(err.contains("column 0"), "{sql}: {err}");
    err
}
