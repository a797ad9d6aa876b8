#[derive(pgtusk::FromRecord)]
union Bits {
    int: i32,
    float: f32,
}

fn main() {}
