//! LISTEN/NOTIFY against a real server: notifications kept in order while queries run, the
//! stream waiting while idle, overflow reported with its count, and a Listener that comes back
//! after `pg_terminate_backend` and a server restart.

use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use pgtusk::cluster::TempCluster;
use pgtusk::{Connection, Error, Listener, ListenerEvent, Notification, SqlState};
use pgtusk_tests::{connect, shared_options};

/// Long enough for any notification on a loaded machine; only reached when a test fails.
const WAIT: Duration = Duration::from_secs(10);

/// The next notification on `conn`, within [`WAIT`].
async fn next_notification(conn: &mut Connection) -> pgtusk::Result<Notification> {
    tokio::time::timeout(WAIT, conn.notifications().next())
        .await
        .expect("no notification within the wait")
        .expect("the stream ended")
}

fn payloads(notes: &[Notification]) -> Vec<String> {
    notes.iter().map(|n| n.payload().to_owned()).collect()
}

/// The next listener event, within `within`.
async fn next_event(listener: &mut Listener, within: Duration) -> pgtusk::Result<ListenerEvent> {
    tokio::time::timeout(within, listener.next())
        .await
        .expect("no listener event within the wait")
        .expect("a listener never ends")
}

/// The next notification from the listener, within [`WAIT`]; any other event fails the test.
async fn listener_notification(listener: &mut Listener) -> Notification {
    match next_event(listener, WAIT).await {
        Ok(ListenerEvent::Notification(n)) => n,
        other => panic!("expected a notification, got {other:?}"),
    }
}

/// Notifications sent by another session while this one runs queries are all kept, in the
/// order they were sent, and the queries' own results are untouched.
#[tokio::test]
async fn notifications_interleaved_with_queries_are_kept_in_order() {
    const COUNT: i32 = 300;
    let mut conn = connect().await;
    conn.listen("pgtusk_interleaved").await.unwrap();
    let sender = tokio::spawn(async move {
        let mut sender = connect().await;
        for i in 0..COUNT {
            sender
                .notify("pgtusk_interleaved", &i.to_string())
                .await
                .unwrap();
        }
    });
    let mut round = 0i32;
    while !sender.is_finished() {
        let got: i32 = conn
            .fetch_value("SELECT $1::int4 + 1", &[&round])
            .await
            .unwrap();
        assert_eq!(got, round + 1);
        round += 1;
    }
    sender.await.unwrap();
    // Own notifications come too, after the others (they are sent at this commit).
    conn.notify("pgtusk_interleaved", "own").await.unwrap();
    let mut got = Vec::new();
    for _ in 0..=COUNT {
        got.push(next_notification(&mut conn).await.unwrap());
    }
    let mut want: Vec<String> = (0..COUNT).map(|i| i.to_string()).collect();
    want.push("own".to_owned());
    assert_eq!(payloads(&got), want, "after {round} queries");
    assert!(got.iter().all(|n| n.channel() == "pgtusk_interleaved"));
    assert_eq!(got[COUNT as usize].process_id(), conn.backend_pid());
    // Nothing more, and the connection still answers.
    assert!(conn.notifications().next().now_or_never().is_none());
    assert_eq!(conn.fetch_value::<i32>("SELECT 7", &[]).await.unwrap(), 7);
}

/// With no query running, the stream reads the socket itself: a NOTIFY sent later by another
/// session arrives while it waits, and the connection is usable afterwards.
#[tokio::test]
async fn notifications_wait_for_new_ones_while_idle() {
    let mut conn = connect().await;
    conn.listen("pgtusk_idle").await.unwrap();
    let sender = tokio::spawn(async move {
        let mut sender = connect().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        sender.notify("pgtusk_idle", "late").await.unwrap();
    });
    let note = next_notification(&mut conn).await.unwrap();
    assert_eq!((note.channel(), note.payload()), ("pgtusk_idle", "late"));
    sender.await.unwrap();
    // Waiting, then giving up, loses nothing and leaves the connection usable.
    let nothing =
        tokio::time::timeout(Duration::from_millis(200), conn.notifications().next()).await;
    assert!(nothing.is_err(), "no notification was sent");
    assert_eq!(conn.fetch_value::<i32>("SELECT 8", &[]).await.unwrap(), 8);
    conn.unlisten("pgtusk_idle").await.unwrap();
    let mut sender = connect().await;
    sender.notify("pgtusk_idle", "unheard").await.unwrap();
    conn.execute("SELECT pg_sleep(0.1)", &[]).await.unwrap();
    assert!(conn.notifications().next().now_or_never().is_none());
}

/// A query dropped before its answer (a timeout) leaves replies on the socket; the stream
/// drains them on the way, as the next operation would, and hands out the notifications
/// that arrive meanwhile.
#[tokio::test]
async fn the_stream_drains_what_a_dropped_query_left() {
    let mut conn = connect().await;
    conn.listen("pgtusk_drain").await.unwrap();
    let dropped = tokio::time::timeout(
        Duration::from_millis(20),
        conn.fetch(
            "SELECT pg_notify('pgtusk_drain', 'during'), pg_sleep(0.3)",
            &[],
        ),
    )
    .await;
    assert!(dropped.is_err(), "the query should still run");
    let note = next_notification(&mut conn).await.unwrap();
    assert_eq!(note.payload(), "during");
    assert!(!conn.is_closed());
    assert_eq!(conn.fetch_value::<i32>("SELECT 9", &[]).await.unwrap(), 9);
}

/// Past the buffer's size the oldest notifications are dropped, and the stream says how many
/// before it yields the ones kept; the connection goes on.
#[tokio::test]
async fn overflow_is_reported_with_the_count_dropped() {
    let mut conn = connect().await;
    conn.set_notification_buffer(5);
    conn.listen("pgtusk_overflow").await.unwrap();
    // Own notifications are delivered before the statement's ReadyForQuery: all 12 are in
    // the buffer when this returns.
    conn.execute(
        "SELECT pg_notify('pgtusk_overflow', g::text) FROM generate_series(1, 12) g",
        &[],
    )
    .await
    .unwrap();
    match next_notification(&mut conn).await {
        Err(Error::NotificationsDropped { dropped, capacity }) => {
            assert_eq!((dropped, capacity), (7, 5));
        }
        other => panic!("expected the overflow, got {other:?}"),
    }
    let mut kept = Vec::new();
    for _ in 0..5 {
        kept.push(next_notification(&mut conn).await.unwrap());
    }
    assert_eq!(payloads(&kept), ["8", "9", "10", "11", "12"]);
    // The error says what happened and what to do.
    let message = Error::NotificationsDropped {
        dropped: 7,
        capacity: 5,
    }
    .to_string();
    assert!(message.contains("7 notification"), "{message}");
    assert!(message.contains("set_notification_buffer"), "{message}");
    // No more overflow: the next one comes alone.
    conn.notify("pgtusk_overflow", "13").await.unwrap();
    assert_eq!(next_notification(&mut conn).await.unwrap().payload(), "13");
}

/// A channel name is an identifier taken as written: case, spaces and quotes survive.
#[tokio::test]
async fn channel_names_are_taken_as_written() {
    let mut conn = connect().await;
    let channel = "Mixed \"Case\"; SELECT 1";
    conn.listen(channel).await.unwrap();
    conn.notify(channel, "odd").await.unwrap();
    let note = next_notification(&mut conn).await.unwrap();
    assert_eq!((note.channel(), note.payload()), (channel, "odd"));
    let err = conn.listen("").await.unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

/// When the server ends the session, the stream yields the server's reason, then ends; what
/// arrived before is still yielded first.
#[tokio::test]
async fn the_stream_ends_with_the_servers_reason() {
    let mut conn = connect().await;
    conn.listen("pgtusk_end").await.unwrap();
    conn.notify("pgtusk_end", "before").await.unwrap();
    let mut admin = connect().await;
    let pid = conn.backend_pid();
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let mut notes = conn.notifications();
    let first = tokio::time::timeout(WAIT, notes.next()).await.unwrap();
    assert_eq!(first.unwrap().unwrap().payload(), "before");
    let end = tokio::time::timeout(WAIT, notes.next()).await.unwrap();
    let err = end.expect("the reason").unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::ADMIN_SHUTDOWN), "{err:?}");
    assert!(
        tokio::time::timeout(WAIT, notes.next())
            .await
            .unwrap()
            .is_none()
    );
    assert!(conn.is_closed());
}

/// A Listener whose backend is terminated says so, reconnects, LISTENs again on every
/// channel, says that, and receives new notifications on all of them.
#[tokio::test]
async fn listener_survives_pg_terminate_backend() {
    let mut listener = Listener::connect_with(&shared_options()).await.unwrap();
    listener.listen("pgtusk_l1").await.unwrap();
    listener.listen("pgtusk_l2").await.unwrap();
    assert_eq!(
        listener.channels().collect::<Vec<_>>(),
        ["pgtusk_l1", "pgtusk_l2"]
    );
    let mut admin = connect().await;
    admin.notify("pgtusk_l1", "first").await.unwrap();
    assert_eq!(
        listener_notification(&mut listener).await.payload(),
        "first"
    );

    let old_pid = listener.backend_pid().unwrap();
    let terminated: bool = admin
        .fetch_value("SELECT pg_terminate_backend($1)", &[&old_pid])
        .await
        .unwrap();
    assert!(terminated);
    match next_event(&mut listener, WAIT).await {
        Ok(ListenerEvent::Disconnected(e)) => {
            assert_eq!(e.sqlstate(), Some(SqlState::ADMIN_SHUTDOWN), "{e:?}");
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    match next_event(&mut listener, WAIT).await {
        Ok(ListenerEvent::Reconnected) => {}
        other => panic!("expected Reconnected, got {other:?}"),
    }
    assert!(listener.is_connected());
    assert_ne!(listener.backend_pid(), Some(old_pid));
    admin.notify("pgtusk_l2", "after-2").await.unwrap();
    admin.notify("pgtusk_l1", "after-1").await.unwrap();
    let got = [
        listener_notification(&mut listener).await,
        listener_notification(&mut listener).await,
    ];
    let got: Vec<(&str, &str)> = got.iter().map(|n| (n.channel(), n.payload())).collect();
    assert_eq!(got, [("pgtusk_l2", "after-2"), ("pgtusk_l1", "after-1")]);
}

/// A Listener keeps trying while the server is down (quietly: connection refused is not an
/// error item), comes back once it is up, and hears new notifications; a channel added while
/// it was down is listened to as well.
#[tokio::test]
async fn listener_survives_a_server_restart() {
    let cluster = TempCluster::start().unwrap();
    let dsn = cluster.dsn();
    let mut listener = Listener::connect(&dsn).await.unwrap();
    listener.set_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(300));
    listener.listen("pgtusk_restart").await.unwrap();
    let mut sender = Connection::connect(&dsn).await.unwrap();
    sender.notify("pgtusk_restart", "before").await.unwrap();
    assert_eq!(
        listener_notification(&mut listener).await.payload(),
        "before"
    );
    drop(sender);

    let mut cluster = tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        cluster.stop_server().unwrap();
        cluster
    })
    .await
    .unwrap();
    match next_event(&mut listener, WAIT).await {
        Ok(ListenerEvent::Disconnected(e)) => assert!(e.is_closed(), "{e:?}"),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    // While the server is down: attempts fail quietly, nothing is yielded.
    let quiet = tokio::time::timeout(Duration::from_millis(500), listener.next()).await;
    assert!(
        quiet.is_err(),
        "yielded while the server was down: {quiet:?}"
    );
    assert!(!listener.is_connected());
    listener.listen("pgtusk_added").await.unwrap();

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start_server().unwrap();
        cluster
    })
    .await
    .unwrap();
    match next_event(&mut listener, Duration::from_secs(30)).await {
        Ok(ListenerEvent::Reconnected) => {}
        other => panic!("expected Reconnected, got {other:?}"),
    }
    let mut sender = Connection::connect(&cluster.dsn()).await.unwrap();
    sender.notify("pgtusk_restart", "after").await.unwrap();
    sender.notify("pgtusk_added", "added").await.unwrap();
    assert_eq!(
        listener_notification(&mut listener).await.payload(),
        "after"
    );
    assert_eq!(
        listener_notification(&mut listener).await.payload(),
        "added"
    );
    drop(listener);
    drop(sender);
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
}
