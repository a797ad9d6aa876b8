//! Workloads 11 and 12: COPY of 1,000,000 rows of (int4, text, timestamptz, numeric).
//!
//! - 11 (`copy-in`): into an empty unlogged table, from rows already in memory. pgtusk
//!   `copy_in_rows` (binary, typed); tokio-postgres `BinaryCopyInWriter`; sqlx `copy_in_raw`
//!   (it has no typed COPY: its users format text lines, which is timed); asyncpg
//!   `copy_records_to_table`.
//! - 12 (`copy-out`): `COPY (SELECT …) TO STDOUT (FORMAT binary)` decoded into Rust values:
//!   pgtusk `copy_out_rows`; tokio-postgres `BinaryCopyOutStream`; asyncpg `copy_from_query`
//!   raw (binary, not decoded: Python has no binary COPY decoder). sqlx has only raw COPY out
//!   and is left out.

use std::fmt::Write as _;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;

use crate::workloads::{R, wide_sum};

/// Rows per COPY.
pub const ROWS: i32 = 1_000_000;

/// The source of workload 12 and the target of workload 11; the same rows `rows()` builds.
pub const SETUP: &str = "
DROP TABLE IF EXISTS bench_copy_src, bench_copy_dst;
CREATE TABLE bench_copy_src AS
  SELECT g AS i, 'row ' || g AS t,
         timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second' AS ts,
         (((g * 7) % 100000)::numeric / 100)::numeric(12, 2) AS n
  FROM generate_series(1, 1000000) g;
CREATE UNLOGGED TABLE bench_copy_dst (i int4, t text, ts timestamptz, n numeric(12, 2));
";

/// Workload 11's statement for the drivers that take one.
const COPY_IN_BINARY: &str = "COPY bench_copy_dst (i, t, ts, n) FROM STDIN (FORMAT binary)";
const COPY_IN_TEXT: &str = "COPY bench_copy_dst (i, t, ts, n) FROM STDIN";
/// Workload 12's query.
pub const COPY_OUT_QUERY: &str = "SELECT i, t, ts, n FROM bench_copy_src";

/// One row, as every Rust driver gets it.
pub type Row = (i32, String, DateTime<Utc>, Decimal);

/// The rows of `bench_copy_src`, built in memory (outside the timed phases).
pub fn rows() -> Vec<Row> {
    let base = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    (1..=ROWS)
        .map(|g| {
            (
                g,
                format!("row {g}"),
                base + chrono::Duration::seconds(i64::from(g)),
                Decimal::new(i64::from(g) * 7 % 100_000, 2),
            )
        })
        .collect()
}

/// The checksum of `rows` (`wide_sum` of each), what the server must find after a COPY in.
pub fn rows_sum(rows: &[Row]) -> i64 {
    rows.iter()
        .map(|(i, t, ts, n)| wide_sum(*i, t, ts, *n))
        .sum()
}

pub async fn pgtusk_in(conn: &mut pgtusk::Connection, rows: &[Row]) -> R<i64> {
    let copied = conn
        .copy_in_rows("bench_copy_dst", &["i", "t", "ts", "n"], rows)
        .await?;
    Ok(copied as i64)
}

pub async fn tokio_postgres_in(client: &tokio_postgres::Client, rows: &[Row]) -> R<i64> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    let sink = client.copy_in(COPY_IN_BINARY).await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[Type::INT4, Type::TEXT, Type::TIMESTAMPTZ, Type::NUMERIC],
    );
    let mut writer = std::pin::pin!(writer);
    for (i, t, ts, n) in rows {
        writer.as_mut().write(&[i, t, ts, n]).await?;
    }
    Ok(writer.finish().await? as i64)
}

pub async fn sqlx_in(conn: &mut sqlx::PgConnection, rows: &[Row]) -> R<i64> {
    let mut copy = conn.copy_in_raw(COPY_IN_TEXT).await?;
    let mut buf = String::with_capacity(128 * 1024);
    for (i, t, ts, n) in rows {
        // Text format: the data has no tab, newline or backslash to escape.
        writeln!(
            buf,
            "{i}\t{t}\t{}\t{n}",
            ts.format("%Y-%m-%d %H:%M:%S%.f+00")
        )?;
        if buf.len() >= 64 * 1024 {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
            buf.reserve(128 * 1024);
        }
    }
    if !buf.is_empty() {
        copy.send(buf.into_bytes()).await?;
    }
    Ok(copy.finish().await? as i64)
}

pub async fn pgtusk_out(conn: &mut pgtusk::Connection) -> R<i64> {
    let mut s = 0;
    let mut rows = conn.copy_out_rows(COPY_OUT_QUERY).await?;
    while let Some(row) = rows.try_next().await? {
        s += wide_sum(
            row.try_get(0)?,
            row.try_get(1)?,
            &row.try_get(2)?,
            row.try_get(3)?,
        );
    }
    Ok(s)
}

pub async fn tokio_postgres_out(client: &tokio_postgres::Client) -> R<i64> {
    use tokio_postgres::binary_copy::BinaryCopyOutStream;
    use tokio_postgres::types::Type;
    let stream = client
        .copy_out(&*format!(
            "COPY ({COPY_OUT_QUERY}) TO STDOUT (FORMAT binary)"
        ))
        .await?;
    let rows = BinaryCopyOutStream::new(
        stream,
        &[Type::INT4, Type::TEXT, Type::TIMESTAMPTZ, Type::NUMERIC],
    );
    let mut rows = std::pin::pin!(rows);
    let mut s = 0;
    while let Some(row) = rows.try_next().await? {
        s += wide_sum(
            row.try_get(0)?,
            row.try_get(1)?,
            &row.try_get(2)?,
            row.try_get(3)?,
        );
    }
    Ok(s)
}

/// The bytes of workload 12's binary COPY data: asyncpg's checksum (it does not decode).
pub async fn out_bytes(conn: &mut pgtusk::Connection) -> R<i64> {
    let mut out = conn
        .copy_out(&format!(
            "COPY ({COPY_OUT_QUERY}) TO STDOUT (FORMAT binary)"
        ))
        .await?;
    let mut bytes = 0;
    while let Some(chunk) = out.try_next().await? {
        bytes += chunk.len() as i64;
    }
    Ok(bytes)
}
