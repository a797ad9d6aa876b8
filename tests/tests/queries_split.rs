//! Every test of `queries.rs`, unchanged, through a [`FaultProxy`] that forwards each byte
//! both ways in a write of its own: the driver must reassemble messages from any split (a
//! length across two reads, a row across hundreds). Also the shared table of query cases
//! (`query_cases.rs`) through the async and the blocking API.

use pgtusk_tests::fault_proxy::{Direction, FaultProxy};
use pgtusk_tests::query_cases::cases;
use pgtusk_tests::{options_via, shared_port};

/// The connection `queries.rs` uses when compiled here (see its `route` module).
mod route {
    use super::*;

    /// A connection to the test server through a proxy of its own that splits every write
    /// into 1-byte pieces; the startup exchange already went through split.
    pub async fn connect() -> pgtusk::Connection {
        let proxy = split_proxy().await;
        let conn = pgtusk::Connection::connect_with(&options_via(proxy.port()))
            .await
            .unwrap_or_else(|e| panic!("cannot connect through the splitting proxy: {e}"));
        assert_split(&proxy);
        // The proxy stops accepting when dropped; this connection's relay runs on.
        conn
    }
}

#[path = "queries.rs"]
mod queries;

async fn split_proxy() -> FaultProxy {
    let proxy = FaultProxy::start(shared_port()).await;
    proxy.set_split(true);
    proxy.arm(None);
    proxy
}

/// Every byte that went through was a write of its own (below the proxy's 256 KiB budget).
fn assert_split(proxy: &FaultProxy) {
    let counts = proxy.counts();
    for dir in [Direction::ToServer, Direction::ToClient] {
        let bytes = counts.bytes(dir).min(256 * 1024);
        assert!(bytes > 0, "nothing went {dir:?}");
        assert_eq!(
            proxy.one_byte_writes(dir),
            bytes,
            "not every byte {dir:?} was a 1-byte write"
        );
    }
}

#[tokio::test]
async fn the_shared_query_cases_give_the_same_through_1_byte_writes() {
    let proxy = split_proxy().await;
    let mut conn = pgtusk::Connection::connect_with(&options_via(proxy.port()))
        .await
        .unwrap();
    for case in cases() {
        case.check("async, split", conn.fetch(case.sql, &case.params()).await);
    }
    assert_split(&proxy);
    eprintln!(
        "query cases: {} and {} 1-byte writes to the server and the client",
        proxy.one_byte_writes(Direction::ToServer),
        proxy.one_byte_writes(Direction::ToClient)
    );
}

#[test]
fn the_shared_query_cases_give_the_same_through_1_byte_writes_blocking() {
    // The proxy runs on a runtime of its own; the blocking connection has its own too.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(split_proxy());
    let mut conn = pgtusk::blocking::Connection::connect_with(&options_via(proxy.port())).unwrap();
    for case in cases() {
        case.check("blocking, split", conn.fetch(case.sql, &case.params()));
    }
    assert_split(&proxy);
}
