//! Where the examples find a server: `DATABASE_URL` when set, otherwise a throwaway
//! `TempCluster` that lives as long as the returned guard.

use pgtusk::cluster::TempCluster;

/// A DSN to connect to; the cluster behind it, when the example started one, stops when
/// this is dropped.
pub struct Server {
    pub dsn: String,
    _cluster: Option<TempCluster>,
}

/// `DATABASE_URL`, or a new TempCluster (needs the PostgreSQL server binaries installed).
pub fn server() -> std::io::Result<Server> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            println!("server: DATABASE_URL");
            Ok(Server {
                dsn: url,
                _cluster: None,
            })
        }
        _ => {
            let started = std::time::Instant::now();
            let cluster = TempCluster::start()?;
            println!(
                "server: a throwaway cluster (started in {:.2?})",
                started.elapsed()
            );
            Ok(Server {
                dsn: cluster.dsn(),
                _cluster: Some(cluster),
            })
        }
    }
}
