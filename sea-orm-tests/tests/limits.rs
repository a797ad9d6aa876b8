//! Past the 65,535-parameter limit: an `insert_many` of 200,000 rows and a loader over
//! 100,000 keys. sea-orm renders one parameter per value, so on sqlx both fail (asserted
//! here: "too many arguments for query"); through pgtusk the statement rewrite
//! (`pgtusk_dialect::rewrite`) sends one array parameter per column or key list, and both
//! are one statement. Without the rewrite they fail as on sqlx, with the backend's own
//! error naming the 65,535-parameter limit.

use std::collections::BTreeMap;

use pgtusk_sea_orm_tests::entity::{author, post};
use pgtusk_sea_orm_tests::fresh;
use sea_orm::entity::prelude::*;
use sea_orm::{DbErr, LoaderTrait, PaginatorTrait, QueryOrder, Set};

fn posts(n: i64, author_id: i32) -> Vec<post::ActiveModel> {
    (0..n)
        .map(|i| post::ActiveModel {
            author_id: Set(author_id),
            title: Set(format!("bulk {i}")),
            body: Set((i % 3 == 0).then(|| format!("body {i}"))),
            published_at: Set(None),
            views: Set(i),
            meta: Set((i % 5 == 0).then(|| post::Meta {
                lang: "en".into(),
                words: i as u32,
            })),
            ..Default::default()
        })
        .collect()
}

fn is_too_many_parameters(err: &DbErr) -> bool {
    let text = err.to_string().to_lowercase();
    text.contains("65535") || text.contains("65,535") || text.contains("too many")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_many_of_200_000_rows_is_one_statement() {
    let db = fresh("so_limits_insert", true).await;
    // sea-orm on sqlx: 1,200,000 parameters in one statement.
    let err = post::Entity::insert_many(posts(200_000, 1))
        .exec(&db.sqlx)
        .await
        .unwrap_err();
    assert!(is_too_many_parameters(&err), "sqlx: {err}");

    let before = post::Entity::find().count(&db.sqlx).await.unwrap();
    let res = post::Entity::insert_many(posts(200_000, 1))
        .exec(&db.tusk)
        .await
        .unwrap_or_else(|e| panic!("pgtusk: {e}"));
    let inserted = post::Entity::find()
        .filter(post::Column::Title.starts_with("bulk "))
        .order_by_asc(post::Column::Id)
        .all(&db.sqlx)
        .await
        .unwrap();
    assert_eq!(inserted.len(), 200_000);
    assert_eq!(
        post::Entity::find().count(&db.sqlx).await.unwrap(),
        before + 200_000
    );
    assert_eq!(res.last_insert_id, inserted.last().map(|p| p.id));
    // Row i is what row i of the insert said, in order.
    for (i, p) in inserted.iter().enumerate() {
        let i = i as i64;
        assert_eq!(p.title, format!("bulk {i}"));
        assert_eq!(p.views, i);
        assert_eq!(p.body.is_some(), i % 3 == 0);
        assert_eq!(
            p.meta.as_ref().map(|m| m.words),
            (i % 5 == 0).then_some(i as u32)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loader_over_100_000_keys_is_one_statement() {
    let db = fresh("so_limits_loader", true).await;
    db.tusk
        .execute_unprepared(
            "INSERT INTO so_author (name, email, mood, created_at, uid) \
             SELECT 'bulk ' || i, 'bulk' || i || '@example.com', 'meh', now(), gen_random_uuid() \
             FROM generate_series(1, 100000) i; \
             INSERT INTO so_post (author_id, title) \
             SELECT id, 'bulk post ' || id FROM so_author WHERE id % 7 = 0",
        )
        .await
        .unwrap();
    let authors = author::Entity::find()
        .order_by_asc(author::Column::Id)
        .all(&db.sqlx)
        .await
        .unwrap();
    assert!(authors.len() > 100_000);
    let all_posts = post::Entity::find()
        .order_by_asc(post::Column::Id)
        .all(&db.sqlx)
        .await
        .unwrap();

    // sea-orm on sqlx: one parameter per key.
    let err = authors.load_many(post::Entity, &db.sqlx).await.unwrap_err();
    assert!(is_too_many_parameters(&err), "sqlx: {err}");

    // load_many: each author's posts, as grouping every post by author gives.
    let loaded = authors
        .load_many(post::Entity, &db.tusk)
        .await
        .unwrap_or_else(|e| panic!("pgtusk: {e}"));
    let mut by_author: BTreeMap<i32, Vec<post::Model>> = BTreeMap::new();
    for p in &all_posts {
        by_author.entry(p.author_id).or_default().push(p.clone());
    }
    assert_eq!(loaded.len(), authors.len());
    for (a, mut posts) in authors.iter().zip(loaded) {
        posts.sort_by_key(|p| p.id);
        assert_eq!(
            posts,
            by_author.remove(&a.id).unwrap_or_default(),
            "author {}",
            a.id
        );
    }

    // load_one: every post's author.
    let loaded = all_posts
        .load_one(author::Entity, &db.tusk)
        .await
        .unwrap_or_else(|e| panic!("pgtusk: {e}"));
    for (p, a) in all_posts.iter().zip(loaded) {
        assert_eq!(a.map(|a| a.id), Some(p.author_id));
    }
}
