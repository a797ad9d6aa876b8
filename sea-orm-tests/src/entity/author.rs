//! `so_author`: one of each column type sea-orm's Postgres backend reads and binds.

use sea_orm::entity::prelude::*;

use super::mood::Mood;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "so_author")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    #[sea_orm(unique)]
    pub email: String,
    pub mood: Mood,
    pub profile: Option<Json>,
    pub born: Option<Date>,
    pub created_at: DateTimeWithTimeZone,
    #[sea_orm(column_type = "Decimal(Some((5, 2)))")]
    pub rating: Option<Decimal>,
    pub tags: Vec<String>,
    pub avatar: Option<Vec<u8>>,
    pub uid: Uuid,
    pub score: Option<f64>,
    pub active: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::post::Entity")]
    Post,
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Post.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
