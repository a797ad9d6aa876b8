//! `#[derive(ToRecord)]`, `insert` / `insert_many` and `execute_many` of structs and tuples
//! against a real server: every attribute, the round trip through a struct that derives both
//! ToRecord and FromRecord, generic and borrowing structs, NULLs, and each error with its
//! message (and nothing inserted).

use pgtusk::{Connection, Error, Executor, FromRecord, Pool, ToRecord};
use pgtusk_tests::{connect, shared_options};

async fn script(conn: &mut Connection, sql: &str) {
    conn.execute_script(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count(conn: &mut Connection, table: &str) -> i64 {
    conn.fetch_value(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Prefs {
    theme: String,
    font_size: u8,
}

#[derive(Debug, Clone, PartialEq, ToRecord, FromRecord)]
struct Geo {
    lat: f64,
    lon: f64,
}

/// Every attribute at once, deriving both ways.
#[derive(Debug, Clone, PartialEq, ToRecord, FromRecord)]
#[record(rename_all = "camelCase")]
struct Account {
    account_id: i64,
    display_name: String,
    #[record(rename = "e-mail")]
    email: Option<String>,
    #[record(try_from = "i64")]
    credits: u64,
    #[record(json)]
    prefs: Prefs,
    #[record(json)]
    extra: Option<serde_json::Value>,
    #[record(flatten)]
    geo: Geo,
    #[record(skip)]
    session_only: u32,
    #[record(default)]
    nickname: Option<String>,
}

const ACCOUNTS: &str = r#"CREATE TEMP TABLE accounts (
    "accountId" int8 PRIMARY KEY,
    "displayName" text NOT NULL,
    "e-mail" text,
    credits int8 NOT NULL,
    prefs jsonb NOT NULL,
    extra json,
    lat float8 NOT NULL,
    lon float8 NOT NULL,
    nickname text,
    created timestamptz NOT NULL DEFAULT now()
)"#;

fn account(id: i64) -> Account {
    Account {
        account_id: id,
        display_name: format!("user {id}"),
        email: (id % 2 == 0).then(|| format!("u{id}@example.com")),
        credits: id as u64 * 10,
        prefs: Prefs {
            theme: "dark".into(),
            font_size: 12,
        },
        extra: (id % 3 == 0).then(|| serde_json::json!({"id": id})),
        geo: Geo {
            lat: 59.9,
            lon: 10.7,
        },
        session_only: 0,
        nickname: None,
    }
}

#[test]
fn derived_column_names_follow_the_attributes() {
    assert_eq!(
        Account::column_names().unwrap(),
        [
            "accountId",
            "displayName",
            "e-mail",
            "credits",
            "prefs",
            "extra",
            "lat",
            "lon",
            "nickname"
        ]
    );
    assert_eq!(Pair::column_names(), None, "a tuple struct is positional");
    assert_eq!(<(i32, String)>::column_names(), None);
}

#[tokio::test]
async fn insert_then_fetch_as_gives_back_the_same_struct() {
    let mut conn = connect().await;
    script(&mut conn, ACCOUNTS).await;
    let mut one = account(1);
    one.session_only = 7;
    assert_eq!(conn.insert("accounts", &one).await.unwrap(), 1);

    let many: Vec<Account> = (2..=7).map(account).collect();
    assert_eq!(conn.insert_many("accounts", &many).await.unwrap(), 6);

    let back: Vec<Account> = conn
        .fetch_as(r#"SELECT * FROM accounts ORDER BY "accountId""#, &[])
        .await
        .unwrap();
    one.session_only = 0; // skipped: not written, read as Default
    let mut want = vec![one];
    want.extend(many);
    assert_eq!(back, want);

    // What the server holds, column by column: the skipped field is not there, `created` got
    // its default, None is NULL (also for the json field), json went in as JSON.
    let row = conn
        .fetch_one(
            r#"SELECT "e-mail", extra, prefs->>'theme' AS theme, created IS NOT NULL AS created
               FROM accounts WHERE "accountId" = 1"#,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<Option<&str>>("e-mail"), None);
    assert!(row.raw(1).is_none(), "None in a json field is SQL NULL");
    assert_eq!(row.get::<&str>("theme"), "dark");
    assert!(row.get::<bool>("created"));
}

/// Borrowed fields and a generic field.
#[derive(Debug, ToRecord)]
struct Borrowed<'a, T> {
    id: i32,
    name: &'a str,
    bytes: &'a [u8],
    value: T,
    #[record(flatten)]
    inner: Tagged<'a, T>,
}

#[derive(Debug, ToRecord)]
struct Tagged<'a, T> {
    tag: &'a str,
    #[record(json)]
    payload: Vec<T>,
}

#[tokio::test]
async fn generic_and_borrowing_structs_insert() {
    let mut conn = connect().await;
    script(
        &mut conn,
        "CREATE TEMP TABLE borrowed (id int4, name text, bytes bytea, value float8, tag text, payload jsonb)",
    )
    .await;
    let name = String::from("walrus");
    let raw = vec![1u8, 2, 3];
    let row = Borrowed {
        id: 1,
        name: &name,
        bytes: &raw,
        value: 2.5f64,
        inner: Tagged {
            tag: "t",
            payload: vec![1.5, 2.5],
        },
    };
    conn.insert("borrowed", &row).await.unwrap();
    let (id, name, bytes, value, tag, payload): (i32, String, Vec<u8>, f64, String, String) = conn
        .fetch_one_as(
            "SELECT id, name, bytes, value, tag, payload::text FROM borrowed",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            id,
            name.as_str(),
            bytes,
            value,
            tag.as_str(),
            payload.as_str()
        ),
        (1, "walrus", vec![1, 2, 3], 2.5, "t", "[1.5, 2.5]")
    );
}

#[derive(Debug, PartialEq, ToRecord, FromRecord)]
struct Pair(i32, Option<String>);

#[derive(ToRecord)]
struct Item<'a> {
    id: i32,
    label: Option<&'a str>,
}

#[tokio::test]
async fn execute_many_takes_structs_tuples_and_dyn_arrays() {
    let mut conn = connect().await;
    script(&mut conn, "CREATE TEMP TABLE items (id int4, label text)").await;
    const INSERT: &str = "INSERT INTO items VALUES ($1, $2)";

    let tuples: Vec<(i32, &str)> = vec![(1, "one"), (2, "two")];
    assert_eq!(conn.execute_many(INSERT, &tuples).await.unwrap(), 2);
    let owned = vec![(3, String::from("three"))];
    assert_eq!(conn.execute_many(INSERT, owned).await.unwrap(), 1);

    let structs = [
        Item {
            id: 4,
            label: Some("four"),
        },
        Item { id: 5, label: None },
    ];
    assert_eq!(conn.execute_many(INSERT, &structs).await.unwrap(), 2);

    let pairs = vec![Pair(6, Some("six".into())), Pair(7, None)];
    assert_eq!(conn.execute_many(INSERT, pairs).await.unwrap(), 2);

    let id = 8;
    let dyn_sets: Vec<Vec<&(dyn pgtusk::Encode + Sync)>> = vec![vec![&id, &"eight"]];
    assert_eq!(conn.execute_many(INSERT, &dyn_sets).await.unwrap(), 1);

    let back: Vec<Pair> = conn
        .fetch_as("SELECT id, label FROM items ORDER BY id", &[])
        .await
        .unwrap();
    let want: Vec<Pair> = [
        (1, Some("one")),
        (2, Some("two")),
        (3, Some("three")),
        (4, Some("four")),
        (5, None),
        (6, Some("six")),
        (7, None),
        (8, Some("eight")),
    ]
    .into_iter()
    .map(|(id, label)| Pair(id, label.map(Into::into)))
    .collect();
    assert_eq!(back, want);
}

#[derive(ToRecord)]
struct WrongType {
    id: i32,
    label: f64,
}

#[tokio::test]
async fn a_wrong_rust_type_names_the_parameter_and_inserts_nothing() {
    let mut conn = connect().await;
    script(&mut conn, "CREATE TEMP TABLE strict (id int4, label text)").await;
    let rows: Vec<WrongType> = (0..3).map(|id| WrongType { id, label: 1.5 }).collect();

    let err = conn.insert_many("strict", &rows).await.unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        r#"encode error: parameter set 0: parameter $2 (column "label"): Rust type f64 cannot be sent as PostgreSQL type text"#
    );

    // One row: no set number.
    let err = conn.insert("strict", &rows[0]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"encode error: parameter $2 (column "label"): Rust type f64 cannot be sent as PostgreSQL type text"#
    );

    let err = conn
        .execute_many(
            "INSERT INTO strict VALUES ($1, $2)",
            [(1i32, 2.5f64), (2, 2.5)],
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("parameter set 0: parameter $2: Rust type f64"),
        "a tuple has no column names: {err}"
    );
    assert_eq!(count(&mut conn, "strict").await, 0);
    conn.execute("SELECT 1", &[]).await.unwrap();
}

#[derive(ToRecord)]
struct Counter {
    id: i32,
    #[record(try_from = "i64")]
    hits: u64,
}

#[tokio::test]
async fn a_value_that_does_not_convert_names_its_set_and_column_and_inserts_nothing() {
    let mut conn = connect().await;
    script(&mut conn, "CREATE TEMP TABLE counters (id int4, hits int8)").await;
    let rows: Vec<Counter> = (0..10)
        .map(|id| Counter {
            id,
            hits: if id == 6 { u64::MAX } else { id as u64 },
        })
        .collect();
    let err = conn.insert_many("counters", &rows).await.unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(
            r#"encode error: parameter set 6: parameter $2 (column "hits"): the u64 value does not convert into i64:"#
        ),
        "{message}"
    );
    assert_eq!(count(&mut conn, "counters").await, 0);
}

#[tokio::test]
async fn a_constraint_violation_in_insert_many_keeps_none_of_the_rows() {
    let mut conn = connect().await;
    script(
        &mut conn,
        "CREATE TEMP TABLE unique_items (id int4 PRIMARY KEY, label text)",
    )
    .await;
    let rows: Vec<Item<'_>> = [1, 2, 3, 2, 5]
        .into_iter()
        .map(|id| Item { id, label: None })
        .collect();
    let err = conn.insert_many("unique_items", &rows).await.unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some(pgtusk::SqlState::UNIQUE_VIOLATION),
        "{err:?}"
    );
    assert_eq!(count(&mut conn, "unique_items").await, 0);
}

#[tokio::test]
async fn a_row_with_too_few_or_too_many_values_is_refused_before_sending() {
    let mut conn = connect().await;
    script(&mut conn, "CREATE TEMP TABLE two (a int4, b int4)").await;
    conn.execute_script("BEGIN").await.unwrap();
    let err = conn
        .execute_many(
            "INSERT INTO two VALUES ($1, $2)",
            [(1i32, 2i32), (3, 4)].map(|(a, _)| (a,)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Interface(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "parameter set 0: the statement takes 2 parameter(s) but the row has 1 value(s): INSERT INTO two VALUES ($1, $2)"
    );
    let err = conn
        .execute_many("INSERT INTO two VALUES ($1, $2)", [(1i32, 2i32, "three")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Interface(_)), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "parameter set 0: the statement takes 2 parameter(s) but the row has more values (the extra one is a &str)"
        ),
        "{err}"
    );
    // Nothing reached the server: the transaction is still usable.
    assert_eq!(
        conn.transaction_status(),
        pgtusk::TransactionStatus::InTransaction
    );
    conn.execute("INSERT INTO two VALUES (1, 2)", &[])
        .await
        .unwrap();
    conn.execute_script("COMMIT").await.unwrap();
    assert_eq!(count(&mut conn, "two").await, 1);
}

#[tokio::test]
async fn insert_needs_column_names() {
    let mut conn = connect().await;
    let err = conn.insert("anything", &Pair(1, None)).await.unwrap_err();
    assert!(matches!(err, Error::Interface(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "insert into anything: Pair has no column names (a tuple or tuple struct writes its values by position); derive ToRecord on a struct with named fields, or run your own INSERT with execute_many"
    );
    let err = conn.insert_many("anything", [(1, 2)]).await.unwrap_err();
    assert!(
        err.to_string().contains("(i32, i32) has no column names"),
        "{err}"
    );
}

#[derive(ToRecord)]
struct Quoted {
    #[record(rename = r#"say "hi""#)]
    greeting: &'static str,
    #[record(rename = "Mixed Case")]
    mixed: i32,
}

#[derive(ToRecord)]
struct NothingToWrite {
    #[record(skip)]
    _ignored: i32,
}

#[tokio::test]
async fn column_names_are_quoted_and_tables_may_be_qualified() {
    let mut conn = connect().await;
    script(
        &mut conn,
        r#"CREATE SCHEMA IF NOT EXISTS to_record_quoting;
           DROP TABLE IF EXISTS to_record_quoting."Odd Table";
           CREATE TABLE to_record_quoting."Odd Table" (
               id serial,
               "say ""hi""" text,
               "Mixed Case" int4
           )"#,
    )
    .await;
    let table = r#"to_record_quoting."Odd Table""#;
    let row = Quoted {
        greeting: "hello",
        mixed: 3,
    };
    conn.insert(table, &row).await.unwrap();
    // No columns at all: DEFAULT VALUES.
    conn.insert(table, &NothingToWrite { _ignored: 0 })
        .await
        .unwrap();
    let rows: Vec<(i32, Option<String>, Option<i32>)> = conn
        .fetch_as(
            &format!(r#"SELECT id, "say ""hi""", "Mixed Case" FROM {table} ORDER BY id"#),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![(1, Some("hello".into()), Some(3)), (2, None, None)]
    );
    script(&mut conn, "DROP SCHEMA to_record_quoting CASCADE").await;
}

#[tokio::test]
async fn insert_runs_in_a_transaction_and_on_a_pool() {
    let mut conn = connect().await;
    script(
        &mut conn,
        "DROP TABLE IF EXISTS to_record_pool; CREATE TABLE to_record_pool (id int4, label text)",
    )
    .await;

    let mut tx = conn.transaction().await.unwrap();
    tx.insert("to_record_pool", &Item { id: 1, label: None })
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&mut conn, "to_record_pool").await, 0);

    let pool = Pool::builder(shared_options())
        .max_connections(2)
        .build()
        .await
        .unwrap();
    let rows = [
        Item {
            id: 2,
            label: Some("two"),
        },
        Item { id: 3, label: None },
    ];
    // The Executor forms: through a pooled connection, and on the pool itself.
    let mut pooled = pool.acquire().await.unwrap();
    assert_eq!(
        Executor::insert(&mut pooled, "to_record_pool", &rows[0])
            .await
            .unwrap(),
        1
    );
    drop(pooled);
    assert_eq!(
        (&pool)
            .insert_many("to_record_pool", &rows[1..])
            .await
            .unwrap(),
        1
    );
    let mut db = &pool;
    let ids: Vec<(i32,)> = db
        .fetch_as("SELECT id FROM to_record_pool ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(ids, vec![(2,), (3,)]);
    script(&mut conn, "DROP TABLE to_record_pool").await;
}

#[tokio::test]
async fn option_fields_write_nulls() {
    let mut conn = connect().await;
    script(
        &mut conn,
        "CREATE TEMP TABLE nullable (id int4, label text, score float8, at timestamptz)",
    )
    .await;

    #[derive(ToRecord)]
    struct Nullable {
        id: Option<i32>,
        label: Option<String>,
        score: Option<f64>,
        at: Option<chrono::DateTime<chrono::Utc>>,
    }

    let rows = [
        Nullable {
            id: None,
            label: None,
            score: None,
            at: None,
        },
        Nullable {
            id: Some(1),
            label: Some(String::new()),
            score: Some(0.0),
            at: Some(chrono::DateTime::UNIX_EPOCH),
        },
    ];
    conn.insert_many("nullable", &rows).await.unwrap();
    let nulls: Vec<(i64, i64, i64, i64)> = conn
        .fetch_as(
            "SELECT count(*) FILTER (WHERE id IS NULL), count(*) FILTER (WHERE label IS NULL),
                    count(*) FILTER (WHERE score IS NULL), count(*) FILTER (WHERE at IS NULL)
             FROM nullable",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(nulls, vec![(1, 1, 1, 1)]);
}

/// The generated code names everything by absolute path: it compiles without the prelude and
/// next to user types called `Result`, `Option`, `Vec`.
mod hygiene {
    #![no_implicit_prelude]

    #[allow(dead_code)]
    pub struct Result;
    #[allow(dead_code)]
    pub struct Option;
    #[allow(dead_code)]
    pub struct Vec;

    #[derive(::pgtusk::ToRecord)]
    pub struct NoPrelude<'a> {
        pub id: i64,
        #[record(skip)]
        #[allow(dead_code, reason = "skipped: nothing reads it")]
        pub skipped: i32,
        #[record(try_from = "i64")]
        pub small: u8,
        #[record(json)]
        pub doc: ::std::vec::Vec<i32>,
        pub borrowed: &'a str,
        #[record(flatten)]
        pub nested: Nested,
    }

    #[derive(::pgtusk::ToRecord)]
    pub struct Nested {
        pub id2: i64,
    }

    #[derive(::pgtusk::ToRecord)]
    pub struct Positional(pub i64, pub &'static str);
}

#[tokio::test]
async fn generated_code_needs_no_prelude_or_imports() {
    let mut conn = connect().await;
    script(
        &mut conn,
        "CREATE TEMP TABLE hygienic (id int8, small int8, doc json, borrowed text, id2 int8)",
    )
    .await;
    let value = hygiene::NoPrelude {
        id: 1,
        skipped: 0,
        small: 2,
        doc: vec![3],
        borrowed: "b",
        nested: hygiene::Nested { id2: 4 },
    };
    conn.insert("hygienic", &value).await.unwrap();
    let row: (i64, i64, String, String, i64) = conn
        .fetch_one_as(
            "SELECT id, small, doc::text, borrowed, id2 FROM hygienic",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row, (1, 2, "[3]".into(), "b".into(), 4));
    conn.execute_many(
        "INSERT INTO hygienic (id, borrowed) VALUES ($1, $2)",
        [hygiene::Positional(5, "five")],
    )
    .await
    .unwrap();
    assert_eq!(count(&mut conn, "hygienic").await, 2);
}
