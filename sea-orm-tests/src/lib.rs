//! sea-orm on pgtusk (`pgtusk_dialect::sea_orm::TuskDatabase`) against sea-orm on sqlx, on
//! the same real server: an entity set ([`entity`]), a fresh database per test, seed data,
//! and both backends connected to it.

pub mod entity;
pub mod seed;

use pgtusk::cluster::TempCluster;
use pgtusk::{Connection, Pool};
use pgtusk_dialect::sea_orm::TuskDatabase;
use sea_orm::DatabaseConnection;

/// The server's DSN: `DATABASE_URL` if set, else a TempCluster started once per test binary.
pub fn server_dsn() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => TempCluster::shared()
            .unwrap_or_else(|e| {
                panic!("cannot start a TempCluster (is PostgreSQL installed?): {e}")
            })
            .dsn(),
    }
}

/// `dsn` (a URL) with its database replaced by `dbname`.
pub fn dsn_for(dsn: &str, dbname: &str) -> String {
    let (base, query) = dsn
        .split_once('?')
        .map_or((dsn, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{dbname}?{q}"),
        None => format!("{base}/{dbname}"),
    }
}

/// Both backends on one database.
#[derive(Debug)]
pub struct Backends {
    /// sea-orm on pgtusk's Pool.
    pub tusk: TuskDatabase,
    /// sea-orm on sqlx's PgPool.
    pub sqlx: DatabaseConnection,
    /// The database's DSN.
    pub dsn: String,
}

/// A new database `name` (dropped first if it exists) with the entity schema, seeded when
/// `seed` is set, and both backends connected to it.
pub async fn fresh(name: &str, seed: bool) -> Backends {
    let server = server_dsn();
    let mut admin = Connection::connect(&server)
        .await
        .expect("connect to the server");
    // Two scripts: a multi-statement script runs as one transaction block.
    admin
        .execute_script(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop the test database");
    admin
        .execute_script(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    let dsn = dsn_for(&server, name);
    let mut conn = Connection::connect(&dsn)
        .await
        .expect("connect to the test database");
    conn.execute_script(entity::SCHEMA).await.expect("schema");
    if seed {
        conn.execute_script(seed::SEED).await.expect("seed");
    }
    conn.close().await.expect("close");
    connect(&dsn).await
}

/// Both backends on an existing database.
pub async fn connect(dsn: &str) -> Backends {
    let pool = Pool::builder(dsn.parse().expect("DSN"))
        .max_connections(4)
        .build()
        .await
        .expect("pgtusk pool");
    let mut options = sea_orm::ConnectOptions::new(dsn.to_owned());
    options.max_connections(4).sqlx_logging(false);
    let sqlx = sea_orm::Database::connect(options)
        .await
        .expect("sqlx pool");
    Backends {
        tusk: TuskDatabase::new(pool),
        sqlx,
        dsn: dsn.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::dsn_for;

    #[test]
    fn dsn_for_replaces_the_database() {
        assert_eq!(
            dsn_for("postgres://u:p@127.0.0.1:5432/postgres", "x"),
            "postgres://u:p@127.0.0.1:5432/x"
        );
        assert_eq!(
            dsn_for("postgres://u@h:1/db?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(dsn_for("postgres://u@h:1", "x"), "postgres://u@h:1/x");
    }
}
