#[derive(pgtusk::FromRecord)]
#[record(rename_all = "kebab-case")]
struct User {
    user_id: i64,
}

fn main() {}
