#[derive(pgtusk::ToRecord)]
#[record(rename_all = "kebab-case")]
struct Conflicts {
    #[record(skip, rename = "a")]
    skipped_and_renamed: String,
    #[record(flatten, json)]
    flattened_and_json: Inner,
    #[record(json, try_from = "String")]
    json_and_converted: String,
    #[record(serialize_with = "my_fn")]
    unknown: i32,
    #[record(skip = "yes")]
    skip_with_a_value: i32,
}

#[derive(pgtusk::ToRecord)]
#[record(rename_all = "camelCase")]
struct Positional(#[record(rename = "a")] i32, #[record(flatten)] Inner);

#[derive(pgtusk::ToRecord)]
struct Inner {
    x: i32,
}

#[derive(pgtusk::ToRecord)]
enum Status {
    Active,
}

#[derive(pgtusk::ToRecord)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
