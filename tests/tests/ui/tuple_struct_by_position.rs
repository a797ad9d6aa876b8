#[derive(pgtusk::FromRecord)]
#[record(rename_all = "camelCase")]
struct Pair(#[record(rename = "a")] i32, #[record(flatten)] Inner);

#[derive(pgtusk::FromRecord)]
struct Inner {
    x: i32,
}

fn main() {}
