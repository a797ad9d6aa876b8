//! Shared by the dialect's integration tests: a connection to the test server.

#![allow(dead_code)]

use pgtusk::cluster::TempCluster;
use pgtusk::{Connection, Record};

/// `DATABASE_URL` if set, else a TempCluster started once per test binary.
pub fn dsn() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => TempCluster::shared()
            .unwrap_or_else(|e| {
                panic!("cannot start a TempCluster (is PostgreSQL installed?): {e}")
            })
            .dsn(),
    }
}

pub async fn connect() -> Connection {
    Connection::connect(&dsn()).await.expect("connect")
}

/// A connection whose cache holds more than 500 statements, so nothing is evicted, with a
/// temp table `ids` of 1..=600.
pub async fn big_cache() -> Connection {
    let options: pgtusk::ConnectOptions = dsn().parse().unwrap();
    let mut conn = Connection::connect_with(&options.statement_cache_size(1000))
        .await
        .unwrap();
    conn.execute_script(
        "CREATE TEMP TABLE ids AS SELECT g::int4 AS id FROM generate_series(1, 600) g",
    )
    .await
    .unwrap();
    conn
}

/// Rows as their raw column bytes, for comparing two results exactly.
pub fn raw_rows(rows: &[Record]) -> Vec<Vec<Option<Vec<u8>>>> {
    rows.iter()
        .map(|r| (0..r.len()).map(|i| r.raw(i).map(<[u8]>::to_vec)).collect())
        .collect()
}

/// Runs `sql` with `values` bound by the dialect; the rows as raw bytes, or the server's error.
pub async fn run(
    conn: &mut Connection,
    sql: &str,
    values: pgtusk_dialect::sea_query::Values,
) -> pgtusk::Result<Vec<Vec<Option<Vec<u8>>>>> {
    let params = pgtusk_dialect::bind(values)?;
    let rows = conn.fetch(sql, &params.as_refs()).await?;
    Ok(raw_rows(&rows))
}

/// Creates, once per server, what the rewrite tests share: the enum `rw_mood`, the domain
/// `rw_text` over text, and the citext extension if the server has it; whether it has it.
pub async fn rewrite_types(conn: &mut Connection) -> bool {
    let citext = conn
        .fetch_optional(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'citext'",
            &[],
        )
        .await
        .unwrap()
        .is_some();
    // Test binaries share the server: one at a time creates the types (the lock of
    // string_lists.rs, which creates citext too).
    conn.execute_script("SELECT pg_advisory_lock(727170)")
        .await
        .unwrap();
    let mut script = String::from(
        "DO $$ BEGIN CREATE TYPE rw_mood AS ENUM ('sad', 'ok', 'happy', 'meh');
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         DO $$ BEGIN CREATE DOMAIN rw_text AS text CHECK (VALUE <> 'forbidden');
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
    );
    if citext {
        script.push_str("CREATE EXTENSION IF NOT EXISTS citext;");
    }
    let created = conn.execute_script(&script).await;
    conn.execute_script("SELECT pg_advisory_unlock(727170)")
        .await
        .unwrap();
    created.unwrap();
    citext
}
