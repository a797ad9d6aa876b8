//! Taking a connection back: straight to the idle list when nothing needs doing, else
//! cleaned in a task of its own (the work of a dropped operation cancelled and drained, the
//! transaction rolled back, the session reset when it may have changed), and what `init`
//! set made to survive the reset.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use super::{Live, Shared};
use crate::Connection;
use crate::error::Result;

/// What the pool runs on a released connection whose session may have changed: what
/// asyncpg's pool runs on every release. `DISCARD ALL` would also drop the prepared
/// statements, which the cache keeps.
const RESET_SESSION: &str = "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL";

/// The settings a session changed with `SET` or `set_config`: read after `init`, to set
/// them again after the reset's `RESET ALL` (custom placeholder settings such as `app.x`
/// are not in `pg_settings`).
const SESSION_SETTINGS: &str =
    "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session'";

impl Shared {
    /// Runs `init` on a new connection; returns SQL that sets again the settings it left
    /// (see [`SESSION_SETTINGS`]).
    pub(super) async fn run_init(&self, conn: &mut Connection) -> Result<Option<String>> {
        let Some(init) = &self.options.init else {
            return Ok(None);
        };
        init(conn).await?;
        let settings = conn.fetch(SESSION_SETTINGS, &[]).await?;
        // What init set is the session's baseline, not something to reset.
        conn.take_state_changed();
        set_again_sql(&settings)
    }

    /// Takes back a connection from a dropped [`PooledConnection`].
    pub(super) fn release(self: &Arc<Self>, mut live: Live, permit: OwnedSemaphorePermit) {
        if live.conn.is_closed() {
            return;
        }
        if self.is_worn_out(&live) {
            self.retire(live);
            return;
        }
        live.conn.restore_client_settings(&live.client);
        let reset = live.conn.take_state_changed();
        if live.conn.is_idle() && !reset && self.options.reset.is_none() {
            self.put_idle(live);
            return;
        }
        // Cleaning takes I/O: a task of its own, holding the permit, so the connection
        // counts as in use until it is back.
        let shared = self.clone();
        self.runtime.spawn(async move {
            let limit = shared.options.acquire_timeout;
            match tokio::time::timeout(limit, shared.clean(&mut live, reset)).await {
                Ok(Ok(())) => shared.put_idle(live),
                Ok(Err(e)) => {
                    tracing::debug!("cleaning a released connection failed ({e}); closing it");
                    shared.retire(live);
                }
                Err(_) => {
                    tracing::warn!(
                        "cleaning a released connection took longer than acquire_timeout \
                         ({limit:?}); dropping it"
                    );
                }
            }
            drop(permit);
        });
    }

    /// Makes a released connection as good as new: the work of a dropped operation
    /// cancelled and drained, the transaction rolled back, the session reset when it may
    /// have changed (`reset`), then the `reset` hook.
    async fn clean(&self, live: &mut Live, mut reset: bool) -> Result<()> {
        let conn = &mut live.conn;
        conn.settle().await?;
        if !conn.is_idle() {
            conn.execute_script("ROLLBACK").await?;
        }
        reset |= conn.take_state_changed();
        if reset {
            // One round trip, init's settings included: init itself does not run again (it
            // may do what cannot be done twice on one session, such as a CREATE TEMP TABLE).
            match &live.init_settings {
                Some(set_again) => {
                    conn.execute_script(&format!("{RESET_SESSION}; {set_again}"))
                        .await?
                }
                None => conn.execute_script(RESET_SESSION).await?,
            }
            conn.clear_notifications();
            conn.take_state_changed();
        }
        if let Some(hook) = &self.options.reset {
            hook(conn).await?;
            conn.take_state_changed();
        }
        Ok(())
    }
}

/// `SELECT set_config(name, setting, false), …` for rows of [`SESSION_SETTINGS`]; `None`
/// for no rows.
fn set_again_sql(settings: &[crate::Record]) -> Result<Option<String>> {
    let mut sql = String::new();
    for row in settings {
        let name: &str = row.try_get(0)?;
        let Some(value) = row.try_get::<Option<&str>>(1)? else {
            continue;
        };
        sql.push_str(if sql.is_empty() { "SELECT " } else { ", " });
        sql.push_str("pg_catalog.set_config(");
        push_literal(&mut sql, name);
        sql.push_str(", ");
        push_literal(&mut sql, value);
        sql.push_str(", false)");
    }
    Ok((!sql.is_empty()).then_some(sql))
}

/// Appends `text` as an escape string literal (`E'…'`), which means the same whatever
/// `standard_conforming_strings` is.
fn push_literal(sql: &mut String, text: &str) {
    sql.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' => sql.push_str("\\\\"),
            '\'' => sql.push_str("''"),
            c => sql.push(c),
        }
    }
    sql.push('\'');
}

#[cfg(test)]
mod tests {
    use super::push_literal;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        for (text, literal) in [
            ("UTC", "E'UTC'"),
            ("\"a'b\", public", "E'\"a''b\", public'"),
            ("C:\\x", "E'C:\\\\x'"),
            ("", "E''"),
        ] {
            let mut sql = String::new();
            push_literal(&mut sql, text);
            assert_eq!(sql, literal);
        }
    }
}
