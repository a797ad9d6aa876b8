//! An author's mood: the PostgreSQL enum `so_mood` as an `ActiveEnum`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "Enum", enum_name = "so_mood")]
pub enum Mood {
    #[sea_orm(string_value = "happy")]
    Happy,
    #[sea_orm(string_value = "sad")]
    Sad,
    #[sea_orm(string_value = "meh")]
    Meh,
}
