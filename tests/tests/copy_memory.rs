//! A 10-million-row typed COPY in takes bounded memory: rows are encoded into the outgoing
//! message and written a chunk at a time, never gathered. Measured as the growth of this
//! process's peak resident memory (VmHWM), alone in its own test binary so no other test's
//! memory counts.

use pgtusk_tests::connect;

/// The process's peak resident set, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn ten_million_rows_copy_in_with_bounded_memory() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc/self/status to read peak memory from");
        return;
    }
    const ROWS: i32 = 10_000_000;
    let mut conn = connect().await;
    conn.execute_script("CREATE TEMP TABLE big (id int4, label text)")
        .await
        .unwrap();
    // Warm up: the statement cache, the buffers, the runtime.
    conn.copy_in_rows(
        "big",
        &["id", "label"],
        (0..1000).map(|i| (i, "warm-up row")),
    )
    .await
    .unwrap();
    let before = peak_rss_kib();
    // About 300 MB of COPY data (31 bytes a row).
    let rows = (0..ROWS).map(|i| (i, "a label of some twenty bytes"));
    let copied = conn
        .copy_in_rows("big", &["id", "label"], rows)
        .await
        .unwrap();
    let grown_kib = peak_rss_kib().saturating_sub(before);
    assert_eq!(copied, ROWS as u64);
    println!(
        "10M-row COPY in: peak memory grew {grown_kib} KiB; buffers now {} KiB",
        conn.buffer_capacity() / 1024
    );
    // The chunk is 256 KiB; allow for the allocator and the runtime, not for the data.
    assert!(grown_kib < 16 * 1024, "peak memory grew {grown_kib} KiB");
    let (n, max): (i64, i32) = conn
        .fetch_one_as("SELECT count(*), max(id) FROM big", &[])
        .await
        .unwrap();
    assert_eq!((n, max), (ROWS as i64 + 1000, ROWS - 1));
}
