struct NotAValue;

#[derive(pgtusk::ToRecord)]
struct Row {
    id: i64,
    opaque: NotAValue,
    #[record(flatten)]
    nested: NotAValue,
    #[record(json)]
    document: NotAValue,
    #[record(try_from = "i64")]
    converted: NotAValue,
}

fn main() {}
