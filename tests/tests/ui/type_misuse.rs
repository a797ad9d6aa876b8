#[derive(pgtusk::Type)]
#[pg(name = "mood")]
enum Mood {
    Happy,
    Sad(String),
}

#[derive(pgtusk::Type)]
struct Pair(f64, f64);

#[derive(pgtusk::Type)]
#[pg(rename_all = "camelCase")]
struct Point {
    x: f64,
    #[pg(rename = "why")]
    y: f64,
}

#[derive(pgtusk::Type)]
#[pg(transparent, rename_all = "snake_case")]
struct UserId(i64);

#[derive(pgtusk::Type)]
#[pg(colour = "blue")]
enum Shade {
    Light,
    #[pg(rename = "light")]
    Pale,
}

fn main() {}
