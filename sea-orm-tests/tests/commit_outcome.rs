//! A COMMIT whose answer is lost, through sea-orm on pgtusk: the `DbErr` says the outcome is
//! unknown (pgtusk's `Error::CommitOutcomeUnknown`), for a transaction begun with the server's
//! defaults and for one begun with an isolation level (sent as SQL of the backend's own).

use pgtusk::Pool;
use pgtusk_dialect::sea_orm::TuskDatabase;
use pgtusk_tests::fault_proxy::{Cut, Direction, FaultProxy};
use pgtusk_tests::{connect, options_via, shared_port};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, IsolationLevel, Statement, TransactionSession,
    TransactionTrait,
};

async fn committed(id: i32) -> bool {
    connect()
        .await
        .fetch_value(
            "SELECT EXISTS (SELECT FROM so_commit_outcome WHERE id = $1)",
            &[&id],
        )
        .await
        .unwrap()
}

fn insert(id: i32) -> Statement {
    Statement::from_string(
        DbBackend::Postgres,
        format!("INSERT INTO so_commit_outcome VALUES ({id})"),
    )
}

fn assert_unknown(err: &DbErr) {
    let text = err.to_string();
    assert!(
        text.contains("COMMIT was sent but no answer came")
            && text.contains("may or may not have committed"),
        "{text}"
    );
}

#[tokio::test]
async fn a_lost_commit_answer_is_an_unknown_outcome_through_sea_orm() {
    connect()
        .await
        .execute_script(
            "DROP TABLE IF EXISTS so_commit_outcome; \
             CREATE TABLE so_commit_outcome (id int PRIMARY KEY)",
        )
        .await
        .unwrap();
    let proxy = FaultProxy::start(shared_port()).await;
    let pool = Pool::builder(options_via(proxy.port()))
        .build()
        .await
        .unwrap();
    let db = TuskDatabase::new(pool);

    // BEGIN queued by pgtusk's Transaction.
    let tx = db.begin().await.unwrap();
    tx.execute_raw(insert(1)).await.unwrap();
    proxy.arm(Some(Cut::AtMessage(Direction::ToClient, 0)));
    let err = tx.commit().await.unwrap_err();
    assert!(!proxy.cut_pending());
    assert_unknown(&err);
    assert!(committed(1).await, "the server got COMMIT");

    // BEGIN ISOLATION LEVEL …, sent by the backend itself.
    let tx = db
        .begin_with_config(Some(IsolationLevel::RepeatableRead), None)
        .await
        .unwrap();
    tx.execute_raw(insert(2)).await.unwrap();
    proxy.arm(Some(Cut::AtMessage(Direction::ToClient, 0)));
    let err = tx.commit().await.unwrap_err();
    assert!(!proxy.cut_pending());
    assert_unknown(&err);
    assert!(committed(2).await, "the server got COMMIT");
}
