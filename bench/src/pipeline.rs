//! Workload 13: a pipeline of 100 different point selects per operation, on one connection.
//!
//! The 100 statements differ in their SQL text (`SELECT v + k, t FROM bench_point WHERE id =
//! $1` for k in 0..100), so each is a statement of its own, prepared once in the warm-up and
//! cached by every driver afterwards (pgtusk's and sqlx's caches hold 100 by default,
//! tokio-postgres keeps the prepared `Statement`s here). Statement `j` of operation `i` asks
//! for `point_id(seed, 100 i + j)`; the checksum is `v + k + length(t)` of every row.
//!
//! - pgtusk: `conn.pipeline()`, 100 `fetch_one` tickets, `run`, then `take` each: one write
//!   and one round trip per operation (a Sync after each statement, as tokio-postgres);
//! - pgtusk atomic: the same through `conn.atomic_pipeline()` (one Sync: the server commits
//!   and flushes once per operation instead of 100 times), for information;
//! - tokio-postgres: 100 `query_one` futures on one client under `join_all`, which its
//!   connection task pipelines;
//! - sqlx: no pipeline API, so the 100 queries run one after another (100 round trips), for
//!   scale.

use std::sync::OnceLock;

use futures_util::future::join_all;
use sqlx::Row as _;

use crate::workloads::{R, point_expected, point_id};

/// Statements per pipeline.
pub const STATEMENTS: usize = 100;

/// The 100 SQL texts, made once (sqlx takes `&'static str` as safe SQL).
pub fn sql_texts() -> &'static [&'static str] {
    static TEXTS: OnceLock<Vec<&'static str>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        (0..STATEMENTS)
            .map(|k| {
                let sql = format!("SELECT v + {k}, t FROM bench_point WHERE id = $1");
                &*Box::leak(sql.into_boxed_str())
            })
            .collect()
    })
}

/// The ids of operation `op`'s statements.
fn ids(seed: u64, op: usize) -> [i32; STATEMENTS] {
    std::array::from_fn(|j| point_id(seed, (op * STATEMENTS + j) as u64))
}

/// The checksum a phase of `ops` pipelines must return.
pub fn expected(seed: u64, ops: usize) -> i64 {
    let offsets: i64 = (0..STATEMENTS as i64).sum();
    // point_expected counts 3 id + length("name-" || id) per row; each row adds its k.
    point_expected(seed, ops * STATEMENTS) + ops as i64 * offsets
}

/// pgtusk's pipeline; `atomic`: one Sync for the 100 (one implicit transaction), else one
/// per statement.
pub async fn pgtusk(conn: &mut pgtusk::Connection, atomic: bool, ops: usize, seed: u64) -> R<i64> {
    let texts = sql_texts();
    let mut s = 0i64;
    let mut tickets = Vec::with_capacity(STATEMENTS);
    for op in 0..ops {
        let ids = ids(seed, op);
        let mut p = if atomic {
            conn.atomic_pipeline()
        } else {
            conn.pipeline()
        };
        tickets.extend(
            texts
                .iter()
                .zip(&ids)
                .map(|(sql, id)| p.fetch_one(*sql, &[id])),
        );
        let mut out = p.run().await?;
        for ticket in tickets.drain(..) {
            let row = out.take(ticket)?;
            s += row.try_get::<i64>(0)? + row.try_get::<&str>(1)?.len() as i64;
        }
    }
    Ok(s)
}

pub async fn tokio_postgres(
    client: &tokio_postgres::Client,
    stmts: &mut Vec<tokio_postgres::Statement>,
    ops: usize,
    seed: u64,
) -> R<i64> {
    if stmts.is_empty() {
        for sql in sql_texts() {
            stmts.push(client.prepare(sql).await?);
        }
    }
    let mut s = 0i64;
    for op in 0..ops {
        let ids = ids(seed, op);
        // The futures borrow their parameter slices, which must outlive them.
        let params: Vec<[&(dyn tokio_postgres::types::ToSql + Sync); 1]> =
            ids.iter().map(|id| [id as _]).collect();
        // Joined futures on one client: its connection task writes them as they come and
        // matches the answers in order.
        let rows = join_all(
            stmts
                .iter()
                .zip(&params)
                .map(|(st, params)| client.query_one(st, params)),
        )
        .await;
        for row in rows {
            let row = row?;
            s += row.try_get::<_, i64>(0)? + row.try_get::<_, &str>(1)?.len() as i64;
        }
    }
    Ok(s)
}

pub async fn sqlx_sequential(conn: &mut sqlx::PgConnection, ops: usize, seed: u64) -> R<i64> {
    let texts = sql_texts();
    let mut s = 0i64;
    for op in 0..ops {
        let ids = ids(seed, op);
        for (sql, id) in texts.iter().zip(ids) {
            let row = sqlx::query(*sql).bind(id).fetch_one(&mut *conn).await?;
            s += row.try_get::<i64, _>(0)? + row.try_get::<&str, _>(1)?.len() as i64;
        }
    }
    Ok(s)
}
