//! `#[derive(FromRecord)]` and the typed query methods against a real server: every attribute,
//! tuple structs, nested flatten, generics and borrowed fields, one plan per result, and each
//! error with its message. Also `#[derive(Type)]` for newtypes (domains) and enums.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::TryStreamExt;
use pgtusk::{Columns, Connection, Error, FromRecord, Record, RecordPlan};
use pgtusk_tests::connect;

/// The message of a decode error, or a panic naming what came instead.
fn decode_message<T: std::fmt::Debug>(result: pgtusk::Result<T>) -> String {
    match result {
        Err(Error::Decode(message)) => message.to_string(),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[derive(Debug, PartialEq, FromRecord)]
struct User {
    id: i64,
    name: String,
    age: i32,
}

#[tokio::test]
async fn named_fields_read_columns_by_name_in_any_order() {
    let mut conn = connect().await;
    let users: Vec<User> = conn
        .fetch_as(
            "SELECT 'extra' AS unused, 30 AS age, 'ada' AS name, 1::int8 AS id
             UNION ALL SELECT 'x', 40, 'bob', 2",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        users,
        vec![
            User {
                id: 1,
                name: "ada".into(),
                age: 30
            },
            User {
                id: 2,
                name: "bob".into(),
                age: 40
            },
        ]
    );
}

#[derive(Debug, PartialEq, FromRecord)]
struct Pair(i32, String);

#[derive(Debug, PartialEq, FromRecord)]
struct Marker;

#[tokio::test]
async fn tuple_structs_read_columns_by_position_and_tuples_too() {
    let mut conn = connect().await;
    let pair: Pair = conn
        .fetch_one_as("SELECT 7 AS whatever, 'seven' AS anything", &[])
        .await
        .unwrap();
    assert_eq!(pair, Pair(7, "seven".into()));

    let tuples: Vec<(i64, String, Option<bool>)> = conn
        .fetch_as(
            "SELECT g::int8, g::text, NULLIF(g > 1, false) FROM generate_series(1, 2) g ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        tuples,
        vec![(1, "1".into(), None), (2, "2".into(), Some(true))]
    );

    let marker: Marker = conn.fetch_one_as("SELECT 1", &[]).await.unwrap();
    assert_eq!(marker, Marker);
}

#[derive(Debug, PartialEq, FromRecord)]
struct Renamed {
    #[record(rename = "user id")]
    id: i32,
    #[record(rename = "r#type")]
    r#type: String,
    r#match: bool,
}

#[tokio::test]
async fn rename_reads_the_named_column_and_raw_identifiers_lose_their_prefix() {
    let mut conn = connect().await;
    let row: Renamed = conn
        .fetch_one_as(
            r#"SELECT 5 AS "user id", 'kind' AS "r#type", true AS "match""#,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row,
        Renamed {
            id: 5,
            r#type: "kind".into(),
            r#match: true
        }
    );
}

macro_rules! cased {
    ($name:ident, $case:literal) => {
        #[derive(Debug, PartialEq, FromRecord)]
        #[record(rename_all = $case)]
        struct $name {
            user_id: i32,
            #[record(rename = "explicit")]
            display_name: String,
        }
    };
}

cased!(Snake, "snake_case");
cased!(Camel, "camelCase");
cased!(Pascal, "PascalCase");
cased!(Screaming, "SCREAMING_SNAKE_CASE");
cased!(Lower, "lowercase");
cased!(Upper, "UPPERCASE");

#[tokio::test]
async fn rename_all_applies_each_case_and_rename_wins() {
    let mut conn = connect().await;
    async fn one<T: for<'r> FromRecord<'r>>(conn: &mut Connection, column: &str) -> T {
        let sql = format!(r#"SELECT 9 AS "{column}", 'x' AS explicit"#);
        conn.fetch_one_as(&sql, &[]).await.unwrap()
    }
    let x = || "x".to_string();
    assert_eq!(
        one::<Snake>(&mut conn, "user_id").await,
        Snake {
            user_id: 9,
            display_name: x()
        }
    );
    assert_eq!(
        one::<Camel>(&mut conn, "userId").await,
        Camel {
            user_id: 9,
            display_name: x()
        }
    );
    assert_eq!(
        one::<Pascal>(&mut conn, "UserId").await,
        Pascal {
            user_id: 9,
            display_name: x()
        }
    );
    assert_eq!(
        one::<Screaming>(&mut conn, "USER_ID").await,
        Screaming {
            user_id: 9,
            display_name: x()
        }
    );
    assert_eq!(
        one::<Lower>(&mut conn, "user_id").await,
        Lower {
            user_id: 9,
            display_name: x()
        }
    );
    assert_eq!(
        one::<Upper>(&mut conn, "USER_ID").await,
        Upper {
            user_id: 9,
            display_name: x()
        }
    );
}

#[derive(Debug, PartialEq, FromRecord)]
struct WithDefaults {
    id: i32,
    #[record(default)]
    nickname: Option<String>,
    #[record(default)]
    score: i64,
    #[record(skip)]
    cache: Vec<u8>,
}

#[tokio::test]
async fn default_fills_a_missing_column_and_decodes_a_present_one() {
    let mut conn = connect().await;
    let missing: WithDefaults = conn.fetch_one_as("SELECT 1 AS id", &[]).await.unwrap();
    assert_eq!(
        missing,
        WithDefaults {
            id: 1,
            nickname: None,
            score: 0,
            cache: vec![]
        }
    );
    let present: WithDefaults = conn
        .fetch_one_as(
            "SELECT 2 AS id, 'nick' AS nickname, 99::int8 AS score, '\\x01'::bytea AS cache",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        present,
        WithDefaults {
            id: 2,
            nickname: Some("nick".into()),
            score: 99,
            cache: vec![]
        },
        "skip reads nothing even when a column of that name exists"
    );
    // A present column still has to decode: NULL into the i64 field is an error.
    let message = decode_message(
        conn.fetch_one_as::<WithDefaults>("SELECT 3 AS id, NULL::int8 AS score", &[])
            .await,
    );
    assert_eq!(
        message,
        r#"WithDefaults.score: column "score" is NULL but i64 cannot hold NULL; use Option<i64>"#
    );
}

#[derive(Debug, PartialEq, FromRecord)]
struct Address {
    city: String,
    #[record(flatten)]
    geo: Geo,
}

#[derive(Debug, PartialEq, FromRecord)]
struct Geo {
    lat: f64,
    lon: f64,
}

#[derive(Debug, PartialEq, FromRecord)]
struct Customer {
    id: i64,
    #[record(flatten)]
    address: Address,
    #[record(flatten)]
    tags: Tags,
}

#[derive(Debug, PartialEq, FromRecord)]
struct Tags;

#[tokio::test]
async fn flatten_nests_structs_read_from_the_same_columns() {
    let mut conn = connect().await;
    let customers: Vec<Customer> = conn
        .fetch_as(
            "SELECT 1::int8 AS id, 'Oslo' AS city, 59.9::float8 AS lat, 10.7::float8 AS lon",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        customers,
        vec![Customer {
            id: 1,
            address: Address {
                city: "Oslo".into(),
                geo: Geo {
                    lat: 59.9,
                    lon: 10.7
                }
            },
            tags: Tags,
        }]
    );
    let message = decode_message(
        conn.fetch_as::<Customer>(
            "SELECT 1::int8 AS id, 'Oslo' AS city, 1.0::float8 AS lat",
            &[],
        )
        .await,
    );
    assert_eq!(
        message,
        r#"Geo.lon: no column "lon" in the result (columns: id, city, lat)"#
    );
}

#[derive(Debug, PartialEq, FromRecord)]
struct Converted {
    #[record(try_from = "i64")]
    small: u8,
    #[record(try_from = "i32", default)]
    maybe: u16,
}

#[tokio::test]
async fn try_from_decodes_the_database_type_then_converts() {
    let mut conn = connect().await;
    let ok: Converted = conn
        .fetch_one_as("SELECT 200::int8 AS small", &[])
        .await
        .unwrap();
    assert_eq!(
        ok,
        Converted {
            small: 200,
            maybe: 0
        }
    );
    let both: Converted = conn
        .fetch_one_as("SELECT 1::int8 AS small, 65535 AS maybe", &[])
        .await
        .unwrap();
    assert_eq!(
        both,
        Converted {
            small: 1,
            maybe: 65535
        }
    );

    let message = decode_message(
        conn.fetch_one_as::<Converted>("SELECT 300::int8 AS small", &[])
            .await,
    );
    assert_eq!(
        message,
        r#"Converted.small: column "small" (index 0): the i64 value does not convert into u8: out of range integral type conversion attempted"#
    );
    let message = decode_message(
        conn.fetch_one_as::<Converted>("SELECT 'x'::text AS small", &[])
            .await,
    );
    assert_eq!(
        message,
        r#"Converted.small: column "small" (index 0) is text, which Rust type i64 cannot decode"#
    );
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Settings {
    theme: String,
    #[serde(default)]
    beta: bool,
}

#[derive(Debug, PartialEq, FromRecord)]
struct Profile {
    #[record(json)]
    settings: Settings,
    #[record(json)]
    history: Vec<i32>,
    #[record(json)]
    extra: Option<serde_json::Value>,
    #[record(json, default)]
    missing: Option<Settings>,
}

#[tokio::test]
async fn json_deserializes_json_and_jsonb_columns_with_serde() {
    let mut conn = connect().await;
    let profile: Profile = conn
        .fetch_one_as(
            r#"SELECT '{"theme": "dark", "beta": true}'::jsonb AS settings,
                      '[1, 2, 3]'::json AS history,
                      NULL::jsonb AS extra"#,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        profile,
        Profile {
            settings: Settings {
                theme: "dark".into(),
                beta: true
            },
            history: vec![1, 2, 3],
            extra: None,
            missing: None,
        }
    );

    let message = decode_message(
        conn.fetch_one_as::<Profile>(
            "SELECT NULL::jsonb AS settings, '[]'::json AS history, NULL::jsonb AS extra",
            &[],
        )
        .await,
    );
    assert_eq!(
        message,
        r#"Profile.settings: column "settings" is NULL but Settings cannot hold NULL; use Option<Settings>"#
    );
    let message = decode_message(
        conn.fetch_one_as::<Profile>(
            r#"SELECT '{"beta": true}'::jsonb AS settings, '[]'::json AS history, NULL::jsonb AS extra"#,
            &[],
        )
        .await,
    );
    assert!(
        message.starts_with(
            r#"Profile.settings: column "settings" (index 0): invalid JSON for Rust type Settings: missing field `theme`"#
        ),
        "{message}"
    );
    let message = decode_message(
        conn.fetch_one_as::<Profile>(
            "SELECT 'text'::text AS settings, '[]'::json AS history, NULL::jsonb AS extra",
            &[],
        )
        .await,
    );
    assert_eq!(
        message,
        r#"Profile.settings: column "settings" (index 0) is text, which Rust type Settings cannot decode"#
    );
}

#[derive(Debug, FromRecord)]
struct Borrowed<'a> {
    name: &'a str,
    bytes: &'a [u8],
    note: Option<&'a str>,
}

#[tokio::test]
async fn a_struct_borrows_str_and_bytes_from_a_record_the_caller_holds() {
    let mut conn = connect().await;
    let rows: Vec<Record> = conn
        .fetch(
            "SELECT 'n' || g AS name, decode(lpad(to_hex(g), 2, '0'), 'hex') AS bytes, NULL::text AS note
             FROM generate_series(1, 3) g ORDER BY g",
            &[],
        )
        .await
        .unwrap();
    // One plan for the held rows, then each row borrowed without a copy.
    let plan = Borrowed::plan(rows[0].columns()).unwrap();
    let borrowed: Vec<Borrowed<'_>> = rows
        .iter()
        .map(|row| Borrowed::from_record(row, &plan).unwrap())
        .collect();
    let names: Vec<&str> = borrowed.iter().map(|b| b.name).collect();
    assert_eq!(names, ["n1", "n2", "n3"]);
    assert_eq!(borrowed[2].bytes, &[3u8]);
    assert_eq!(borrowed[0].note, None);
    assert_eq!(
        borrowed[0].name.as_ptr(),
        rows[0].raw(0).unwrap().as_ptr(),
        "the &str points into the row's bytes"
    );
    // Or a single row through Record::decode.
    let one: Borrowed<'_> = rows[1].decode().unwrap();
    assert_eq!(one.name, "n2");
}

#[derive(Debug, PartialEq, FromRecord)]
struct Page<T> {
    total: i64,
    #[record(flatten)]
    item: T,
}

#[derive(Debug, PartialEq, FromRecord)]
struct Tagged<T, U: Default> {
    value: T,
    #[record(default)]
    tag: Option<U>,
    #[record(skip)]
    other: U,
}

#[tokio::test]
async fn generic_structs_take_their_bounds_from_how_each_field_is_read() {
    let mut conn = connect().await;
    let pages: Vec<Page<Geo>> = conn
        .fetch_as(
            "SELECT 2::int8 AS total, 1.5::float8 AS lat, 2.5::float8 AS lon",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        pages,
        vec![Page {
            total: 2,
            item: Geo { lat: 1.5, lon: 2.5 }
        }]
    );

    let tagged: Tagged<String, i32> = conn
        .fetch_one_as("SELECT 'v' AS value, 4 AS tag", &[])
        .await
        .unwrap();
    assert_eq!(
        tagged,
        Tagged {
            value: "v".into(),
            tag: Some(4),
            other: 0
        }
    );
    let nested: Page<Tagged<i32, String>> = conn
        .fetch_one_as("SELECT 1::int8 AS total, 8 AS value", &[])
        .await
        .unwrap();
    assert_eq!(
        nested.item,
        Tagged {
            value: 8,
            tag: None,
            other: String::new()
        }
    );
}

#[tokio::test]
async fn a_missing_column_names_the_struct_field_column_and_the_columns_there_are() {
    let mut conn = connect().await;
    #[derive(Debug, FromRecord)]
    #[allow(dead_code)]
    struct User {
        id: i64,
        name: String,
        email: String,
    }
    let message = decode_message(
        conn.fetch_as::<User>("SELECT 1::int8 AS id, 'a' AS name WHERE false", &[])
            .await,
    );
    assert_eq!(
        message, r#"User.email: no column "email" in the result (columns: id, name)"#,
        "the plan is checked even when there is no row"
    );
    let message = decode_message(conn.fetch_one_as::<Pair>("SELECT 1", &[]).await);
    assert_eq!(
        message,
        "Pair.1: no column at position 1 in the result (1 column(s): ?column?)"
    );
    // The connection is usable after a plan error.
    assert_eq!(conn.fetch_value::<i32>("SELECT 42", &[]).await.unwrap(), 42);
}

#[tokio::test]
async fn a_type_mismatch_names_the_column_its_type_and_the_rust_type() {
    let mut conn = connect().await;
    let message = decode_message(
        conn.fetch_as::<User>("SELECT 1::int8 AS id, 'a' AS name, 30::int8 AS age", &[])
            .await,
    );
    assert_eq!(
        message,
        r#"User.age: column "age" (index 2) is int8, which Rust type i32 cannot decode"#
    );
    let message = decode_message(
        conn.fetch_one_as::<(i32, i32)>("SELECT 1, 'x'::text", &[])
            .await,
    );
    assert_eq!(
        message,
        r#"tuple.1: column "text" (index 1) is text, which Rust type i32 cannot decode"#
    );
}

#[tokio::test]
async fn null_into_a_non_option_field_says_to_use_an_option() {
    let mut conn = connect().await;
    let message = decode_message(
        conn.fetch_as::<User>(
            "SELECT 1::int8 AS id, 'a' AS name, 1 AS age UNION ALL SELECT 2, NULL, 2",
            &[],
        )
        .await,
    );
    assert_eq!(
        message,
        r#"User.name: column "name" is NULL but String cannot hold NULL; use Option<String>"#
    );
    assert_eq!(conn.fetch_value::<i32>("SELECT 1", &[]).await.unwrap(), 1);
}

static PLANS: AtomicUsize = AtomicUsize::new(0);
static ROWS: AtomicUsize = AtomicUsize::new(0);

/// A hand-written FromRecord that counts its plans and rows.
#[derive(Debug)]
struct Counted(i32);

impl RecordPlan for Counted {
    type Plan = usize;
}

impl<'r> FromRecord<'r> for Counted {
    fn plan(columns: &Columns) -> pgtusk::Result<usize> {
        PLANS.fetch_add(1, Ordering::SeqCst);
        columns
            .index_of("n")
            .ok_or_else(|| Error::Decode("Counted: no column n".into()))
    }

    fn from_record(record: &'r Record, plan: &usize) -> pgtusk::Result<Self> {
        ROWS.fetch_add(1, Ordering::SeqCst);
        record.try_get(*plan).map(Counted)
    }
}

#[tokio::test]
async fn the_plan_is_made_once_per_result_not_per_row() {
    let mut conn = connect().await;
    let sql = "SELECT g AS n FROM generate_series(1, 500) g";
    let all: Vec<Counted> = conn.fetch_as(sql, &[]).await.unwrap();
    assert_eq!(all.len(), 500);
    assert_eq!(all[499].0, 500);
    assert_eq!(
        (PLANS.load(Ordering::SeqCst), ROWS.load(Ordering::SeqCst)),
        (1, 500)
    );

    let mut stream = conn.fetch_stream_as::<Counted>(sql, &[]).await.unwrap();
    let mut sum = 0;
    while let Some(c) = stream.try_next().await.unwrap() {
        sum += c.0;
    }
    assert_eq!(stream.rows().rows_affected(), Some(500));
    drop(stream);
    assert_eq!(sum, 500 * 501 / 2);
    assert_eq!(
        (PLANS.load(Ordering::SeqCst), ROWS.load(Ordering::SeqCst)),
        (2, 1000)
    );
}

#[tokio::test]
async fn typed_methods_take_prepared_statements_and_parameters() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TEMP TABLE people (id int8 PRIMARY KEY, name text NOT NULL, age int4 NOT NULL);
         INSERT INTO people VALUES (1, 'ada', 36), (2, 'bob', 41), (3, 'cy', 29);",
    )
    .await
    .unwrap();
    let stmt = conn
        .prepare("SELECT id, name, age FROM people WHERE age > $1 ORDER BY id")
        .await
        .unwrap();
    let older: Vec<User> = conn.fetch_as(&stmt, &[&30i32]).await.unwrap();
    assert_eq!(older.iter().map(|u| u.id).collect::<Vec<_>>(), [1, 2]);

    let first: Option<User> = conn.fetch_optional_as(&stmt, &[&40i32]).await.unwrap();
    assert_eq!(
        first,
        Some(User {
            id: 2,
            name: "bob".into(),
            age: 41
        })
    );
    let none: Option<User> = conn.fetch_optional_as(&stmt, &[&99i32]).await.unwrap();
    assert_eq!(none, None);
    let err = conn
        .fetch_one_as::<User>(&stmt, &[&99i32])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoRows { .. }), "{err:?}");

    let names: Vec<String> = conn
        .fetch_stream_as::<(String,)>("SELECT name FROM people ORDER BY id", &[])
        .await
        .unwrap()
        .map_ok(|(name,)| name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(names, ["ada", "bob", "cy"]);
}

#[tokio::test]
async fn a_stream_stops_at_the_first_bad_row_and_the_connection_recovers() {
    let mut conn = connect().await;
    let mut stream = conn
        .fetch_stream_as::<(i32,)>(
            "SELECT CASE WHEN g = 3 THEN NULL ELSE g END AS n FROM generate_series(1, 1000) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(stream.try_next().await.unwrap(), Some((1,)));
    assert_eq!(stream.try_next().await.unwrap(), Some((2,)));
    let message = decode_message(stream.try_next().await);
    assert_eq!(
        message,
        r#"tuple.0: column "n" is NULL but i32 cannot hold NULL; use Option<i32>"#
    );
    drop(stream);
    assert_eq!(
        conn.fetch_value::<i64>("SELECT count(*) FROM generate_series(1, 10)", &[])
            .await
            .unwrap(),
        10
    );
}

#[derive(Debug, Clone, Copy, PartialEq, pgtusk::Type)]
struct UserId(i64);

#[derive(Debug, PartialEq, pgtusk::Type)]
#[pg(transparent)]
struct Email {
    address: String,
}

#[derive(Debug, PartialEq, FromRecord)]
struct Account {
    id: UserId,
    email: Email,
    backup: Option<Email>,
}

#[tokio::test]
async fn newtypes_travel_as_their_inner_type_also_over_a_domain() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE DOMAIN pg_temp.user_id AS int8 CHECK (VALUE > 0);
         CREATE TEMP TABLE accounts (id pg_temp.user_id PRIMARY KEY, email text, backup text);",
    )
    .await
    .unwrap();
    conn.execute(
        "INSERT INTO accounts VALUES ($1, $2, $3)",
        &[
            &UserId(7),
            &Email {
                address: "a@b.c".into(),
            },
            &None::<Email>,
        ],
    )
    .await
    .unwrap();
    let account: Account = conn
        .fetch_one_as(
            "SELECT id, email, backup FROM accounts WHERE id = $1",
            &[&UserId(7)],
        )
        .await
        .unwrap();
    assert_eq!(
        account,
        Account {
            id: UserId(7),
            email: Email {
                address: "a@b.c".into()
            },
            backup: None
        }
    );
    // The server describes the INSERT's parameter as the domain (a result column as its base).
    let insert = conn
        .prepare("INSERT INTO accounts (id) VALUES ($1)")
        .await
        .unwrap();
    assert_eq!(insert.params()[0].name(), "user_id");
    conn.execute(&insert, &[&UserId(8)]).await.unwrap();
    let id: UserId = conn
        .fetch_value("SELECT id FROM accounts ORDER BY id LIMIT 1", &[])
        .await
        .unwrap();
    assert_eq!(id, UserId(7));
    // The domain's CHECK still applies: the server refuses, the value was sent as int8.
    let err = conn
        .execute(
            "INSERT INTO accounts VALUES ($1, 'x', NULL)",
            &[&UserId(-1)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Db(_)), "{err:?}");
}

#[derive(Debug, Clone, Copy, PartialEq, pgtusk::Type)]
#[pg(name = "mood", rename_all = "snake_case")]
enum Mood {
    Happy,
    VerySad,
    #[pg(rename = "meh")]
    Indifferent,
}

#[tokio::test]
async fn fieldless_enums_travel_as_their_labels() {
    let mut conn = connect().await;
    conn.execute_script(
        "CREATE TYPE pg_temp.mood AS ENUM ('happy', 'very_sad', 'meh', 'ecstatic');
         CREATE TEMP TABLE moods (id int4, mood pg_temp.mood);",
    )
    .await
    .unwrap();
    for (i, mood) in [Mood::Happy, Mood::VerySad, Mood::Indifferent]
        .iter()
        .enumerate()
    {
        conn.execute("INSERT INTO moods VALUES ($1, $2)", &[&(i as i32), mood])
            .await
            .unwrap();
    }
    let labels: Vec<(String,)> = conn
        .fetch_as("SELECT mood::text FROM moods ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(
        labels,
        [("happy".into(),), ("very_sad".into(),), ("meh".into(),)]
    );
    let moods: Vec<(i32, Mood)> = conn
        .fetch_as("SELECT id, mood FROM moods ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(
        moods,
        [(0, Mood::Happy), (1, Mood::VerySad), (2, Mood::Indifferent)]
    );

    let err = conn
        .fetch_value::<Mood>("SELECT 'ecstatic'::pg_temp.mood", &[])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"label "ecstatic" has no variant in Rust enum Mood"#),
        "{err}"
    );
    let err = conn
        .fetch_value::<Mood>("SELECT 'happy'::text", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Decode(_)),
        "a text column is not the enum: {err:?}"
    );
}

/// The generated code names everything by absolute path: it compiles without the prelude and
/// next to user types called `Result`, `Option`, `Default`.
mod hygiene {
    #![no_implicit_prelude]

    #[allow(dead_code)]
    pub struct Result;
    #[allow(dead_code)]
    pub struct Default;

    #[derive(::pgtusk::FromRecord)]
    pub struct NoPrelude<'a> {
        pub id: i64,
        #[record(default)]
        pub name: ::std::option::Option<::std::string::String>,
        #[record(skip)]
        pub skipped: i32,
        #[record(try_from = "i64")]
        pub small: u8,
        #[record(json)]
        pub doc: ::std::vec::Vec<i32>,
        pub borrowed: &'a str,
        pub id2: Id,
    }

    #[derive(::pgtusk::Type)]
    pub struct Id(pub i64);

    #[allow(dead_code)]
    #[derive(::pgtusk::Type)]
    pub enum Letter {
        A,
    }
}

#[tokio::test]
async fn generated_code_needs_no_prelude_or_imports() {
    let mut conn = connect().await;
    let row = conn
        .fetch_one(
            "SELECT 1::int8 AS id, 2::int8 AS small, '[3]'::json AS doc, 'b' AS borrowed, 4::int8 AS id2",
            &[],
        )
        .await
        .unwrap();
    let value: hygiene::NoPrelude<'_> = row.decode().unwrap();
    assert_eq!(
        (
            value.id,
            value.name,
            value.skipped,
            value.small,
            value.doc,
            value.borrowed,
            value.id2.0
        ),
        (1, None, 0, 2, vec![3], "b", 4)
    );
}

/// Bug: the plan was made after Bind/Execute went out, so `UPDATE … RETURNING` into a struct
/// that does not fit failed after the update ran. The columns are checked first now, by every
/// typed method, cached or not.
#[tokio::test]
async fn a_struct_that_does_not_fit_fails_before_the_statement_runs() {
    #[derive(Debug, FromRecord)]
    struct Wrong {
        #[allow(dead_code)]
        missing: i32,
    }
    for cache in [100, 0] {
        let mut conn =
            pgtusk_tests::connect_with(pgtusk_tests::shared_options().statement_cache_size(cache))
                .await;
        conn.execute_script("CREATE TEMP TABLE guarded (n int); INSERT INTO guarded VALUES (1)")
            .await
            .unwrap();
        let sql = "UPDATE guarded SET n = n + 1 RETURNING n";
        let errors = [
            conn.fetch_as::<Wrong>(sql, &[]).await.err(),
            conn.fetch_one_as::<Wrong>(sql, &[]).await.err(),
            conn.fetch_optional_as::<Wrong>(sql, &[]).await.err(),
            conn.fetch_stream_as::<Wrong>(sql, &[]).await.err(),
        ];
        for err in errors {
            assert!(
                matches!(err, Some(Error::Decode(_))),
                "cache {cache}: {err:?}"
            );
        }
        let n: i32 = conn
            .fetch_value("SELECT n FROM guarded", &[])
            .await
            .unwrap();
        assert_eq!(n, 1, "cache {cache}: the update ran");
    }
}
