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

/// Rows as their raw column bytes, for comparing two results exactly.
pub fn raw_rows(rows: &[Record]) -> Vec<Vec<Option<Vec<u8>>>> {
    rows.iter()
        .map(|r| (0..r.len()).map(|i| r.raw(i).map(<[u8]>::to_vec)).collect())
        .collect()
}
