//! Typed rows: a query's result decoded straight into structs.
//!
//! `cargo run --example typed_rows` (against `DATABASE_URL` when set, else a throwaway TempCluster)

mod support;

use pgtusk::{Connection, FromRecord};

#[derive(FromRecord)]
struct Animal {
    id: i64,
    name: String,
    #[record(rename = "legs")]
    leg_count: i16,
    #[record(default)]
    nickname: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = support::server()?;
    let mut conn = Connection::connect(&server.dsn).await?;
    conn.execute_script(
        "CREATE TEMP TABLE animals (id int8 PRIMARY KEY, name text NOT NULL, legs int2 NOT NULL);
         INSERT INTO animals VALUES (1, 'walrus', 4), (2, 'tusk shell', 0), (3, 'narwhal', 0);",
    )
    .await?;

    // Column names are matched to fields once for the whole result, then each row decodes.
    let animals: Vec<Animal> = conn
        .fetch_as(
            "SELECT id, name, legs FROM animals WHERE id > $1 ORDER BY id",
            &[&1i64],
        )
        .await?;
    for a in &animals {
        let nickname = a.nickname.as_deref().unwrap_or("-");
        println!(
            "#{} {} ({} legs, nickname {nickname})",
            a.id, a.name, a.leg_count
        );
    }

    // Tuples map columns by position.
    let (count, legs): (i64, i64) = conn
        .fetch_one_as("SELECT count(*), sum(legs) FROM animals", &[])
        .await?;
    println!("{count} animals, {legs} legs");

    // A wrong shape is a clear error before any row is decoded.
    if let Err(err) = conn
        .fetch_as::<Animal>("SELECT id, name FROM animals", &[])
        .await
    {
        println!("{err}");
    }
    Ok(())
}
