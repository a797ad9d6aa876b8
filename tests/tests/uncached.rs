//! Uncached SQL (`statement_cache_size=0`): one round trip per query once the connection has
//! described the text.

use pgtusk::{ConnectOptions, Connection};
use pgtusk_tests::{options_via, proxy::CountingProxy, shared_port};

/// A connection with statement_cache_size 0 through a counting proxy.
async fn counted() -> (CountingProxy, Connection) {
    let proxy = CountingProxy::start(shared_port()).await;
    let options: ConnectOptions = options_via(proxy.port()).statement_cache_size(0);
    let conn = Connection::connect_with(&options).await.unwrap();
    (proxy, conn)
}

#[tokio::test]
async fn measure_round_trips() {
    let (proxy, mut conn) = counted().await;
    proxy.reset();
    for i in 0..20i32 {
        let row = conn.fetch_one("SELECT $1::int4 + 1", &[&i]).await.unwrap();
        assert_eq!(row.get::<i32>(0), i + 1);
    }
    let t = proxy.traffic();
    println!(
        "20 fetch_one: Sync {} Flush {} Parse {} Describe {} writes {}",
        t.count(b'S'),
        t.count(b'H'),
        t.count(b'P'),
        t.count(b'D'),
        t.client_reads
    );
}
