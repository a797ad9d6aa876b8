//! Shared helpers for the integration tests.

use pgtusk::cluster::TempCluster;

/// The server the ordinary tests run against: `DATABASE_URL` when set,
/// otherwise the process-wide [`TempCluster::shared`] cluster.
///
/// # Panics
///
/// When `DATABASE_URL` is not set and no cluster can start; the message
/// says why.
pub fn shared_dsn() -> String {
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        return url;
    }
    match TempCluster::shared() {
        Ok(cluster) => cluster.dsn(),
        Err(e) => panic!("DATABASE_URL is not set and no TempCluster could start: {e}"),
    }
}
