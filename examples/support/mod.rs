//! Where the examples find a server: `DATABASE_URL` when set, otherwise a throwaway
//! `TempCluster` that lives as long as the returned guard.

use pgtusk::cluster::TempCluster;

/// A DSN to connect to, and the cluster behind it when the example started one.
pub struct Server {
    pub dsn: String,
    pub cluster: Option<TempCluster>,
}

/// `DATABASE_URL`, or a new TempCluster (needs the PostgreSQL server binaries installed).
pub fn server() -> std::io::Result<Server> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok(Server {
            dsn: url,
            cluster: None,
        }),
        _ => {
            let cluster = TempCluster::start()?;
            Ok(Server {
                dsn: cluster.dsn(),
                cluster: Some(cluster),
            })
        }
    }
}
