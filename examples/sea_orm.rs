//! sea-orm on pgtusk: entities, relations, the loader, pagination, transactions, streams.
//!
//! `cargo run --example sea_orm` (against `DATABASE_URL` when set, else a throwaway TempCluster)

mod support;

use futures_util::TryStreamExt;
use pgtusk_dialect::sea_orm::TuskDatabase;
use sea_orm::entity::prelude::*;
use sea_orm::{
    ConnectionTrait, DbErr, LoaderTrait, PaginatorTrait, QueryOrder, Schema, Set, TransactionTrait,
};

mod writer {
    use sea_orm::entity::prelude::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "Enum", enum_name = "mood")]
    pub enum Mood {
        #[sea_orm(string_value = "happy")]
        Happy,
        #[sea_orm(string_value = "grumpy")]
        Grumpy,
    }

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "writer")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
        pub mood: Mood,
        pub profile: Option<Json>,
        pub joined: DateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::note::Entity")]
        Note,
    }

    impl Related<super::note::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Note.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "note")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub writer_id: i32,
        pub text: String,
        pub price: Decimal,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::writer::Entity",
            from = "Column::WriterId",
            to = "super::writer::Column::Id"
        )]
        Writer,
    }

    impl Related<super::writer::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Writer.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

use writer::Mood;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = support::server()?;
    // A pgtusk Pool as a sea-orm database: `&db` goes wherever sea-orm takes a connection.
    let db = TuskDatabase::connect(&server.dsn).await?;

    // The schema, from the entities.
    let schema = Schema::new(db.get_database_backend());
    db.execute_unprepared("DROP TABLE IF EXISTS note, writer; DROP TYPE IF EXISTS mood")
        .await?;
    if let Some(mood) = schema.create_enum_from_active_enum::<Mood>() {
        db.execute(&mood).await?;
    }
    db.execute(&schema.create_table_from_entity(writer::Entity))
        .await?;
    db.execute(&schema.create_table_from_entity(note::Entity))
        .await?;

    // Insert: one model (RETURNING gives it back whole), then many at once.
    let ada = writer::ActiveModel {
        name: Set("Ada".into()),
        mood: Set(Mood::Happy),
        profile: Set(Some(serde_json::json!({"langs": ["en", "fr"]}))),
        joined: Set(chrono::Utc::now().fixed_offset()),
        ..Default::default()
    }
    .insert(&db)
    .await?;
    let bob = writer::ActiveModel {
        name: Set("Bob".into()),
        mood: Set(Mood::Grumpy),
        profile: Set(None),
        joined: Set(chrono::Utc::now().fixed_offset()),
        ..Default::default()
    }
    .insert(&db)
    .await?;
    note::Entity::insert_many((1..=7).map(|i| note::ActiveModel {
        writer_id: Set(if i % 3 == 0 { bob.id } else { ada.id }),
        text: Set(format!("note {i}")),
        price: Set(Decimal::new(i * 125, 2)),
        ..Default::default()
    }))
    .exec(&db)
    .await?;

    // Queries: a filter on the enum, related rows, the loader, pages.
    let grumpy = writer::Entity::find()
        .filter(writer::Column::Mood.eq(Mood::Grumpy))
        .all(&db)
        .await?;
    println!(
        "grumpy: {:?}",
        grumpy.iter().map(|w| &w.name).collect::<Vec<_>>()
    );
    for (w, notes) in writer::Entity::find()
        .find_with_related(note::Entity)
        .order_by_asc(writer::Column::Id)
        .all(&db)
        .await?
    {
        println!("{} wrote {} notes", w.name, notes.len());
    }
    let writers = writer::Entity::find().all(&db).await?;
    let notes = writers.load_many(note::Entity, &db).await?;
    println!("loaded {} groups of notes in one query", notes.len());
    let pages = note::Entity::find()
        .order_by_asc(note::Column::Id)
        .paginate(&db, 3);
    println!("{} pages of notes", pages.num_pages().await?);

    // A transaction: its own connection of the pool, nested ones as savepoints, rolled
    // back when dropped.
    let tx = db.begin().await?;
    note::Entity::delete_many().exec(&tx).await?;
    {
        let inner = tx.begin().await?;
        note::Entity::insert(note::ActiveModel {
            writer_id: Set(ada.id),
            text: Set("lost".into()),
            price: Set(Decimal::ZERO),
            ..Default::default()
        })
        .exec(&inner)
        .await?;
        // dropped: back to the savepoint
    }
    println!("inside: {} notes", note::Entity::find().count(&tx).await?);
    drop(tx); // rolled back: every note is still there
    println!(
        "after the rollback: {} notes",
        note::Entity::find().count(&db).await?
    );

    // The closure form commits on Ok and rolls back on Err.
    let total = db
        .transaction::<_, Decimal, DbErr>(|tx| {
            Box::pin(async move {
                let notes = note::Entity::find().all(tx).await?;
                Ok(notes.iter().map(|n| n.price).sum())
            })
        })
        .await?;
    println!("notes are worth {total}");

    // Rows as they arrive.
    let mut rows = note::Entity::find()
        .order_by_desc(note::Column::Price)
        .stream(&db)
        .await?;
    while let Some(n) = rows.try_next().await? {
        println!("{}: {}", n.text, n.price);
    }
    Ok(())
}
