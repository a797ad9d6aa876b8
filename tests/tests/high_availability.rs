//! target_session_attrs and load_balance_hosts against a real primary and its streaming
//! standby (TempCluster::start_standby: pg_basebackup -R, a second server): each value in
//! both host orders, with the primary down and with the standby down, and a host that never
//! answers costing only its own connect_timeout.

use std::time::{Duration, Instant};

use pgtusk::cluster::TempCluster;
use pgtusk::{Connection, Error, TargetSessionAttrs};

const ALL: [TargetSessionAttrs; 6] = [
    TargetSessionAttrs::Any,
    TargetSessionAttrs::ReadWrite,
    TargetSessionAttrs::ReadOnly,
    TargetSessionAttrs::Primary,
    TargetSessionAttrs::Standby,
    TargetSessionAttrs::PreferStandby,
];

fn dsn(ports: &[u16], extra: &str) -> String {
    let hosts = vec!["127.0.0.1"; ports.len()].join(",");
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!(
        "host={hosts} port={} user=postgres dbname=postgres connect_timeout=5 {extra}",
        ports.join(",")
    )
}

/// The port of the server `attrs` picks among `ports`, or the error.
async fn pick(ports: &[u16], attrs: TargetSessionAttrs) -> Result<u16, Error> {
    let mut conn =
        Connection::connect(&dsn(ports, &format!("target_session_attrs={attrs}"))).await?;
    let port: String = conn.fetch_value("SHOW port", &[]).await?;
    conn.close().await?;
    Ok(port.parse().unwrap())
}

#[tokio::test]
async fn each_target_session_attrs_value_against_primary_and_standby() {
    let mut primary = TempCluster::start().unwrap();
    let mut standby = primary.start_standby().unwrap();
    assert_eq!(standby.psql("SELECT pg_is_in_recovery()").unwrap(), "t");
    let (p, s) = (primary.port(), standby.port());

    // The standby reports in_hot_standby (PostgreSQL 14+), which the checks read.
    let conn = Connection::connect(&dsn(&[s], "")).await.unwrap();
    if primary.server_version() >= 14 {
        assert_eq!(conn.parameter("in_hot_standby"), Some("on"));
    }
    conn.close().await.unwrap();

    for order in [[p, s], [s, p]] {
        for attrs in ALL {
            let expected = match attrs {
                TargetSessionAttrs::Any => order[0],
                TargetSessionAttrs::ReadWrite | TargetSessionAttrs::Primary => p,
                TargetSessionAttrs::ReadOnly
                | TargetSessionAttrs::Standby
                | TargetSessionAttrs::PreferStandby => s,
            };
            assert_eq!(
                pick(&order, attrs).await.unwrap(),
                expected,
                "{attrs} over {order:?} (primary {p}, standby {s})"
            );
        }
    }

    // Only the primary: what wants a standby fails and says why, prefer-standby settles.
    for attrs in [TargetSessionAttrs::Standby, TargetSessionAttrs::ReadOnly] {
        let err = pick(&[p], attrs).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("target_session_attrs={attrs}")),
            "{msg}"
        );
        assert!(msg.contains("the server is"), "{msg}");
    }
    assert_eq!(
        pick(&[p], TargetSessionAttrs::PreferStandby).await.unwrap(),
        p
    );

    // The standby down: prefer-standby takes the primary on its second pass.
    standby.stop_server().unwrap();
    for order in [[p, s], [s, p]] {
        assert_eq!(
            pick(&order, TargetSessionAttrs::PreferStandby)
                .await
                .unwrap(),
            p
        );
        assert_eq!(pick(&order, TargetSessionAttrs::Any).await.unwrap(), p);
        let err = pick(&order, TargetSessionAttrs::Standby).await.unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err:?}");
    }
    standby.start_server().unwrap();

    // The primary down: the standby serves what a standby can, the rest fails naming both.
    primary.stop_server().unwrap();
    for order in [[p, s], [s, p]] {
        for attrs in ALL {
            let result = pick(&order, attrs).await;
            match attrs {
                TargetSessionAttrs::ReadWrite | TargetSessionAttrs::Primary => {
                    let err = result.unwrap_err();
                    let msg = err.to_string();
                    assert!(matches!(err, Error::Io(_)), "{err:?}");
                    assert!(msg.contains("could not connect to any host"), "{msg}");
                    assert!(msg.contains(&format!("127.0.0.1:{p}")), "{msg}");
                    assert!(msg.contains(&format!("127.0.0.1:{s}")), "{msg}");
                }
                _ => assert_eq!(result.unwrap(), s, "{attrs} over {order:?}, primary down"),
            }
        }
    }
}

#[tokio::test]
async fn load_balance_hosts_random_spreads_connections_and_disable_keeps_the_order() {
    let primary = TempCluster::start().unwrap();
    let standby = primary.start_standby().unwrap();
    let ports = [primary.port(), standby.port()];
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        let mut conn = Connection::connect(&dsn(&ports, "load_balance_hosts=random"))
            .await
            .unwrap();
        let port: String = conn.fetch_value("SHOW port", &[]).await.unwrap();
        seen.insert(port.parse::<u16>().unwrap());
        conn.close().await.unwrap();
    }
    assert_eq!(seen.len(), 2, "40 random picks all went to {seen:?}");
    for _ in 0..5 {
        let mut conn = Connection::connect(&dsn(&ports, "load_balance_hosts=disable"))
            .await
            .unwrap();
        let port: String = conn.fetch_value("SHOW port", &[]).await.unwrap();
        assert_eq!(port.parse::<u16>().unwrap(), ports[0]);
        conn.close().await.unwrap();
    }
    // Random still honours target_session_attrs.
    for _ in 0..10 {
        let mut conn = Connection::connect(&dsn(
            &ports,
            "load_balance_hosts=random target_session_attrs=read-write",
        ))
        .await
        .unwrap();
        let port: String = conn.fetch_value("SHOW port", &[]).await.unwrap();
        assert_eq!(port.parse::<u16>().unwrap(), ports[0]);
        conn.close().await.unwrap();
    }
}

/// A host that accepts TCP and never answers costs its own connect_timeout, then the next
/// host is tried with a fresh one.
#[tokio::test]
async fn each_host_gets_its_own_connect_timeout() {
    let cluster = TempCluster::shared().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let dsn = format!(
        "host=127.0.0.1,127.0.0.1,127.0.0.1 port={silent},{silent},{} user=postgres \
         connect_timeout=1",
        cluster.port()
    );
    let mut conn = Connection::connect(&dsn).await.unwrap();
    assert_eq!(conn.fetch_value::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "two silent hosts at 1 s each, then the server: {took:?}"
    );
}
