//! Transactions: isolation level and access mode, nesting as savepoints, rollback on drop,
//! the closure forms; each compared with sea-orm on sqlx.

use std::time::Duration;

use pgtusk_sea_orm_tests::entity::tag;
use pgtusk_sea_orm_tests::{Backends, fresh};
use sea_orm::entity::prelude::*;
use sea_orm::{
    AccessMode, ConnectionTrait, DbBackend, DbErr, IsolationLevel, QueryOrder, RuntimeErr, Set,
    Statement, TransactionError, TransactionSession, TransactionTrait,
};

/// The SQLSTATE of an error from either backend.
fn sqlstate(err: &DbErr) -> Option<String> {
    if let Some(code) = pgtusk_dialect::sea_orm::sqlstate(err) {
        return Some(code.to_owned());
    }
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned()),
        _ => None,
    }
}

async fn show<C: ConnectionTrait>(db: &C, setting: &str) -> String {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        format!("SHOW {setting}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index(0)
    .unwrap()
}

async fn add_tag<C: ConnectionTrait>(db: &C, label: &str) -> Result<tag::Model, DbErr> {
    tag::ActiveModel {
        label: Set(label.into()),
        ..Default::default()
    }
    .insert(db)
    .await
}

async fn labels<C: ConnectionTrait>(db: &C) -> Vec<String> {
    tag::Entity::find()
        .order_by_asc(tag::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.label)
        .collect()
}

/// Every isolation level and access mode is the transaction's; a write in a read-only one
/// fails with 25006.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_level_and_access_mode_are_honoured() {
    let db = fresh("so_tx_isolation", false).await;
    async fn run<D>(db: &D) -> Vec<String>
    where
        D: TransactionTrait + ConnectionTrait,
    {
        let mut out = Vec::new();
        let levels = [
            None,
            Some(IsolationLevel::ReadUncommitted),
            Some(IsolationLevel::ReadCommitted),
            Some(IsolationLevel::RepeatableRead),
            Some(IsolationLevel::Serializable),
        ];
        for level in levels {
            for mode in [
                None,
                Some(AccessMode::ReadOnly),
                Some(AccessMode::ReadWrite),
            ] {
                let tx = db.begin_with_config(level, mode).await.unwrap();
                let isolation = show(&tx, "transaction_isolation").await;
                let read_only = show(&tx, "transaction_read_only").await;
                let write = add_tag(&tx, "written").await;
                out.push(format!(
                    "{level:?} {mode:?}: {isolation} {read_only} {:?}",
                    write.as_ref().map_err(sqlstate).map(|t| t.label.clone())
                ));
                tx.rollback().await.unwrap();
            }
        }
        out
    }
    let tusk = run(&db.tusk).await;
    assert_eq!(tusk, run(&db.sqlx).await);
    assert!(
        tusk.contains(
            &"Some(Serializable) Some(ReadOnly): serializable on Err(Some(\"25006\"))".to_owned()
        ),
        "{tusk:#?}"
    );
    assert_eq!(labels(&db.tusk).await, Vec::<String>::new());
}

/// A REPEATABLE READ transaction keeps its snapshot while the pool commits around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeatable_read_keeps_its_snapshot() {
    async fn run<D: TransactionTrait + ConnectionTrait>(db: &D) -> Vec<usize> {
        add_tag(db, "before").await.unwrap();
        let tx = db
            .begin_with_config(Some(IsolationLevel::RepeatableRead), None)
            .await
            .unwrap();
        let seen = labels(&tx).await.len();
        add_tag(db, "outside").await.unwrap();
        let seen_again = labels(&tx).await.len();
        tx.commit().await.unwrap();
        vec![seen, seen_again, labels(db).await.len()]
    }
    let tusk = fresh("so_tx_snapshot_tusk", false).await;
    let sqlx = fresh("so_tx_snapshot_sqlx", false).await;
    let on_tusk = run(&tusk.tusk).await;
    assert_eq!(on_tusk, [1, 1, 2]);
    assert_eq!(on_tusk, run(&sqlx.sqlx).await);
}

/// `begin` on a transaction is a savepoint: rolled back alone, committed into its parent,
/// rolled back when dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_transactions_are_savepoints() {
    async fn run<D>(db: &D) -> Vec<String>
    where
        D: TransactionTrait + ConnectionTrait,
        D::Transaction: TransactionTrait + ConnectionTrait,
    {
        let tx = db.begin().await.unwrap();
        add_tag(&tx, "a").await.unwrap();
        let nested = tx.begin().await.unwrap();
        add_tag(&nested, "b (rolled back)").await.unwrap();
        nested.rollback().await.unwrap();
        let nested = tx.begin().await.unwrap();
        add_tag(&nested, "c").await.unwrap();
        {
            let deeper = nested.begin().await.unwrap();
            add_tag(&deeper, "d (dropped)").await.unwrap();
            // A failed statement inside a savepoint: the savepoint's rollback clears it.
            assert!(add_tag(&deeper, "c").await.is_err());
        }
        add_tag(&nested, "e").await.unwrap();
        nested.commit().await.unwrap();
        let failed = tx.begin().await.unwrap();
        assert!(add_tag(&failed, "a").await.is_err());
        failed.rollback().await.unwrap();
        add_tag(&tx, "f").await.unwrap();
        tx.commit().await.unwrap();
        labels(db).await
    }
    let tusk = fresh("so_tx_nested_tusk", false).await;
    let sqlx = fresh("so_tx_nested_sqlx", false).await;
    let on_tusk = run(&tusk.tusk).await;
    assert_eq!(on_tusk, ["a", "c", "e", "f"]);
    assert_eq!(on_tusk, run(&sqlx.sqlx).await);
}

/// The closure forms: committed on `Ok`, rolled back on `Err`, nested ones as savepoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closures_commit_on_ok_and_roll_back_on_err() {
    async fn run<D>(db: &D) -> Vec<String>
    where
        D: TransactionTrait + ConnectionTrait,
    {
        let kept = db
            .transaction::<_, i32, DbErr>(|tx| {
                Box::pin(async move {
                    let t = add_tag(tx, "kept").await?;
                    let inner = tx
                        .transaction::<_, (), DbErr>(|tx| {
                            Box::pin(async move {
                                add_tag(tx, "inner dropped").await?;
                                Err(DbErr::Custom("no".into()))
                            })
                        })
                        .await;
                    assert!(matches!(inner, Err(TransactionError::Transaction(_))));
                    tx.transaction::<_, (), DbErr>(|tx| {
                        Box::pin(async move {
                            add_tag(tx, "inner kept").await?;
                            Ok(())
                        })
                    })
                    .await
                    .map_err(|e| DbErr::Custom(e.to_string()))?;
                    Ok(t.id)
                })
            })
            .await
            .unwrap();
        let dropped = db
            .transaction_with_config::<_, (), DbErr>(
                |tx| {
                    Box::pin(async move {
                        add_tag(tx, "dropped").await?;
                        Err(DbErr::Custom("changed my mind".into()))
                    })
                },
                Some(IsolationLevel::Serializable),
                Some(AccessMode::ReadWrite),
            )
            .await;
        let mut out = labels(db).await;
        out.push(format!("{kept} {dropped:?}"));
        out
    }
    let tusk = fresh("so_tx_closures_tusk", false).await;
    let sqlx = fresh("so_tx_closures_sqlx", false).await;
    let on_tusk = run(&tusk.tusk).await;
    assert_eq!(on_tusk[..2], ["kept", "inner kept"]);
    assert_eq!(on_tusk, run(&sqlx.sqlx).await);
}

/// Waits until every connection of the pgtusk pool is back and idle.
async fn pool_settles(db: &Backends) {
    for _ in 0..200 {
        let status = db.tusk.pool().status();
        if status.in_use == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the pool did not settle: {}", db.tusk.pool().status());
}

/// A transaction dropped without commit or rollback (begun with defaults, with options, or
/// after a failed statement) rolls back, and its connection comes back to the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_rolls_back() {
    let db = fresh("so_tx_dropped", false).await;
    for backend in ["tusk", "sqlx"] {
        async fn drop_three<D: TransactionTrait>(db: &D) {
            let tx = db.begin().await.unwrap();
            add_tag(&tx, "defaults").await.unwrap();
            drop(tx);
            let tx = db
                .begin_with_config(
                    Some(IsolationLevel::Serializable),
                    Some(AccessMode::ReadWrite),
                )
                .await
                .unwrap();
            add_tag(&tx, "options").await.unwrap();
            drop(tx);
            let tx = db.begin().await.unwrap();
            add_tag(&tx, "failed").await.unwrap();
            assert!(add_tag(&tx, "failed").await.is_err());
            drop(tx);
            // Begun, never used.
            drop(db.begin().await.unwrap());
        }
        match backend {
            "tusk" => drop_three(&db.tusk).await,
            _ => drop_three(&db.sqlx).await,
        }
        assert_eq!(labels(&db.tusk).await, Vec::<String>::new(), "{backend}");
        assert_eq!(labels(&db.sqlx).await, Vec::<String>::new(), "{backend}");
    }
    pool_settles(&db).await;
    let status = db.tusk.pool().status();
    assert!(status.idle >= 1, "{status}");
    // The connections the dropped transactions used are clean: a transaction runs again.
    for _ in 0..8 {
        let tx = db.tusk.begin().await.unwrap();
        assert_eq!(show(&tx, "transaction_isolation").await, "read committed");
        tx.commit().await.unwrap();
    }
}

/// Every statement of a transaction runs on one connection, while other tasks use the
/// pool's other connections at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_pins_one_connection() {
    let db = fresh("so_tx_pinned", false).await;
    async fn pid<C: ConnectionTrait>(db: &C) -> i32 {
        db.query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_backend_pid() AS pid",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "pid")
        .unwrap()
    }
    let tx = db.tusk.begin().await.unwrap();
    let first = pid(&tx).await;
    let others = {
        let db = db.tusk.clone();
        tokio::spawn(async move {
            let mut pids = Vec::new();
            for _ in 0..20 {
                pids.push(pid(&db).await);
            }
            pids
        })
    };
    for _ in 0..20 {
        assert_eq!(pid(&tx).await, first);
        let nested = tx.begin().await.unwrap();
        assert_eq!(pid(&nested).await, first);
        nested.commit().await.unwrap();
    }
    let others = others.await.unwrap();
    assert!(
        others.iter().all(|p| *p != first),
        "{others:?} ran on {first}"
    );
    tx.commit().await.unwrap();
}

/// An isolation level for a savepoint: the server refuses it, through both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_isolation_level_is_refused_as_on_sqlx() {
    let db = fresh("so_tx_nested_isolation", false).await;
    async fn run<D>(db: &D) -> Option<String>
    where
        D: TransactionTrait + ConnectionTrait,
    {
        let tx = db.begin().await.unwrap();
        labels(&tx).await;
        match tx
            .begin_with_config(Some(IsolationLevel::Serializable), None)
            .await
        {
            Ok(_) => None,
            Err(err) => sqlstate(&err),
        }
    }
    let on_tusk = run(&db.tusk).await;
    assert_eq!(on_tusk.as_deref(), Some("25001"));
    assert_eq!(on_tusk, run(&db.sqlx).await);
}

/// COMMIT of a failed transaction: PostgreSQL rolls it back. sea-orm on sqlx returns `Ok`;
/// pgtusk returns an error that says the transaction was rolled back (pinned difference).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committing_a_failed_transaction_says_it_rolled_back() {
    let db = fresh("so_tx_failed_commit", false).await;
    for with_options in [false, true] {
        let mode = with_options.then_some(AccessMode::ReadWrite);
        let tx = db.tusk.begin_with_config(None, mode).await.unwrap();
        add_tag(&tx, "lost").await.unwrap();
        assert!(add_tag(&tx, "lost").await.is_err());
        let err = tx.commit().await.unwrap_err();
        assert!(
            err.to_string().contains("rolled the transaction back"),
            "{err}"
        );

        let tx = db.sqlx.begin_with_config(None, mode).await.unwrap();
        add_tag(&tx, "lost").await.unwrap();
        assert!(add_tag(&tx, "lost").await.is_err());
        tx.commit().await.unwrap();
    }
    assert_eq!(labels(&db.tusk).await, Vec::<String>::new());
}

/// A nested transaction whose parent ended is refused with an error that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_savepoint_outliving_its_transaction_is_refused() {
    let db = fresh("so_tx_outlived", false).await;
    let tx = db.tusk.begin().await.unwrap();
    let nested = tx.begin().await.unwrap();
    add_tag(&nested, "kept").await.unwrap();
    tx.commit().await.unwrap();
    let err = add_tag(&nested, "late").await.unwrap_err();
    assert!(err.to_string().contains("has ended"), "{err}");
    let err = nested.commit().await.unwrap_err();
    assert!(err.to_string().contains("has ended"), "{err}");
    assert_eq!(labels(&db.tusk).await, ["kept"]);
    pool_settles(&db).await;
}

/// 16 tasks, 10 transactions each (a savepoint rolled back in every one), on a pool of 4:
/// every committed row is there and nothing of a rolled-back savepoint is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_on_a_small_pool_keep_apart() {
    let db = fresh("so_tx_concurrent", false).await;
    let mut tasks = Vec::new();
    for task in 0..16 {
        let db = db.tusk.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let tx = db.begin().await.unwrap();
                add_tag(&tx, &format!("kept {task}.{i}")).await.unwrap();
                let nested = tx.begin().await.unwrap();
                add_tag(&nested, &format!("lost {task}.{i}")).await.unwrap();
                if i % 2 == 0 {
                    nested.rollback().await.unwrap();
                } else {
                    drop(nested);
                }
                if i % 3 == 0 {
                    drop(tx);
                } else {
                    tx.commit().await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let labels = labels(&db.tusk).await;
    let expected = 16 * (0..10).filter(|i| i % 3 != 0).count();
    assert_eq!(labels.len(), expected, "{labels:?}");
    assert!(labels.iter().all(|l| l.starts_with("kept ")), "{labels:?}");
    pool_settles(&db).await;
}
