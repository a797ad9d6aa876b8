//! What the server tells outside a query's result: notices and the end of the session reach
//! the handlers set on ConnectOptions; each query is a `tracing` event on `pgtusk::query`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgtusk::{Connection, SqlState};
use pgtusk_tests::{connect, shared_options};

/// A `RAISE NOTICE` reaches the notice handler set on the options.
#[tokio::test]
async fn notices_reach_the_options_handler() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = shared_options().on_notice(move |notice| {
        sink.lock()
            .unwrap()
            .push((notice.code(), notice.message().to_owned()));
    });
    let mut conn = Connection::connect_with(&options).await.unwrap();
    conn.execute_script("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$")
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(
            SqlState::SUCCESSFUL_COMPLETION,
            "hello from plpgsql".to_owned()
        )]
    );
}

/// pg_terminate_backend: the termination handler is told once, with 57P01 and the server's
/// message, when the connection finds the session ended.
#[tokio::test]
async fn termination_reaches_the_handler_once() {
    let told = Arc::new(Mutex::new(Vec::new()));
    let sink = told.clone();
    let options = shared_options().on_termination(move |err| {
        sink.lock().unwrap().push((err.sqlstate(), err.to_string()));
    });
    let mut victim = Connection::connect_with(&options).await.unwrap();
    let pid = victim.backend_pid();
    let mut admin = connect().await;
    let terminated: bool = admin
        .fetch_value("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    assert!(terminated);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(told.lock().unwrap().is_empty(), "told before anything read");
    let err = victim.fetch("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some(SqlState::ADMIN_SHUTDOWN), "{err:?}");
    assert!(victim.fetch("SELECT 1", &[]).await.is_err());
    let told = told.lock().unwrap().clone();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, Some(SqlState::ADMIN_SHUTDOWN));
    assert!(
        told[0]
            .1
            .contains("terminating connection due to administrator command"),
        "{told:?}"
    );
}

/// The per-connection setter replaces the options' handler.
#[tokio::test]
async fn connection_on_termination_is_called() {
    let told = Arc::new(Mutex::new(0));
    let count = told.clone();
    let mut victim = connect().await;
    victim.on_termination(move |_| *count.lock().unwrap() += 1);
    let pid = victim.backend_pid();
    let mut admin = connect().await;
    let _: bool = admin
        .fetch_value("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(victim.fetch("SELECT 1", &[]).await.is_err());
    assert_eq!(*told.lock().unwrap(), 1);
}

/// Captures `pgtusk::query` events as "LEVEL field=value ..." lines.
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "pgtusk::query"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A query is a DEBUG event with its SQL, rows and cache hit or miss; past the threshold, WARN.
#[tokio::test(flavor = "current_thread")]
async fn queries_are_traced_and_slow_ones_warned() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let _guard = tracing::dispatcher::set_default(&tracing::Dispatch::new(Capture(events.clone())));
    let options = shared_options().slow_query_threshold(Duration::from_millis(30));
    let mut conn = Connection::connect_with(&options).await.unwrap();
    for _ in 0..2 {
        conn.fetch("SELECT generate_series(1, 3)", &[])
            .await
            .unwrap();
    }
    conn.execute("SELECT pg_sleep(0.1)", &[]).await.unwrap();
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[0].starts_with("DEBUG"), "{events:?}");
    assert!(
        events[0].contains("sql=SELECT generate_series(1, 3)"),
        "{events:?}"
    );
    assert!(events[0].contains("rows=3"), "{events:?}");
    assert!(events[0].contains("cache=\"miss\""), "{events:?}");
    assert!(events[1].contains("cache=\"hit\""), "{events:?}");
    assert!(events[2].starts_with("WARN"), "{events:?}");
    assert!(events[2].contains("slow query"), "{events:?}");
}
