//! Writes: the same sea-orm code on two identical databases, one through pgtusk and one
//! through sqlx, gives the same results and leaves the same rows.

use chrono::{FixedOffset, TimeZone};
use pgtusk_sea_orm_tests::entity::mood::Mood;
use pgtusk_sea_orm_tests::entity::{author, post, post_tag, tag};
use pgtusk_sea_orm_tests::fresh;
use rust_decimal::Decimal;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbErr, ExprTrait, QueryOrder, Set, SqlErr};

fn new_author(n: i32) -> author::ActiveModel {
    author::ActiveModel {
        id: NotSet,
        name: Set(format!("new {n}")),
        email: Set(format!("new{n}@example.com")),
        mood: Set(Mood::Meh),
        profile: Set(Some(
            serde_json::json!({"bio": "new", "langs": ["rust", "sql"], "n": n, "f": 0.5}),
        )),
        born: Set(chrono::NaiveDate::from_ymd_opt(1999, 12, 31)),
        // Not UTC: the server stores the instant; both backends read it back at +00:00.
        created_at: Set(FixedOffset::east_opt(5 * 3600 + 1800)
            .unwrap()
            .with_ymd_and_hms(2025, 3, 1, 8, 15, 30)
            .unwrap()),
        rating: Set(Some(Decimal::new(-12345, 2))),
        tags: Set(vec![
            "a".into(),
            "b c".into(),
            "\"quoted\"".into(),
            String::new(),
        ]),
        avatar: Set(Some(vec![0, 1, 2, 255])),
        uid: Set(Uuid::from_u128(
            0x1234_5678_9abc_def0_1234_5678_9abc_def0 + n as u128,
        )),
        score: Set(Some(f64::MIN_POSITIVE)),
        active: Set(false),
    }
}

/// Inserts, upserts, updates, deletes and their results; then every table.
async fn crud<C: ConnectionTrait>(db: &C) -> Vec<String> {
    let mut out = Vec::new();
    // ActiveModel::insert: INSERT … RETURNING every column.
    let inserted = new_author(1).insert(db).await.unwrap();
    out.push(format!("{inserted:?}"));
    // Defaults and NULLs.
    let sparse = author::ActiveModel {
        name: Set("sparse".into()),
        email: Set("sparse@example.com".into()),
        mood: Set(Mood::Happy),
        created_at: Set(FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
            .unwrap()),
        uid: Set(Uuid::nil()),
        profile: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    out.push(format!("{sparse:?}"));
    // Entity::insert(..).exec: the last insert id.
    let res = author::Entity::insert(new_author(2))
        .exec(db)
        .await
        .unwrap();
    out.push(format!("last_insert_id {}", res.last_insert_id));
    // insert_many, with and without RETURNING.
    let posts = (0..5).map(|i| post::ActiveModel {
        author_id: Set(inserted.id),
        title: Set(format!("new post {i}")),
        body: Set((i % 2 == 0).then(|| format!("body {i}"))),
        published_at: Set(Some(
            chrono::NaiveDate::from_ymd_opt(2025, 1, 1 + i)
                .unwrap()
                .and_hms_micro_opt(1, 2, 3, 456_789)
                .unwrap(),
        )),
        views: Set(i64::from(i) * 1_000_000_000_000),
        meta: Set((i % 2 == 1).then(|| post::Meta {
            lang: "fr".into(),
            words: i,
        })),
        ..Default::default()
    });
    let res = post::Entity::insert_many(posts).exec(db).await.unwrap();
    out.push(format!(
        "insert_many last_insert_id {:?}",
        res.last_insert_id
    ));
    let returned = post::Entity::insert_many((0..3).map(|i| post::ActiveModel {
        author_id: Set(sparse.id),
        title: Set(format!("returned {i}")),
        ..Default::default()
    }))
    .exec_with_returning(db)
    .await
    .unwrap();
    out.push(format!("{returned:?}"));
    // The composite key: insert, conflict ignored, conflict updated.
    let pair = post_tag::ActiveModel {
        post_id: Set(returned[0].id),
        tag_id: Set(1),
        weight: Set(7),
    };
    let pair = pair.insert(db).await.unwrap();
    out.push(format!("{pair:?}"));
    let again = post_tag::Entity::insert(post_tag::ActiveModel {
        post_id: Set(returned[0].id),
        tag_id: Set(1),
        weight: Set(8),
    })
    .on_conflict_do_nothing_on([post_tag::Column::PostId, post_tag::Column::TagId])
    .exec(db)
    .await
    .unwrap();
    out.push(format!("{again:?}"));
    let upserted = post_tag::Entity::insert(post_tag::ActiveModel {
        post_id: Set(returned[0].id),
        tag_id: Set(1),
        weight: Set(9),
    })
    .on_conflict(
        OnConflict::columns([post_tag::Column::PostId, post_tag::Column::TagId])
            .update_column(post_tag::Column::Weight)
            .to_owned(),
    )
    .exec_with_returning(db)
    .await
    .unwrap();
    out.push(format!("{upserted:?}"));
    // Updates: one model, many rows, a missing row.
    let mut changed: author::ActiveModel = inserted.clone().into();
    changed.mood = Set(Mood::Sad);
    changed.tags = Set(vec![]);
    changed.profile = Set(None);
    changed.rating = Set(Some(Decimal::new(99999, 2)));
    let changed = changed.update(db).await.unwrap();
    out.push(format!("{changed:?}"));
    let many = post::Entity::update_many()
        .col_expr(post::Column::Views, Expr::col(post::Column::Views).add(1))
        .filter(post::Column::AuthorId.is_in([1, 2, 3, inserted.id]))
        .exec(db)
        .await
        .unwrap();
    out.push(format!("updated {}", many.rows_affected));
    let missing = author::ActiveModel {
        id: Set(9999),
        name: Set("nobody".into()),
        ..Default::default()
    }
    .update(db)
    .await;
    out.push(format!("{missing:?}"));
    // Deletes.
    let one = post_tag::Entity::delete_by_id((returned[0].id, 1))
        .exec(db)
        .await
        .unwrap();
    out.push(format!("deleted {}", one.rows_affected));
    let some = post::Entity::delete_many()
        .filter(post::Column::Body.is_null())
        .filter(post::Column::AuthorId.is_in([4, 5]))
        .exec(db)
        .await
        .unwrap();
    out.push(format!("deleted {}", some.rows_affected));
    let model = tag::Entity::find_by_id(8).one(db).await.unwrap().unwrap();
    out.push(format!(
        "{:?}",
        model.delete(db).await.unwrap().rows_affected
    ));
    // save(): an insert, then an update.
    let saved = tag::ActiveModel {
        label: Set("saved".into()),
        ..Default::default()
    }
    .save(db)
    .await
    .unwrap();
    let mut saved = saved;
    saved.label = Set("saved again".into());
    let saved = saved.save(db).await.unwrap();
    out.push(format!("{saved:?}"));
    // Every table afterwards.
    out.push(format!(
        "{:?}",
        author::Entity::find()
            .order_by_asc(author::Column::Id)
            .all(db)
            .await
            .unwrap()
    ));
    out.push(format!(
        "{:?}",
        post::Entity::find()
            .order_by_asc(post::Column::Id)
            .all(db)
            .await
            .unwrap()
    ));
    out.push(format!(
        "{:?}",
        tag::Entity::find()
            .order_by_asc(tag::Column::Id)
            .all(db)
            .await
            .unwrap()
    ));
    out.push(format!(
        "{:?}",
        post_tag::Entity::find()
            .order_by_asc(post_tag::Column::PostId)
            .order_by_asc(post_tag::Column::TagId)
            .all(db)
            .await
            .unwrap()
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_matches_sqlx() {
    let tusk = fresh("so_write_crud_tusk", true).await;
    let sqlx = fresh("so_write_crud_sqlx", true).await;
    let on_tusk = crud(&tusk.tusk).await;
    let on_sqlx = crud(&sqlx.sqlx).await;
    assert_eq!(on_tusk.len(), on_sqlx.len());
    for (t, s) in on_tusk.iter().zip(&on_sqlx) {
        assert_eq!(t, s);
    }
}

/// A unique violation and a foreign key violation: the same `SqlErr` (through
/// `pgtusk_dialect::sea_orm::sql_err`, since `DbErr::sql_err` reads only sqlx's errors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraint_violations_classify_as_on_sqlx() {
    let db = fresh("so_write_violations", true).await;
    let dup = || {
        let mut a = new_author(1);
        a.email = Set("a1@example.com".into());
        a
    };
    let on_tusk = dup().insert(&db.tusk).await.unwrap_err();
    let on_sqlx = dup().insert(&db.sqlx).await.unwrap_err();
    let expected = on_sqlx.sql_err().expect("sqlx classifies it");
    assert!(
        matches!(expected, SqlErr::UniqueConstraintViolation(_)),
        "{expected:?}"
    );
    assert_eq!(pgtusk_dialect::sea_orm::sql_err(&on_tusk), Some(expected));
    assert_eq!(pgtusk_dialect::sea_orm::sqlstate(&on_tusk), Some("23505"));
    // DbErr::sql_err itself knows only sqlx's errors: pinned.
    assert_eq!(on_tusk.sql_err(), None);
    assert!(
        matches!(on_tusk, DbErr::Query(_) | DbErr::Exec(_)),
        "{on_tusk:?}"
    );

    let orphan = || post::ActiveModel {
        author_id: Set(424242),
        title: Set("orphan".into()),
        ..Default::default()
    };
    let on_tusk = orphan().insert(&db.tusk).await.unwrap_err();
    let on_sqlx = orphan().insert(&db.sqlx).await.unwrap_err();
    let expected = on_sqlx.sql_err().expect("sqlx classifies it");
    assert!(
        matches!(expected, SqlErr::ForeignKeyConstraintViolation(_)),
        "{expected:?}"
    );
    assert_eq!(pgtusk_dialect::sea_orm::sql_err(&on_tusk), Some(expected));
    // The same kind of DbErr as sqlx's (Query: ActiveModel::insert reads its RETURNING row).
    assert_eq!(
        std::mem::discriminant(&on_tusk),
        std::mem::discriminant(&on_sqlx)
    );
}

/// `execute_unprepared` runs a script; pgtusk's `execute_script` returns no row count, so
/// its `rows_affected` reads 0 where sqlx adds up the statements' counts (pinned).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_unprepared_counts_no_rows() {
    let db = fresh("so_write_unprepared", true).await;
    let script = "UPDATE so_tag SET label = label || '!' WHERE id <= 2; \
                  UPDATE so_tag SET label = label || '?' WHERE id = 3";
    let on_sqlx = db.sqlx.execute_unprepared(script).await.unwrap();
    assert_eq!(on_sqlx.rows_affected(), 3);
    let on_tusk = db.tusk.execute_unprepared(script).await.unwrap();
    assert_eq!(on_tusk.rows_affected(), 0);
    let labels: Vec<String> = tag::Entity::find()
        .order_by_asc(tag::Column::Id)
        .all(&db.tusk)
        .await
        .unwrap()
        .into_iter()
        .take(3)
        .map(|t| t.label)
        .collect();
    assert_eq!(labels, ["tag 1!!", "tag 2!!", "tag 3??"]);
    // A Statement's count is right.
    let n = db
        .tusk
        .execute_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "UPDATE so_tag SET label = label WHERE id <= 4",
        ))
        .await
        .unwrap();
    assert_eq!(n.rows_affected(), 4);
}
