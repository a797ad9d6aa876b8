//! Running one sea-orm [`Statement`] on a pgtusk connection: the rewrite, the binary
//! parameters, the rows as sea-orm rows.
//!
//! Each statement goes through [`crate::rewrite`] first (its `IN` lists and multi-row
//! inserts become array parameters), then [`crate::bind`]; the SQL is prepared once per
//! connection and cached by its text, as every pgtusk query is.

use ::sea_orm::{DbErr, ExecResult, ProxyExecResult, QueryResult, Statement};
use pgtusk::Connection;

use super::error::{Stage, backend_err, db_err};
use super::row::{query_result, query_results};
use crate::Params;

/// The most parameters one statement can have: the protocol counts them in 16 bits.
const MAX_PARAMETERS: usize = u16::MAX as usize;

/// The statement's SQL and parameters after the rewrite.
pub(crate) fn prepare(stage: Stage, stmt: Statement) -> Result<(String, Params), DbErr> {
    let values = stmt.values.unwrap_or(sea_query::Values(Vec::new()));
    let (sql, values) = crate::rewrite(&stmt.sql, values);
    if values.0.len() > MAX_PARAMETERS {
        // Refused here: sent, the count would wrap on the wire.
        return Err(backend_err(
            stage,
            format!(
                "this statement has {} parameters after the rewrite, and PostgreSQL takes at \
                 most 65,535 in one statement: split it (an insert_many into chunks, a long \
                 list of row values into several queries) ({})",
                values.0.len(),
                truncated(&sql)
            ),
        ));
    }
    let params = crate::bind(values).map_err(|e| db_err(stage, e))?;
    Ok((sql, params))
}

/// The start of a long SQL text, for an error message.
fn truncated(sql: &str) -> &str {
    match sql.char_indices().nth(120) {
        Some((end, _)) => &sql[..end],
        None => sql,
    }
}

/// `ConnectionTrait::execute_raw`: the rows the statement affected.
pub(crate) async fn execute(conn: &mut Connection, stmt: Statement) -> Result<ExecResult, DbErr> {
    let (sql, params) = prepare(Stage::Exec, stmt)?;
    let rows = conn
        .execute(sql.as_str(), &params.as_refs())
        .await
        .map_err(|e| db_err(Stage::Exec, e))?;
    Ok(exec_result(rows))
}

/// `ConnectionTrait::execute_unprepared`: one or more statements through the simple query
/// protocol. pgtusk's `execute_script` does not return the command tags, so the rows
/// affected read 0 (sqlx adds up the statements' counts).
pub(crate) async fn execute_unprepared(
    conn: &mut Connection,
    sql: &str,
) -> Result<ExecResult, DbErr> {
    conn.execute_script(sql)
        .await
        .map_err(|e| db_err(Stage::Exec, e))?;
    Ok(exec_result(0))
}

/// `ConnectionTrait::query_one_raw`: the first row, if any; only that row travels.
pub(crate) async fn query_one(
    conn: &mut Connection,
    stmt: Statement,
) -> Result<Option<QueryResult>, DbErr> {
    let (sql, params) = prepare(Stage::Query, stmt)?;
    let record = conn
        .fetch_optional(sql.as_str(), &params.as_refs())
        .await
        .map_err(|e| db_err(Stage::Query, e))?;
    record
        .map(|r| query_result(&r))
        .transpose()
        .map_err(|e| db_err(Stage::Query, e))
}

/// `ConnectionTrait::query_all_raw`: every row.
pub(crate) async fn query_all(
    conn: &mut Connection,
    stmt: Statement,
) -> Result<Vec<QueryResult>, DbErr> {
    let (sql, params) = prepare(Stage::Query, stmt)?;
    let records = conn
        .fetch(sql.as_str(), &params.as_refs())
        .await
        .map_err(|e| db_err(Stage::Query, e))?;
    query_results(&records).map_err(|e| db_err(Stage::Query, e))
}

/// What sea-orm's Postgres backend reports: no last insert id (it uses `RETURNING`).
fn exec_result(rows_affected: u64) -> ExecResult {
    ProxyExecResult::new(0, rows_affected).into()
}
