#[derive(pgtusk::FromRecord)]
#[record(rename_al = "camelCase")]
struct User {
    #[record(renam = "user_id")]
    id: i64,
    #[record(default, flaten, json = "yes")]
    name: String,
    #[record(rename = "a", rename = "b")]
    email: String,
}

fn main() {}
