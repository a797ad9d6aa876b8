//! Table-driven codec checks in the manner of asyncpg's test_codecs, shared by the codec test
//! files: each value is sent as `$1::T` and decoded back, compared with the server's own text
//! `$1::T::text`, and decoded from the server's literal `'text'::T`.

use std::fmt::Debug;

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
