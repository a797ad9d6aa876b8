//! What a `ProxyRow` (the only row an outside backend can hand sea-orm) changes against
//! sea-orm on sqlx, pinned: each test shows both backends' results side by side. What the
//! backend can choose (the value variants) is chosen so that model fields read as on sqlx;
//! the rest only sea-orm can change (see the README's sea-orm section).

use pgtusk_sea_orm_tests::entity::author;
use pgtusk_sea_orm_tests::fresh;
use sea_orm::entity::prelude::*;
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, JsonValue, QueryOrder, QueryResult, QuerySelect,
    Statement,
};

async fn row<C: ConnectionTrait>(db: &C, sql: &str) -> QueryResult {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap()
}

/// 1. Positions follow the column names' alphabetical order, not the SELECT list: a
///    multi-column `into_tuple`, `try_get_by_index` and `column_names` see `id, name` for
///    `SELECT name, id`. Reading by name (models, `into_model`, `try_get`) is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_follow_alphabetical_column_order() {
    let db = fresh("so_proxy_order", true).await;
    let select = || {
        author::Entity::find()
            .select_only()
            .column(author::Column::Name)
            .column(author::Column::Id)
            .filter(author::Column::Id.eq(1))
    };
    // The SELECT list's order: sqlx reads it, pgtusk's row has id first.
    let sqlx: (String, i32) = select().into_tuple().one(&db.sqlx).await.unwrap().unwrap();
    assert_eq!(sqlx, ("author 1".to_owned(), 1));
    assert!(
        select()
            .into_tuple::<(String, i32)>()
            .one(&db.tusk)
            .await
            .is_err()
    );
    // The alphabetical order: the other way round.
    let tusk: (i32, String) = select().into_tuple().one(&db.tusk).await.unwrap().unwrap();
    assert_eq!(tusk, (1, "author 1".to_owned()));
    assert!(
        select()
            .into_tuple::<(i32, String)>()
            .one(&db.sqlx)
            .await
            .is_err()
    );

    let sql = "SELECT 'z' AS zeta, 1 AS alpha";
    let (t, s) = (row(&db.tusk, sql).await, row(&db.sqlx, sql).await);
    assert_eq!(s.column_names(), ["zeta", "alpha"]);
    assert_eq!(t.column_names(), ["alpha", "zeta"]);
    assert_eq!(s.try_get_by_index::<String>(0).unwrap(), "z");
    assert_eq!(t.try_get_by_index::<i32>(0).unwrap(), 1);
    // By name, both agree.
    assert_eq!(
        t.try_get::<String>("", "zeta").unwrap(),
        s.try_get::<String>("", "zeta").unwrap()
    );
    // The workaround: a FromQueryResult struct (read by name), or columns listed in
    // alphabetical order.
    #[derive(Debug, PartialEq, FromQueryResult)]
    struct NameId {
        name: String,
        id: i32,
    }
    assert_eq!(
        select().into_model::<NameId>().one(&db.tusk).await.unwrap(),
        select().into_model::<NameId>().one(&db.sqlx).await.unwrap()
    );
}

/// 2. Two columns with one name collapse into one (the last, which is also the one sqlx's
///    lookup by name finds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_column_names_collapse() {
    let db = fresh("so_proxy_duplicates", false).await;
    let sql = "SELECT 1 AS a, 2 AS a, 3 AS b";
    let (t, s) = (row(&db.tusk, sql).await, row(&db.sqlx, sql).await);
    assert_eq!(s.try_get::<i32>("", "a").unwrap(), 2);
    assert_eq!(t.try_get::<i32>("", "a").unwrap(), 2);
    assert_eq!(s.column_names(), ["a", "a", "b"]);
    assert_eq!(t.column_names(), ["a", "b"]);
    assert_eq!(s.try_get_by_index::<i32>(2).unwrap(), 3);
    assert!(t.try_get_by_index::<i32>(2).is_err());
}

/// 3. `into_json` renders through sea-query's `sea_value_to_json_value`: numeric as a JSON
///    number, date and time types as SQL literals, bytea as a string; sqlx renders numeric
///    as a string, times as RFC 3339 / ISO 8601, bytea as an array of numbers. Every other
///    column renders alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_json_renders_numbers_times_and_bytes_differently() {
    let db = fresh("so_proxy_json", true).await;
    let select = || {
        author::Entity::find()
            .order_by_asc(author::Column::Id)
            .into_json()
    };
    let tusk = select().all(&db.tusk).await.unwrap();
    let sqlx = select().all(&db.sqlx).await.unwrap();
    assert_eq!(tusk.len(), sqlx.len());
    let differ = ["rating", "born", "created_at", "avatar"];
    for (t, s) in tusk.iter().zip(&sqlx) {
        let (t, s) = (t.as_object().unwrap(), s.as_object().unwrap());
        assert_eq!(t.keys().collect::<Vec<_>>(), s.keys().collect::<Vec<_>>());
        for (key, value) in t {
            if !differ.contains(&key.as_str()) {
                assert_eq!(value, &s[key], "{key}");
            }
        }
    }
    // Author 1: rating 3.59, born 1980-04-10, created 2024-01-02 01:00:01.5 UTC, avatar "av1".
    let (t, s) = (&tusk[0], &sqlx[0]);
    assert_eq!(s["rating"], JsonValue::from("3.59"));
    assert_eq!(t["rating"], JsonValue::from(3.59));
    assert_eq!(s["born"], JsonValue::from("1980-04-10"));
    assert_eq!(t["born"], JsonValue::from("'1980-04-10'"));
    assert_eq!(s["created_at"], JsonValue::from("2024-01-02T01:00:01.500Z"));
    assert_eq!(
        t["created_at"],
        JsonValue::from("'2024-01-02 01:00:01.500000 +00:00'")
    );
    assert_eq!(s["avatar"], serde_json::json!([97, 118, 49]));
    assert_eq!(t["avatar"], JsonValue::from("av1"));
}

/// 3b. A bytea that is not UTF-8 makes `into_json` panic on a ProxyRow (sea-query unwraps
///     `str::from_utf8`); sqlx renders it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_json_of_non_utf8_bytea_panics_in_sea_query() {
    let db = fresh("so_proxy_json_bytes", false).await;
    let sql = "SELECT '\\xff00'::bytea AS b";
    let s = row(&db.sqlx, sql).await;
    assert_eq!(
        JsonValue::from_query_result(&s, "").unwrap(),
        serde_json::json!({"b": [255, 0]})
    );
    let t = row(&db.tusk, sql).await;
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        JsonValue::from_query_result(&t, "")
    }));
    assert!(
        rendered.is_err(),
        "sea-query no longer panics here: {rendered:?}"
    );
    // Read as a field, the bytes are right.
    assert_eq!(t.try_get::<Vec<u8>>("", "b").unwrap(), [255, 0]);
}

/// 4. A field reads only the value variant its type takes, where sqlx decodes a column into
///    any compatible type. timestamptz arrives as `ChronoDateTimeWithTimeZone`, the variant
///    of `DateTimeWithTimeZone` (what sea-orm generates for timestamptz): a `DateTimeUtc` or
///    `DateTimeLocal` field fails, and as an `Option` it reads `None`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_reads_only_its_own_variant() {
    let db = fresh("so_proxy_variants", true).await;
    let sql = "SELECT created_at, created_at AS maybe FROM so_author WHERE id = 1";
    // Compared through Debug, which dead-code analysis does not count as a read.
    #[allow(dead_code)]
    #[derive(Debug, FromQueryResult)]
    struct Fixed {
        created_at: DateTimeWithTimeZone,
        maybe: Option<DateTimeWithTimeZone>,
    }
    #[allow(dead_code)]
    #[derive(Debug, FromQueryResult)]
    struct Utc {
        created_at: DateTimeUtc,
    }
    #[derive(Debug, FromQueryResult)]
    struct MaybeUtc {
        maybe: Option<DateTimeUtc>,
    }
    let (t, s) = (row(&db.tusk, sql).await, row(&db.sqlx, sql).await);
    let (tf, sf) = (
        Fixed::from_query_result(&t, "").unwrap(),
        Fixed::from_query_result(&s, "").unwrap(),
    );
    assert_eq!(format!("{tf:?}"), format!("{sf:?}"));
    assert!(Utc::from_query_result(&s, "").is_ok());
    assert!(Utc::from_query_result(&t, "").is_err());
    assert!(MaybeUtc::from_query_result(&s, "").unwrap().maybe.is_some());
    assert!(MaybeUtc::from_query_result(&t, "").unwrap().maybe.is_none());
    // Where sqlx refuses a type (an i64 field on int4, f64 on numeric), so does the row.
    for (sql, column) in [
        ("SELECT 1::int4 AS v", "v"),
        ("SELECT 1.5::numeric AS v", "v"),
    ] {
        let (t, s) = (row(&db.tusk, sql).await, row(&db.sqlx, sql).await);
        assert!(s.try_get::<i64>("", column).is_err() && t.try_get::<i64>("", column).is_err());
        assert!(s.try_get::<f64>("", column).is_err() && t.try_get::<f64>("", column).is_err());
    }
}
