// `insert` and `execute_many` take rows; a plain value is not one.
async fn plain_values(conn: &mut pgtusk::Connection) -> pgtusk::Result<u64> {
    conn.execute_many("INSERT INTO numbers VALUES ($1)", [1i64, 2, 3]).await?;
    conn.insert("numbers", &42i64).await
}

fn main() {}
