//! Typed rows: structs written as rows (`ToRecord`: `insert_many`, `execute_many`) and a
//! query's result decoded straight into structs (`FromRecord`).
//!
//! `cargo run --example typed_rows` (against `DATABASE_URL` when set, else a throwaway TempCluster)

mod support;

use pgtusk::{Connection, FromRecord, ToRecord};

#[derive(FromRecord, ToRecord)]
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
        "CREATE TEMP TABLE animals (id int8 PRIMARY KEY, name text NOT NULL, legs int2 NOT NULL,
                                    nickname text)",
    )
    .await?;

    // Structs in: INSERT INTO animals ("id", "name", "legs", "nickname") VALUES ($1, …, $4),
    // once per row, pipelined behind one Sync (all or nothing).
    let animal = |id, name: &str, leg_count, nickname: Option<&str>| Animal {
        id,
        name: name.to_owned(),
        leg_count,
        nickname: nickname.map(str::to_owned),
    };
    let herd = [
        animal(1, "walrus", 4, Some("wally")),
        animal(2, "tusk shell", 0, None),
        animal(3, "narwhal", 0, Some("unicorn of the sea")),
    ];
    let inserted = conn.insert_many("animals", &herd).await?;
    println!("inserted {inserted} animals");

    // Tuples are rows too, by position.
    conn.execute_many("UPDATE animals SET legs = $2 WHERE id = $1", [(2i64, 1i16)])
        .await?;

    // Column names are matched to fields once for the whole result, then each row decodes.
    let animals: Vec<Animal> = conn
        .fetch_as(
            "SELECT id, name, legs, nickname FROM animals WHERE id > $1 ORDER BY id",
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
