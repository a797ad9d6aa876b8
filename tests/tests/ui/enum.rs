#[derive(pgtusk::FromRecord)]
enum Shape {
    Circle { radius: f64 },
    Square(f64),
}

fn main() {}
