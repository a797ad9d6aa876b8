//! Reads: every result of sea-orm on pgtusk equals sea-orm on sqlx's, on the same database.

use pgtusk_sea_orm_tests::entity::mood::Mood;
use pgtusk_sea_orm_tests::entity::{author, post, post_tag, tag};
use pgtusk_sea_orm_tests::fresh;
use sea_orm::entity::prelude::*;
use sea_orm::{
    ConnectionTrait, FromQueryResult, JoinType, LoaderTrait, PaginatorTrait, QueryOrder,
    QuerySelect,
};

/// Every author, every column type, NULLs in each nullable column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_all_reads_every_column_type_as_sqlx_does() {
    let db = fresh("so_read_find_all", true).await;
    async fn all<C: ConnectionTrait>(
        db: &C,
    ) -> (
        Vec<author::Model>,
        Vec<post::Model>,
        Vec<tag::Model>,
        Vec<post_tag::Model>,
    ) {
        (
            author::Entity::find()
                .order_by_asc(author::Column::Id)
                .all(db)
                .await
                .unwrap(),
            post::Entity::find()
                .order_by_asc(post::Column::Id)
                .all(db)
                .await
                .unwrap(),
            tag::Entity::find()
                .order_by_asc(tag::Column::Id)
                .all(db)
                .await
                .unwrap(),
            post_tag::Entity::find()
                .order_by_asc(post_tag::Column::PostId)
                .order_by_asc(post_tag::Column::TagId)
                .all(db)
                .await
                .unwrap(),
        )
    }
    let tusk = all(&db.tusk).await;
    let sqlx = all(&db.sqlx).await;
    assert_eq!(tusk.0.len(), 12);
    assert!(
        tusk.0.iter().any(|a| a.profile.is_none()) && tusk.0.iter().any(|a| a.profile.is_some())
    );
    assert!(tusk.0.iter().any(|a| a.rating.is_none()) && tusk.0.iter().any(|a| a.rating.is_some()));
    assert!(tusk.1.iter().any(|p| p.meta.is_some()) && tusk.1.iter().any(|p| p.meta.is_none()));
    assert!(!tusk.3.is_empty());
    assert_eq!(tusk, sqlx);
}

/// Filters: by primary key, a composite primary key, an enum, a JSON path, `IN` lists of
/// several types, NULL tests; `one`, `count`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_give_the_rows_sqlx_gives() {
    let db = fresh("so_read_filters", true).await;
    async fn run<C: ConnectionTrait>(db: &C) -> Vec<String> {
        let mut out = Vec::new();
        let by_id = author::Entity::find_by_id(3).one(db).await.unwrap();
        out.push(format!("{by_id:?}"));
        let missing = author::Entity::find_by_id(999).one(db).await.unwrap();
        out.push(format!("{missing:?}"));
        let pair = post_tag::Entity::find()
            .order_by_asc(post_tag::Column::PostId)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let by_pair = post_tag::Entity::find_by_id((pair.post_id, pair.tag_id))
            .one(db)
            .await
            .unwrap();
        out.push(format!("{by_pair:?}"));
        let sad = author::Entity::find()
            .filter(author::Column::Mood.eq(Mood::Sad))
            .order_by_asc(author::Column::Id)
            .all(db)
            .await
            .unwrap();
        out.push(format!("{sad:?}"));
        let moods = author::Entity::find()
            .filter(author::Column::Mood.is_in([Mood::Happy, Mood::Meh]))
            .order_by_asc(author::Column::Id)
            .all(db)
            .await
            .unwrap();
        out.push(format!(
            "{:?}",
            moods.iter().map(|a| a.id).collect::<Vec<_>>()
        ));
        let ids = author::Entity::find()
            .filter(author::Column::Id.is_in([1, 4, 9, 77]))
            .filter(author::Column::Rating.is_not_null())
            .order_by_desc(author::Column::Id)
            .all(db)
            .await
            .unwrap();
        out.push(format!("{ids:?}"));
        let names = author::Entity::find()
            .filter(author::Column::Email.is_in(["a2@example.com", "a5@example.com"]))
            .filter(author::Column::Name.is_not_in(["author 5"]))
            .all(db)
            .await
            .unwrap();
        out.push(format!("{names:?}"));
        let uids = author::Entity::find()
            .filter(author::Column::Uid.is_in([sad[0].uid]))
            .all(db)
            .await
            .unwrap();
        out.push(format!("{uids:?}"));
        let created = author::Entity::find()
            .filter(author::Column::CreatedAt.gt(sad[0].created_at))
            .filter(author::Column::Born.is_null())
            .count(db)
            .await
            .unwrap();
        out.push(format!("{created}"));
        let rated = author::Entity::find()
            .filter(author::Column::Rating.gte(rust_decimal::Decimal::new(1077, 2)))
            .count(db)
            .await
            .unwrap();
        out.push(format!("{rated}"));
        let published = post::Entity::find()
            .filter(
                post::Column::PublishedAt.lt(chrono::NaiveDate::from_ymd_opt(2024, 6, 5)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()),
            )
            .order_by_asc(post::Column::Id)
            .all(db)
            .await
            .unwrap();
        out.push(format!("{published:?}"));
        let bio = author::Entity::find()
            .filter(Expr::cust("profile ->> 'bio' = 'bio 2'"))
            .all(db)
            .await
            .unwrap();
        out.push(format!("{bio:?}"));
        out
    }
    let tusk = run(&db.tusk).await;
    let sqlx = run(&db.sqlx).await;
    assert_eq!(tusk, sqlx);
    assert!(tusk[0].starts_with("Some("), "{}", tusk[0]);
    assert_eq!(tusk[1], "None");
}

/// `find_with_related` (one-to-many and many-to-many) and `find_also_related`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn related_rows_match_sqlx() {
    let db = fresh("so_read_related", true).await;
    async fn run<C: ConnectionTrait>(db: &C) -> String {
        let authors_posts = author::Entity::find()
            .find_with_related(post::Entity)
            .order_by_asc(author::Column::Id)
            .order_by_asc(post::Column::Id)
            .all(db)
            .await
            .unwrap();
        assert_eq!(authors_posts.len(), 12);
        let posts_tags = post::Entity::find()
            .find_with_related(tag::Entity)
            .order_by_asc(post::Column::Id)
            .order_by_asc(tag::Column::Id)
            .all(db)
            .await
            .unwrap();
        let posts_author = post::Entity::find()
            .find_also_related(author::Entity)
            .order_by_asc(post::Column::Id)
            .all(db)
            .await
            .unwrap();
        let tags_posts = tag::Entity::find()
            .find_with_related(post::Entity)
            .filter(tag::Column::Id.lte(3))
            .order_by_asc(tag::Column::Id)
            .order_by_asc(post::Column::Id)
            .all(db)
            .await
            .unwrap();
        let author = author::Entity::find_by_id(5)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let their_posts = author
            .find_related(post::Entity)
            .order_by_asc(post::Column::Id)
            .all(db)
            .await
            .unwrap();
        format!(
            "{authors_posts:?}\n{posts_tags:?}\n{posts_author:?}\n{tags_posts:?}\n{their_posts:?}"
        )
    }
    assert_eq!(run(&db.tusk).await, run(&db.sqlx).await);
}

/// The loader: `load_one`, `load_many` (one-to-many and many-to-many) and
/// `load_many_to_many`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loader_matches_sqlx() {
    let db = fresh("so_read_loader", true).await;
    async fn run<C: ConnectionTrait>(db: &C) -> String {
        let authors = author::Entity::find()
            .order_by_asc(author::Column::Id)
            .all(db)
            .await
            .unwrap();
        let posts = post::Entity::find()
            .order_by_asc(post::Column::Id)
            .all(db)
            .await
            .unwrap();
        let tags = tag::Entity::find()
            .order_by_asc(tag::Column::Id)
            .all(db)
            .await
            .unwrap();
        let post_authors = posts.load_one(author::Entity, db).await.unwrap();
        let author_posts = authors.load_many(post::Entity, db).await.unwrap();
        let author_posts_filtered = authors
            .load_many(
                post::Entity::find().filter(post::Column::Body.is_not_null()),
                db,
            )
            .await
            .unwrap();
        let post_tags = posts.load_many(tag::Entity, db).await.unwrap();
        let post_tags_legacy = posts
            .load_many_to_many(tag::Entity, post_tag::Entity, db)
            .await
            .unwrap();
        let tag_posts = tags
            .load_many_to_many(post::Entity, post_tag::Entity, db)
            .await
            .unwrap();
        assert_eq!(post_tags, post_tags_legacy);
        assert_eq!(post_authors.len(), posts.len());
        format!(
            "{post_authors:?}\n{author_posts:?}\n{author_posts_filtered:?}\n{post_tags:?}\n{tag_posts:?}"
        )
    }
    assert_eq!(run(&db.tusk).await, run(&db.sqlx).await);
}

/// Offset pagination (`paginate`: pages, items, each page) and cursor pagination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_matches_sqlx() {
    let db = fresh("so_read_pages", true).await;
    async fn run<C: ConnectionTrait>(db: &C) -> String {
        let pages = post::Entity::find()
            .order_by_asc(post::Column::Id)
            .paginate(db, 7);
        let counts = pages.num_items_and_pages().await.unwrap();
        let mut all = Vec::new();
        for page in 0..counts.number_of_pages {
            all.push(pages.fetch_page(page).await.unwrap());
        }
        let past_end = pages.fetch_page(counts.number_of_pages + 1).await.unwrap();
        let first = post::Entity::find()
            .cursor_by(post::Column::Id)
            .after(3)
            .first(4)
            .all(db)
            .await
            .unwrap();
        let last = post::Entity::find()
            .cursor_by(post::Column::Id)
            .before(20)
            .last(3)
            .all(db)
            .await
            .unwrap();
        let by_pair = post_tag::Entity::find()
            .cursor_by((post_tag::Column::PostId, post_tag::Column::TagId))
            .after((2i64, 1i32))
            .first(5)
            .all(db)
            .await
            .unwrap();
        format!("{counts:?}\n{all:?}\n{past_end:?}\n{first:?}\n{last:?}\n{by_pair:?}")
    }
    let tusk = run(&db.tusk).await;
    assert_eq!(tusk, run(&db.sqlx).await);
    assert!(
        tusk.starts_with("ItemsAndPagesNumber { number_of_items: "),
        "{tusk}"
    );
}

#[derive(Debug, PartialEq, FromQueryResult)]
struct AuthorStats {
    name: String,
    posts: i64,
    total_views: Option<rust_decimal::Decimal>,
    last_published: Option<chrono::NaiveDateTime>,
}

/// Joins, aggregates and a custom result struct (`into_model`), read by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_into_a_custom_model_match_sqlx() {
    let db = fresh("so_read_aggregates", true).await;
    async fn run<C: ConnectionTrait>(db: &C) -> Vec<AuthorStats> {
        author::Entity::find()
            .select_only()
            .column(author::Column::Name)
            .column_as(post::Column::Id.count(), "posts")
            .column_as(post::Column::Views.sum(), "total_views")
            .column_as(post::Column::PublishedAt.max(), "last_published")
            .join(JoinType::LeftJoin, author::Relation::Post.def())
            .group_by(author::Column::Id)
            .group_by(author::Column::Name)
            .order_by_asc(author::Column::Id)
            .into_model::<AuthorStats>()
            .all(db)
            .await
            .unwrap()
    }
    let tusk = run(&db.tusk).await;
    assert_eq!(tusk.len(), 12);
    assert_eq!(tusk, run(&db.sqlx).await);
}

/// A single-column `into_tuple` and the enum and array columns alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_column_selections_match_sqlx() {
    let db = fresh("so_read_single", true).await;
    async fn run<C: ConnectionTrait>(db: &C) -> String {
        let ids: Vec<i32> = author::Entity::find()
            .select_only()
            .column(author::Column::Id)
            .order_by_asc(author::Column::Id)
            .into_tuple()
            .all(db)
            .await
            .unwrap();
        let moods: Vec<Mood> = author::Entity::find()
            .select_only()
            .column(author::Column::Mood)
            .order_by_asc(author::Column::Id)
            .into_tuple()
            .all(db)
            .await
            .unwrap();
        let tags: Vec<Vec<String>> = author::Entity::find()
            .select_only()
            .column(author::Column::Tags)
            .order_by_asc(author::Column::Id)
            .into_tuple()
            .all(db)
            .await
            .unwrap();
        format!("{ids:?}\n{moods:?}\n{tags:?}")
    }
    assert_eq!(run(&db.tusk).await, run(&db.sqlx).await);
}

/// Through the rewrite, an `IN` list and the loader's key list are one array parameter: one
/// prepared statement serves every length (on sqlx each length is a statement of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_statement_serves_every_list_length() {
    let db = fresh("so_read_one_statement", true).await;
    let pool = pgtusk::Pool::builder(db.dsn.parse().unwrap())
        .max_connections(1)
        .build()
        .await
        .unwrap();
    let tusk = pgtusk_dialect::sea_orm::TuskDatabase::new(pool.clone());
    let cached = || async { pool.acquire().await.unwrap().cached_statements() };
    let authors = author::Entity::find()
        .order_by_asc(author::Column::Id)
        .all(&tusk)
        .await
        .unwrap();
    let before = cached().await;
    for n in 1..=12 {
        let ids: Vec<i32> = (1..=n).collect();
        let on_tusk = author::Entity::find()
            .filter(author::Column::Id.is_in(ids.clone()))
            .filter(
                author::Column::Mood
                    .is_in([Mood::Happy, Mood::Sad, Mood::Meh][..(n as usize % 3) + 1].to_vec()),
            )
            .order_by_asc(author::Column::Id)
            .all(&tusk)
            .await
            .unwrap();
        let on_sqlx = author::Entity::find()
            .filter(author::Column::Id.is_in(ids))
            .filter(
                author::Column::Mood
                    .is_in([Mood::Happy, Mood::Sad, Mood::Meh][..(n as usize % 3) + 1].to_vec()),
            )
            .order_by_asc(author::Column::Id)
            .all(&db.sqlx)
            .await
            .unwrap();
        assert_eq!(on_tusk, on_sqlx);
        let some = authors[..n as usize].to_vec();
        let loaded = some.load_many(post::Entity, &tusk).await.unwrap();
        assert_eq!(
            loaded,
            some.load_many(post::Entity, &db.sqlx).await.unwrap()
        );
    }
    // Two statements: the filtered select and the loader's, whatever the lengths.
    assert_eq!(cached().await - before, 2);
}
