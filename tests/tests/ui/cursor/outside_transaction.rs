// A cursor's portal lives inside a transaction: on a Connection, `cursor` does not compile.

async fn rows(conn: &mut pgtusk::Connection) -> pgtusk::Result<()> {
    let mut cursor = conn.cursor("SELECT g FROM generate_series(1, 10) g", &[]).await?;
    cursor.fetch(5).await?;
    Ok(())
}

fn main() {
    let _ = rows;
}
