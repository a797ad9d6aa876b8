#[derive(pgtusk::FromRecord)]
struct Conflicts {
    #[record(skip, rename = "a")]
    skipped_and_renamed: String,
    #[record(flatten, rename = "b")]
    flattened_and_renamed: Inner,
    #[record(json, try_from = "String")]
    json_and_converted: String,
    #[record(skip, default)]
    skipped_and_defaulted: i32,
}

#[derive(pgtusk::FromRecord)]
struct Inner {
    x: i32,
}

fn main() {}
