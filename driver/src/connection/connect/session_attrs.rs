//! `target_session_attrs`: whether a server that accepted the connection is the kind asked
//! for, judged as libpq judges it.

use super::super::Connection;
use crate::config::TargetSessionAttrs;
use crate::error::Result;

/// `None` if the server is what `want` asks for, else what it is instead (for the error).
pub(super) async fn mismatch(
    conn: &mut Connection,
    want: TargetSessionAttrs,
) -> Result<Option<&'static str>> {
    Ok(match want {
        TargetSessionAttrs::Any | TargetSessionAttrs::PreferStandby => None,
        TargetSessionAttrs::ReadWrite => read_only(conn).await?.then_some("read-only"),
        TargetSessionAttrs::ReadOnly => (!read_only(conn).await?).then_some("read-write"),
        TargetSessionAttrs::Primary => in_recovery(conn).await?.then_some("a standby"),
        TargetSessionAttrs::Standby => (!in_recovery(conn).await?).then_some("a primary"),
    })
}

/// Read-only by default: PostgreSQL 14+ reports `default_transaction_read_only` and
/// `in_hot_standby`; an older server is asked.
async fn read_only(conn: &mut Connection) -> Result<bool> {
    if let (Some(default), Some(standby)) = (
        conn.parameter("default_transaction_read_only"),
        conn.parameter("in_hot_standby"),
    ) {
        return Ok(default == "on" || standby == "on");
    }
    let value: String = conn.fetch_value("SHOW transaction_read_only", &[]).await?;
    Ok(value == "on")
}

/// In recovery (a standby): PostgreSQL 14+ reports `in_hot_standby`; an older server is
/// asked.
async fn in_recovery(conn: &mut Connection) -> Result<bool> {
    if let Some(standby) = conn.parameter("in_hot_standby") {
        return Ok(standby == "on");
    }
    conn.fetch_value("SELECT pg_is_in_recovery()", &[]).await
}
